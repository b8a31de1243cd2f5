// Consumer groups (C11, C12): the list, one group's members and per-partition committed
// offset, log end, lag and time lag (each offset links to its record), deletion, the offset
// reset through POST /v1/groups/{g}/offsets/reset (a dry-run preview first, its parameters
// in the URL; per group, topics or partitions of one topic; then Apply; the server refuses
// a reset while the group has members, 409), and the deletion of a topic's committed
// offsets (DELETE /v1/groups/{g}/offsets, Kafka's OffsetDelete). A control the principal may
// not use is left out (perms.js); the API checks every action.

import { api, ApiError, seg } from "./api.js";
import { h, table, field, select, notice } from "./dom.js";
import { fmtNum } from "./format.js";
import { go, link } from "./nav.js";
import { allowedOps } from "./perms.js";

export async function groupList(view) {
  document.title = "Consumer groups · Strom";
  const groups = await api("/v1/groups");
  groups.sort((a, b) => (a.group < b.group ? -1 : 1));
  view.append(
    h("h1", {}, "Consumer groups"),
    groups.length === 0 ? h("p", {}, "No consumer groups.")
      : table(null, ["Group", "State", "Protocol type"],
        groups.map((g) => [link("/groups/" + seg(g.group), {}, g.group), g.state, g.protocol_type || "—"]),
        { id: "groups" }));
}

/** A time lag in ms as "3 h 2 min", "41 s", "0 s"; "—" when unknown. */
export function fmtLag(ms) {
  if (ms === null || ms === undefined) return "—";
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

function offsetsTable(d) {
  const total = d.offsets.reduce((n, o) => n + (o.lag || 0), 0);
  return h("div", { id: "group-offsets" },
    h("p", {}, "Total lag: ", h("strong", { id: "total-lag" }, fmtNum(total))),
    table(null, ["Topic", "Partition", "Committed offset", "Log end", "Lag", "Time lag", "Member"],
      d.offsets.map((o) => [
        link("/topics/" + seg(o.topic), {}, o.topic), String(o.partition),
        link("/topics/" + seg(o.topic) + "/records", { partition: o.partition, offset: o.committed_offset }, fmtNum(o.committed_offset)),
        fmtNum(o.log_end_offset), fmtNum(o.lag), fmtLag(o.time_lag_ms), o.member_id || "—",
      ]), { id: "offsets" }));
}

export async function groupDetail(view, [group], query) {
  document.title = group + " · Strom";
  const d = await api("/v1/groups/" + seg(group));
  let offsets = offsetsTable(d);
  view.append(
    h("h1", {}, "Group ", h("span", { class: "mono" }, d.group)),
    h("p", { id: "group-state" }, `State ${d.state}` + (d.protocol ? `, protocol ${d.protocol}` : "") +
      `, generation ${d.generation_id}`),
    h("h2", {}, "Members"),
    d.members.length === 0 ? h("p", {}, "No members.")
      : table(null, ["Member", "Client id", "Host", "Assignment"], d.members.map((m) => [
        m.member_id, m.client_id, m.client_host,
        Object.entries(m.assignment).map(([t, ps]) => `${t}: ${ps.join(", ")}`).join("; ") || "—",
      ]), { id: "members" }),
    h("h2", {}, "Committed offsets"),
    offsets);
  const refresh = async () => {
    const fresh = offsetsTable(await api("/v1/groups/" + seg(group)));
    offsets.replaceWith(fresh);
    offsets = fresh;
  };
  const ops = await allowedOps("GROUP", group);
  view.append(
    ops.has("READ") ? await resetSection(group, d, query, refresh) : null,
    ops.has("DELETE") && d.offsets.length ? offsetsDeleteSection(group, d, refresh) : null,
    ops.has("DELETE") ? deleteSection(group, d) : null);
}

/** Delete the committed offsets of one topic (all its partitions, or the listed ones):
 *  DELETE /v1/groups/{g}/offsets (Delete on the group, Read on the topic; refused while a
 *  member subscribes to the topic). */
function offsetsDeleteSection(group, d, refresh) {
  const topics = [...new Set(d.offsets.map((o) => o.topic))];
  const topic = select(topics.map((t) => [t, t]), topics[0]);
  const partitions = h("input", { type: "text", inputmode: "numeric", autocomplete: "off" });
  const out = h("div", { id: "offsets-delete-result", "aria-live": "polite" });
  const submit = async (e) => {
    e.preventDefault();
    out.replaceChildren();
    try {
      const r = await api("/v1/groups/" + seg(group) + "/offsets", { method: "DELETE",
        query: { topic: topic.value, partitions: partitions.value.replace(/\s+/g, "") } });
      const gone = r.partitions.filter((p) => p.deleted_offset !== null).length;
      await refresh().catch(() => {});
      out.append(notice(`Deleted the committed offsets of ${gone} partitions of ${r.topic}.`, "ok"));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) throw err;
      out.append(notice(err.message));
    }
  };
  return h("section", { "aria-labelledby": "offsets-delete-title" },
    h("h2", { id: "offsets-delete-title" }, "Delete committed offsets"),
    h("p", {}, "The group's next consumer of these partitions starts where its auto.offset.reset says."),
    h("form", { class: "filters", id: "offsets-delete-form", onsubmit: submit },
      field("od-topic", "Topic", topic),
      field("od-partitions", "Partitions", partitions, "Comma-separated; empty: every partition with a commit"),
      h("button", { type: "submit", class: "secondary", id: "offsets-delete" }, "Delete offsets")),
    out);
}

