// Drives the console's data pages (search, export, charts, group offsets) in Debian's chromium
// (playwright-core) for tests/e2e/test_console_data.py; prints one JSON object with what the
// pages showed. Usage: node console_data_browser.js '<json plan>'
const path = require("path");
const { chromium, settled, visit, act, text, axeChecker } = require("./harness");

const plan = JSON.parse(process.argv[2]);
const base = plan.base;
const shots = process.env.STROM_CONSOLE_SCREENSHOTS === "1" ? plan.screenshots : null;
const out = { axe: {}, csp_violations: [], foreign_requests: [], console_errors: [] };
const axe = axeChecker(out, shots, []);

const rowsOf = (page) => page.$$eval("#records tbody tr", (rows) => rows.map((r) => [Number(r.dataset.partition), Number(r.dataset.offset)]));

async function run(page) {
  await page.goto(`${base}/console/#/`);
  await settled(page);
  await page.fill("#l-user", plan.user);
  await page.fill("#l-pass", plan.password);
  await act(page, () => page.click("button[type=submit]"));
  await page.waitForFunction(() => document.getElementById("who").textContent.startsWith("User:"), null, { timeout: 30000 });

  // Search (C6): fill the form, then Continue until the server says it is complete.
  await visit(page, `#/topics/${plan.topic}/search`);
  await page.fill("#s-value", plan.needle);
  await page.selectOption("#s-budget", String(plan.budget));
  await page.selectOption("#s-limit", "500");
  await act(page, () => page.click("form.filters button[type=submit]"));
  out.search_hash = await page.evaluate(() => location.hash);
  out.search_found = [];
  out.search_status = [];
  out.search_rounds = 0;
  for (;;) {
    out.search_rounds++;
    out.search_status.push(await page.locator("#search-status").innerText());
    out.search_found.push(...await rowsOf(page));
    if (out.search_rounds === 1) {
      await axe(page, "search");
      // Export (C16): the JSONL link downloads this page's matches.
      const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-jsonl")]);
      out.download_path = path.join(plan.downloads, "search.jsonl");
      await download.saveAs(out.download_path);
    }
    if (await page.locator("#search-continue").count() === 0) break;
    if (out.search_rounds > 100) throw new Error("search did not finish");
    await act(page, () => page.click("#search-continue"));
  }
  // Charts (C13): the history has points after the load, so each rate chart has a canvas.
  await visit(page, "#/charts");
  await page.waitForSelector("#chart-in canvas", { timeout: 30000 });
  await page.waitForSelector("#chart-lag canvas", { timeout: 30000 });
  out.chart_canvases = await page.$$eval("figure.chart canvas", (c) => c.filter((x) => x.width > 0 && x.height > 0).length);
  out.chart_info = await page.locator("#chart-info").innerText();
  out.chart_legend = await page.$$eval("#chart-in .u-legend .u-series .u-label", (l) => l.map((x) => x.innerText.trim()));
  await axe(page, "charts");
  // Group (C11): time lag per partition; deletion (C12) through the API's DELETE.
  await visit(page, `#/groups/${plan.group}`);
  out.group_time_lag = await page.$$eval("#offsets tbody tr", (rows) => rows.map((r) => r.children[5].innerText.trim()));
  await axe(page, "group-detail");
  // Delete two partitions' committed offsets (DELETE /v1/groups/{g}/offsets; the Python side
  // then starts a confluent-kafka consumer in the group).
  await visit(page, `#/groups/${plan.trimmed}`);
  await page.selectOption("#od-topic", plan.topic);
  await page.fill("#od-partitions", "0, 1");
  await page.click("#offsets-delete");
  await page.waitForSelector("#offsets-delete-result .notice", { timeout: 30000 });
  out.offsets_delete_notice = await text(page, "#offsets-delete-result .notice");
  out.offsets_after_delete = await page.$$eval("#offsets tbody tr", (rows) => rows.map((r) => [r.children[1].innerText.trim(), r.children[2].innerText.trim()]));
  await visit(page, `#/groups/${plan.doomed}`);
  await act(page, () => page.click("#group-delete"));
  out.after_delete_hash = await page.evaluate(() => location.hash);
  // All partitions (C5): Newer until the end, then newest first with Older until the start.
  await visit(page, `#/topics/${plan.paged}/records?partition=all&limit=100`);
  out.all_forward = [];
  for (let i = 0; ; i++) {
    out.all_forward.push(...await rowsOf(page));
    if (i === 2) {
      const before = await rowsOf(page);
      await page.reload();
      await settled(page);
      out.all_reload = [before, await rowsOf(page)];
    }
    if (await page.locator("#page-newer").count() === 0 || i > 50) break;
    await act(page, () => page.click("#page-newer"));
  }
  await axe(page, "records-all");
  await visit(page, `#/topics/${plan.paged}/records?partition=all&limit=100&order=desc&from=latest`);
  out.all_backward = [];
  for (let i = 0; ; i++) {
    out.all_backward.push(...await rowsOf(page));
    if (await page.locator("#page-older").count() === 0 || i > 50) break;
    await act(page, () => page.click("#page-older"));
  }
  // A key-equals search scans one partition.
  await visit(page, `#/topics/${plan.topic}/search?key=user-42&run=1`);
  out.key_lanes = await page.$$eval("#search-lanes tbody tr", (rows) => rows.map((r) => r.children[0].innerText.trim()));
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run"],
  });
  try {
    const context = await browser.newContext({ timezoneId: "UTC", viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    await context.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (e) => { (window.__csp ||= []).push(e.violatedDirective + " " + e.blockedURI); });
    });
    const page = await context.newPage();
    page.on("request", (r) => { const u = r.url(); if (!u.startsWith(base) && !u.startsWith("blob:") && !u.startsWith("data:")) out.foreign_requests.push(u); });
    page.on("console", (m) => { if (m.type() === "error") out.console_errors.push(m.text()); });
    await run(page);
    out.csp_violations = await page.evaluate(() => window.__csp || []);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
  process.exit(0);
}

main().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
