// Drives the console's admin pages (security, permissions, webhooks, schemas) in Debian's
// chromium (playwright-core) for tests/e2e/test_console_admin.py. The Python side starts the
// server, feeds it and checks every effect through other clients (kafka-python,
// confluent-kafka, a real HTTP receiver); this script clicks and prints one JSON object.
// At a line "SYNC <name>" on stdout it waits for a line on stdin (the Python side checked).
// Usage: node console_admin.js '<json plan>'  (plan.mode: admin, viewer, read-only)
const path = require("path");
const { chromium, settled, visit, act, text, axeChecker, stdinLines } = require("./harness");

const plan = JSON.parse(process.argv[2]);
const base = plan.base;
const shots = process.env.STROM_CONSOLE_SCREENSHOTS === "1" ? plan.screenshots : null;
const out = { axe: {}, csp_violations: [], console_errors: [] };
const axe = axeChecker(out, shots, ["security-acls"]);

const rows = (page, sel) => page.$$eval(`${sel} tbody tr`, (trs) => trs.map((r) => [...r.children].map((c) => c.innerText.trim())));
const count = (page, sel) => page.locator(sel).count();

const nextLine = stdinLines();
async function sync(name) {
  console.log("SYNC " + name);
  await nextLine();
}

async function login(page, hash) {
  await page.goto(`${base}/console/#${hash}`);
  await settled(page);
  await page.fill("#l-user", plan.user);
  await page.fill("#l-pass", plan.password);
  out.after_login = await act(page, () => page.click("button[type=submit]"));
  // The header is done once #who is ready: the principal, and the navigation it may use.
  await page.waitForFunction(() => {
    const who = document.getElementById("who");
    return who.textContent.startsWith("User:") && who.dataset.ready === "true";
  }, null, { timeout: 30000 });
}

/** The topic page's mutation controls that are shown. */
async function topicControls(page) {
  await visit(page, `#/topics/${plan.topic}`);
  const found = [];
  for (const id of ["config-form", "partitions-form", "delete-form"]) if (await count(page, "#" + id)) found.push(id);
  return found;
}

async function security(page) {
  // ACLs: create one, filter with MATCH semantics, (Python checks it with kafka-python and a
  // producer), then delete it.
  await visit(page, "#/security/acls");
  await page.fill("#a-principal", plan.acl.principal);
  await page.selectOption("#a-type", "TOPIC");
  await page.fill("#a-name", plan.acl.resource_name);
  await page.selectOption("#a-op", plan.acl.operation);
  out.acl_created = await act(page, () => page.click("#acl-form button[type=submit]"));
  out.acl_notice = await text(page, "#security-result .notice");
  await page.selectOption("#f-type", "TOPIC");
  await page.fill("#f-name", plan.topic);
  await act(page, () => page.click("#acl-filter button[type=submit]"));
  out.acl_filter_hash = await page.evaluate(() => location.hash);
  out.acl_rows = (await rows(page, "#acls")).map((r) => r.slice(0, 7));
  await axe(page, "security-acls");
  await sync("ACL_CREATED");
  await act(page, () => page.click(`#acls tbody tr:has(td:text-is("${plan.acl.operation}")) button`));
  out.acl_rows_after_delete = (await rows(page, "#acls")).map((r) => r.slice(0, 7));
  // Users: add one with SCRAM-SHA-512 and 8192 iterations
  await visit(page, "#/security/users");
  await page.fill("#u-name", plan.new_user);
  await page.fill("#u-pass", plan.new_password);
  await page.selectOption("#u-mech", "SCRAM-SHA-512");
  await page.fill("#u-iter", "8192");
  await act(page, () => page.click("#user-form button[type=submit]"));
  out.users = (await rows(page, "#users")).map((r) => r.slice(0, 3));
  await axe(page, "security-users");
  // Quotas: a produce byte rate for the new user
  await visit(page, "#/security/quotas");
  await page.fill("#q-user", plan.new_user);
  await page.selectOption("#q-key", "producer_byte_rate");
  await page.fill("#q-value", "1048576");
  await act(page, () => page.click("#quota-form button[type=submit]"));
  out.quotas = (await rows(page, "#quotas")).map((r) => r.slice(0, 4));
  await axe(page, "security-quotas");
}

async function runAdmin(page) {
  await login(page, "/security/acls");
  out.security_nav = await page.locator("#nav-security").isVisible();
  out.topic_controls = await topicControls(page);
  await security(page);
}

/** Waits for a new notice in `sel` after `action` (the old one is cleared first). */
async function noticeAfter(page, sel, action) {
  await page.evaluate((s) => document.querySelector(s).replaceChildren(), sel);
  await action();
  await page.waitForSelector(`${sel} .notice`, { timeout: 30000 });
  return text(page, `${sel} .notice`);
}

/** Webhooks: the list, a subscription's dead letters redriven (a selection, then all since a
 *  time), a test event, pause/resume, editing, and a new subscription. */
