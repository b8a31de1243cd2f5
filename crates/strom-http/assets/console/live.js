// Live tail (C9): the topic's new records as they arrive, over Server-Sent Events
// (GET /feeds/{t}, Read on the topic, the session cookie authenticates the EventSource),
// newest first, at most 500 rows kept; Pause closes the stream, Resume reopens it exactly
// where it stopped (the feed cursor of the last event).

import { api, seg } from "./api.js";
import { h, notice } from "./dom.js";
import { timeEl, valueView } from "./format.js";
import { link } from "./nav.js";

export const MAX_ROWS = 500;

function dataSource(e) {
  if (e.data_base64 !== undefined) return { b64: e.data_base64 };
  if (e.data === undefined) return null;
  return e.datacontenttype === "application/json" ? { json: e.data } : { text: String(e.data) };
}

export async function live(view, [topic]) {
  document.title = "Live: " + topic + " · Strom";
  const info = await api("/v1/topics/" + seg(topic));
  let cursor = info.partitions.map((p) => String(p.high_watermark - 1)).join(".");
  const body = h("tbody", {});
  const status = h("p", { id: "live-status", role: "status" }, "Connecting…");
  const table = h("table", { id: "live", class: "records", "data-live": "connecting" },
    h("caption", { class: "sr-only" }, `New records of ${topic}, newest first`),
    h("thead", {}, h("tr", {}, ["Partition", "Offset", "Time", "Key", "Value"].map((c) => h("th", { scope: "col" }, c)))),
    body);
  let source = null;
  const open = () => {
    source = new EventSource(`/feeds/${seg(topic)}?lastEventId=${encodeURIComponent(cursor)}`);
    source.onopen = () => { status.textContent = "Live: new records appear at the top."; table.dataset.live = "open"; };
    source.onerror = () => { status.textContent = "Disconnected; retrying…"; };
    source.onmessage = (m) => {
      const e = JSON.parse(m.data);
      cursor = m.lastEventId || cursor;
      const path = "/topics/" + seg(topic) + "/records";
      body.prepend(h("tr", { "data-offset": e.offset },
        h("td", { class: "num" }, String(e.partition)),
        h("td", { class: "num" }, link(path, { partition: e.partition, offset: e.offset, limit: 1 }, String(e.offset))),
        h("td", {}, timeEl(Date.parse(e.time))),
        h("td", {}, e.subject ?? h("span", { class: "muted" }, "null")),
        h("td", { class: "field-value" }, valueView(dataSource(e), "auto", `live value at ${e.partition}:${e.offset}`))));
      while (body.children.length > MAX_ROWS) body.lastElementChild.remove();
    };
  };
  const toggle = h("button", { type: "button", id: "live-toggle", onclick: () => {
    if (source) {
      source.close();
      source = null;
      table.dataset.live = "paused";
      status.textContent = "Paused.";
      toggle.textContent = "Resume";
    } else {
      open();
      toggle.textContent = "Pause";
    }
  } }, "Pause");
  view.append(
    h("h1", {}, "Live: ", link("/topics/" + seg(topic), {}, h("span", { class: "mono" }, topic))),
    info.partitions.length ? null : notice("The topic has no partitions."),
    h("p", { class: "actions" }, toggle, link("/topics/" + seg(topic) + "/records", { partition: 0 }, "Browse records")),
    status, table);
  open();
  return () => source && source.close();
}
