// Webhook subscriptions (docs/webhooks.md): the list with state, lag and delivery rates; a
// subscription's page with its recent attempts, blocked partitions (skip), pause/resume, a
// test event, and its dead letters (failure headers as columns) redriven one by one, as a
// selection or all since a time; creating and editing a subscription (webhook_form.js). The
// server checks each action on the group `webhook.<name>` (Describe to see, Alter to act,
// Read on the dead-letter topic); controls the principal may not use are left out.

import { api, ApiError, seg } from "./api.js";
import { h, table, notice, field } from "./dom.js";
import { timeEl, valueView } from "./format.js";
import { go, link } from "./nav.js";
import { allowedOps } from "./perms.js";

function unavailable(e) {
  if (e instanceof ApiError && (e.status === 404 || e.status === 503)) return notice("Webhooks are not enabled on this server: " + e.message, "info");
  throw e;
}

const rate = (n) => (typeof n === "number" ? n.toFixed(2) : "—");
const canAlter = async (name) => (await allowedOps("GROUP", "webhook." + name)).has("ALTER");

/** A button running `action`; a refusal or the outcome shown in `result`. */
function actionButton(label, result, action, attrs) {
  return h("button", { type: "button", class: "secondary", ...(attrs || {}), onclick: async () => {
    try {
      const done = await action();
      if (done) result.replaceChildren(notice(done, "ok"));
    } catch (e) {
      result.replaceChildren(notice(e.message));
    }
  } }, label);
}

export async function webhooks(view, _p, query) {
  document.title = "Webhooks · Strom";
  view.append(h("h1", {}, "Webhooks"));
  let subs;
  try {
    subs = await api("/v1/webhooks");
  } catch (e) {
    view.append(unavailable(e));
    return;
  }
  const details = await Promise.all(subs.map(async (s) => {
    const [d, alter] = await Promise.all([api("/v1/webhooks/" + seg(s.name)).catch(() => s), canAlter(s.name)]);
    return { ...s, ...d, alter };
  }));
  const result = h("div", { id: "webhooks-result", "aria-live": "polite" },
    query.get("done") ? notice(query.get("done"), "ok") : null);
  const act = (name, what) => actionButton(what === "pause" ? "Pause" : "Resume", result, async () => {
    await api(`/v1/webhooks/${seg(name)}/${what}`, { method: "POST" });
    go("/webhooks", {}, true);
  });
  view.append(h("p", {}, link("/new-webhook", {}, "New subscription")), result,
    subs.length === 0 ? h("p", {}, "No webhook subscriptions.")
      : table(null, ["Name", "State", "URL", "Topics", "Lag (records)", "Delivered/s", "Failed/s", "Dead letters", "Actions"],
        details.map((s) => [
          link("/webhooks/" + seg(s.name), {}, s.name), s.state, h("span", { class: "mono" }, s.url),
          s.topics.join(", "), String(s.lag_records ?? "—"), rate(s.rates?.delivered_per_sec),
          rate(s.rates?.failed_per_sec), String(s.dead_lettered_total ?? "—"),
          s.alter ? act(s.name, s.state === "active" ? "pause" : "resume") : null,
        ]), { id: "webhooks" }));
}

function status(s) {
  const item = (label, value, id) => h("div", { class: "card" }, h("div", { class: "card-label" }, label),
    h("div", { class: "card-value", id }, value));
  return h("div", { class: "cards" },
    item("State", s.state, "hook-state"), item("Lag (records)", String(s.lag_records ?? 0), "hook-lag"),
    item("Lag (seconds)", String(s.lag_seconds ?? 0)), item("Delivered/s", rate(s.rates?.delivered_per_sec)),
    item("Failed/s", rate(s.rates?.failed_per_sec)), item("Delivered", String(s.delivered_total ?? 0), "hook-delivered"),
    item("Dead-lettered", String(s.dead_lettered_total ?? 0)), item("Retries pending", String(s.retries_pending ?? 0)));
}

function attempts(list) {
  return h("section", { "aria-labelledby": "attempts-title" }, h("h2", { id: "attempts-title" }, "Recent attempts"),
    list.length === 0 ? h("p", {}, "No attempts yet.")
      : table(null, ["Time", "Event", "Topic/partition/offset", "Attempt", "Status", "Result", "Latency (ms)", "Error"],
        list.map((a) => [timeEl(a.at_ms), h("span", { class: "mono" }, a.event_id), `${a.topic}/${a.partition}/${a.offset}`,
          String(a.attempt), String(a.status ?? "—"), a.result, String(a.latency_ms ?? "—"), a.error || ""]),
        { id: "attempts" }));
}

