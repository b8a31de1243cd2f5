//! Which ACL operation every HTTP route needs, in one table ([`RULES`]) to audit, mapped onto
//! Kafka's table (console-and-security.md §2.5): reading records (REST, feeds, Atom, SSE,
//! REST Proxy consumers) is Read on the topic, producing is Write, describing is Describe,
//! topic deletion Delete, configs AlterConfigs, adding partitions Alter, consumer groups
//! Read (Describe for committed offsets) on the group, `/metrics` Describe on the cluster
//! when `metrics_require_auth`. A route not in the table needs Alter on the cluster (fail
//! closed), and a unit test fails for any documented route left out.
//!
//! [`Access::Handler`] routes check in their handler, where the resource is only known from
//! the body or has to filter a list: topic creation (Create on the cluster, else on the
//! topic), topic lists (omit what the caller may not Describe), WebSocket messages (Read
//! or Write per topic), REST Proxy subscriptions and commits (Read on each topic).

use axum::http::Method;
use strom_auth::{Operation, ResourceType, Session, CLUSTER_NAME};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Which resource a rule names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Cluster,
    /// The topic in the `{topic}` path parameter.
    Topic,
    /// The group in the `{group}` path parameter.
    Group,
    /// The schema registry subject in the `{subject}` path parameter, mapped by
    /// [`subject_resource`].
    Subject,
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Nobody needs to authenticate (health, the OpenAPI document, login).
    Open,
    /// The caller must be authenticated when authentication is required; the handler does
    /// any further check.
    Handler,
    /// One ACL check.
    Check(Operation, Target),
    /// `/metrics`: Describe on the cluster when `metrics_require_auth`, else open.
    Metrics,
}

/// One row: method, route template (as registered), access, and whether a stream token
/// (`?access_token=`) is accepted there.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub stream_token: bool,
}

const fn rule(method: &'static str, path: &'static str, access: Access) -> Rule {
    Rule {
        method,
        path,
        access,
        stream_token: false,
    }
}

const fn live(path: &'static str, access: Access) -> Rule {
    Rule {
        method: "GET",
        path,
        access,
        stream_token: true,
    }
}

use Access::{Check, Handler, Metrics, Open};
use Operation::{Alter, AlterConfigs, Delete, Describe, Read, Write};
use Target::{Cluster, Group, Subject, Topic};

