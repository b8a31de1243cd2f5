// Drives Debian chromium (playwright-core) for tests/e2e/test_http_auth.py: opens a page on
// one loopback origin and, from it, calls Strom on another origin with fetch (feeds with a
// Bearer API key, REST produce) and EventSource (SSE with a stream token). Prints one JSON
// object: for each call "ok:<detail>" or "error:<what the browser reported>".
// Usage: node cors_browser.js <page-url> <strom-base> <api-key> <stream-token>
const { chromium } = require("playwright-core");

async function main() {
  const [pageUrl, strom, key, token] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu"],
  });
  try {
    const page = await browser.newPage();
    await page.goto(pageUrl);
    const results = await page.evaluate(async ({ strom, key, token }) => {
      const out = {};
      const attempt = async (name, f) => {
        try {
          out[name] = "ok:" + (await f());
        } catch (e) {
          out[name] = "error:" + e;
        }
      };
      await attempt("produce", async () => {
        const r = await fetch(strom + "/v1/topics/a/records", {
          method: "POST",
          headers: { Authorization: "Bearer " + key, "Content-Type": "application/json" },
          body: JSON.stringify({ records: [{ value: { from: "browser" } }] }),
        });
        return r.status;
      });
      await attempt("feed", async () => {
        const r = await fetch(strom + "/feeds/a?limit=10", {
          headers: { Authorization: "Bearer " + key },
        });
        const body = await r.json();
        return r.status + ":" + body.length;
      });
      await attempt("sse", () =>
        new Promise((resolve, reject) => {
          const es = new EventSource(strom + "/feeds/a?access_token=" + token);
          const timer = setTimeout(() => { es.close(); reject("no event within 20 s"); }, 20000);
          es.onmessage = (m) => { clearTimeout(timer); es.close(); resolve(m.data.length > 0); };
          es.onerror = () => { clearTimeout(timer); es.close(); reject("EventSource error"); };
        })
      );
      return out;
    }, { strom, key, token });
    console.log(JSON.stringify(results));
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
