//! The quota model's vocabulary, as Kafka defines it (KIP-546, the "Quotas" section of
//! Kafka's design docs): entities (a user, a client id, or the pair, each named or the
//! default), the quota keys, the eight levels of precedence that pick which entity's quota
//! applies to a client, and the filters of DescribeClientQuotas. No state, no I/O.

use std::fmt;

use crate::AuthError;

/// Entity type names as the wire and the HTTP API spell them.
pub const ENTITY_USER: &str = "user";
pub const ENTITY_CLIENT_ID: &str = "client-id";
/// Kafka's connection-rate entity, which Strom does not serve.
const IP: &str = "ip";

/// One component's name: a given name, or the default for its type (null on the wire).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntityName {
    Default,
    Name(String),
}

impl EntityName {
    /// The wire form: `None` is the default.
    pub fn from_wire(name: Option<&str>) -> EntityName {
        match name {
            None => EntityName::Default,
            Some(n) => EntityName::Name(n.to_string()),
        }
    }

    pub fn as_wire(&self) -> Option<&str> {
        match self {
            EntityName::Default => None,
            EntityName::Name(n) => Some(n),
        }
    }
}

/// What a quota is set on: a user, a client id, or both (at least one).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QuotaEntity {
    pub user: Option<EntityName>,
    pub client_id: Option<EntityName>,
}

impl QuotaEntity {
    /// Builds an entity from `(type, name)` pairs as AlterClientQuotas carries them (`None`
    /// names the default). Errors: `Invalid` when empty, when a type repeats, or for a type
    /// other than `user` and `client-id`.
    pub fn from_parts<'a, I>(parts: I) -> Result<QuotaEntity, AuthError>
    where
        I: IntoIterator<Item = (&'a str, Option<&'a str>)>,
    {
        let mut entity = QuotaEntity::default();
        for (kind, name) in parts {
            let slot = match kind {
                ENTITY_USER => &mut entity.user,
                ENTITY_CLIENT_ID => &mut entity.client_id,
                other => return Err(unknown_type(other)),
            };
            if slot.is_some() {
                return Err(AuthError::Invalid(format!(
                    "entity type '{kind}' given more than once"
                )));
            }
            *slot = Some(EntityName::from_wire(name));
        }
        if entity.user.is_none() && entity.client_id.is_none() {
            return Err(AuthError::Invalid(
                "a quota entity needs a user, a client-id or both".into(),
            ));
        }
        Ok(entity)
    }

    /// The `(type, name)` pairs, user first.
    pub fn parts(&self) -> Vec<(&'static str, Option<&str>)> {
        let mut parts = Vec::with_capacity(2);
        if let Some(u) = &self.user {
            parts.push((ENTITY_USER, u.as_wire()));
        }
        if let Some(c) = &self.client_id {
            parts.push((ENTITY_CLIENT_ID, c.as_wire()));
        }
        parts
    }
}

impl fmt::Display for QuotaEntity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .parts()
            .into_iter()
            .map(|(k, n)| match n {
                Some(n) => format!("{k}={n}"),
                None => format!("{k}=<default>"),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

fn unknown_type(kind: &str) -> AuthError {
    if kind == IP {
        AuthError::Invalid(
            "ip quotas (connection_creation_rate) are not supported; use user or client-id".into(),
        )
    } else {
        AuthError::Invalid(format!(
            "unknown entity type '{kind}': use 'user' or 'client-id'"
        ))
    }
}

/// The quota keys Strom enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QuotaKey {
    /// Bytes per second a quota group may produce.
    ProducerByteRate,
    /// Bytes per second a quota group may fetch.
    ConsumerByteRate,
    /// Percent of one request handler's time a quota group may use.
    RequestPercentage,
}

impl QuotaKey {
    pub const ALL: [QuotaKey; 3] = [
        QuotaKey::ProducerByteRate,
        QuotaKey::ConsumerByteRate,
        QuotaKey::RequestPercentage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QuotaKey::ProducerByteRate => "producer_byte_rate",
            QuotaKey::ConsumerByteRate => "consumer_byte_rate",
            QuotaKey::RequestPercentage => "request_percentage",
        }
    }

    /// Errors: `Invalid` naming the unknown key.
    pub fn parse(key: &str) -> Result<QuotaKey, AuthError> {
        QuotaKey::ALL
            .into_iter()
            .find(|k| k.as_str() == key)
            .ok_or_else(|| {
                AuthError::Invalid(format!(
                    "unknown quota key '{key}': use producer_byte_rate, consumer_byte_rate or \
                     request_percentage"
                ))
            })
    }

    /// Errors: `Invalid` unless `value` is positive and finite, and a whole number for the
    /// byte rates (Kafka stores those as longs).
    pub fn validate(self, value: f64) -> Result<(), AuthError> {
        let whole = self != QuotaKey::RequestPercentage;
        if !value.is_finite() || value <= 0.0 || (whole && value.fract() != 0.0) {
            let kind = if whole {
                "a positive whole number"
            } else {
                "a positive number"
            };
            return Err(AuthError::Invalid(format!(
                "{} must be {kind}, not {value}",
                self.as_str()
            )));
        }
        Ok(())
    }
}

