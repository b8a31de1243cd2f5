// View state in the URL: `#/path?query`. Every view is a permalink; navigating means
// changing the hash, which the router in app.js renders.

import { h } from "./dom.js";

/** The current path and query. */
export function current() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const i = raw.indexOf("?");
  const path = i < 0 ? raw : raw.slice(0, i);
  return { path, query: new URLSearchParams(i < 0 ? "" : raw.slice(i + 1)) };
}

/** `#path?query` (empty query values left out). */
export function href(path, query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v !== null && v !== undefined && v !== "") q.set(k, v);
  const s = q.toString();
  return "#" + path + (s ? "?" + s : "");
}

/** Navigates to a view; `replaceEntry` replaces the history entry. Re-renders even when
 *  the URL does not change (a form submitted twice). */
export function go(path, query, replaceEntry) {
  const target = href(path, query);
  if (!replaceEntry && location.hash !== target) {
    location.hash = target;
    return;
  }
  history.replaceState(null, "", target);
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

/** A link to a view. */
export function link(path, query, ...children) {
  return h("a", { href: href(path, query) }, ...children);
}
