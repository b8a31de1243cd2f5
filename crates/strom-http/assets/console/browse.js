// The message browser (C5, C7, C8, C17): one partition from an offset, a timestamp, the
// oldest or the newest records, a bounded page (at most 500 records), older/newer pages
// by offset, or all partitions merged by timestamp (browse_all.js); oldest or newest first;
// each record's key, headers (duplicates kept) and value in a bounded preview. The whole
// view (partition, start, page size, order, rendering) is in the URL.

import { api, ApiError, seg } from "./api.js";
import { h, field, select, notice } from "./dom.js";
import { timeEl, valueView, source } from "./format.js";
import { go, href, link } from "./nav.js";
import { exportLinks } from "./export.js";
import { readOnly } from "./perms.js";
import { newerPage, olderPage, parsePositions, printPositions } from "./browse_all.js";

export const MAX_PAGE = 500;
const MODES = [["auto", "Auto (JSON pretty)"], ["text", "Text"], ["hex", "Hex"], ["base64", "Base64"]];

/** The page asked for by the URL: partition, where to start, how many, how to render. */
function wanted(query, partitions) {
  const partition = Number.parseInt(query.get("partition") || "0", 10);
  const limit = Math.min(Math.max(Number.parseInt(query.get("limit") || "50", 10) || 50, 1), MAX_PAGE);
  const mode = MODES.some(([m]) => m === query.get("render")) ? query.get("render") : "auto";
  const p = partitions.find((x) => x.partition === partition) || partitions[0];
  let start = { offset: p.log_start_offset };
  if (query.get("timestamp")) start = { timestamp: query.get("timestamp") };
  else if (query.get("from") === "latest") start = { offset: Math.max(p.log_start_offset, p.high_watermark - limit) };
  else if (query.get("offset") !== null) start = { offset: query.get("offset") };
  return { partition: p.partition, limit, mode, start, p };
}

export async function browse(view, [topic], query) {
  document.title = "Records of " + topic + " · Strom";
  const info = await api("/v1/topics/" + seg(topic));
  if (query.get("partition") === "all") return browseAll(view, topic, info, query);
  const w = wanted(query, info.partitions);
  const path = "/topics/" + seg(topic) + "/records";
  const desc = query.get("order") === "desc";
  const base = { partition: w.partition, limit: w.limit, render: w.mode === "auto" ? "" : w.mode, order: desc ? "desc" : "" };
  view.append(
    h("h1", {}, "Records of ", link("/topics/" + seg(topic), {}, h("span", { class: "mono" }, topic))),
    startForm(path, info.partitions, w, query));
  let page;
  try {
    page = await api(`/v1/topics/${seg(topic)}/partitions/${w.partition}/records`, {
      query: { ...w.start, limit: w.limit, format: w.mode === "auto" ? "json" : "binary" },
    });
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 422) throw e;
    view.append(notice(e.message));
    return;
  }
  const records = page.records;
  const first = records.length ? records[0].offset : page.next_offset;
  const older = first > page.log_start_offset ? Math.max(page.log_start_offset, first - w.limit) : null;
  const newer = page.next_offset < page.high_watermark ? page.next_offset : null;
  const pager = h("nav", { class: "pager", "aria-label": "Pages" },
    link(path, { ...base, offset: page.log_start_offset }, "Oldest"),
    older !== null ? link(path, { ...base, offset: older }, "← Older") : h("span", { class: "muted" }, "← Older"),
    newer !== null ? link(path, { ...base, offset: newer }, "Newer →") : h("span", { class: "muted" }, "Newer →"),
    link(path, { ...base, from: "latest" }, "Newest"),
    records.length ? exportLinks(`/v1/topics/${seg(topic)}/search`, {
      partition: w.partition, from_offset: first, to_offset: page.next_offset, limit: records.length,
    }) : null);
  view.append(
    h("p", { id: "page-range" }, records.length
      ? `Offsets ${records[0].offset}–${records[records.length - 1].offset} of partition ${w.partition} ` +
        `(log start ${page.log_start_offset}, high watermark ${page.high_watermark})`
      : `No records from offset ${first} (log start ${page.log_start_offset}, high watermark ${page.high_watermark})`),
    pager,
    recordTable(topic, w, desc ? [...records].reverse() : records));
}

