// Schema registry subjects (Confluent's API on the same listener): the subjects the caller
// may see, and a subject's versions with the latest (or chosen) schema pretty-printed.

import { api, ApiError, seg } from "./api.js";
import { h, table, notice } from "./dom.js";
import { valueView } from "./format.js";
import { link } from "./nav.js";

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

export async function subject(view, [name], query) {
  document.title = name + " · Schemas · Strom";
  const versions = await api(`/subjects/${seg(name)}/versions`);
  const chosen = query.get("version") || "latest";
  const v = await api(`/subjects/${seg(name)}/versions/${seg(chosen)}`);
  let text = v.schema;
  try {
    text = JSON.stringify(JSON.parse(v.schema), null, 2);
  } catch {
    // Protobuf and other non-JSON schemas are shown as they are.
  }
  view.append(
    h("h1", {}, "Subject ", h("span", { class: "mono" }, name)),
    h("p", {}, link("/schemas", {}, "All subjects")),
    h("nav", { class: "pager", "aria-label": "Versions" }, "Versions: ",
      versions.map((n) => [link("/schemas/" + seg(name), { version: n }, String(n)), " "])),
    h("p", { id: "schema-meta" }, `Version ${v.version}, schema id ${v.id}, type ${v.schemaType || "AVRO"}`),
    valueView({ text }, "text", `schema ${name} version ${v.version}`));
}
