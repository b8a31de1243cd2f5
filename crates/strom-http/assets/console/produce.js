// Produce a record (C10) through POST /v1/topics/{t}/records: key, value as text (its exact
// UTF-8 bytes), JSON or base64, repeatable headers, an optional partition (else the server
// picks it from the key with Kafka's murmur2) and timestamp. `?src=P:O` prefills the form
// from the record at partition P, offset O of `?topic` (re-produce, to this or another topic).

import { api, seg } from "./api.js";
import { h, field, select, notice } from "./dom.js";
import { b64Bytes } from "./format.js";
import { link } from "./nav.js";

/** Base64 of `bytes`, in chunks (no argument-count limit on large values). */
function toB64(bytes) {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

function utf8OrNull(b64) {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(b64Bytes(b64));
  } catch {
    return null;
  }
}

function headerRow(list, key, value) {
  const n = list.children.length;
  const k = h("input", { type: "text", value: key || "", "aria-label": `Header ${n + 1} name`, class: "h-key" });
  const v = h("input", { type: "text", value: value || "", "aria-label": `Header ${n + 1} value`, class: "h-value" });
  const row = h("div", { class: "header-row" }, k, v,
    h("button", { type: "button", class: "link", onclick: () => row.remove() }, "Remove"));
  list.append(row);
}

/** The record the form describes, in the API's shape. Errors: a message for the user. */
function record(f) {
  const rec = {};
  if (f.key.value !== "") rec.key = f.key.value;
  if (f.format.value === "json") {
    try {
      rec.value = JSON.parse(f.value.value);
    } catch (e) {
      throw new Error("The value is not valid JSON: " + e.message);
    }
  } else if (f.format.value === "base64") {
    const b64 = f.value.value.replace(/\s+/g, "");
    try {
      atob(b64);
    } catch {
      throw new Error("The value is not valid base64.");
    }
    rec.value_base64 = b64;
  } else {
    rec.value_base64 = toB64(new TextEncoder().encode(f.value.value));
  }
  const headers = [...f.headers.querySelectorAll(".header-row")]
    .map((r) => ({ key: r.querySelector(".h-key").value, value: r.querySelector(".h-value").value }))
    .filter((x) => x.key !== "");
  if (headers.length) rec.headers = headers;
  if (f.partition.value.trim() !== "") rec.partition = Number(f.partition.value);
  if (f.timestamp.value.trim() !== "") {
    const t = f.timestamp.value.trim();
    rec.timestamp = /^\d+$/.test(t) ? Number(t) : t;
  }
  return rec;
}

async function prefill(f, topic, src) {
  const [p, o] = src.split(":").map(Number);
  const page = await api(`/v1/topics/${seg(topic)}/partitions/${p}/records`, { query: { offset: o, limit: 1, format: "binary" } });
  const r = page.records[0];
  if (!r || r.offset !== o) return notice(`No record at partition ${p}, offset ${o}.`);
  f.key.value = r.key !== undefined && r.key !== null ? r.key : "";
  const text = r.value_base64 ? utf8OrNull(r.value_base64) : "";
  f.format.value = text === null ? "base64" : "text";
  f.value.value = text === null ? r.value_base64 : text;
  for (const hd of r.headers || []) headerRow(f.headers, hd.key, hd.value ?? "");
  return notice(`Prefilled from ${topic} partition ${p} offset ${o}; change the topic to send it elsewhere.`, "info");
}

export async function produce(view, _params, query) {
  document.title = "Produce · Strom";
  const topics = await api("/v1/topics").catch(() => []);
  const f = {
    topic: h("input", { type: "text", required: true, list: "topic-names", value: query.get("topic") || "" }),
    partition: h("input", { type: "number", min: "0", inputmode: "numeric" }),
    key: h("input", { type: "text" }),
    format: select([["text", "Text (UTF-8)"], ["json", "JSON"], ["base64", "Base64 (bytes)"]], "text"),
    value: h("textarea", { rows: "8" }),
    timestamp: h("input", { type: "text" }),
    headers: h("div", { class: "headers-edit" }),
  };
  const result = h("div", { id: "produce-result", "aria-live": "polite" });
  const form = h("form", { class: "stack", onsubmit: async (e) => {
    e.preventDefault();
    result.replaceChildren();
    try {
      const topic = f.topic.value.trim();
      const r = await api(`/v1/topics/${seg(topic)}/records`, { method: "POST", body: { records: [record(f)] } });
      const o = r.offsets[0];
      if (o.error) throw new Error(o.error);
      result.append(notice(`Written to partition ${o.partition} at offset ${o.offset}.`, "ok"),
        link("/topics/" + seg(topic) + "/records", { partition: o.partition, offset: o.offset, limit: 1 }, "Show the record"));
    } catch (err) {
      result.append(notice(err.message));
    }
  } },
    field("p-topic", "Topic", f.topic),
    h("datalist", { id: "topic-names" }, topics.map((t) => h("option", { value: t.name }))),
    field("p-partition", "Partition (optional)", f.partition, "Empty: chosen from the key (murmur2, as Kafka clients)"),
    field("p-key", "Key (optional)", f.key),
    field("p-format", "Value format", f.format),
    field("p-value", "Value", f.value),
    h("fieldset", {}, h("legend", {}, "Headers"), f.headers,
      h("button", { type: "button", class: "secondary", onclick: () => headerRow(f.headers) }, "Add header")),
    field("p-timestamp", "Timestamp (optional)", f.timestamp, "RFC 3339 with zone or epoch ms; empty: now"),
    h("button", { type: "submit" }, "Produce"));
  const pre = query.get("src") && query.get("topic") ? await prefill(f, query.get("topic"), query.get("src")) : null;
  view.append(h("h1", {}, "Produce a record"), pre, form, result);
}
