// Calls to Strom's HTTP API, as the logged-in principal: the browser sends the session
// cookie (HttpOnly, set by POST /v1/login) and every write carries the session's CSRF token
// in X-CSRF-Token. The console has no permissions of its own: whatever the API refuses
// (401, 403) is shown as refused.

let csrf = null;

/** An answer other than 2xx: `status`, the problem's `type`/`detail`. */
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || problem.message || "HTTP " + status);
    this.status = status;
    this.kind = problem.type || "";
  }
}

/** `path` relative to the server root, with optional `query` object and JSON `body`. */
export async function api(path, { method = "GET", query = null, body = undefined } = {}) {
  let url = path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== null && v !== undefined && v !== "") q.set(k, v);
    const s = q.toString();
    if (s) url += "?" + s;
  }
  // X-Requested-With: a 401 then comes without a Basic challenge, so the browser opens no
  // login dialog of its own; the console shows its login page instead.
  const headers = { Accept: "application/json", "X-Requested-With": "XMLHttpRequest" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  const r = await fetch(url, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (r.status === 204) return null;
  const text = await r.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text.slice(0, 200) };
  }
  if (!r.ok) throw new ApiError(r.status, data || {});
  return data;
}

/** The principal the server sees, and the CSRF token of a cookie session. */
export async function whoami() {
  const me = await api("/v1/whoami");
  csrf = me.csrf_token || null;
  return me;
}

export async function login(username, password) {
  const r = await api("/v1/login", { method: "POST", body: { username, password } });
  csrf = r.csrf_token;
  return r;
}

export async function logout() {
  await api("/v1/logout", { method: "POST" });
  csrf = null;
}

/** A path segment, escaped (topic and group names may hold any legal character). */
export const seg = (s) => encodeURIComponent(s);
