// Drives the web console in Debian's chromium (playwright-core) for tests/e2e/test_console.py.
// The Python side starts the server, feeds it with real clients and checks the effects of
// the browser's actions through other clients; this script clicks through the console and
// prints one JSON object with what the pages showed.
// Usage: node console_browser.js '<json plan>'  (see test_console.py for the plan's fields)
const path = require("path");
const { chromium, settled, visit, act, text, axeChecker, stdinLines } = require("./harness");

const plan = JSON.parse(process.argv[2]);
const base = plan.base;
const shots = process.env.STROM_CONSOLE_SCREENSHOTS === "1" ? plan.screenshots : null;
const out = { axe: {}, csp_violations: [], foreign_requests: [], console_errors: [] };
const axe = axeChecker(out, shots, ["overview"]);

const cells = (page, sel, col) => page.$$eval(`${sel} tbody tr`, (rows, c) => rows.map((r) => r.children[c].innerText.trim()), col);

const nextLine = stdinLines();

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run"],
  });
  try {
    const context = await browser.newContext({ timezoneId: "Australia/Sydney", viewport: { width: 1280, height: 900 } });
    await context.addInitScript(() => {
      window.__longTasks = [];
      new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); })
        .observe({ type: "longtask", buffered: true });
      document.addEventListener("securitypolicyviolation", (e) => { (window.__csp ||= []).push(e.violatedDirective + " " + e.blockedURI); });
    });
    const page = await context.newPage();
    page.on("request", (r) => { const u = r.url(); if (!u.startsWith(base) && !u.startsWith("blob:") && !u.startsWith("data:")) out.foreign_requests.push(u); });
    page.on("console", (m) => { if (m.type() === "error") out.console_errors.push(m.text()); });
    await (plan.mode === "read-only" ? runReadOnly : run)(page);
    out.csp_violations = await page.evaluate(() => window.__csp || []);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
  process.exit(0);
}

