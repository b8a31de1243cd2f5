// Login (C15): POST /v1/login with a Strom user name and password gives an HttpOnly,
// SameSite=Strict session cookie (Secure over TLS; the server allows cookie login without
// TLS only on a loopback listener) and the CSRF token the console sends with every write.

import { login } from "./api.js";
import { h, field, notice } from "./dom.js";
import { go } from "./nav.js";

export async function loginPage(view, _params, query) {
  document.title = "Log in · Strom";
  const user = h("input", { type: "text", autocomplete: "username", required: true });
  const pass = h("input", { type: "password", autocomplete: "current-password", required: true });
  const result = h("div", { "aria-live": "polite" });
  const form = h("form", { class: "stack narrow", onsubmit: async (e) => {
    e.preventDefault();
    result.replaceChildren();
    try {
      await login(user.value, pass.value);
      window.dispatchEvent(new Event("strom:who"));
      const next = query.get("next") || "/";
      const [path, qs] = next.split("?", 2);
      go(path === "/login" ? "/" : path, Object.fromEntries(new URLSearchParams(qs || "")));
    } catch (err) {
      result.append(notice(err.message));
    }
  } },
    field("l-user", "User name", user),
    field("l-pass", "Password", pass),
    h("button", { type: "submit" }, "Log in"));
  view.append(h("h1", {}, "Log in"),
    query.get("next") ? h("p", {}, "This page needs you to log in.") : null, form, result);
}
