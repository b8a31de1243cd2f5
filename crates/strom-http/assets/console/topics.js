// Topics (C3, C4): the list with a name filter, internal toggle and sorting (all in the
// URL), and one topic's partitions and configs.

import { api, seg } from "./api.js";
import { h, table, field, notice } from "./dom.js";
import { fmtBytes, fmtNum } from "./format.js";
import { go, href, link } from "./nav.js";
import { adminSection } from "./topic_admin.js";

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
  });
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
        h("td", { class: "num" }, fmtBytes(t.size_bytes)))))));
}

const DONE = { config: "Config changed.", partitions: "Partitions added." };

export async function topicDetail(view, [name], query) {
  document.title = name + " · Strom";
  const t = await api("/v1/topics/" + seg(name));
  const path = "/topics/" + seg(name);
  const overrides = t.configs.filter((c) => !c.default);
  view.append(
    h("h1", {}, "Topic ", h("span", { class: "mono" }, t.name)),
    DONE[query.get("done")] ? notice(DONE[query.get("done")], "ok") : null,
    h("p", { class: "actions" },
      link(path + "/records", { partition: 0 }, "Browse records"), " ",
      link(path + "/live", {}, "Live tail"), " ",
      link(path + "/search", {}, "Search"), " ",
      link("/produce", { topic: t.name }, "Produce a record")),
    h("h2", {}, "Partitions"),
    table(null, ["Partition", "Log start", "High watermark", "Records", "Size", "Browse"],
      t.partitions.map((p) => [
        String(p.partition), fmtNum(p.log_start_offset), fmtNum(p.high_watermark),
        fmtNum(p.high_watermark - p.log_start_offset), fmtBytes(p.size_bytes),
        link(path + "/records", { partition: p.partition }, `Browse partition ${p.partition}`),
      ]), { id: "partitions" }),
    h("h2", {}, "Configuration"),
    h("p", { class: "muted" }, `${overrides.length} set on this topic, the rest are defaults.`),
    table(null, ["Name", "Value", "Source"],
      t.configs.map((c) => [h("span", { class: "mono" }, c.name), h("span", { class: "mono" }, c.value),
        c.default ? "default" : "topic"]), { id: "configs" }),
    await adminSection(t));
}
