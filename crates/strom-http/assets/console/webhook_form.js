// Creating (POST /v1/webhooks) and editing (PATCH /v1/webhooks/{name}) a webhook
// subscription: URL, topics (at creation), payload mode, failure policy, ordering, timeout,
// concurrency, rate limit and a key-prefix filter. Alter on the group `webhook.<name>` (and
// Read on the topics at creation), checked by the server; a refusal is shown. The new
// subscription's signing secret is shown once, as the API answers it only then.

import { api, seg } from "./api.js";
import { h, field, select, notice } from "./dom.js";
import { go, link } from "./nav.js";

const opts = (list) => list.map((v) => [v, v]);

function controls(s) {
  return {
    url: h("input", { type: "url", required: true, value: s.url || "" }),
    payload: select(opts(["structured", "binary"]), s.payload || "structured"),
    policy: select(opts(["dead-letter", "block"]), s.failure_policy || "dead-letter"),
    ordering: select(opts(["partition", "key", "none"]), s.ordering || "partition"),
    timeout: h("input", { type: "number", min: "1", max: "120000", value: String(s.timeout_ms ?? 15000) }),
    concurrency: h("input", { type: "number", min: "1", value: String(s.concurrency ?? 16) }),
    rate: h("input", { type: "number", min: "0", value: s.rate_limit_per_sec ? String(s.rate_limit_per_sec) : "", placeholder: "unlimited" }),
    prefix: h("input", { type: "text", value: s.filter?.key_prefix || "" }),
  };
}

function body(c) {
  const b = {
    url: c.url.value.trim(), payload: c.payload.value, failure_policy: c.policy.value, ordering: c.ordering.value,
    timeout_ms: Number(c.timeout.value), concurrency: Number(c.concurrency.value),
  };
  if (c.rate.value !== "") b.rate_limit_per_sec = Number(c.rate.value);
  if (c.prefix.value !== "") b.filter = { key_prefix: c.prefix.value };
  return b;
}

const fields = (c) => [field("w-url", "Endpoint URL", c.url), field("w-payload", "Payload", c.payload),
  field("w-policy", "When an event keeps failing", c.policy), field("w-ordering", "Ordering", c.ordering),
  field("w-timeout", "Timeout (ms)", c.timeout), field("w-concurrency", "Concurrency", c.concurrency),
  field("w-rate", "Rate limit (requests/s)", c.rate, "Empty: unlimited"),
  field("w-prefix", "Only keys starting with", c.prefix, "Empty: every record")];

function submit(result, action) {
  return async (e) => {
    e.preventDefault();
    result.replaceChildren();
    try {
      await action();
    } catch (err) {
      result.append(notice(err.message));
    }
  };
}

export async function newWebhook(view) {
  document.title = "New webhook · Strom";
  const c = controls({});
  const name = h("input", { type: "text", required: true, pattern: "[a-zA-Z0-9][a-zA-Z0-9._\\-]*" });
  const topics = h("input", { type: "text", required: true });
  const result = h("div", { id: "webhook-form-result", "aria-live": "polite" });
  view.append(h("h1", {}, "New webhook subscription"), h("p", {}, link("/webhooks", {}, "All subscriptions")), result,
    h("form", { class: "stack", id: "webhook-form", onsubmit: submit(result, async () => {
      const b = { name: name.value.trim(), topics: topics.value.split(",").map((t) => t.trim()).filter(Boolean), ...body(c) };
      const r = await api("/v1/webhooks", { method: "POST", body: b });
      view.replaceChildren(h("h1", {}, "Webhook ", h("span", { class: "mono" }, r.name), " created"),
        notice("Created. Its signing secret, shown only now:", "ok"),
        h("pre", { id: "webhook-secret" }, r.secret || ""),
        h("p", {}, link("/webhooks/" + seg(r.name), {}, "Open the subscription")));
    }) }, field("w-name", "Name", name), field("w-topics", "Topics", topics, "Comma separated"), ...fields(c),
    h("button", { type: "submit" }, "Create subscription")));
}

export async function editWebhook(view, [name]) {
  document.title = "Edit webhook " + name + " · Strom";
  const s = await api("/v1/webhooks/" + seg(name));
  const c = controls(s);
  const result = h("div", { id: "webhook-form-result", "aria-live": "polite" });
  view.append(h("h1", {}, "Edit webhook ", h("span", { class: "mono" }, name)),
    h("p", {}, link("/webhooks/" + seg(name), {}, "Back to the subscription")), result,
    h("form", { class: "stack", id: "webhook-form", onsubmit: submit(result, async () => {
      const b = body(c);
      if (c.rate.value === "") b.rate_limit_per_sec = 0;
      if (c.prefix.value === "" && s.filter?.key_prefix) b.filter = {};
      await api("/v1/webhooks/" + seg(name), { method: "PATCH", body: b });
      go("/webhooks/" + seg(name), { done: "Saved." });
    }) }, h("p", {}, "Topics: ", s.topics.join(", ")), ...fields(c), h("button", { type: "submit" }, "Save")));
}
