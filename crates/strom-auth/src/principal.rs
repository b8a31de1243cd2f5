//! Who a client is: a [`Principal`] in Kafka's `Type:name` form, and the [`Session`] a front
//! end builds per connection or request (principal, client address, listener name), which
//! every authorization check and audit line uses.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

/// A principal as Kafka writes it: `User:alice`. Anonymous clients are `User:ANONYMOUS`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Principal {
    kind: String,
    name: String,
}

impl Principal {
    /// The user principal `User:<name>`.
    pub fn user(name: impl Into<String>) -> Principal {
        Principal {
            kind: "User".to_string(),
            name: name.into(),
        }
    }

    /// `User:ANONYMOUS`, the principal of unauthenticated clients (Kafka's name).
    pub fn anonymous() -> Principal {
        Principal::user("ANONYMOUS")
    }

    /// Parses `Type:name`. Errors: `None` without a `:` or with an empty type or name.
    pub fn parse(s: &str) -> Option<Principal> {
        let (kind, name) = s.split_once(':')?;
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        Some(Principal {
            kind: kind.to_string(),
            name: name.to_string(),
        })
    }

    pub fn kind(&self) -> &str {
        &self.kind
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn is_anonymous(&self) -> bool {
        self.kind == "User" && self.name == "ANONYMOUS"
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.name)
    }
}

/// An authenticated connection (Kafka) or request (HTTP).
#[derive(Debug, Clone)]
pub struct Session {
    pub principal: Principal,
    /// The client's address; ACL hosts match its IP.
    pub peer: SocketAddr,
    /// The listener's name (`PLAINTEXT`, `SASL_SSL`, `http`, ...), for audit lines.
    pub listener: Arc<str>,
}

impl Session {
    /// An unauthenticated session: `User:ANONYMOUS` from `peer` on `listener`.
    pub fn anonymous(peer: SocketAddr, listener: Arc<str>) -> Session {
        Session {
            principal: Principal::anonymous(),
            peer,
            listener,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_print_and_parse_in_kafka_form() {
        let p = Principal::user("alice");
        assert_eq!(p.to_string(), "User:alice");
        assert_eq!(Principal::parse("User:alice"), Some(p));
        // Names may contain ':' (a DN or an email); only the first one separates.
        assert_eq!(
            Principal::parse("User:CN=a:b").map(|p| p.name().to_string()),
            Some("CN=a:b".to_string())
        );
        assert_eq!(Principal::parse("alice"), None);
        assert_eq!(Principal::parse(":alice"), None);
        assert!(Principal::anonymous().is_anonymous());
    }
}
