// Topics (C3, C4): the list with a name filter, internal toggle and sorting (all in the
// URL), each with its cleanup policy and retention, and one topic's partitions (with their
// segment counts) and configs.

import { api, seg } from "./api.js";
import { h, table, field, notice } from "./dom.js";
import { fmtBytes, fmtNum } from "./format.js";
import { go, href, link } from "./nav.js";
import { adminSection } from "./topic_admin.js";
import { allowedOps } from "./perms.js";

const COLUMNS = [["name", "Name"], ["partitions", "Partitions"], ["records", "Records"], ["size", "Size"]];
const KEY = {
  name: (t) => t.name,
  partitions: (t) => t.partition_count,
  records: (t) => t.records,
  size: (t) => t.size_bytes,
};

export async function topicList(view, _params, query) {
  document.title = "Topics · Strom";
  const q = query.get("q") || "";
  const internal = query.get("internal") === "1";
  const sort = KEY[query.get("sort")] ? query.get("sort") : "name";
  const dir = query.get("dir") === "desc" ? "desc" : "asc";
  const all = await api("/v1/topics", { query: internal ? { internal: "true" } : null });
  const shown = all.filter((t) => t.name.toLowerCase().includes(q.toLowerCase()));
  shown.sort((a, b) => {
    const [x, y] = [KEY[sort](a), KEY[sort](b)];
    const c = x < y ? -1 : x > y ? 1 : 0;
    return dir === "asc" ? c : -c;
  });
  const state = { q, internal: internal ? "1" : "", sort, dir };
  const search = h("input", { type: "search", name: "q", value: q });
  const internalBox = h("input", { type: "checkbox", name: "internal", checked: internal });
  const form = h("form", { class: "filters", role: "search", onsubmit: (e) => {
    e.preventDefault();
    go("/topics", { ...state, q: search.value, internal: internalBox.checked ? "1" : "" });
  } },
    field("topic-filter", "Name contains", search),
    h("div", { class: "field check" }, internalBox, h("label", { for: "show-internal" }, "Show internal topics")),
    h("button", { type: "submit" }, "Filter"));
  internalBox.id = "show-internal";
  internalBox.addEventListener("change", () => form.requestSubmit());
  const header = COLUMNS.map(([k, label]) => {
    const next = sort === k && dir === "asc" ? "desc" : "asc";
    const th = h("th", { scope: "col" }, h("a", { href: href("/topics", { ...state, sort: k, dir: next }) }, label));
    if (sort === k) th.setAttribute("aria-sort", dir === "asc" ? "ascending" : "descending");
    return th;
  }).concat(h("th", { scope: "col" }, "Cleanup policy"), h("th", { scope: "col" }, "Retention"));
  view.append(
    h("h1", {}, "Topics"),
    query.get("deleted") ? notice(`Topic ${query.get("deleted")} deleted.`, "ok") : null,
    form,
    h("p", { class: "muted", id: "topic-count" }, `${shown.length} of ${all.length} topics`),
    h("table", { id: "topics" },
      h("thead", {}, h("tr", {}, header)),
      h("tbody", {}, shown.map((t) => h("tr", {},
        h("td", {}, link("/topics/" + seg(t.name), {}, t.name)),
        h("td", { class: "num" }, fmtNum(t.partition_count)),
        h("td", { class: "num" }, fmtNum(t.records)),
        h("td", { class: "num" }, fmtBytes(t.size_bytes)),
        h("td", {}, t.cleanup_policy),
        h("td", { class: "num" }, fmtRetention(t.retention_ms)))))));
}

/** retention.ms as "7 d", "36 h", "90 min", "1500 ms"; -1 as "forever". */
export function fmtRetention(ms) {
  const n = Number(ms);
  if (!Number.isFinite(n) || ms === "") return "—";
  if (n < 0) return "forever";
  for (const [unit, size] of [["d", 86400000], ["h", 3600000], ["min", 60000], ["s", 1000]]) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`;
  }
  return `${n} ms`;
}

const DONE = { config: "Config changed.", partitions: "Partitions added.", records: "Records deleted." };

export async function topicDetail(view, [name], query) {
  document.title = name + " · Strom";
  const [t, ops] = await Promise.all([api("/v1/topics/" + seg(name)), allowedOps("TOPIC", name)]);
  const path = "/topics/" + seg(name);
  const overrides = t.configs.filter((c) => !c.default);
  view.append(
    h("h1", {}, "Topic ", h("span", { class: "mono" }, t.name)),
    DONE[query.get("done")] ? notice(DONE[query.get("done")], "ok") : null,
    h("p", { class: "actions" },
      link(path + "/records", { partition: 0 }, "Browse records"), " ",
      link(path + "/live", {}, "Live tail"), " ",
      link(path + "/search", {}, "Search"), " ",
      ops.has("WRITE") ? link("/produce", { topic: t.name }, "Produce a record") : null),
    h("h2", {}, "Partitions"),
    table(null, ["Partition", "Log start", "High watermark", "Records", "Size", "Segments", "Browse"],
      t.partitions.map((p) => [
        String(p.partition), fmtNum(p.log_start_offset), fmtNum(p.high_watermark),
        fmtNum(p.high_watermark - p.log_start_offset), fmtBytes(p.size_bytes), fmtNum(p.segments),
        link(path + "/records", { partition: p.partition }, `Browse partition ${p.partition}`),
      ]), { id: "partitions" }),
    h("h2", {}, "Configuration"),
    h("p", { class: "muted" }, `${overrides.length} set on this topic, the rest are defaults.`),
    table(null, ["Name", "Value", "Source"],
      t.configs.map((c) => [h("span", { class: "mono" }, c.name), h("span", { class: "mono" }, c.value),
        c.default ? "default" : "topic"]), { id: "configs" }),
    adminSection(t, ops));
}
