// DOM helpers. Every text from the server goes in as a text node (never as HTML), so a
// record, a topic name or an error message cannot inject markup or script.

/** Builds an element: h("a", {href: "#/"}, "text", child, ...). Attributes starting with
 *  "on" are listeners; `null`/`false` attributes and children are skipped. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** A table: `columns` are header labels, `rows` arrays of cells (text or nodes). */
export function table(caption, columns, rows, attrs) {
  return h("table", attrs || {},
    caption ? h("caption", {}, caption) : null,
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((cell) => h("td", {}, cell))))));
}

/** A labelled form field; `input` is the control, which gets the id. */
export function field(id, label, input, hint) {
  input.id = id;
  const hintEl = hint ? h("span", { class: "hint", id: id + "-hint" }, hint) : null;
  if (hint) input.setAttribute("aria-describedby", id + "-hint");
  return h("div", { class: "field" }, h("label", { for: id }, label), input, hintEl);
}

/** A `<select>` with [value, label] options and one selected. */
export function select(options, selected) {
  return h("select", {}, options.map(([v, l]) =>
    h("option", { value: v, selected: String(v) === String(selected) }, l)));
}

/** An error or notice box that screen readers announce. */
export function notice(text, kind) {
  return h("p", { class: "notice " + (kind || "error"), role: kind === "ok" ? "status" : "alert" }, text);
}
