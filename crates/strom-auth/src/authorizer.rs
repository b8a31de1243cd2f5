//! The one [`Authorizer`] every front end asks, with Kafka's ACL semantics
//! (`StandardAuthorizerData`): super users pass; the ACLs that apply to a resource are the
//! LITERAL ones with its name, the LITERAL `*` and the PREFIXED ones whose name is a prefix;
//! a binding applies to the session's principal or `User:*`, from its IP or `*`; any matching
//! DENY wins; an ALLOW for READ, WRITE, DELETE or ALTER implies DESCRIBE, and ALTER_CONFIGS
//! implies DESCRIBE_CONFIGS (ALLOW only); a resource without any ACL is allowed only with
//! `allow_everyone_if_no_acl_found`. Every denial writes one audit line (target
//! `strom::audit`). ACLs are persisted in `__strom_security` before they take effect.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::RwLock;

use crate::acl::{
    AclBinding, AclFilter, Operation, PatternType, Permission, ResourceType, WILDCARD,
};
use crate::store::{Store, ACL_PREFIX};
use crate::{AuthError, Principal, Session};

/// The internal topic holding users, API keys, ACLs and quotas (`__strom_security`): never
/// readable by clients other than super users, whatever the ACLs say.
pub const SECRET_STATE_TOPIC: &str = "__strom_security";

/// The cluster resource's name in ACLs.
pub const CLUSTER_NAME: &str = "kafka-cluster";

#[derive(Debug, Clone, Default)]
pub struct AuthorizerConfig {
    /// Off: every request is allowed (the default, as Kafka without an authorizer).
    pub enabled: bool,
    /// Principals allowed everything (`super.users`).
    pub super_users: Vec<Principal>,
    /// Allow a resource that has no ACL at all (`allow.everyone.if.no.acl.found`; default
    /// false, for development and phased roll-outs only).
    pub allow_everyone_if_no_acl_found: bool,
}

pub struct Authorizer {
    config: AuthorizerConfig,
    acls: RwLock<BTreeSet<AclBinding>>,
    store: Arc<Store>,
}

impl Authorizer {
    /// Loads the stored ACLs; a stored entry that cannot be read is skipped with a warning.
    pub(crate) fn new(config: AuthorizerConfig, store: Arc<Store>) -> Authorizer {
        let mut acls = BTreeSet::new();
        for (key, value) in store.entries(ACL_PREFIX) {
            match serde_json::from_slice::<AclBinding>(&value) {
                Ok(binding) => {
                    acls.insert(binding);
                }
                Err(err) => tracing::warn!(key, error = %err, "skipping an unreadable stored ACL"),
            }
        }
        Authorizer {
            config,
            acls: RwLock::new(acls),
            store,
        }
    }

    /// Whether authorization is on.
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    pub fn config(&self) -> &AuthorizerConfig {
        &self.config
    }

    /// Whether `principal` is a super user (only with authorization on).
    pub fn is_super_user(&self, principal: &Principal) -> bool {
        self.config.enabled && self.config.super_users.contains(principal)
    }

    /// Whether `session` may do `operation` on the resource, writing an audit line when not.
    pub fn authorize(
        &self,
        session: &Session,
        operation: Operation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        let allowed = self.allowed(session, operation, resource_type, name);
        if !allowed {
            tracing::info!(
                target: "strom::audit",
                principal = %session.principal,
                client = %session.peer.ip(),
                listener = %session.listener,
                operation = %operation,
                resource_type = %resource_type,
                resource = name,
                "authorization denied"
            );
        }
        allowed
    }

    /// [`Authorizer::authorize`] without the audit line, for filtering lists (Metadata,
    /// ListGroups), where Kafka does not log what it leaves out.
    pub fn allowed(
        &self,
        session: &Session,
        operation: Operation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        if resource_type == ResourceType::Topic
            && name == SECRET_STATE_TOPIC
            && operation != Operation::Describe
        {
            // Salted credentials and key digests: only super users may read them, and only
            // with the authorizer on (off, there is no one to trust with them).
            return self.config.enabled && self.config.super_users.contains(&session.principal);
        }
        if !self.config.enabled || self.config.super_users.contains(&session.principal) {
            return true;
        }
        let principal = session.principal.to_string();
        let wildcard_principal = format!("{}:*", session.principal.kind());
        let ip = session.peer.ip();
        let acls = self.acls.read();
        let mut found_any = false;
        let mut allow = false;
        for acl in acls.iter().filter(|a| applies_to(a, resource_type, name)) {
            found_any = true;
            if acl.principal != principal && acl.principal != wildcard_principal {
                continue;
            }
            if !host_matches(&acl.host, ip) {
                continue;
            }
            match acl.permission {
                Permission::Deny
                    if acl.operation == Operation::All || acl.operation == operation =>
                {
                    return false;
                }
                Permission::Allow if allow_implies(acl.operation, operation) => allow = true,
                _ => {}
            }
        }
        if !found_any {
            return self.config.allow_everyone_if_no_acl_found;
        }
        allow
    }

