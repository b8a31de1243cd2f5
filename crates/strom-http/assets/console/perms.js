// What the logged-in principal may do on a resource, asked of the server
// (GET /v1/authorized-operations, the one Authorizer, silent checks) so pages can leave out
// the controls it may not use (C15). Hiding is a courtesy: every action is still checked by
// the API, and a refusal is shown. With `console_read_only` the server answers only READ
// and DESCRIBE, so every mutation control is hidden.

import { api } from "./api.js";

/** The set of Kafka operation names (`READ`, `ALTER`, ...) allowed on the resource. */
export async function allowedOps(resourceType, resourceName) {
  const r = await api("/v1/authorized-operations", {
    query: { resource_type: resourceType, resource_name: resourceName || "" },
  });
  return new Set(r.operations);
}

/** The cluster's allowed operations. */
export const clusterOps = () => allowedOps("CLUSTER", "kafka-cluster");

/** What `GET /v1/whoami` said about this session (set by app.js at start and after login). */
let who = {};
export function setWho(me) {
  who = me || {};
}

/** Whether the server allows exports (`[console] export`); the API refuses them otherwise. */
export const exportEnabled = () => who.export !== false;

/** Whether the session may change nothing (`console_read_only` and a cookie session). */
export const readOnly = () => Boolean(who.read_only);
