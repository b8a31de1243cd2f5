// The console's entry point: a hash router (every view and its state is in the URL, so a
// view is a permalink), the header (principal, log out, UTC/local time, dark mode, the
// navigation items the principal may use), and the rule that a 401 from the API leads to
// the login page.

import { whoami, logout, ApiError } from "./api.js";
import { h, replace, notice } from "./dom.js";
import { tz, setTz, theme, setTheme } from "./format.js";
import { current, go } from "./nav.js";
import { overview } from "./overview.js";
import { topicList, topicDetail } from "./topics.js";
import { browse } from "./browse.js";
import { search } from "./search.js";
import { charts } from "./charts.js";
import { live } from "./live.js";
import { groupList, groupDetail } from "./groups.js";
import { produce } from "./produce.js";
import { loginPage } from "./login.js";
import { webhooks, webhook } from "./webhooks.js";
import { newWebhook, editWebhook } from "./webhook_form.js";
import { subjects, subject, subjectRecords, schemaById } from "./schemas.js";
import { security, users, acls, quotas } from "./security.js";
import { clusterOps, setWho } from "./perms.js";

const ROUTES = [
  [/^\/$/, "overview", overview],
  [/^\/charts$/, "charts", charts],
  [/^\/topics$/, "topics", topicList],
  [/^\/topics\/([^/]+)$/, "topics", topicDetail],
  [/^\/topics\/([^/]+)\/records$/, "topics", browse],
  [/^\/topics\/([^/]+)\/live$/, "topics", live],
  [/^\/topics\/([^/]+)\/search$/, "topics", search],
  [/^\/groups$/, "groups", groupList],
  [/^\/groups\/([^/]+)$/, "groups", groupDetail],
  [/^\/produce$/, "produce", produce],
  [/^\/login$/, "login", loginPage],
  [/^\/webhooks$/, "webhooks", webhooks],
  [/^\/webhooks\/([^/]+)$/, "webhooks", webhook],
  [/^\/webhooks\/([^/]+)\/edit$/, "webhooks", editWebhook],
  [/^\/new-webhook$/, "webhooks", newWebhook],
  [/^\/schemas$/, "schemas", subjects],
  [/^\/schemas\/([^/]+)$/, "schemas", subject],
  [/^\/schemas\/([^/]+)\/records$/, "schemas", subjectRecords],
  [/^\/schema-ids\/(\d+)$/, "schemas", schemaById],
  [/^\/security$/, "security", security],
  [/^\/security\/users$/, "security", users],
  [/^\/security\/acls$/, "security", acls],
  [/^\/security\/quotas$/, "security", quotas],
];

let generation = 0;
/** What the current view asked to run when it is left (closing a live stream). */
let cleanup = null;

async function render() {
  const gen = ++generation;
  const main = document.getElementById("main");
  const { path, query } = current();
  const found = ROUTES.map(([re, nav, page]) => [path.match(re), nav, page]).find(([m]) => m);
  main.dataset.state = "loading";
  main.setAttribute("aria-busy", "true");
  for (const a of document.querySelectorAll("#nav a")) {
    if (found && a.dataset.page === found[1]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (cleanup) {
    cleanup();
    cleanup = null;
  }
  const view = h("div", {});
  // Views pass optional parts as null or false: left out, as h() does (the DOM's own
  // append would print them as text).
  const add = view.append.bind(view);
  view.append = (...parts) => add(...parts.flat().filter((c) => c !== null && c !== undefined && c !== false));
  let state = "ready";
  try {
    if (!found) throw new ApiError(404, { detail: "No such page: " + path });
    const params = found[0].slice(1).map(decodeURIComponent);
    const done = await found[2](view, params, query);
    if (typeof done === "function") {
      if (gen === generation) cleanup = done;
      else done();
    }
  } catch (e) {
    if (gen !== generation) return;
    if (e instanceof ApiError && e.status === 401 && path !== "/login") {
      go("/login", { next: location.hash.replace(/^#/, "") }, true);
      return;
    }
    state = "error";
    replace(view, h("h1", {}, "Error"), notice(e.message || String(e)));
  }
  if (gen !== generation) return;
  replace(main, view);
  main.dataset.state = state;
  main.setAttribute("aria-busy", "false");
}

function applyPrefs() {
  const dark = theme() === "dark";
  document.documentElement.dataset.theme = dark ? "dark" : "light";
  const t = document.getElementById("theme-toggle");
  t.textContent = "Dark mode";
  t.setAttribute("aria-pressed", String(dark));
  const z = document.getElementById("tz-toggle");
  z.textContent = "Local time";
  z.setAttribute("aria-pressed", String(tz() === "local"));
}

/** Shows who is logged in; called at start and after login or logout. */
async function refreshWho() {
  const who = document.getElementById("who");
  const out = document.getElementById("logout");
  delete who.dataset.ready;
  try {
    const me = await whoami();
    who.textContent = me.principal;
    out.hidden = me.authenticated_by !== "cookie";
    setWho(me);
    document.documentElement.dataset.readOnly = String(Boolean(me.read_only));
    document.getElementById("nav-produce").hidden = Boolean(me.read_only);
    await securityNav(me);
  } catch {
    who.textContent = "not logged in";
    out.hidden = true;
    setWho(null);
  }
  who.dataset.ready = "true";
}

/** The Security item, when the server enforces ACLs and the principal may see a security
 *  page: users and ACLs need Describe on the cluster, quotas DescribeConfigs. */
async function securityNav(me) {
  const item = document.getElementById("nav-security");
  const ops = me.authorization ? await clusterOps().catch(() => new Set()) : new Set();
  item.hidden = !ops.has("DESCRIBE") && !ops.has("DESCRIBE_CONFIGS");
  item.querySelector("a").href = ops.has("DESCRIBE") ? "#/security/users" : "#/security/quotas";
}

function start() {
  applyPrefs();
  document.getElementById("theme-toggle").addEventListener("click", () => {
    setTheme(theme() === "dark" ? "light" : "dark");
    applyPrefs();
  });
  document.getElementById("tz-toggle").addEventListener("click", () => {
    setTz(tz() === "utc" ? "local" : "utc");
    applyPrefs();
    render();
  });
  document.getElementById("logout").addEventListener("click", async () => {
    await logout().catch(() => {});
    await refreshWho();
    go("/login", {});
  });
  // The skip link moves focus to the content without touching the hash (the router's).
  document.querySelector(".skip").addEventListener("click", (e) => {
    e.preventDefault();
    document.getElementById("main").focus();
  });
  window.addEventListener("hashchange", render);
  window.addEventListener("strom:who", refreshWho);
  refreshWho().then(render);
}

start();
