// Schema registry pages (Confluent's API on the same listener): the subjects the caller may
// see; a subject's versions, one pretty-printed or two side by side with a line diff, its
// compatibility level (set with PUT /config/{s}); registering a new version, whose
// compatibility verdict and reasons (POST /compatibility/..., verbose) are shown before the
// Register button is enabled; and the records of the subject's topic decoded by the server
// (format=json decodes registered values) with each schema id linked to its schema.
// Describe on the subject's topic (or the cluster) to read, Write to register, AlterConfigs
// to change the level; controls the principal may not use are left out (perms.js).

import { api, ApiError, seg } from "./api.js";
import { h, table, notice, field, select } from "./dom.js";
import { valueView, timeEl, source } from "./format.js";
import { go, link } from "./nav.js";
import { allowedOps } from "./perms.js";
import { diffLines } from "./diff.js";

const LEVELS = ["BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE"];

export async function subjects(view) {
  document.title = "Schemas · Strom";
  view.append(h("h1", {}, "Schemas"));
  let list;
  try {
    list = await api("/subjects");
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      view.append(notice("The schema registry is not enabled on this server.", "info"));
      return;
    }
    throw e;
  }
  list.sort();
  view.append(list.length === 0 ? h("p", {}, "No subjects.")
    : table(null, ["Subject"], list.map((s) => [link("/schemas/" + seg(s), {}, s)]), { id: "subjects" }));
}

const pretty = (schema) => {
  try {
    return JSON.stringify(JSON.parse(schema), null, 2);
  } catch {
    return schema; // Protobuf and other non-JSON schemas are shown as they are.
  }
};

/** The subject's topic and the operations allowed there (the registry's mapping). */
async function subjectOps(name) {
  const topic = name.replace(/-(value|key)$/, "");
  if (topic === name || topic === "") return allowedOps("CLUSTER", "kafka-cluster");
  return allowedOps("TOPIC", topic);
}

async function level(name) {
  try {
    return { level: (await api(`/config/${seg(name)}`)).compatibilityLevel, own: true };
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
    return { level: (await api("/config")).compatibilityLevel, own: false };
  }
}

export async function subject(view, [name], query) {
  document.title = name + " · Schemas · Strom";
  const versions = await api(`/subjects/${seg(name)}/versions`);
  const chosen = query.get("version") || "latest";
  const compare = query.get("compare");
  const [v, other, lvl, ops] = await Promise.all([
    api(`/subjects/${seg(name)}/versions/${seg(chosen)}`),
    compare ? api(`/subjects/${seg(name)}/versions/${seg(compare)}`) : null,
    level(name), subjectOps(name)]);
  const result = h("div", { id: "schema-result", "aria-live": "polite" },
    query.get("done") ? notice(query.get("done"), "ok") : null);
  const picker = (id, label, value) => field(id, label, select(versions.map((n) => [String(n), String(n)]), value));
  const cmp = h("form", { class: "filters", id: "compare-form", onsubmit: (e) => {
    e.preventDefault();
    go("/schemas/" + seg(name), { version: e.target.querySelector("#cmp-a").value, compare: e.target.querySelector("#cmp-b").value });
  } }, picker("cmp-a", "Version", String(v.version)), picker("cmp-b", "Compare with", String(compare || versions[0])),
  h("button", { type: "submit" }, "Compare"));
  view.append(h("div", {},
    h("h1", {}, "Subject ", h("span", { class: "mono" }, name)),
    h("p", {}, link("/schemas", {}, "All subjects"), " · ",
      link("/schemas/" + seg(name) + "/records", {}, "Decoded records of its topic")),
    result,
    h("nav", { class: "pager", "aria-label": "Versions" }, "Versions: ",
      versions.map((n) => [link("/schemas/" + seg(name), { version: n }, String(n)), " "])),
    h("p", { id: "schema-meta" }, `Version ${v.version}, schema id ${v.id}, type ${v.schemaType || "AVRO"}`),
    levelSection(name, lvl, ops.has("ALTER_CONFIGS"), result),
    versions.length > 1 ? cmp : null,
    other ? diffView(v, other) : valueView({ text: pretty(v.schema) }, "text", `schema ${name} version ${v.version}`),
    ops.has("WRITE") ? registerSection(name, v) : null));
}

function levelSection(name, lvl, canAlter, result) {
  const current = h("p", { id: "schema-level" }, `Compatibility: ${lvl.level}${lvl.own ? "" : " (global default)"}`);
  if (!canAlter) return current;
  const choice = select(LEVELS.map((l) => [l, l]), lvl.level);
  return h("div", {}, current, h("form", { class: "filters", id: "level-form", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await api(`/config/${seg(name)}`, { method: "PUT", body: { compatibility: choice.value } });
      go("/schemas/" + seg(name), { done: "Compatibility set to " + choice.value + "." }, true);
    } catch (err) {
      result.replaceChildren(notice(err.message));
    }
  } }, field("s-level", "Compatibility level", choice), h("button", { type: "submit" }, "Set level")));
}