async function runWebhooks(page) {
  await login(page, "/webhooks");
  out.webhooks = (await rows(page, "#webhooks")).map((r) => [r[0], r[1], r[4]]);
  await axe(page, "webhook-list");
  await visit(page, `#/webhooks/${plan.webhook}`);
  out.dlq_columns = await page.$$eval("#dead-letters thead th", (ths) => ths.map((t) => t.innerText.trim()));
  out.dlq_rows = (await rows(page, "#dead-letters")).map((r) => [r[1], r[3], r[4], r[10], r[11]]);
  await axe(page, "webhook");
  await page.check("#dead-letters input[value='0']");
  out.redrive_selected = await noticeAfter(page, "#hook-result", () => page.click("#redrive-selected"));
  await sync("REDRIVE_SELECTED");
  await page.fill("#dlq-since", "2020-01-01T00:00:00");
  out.redrive_since = await noticeAfter(page, "#hook-result", () => page.click("#redrive-since"));
  out.test_event = await noticeAfter(page, "#hook-result", () => page.click("#hook-test"));
  await act(page, () => page.click("#hook-toggle"));
  out.state_after_pause = await text(page, "#hook-state");
  await act(page, () => page.click("#hook-toggle"));
  out.state_after_resume = await text(page, "#hook-state");
  out.attempts = (await rows(page, "#attempts")).length;
  await visit(page, `#/webhooks/${plan.webhook}/edit`);
  await axe(page, "webhook-edit");
  await page.fill("#w-timeout", "5000");
  await act(page, () => page.click("#webhook-form button[type=submit]"));
  out.edit_notice = await text(page, "#hook-result .notice");
  await visit(page, "#/new-webhook");
  await axe(page, "webhook-new");
  await page.fill("#w-name", plan.new_webhook);
  await page.fill("#w-topics", plan.webhook_topic);
  await page.fill("#w-url", plan.receiver_url);
  await page.click("#webhook-form button[type=submit]");
  await page.waitForSelector("#webhook-secret", { timeout: 30000 });
  out.new_secret = await text(page, "#webhook-secret");
}

/** Schemas: a subject's level, an incompatible then a compatible new version (verdict first),
 *  the diff of two versions, a new level, and the topic's records decoded. */
async function runSchemas(page) {
  await visit(page, `#/schemas/${plan.subject}`);
  out.schema_level = await text(page, "#schema-level");
  await axe(page, "schema-subject");
  await page.fill("#s-text", plan.bad_schema);
  out.bad_verdict = await noticeAfter(page, "#schema-verdict", () => page.click("#schema-check"));
  out.bad_register_disabled = await page.isDisabled("#schema-register");
  await page.fill("#s-text", plan.good_schema);
  out.good_verdict = await noticeAfter(page, "#schema-verdict", () => page.click("#schema-check"));
  await act(page, () => page.click("#schema-register"));
  out.register_notice = await text(page, "#schema-result .notice");
  await visit(page, `#/schemas/${plan.subject}?version=2&compare=1`);
  out.diff_added = await page.$$eval("#schema-diff td.diff-add", (tds) => tds.map((t) => t.innerText.trim()));
  await axe(page, "schema-diff");
  await page.selectOption("#s-level", "FULL");
  await act(page, () => page.click("#level-form button[type=submit]"));
  out.level_after = await text(page, "#schema-level");
  await visit(page, `#/schemas/${plan.subject}/records`);
  out.decoded = (await rows(page, "#decoded")).map((r) => [r[0], r[3], r[4]]);
  await axe(page, "schema-records");
  await act(page, () => page.click("#decoded a"));
  out.schema_id_uses = await text(page, "#schema-id-uses");
  await axe(page, "schema-id");
}

async function runHooksAndSchemas(page) {
  await runWebhooks(page);
  await runSchemas(page);
}

/** A principal with Describe and Read on one topic: no mutation control is shown. */
async function runViewer(page) {
  await login(page, `/topics/${plan.topic}`);
  out.security_nav = await page.locator("#nav-security").isVisible();
  out.topic_controls = await topicControls(page);
  out.partitions = (await rows(page, "#partitions")).length;
  out.produce_links = await count(page, "main a[href^='#/produce']");
  out.acls_state = await visit(page, "#/security/acls");
  out.acls_error = await text(page, "main .notice");
  // Export off on this server: the search result has no export link (the API refuses too).
  out.search_state = await visit(page, `#/topics/${plan.topic}/search?run=1`);
  out.search_status = await text(page, "#search-status");
  out.export_links = await count(page, "#export-jsonl, #export-csv, #export-jsonl-b64");
  // A group it may Describe only: its offsets are shown, no reset, offset deletion or deletion.
  out.group_state = await visit(page, `#/groups/${plan.group}`);
  out.group_offsets = (await rows(page, "#offsets")).length;
  out.group_controls = await count(page, "#r-to, #offsets-delete-form, #group-delete");
  await visit(page, `#/topics/${plan.topic}`);
  await axe(page, "topic-viewer");
}

/** `console_read_only`: even a super user's console session shows no mutation control. */
async function runReadOnly(page) {
  await login(page, `/topics/${plan.topic}`);
  out.topic_controls = await topicControls(page);
  out.acls_state = await visit(page, "#/security/acls");
  out.acl_form = await count(page, "#acl-form");
  out.acl_rows = (await rows(page, "#acls")).length;
  await visit(page, "#/security/users");
  out.user_form = await count(page, "#user-form");
}

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--disable-sync", "--no-first-run"],
  });
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await context.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (e) => { (window.__csp ||= []).push(e.violatedDirective + " " + e.blockedURI); });
    });
    const page = await context.newPage();
    page.on("console", (m) => { if (m.type() === "error") out.console_errors.push(m.text()); });
    const run = { admin: runAdmin, viewer: runViewer, "read-only": runReadOnly, hooks: runHooksAndSchemas }[plan.mode];
    await run(page);
    out.csp_violations = await page.evaluate(() => window.__csp || []);
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify(out));
  process.exit(0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
