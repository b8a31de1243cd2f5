// Overview (C2): the server's version, uptime, listeners, disk, counts of topics,
// partitions, records, bytes and groups, and the produce and consume rates of the last
// sample, from /v1/status, /v1/topics, /v1/groups and /v1/metrics/history.

import { api } from "./api.js";
import { h, table, notice } from "./dom.js";
import { fmtBytes, fmtNum } from "./format.js";
import { link } from "./nav.js";

function card(label, value, id) {
  return h("div", { class: "card" }, h("div", { class: "card-label" }, label), h("div", { class: "card-value", id }, value));
}

/** Records per second over all topics at the history's last sample ("—" without one). */
function rate(history, field) {
  if (!history || history.t.length === 0) return "—";
  const last = history.t.length - 1;
  const sum = Object.values(history.topics).reduce((n, s) => n + (s[field][last] || 0), 0);
  return fmtNum(Math.round(sum));
}

function fmtUptime(s) {
  if (s === null || s === undefined) return "—";
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

export async function overview(view) {
  document.title = "Overview · Strom";
  const [status, topics, groups, history] = await Promise.all([
    api("/v1/status"),
    api("/v1/topics"),
    api("/v1/groups").catch(() => null),
    api("/v1/metrics/history").catch(() => null),
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
      card("Storage", disk.state, "disk-state"),
      card("Produced /s", rate(history, "records_in"), "rate-in"),
      card("Consumed /s", rate(history, "records_out"), "rate-out"),
      card("Uptime", fmtUptime(status.uptime_seconds), "uptime")),
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
