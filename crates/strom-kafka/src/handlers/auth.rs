//! Authorization of Kafka requests: [`Access`] is one request's view of the authorizer
//! (who asks, and the one [`strom_auth::Authorizer`]), with one method per resource kind so
//! each handler's check is a single call. Denials that answer an error write the
//! authorizer's audit line; checks that only filter a list (`sees_*`) are silent, as in
//! Kafka. The operation each API needs follows Kafka's table (`docs/security.md`).

use std::sync::Arc;

use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strom_auth::{Operation, ResourceType, Security, Session, CLUSTER_NAME};

/// Kafka's message for an authorization error it reports per resource.
pub const DENIED: &str = "Authorization failed.";

/// [`DENIED`] as a response's optional message.
pub fn denied_message() -> Option<StrBytes> {
    Some(StrBytes::from_static_str(DENIED))
}

/// One request's access: the caller's session and the shared security services.
#[derive(Clone)]
pub struct Access {
    security: Arc<Security>,
    session: Session,
}

impl Access {
    pub fn new(security: &Arc<Security>, session: &Session) -> Access {
        Access {
            security: Arc::clone(security),
            session: session.clone(),
        }
    }

    /// Who sent the request (for the audit line of an admin action).
    pub fn session(&self) -> &Session {
        &self.session
    }

    pub fn security(&self) -> &Security {
        &self.security
    }

    /// Whether an authorizer is configured (ACL APIs answer SECURITY_DISABLED without one).
    pub fn enabled(&self) -> bool {
        self.security.authorizer.enabled()
    }

    /// `operation` on topic `name`, audited when denied.
    pub fn topic(&self, operation: Operation, name: &str) -> bool {
        self.check(operation, ResourceType::Topic, name)
    }

    /// `operation` on consumer group `id`, audited when denied.
    pub fn group(&self, operation: Operation, id: &str) -> bool {
        self.check(operation, ResourceType::Group, id)
    }

    /// `operation` on the cluster, audited when denied.
    pub fn cluster(&self, operation: Operation) -> bool {
        self.check(operation, ResourceType::Cluster, CLUSTER_NAME)
    }

    /// `operation` on transactional id `id`, audited when denied.
    pub fn transactional_id(&self, operation: Operation, id: &str) -> bool {
        self.check(operation, ResourceType::TransactionalId, id)
    }

    /// Whether transactional id `id` appears in a listing (silent Describe).
    pub fn sees_transactional_id(&self, id: &str) -> bool {
        self.security.authorizer.allowed(
            &self.session,
            Operation::Describe,
            ResourceType::TransactionalId,
            id,
        )
    }

    /// Whether topic `name` appears in a listing (silent Describe).
    pub fn sees_topic(&self, name: &str) -> bool {
        self.security.authorizer.allowed(
            &self.session,
            Operation::Describe,
            ResourceType::Topic,
            name,
        )
    }

    /// Whether group `id` appears in a listing: Describe on the cluster or on the group
    /// (silent, as ListGroups filters).
    pub fn sees_group(&self, id: &str) -> bool {
        let a = &self.security.authorizer;
        a.allowed(
            &self.session,
            Operation::Describe,
            ResourceType::Cluster,
            CLUSTER_NAME,
        ) || a.allowed(&self.session, Operation::Describe, ResourceType::Group, id)
    }

    /// Create on the cluster (silent) or else on topic `name` (audited): CreateTopics and
    /// Metadata's auto-creation.
    pub fn may_create_topic(&self, name: &str) -> bool {
        self.security.authorizer.allowed(
            &self.session,
            Operation::Create,
            ResourceType::Cluster,
            CLUSTER_NAME,
        ) || self.topic(Operation::Create, name)
    }

    /// An idempotent producer id: IdempotentWrite on the cluster, or (Kafka 3.0+, KIP-679)
    /// Write on any topic.
    pub fn may_write_idempotently(&self) -> bool {
        self.security.authorizer.allowed_on_any(
            &self.session,
            Operation::Write,
            ResourceType::Topic,
        ) || self.cluster(Operation::IdempotentWrite)
    }

    /// `operation` (DescribeConfigs or AlterConfigs) on a config resource of Kafka's
    /// `ConfigResource.Type` code: a topic (2), or the cluster for the broker (4) and broker
    /// logger (8) resources. Returns the error to answer when denied.
    pub fn config_denied(
        &self,
        operation: Operation,
        resource_type: i8,
        name: &str,
    ) -> Option<ResponseError> {
        match resource_type {
            2 => (!self.topic(operation, name)).then_some(ResponseError::TopicAuthorizationFailed),
            4 | 8 => {
                (!self.cluster(operation)).then_some(ResponseError::ClusterAuthorizationFailed)
            }
            _ => None,
        }
    }

    /// Kafka's `authorized_operations` bit set (bit = operation code) of the `candidates`
    /// this session may do on the resource; silent, like Kafka's.
    pub fn authorized_operations(
        &self,
        resource_type: ResourceType,
        name: &str,
        candidates: &[Operation],
    ) -> i32 {
        candidates
            .iter()
            .filter(|op| {
                self.security
                    .authorizer
                    .allowed(&self.session, **op, resource_type, name)
            })
            .fold(0, |bits, op| bits | (1 << op.code()))
    }

    fn check(&self, operation: Operation, resource_type: ResourceType, name: &str) -> bool {
        self.security
            .authorizer
            .authorize(&self.session, operation, resource_type, name)
    }
}
