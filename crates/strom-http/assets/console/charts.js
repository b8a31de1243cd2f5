// Charts (C13): produce and consume rates per topic, consumer-group lag and dead-letter
// topic sizes over the last hour, from the server's in-memory history
// (GET /v1/metrics/history, Describe on the cluster), drawn with the vendored uPlot
// (uPlot.esm.js, pinned and checksummed: docs/console.md). Refreshed every sample interval.

import uPlot from "./uPlot.esm.js";
import { api } from "./api.js";
import { h } from "./dom.js";
import { fmtNum, tz } from "./format.js";

const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];
/** Most series per chart (the busiest ones). */
const MAX_SERIES = 8;

function stylesheet() {
  if (document.getElementById("uplot-css")) return;
  document.head.appendChild(h("link", { rel: "stylesheet", href: "uPlot.min.css", id: "uplot-css" }));
}

/** `named` is {name: [values aligned with t]}; keeps the MAX_SERIES with the largest sums. */
function busiest(named) {
  const sum = (v) => v.reduce((a, x) => a + (x || 0), 0);
  return Object.entries(named).sort((a, b) => sum(b[1]) - sum(a[1])).slice(0, MAX_SERIES);
}

const CHARTS = [
  ["chart-in", "Produced records per second, per topic", (d) => pick(d.topics, "records_in")],
  ["chart-out", "Consumed records per second, per topic", (d) => pick(d.topics, "records_out")],
  ["chart-lag", "Consumer group lag (records)", (d) => d.groups],
  ["chart-dlq", "Dead-letter topic sizes (records)", (d) => d.dead_letters],
];

function pick(topics, field) {
  const out = {};
  for (const [name, s] of Object.entries(topics)) out[name] = s[field];
  return out;
}

function options(title, names, width) {
  const fg = getComputedStyle(document.documentElement).getPropertyValue("--fg").trim() || "#000";
  const axis = { stroke: fg, grid: { stroke: "rgba(128,128,128,.25)" }, ticks: { stroke: "rgba(128,128,128,.4)" } };
  return {
    title, width, height: 220,
    tzDate: (ts) => (tz() === "utc" ? uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC") : new Date(ts * 1e3)),
    series: [{ label: "Time" }, ...names.map((n, i) => ({ label: n, stroke: COLOURS[i % COLOURS.length], width: 2, spanGaps: false,
      value: (_, v) => (v === null || v === undefined ? "—" : fmtNum(Math.round(v * 10) / 10)) }))],
    axes: [axis, { ...axis, size: 70 }],
  };
}

function draw(box, title, data, t) {
  const series = busiest(data);
  box.replaceChildren();
  if (!series.length || t.length < 2) {
    box.append(h("p", { class: "muted" }, "No data yet: samples appear every interval."));
    return;
  }
  const width = Math.max(320, Math.min(1200, box.clientWidth || 900));
  new uPlot(options(title, series.map(([n]) => n), width), [t.map((x) => x / 1000), ...series.map(([, v]) => v)], box);
}

export async function charts(view) {
  document.title = "Charts · Strom";
  stylesheet();
  const boxes = CHARTS.map(([id, title]) =>
    h("figure", { class: "chart" }, h("figcaption", {}, title), h("div", { id, role: "img", "aria-label": title })));
  const info = h("p", { id: "chart-info", class: "muted" });
  view.append(h("h1", {}, "Charts"), info, ...boxes);
  let timer = null;
  const refresh = async () => {
    const d = await api("/v1/metrics/history");
    info.textContent = `${d.t.length} samples, one every ${fmtNum(d.interval_ms / 1000)} s (the server keeps the last hour in memory).`;
    CHARTS.forEach(([id, title, get]) => draw(view.querySelector("#" + id), title, get(d), d.t));
    return d.interval_ms;
  };
  const interval = await refresh();
  timer = setInterval(() => { refresh().catch(() => {}); }, Math.max(2000, interval));
  return () => clearInterval(timer);
}
