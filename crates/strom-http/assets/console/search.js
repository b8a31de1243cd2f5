// Bounded search (C6): key (equals: only the key's partition is scanned; or contains),
// value contains, a header, a partition and a time range, run by the server within a
// budget (records, bytes, time); the answer says what was scanned and matched, and
// "Continue" resumes at the server's cursor. Every filter and the cursor are in the URL.

import { api, seg } from "./api.js";
import { h, field, select, notice, table } from "./dom.js";
import { fmtBytes, fmtNum } from "./format.js";
import { go, href, link } from "./nav.js";
import { recordTable } from "./browse.js";
import { exportLinks } from "./export.js";

/** The query parameters the page keeps in the URL (and passes to the API). */
export const SEARCH_KEYS = ["key", "key_match", "value_contains", "header", "partition",
  "from_time", "to_time", "limit", "max_records", "render"];
const STOPPED = {
  end: "the end of every partition",
  limit: "the page was full",
  max_records: "the record budget",
  max_bytes: "the byte budget",
  max_ms: "the time budget",
};

function filtersFrom(query) {
  const f = {};
  for (const k of SEARCH_KEYS) if (query.get(k)) f[k] = query.get(k);
  return f;
}

export async function search(view, [topic], query) {
  document.title = "Search " + topic + " · Strom";
  const info = await api("/v1/topics/" + seg(topic));
  const path = "/topics/" + seg(topic) + "/search";
  const f = filtersFrom(query);
  view.append(
    h("h1", {}, "Search ", link("/topics/" + seg(topic), {}, h("span", { class: "mono" }, topic))),
    form(path, info.partitions, f));
  if (query.get("run") !== "1") {
    view.append(h("p", { class: "muted" }, "Give a filter and press Search. The server scans within a budget; Continue resumes where it stopped."));
    return;
  }
  const mode = f.render || "auto";
  const apiQuery = { ...f, render: null, cursor: query.get("cursor"), format: mode === "auto" ? "json" : "binary" };
  const r = await api(`/v1/topics/${seg(topic)}/search`, { query: apiQuery });
  const stopped = STOPPED[r.stopped] || r.stopped;
  view.append(
    h("p", { id: "search-status", role: "status" },
      `Scanned ${fmtNum(r.scanned)} records (${fmtBytes(r.scanned_bytes)}), matched ${fmtNum(r.matched)} ` +
      `in ${fmtNum(r.elapsed_ms)} ms; stopped at ${stopped}.`),
    h("nav", { class: "pager", "aria-label": "Search pages" },
      r.cursor
        ? h("a", { href: href(path, { ...f, run: 1, cursor: r.cursor }), id: "search-continue" }, "Continue →")
        : h("span", { class: "muted", id: "search-done" }, "Search complete"),
      exportLinks(`/v1/topics/${seg(topic)}/search`, apiQuery)),
    table("Where the scan stands", ["Partition", "Next offset", "End"],
      r.partitions.map((p) => [String(p.partition), fmtNum(p.position), fmtNum(p.end)]), { id: "search-lanes" }),
    r.records.length
      ? recordTable(topic, { mode, caption: `Matches in ${topic}` }, r.records)
      : notice("No match in what was scanned.", "info"));
}

function form(path, partitions, f) {
  const input = (name, hint) => h("input", { type: "text", value: f[name] || "", name, placeholder: hint || null });
  const key = input("key");
  const keyMatch = select([["equals", "equals"], ["contains", "contains"]], f.key_match || "equals");
  const value = input("value_contains");
  const header = input("header");
  const part = select([["", "All"], ...partitions.map((p) => [p.partition, String(p.partition)])], f.partition || "");
  const from = input("from_time");
  const to = input("to_time");
  const limit = select([[20, "20"], [50, "50"], [100, "100"], [500, "500"]], f.limit || 50);
  const budget = select([[10000, "10,000"], [100000, "100,000"], [1000000, "1,000,000"]], f.max_records || 100000);
  const render = select([["auto", "Auto (JSON pretty)"], ["text", "Text"], ["hex", "Hex"], ["base64", "Base64"]], f.render || "auto");
  return h("form", { class: "filters", "aria-label": "Search filters", onsubmit: (e) => {
    e.preventDefault();
    const q = { key: key.value, key_match: key.value ? keyMatch.value : "", value_contains: value.value,
      header: header.value.trim(), partition: part.value, from_time: from.value.trim(), to_time: to.value.trim(),
      limit: limit.value, max_records: budget.value, render: render.value === "auto" ? "" : render.value, run: 1 };
    go(path, q);
  } },
    field("s-key", "Key", key),
    field("s-key-match", "Key match", keyMatch, "equals scans only the key's partition"),
    field("s-value", "Value contains", value),
    field("s-header", "Header", header, "name or name:value"),
    field("s-partition", "Partition", part),
    field("s-from", "From time", from, "RFC 3339 or epoch ms"),
    field("s-to", "To time", to),
    field("s-limit", "Most matches", limit),
    field("s-budget", "Records to scan", budget),
    field("s-render", "Show values as", render),
    h("button", { type: "submit" }, "Search"));
}
