// Webhook subscriptions and their dead letters, from /v1/webhooks: each subscription with
// its state (pause and resume), and a subscription's dead letters with their `strom-dlq-*`
// failure headers as columns, redriven one by one or all at once. The server checks each
// action (Describe or Alter on the group `webhook.<name>`, Read on the dead-letter topic).

import { api, ApiError, seg } from "./api.js";
import { h, table, notice } from "./dom.js";
import { timeEl, valueView } from "./format.js";
import { go, link } from "./nav.js";

function unavailable(e) {
  if (e instanceof ApiError && (e.status === 404 || e.status === 503)) return notice("Webhooks are not enabled on this server: " + e.message, "info");
  throw e;
}

export async function webhooks(view) {
  document.title = "Webhooks · Strom";
  view.append(h("h1", {}, "Webhooks"));
  let subs;
  try {
    subs = await api("/v1/webhooks");
  } catch (e) {
    view.append(unavailable(e));
    return;
  }
  const result = h("div", { "aria-live": "polite" });
  const act = (name, what) => async () => {
    try {
      await api(`/v1/webhooks/${seg(name)}/${what}`, { method: "POST" });
      go("/webhooks", {}, true);
    } catch (e) {
      result.replaceChildren(notice(e.message));
    }
  };
  view.append(result, subs.length === 0 ? h("p", {}, "No webhook subscriptions.")
    : table(null, ["Name", "State", "URL", "Topics", "Dead letters", "Actions"], subs.map((s) => [
      link("/webhooks/" + seg(s.name), {}, s.name), s.state, h("span", { class: "mono" }, s.url),
      s.topics.join(", "),
      link("/webhooks/" + seg(s.name), {}, s.dead_letter_topic),
      s.state === "active"
        ? h("button", { type: "button", class: "secondary", onclick: act(s.name, "pause") }, "Pause")
        : h("button", { type: "button", class: "secondary", onclick: act(s.name, "resume") }, "Resume"),
    ]), { id: "webhooks" }));
}

export async function deadLetters(view, [name], query) {
  document.title = "Dead letters of " + name + " · Strom";
  view.append(h("h1", {}, "Dead letters of ", h("span", { class: "mono" }, name)));
  const from = Number.parseInt(query.get("from") || "0", 10) || 0;
  let letters;
  try {
    letters = await api(`/v1/webhooks/${seg(name)}/dead-letters`, { query: { from, limit: 100 } });
  } catch (e) {
    view.append(unavailable(e));
    return;
  }
  const result = h("div", { id: "redrive-result", "aria-live": "polite" });
  const redrive = (body) => async () => {
    try {
      const r = await api(`/v1/webhooks/${seg(name)}/dead-letters/redrive`, { method: "POST", body });
      result.replaceChildren(notice(`Redriven: ${r.delivered.length} delivered, ${r.failed.length} failed.`, r.failed.length ? "error" : "ok"));
    } catch (e) {
      result.replaceChildren(notice(e.message));
    }
  };
  const failure = [...new Set(letters.flatMap((l) => l.headers.map(([k]) => k)).filter((k) => k.startsWith("strom-dlq-")))].sort();
  view.append(
    h("p", {}, link("/webhooks", {}, "All subscriptions")),
    result,
    letters.length === 0 ? h("p", {}, "No dead letters.") : h("div", {},
      h("button", { type: "button", onclick: redrive({}) }, "Redrive all"),
      table(null, ["Offset", "Time", "Key", ...failure.map((k) => k.replace("strom-dlq-", "")), "Value", "Redrive"],
        letters.map((l) => {
          const hdr = Object.fromEntries(l.headers);
          return [String(l.offset), timeEl(l.timestamp_ms), l.key ?? "—", ...failure.map((k) => hdr[k] ?? "—"),
            valueView(l.value === null ? null : { text: l.value }, "text", `dead letter ${l.offset}`),
            h("button", { type: "button", class: "secondary", onclick: redrive({ offsets: [l.offset] }) }, "Redrive")];
        }), { id: "dead-letters" })),
    letters.length === 100 ? link("/webhooks/" + seg(name), { from: letters[99].offset + 1 }, "Next page") : null);
}