function diffView(a, b) {
  const rows = diffLines(pretty(b.schema).split("\n"), pretty(a.schema).split("\n"));
  const cell = (text, kind) => h("td", { class: "mono diff-" + kind }, kind === "del" ? "− " : kind === "add" ? "+ " : "  ", text ?? "");
  return h("table", { id: "schema-diff", class: "diff" },
    h("caption", {}, `Version ${b.version} (left) against version ${a.version} (right)`),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Version " + b.version), h("th", { scope: "col" }, "Version " + a.version))),
    h("tbody", {}, rows.map(([l, r, kind]) => h("tr", { "data-kind": kind },
      cell(l, kind === "change" || kind === "del" ? "del" : "same"),
      cell(r, kind === "change" || kind === "add" ? "add" : "same")))));
}

function registerSection(name, latest) {
  const text = h("textarea", { rows: "12", cols: "80", required: true });
  text.value = pretty(latest.schema);
  const type = select([["AVRO", "AVRO"], ["JSON", "JSON"], ["PROTOBUF", "PROTOBUF"]], latest.schemaType || "AVRO");
  const verdict = h("div", { id: "schema-verdict", "aria-live": "polite" });
  const save = h("button", { type: "button", id: "schema-register", disabled: true }, "Register");
  const body = () => ({ schema: text.value, schemaType: type.value });
  text.addEventListener("input", () => { save.disabled = true; verdict.replaceChildren(); });
  const check = async () => {
    verdict.replaceChildren();
    save.disabled = true;
    try {
      const r = await api(`/compatibility/subjects/${seg(name)}/versions`, { method: "POST", body: body(), query: { verbose: "true" } });
      verdict.append(r.is_compatible ? notice("Compatible with the subject's level.", "ok")
        : h("div", { class: "notice error", role: "alert" }, "Not compatible:",
          h("ul", {}, (r.messages || []).map((m) => h("li", {}, m)))));
      save.disabled = !r.is_compatible;
    } catch (err) {
      verdict.append(notice(err.message));
    }
  };
  save.addEventListener("click", async () => {
    try {
      const r = await api(`/subjects/${seg(name)}/versions`, { method: "POST", body: body() });
      go("/schemas/" + seg(name), { done: `Registered: schema id ${r.id}.` });
    } catch (err) {
      verdict.replaceChildren(notice(err.message));
    }
  });
  return h("section", { "aria-labelledby": "register-title" }, h("h2", { id: "register-title" }, "Register a new version"),
    h("div", { class: "stack" }, field("s-type", "Schema type", type), field("s-text", "Schema", text),
      h("div", { class: "actions" }, h("button", { type: "button", id: "schema-check", class: "secondary", onclick: check }, "Check compatibility"), save),
      verdict));
}

/** `#/schemas/{subject}/records?partition=&offset=`: the topic's records decoded by the server. */
export async function subjectRecords(view, [name], query) {
  const topic = name.replace(/-(value|key)$/, "");
  document.title = "Decoded records of " + topic + " · Strom";
  const partition = Number.parseInt(query.get("partition") || "0", 10) || 0;
  const offset = query.get("offset");
  const page = await api(`/v1/topics/${seg(topic)}/partitions/${partition}/records`, { query: { offset, limit: 50, format: "json" } });
  const records = page.records || [];
  view.append(h("h1", {}, "Decoded records of ", h("span", { class: "mono" }, topic)),
    h("p", {}, link("/schemas/" + seg(name), {}, "Subject " + name), ` · partition ${partition}`),
    records.length === 0 ? h("p", {}, "No records.") : table(null, ["Offset", "Time", "Key", "Schema", "Value"],
      records.map((r) => [String(r.offset), timeEl(r.timestamp), r.key ?? "—",
        r.value_schema_id !== undefined ? link("/schema-ids/" + r.value_schema_id, {}, "schema id " + r.value_schema_id) : "—",
        valueView(source(r, "value", true), "auto", `record ${r.offset}`)]), { id: "decoded" }));
}

/** `#/schema-ids/{id}`: one schema by its id, with the subjects and versions using it. */
export async function schemaById(view, [id]) {
  document.title = "Schema id " + id + " · Strom";
  const [s, uses] = await Promise.all([api(`/schemas/ids/${seg(id)}`), api(`/schemas/ids/${seg(id)}/versions`)]);
  view.append(h("h1", {}, "Schema id ", id),
    h("p", { id: "schema-id-uses" }, "Used by: ", uses.map((u) => [link("/schemas/" + seg(u.subject), { version: u.version },
      `${u.subject} v${u.version}`), " "])),
    valueView({ text: pretty(s.schema) }, "text", `schema id ${id}`));
}