    /// Whether `session` may do `operation` on at least one resource of `resource_type`
    /// (Kafka's `authorizeByResourceType`, used for idempotent producers: Write on any
    /// topic): an ALLOW for the principal (or `User:*`) and host, naming the operation or
    /// ALL, that no DENY covers (a DENY on the same literal name, on a prefix of it, or on
    /// `*`). Silent: the caller audits its own fallback check.
    pub fn allowed_on_any(
        &self,
        session: &Session,
        operation: Operation,
        resource_type: ResourceType,
    ) -> bool {
        if !self.config.enabled || self.config.super_users.contains(&session.principal) {
            return true;
        }
        let principal = session.principal.to_string();
        let wildcard_principal = format!("{}:*", session.principal.kind());
        let ip = session.peer.ip();
        let acls = self.acls.read();
        let relevant: Vec<&AclBinding> = acls
            .iter()
            .filter(|a| a.resource_type == resource_type)
            .filter(|a| a.principal == principal || a.principal == wildcard_principal)
            .filter(|a| host_matches(&a.host, ip))
            .filter(|a| a.operation == Operation::All || a.operation == operation)
            .collect();
        let denies: Vec<&&AclBinding> = relevant
            .iter()
            .filter(|a| a.permission == Permission::Deny)
            .collect();
        let denied = |name: &str, pattern: PatternType| {
            denies.iter().any(|d| match d.pattern_type {
                PatternType::Literal => {
                    d.resource_name == WILDCARD
                        || (pattern == PatternType::Literal && d.resource_name == name)
                }
                PatternType::Prefixed => name.starts_with(&d.resource_name),
                _ => false,
            })
        };
        if !acls.iter().any(|a| a.resource_type == resource_type) {
            return self.config.allow_everyone_if_no_acl_found;
        }
        relevant
            .iter()
            .filter(|a| a.permission == Permission::Allow)
            .any(|a| !denied(&a.resource_name, a.pattern_type))
    }

    /// Adds ACLs; each result says whether that one was stored. Blocking (one durable write).
    /// Errors per binding: `Invalid` (a filter-only value, a bad host or principal);
    /// `Storage` for all when the write fails.
    pub fn create_acls(&self, bindings: &[AclBinding]) -> Vec<Result<(), AuthError>> {
        let mut results: Vec<Result<(), AuthError>> = bindings
            .iter()
            .map(|b| b.validate().map_err(AuthError::Invalid))
            .collect();
        let mut writes = Vec::new();
        for (b, r) in bindings.iter().zip(&results) {
            if r.is_ok() {
                match serde_json::to_vec(b) {
                    Ok(json) => writes.push((acl_key(b), Some(json))),
                    Err(err) => tracing::error!(error = %err, "cannot encode an ACL"),
                }
            }
        }
        let mut acls = self.acls.write();
        if let Err(err) = self.store.put_many(&writes) {
            let message = err.to_string();
            for r in results.iter_mut().filter(|r| r.is_ok()) {
                *r = Err(AuthError::Storage(message.clone()));
            }
            return results;
        }
        for (b, r) in bindings.iter().zip(&results) {
            if r.is_ok() {
                acls.insert(b.clone());
            }
        }
        results
    }

    /// Removes the ACLs matching each filter; returns, per filter, the bindings removed.
    /// Blocking. Errors: `Storage` (nothing removed then).
    pub fn delete_acls(&self, filters: &[AclFilter]) -> Result<Vec<Vec<AclBinding>>, AuthError> {
        let mut acls = self.acls.write();
        let matched: Vec<Vec<AclBinding>> = filters
            .iter()
            .map(|f| acls.iter().filter(|b| f.matches(b)).cloned().collect())
            .collect();
        let doomed: BTreeSet<&AclBinding> = matched.iter().flatten().collect();
        let writes: Vec<(String, Option<Vec<u8>>)> =
            doomed.iter().map(|b| (acl_key(b), None)).collect();
        self.store.put_many(&writes)?;
        for b in matched.iter().flatten() {
            acls.remove(b);
        }
        Ok(matched)
    }

    /// The ACLs matching `filter`.
    pub fn describe_acls(&self, filter: &AclFilter) -> Vec<AclBinding> {
        self.acls
            .read()
            .iter()
            .filter(|b| filter.matches(b))
            .cloned()
            .collect()
    }

    /// Whether any ACL exists (start-up refuses authorization with neither ACLs nor super users).
    pub fn has_acls(&self) -> bool {
        !self.acls.read().is_empty()
    }
}

fn acl_key(b: &AclBinding) -> String {
    // The whole binding is the identity: two bindings differing in any field are two ACLs.
    format!(
        "{ACL_PREFIX}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
        b.resource_type.code(),
        b.pattern_type.code(),
        b.resource_name,
        b.principal,
        b.host,
        b.operation.code(),
        b.permission.code()
    )
}

fn applies_to(acl: &AclBinding, resource_type: ResourceType, name: &str) -> bool {
    acl.resource_type == resource_type
        && match acl.pattern_type {
            PatternType::Literal => acl.resource_name == name || acl.resource_name == WILDCARD,
            PatternType::Prefixed => name.starts_with(&acl.resource_name),
            _ => false,
        }
}

fn host_matches(host: &str, ip: IpAddr) -> bool {
    host == WILDCARD || host.parse::<IpAddr>().is_ok_and(|h| h == ip)
}

/// Whether an ALLOW for `granted` permits `wanted` (with Kafka's implied operations).
fn allow_implies(granted: Operation, wanted: Operation) -> bool {
    granted == Operation::All
        || granted == wanted
        || (wanted == Operation::Describe
            && matches!(
                granted,
                Operation::Read | Operation::Write | Operation::Delete | Operation::Alter
            ))
        || (wanted == Operation::DescribeConfigs && granted == Operation::AlterConfigs)
}

#[cfg(test)]
mod tests;
