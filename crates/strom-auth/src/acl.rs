//! Kafka's ACL model: resource types, pattern types, operations and permissions with their
//! wire codes (`ResourceType.java`, `PatternType.java`, `AclOperation.java`,
//! `AclPermissionType.java`), an [`AclBinding`] ("principal P is allowed/denied operation O
//! from host H on resources matching pattern RP") and the [`AclFilter`] of DescribeAcls and
//! DeleteAcls. Pure data and matching; evaluation is the authorizer's.

use serde::{Deserialize, Serialize};

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:expr, $text:expr;)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $($variant),* }

        impl $name {
            /// The Kafka wire code.
            pub fn code(self) -> i8 {
                match self { $($name::$variant => $code),* }
            }
            /// From a Kafka wire code; `None` for UNKNOWN (0) and unassigned codes.
            pub fn from_code(code: i8) -> Option<$name> {
                match code { $($code => Some($name::$variant),)* _ => None }
            }
            /// Kafka's upper-case name (`TOPIC`, `PREFIXED`, `DESCRIBE_CONFIGS`).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
            /// From Kafka's name, case-insensitive (`topic`, `Prefixed`).
            pub fn parse(s: &str) -> Option<$name> {
                $(if s.eq_ignore_ascii_case($text) { return Some($name::$variant); })*
                None
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// What an ACL protects. `Any` only appears in filters.
    ResourceType {
        Any = 1, "ANY";
        Topic = 2, "TOPIC";
        Group = 3, "GROUP";
        Cluster = 4, "CLUSTER";
        TransactionalId = 5, "TRANSACTIONAL_ID";
        DelegationToken = 6, "DELEGATION_TOKEN";
        User = 7, "USER";
    }
);

wire_enum!(
    /// How a binding's resource name matches. `Any` and `Match` only appear in filters.
    PatternType {
        Any = 1, "ANY";
        Match = 2, "MATCH";
        Literal = 3, "LITERAL";
        Prefixed = 4, "PREFIXED";
    }
);

wire_enum!(
    /// What a client does to a resource. `Any` only appears in filters; `All` in bindings
    /// matches every operation.
    Operation {
        Any = 1, "ANY";
        All = 2, "ALL";
        Read = 3, "READ";
        Write = 4, "WRITE";
        Create = 5, "CREATE";
        Delete = 6, "DELETE";
        Alter = 7, "ALTER";
        Describe = 8, "DESCRIBE";
        ClusterAction = 9, "CLUSTER_ACTION";
        DescribeConfigs = 10, "DESCRIBE_CONFIGS";
        AlterConfigs = 11, "ALTER_CONFIGS";
        IdempotentWrite = 12, "IDEMPOTENT_WRITE";
        CreateTokens = 13, "CREATE_TOKENS";
        DescribeTokens = 14, "DESCRIBE_TOKENS";
        TwoPhaseCommit = 15, "TWO_PHASE_COMMIT";
    }
);

wire_enum!(
    /// Allow or deny. `Any` only appears in filters.
    Permission {
        Any = 1, "ANY";
        Deny = 2, "DENY";
        Allow = 3, "ALLOW";
    }
);

/// The literal resource name that matches every name of its type.
pub const WILDCARD: &str = "*";

/// One ACL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AclBinding {
    pub resource_type: ResourceType,
    pub resource_name: String,
    /// `Literal` or `Prefixed`.
    pub pattern_type: PatternType,
    /// `User:alice` or `User:*`.
    pub principal: String,
    /// An IP address or `*`.
    pub host: String,
    /// Not `Any`.
    pub operation: Operation,
    /// `Allow` or `Deny`.
    pub permission: Permission,
}

/// One line for logs, as Kafka prints an ACL: `User:alice has ALLOW permission for operations:
/// READ from hosts: * on TOPIC:orders (LITERAL)`.
impl std::fmt::Display for AclBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} has {} permission for operations: {} from hosts: {} on {}:{} ({})",
            self.principal,
            self.permission,
            self.operation,
            self.host,
            self.resource_type,
            self.resource_name,
            self.pattern_type
        )
    }
}