/// Every route's rule.
pub const RULES: &[Rule] = &[
    // Meta
    rule("GET", "/healthz", Open),
    rule("GET", "/readyz", Open),
    rule("GET", "/openapi.json", Open),
    rule("GET", "/examples/chat.html", Open),
    // The console's static files (its data comes from the routes below, as the caller)
    rule("GET", "/console", Open),
    rule("GET", "/console/", Open),
    rule("GET", "/console/{file}", Open),
    rule("GET", "/metrics", Metrics),
    rule("GET", "/v1/status", Check(Describe, Cluster)),
    // The console charts' history; the handler lists only what the caller may Describe.
    rule("GET", "/v1/metrics/history", Check(Describe, Cluster)),
    // Authentication
    rule("POST", "/v1/login", Open),
    rule("POST", "/v1/logout", Open),
    rule("GET", "/v1/whoami", Handler),
    // The caller's own rights on one resource (silent checks, src/permissions.rs).
    rule("GET", "/v1/authorized-operations", Handler),
    rule("GET", "/v1/api-keys", Handler),
    rule("POST", "/v1/api-keys", Handler),
    rule("DELETE", "/v1/api-keys/{id}", Handler),
    rule("POST", "/v1/stream-tokens", Handler),
    // Security administration: the handlers check the cluster operations Kafka's ACL,
    // quota and SCRAM APIs need.
    rule("GET", "/v1/acls", Handler),
    rule("POST", "/v1/acls", Handler),
    rule("DELETE", "/v1/acls", Handler),
    rule("GET", "/v1/quotas", Handler),
    rule("POST", "/v1/quotas", Handler),
    rule("DELETE", "/v1/quotas", Handler),
    rule("GET", "/v1/users", Handler),
    rule("PUT", "/v1/users/{user}", Handler),
    rule("DELETE", "/v1/users/{user}", Handler),
    // Webhooks: the handlers check the subscription's group `webhook.<name>` (Describe to
    // read, Alter to change) and Read on its topics (docs/webhooks.md).
    rule("GET", "/v1/webhooks", Handler),
    rule("POST", "/v1/webhooks", Handler),
    rule("GET", "/v1/webhooks/{name}", Handler),
    rule("PATCH", "/v1/webhooks/{name}", Handler),
    rule("DELETE", "/v1/webhooks/{name}", Handler),
    rule("POST", "/v1/webhooks/{name}/pause", Handler),
    rule("POST", "/v1/webhooks/{name}/resume", Handler),
    rule("POST", "/v1/webhooks/{name}/test", Handler),
    rule("GET", "/v1/webhooks/{name}/secret", Handler),
    rule("POST", "/v1/webhooks/{name}/secret/rotate", Handler),
    rule("GET", "/v1/webhooks/{name}/attempts", Handler),
    rule("GET", "/v1/webhooks/{name}/dead-letters", Handler),
    rule("POST", "/v1/webhooks/{name}/dead-letters/redrive", Handler),
    rule("POST", "/v1/webhooks/{name}/skip", Handler),
    rule("POST", "/v1/webhooks/{name}/resend", Handler),
    rule("GET", "/v1/webhooks/{name}/dlq", Handler),
    rule("POST", "/v1/webhooks/{name}/dlq/redrive", Handler),
    // Admin
    rule("GET", "/v1/topics", Handler),
    rule("POST", "/v1/topics", Handler),
    rule("GET", "/v1/topics/{topic}", Check(Describe, Topic)),
    rule("DELETE", "/v1/topics/{topic}", Check(Delete, Topic)),
    rule(
        "PATCH",
        "/v1/topics/{topic}/configs",
        Check(AlterConfigs, Topic),
    ),
    rule("POST", "/v1/topics/{topic}/partitions", Check(Alter, Topic)),
    rule(
        "GET",
        "/v1/topics/{topic}/partitions/{partition}",
        Check(Describe, Topic),
    ),
    // Consumer groups (Kafka's table: ListGroups filters by Describe, DescribeGroups needs
    // Describe, DeleteGroups Delete; a reset commits offsets: Read on the group, and the
    // handler checks Describe on each topic)
    rule("GET", "/v1/groups", Handler),
    rule("GET", "/v1/groups/{group}", Check(Describe, Group)),
    rule("DELETE", "/v1/groups/{group}", Check(Delete, Group)),
    rule(
        "POST",
        "/v1/groups/{group}/offsets/reset",
        Check(Read, Group),
    ),
    // OffsetDelete (Kafka's table): Delete on the group; the handler checks Read on the topic.
    rule("DELETE", "/v1/groups/{group}/offsets", Check(Delete, Group)),
    // Records
    rule("POST", "/v1/topics/{topic}/records", Check(Write, Topic)),
    rule(
        "GET",
        "/v1/topics/{topic}/partitions/{partition}/records",
        Check(Read, Topic),
    ),
    // DeleteRecords (Kafka's table): Delete on the topic.
    rule(
        "DELETE",
        "/v1/topics/{topic}/partitions/{partition}/records",
        Check(Delete, Topic),
    ),
    // Bounded search (console C6) reads records: Read on the topic.
    rule("GET", "/v1/topics/{topic}/search", Check(Read, Topic)),
    // A topic's dead letters: the handler checks Read on the topic and Write (report) or
    // Read (list) on `<topic>.dlq`.
    rule("POST", "/v1/topics/{topic}/dead-letters", Handler),
    rule("GET", "/v1/topics/{topic}/dead-letters", Handler),
    // Feeds, Atom, SSE, WebSocket
    live("/feeds/{topic}", Check(Read, Topic)),
    live(
        "/feeds/{topic}/archive/{partition}/{page}",
        Check(Read, Topic),
    ),
    live("/v1/ws", Handler),
    // REST Proxy v2
    rule("GET", "/topics", Handler),
    rule("GET", "/topics/{topic}", Check(Describe, Topic)),
    rule("POST", "/topics/{topic}", Check(Write, Topic)),
    rule("GET", "/topics/{topic}/partitions", Check(Describe, Topic)),
    rule(
        "GET",
        "/topics/{topic}/partitions/{partition}",
        Check(Describe, Topic),
    ),
    rule(
        "POST",
        "/topics/{topic}/partitions/{partition}",
        Check(Write, Topic),
    ),
    rule(
        "GET",
        "/topics/{topic}/partitions/{partition}/offsets",
        Check(Describe, Topic),
    ),
    rule("GET", "/brokers", Handler),
    rule("POST", "/consumers/{group}", Check(Read, Group)),
    rule(
        "DELETE",
        "/consumers/{group}/instances/{instance}",
        Check(Read, Group),
    ),
    rule(
        "POST",
        "/consumers/{group}/instances/{instance}/subscription",
        Check(Read, Group),
    ),
    rule(
        "GET",
        "/consumers/{group}/instances/{instance}/subscription",
        Check(Read, Group),
    ),
    rule(
        "DELETE",
        "/consumers/{group}/instances/{instance}/subscription",
        Check(Read, Group),
    ),
    rule(
        "GET",
        "/consumers/{group}/instances/{instance}/assignments",
        Check(Read, Group),
    ),
    rule(
        "POST",
        "/consumers/{group}/instances/{instance}/assignments",
        Check(Read, Group),
    ),
    rule(
        "POST",
        "/consumers/{group}/instances/{instance}/positions",
        Check(Read, Group),
    ),
    rule(
        "POST",
        "/consumers/{group}/instances/{instance}/positions/beginning",
        Check(Read, Group),
    ),
    rule(
        "POST",
        "/consumers/{group}/instances/{instance}/positions/end",
        Check(Read, Group),
    ),
    rule(
        "GET",
        "/consumers/{group}/instances/{instance}/records",
        Check(Read, Group),
    ),
    rule(
        "POST",
        "/consumers/{group}/instances/{instance}/offsets",
        Check(Read, Group),
    ),
    rule(
        "GET",
        "/consumers/{group}/instances/{instance}/offsets",
        Check(Describe, Group),
    ),
    // The handler also checks Read on each topic and Write on `<group>.dlq`.
    rule(
        "POST",
        "/consumers/{group}/instances/{instance}/records/reject",
        Check(Read, Group),
    ),
    // Schema Registry (Confluent's API): see `subject_resource` for the subject mapping.
    rule("GET", "/subjects", Handler),
    rule(
        "GET",
        "/subjects/{subject}/versions",
        Check(Describe, Subject),
    ),
    rule(
        "POST",
        "/subjects/{subject}/versions",
        Check(Write, Subject),
    ),
    rule("POST", "/subjects/{subject}", Check(Describe, Subject)),
    rule(
        "DELETE",
        "/subjects/{subject}",
        Check(AlterConfigs, Subject),
    ),
    rule(
        "GET",
        "/subjects/{subject}/versions/{version}",
        Check(Describe, Subject),
    ),
    rule(
        "DELETE",
        "/subjects/{subject}/versions/{version}",
        Check(AlterConfigs, Subject),
    ),
    rule(
        "GET",
        "/subjects/{subject}/versions/{version}/schema",
        Check(Describe, Subject),
    ),
    rule(
        "GET",
        "/subjects/{subject}/versions/{version}/referencedby",
        Check(Describe, Subject),
    ),
    rule("GET", "/schemas", Handler),
    rule("GET", "/schemas/ids/{id}", Handler),
    rule("GET", "/schemas/ids/{id}/schema", Handler),
    rule("GET", "/schemas/ids/{id}/subjects", Handler),
    rule("GET", "/schemas/ids/{id}/versions", Handler),
    rule("GET", "/schemas/types", Handler),
    rule("GET", "/contexts", Handler),
    rule("GET", "/v1/metadata/id", Handler),
    rule(
        "POST",
        "/compatibility/subjects/{subject}/versions/{version}",
        Check(Describe, Subject),
    ),
    rule(
        "POST",
        "/compatibility/subjects/{subject}/versions",
        Check(Describe, Subject),
    ),
    rule("GET", "/config", Check(Describe, Cluster)),
    rule("PUT", "/config", Check(Alter, Cluster)),
    rule("GET", "/config/{subject}", Check(Describe, Subject)),
    rule("PUT", "/config/{subject}", Check(AlterConfigs, Subject)),
    rule("DELETE", "/config/{subject}", Check(AlterConfigs, Subject)),
    rule("GET", "/mode", Check(Describe, Cluster)),
    rule("PUT", "/mode", Check(Alter, Cluster)),
    rule("GET", "/mode/{subject}", Check(Describe, Subject)),
    rule("PUT", "/mode/{subject}", Check(AlterConfigs, Subject)),
    rule("DELETE", "/mode/{subject}", Check(AlterConfigs, Subject)),
];

