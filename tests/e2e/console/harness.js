// What the console's browser scripts share (console_browser.js, console_data_browser.js,
// console_admin.js): playwright-core's chromium, waiting for a view to render, and the
// axe-core check of a page in both themes with its screenshots.
const path = require("path");
const fs = require("fs");
const nodeDir = path.join(__dirname, "..", "node", "node_modules");
const { chromium } = require(path.join(nodeDir, "playwright-core"));
const AXE = fs.readFileSync(path.join(nodeDir, "axe-core", "axe.min.js"), "utf8");

/** Waits until the view in #main has rendered (or failed), and returns its state. */
async function settled(page) {
  await page.waitForFunction(() => {
    const m = document.getElementById("main");
    return m && (m.dataset.state === "ready" || m.dataset.state === "error");
  }, null, { timeout: 60000 });
  return page.evaluate(() => document.getElementById("main").dataset.state);
}

const text = (page, sel) => page.locator(sel).first().innerText();

/** Goes to a view by its hash (again, if it is the current one) and waits for it to render. */
async function visit(page, hash) {
  await page.evaluate((h) => {
    document.getElementById("main").dataset.state = "stale";
    if (location.hash === h) window.dispatchEvent(new HashChangeEvent("hashchange"));
    else location.hash = h;
  }, hash);
  const state = await settled(page);
  if (state === "error") console.error(hash + ": " + (await text(page, "main")));
  return state;
}

/** Runs an action that re-renders the view (a click on a link or a submit). */
async function act(page, action) {
  await page.evaluate(() => { document.getElementById("main").dataset.state = "stale"; });
  await action();
  return settled(page);
}

/**
 * Returns axe(page, name): records the serious and critical axe-core violations of the page
 * in light and dark mode into out.axe, and, when shots is a directory, screenshots the light
 * page (and the dark one for the names in darkShots).
 */
function axeChecker(out, shots, darkShots = []) {
  return async function axe(page, name) {
    await page.evaluate(AXE);
    for (const scheme of ["light", "dark"]) {
      await page.evaluate((s) => { localStorage.setItem("strom.console.theme", s); document.documentElement.dataset.theme = s; }, scheme);
      const r = await page.evaluate(() => axe.run(document, { resultTypes: ["violations"] }));
      out.axe[`${name}:${scheme}`] = r.violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
      if (shots && (scheme === "light" || darkShots.includes(name))) {
        await page.screenshot({ path: path.join(shots, `${name}${scheme === "dark" ? "-dark" : ""}.png`), fullPage: true });
      }
    }
    await page.evaluate(() => { localStorage.setItem("strom.console.theme", "light"); document.documentElement.dataset.theme = "light"; });
  };
}

/** Returns nextLine(): a promise of the next line on stdin (the Python side's go-ahead). */
function stdinLines() {
  const lines = [];
  let waiting = null;
  require("readline").createInterface({ input: process.stdin }).on("line", (l) => {
    if (waiting) { const w = waiting; waiting = null; w(l); } else lines.push(l);
  });
  return () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => { waiting = r; }));
}

module.exports = { chromium, settled, visit, act, text, axeChecker, stdinLines };
