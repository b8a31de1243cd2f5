// Security pages (C14), shown in the navigation when the server enforces ACLs: SCRAM users
// (GET/PUT/DELETE /v1/users), ACLs (GET/POST/DELETE /v1/acls, filtered with Kafka's MATCH
// semantics) and client quotas (GET/POST/DELETE /v1/quotas). Listing users and ACLs needs
// Describe on the cluster, changing them Alter; quotas need DescribeConfigs / AlterConfigs on
// the cluster. The server checks each call; the controls are left out when the principal
// may not use them (perms.js).

import { api, seg } from "./api.js";
import { h, table, field, select, notice } from "./dom.js";
import { go } from "./nav.js";
import { clusterOps } from "./perms.js";

const MECHS = [["SCRAM-SHA-256", "SCRAM-SHA-256"], ["SCRAM-SHA-512", "SCRAM-SHA-512"]];
const RTYPES = ["TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID"];
const OPS = ["ALL", "READ", "WRITE", "CREATE", "DELETE", "ALTER", "DESCRIBE", "CLUSTER_ACTION",
  "DESCRIBE_CONFIGS", "ALTER_CONFIGS", "IDEMPOTENT_WRITE"];
const QUOTA_KEYS = ["producer_byte_rate", "consumer_byte_rate", "request_percentage"];
const opts = (list) => list.map((v) => [v, v]);

/** The security pages the principal may read (users and ACLs: Describe on the cluster;
 *  quotas: DescribeConfigs). */
function subnav(current, ops) {
  const pages = [["users", "Users", "DESCRIBE"], ["acls", "ACLs", "DESCRIBE"], ["quotas", "Quotas", "DESCRIBE_CONFIGS"]];
  return h("nav", { class: "pager", "aria-label": "Security" },
    pages.filter(([p, , op]) => p === current || ops.has(op)).map(([p, l]) =>
      h("a", { href: "#/security/" + p, "aria-current": p === current ? "page" : null }, l)));
}

/** A form whose submit runs `action`; a refusal is shown in `result`. */
function form(id, result, action, ...children) {
  return h("form", { class: "filters", id, onsubmit: async (e) => {
    e.preventDefault();
    result.replaceChildren();
    try {
      await action();
    } catch (err) {
      result.append(notice(err.message));
    }
  } }, ...children);
}

export async function users(view, _p, query) {
  document.title = "Users · Security · Strom";
  const [list, ops] = await Promise.all([api("/v1/users"), clusterOps()]);
  const canAlter = ops.has("ALTER");
  const result = h("div", { id: "security-result", "aria-live": "polite" },
    query.get("done") ? notice(query.get("done"), "ok") : null);
  const again = (done) => go("/security/users", { done }, true);
  const del = (name, mechanism) => async () => {
    try {
      await api("/v1/users/" + seg(name), { method: "DELETE", query: { mechanism } });
      again(`Deleted ${mechanism} credential of ${name}.`);
    } catch (err) {
      result.replaceChildren(notice(err.message));
    }
  };
  const rows = list.flatMap((u) => u.credentials.map((c) => [u.name, c.mechanism, String(c.iterations),
    canAlter ? h("button", { type: "button", class: "secondary", "aria-label": `Delete ${c.mechanism} of ${u.name}`,
      onclick: del(u.name, c.mechanism) }, "Delete") : null]));
  const name = h("input", { type: "text", required: true, autocomplete: "off" });
  const pass = h("input", { type: "password", required: true, autocomplete: "new-password" });
  const mech = select(MECHS, "SCRAM-SHA-256");
  const iters = h("input", { type: "number", min: "4096", max: "16384", value: "4096" });
  view.append(h("div", {}, h("h1", {}, "Security: users"), subnav("users", ops), result,
    table(null, ["User", "Mechanism", "Iterations", canAlter ? "Actions" : ""], rows, { id: "users" }),
    canAlter ? h("section", { "aria-labelledby": "user-add" }, h("h2", { id: "user-add" }, "Add or update a user"),
      form("user-form", result, async () => {
        await api("/v1/users/" + seg(name.value.trim()), { method: "PUT",
          body: { mechanism: mech.value, password: pass.value, iterations: Number(iters.value) } });
        again(`Stored ${mech.value} credential of ${name.value.trim()}.`);
      }, field("u-name", "User name", name), field("u-pass", "Password", pass),
      field("u-mech", "Mechanism", mech), field("u-iter", "Iterations", iters, "4096 to 16384"),
      h("button", { type: "submit" }, "Save user"))) : null));
}

const aclFilter = (q) => ({
  principal: q.get("principal"), resource_type: q.get("resource_type"),
  resource_name: q.get("resource_name"), pattern_type: q.get("resource_name") ? "MATCH" : null,
});