/** Delete the group (DELETE /v1/groups/{g}: Delete on the group; refused while it has members). */
function deleteSection(group, d) {
  const out = h("div", { id: "group-delete-result" });
  const button = h("button", { type: "button", id: "group-delete", class: "secondary", onclick: async () => {
    button.disabled = true;
    try {
      await api("/v1/groups/" + seg(group), { method: "DELETE" });
      go("/groups", {});
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) throw e;
      button.disabled = false;
      out.replaceChildren(notice(e.message));
    }
  } }, "Delete group");
  return h("section", { "aria-labelledby": "delete-title" },
    h("h2", { id: "delete-title" }, "Delete group"),
    h("p", {}, d.members.length ? "The group has members: the server refuses to delete it until they leave."
      : "Deletes the group and its committed offsets."), button, out);
}

function target(to, at) {
  if (to === "earliest" || to === "latest") return to;
  if (to === "offset") return { offset: Number(at) };
  if (to === "shift_by") return { shift_by: Number(at) };
  return { datetime: at };
}

async function resetSection(group, d, query, refresh) {
  const path = "/groups/" + seg(group);
  const to = query.get("to") || "earliest";
  const toSel = select([["earliest", "Earliest"], ["latest", "Latest"], ["offset", "Exact offset"],
    ["datetime", "Timestamp"], ["shift_by", "Shift by"]], to);
  const at = h("input", { type: "text", value: query.get("at") || "" });
  const topics = h("input", { type: "text", value: query.get("topics") || "" });
  const parts = h("input", { type: "text", inputmode: "numeric", value: query.get("partitions") || "" });
  const section = h("section", { "aria-labelledby": "reset-title" },
    h("h2", { id: "reset-title" }, "Reset offsets"),
    d.members.length ? notice("The group has members: stop its consumers before resetting (the server refuses otherwise).", "info") : null,
    h("form", { class: "filters", onsubmit: (e) => {
      e.preventDefault();
      go(path, { to: toSel.value, at: at.value.trim(), topics: topics.value.trim(), partitions: parts.value.replace(/\s+/g, "") });
    } },
      field("r-topics", "Topics", topics, "Comma-separated; empty: every topic with a commit"),
      field("r-partitions", "Partitions", parts, "Of one topic, comma-separated; empty: all"),
      field("r-to", "Move to", toSel),
      field("r-at", "Offset, timestamp or shift", at, "Timestamp: RFC 3339 with zone or epoch ms; shift: ±N"),
      h("button", { type: "submit" }, "Preview")));
  if (!query.get("to")) return section;
  const body = { to: target(to, query.get("at") || ""), execute: false };
  const names = (query.get("topics") || "").split(",").map((s) => s.trim()).filter(Boolean);
  if (names.length) body.topics = names;
  const only = (query.get("partitions") || "").split(",").filter(Boolean).map(Number);
  if (only.length) body.partitions = only;
  const out = h("div", { id: "reset-result" });
  section.append(out);
  try {
    const preview = await api(path.replace("/groups/", "/v1/groups/") + "/offsets/reset", { method: "POST", body });
    const apply = h("button", { type: "button", id: "reset-apply", onclick: async () => {
      apply.disabled = true;
      try {
        const done = await api(path.replace("/groups/", "/v1/groups/") + "/offsets/reset", { method: "POST", body: { ...body, execute: true } });
        await refresh();
        out.replaceChildren(notice(`Offsets reset on ${done.partitions.length} partitions.`, "ok"), resetTable(done));
      } catch (e) {
        apply.disabled = false;
        out.append(notice(e.message));
      }
    } }, "Apply");
    out.append(h("h3", {}, "Preview (nothing changed yet)"), resetTable(preview), apply);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status === 401) throw e;
    out.append(notice(e.message));
  }
  return section;
}

function resetTable(r) {
  return table(null, ["Topic", "Partition", "Current offset", "New offset"],
    r.partitions.map((p) => [p.topic, String(p.partition), fmtNum(p.current_offset), fmtNum(p.new_offset)]),
    { class: "reset-table" });
}