async function run(page) {
  // Login: the first view needs it (http_auth = required), so the console shows the form.
  await page.goto(`${base}/console/#/`);
  out.first_view = await settled(page);
  out.login_shown = await page.locator("#l-user").count() === 1;
  await axe(page, "login");
  await page.fill("#l-user", plan.user);
  await page.fill("#l-pass", plan.password);
  out.after_login = await act(page, () => page.click("button[type=submit]"));
  await page.waitForFunction(() => document.getElementById("who").textContent.startsWith("User:"), null, { timeout: 30000 });
  out.who = await text(page, "#who");

  // Overview (C2)
  out.overview = {};
  for (const id of ["count-topics", "count-partitions", "count-records", "count-groups", "disk-state"]) {
    out.overview[id] = await text(page, "#" + id);
  }
  out.uptime = await text(page, "#uptime");
  await axe(page, "overview");

  // Topics (C3): filter and sort through the URL
  await visit(page, "#/topics");
  out.topics_all = await cells(page, "#topics", 0);
  await page.fill("#topic-filter", plan.filter);
  await act(page, () => page.click("form.filters button[type=submit]"));
  out.topics_filtered = await cells(page, "#topics", 0);
  out.topics_filtered_hash = await page.evaluate(() => location.hash);
  await visit(page, "#/topics");
  await act(page, () => page.click("#topics th:nth-child(4) a"));
  await act(page, () => page.click("#topics th:nth-child(4) a"));
  out.topics_by_size_desc = await cells(page, "#topics", 0);
  await visit(page, "#/topics");
  out.topics_policy = await page.$$eval("#topics tbody tr", (rows) => rows.map((r) => [...r.children].map((c) => c.innerText.trim())).map((c) => [c[0], c[4], c[5]]));
  await axe(page, "topics");

  // Topic detail (C4)
  await visit(page, `#/topics/${plan.topic}`);
  out.partitions = await cells(page, "#partitions", 2);
  out.segments = await cells(page, "#partitions", 5);
  out.configs = await cells(page, "#configs", 0);
  await axe(page, "topic");
  // Topic admin (C4): a config override, new partitions, a deletion confirmed by name
  await page.fill("#c-name", "retention.ms");
  await page.fill("#c-value", "86400000");
  await act(page, () => page.click("#config-form button[type=submit]"));
  out.config_notice = await text(page, "main .notice");
  out.config_row = (await page.$$eval("#configs tbody tr", (rows) => rows.map((r) => r.innerText.split("\t").map((c) => c.trim()))))
    .find((r) => r[0] === "retention.ms");
  await visit(page, "#/topics/grow-me");
  await page.fill("#g-count", "3");
  await act(page, () => page.click("#partitions-form button[type=submit]"));
  out.grown_partitions = (await cells(page, "#partitions", 0)).length;
  // Delete records (C4): partition 0 of trim-me before offset 4 (kcat reads from there).
  await visit(page, `#/topics/${plan.trim_topic}`);
  await page.fill("#dr-before", "4");
  await act(page, () => page.click("#delete-records-form button[type=submit]"));
  out.trim_notice = await text(page, "main .notice");
  out.trim_log_start = await cells(page, "#partitions", 1);
  await visit(page, "#/topics/delete-me");
  out.delete_disabled_before = await page.isDisabled("#delete-form button");
  await page.fill("#d-confirm", "delete-me");
  await act(page, () => page.click("#delete-form button"));
  out.after_delete_hash = await page.evaluate(() => location.hash);
  out.after_delete_topics = await cells(page, "#topics", 0);

  // Message browser (C5, C7, C8, C17): page forward through partition 0, then back
  await visit(page, `#/topics/${plan.topic}/records?partition=0&limit=5`);
  const seen = [];
  for (;;) {
    seen.push(...(await page.$$eval("#records tbody tr", (rows) => rows.map((r) => Number(r.dataset.offset)))));
    const newer = page.locator("nav.pager a", { hasText: "Newer" });
    if (await newer.count() === 0) break;
    await act(page, () => newer.click());
  }
  out.forward_offsets = seen;
  const back = [];
  for (;;) {
    back.push(...(await page.$$eval("#records tbody tr", (rows) => rows.map((r) => Number(r.dataset.offset)))));
    const older = page.locator("nav.pager a", { hasText: "Older" });
    if (await older.count() === 0) break;
    await act(page, () => older.click());
  }
  out.backward_offsets = back;
  await visit(page, `#/topics/${plan.topic}/records?partition=0&offset=2&limit=3`);
  const permalink = page.url();
  out.page_keys = await cells(page, "#records", 2);
  out.page_headers = await cells(page, "#records", 3);
  out.page_values = await cells(page, "#records", 4);
  out.first_time_utc = await page.locator("#records time").first().innerText();
  await act(page, () => page.click("#tz-toggle"));
  out.first_time_local = await page.locator("#records time").first().innerText();
  await act(page, () => page.click("#tz-toggle"));
  await axe(page, "records");
  // The same URL in a fresh page shows the same rows (the cookie session is shared).
  const again = await page.context().newPage();
  await again.goto(permalink);
  await settled(again);
  out.permalink_keys = await cells(again, "#records", 2);
  await again.close();

  // A 5 MiB value: a bounded preview, the page stays responsive (C7)
  await page.evaluate(() => { window.__longTasks.length = 0; });
  const t0 = Date.now();
  await visit(page, `#/topics/${plan.big_topic}/records?partition=0&limit=1`);
  out.big_open_ms = Date.now() - t0;
  out.big_pre_chars = await page.locator("#records td.field-value pre").first().evaluate((e) => e.textContent.length);
  await page.locator("#records td.field-value button.more").first().click();
  out.big_pre_chars_more = await page.locator("#records td.field-value pre").first().evaluate((e) => e.textContent.length);
  out.big_meta = await text(page, "#records td.field-value .value-meta");
  out.long_tasks_ms = await page.evaluate(() => window.__longTasks.slice());
  out.dom_chars = await page.evaluate(() => document.body.textContent.length);

  // Consumer group (C11) and offset reset with preview (C12)
  await visit(page, "#/groups");
  out.groups = await cells(page, "#groups", 0);
  await axe(page, "groups");
  await visit(page, `#/groups/${plan.group}`);
  out.group_lag = await text(page, "#total-lag");
  out.group_offsets = await cells(page, "#offsets", 2);
  await page.selectOption("#r-to", "earliest");
  await act(page, () => page.click("#reset-title ~ form button[type=submit]"));
  out.reset_hash = await page.evaluate(() => location.hash);
  out.reset_preview_new = await cells(page, "#reset-result table", 3);
  await axe(page, "group");
  await page.click("#reset-apply");
  await page.waitForSelector("#reset-result .notice.ok, #reset-result .notice.error", { timeout: 30000 });
  out.reset_result = await text(page, "#reset-result .notice");
  out.group_lag_after = await text(page, "#total-lag");

  // Produce (C10)
  await visit(page, `#/produce?topic=${plan.produce_topic}`);
  await page.fill("#p-key", plan.produce_key);
  await page.fill("#p-value", plan.produce_value);
  await page.click("text=Add header");
  await page.fill(".header-row .h-key", "origin");
  await page.fill(".header-row .h-value", "console");
  await page.click("form.stack button[type=submit]");
  await page.waitForSelector("#produce-result .notice", { timeout: 30000 });
  out.produce_result = await text(page, "#produce-result .notice");
  await axe(page, "produce");

  // Re-produce a record to another topic (manual redrive)
  await visit(page, `#/produce?topic=${plan.produce_topic}&src=0:0`);
  out.reproduce_value = await page.inputValue("#p-value");
  await page.fill("#p-topic", plan.produce_topic);
  await page.click("form.stack button[type=submit]");
  await page.waitForSelector("#produce-result .notice", { timeout: 30000 });
  out.reproduce_result = await text(page, "#produce-result .notice");

  // Live tail (C9): the Python side produces with kcat once the stream is open.
  // With a key filter in the URL: kcat's other record is left out (and counted).
  await visit(page, `#/topics/${plan.produce_topic}/live?key=${plan.live_key}`);
  await page.waitForSelector("#live[data-live=open]", { timeout: 30000 });
  await axe(page, "live");
  console.log("LIVE_READY");
  await nextLine();
  const t1 = Date.now();
  await page.waitForSelector(`#live tbody tr td:text-is("${plan.live_key}")`, { timeout: 30000 });
  out.live_ms = Date.now() - t1;
  out.live_value = await page.locator("#live tbody tr td.field-value pre").first().innerText();
  out.live_rows = await page.locator("#live tbody tr").count();
  out.live_skipped = await text(page, "#live-skipped");
  await page.click("#live-toggle");
  out.live_after_pause = await page.getAttribute("#live", "data-live");

  // Webhooks: the subscription's state, paused from the console
  out.webhooks_state = await visit(page, "#/webhooks");
  out.webhooks = await cells(page, "#webhooks", 0);
  await axe(page, "webhooks");
  await act(page, () => page.click("#webhooks button:has-text('Pause')"));
  out.webhook_state_after_pause = (await cells(page, "#webhooks", 1))[0];
  // Schemas: subjects, one subject's latest version
  out.schemas_state = await visit(page, "#/schemas");
  out.schemas = await cells(page, "#subjects", 0);
  await axe(page, "schemas");
  await act(page, () => page.click(`#subjects a:has-text('${plan.subject}')`));
  out.schema_meta = await text(page, "#schema-meta");
  out.schema_text = await page.locator("main pre").first().innerText();
  await axe(page, "subject");

  // Dark mode follows the toggle and persists
  await page.click("#theme-toggle");
  out.theme_after_toggle = await page.evaluate(() => document.documentElement.dataset.theme);
  await page.reload();
  await settled(page);
  out.theme_after_reload = await page.evaluate(() => document.documentElement.dataset.theme);
}

/** A principal with Describe and Read only: it sees the data, and the API refuses its writes. */
async function runReadOnly(page) {
  await page.goto(`${base}/console/#/topics/${plan.topic}`);
  await settled(page);
  await page.fill("#l-user", plan.user);
  await page.fill("#l-pass", plan.password);
  out.after_login = await act(page, () => page.click("button[type=submit]"));
  out.partitions = await cells(page, "#partitions", 0);
  // Controls the principal may not use are left out (console_admin.js tests them further).
  out.delete_forms = await page.locator("#delete-form").count();
  await visit(page, `#/produce?topic=${plan.topic}`);
  await page.fill("#p-value", "not allowed");
  await page.click("form.stack button[type=submit]");
  await page.waitForSelector("#produce-result .notice", { timeout: 30000 });
  out.produce_refused = await text(page, "#produce-result .notice");
  out.records_state = await visit(page, `#/topics/${plan.topic}/records?partition=0`);
  out.record_count = (await cells(page, "#records", 0)).length;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