/** Every partition at once (C5), merged by timestamp; `order=desc` shows newest first. */
async function browseAll(view, topic, info, query) {
  const path = "/topics/" + seg(topic) + "/records";
  const limit = Math.min(Math.max(Number.parseInt(query.get("limit") || "50", 10) || 50, 1), MAX_PAGE);
  const mode = MODES.some(([m]) => m === query.get("render")) ? query.get("render") : "auto";
  const desc = query.get("order") === "desc";
  const format = mode === "auto" ? "json" : "binary";
  const base = { partition: "all", limit, render: mode === "auto" ? "" : mode, order: desc ? "desc" : "" };
  const w = { partition: "all", limit, mode, caption: `Records of ${topic}, all partitions` };
  view.append(
    h("h1", {}, "Records of ", link("/topics/" + seg(topic), {}, h("span", { class: "mono" }, topic))),
    startForm(path, info.partitions, w, query));
  const parts = info.partitions;
  const page = query.get("before") !== null || query.get("from") === "latest"
    ? await olderPage(topic, parts, parsePositions(query.get("before")), limit, format)
    : await newerPage(topic, parts, parsePositions(query.get("cursor")), limit, format);
  const hasOlder = parts.some((p) => page.before.get(p.partition) > p.log_start_offset);
  const hasNewer = parts.some((p) => page.next.get(p.partition) < p.high_watermark);
  const older = h("a", { href: href(path, { ...base, before: printPositions(page.before) }), id: "page-older" }, "← Older");
  const newer = h("a", { href: href(path, { ...base, cursor: printPositions(page.next) }), id: "page-newer" }, "Newer →");
  view.append(
    h("p", { id: "page-range" }, `${page.records.length} records from ${parts.length} partitions, ordered by timestamp` +
      (desc ? ", newest first" : ", oldest first")),
    h("nav", { class: "pager", "aria-label": "Pages" },
      link(path, base, "Oldest"),
      hasOlder ? older : h("span", { class: "muted" }, "← Older"),
      hasNewer ? newer : h("span", { class: "muted" }, "Newer →"),
      link(path, { ...base, from: "latest" }, "Newest")),
    recordTable(topic, w, desc ? [...page.records].reverse() : page.records));
}

function startForm(path, partitions, w, query) {
  const from = query.get("timestamp") ? "timestamp" : query.get("from") === "latest" ? "latest"
    : query.get("offset") !== null ? "offset" : "earliest";
  const part = select([...partitions.map((p) => [p.partition, String(p.partition)]), ["all", "All (by time)"]], w.partition);
  const order = select([["asc", "Oldest first"], ["desc", "Newest first"]], query.get("order") === "desc" ? "desc" : "asc");
  const fromSel = select([["earliest", "Oldest"], ["latest", "Newest"], ["offset", "Offset"], ["timestamp", "Timestamp"]], from);
  const at = h("input", { type: "text", value: query.get("timestamp") || query.get("offset") || "", inputmode: "text" });
  const limit = select([[20, "20"], [50, "50"], [100, "100"], [500, "500"]], w.limit);
  const mode = select(MODES, w.mode);
  return h("form", { class: "filters", "aria-label": "Where to start", onsubmit: (e) => {
    e.preventDefault();
    const q = { partition: part.value, limit: limit.value, render: mode.value === "auto" ? "" : mode.value,
      order: order.value === "desc" ? "desc" : "" };
    if (fromSel.value === "latest") q.from = "latest";
    if (fromSel.value === "offset") q.offset = at.value.trim() || "0";
    if (fromSel.value === "timestamp") q.timestamp = at.value.trim();
    go(path, q);
  } },
    field("b-partition", "Partition", part),
    field("b-from", "Start at", fromSel),
    field("b-at", "Offset or timestamp", at, "Timestamp: RFC 3339 with its zone (2026-12-01T15:00:00Z) or epoch ms"),
    field("b-limit", "Page size", limit),
    field("b-order", "Order", order),
    field("b-render", "Show values as", mode),
    h("button", { type: "submit" }, "Show"));
}

function headersView(headers) {
  if (!headers || !headers.length) return h("span", { class: "muted" }, "none");
  return h("dl", { class: "headers" }, headers.map((hd) => [
    h("dt", {}, hd.key),
    h("dd", {}, hd.value_base64 !== undefined && hd.value_base64 !== null ? "base64:" + hd.value_base64
      : hd.value === null || hd.value === undefined ? "null" : hd.value),
  ]));
}

/** The records as a table (also used by the search page); `w.partition` names the caption. */
export function recordTable(topic, w, records) {
  const rows = records.map((r) => {
    const permalink = href("/topics/" + seg(topic) + "/records", { partition: r.partition, offset: r.offset, limit: 1 });
    return h("tr", { "data-offset": r.offset, "data-partition": r.partition },
      h("td", { class: "num" }, h("a", { href: permalink, title: "Link to this record" }, String(r.offset))),
      h("td", {}, timeEl(r.timestamp)),
      h("td", { class: "field-key" }, valueView(source(r, "key", false), w.mode === "auto" ? "text" : w.mode, `key at offset ${r.offset}`)),
      h("td", {}, headersView(r.headers)),
      h("td", { class: "field-value" }, valueView(source(r, "value", true), w.mode, `value at offset ${r.offset}`)),
      h("td", {}, readOnly() ? null : link("/produce", { topic, src: `${r.partition}:${r.offset}` }, "Re-produce")));
  });
  return h("table", { id: "records", class: "records" },
    h("caption", { class: "sr-only" }, w.caption || `Records of ${topic}, partition ${w.partition}`),
    h("thead", {}, h("tr", {}, ["Offset", "Timestamp", "Key", "Headers", "Value", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows));
}