impl AclBinding {
    /// Errors: a message saying which field cannot appear in a binding (filter-only values,
    /// an empty name, a principal not of the form `Type:name`).
    pub fn validate(&self) -> Result<(), String> {
        if matches!(self.resource_type, ResourceType::Any) {
            return Err("resource type ANY is only valid in a filter".into());
        }
        if !matches!(
            self.pattern_type,
            PatternType::Literal | PatternType::Prefixed
        ) {
            return Err(format!(
                "pattern type {} is only valid in a filter; use LITERAL or PREFIXED",
                self.pattern_type
            ));
        }
        if matches!(self.operation, Operation::Any) {
            return Err("operation ANY is only valid in a filter".into());
        }
        if matches!(self.permission, Permission::Any) {
            return Err("permission type ANY is only valid in a filter".into());
        }
        if self.resource_name.is_empty() {
            return Err("resource name must not be empty".into());
        }
        if self.resource_type == ResourceType::Cluster && self.resource_name != "kafka-cluster" {
            return Err("the cluster resource is named 'kafka-cluster'".into());
        }
        if crate::Principal::parse(&self.principal).is_none() {
            return Err(format!(
                "principal '{}' must have the form Type:name, e.g. User:alice",
                self.principal
            ));
        }
        if self.host != WILDCARD && self.host.parse::<std::net::IpAddr>().is_err() {
            return Err(format!(
                "host '{}' must be an IP address or '*' (host names are not supported)",
                self.host
            ));
        }
        Ok(())
    }
}

/// A DescribeAcls / DeleteAcls filter; `None` fields and `Any` values match everything.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AclFilter {
    pub resource_type: Option<ResourceType>,
    pub resource_name: Option<String>,
    /// `Any` (or `None`) matches every pattern; `Match` matches the bindings that would apply
    /// to the named resource (literal equal, literal `*`, prefixed prefix).
    pub pattern_type: Option<PatternType>,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: Option<Operation>,
    pub permission: Option<Permission>,
}

impl AclFilter {
    /// Whether `binding` matches this filter (Kafka's `AclBindingFilter.matches`).
    pub fn matches(&self, b: &AclBinding) -> bool {
        let any_type = matches!(self.resource_type, None | Some(ResourceType::Any));
        if !any_type && self.resource_type != Some(b.resource_type) {
            return false;
        }
        match (self.pattern_type, self.resource_name.as_deref()) {
            (None | Some(PatternType::Any), name) => {
                if name.is_some_and(|n| n != b.resource_name) {
                    return false;
                }
            }
            (Some(PatternType::Match), name) => {
                if let Some(name) = name {
                    let applies = match b.pattern_type {
                        PatternType::Literal => {
                            b.resource_name == name || b.resource_name == WILDCARD
                        }
                        PatternType::Prefixed => name.starts_with(&b.resource_name),
                        _ => false,
                    };
                    if !applies {
                        return false;
                    }
                }
            }
            (Some(p), name) => {
                if p != b.pattern_type || name.is_some_and(|n| n != b.resource_name) {
                    return false;
                }
            }
        }
        if self.principal.as_deref().is_some_and(|p| p != b.principal) {
            return false;
        }
        if self.host.as_deref().is_some_and(|h| h != b.host) {
            return false;
        }
        if !matches!(self.operation, None | Some(Operation::Any))
            && self.operation != Some(b.operation)
        {
            return false;
        }
        if !matches!(self.permission, None | Some(Permission::Any))
            && self.permission != Some(b.permission)
        {
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(name: &str, pattern: PatternType) -> AclBinding {
        AclBinding {
            resource_type: ResourceType::Topic,
            resource_name: name.into(),
            pattern_type: pattern,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: Operation::Read,
            permission: Permission::Allow,
        }
    }

    #[test]
    fn codes_round_trip_and_unknown_is_none() {
        for code in 1..=15 {
            assert_eq!(Operation::from_code(code).map(Operation::code), Some(code));
        }
        assert_eq!(Operation::from_code(0), None);
        assert_eq!(ResourceType::from_code(8), None);
        assert_eq!(PatternType::parse("prefixed"), Some(PatternType::Prefixed));
    }

    #[test]
    fn match_filter_finds_literal_wildcard_and_prefixed_bindings() {
        let filter = AclFilter {
            resource_type: Some(ResourceType::Topic),
            resource_name: Some("orders-eu".into()),
            pattern_type: Some(PatternType::Match),
            ..AclFilter::default()
        };
        assert!(filter.matches(&binding("orders-eu", PatternType::Literal)));
        assert!(filter.matches(&binding("*", PatternType::Literal)));
        assert!(filter.matches(&binding("orders-", PatternType::Prefixed)));
        assert!(!filter.matches(&binding("orders", PatternType::Literal)));
        assert!(!filter.matches(&binding("payments", PatternType::Prefixed)));
        let exact = AclFilter {
            resource_name: Some("orders-".into()),
            pattern_type: Some(PatternType::Literal),
            ..AclFilter::default()
        };
        assert!(!exact.matches(&binding("orders-", PatternType::Prefixed)));
    }

    #[test]
    fn bindings_refuse_filter_only_values() {
        let mut b = binding("t", PatternType::Match);
        assert!(b.validate().is_err());
        b.pattern_type = PatternType::Literal;
        assert!(b.validate().is_ok());
        b.host = "example.com".into();
        assert!(b.validate().is_err());
    }
}
