// Live tail (C9): the topic's new records as they arrive, over Server-Sent Events
// (GET /feeds/{t}, Read on the topic, the session cookie authenticates the EventSource),
// newest first, at most 500 rows kept; Pause closes the stream, Resume reopens it exactly
// where it stopped (the feed cursor of the last event). Filters (in the URL, as the search
// page's): key equals or contains, value contains, partition; applied in the browser to the
// records the stream brings (the principal may Read them all), counted when left out.

import { api, seg } from "./api.js";
import { h, field, select, notice } from "./dom.js";
import { timeEl, valueView } from "./format.js";
import { go, link } from "./nav.js";

export const MAX_ROWS = 500;

function dataSource(e) {
  if (e.data_base64 !== undefined) return { b64: e.data_base64 };
  if (e.data === undefined) return null;
  return e.datacontenttype === "application/json" ? { json: e.data } : { text: String(e.data) };
}

/** The filter of the URL's query as a predicate on a feed event. */
function matcher(query) {
  const key = query.get("key") || "";
  const contains = query.get("key_match") === "contains";
  const value = query.get("value_contains") || "";
  const partition = query.get("partition") || "";
  return (e) => {
    if (partition !== "" && String(e.partition) !== partition) return false;
    if (key !== "" && !(contains ? (e.subject ?? "").includes(key) : e.subject === key)) return false;
    if (value === "") return true;
    const data = e.data_base64 !== undefined ? atob(e.data_base64)
      : typeof e.data === "string" ? e.data : JSON.stringify(e.data ?? null);
    return data.includes(value);
  };
}

function filterForm(topic, query) {
  const key = h("input", { type: "text", value: query.get("key") || "" });
  const keyMatch = select([["equals", "equals"], ["contains", "contains"]], query.get("key_match") || "equals");
  const value = h("input", { type: "text", value: query.get("value_contains") || "" });
  const partition = h("input", { type: "number", min: "0", value: query.get("partition") || "" });
  return h("form", { class: "filters", id: "live-filters", onsubmit: (e) => {
    e.preventDefault();
    go("/topics/" + seg(topic) + "/live", { key: key.value, key_match: keyMatch.value === "equals" ? "" : keyMatch.value,
      value_contains: value.value, partition: partition.value });
  } },
    field("lf-key", "Key", key), field("lf-key-match", "Key match", keyMatch),
    field("lf-value", "Value contains", value), field("lf-partition", "Partition", partition),
    h("button", { type: "submit" }, "Filter"));
}

export async function live(view, [topic], query) {
  document.title = "Live: " + topic + " · Strom";
  const info = await api("/v1/topics/" + seg(topic));
  let cursor = info.partitions.map((p) => String(p.high_watermark - 1)).join(".");
  const body = h("tbody", {});
  const status = h("span", { id: "live-status", role: "status" }, "Connecting…");
  const table = h("table", { id: "live", class: "records", "data-live": "connecting" },
    h("caption", { class: "sr-only" }, `New records of ${topic}, newest first`),
    h("thead", {}, h("tr", {}, ["Partition", "Offset", "Time", "Key", "Value"].map((c) => h("th", { scope: "col" }, c)))),
    body);
  let source = null;
  let skipped = 0;
  const wanted = matcher(query);
  const skippedEl = h("span", { id: "live-skipped" }, "");
  const open = () => {
    source = new EventSource(`/feeds/${seg(topic)}?lastEventId=${encodeURIComponent(cursor)}`);
    source.onopen = () => { status.textContent = "Live: new records appear at the top."; table.dataset.live = "open"; };
    source.onerror = () => { status.textContent = "Disconnected; retrying…"; };
    source.onmessage = (m) => {
      const e = JSON.parse(m.data);
      cursor = m.lastEventId || cursor;
      if (!wanted(e)) {
        skipped += 1;
        skippedEl.textContent = ` Left out by the filter: ${skipped}.`;
        return;
      }
      const path = "/topics/" + seg(topic) + "/records";
      body.prepend(h("tr", { "data-offset": e.offset },
        h("td", { class: "num" }, String(e.partition)),
        h("td", { class: "num" }, link(path, { partition: e.partition, offset: e.offset, limit: 1 }, String(e.offset))),
        h("td", {}, timeEl(Date.parse(e.time))),
        h("td", {}, e.subject ?? h("span", { class: "muted" }, "null")),
        h("td", { class: "field-value" }, valueView(dataSource(e), "auto", `live value at ${e.partition}:${e.offset}`))));
      while (body.children.length > MAX_ROWS) body.lastElementChild.remove();
    };
  };
  const toggle = h("button", { type: "button", id: "live-toggle", onclick: () => {
    if (source) {
      source.close();
      source = null;
      table.dataset.live = "paused";
      status.textContent = "Paused.";
      toggle.textContent = "Resume";
    } else {
      open();
      toggle.textContent = "Pause";
    }
  } }, "Pause");
  view.append(
    h("h1", {}, "Live: ", link("/topics/" + seg(topic), {}, h("span", { class: "mono" }, topic))),
    info.partitions.length ? null : notice("The topic has no partitions."),
    h("p", { class: "actions" }, toggle, link("/topics/" + seg(topic) + "/records", { partition: 0 }, "Browse records")),
    filterForm(topic, query), h("p", {}, status, skippedEl), table);
  open();
  return () => source && source.close();
}
