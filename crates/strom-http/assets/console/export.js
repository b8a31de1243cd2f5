// Export (C16): links that download the current result set as JSON Lines or CSV from the
// server (`export=` on the search route, under the caller's Read on the topic; a server with
// `[console] export = false` answers 403). Keys and values as text (base64 when not UTF-8)
// or always base64. The links are left out when the server has export turned off (a
// courtesy: the API refuses the download anyway).

import { h } from "./dom.js";
import { exportEnabled } from "./perms.js";

/** Download links for the API `path` with the result set's `query` (search filters, cursor). */
export function exportLinks(path, query) {
  if (!exportEnabled()) return null;
  const url = (kind, encoding) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== null && v !== undefined && v !== "" && k !== "format") q.set(k, v);
    q.set("export", kind);
    if (encoding) q.set("encoding", encoding);
    return path + "?" + q.toString();
  };
  return h("span", { class: "exports" }, "Export: ",
    h("a", { href: url("jsonl"), download: "", id: "export-jsonl" }, "JSONL"), " · ",
    h("a", { href: url("csv"), download: "", id: "export-csv" }, "CSV"), " · ",
    h("a", { href: url("jsonl", "base64"), download: "", id: "export-jsonl-b64" }, "JSONL (base64)"));
}
