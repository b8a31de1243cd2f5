// Overview (C2): the server's version, listeners, disk, and counts of topics, partitions,
// records, bytes and groups, from /v1/status, /v1/topics and /v1/groups.

import { api } from "./api.js";
import { h, table, notice } from "./dom.js";
import { fmtBytes, fmtNum } from "./format.js";
import { link } from "./nav.js";

function card(label, value, id) {
  return h("div", { class: "card" }, h("div", { class: "card-label" }, label), h("div", { class: "card-value", id }, value));
}

export async function overview(view) {
  document.title = "Overview · Strom";
  const [status, topics, groups] = await Promise.all([
    api("/v1/status"),
    api("/v1/topics"),
    api("/v1/groups").catch(() => null),
  ]);
  const disk = status.disk;
  const partitions = topics.reduce((n, t) => n + t.partition_count, 0);
  const records = topics.reduce((n, t) => n + t.records, 0);
  const bytes = topics.reduce((n, t) => n + t.size_bytes, 0);
  view.append(
    h("h1", {}, "Overview"),
    h("p", { class: "muted" }, `Strom ${status.version}, node ${status.node_id}` +
      (status.auto_create_topics ? ", topics created on first use" : "")),
    h("div", { class: "cards" },
      card("Topics", link("/topics", {}, fmtNum(status.topics)), "count-topics"),
      card("Partitions", fmtNum(partitions), "count-partitions"),
      card("Records", fmtNum(records), "count-records"),
      card("Stored", fmtBytes(bytes), "count-bytes"),
      card("Consumer groups", link("/groups", {}, fmtNum(status.groups)), "count-groups"),
      card("Storage", disk.state, "disk-state")),
    disk.state !== "writable" ? notice(`Writes are refused: the data directory is ${disk.state}.`) : null,
    h("h2", {}, "Disk"),
    table(null, ["State", "Free", "Total", "Writes refused below", "Partitions waiting to reopen"], [[
      disk.state, fmtBytes(disk.free_bytes), fmtBytes(disk.total_bytes), fmtBytes(disk.min_free_bytes),
      fmtNum(disk.poisoned_partitions),
    ]]),
    h("h2", {}, "Listeners"),
    table(null, ["Front end", "Listener", "Open connections", "Limit"],
      status.listeners.map((l) => [l.frontend, l.listener, fmtNum(l.open_connections), fmtNum(l.max_connections)])),
    groups === null ? notice("Consumer groups are not available to this principal.", "info") : null);
}
