// Topic administration on the topic page (C4): set or remove a config override
// (PATCH /v1/topics/{t}/configs, AlterConfigs on the topic), add partitions
// (POST /v1/topics/{t}/partitions, Alter), delete a partition's records before an offset
// (DELETE /v1/topics/{t}/partitions/{p}/records?before=, Kafka's DeleteRecords: Delete),
// delete the topic after its name is typed again (DELETE /v1/topics/{t}, Delete). The server checks each; a refusal is shown. A form the
// principal may not use is left out (its operations, asked by topics.js through perms.js),
// and the section when none is left.

import { api, seg } from "./api.js";
import { h, field, select, notice } from "./dom.js";
import { go } from "./nav.js";

function run(result, action) {
  return async (e) => {
    e.preventDefault();
    result.replaceChildren();
    try {
      await action();
    } catch (err) {
      result.append(notice(err.message));
    }
  };
}

/** The section for topic `t`, given the principal's allowed operations on it (perms.js). */
export function adminSection(t, ops) {
  if (!ops.has("ALTER_CONFIGS") && !ops.has("ALTER") && !ops.has("DELETE")) return null;
  const path = "/topics/" + seg(t.name);
  const result = h("div", { id: "admin-result", "aria-live": "polite" });
  const name = h("input", { type: "text", list: "config-names", required: true });
  const value = h("input", { type: "text" });
  const count = h("input", { type: "number", min: String(t.partition_count + 1), value: String(t.partition_count + 1), required: true });
  const confirm = h("input", { type: "text", autocomplete: "off" });
  const del = h("button", { type: "submit", disabled: true }, "Delete topic");
  const part = select(t.partitions.map((p) => [p.partition, String(p.partition)]), 0);
  const before = h("input", { type: "number", min: "-1", required: true });
  confirm.addEventListener("input", () => { del.disabled = confirm.value !== t.name; });
  return h("section", { "aria-labelledby": "admin-title" },
    h("h2", { id: "admin-title" }, "Administration"),
    result,
    ops.has("ALTER_CONFIGS") && h("form", { class: "filters", id: "config-form", onsubmit: run(result, async () => {
      const configs = { [name.value.trim()]: value.value === "" ? null : value.value };
      await api(`/v1/topics/${seg(t.name)}/configs`, { method: "PATCH", body: { configs } });
      go(path, { done: "config" }, true);
    }) },
      field("c-name", "Config", name),
      h("datalist", { id: "config-names" }, t.configs.map((c) => h("option", { value: c.name }))),
      field("c-value", "Value", value, "Empty: back to the default"),
      h("button", { type: "submit" }, "Set config")),
    ops.has("ALTER") && h("form", { class: "filters", id: "partitions-form", onsubmit: run(result, async () => {
      await api(`/v1/topics/${seg(t.name)}/partitions`, { method: "POST", body: { count: Number(count.value) } });
      go(path, { done: "partitions" }, true);
    }) },
      field("g-count", "Partition count", count, `Now ${t.partition_count}; partitions can only be added`),
      h("button", { type: "submit" }, "Add partitions")),
    ops.has("DELETE") && h("form", { class: "filters", id: "delete-records-form", onsubmit: run(result, async () => {
      await api(`/v1/topics/${seg(t.name)}/partitions/${part.value}/records`, { method: "DELETE", query: { before: before.value } });
      go(path, { done: "records" }, true);
    }) },
      field("dr-partition", "Partition", part),
      field("dr-before", "Delete records before offset", before, "-1: every record up to the high watermark"),
      h("button", { type: "submit", class: "secondary" }, "Delete records")),
    ops.has("DELETE") && h("form", { class: "filters", id: "delete-form", onsubmit: run(result, async () => {
      await api(`/v1/topics/${seg(t.name)}`, { method: "DELETE" });
      go("/topics", { deleted: t.name });
    }) },
      field("d-confirm", "Type the topic's name to delete it", confirm),
      del));
}