/// How one filter component matches an entity's name for its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuotaMatch {
    /// Exactly this name.
    Exact(String),
    /// The default entity of the type.
    Default,
    /// Any name, the default included, as long as the entity has the type.
    Any,
}

/// A DescribeClientQuotas filter: every component must match; `strict` also leaves out
/// entities having a type no component names.
#[derive(Debug, Clone, Default)]
pub struct QuotaFilter {
    pub components: Vec<(String, QuotaMatch)>,
    pub strict: bool,
}

impl QuotaFilter {
    /// Errors: `Invalid` for an unknown entity type or one named twice.
    pub fn validate(&self) -> Result<(), AuthError> {
        for (i, (kind, _)) in self.components.iter().enumerate() {
            if kind != ENTITY_USER && kind != ENTITY_CLIENT_ID {
                return Err(unknown_type(kind));
            }
            if self.components[..i].iter().any(|(k, _)| k == kind) {
                return Err(AuthError::Invalid(format!(
                    "duplicate filter component for entity type '{kind}'"
                )));
            }
        }
        Ok(())
    }

    pub fn matches(&self, entity: &QuotaEntity) -> bool {
        let each = self.components.iter().all(|(kind, how)| {
            let name = if kind == ENTITY_USER {
                &entity.user
            } else {
                &entity.client_id
            };
            match (how, name) {
                (_, None) => false,
                (QuotaMatch::Any, Some(_)) => true,
                (QuotaMatch::Default, Some(n)) => *n == EntityName::Default,
                (QuotaMatch::Exact(want), Some(n)) => n.as_wire() == Some(want.as_str()),
            }
        });
        each && (!self.strict || entity.parts().len() == self.components.len())
    }
}

/// The clients that share one measured rate: Kafka's quota metric tags. `None` stands for
/// "all of them" (a user quota is shared by all of that user's client ids).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Group {
    pub user: Option<String>,
    pub client_id: Option<String>,
}

/// The eight entities that may hold the quota of (`user`, `client_id`), most specific
/// first (Kafka's precedence), each with the group of clients that shares it:
/// 1. user + client-id, 2. user + default client-id, 3. user, 4. default user + client-id,
/// 5. default user + default client-id, 6. default user, 7. client-id, 8. default client-id.
pub(crate) fn candidates(user: &str, client_id: &str) -> [(QuotaEntity, Group); 8] {
    let u = || Some(EntityName::Name(user.to_string()));
    let c = || Some(EntityName::Name(client_id.to_string()));
    let d = || Some(EntityName::Default);
    let e = |user, client_id| QuotaEntity { user, client_id };
    let both = Group {
        user: Some(user.to_string()),
        client_id: Some(client_id.to_string()),
    };
    let user_only = Group {
        user: Some(user.to_string()),
        client_id: None,
    };
    let client_only = Group {
        user: None,
        client_id: Some(client_id.to_string()),
    };
    [
        (e(u(), c()), both.clone()),
        (e(u(), d()), both.clone()),
        (e(u(), None), user_only.clone()),
        (e(d(), c()), both.clone()),
        (e(d(), d()), both),
        (e(d(), None), user_only),
        (e(None, c()), client_only.clone()),
        (e(None, d()), client_only),
    ]
}