/// What a route not in the table needs: Alter on the cluster.
pub const UNLISTED: Rule = rule("*", "*", Check(Alter, Cluster));

/// The rule of `method` on the route template `path`.
pub fn find(method: &Method, path: &str) -> Rule {
    RULES
        .iter()
        .find(|r| r.path == path && r.method == method.as_str())
        .copied()
        .unwrap_or(UNLISTED)
}

/// Whether `session` may do `operation` on the resource; 403 naming both when not (with an
/// audit line).
pub fn check(
    state: &AppState,
    session: &Session,
    operation: Operation,
    resource_type: ResourceType,
    name: &str,
) -> ApiResult<()> {
    if state
        .config
        .security
        .authorizer
        .authorize(session, operation, resource_type, name)
    {
        Ok(())
    } else {
        Err(ApiError::forbidden(operation, resource_type, name))
    }
}

/// Whether `session` may see `topic` in a list (no audit line, as Kafka's Metadata).
pub fn may_describe_topic(state: &AppState, session: &Session, topic: &str) -> bool {
    state
        .config
        .security
        .authorizer
        .allowed(session, Describe, ResourceType::Topic, topic)
}

/// Topic creation: Create on the cluster, else Create on the topic (as Kafka's CreateTopics).
pub fn check_create_topic(state: &AppState, session: &Session, topic: &str) -> ApiResult<()> {
    let authorizer = &state.config.security.authorizer;
    if authorizer.allowed(
        session,
        Operation::Create,
        ResourceType::Cluster,
        CLUSTER_NAME,
    ) {
        return Ok(());
    }
    check(
        state,
        session,
        Operation::Create,
        ResourceType::Topic,
        topic,
    )
}