export async function acls(view, _p, query) {
  document.title = "ACLs · Security · Strom";
  const filter = aclFilter(query);
  const [list, ops] = await Promise.all([api("/v1/acls", { query: filter }), clusterOps()]);
  const canAlter = ops.has("ALTER");
  const result = h("div", { id: "security-result", "aria-live": "polite" },
    query.get("done") ? notice(query.get("done"), "ok") : null);
  const keep = Object.fromEntries([...query].filter(([k]) => k !== "done"));
  const again = (done) => go("/security/acls", { ...keep, done }, true);
  const remove = (a) => async () => {
    try {
      await api("/v1/acls", { method: "DELETE", query: { ...a } });
      again(`Deleted the ACL ${a.permission} ${a.operation} for ${a.principal}.`);
    } catch (err) {
      result.replaceChildren(notice(err.message));
    }
  };
  const fPrincipal = h("input", { type: "text", value: query.get("principal") || "", placeholder: "User:alice" });
  const fType = select([["", "any"], ...opts(RTYPES)], query.get("resource_type") || "");
  const fName = h("input", { type: "text", value: query.get("resource_name") || "" });
  const filters = h("form", { class: "filters", id: "acl-filter", role: "search", onsubmit: (e) => {
    e.preventDefault();
    go("/security/acls", { principal: fPrincipal.value.trim(), resource_type: fType.value, resource_name: fName.value.trim() });
  } }, field("f-principal", "Principal", fPrincipal), field("f-type", "Resource type", fType),
  field("f-name", "Resource name", fName, "Every ACL that applies to it (literal, prefixes, *)"),
  h("button", { type: "submit" }, "Filter"));
  const rows = list.acls.map((a) => [a.principal, a.resource_type, a.resource_name, a.pattern_type, a.operation,
    a.permission, a.host, canAlter ? h("button", { type: "button", class: "secondary",
      "aria-label": `Delete ${a.permission} ${a.operation} on ${a.resource_type} ${a.resource_name} for ${a.principal}`,
      onclick: remove(a) }, "Delete") : null]);
  view.append(h("div", {}, h("h1", {}, "Security: ACLs"), subnav("acls", ops), result, filters,
    table(null, ["Principal", "Resource type", "Resource", "Pattern", "Operation", "Permission", "Host",
      canAlter ? "Actions" : ""], rows, { id: "acls" }),
    canAlter ? createAcl(result, again) : null));
}

function createAcl(result, again) {
  const principal = h("input", { type: "text", required: true, placeholder: "User:alice" });
  const rtype = select(opts(RTYPES), "TOPIC");
  const name = h("input", { type: "text", required: true });
  const pattern = select(opts(["LITERAL", "PREFIXED"]), "LITERAL");
  const op = select(opts(OPS), "READ");
  const perm = select(opts(["ALLOW", "DENY"]), "ALLOW");
  const host = h("input", { type: "text", value: "*", required: true });
  return h("section", { "aria-labelledby": "acl-add" }, h("h2", { id: "acl-add" }, "Create an ACL"),
    form("acl-form", result, async () => {
      const acl = { principal: principal.value.trim(), resource_type: rtype.value, resource_name: name.value.trim(),
        pattern_type: pattern.value, operation: op.value, permission: perm.value, host: host.value.trim() };
      await api("/v1/acls", { method: "POST", body: { acls: [acl] } });
      again(`Created: ${acl.permission} ${acl.operation} on ${acl.resource_type} ${acl.resource_name} for ${acl.principal}.`);
    }, field("a-principal", "Principal", principal), field("a-type", "Resource type", rtype),
    field("a-name", "Resource name", name, "kafka-cluster for CLUSTER; * for all"),
    field("a-pattern", "Pattern", pattern), field("a-op", "Operation", op), field("a-perm", "Permission", perm),
    field("a-host", "Host", host), h("button", { type: "submit" }, "Create ACL")));
}

const entityText = (e) => Object.entries(e).map(([k, v]) => `${k}=${v === null ? "(default)" : v}`).join(", ") || "(all)";

export async function quotas(view, _p, query) {
  document.title = "Quotas · Security · Strom";
  const [list, ops] = await Promise.all([api("/v1/quotas"), clusterOps()]);
  const canAlter = ops.has("ALTER_CONFIGS");
  const result = h("div", { id: "security-result", "aria-live": "polite" },
    query.get("done") ? notice(query.get("done"), "ok") : null);
  const again = (done) => go("/security/quotas", { done }, true);
  const rows = list.quotas.map((q) => [entityText(q.entity),
    ...QUOTA_KEYS.map((k) => (k in q.values ? String(q.values[k]) : "—")),
    canAlter ? h("button", { type: "button", class: "secondary", "aria-label": "Delete the quotas of " + entityText(q.entity),
      onclick: async () => {
        try {
          await api("/v1/quotas", { method: "DELETE", body: { entity: q.entity } });
          again("Deleted the quotas of " + entityText(q.entity) + ".");
        } catch (err) {
          result.replaceChildren(notice(err.message));
        }
      } }, "Delete") : null]);
  view.append(h("div", {}, h("h1", {}, "Security: quotas"), subnav("quotas", ops), result,
    table(null, ["Entity", ...QUOTA_KEYS, canAlter ? "Actions" : ""], rows, { id: "quotas" }),
    canAlter ? editQuota(result, again) : null));
}

function editQuota(result, again) {
  const user = h("input", { type: "text", placeholder: "empty: any; (default) for the default" });
  const client = h("input", { type: "text", placeholder: "empty: any; (default) for the default" });
  const key = select(opts(QUOTA_KEYS), "producer_byte_rate");
  const value = h("input", { type: "number", min: "0", step: "any", placeholder: "empty: remove" });
  const part = (v) => (v.trim() === "(default)" ? null : v.trim());
  return h("section", { "aria-labelledby": "quota-edit" }, h("h2", { id: "quota-edit" }, "Set or remove a quota"),
    form("quota-form", result, async () => {
      const entity = {};
      if (user.value.trim()) entity.user = part(user.value);
      if (client.value.trim()) entity["client-id"] = part(client.value);
      const body = value.value === "" ? { entity, remove: [key.value] } : { entity, set: { [key.value]: Number(value.value) } };
      await api("/v1/quotas", { method: "POST", body });
      again("Quota changed for " + entityText(entity) + ".");
    }, field("q-user", "User", user), field("q-client", "Client id", client), field("q-key", "Quota", key),
    field("q-value", "Value", value), h("button", { type: "submit" }, "Save quota")));
}

/** `#/security`: the users page. */
export const security = (view, p, q) => users(view, p, q);
