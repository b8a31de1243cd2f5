// Formatting and display preferences: times in UTC (default) or local time, byte sizes,
// and bounded rendering of record keys and values (a preview, never megabytes in the DOM).

import { h, replace } from "./dom.js";

const TZ_KEY = "strom.console.tz";
const THEME_KEY = "strom.console.theme";

/** "utc" (default) or "local", kept in localStorage. */
export const tz = () => (localStorage.getItem(TZ_KEY) === "local" ? "local" : "utc");
export const setTz = (v) => localStorage.setItem(TZ_KEY, v);

/** "dark" or "light": the stored choice, else the system's. */
export function theme() {
  const stored = localStorage.getItem(THEME_KEY);
  if (stored === "dark" || stored === "light") return stored;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}
export const setTheme = (v) => localStorage.setItem(THEME_KEY, v);

const pad = (n, w = 2) => String(n).padStart(w, "0");

/** ISO 8601 with milliseconds, in UTC ("…Z") or local time with its offset. */
export function fmtTime(ms) {
  if (ms === null || ms === undefined || ms < 0) return "—";
  const d = new Date(ms);
  if (tz() === "utc") return d.toISOString();
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:` +
    `${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}` +
    `${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
}

/** A `<time>` element carrying the UTC machine value. */
export function timeEl(ms) {
  if (ms === null || ms === undefined || ms < 0) return "—";
  return h("time", { datetime: new Date(ms).toISOString() }, fmtTime(ms));
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return (i === 0 ? String(v) : v.toFixed(1)) + " " + units[i];
}

export const fmtNum = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US"));

/** Bytes of a base64 string: only the first `limit` bytes are decoded. */
export function b64Bytes(b64, limit = Infinity) {
  const chars = limit === Infinity ? b64.length : Math.min(b64.length, Math.ceil(limit / 3) * 4);
  const bin = atob(b64.slice(0, chars));
  const n = Math.min(bin.length, limit);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The decoded length of a base64 string. */
export function b64Length(b64) {
  const padding = b64.endsWith("==") ? 2 : b64.endsWith("=") ? 1 : 0;
  return (b64.length / 4) * 3 - padding;
}

const hex = (bytes) => Array.from(bytes, (b) => pad(b.toString(16))).join(" ");

/** Text of `bytes` when valid UTF-8 (a cut multi-byte character at the end is allowed). */
function utf8(bytes, cut) {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes, { stream: cut });
  } catch {
    return null;
  }
}

/** The Confluent wire prefix (magic 0, 4-byte schema id) of a value, or null. */
export function schemaId(bytes) {
  if (bytes.length < 5 || bytes[0] !== 0) return null;
  return ((bytes[1] << 24) | (bytes[2] << 16) | (bytes[3] << 8) | bytes[4]) >>> 0;
}

export const PREVIEW = 2048;
export const MAX_SHOWN = 256 * 1024;

/**
 * A key, value or header as shown: `{text, size, kind, schema, full()}`. `src` is
 * `{json}` (a value the server embedded as JSON), `{text}` or `{b64}` (raw bytes), or null.
 * `mode`: auto, json, text, hex, base64. Only what is shown (at most `shown` characters or
 * bytes) is decoded; `full()` gives every byte, for a download.
 */
export function render(src, mode, shown) {
  if (!src) return null;
  if (src.json !== undefined || src.text !== undefined) {
    const text = src.text !== undefined ? src.text : (src.pretty ??= JSON.stringify(src.json, null, 2));
    return { text: text.slice(0, shown), size: text.length, kind: src.text !== undefined ? "text" : "JSON",
      schema: null, full: () => new TextEncoder().encode(src.text !== undefined ? src.text : JSON.stringify(src.json)) };
  }
  const b64 = src.b64;
  const size = b64Length(b64);
  const full = () => b64Bytes(b64);
  if (mode === "base64") return { text: b64.slice(0, shown), size: b64.length, kind: "base64", schema: null, full };
  const bytes = b64Bytes(b64, mode === "hex" ? Math.ceil(shown / 3) : shown);
  const schema = schemaId(bytes);
  if (mode !== "hex" && schema === null) {
    const text = utf8(bytes, bytes.length < size);
    if (text !== null) return { text, size, kind: "text", schema, full };
  }
  return { text: hex(bytes), size, kind: "hex", schema, full };
}

/** The source of a key or value field of an API record (`key`/`key_base64`...). */
export function source(obj, name, embedded) {
  if (obj[name + "_base64"] !== undefined && obj[name + "_base64"] !== null) return { b64: obj[name + "_base64"] };
  if (obj[name] === undefined || obj[name] === null) return null;
  return embedded ? { json: obj[name] } : { text: obj[name] };
}

/** A `<pre>` with a bounded preview of a field and "Show more" / "Download". */
export function valueView(src, mode, label) {
  let shown = PREVIEW;
  const box = h("div", { class: "value" });
  const draw = () => {
    const v = render(src, mode, shown);
    if (v === null) {
      box.replaceChildren(h("span", { class: "muted" }, "null"));
      return;
    }
    const cut = v.text.length < v.size;
    replace(box,
      h("div", { class: "value-meta" },
        h("span", { class: "badge" }, v.kind),
        v.schema !== null ? h("span", { class: "badge schema" }, "schema id " + v.schema) : null,
        h("span", { class: "muted" }, v.kind === "JSON" || v.kind === "base64" ? fmtNum(v.size) + " characters" : fmtBytes(v.size))),
      h("pre", { tabindex: "0", role: "region", "aria-label": label }, v.text, cut ? "…" : ""),
      cut && shown < MAX_SHOWN ? h("button", { type: "button", class: "link more", onclick: () => { shown = Math.min(shown * 8, MAX_SHOWN); draw(); } }, "Show more") : null,
      cut ? h("button", { type: "button", class: "link", onclick: () => download(v.full(), label) }, "Download") : null);
  };
  draw();
  return box;
}

function download(bytes, name) {
  const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
  const a = h("a", { href: url, download: name.replace(/[^A-Za-z0-9._-]+/g, "_") + ".bin" });
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