/// The (operation, resource type, name) a rule checks for a request with these path
/// parameters; `None` when nothing is checked here.
pub fn resolve(
    rule: &Rule,
    params: &[(String, String)],
    metrics_require_auth: bool,
) -> Option<(Operation, ResourceType, String)> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    match rule.access {
        Open | Handler => None,
        Metrics if !metrics_require_auth => None,
        Metrics => Some((Describe, ResourceType::Cluster, CLUSTER_NAME.to_string())),
        Check(op, Cluster) => Some((op, ResourceType::Cluster, CLUSTER_NAME.to_string())),
        Check(op, Topic) => Some((op, ResourceType::Topic, param("topic"))),
        Check(op, Group) => Some((op, ResourceType::Group, param("group"))),
        Check(op, Subject) => Some(subject_resource(op, &param("subject"))),
    }
}

/// What an action on schema registry subject `subject` needs: a subject named after a
/// topic (`<topic>-key`, `<topic>-value`, Confluent's default TopicNameStrategy) maps onto
/// that topic with the same operation; any other subject onto the cluster (Describe stays
/// Describe, every change needs Alter).
pub fn subject_resource(operation: Operation, subject: &str) -> (Operation, ResourceType, String) {
    let topic = subject
        .strip_suffix("-value")
        .or_else(|| subject.strip_suffix("-key"))
        .filter(|t| !t.is_empty());
    match topic {
        Some(topic) => (operation, ResourceType::Topic, topic.to_string()),
        None if operation == Describe => (Describe, ResourceType::Cluster, CLUSTER_NAME.into()),
        None => (Alter, ResourceType::Cluster, CLUSTER_NAME.into()),
    }
}

/// Whether `session` may see subject `subject` (no audit line, as a list filter).
pub fn may_describe_subject(state: &AppState, session: &Session, subject: &str) -> bool {
    let (operation, resource_type, name) = subject_resource(Describe, subject);
    state
        .config
        .security
        .authorizer
        .allowed(session, operation, resource_type, &name)
}

#[cfg(test)]
mod tests;
