// All-partition browsing (C5): one page merges every partition's records in a fixed order
// (timestamp, then partition, then offset), oldest first or newest first, with a cursor in
// the URL holding each partition's position, so Older/Newer pages are exact (every record
// once, nothing skipped) and a reload shows the same page.
// Newer pages: `cursor` is each partition's next offset. Older pages: `before` is each
// partition's first offset not yet shown, reading backwards.

import { api, seg } from "./api.js";

const key = (r) => [r.timestamp, r.partition, r.offset];
function cmp(a, b) {
  const x = key(a);
  const y = key(b);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}

/** "0:12,1:40" <-> Map(partition -> offset). */
export function parsePositions(text) {
  const m = new Map();
  for (const part of (text || "").split(",")) {
    const [p, o] = part.split(":");
    if (p !== undefined && o !== undefined && p !== "" && o !== "") m.set(Number(p), Number(o));
  }
  return m;
}
export const printPositions = (m) => [...m.entries()].sort((a, b) => a[0] - b[0]).map(([p, o]) => `${p}:${o}`).join(",");

async function read(topic, p, offset, limit, format) {
  const r = await api(`/v1/topics/${seg(topic)}/partitions/${p}/records`, { query: { offset, limit, format } });
  return r.records;
}

/** Every record in [from, end) of a partition (fewer than a page), in as many reads as the
 *  server's byte budget needs, so the run ends right below `end`. */
async function readRange(topic, p, from, end, format) {
  const out = [];
  let at = from;
  while (at < end) {
    const r = await api(`/v1/topics/${seg(topic)}/partitions/${p}/records`, { query: { offset: at, limit: end - at, format } });
    out.push(...r.records.filter((x) => x.offset < end));
    if (r.next_offset <= at) break;
    at = r.next_offset;
  }
  return out;
}

/** Takes `limit` records from per-partition runs (each in offset order): from the heads,
 *  smallest first (`forward`), or from the tails, largest first. Each partition gives a
 *  contiguous run, so pages never skip a record whatever the timestamps. */
function merge(runs, limit, forward) {
  const idx = runs.map((run) => (forward ? 0 : run.length - 1));
  const out = [];
  while (out.length < limit) {
    let best = -1;
    for (let i = 0; i < runs.length; i++) {
      if (idx[i] < 0 || idx[i] >= runs[i].length) continue;
      if (best < 0) { best = i; continue; }
      const c = cmp(runs[i][idx[i]], runs[best][idx[best]]);
      if (forward ? c < 0 : c > 0) best = i;
    }
    if (best < 0) break;
    out.push(runs[best][idx[best]]);
    idx[best] += forward ? 1 : -1;
  }
  return forward ? out : out.reverse();
}

/** The page after `cursor` (each partition's next offset; missing: its log start). */
export async function newerPage(topic, partitions, cursor, limit, format) {
  const start = new Map(partitions.map((p) => [p.partition, Math.max(p.log_start_offset, cursor.get(p.partition) ?? p.log_start_offset)]));
  const runs = await Promise.all(partitions.map((p) =>
    start.get(p.partition) >= p.high_watermark ? [] : read(topic, p.partition, start.get(p.partition), limit, format)));
  const page = merge(runs, limit, true);
  const next = new Map(start);
  for (const r of page) next.set(r.partition, Math.max(next.get(r.partition), r.offset + 1));
  return { records: page, next, before: new Map(start) };
}

/** The page before `before` (each partition's first offset already shown; missing: its end). */
export async function olderPage(topic, partitions, before, limit, format) {
  const end = new Map(partitions.map((p) => [p.partition, Math.min(p.high_watermark, before.get(p.partition) ?? p.high_watermark)]));
  const runs = await Promise.all(partitions.map(async (p) => {
    const from = Math.max(p.log_start_offset, end.get(p.partition) - limit);
    if (from >= end.get(p.partition)) return [];
    return readRange(topic, p.partition, from, end.get(p.partition), format);
  }));
  const page = merge(runs, limit, false);
  const first = new Map(end);
  for (const r of page) first.set(r.partition, Math.min(first.get(r.partition), r.offset));
  return { records: page, next: new Map(end), before: first };
}