export async function webhook(view, [name], query) {
  document.title = "Webhook " + name + " · Strom";
  let s;
  try {
    s = await api("/v1/webhooks/" + seg(name));
  } catch (e) {
    view.append(unavailable(e));
    return;
  }
  const alter = await canAlter(name);
  const result = h("div", { id: "hook-result", "aria-live": "polite" },
    query.get("done") ? notice(query.get("done"), "ok") : null);
  const post = (what, body) => api(`/v1/webhooks/${seg(name)}/${what}`, { method: "POST", body });
  const again = (done) => go("/webhooks/" + seg(name), { done }, true);
  view.append(h("div", {}, h("h1", {}, "Webhook ", h("span", { class: "mono" }, name)),
    h("p", {}, link("/webhooks", {}, "All subscriptions"), " · ", h("span", { class: "mono" }, s.url)),
    result, status(s),
    alter ? h("div", { class: "actions" },
      actionButton(s.state === "active" ? "Pause" : "Resume", result, async () => {
        await post(s.state === "active" ? "pause" : "resume");
        again(s.state === "active" ? "Paused." : "Resumed.");
      }, { id: "hook-toggle" }),
      actionButton("Send a test event", result, async () => {
        await post("test", {});
        return "Test event sent.";
      }, { id: "hook-test" }),
      link("/webhooks/" + seg(name) + "/edit", {}, "Edit")) : null,
    (s.blocked || []).length === 0 ? null : h("section", { "aria-labelledby": "blocked-title" },
      h("h2", { id: "blocked-title" }, "Blocked partitions"),
      table(null, ["Topic", "Partition", "Offset", ""], s.blocked.map((b) => [b.topic, String(b.partition), String(b.offset),
        alter ? actionButton("Skip this event", result, async () => {
          const r = await post("skip", { topic: b.topic, partition: b.partition });
          again(`Skipped ${r.skipped ?? 1} event(s) to the dead-letter topic.`);
        }) : null]), { id: "blocked" })),
    attempts(s.recent_attempts || []),
    await deadLetters(name, query, alter, result)));
}

async function deadLetters(name, query, alter, result) {
  const from = Number.parseInt(query.get("from") || "0", 10) || 0;
  const section = h("section", { "aria-labelledby": "dlq-title" }, h("h2", { id: "dlq-title" }, "Dead letters"));
  let page;
  try {
    page = await api(`/v1/webhooks/${seg(name)}/dlq`, { query: { from, limit: 100 } });
  } catch (e) {
    section.append(notice(e.message));
    return section;
  }
  const letters = page.dead_letters;
  const redrive = async (body) => {
    const r = await api(`/v1/webhooks/${seg(name)}/dlq/redrive`, { method: "POST", body });
    const msg = `Redriven: ${r.delivered.length} delivered, ${r.failed.length} failed.`;
    result.replaceChildren(notice(msg, r.failed.length ? "error" : "ok"));
  };
  const boxes = letters.map((l) => h("input", { type: "checkbox", value: String(l.offset), "aria-label": "Select dead letter " + l.offset }));
  const since = h("input", { type: "datetime-local", step: "1" });
  const controls = alter && letters.length > 0 ? h("div", { class: "toolbar" },
    actionButton("Redrive selected", result, () => redrive({ offsets: boxes.filter((b) => b.checked).map((b) => Number(b.value)) }), { id: "redrive-selected" }),
    actionButton("Redrive all", result, () => redrive({}), { id: "redrive-all" }),
    field("dlq-since", "Last attempt since (UTC)", since),
    actionButton("Redrive since", result, () => redrive({ since_ms: Date.parse(since.value + "Z") }), { id: "redrive-since" })) : null;
  const cols = ["event_id", "topic", "partition", "source_offset", "attempts", "last_attempt", "reason", "status", "error"];
  section.append(h("div", {}, controls, letters.length === 0 ? h("p", {}, "No dead letters.")
    : table(null, [alter ? "Select" : "", "Offset", "Time", "Key", ...cols.map((c) => c.replace("_", " ")), "Value", alter ? "Redrive" : ""],
      letters.map((l, i) => [alter ? boxes[i] : null, String(l.offset), timeEl(l.timestamp_ms), l.key ?? "—",
        ...cols.map((c) => (l[c] === null || l[c] === undefined ? "—" : String(l[c]))),
        valueView(l.value === null || l.value === undefined ? null : { text: l.value }, "text", `dead letter ${l.offset}`),
        alter ? actionButton("Redrive", result, () => redrive({ offset: l.offset })) : null]), { id: "dead-letters" }),
    page.next_offset !== null && page.next_offset !== undefined
      ? link("/webhooks/" + seg(name), { from: page.next_offset }, "Next page") : null));
  return section;
}
