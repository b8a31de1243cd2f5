//! Strom's security services, shared by every front end: who a client is ([`Principal`],
//! [`Session`]), the user store ([`UserStore`], SCRAM credentials only), the SASL mechanisms,
//! bearer-token validation ([`TokenValidator`]), the ACL [`Authorizer`] and client
//! [`Quotas`]. Knows nothing about sockets, TLS or HTTP: front ends authenticate a
//! connection or request into a [`Session`] and ask the one authorizer before touching
//! anything. Durable state (users, ACLs, quotas, API keys) lives in the internal compacted
//! topic `__strom_security` through [`strom_broker::StateTopic`], one key prefix per owner
//! (see `store.rs`).

pub mod acl;
mod api_keys;
mod authorizer;
mod error;
mod principal;
mod protocol;
mod quota;
pub mod sasl;
mod security;
pub mod ssl_principal;
mod store;
mod tokens;
mod users;

pub use acl::{AclBinding, AclFilter, Operation, PatternType, Permission, ResourceType};
pub use api_keys::{ApiKeyInfo, ApiKeys, API_KEY_PREFIX_TEXT};
pub use authorizer::{Authorizer, AuthorizerConfig, CLUSTER_NAME};
pub use error::AuthError;
pub use principal::{Principal, Session};
pub use protocol::SecurityProtocol;
pub use quota::{
    EntityName, QuotaAlteration, QuotaEntity, QuotaFilter, QuotaKey, QuotaMatch, QuotaValues,
    Quotas, ENTITY_CLIENT_ID, ENTITY_USER,
};
pub use security::{Security, SecurityConfig};
pub use ssl_principal::{SslPrincipalError, SslPrincipalMapper};
pub use tokens::{
    oauthbearer_error_challenge, parse_oauthbearer, ChallengeStatus, OAuthBearerMessage,
    TokenConfig, TokenValidator, ValidatedToken, OAUTHBEARER_ERROR_ACK,
};
pub use users::{ScramCredential, ScramMechanism, UserStore, MAX_ITERATIONS, MIN_ITERATIONS};
