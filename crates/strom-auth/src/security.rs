//! [`Security`]: the bundle of security services a front end is given, opened once per
//! server over `__strom_security`.

use std::sync::Arc;

use strom_broker::Broker;

use crate::sasl::{FailureThrottle, SaslConfig};
use crate::store::Store;
use crate::{
    ApiKeys, AuthError, Authorizer, AuthorizerConfig, Quotas, TokenConfig, TokenValidator,
    UserStore,
};

/// Security settings the services need (listener settings belong to the front ends).
#[derive(Debug, Clone, Default)]
pub struct SecurityConfig {
    pub authorizer: AuthorizerConfig,
    pub sasl: SaslConfig,
    /// Bearer tokens (SASL/OAUTHBEARER, HTTP `Authorization: Bearer`).
    pub tokens: TokenConfig,
}

pub struct Security {
    pub authorizer: Authorizer,
    pub users: UserStore,
    pub quotas: Quotas,
    pub tokens: TokenValidator,
    /// Failed authentications per client IP (SASL, and HTTP logins).
    pub auth_failures: FailureThrottle,
    /// HTTP API keys (digests only).
    pub api_keys: ApiKeys,
    config: SecurityConfig,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print credentials or keys.
        f.debug_struct("Security")
            .field("authorization", &self.authorizer.enabled())
            .finish_non_exhaustive()
    }
}

impl Security {
    /// Opens the services over `__strom_security` (created if needed). Blocking.
    /// Errors: `Storage` when the state topic cannot be read; `Invalid` when authorization is
    /// enabled with neither a super user nor any ACL (everyone would be locked out), or when
    /// the token settings are incomplete or a key file cannot be read
    /// (see [`TokenValidator::from_config`]).
    pub fn open(broker: Arc<Broker>, config: SecurityConfig) -> Result<Arc<Security>, AuthError> {
        let tokens = TokenValidator::from_config(&config.tokens)?;
        let store = Arc::new(Store::open(broker)?);
        let security = Security::with_store(store, config, tokens);
        let a = &security.authorizer;
        if a.enabled() && a.config().super_users.is_empty() && !a.has_acls() {
            return Err(AuthError::Invalid(
                "authorization is enabled but there is no super user and no ACL, so no client \
                 could do anything: set super_users (e.g. \"User:admin\") or create ACLs first"
                    .into(),
            ));
        }
        Ok(Arc::new(security))
    }

    /// Everything allowed, nothing stored: the behaviour without security configured, and
    /// the default for front ends started without it (tests, embedding).
    pub fn disabled() -> Arc<Security> {
        Arc::new(Security::with_store(
            Arc::new(Store::in_memory()),
            SecurityConfig::default(),
            TokenValidator::default(),
        ))
    }

    fn with_store(store: Arc<Store>, config: SecurityConfig, tokens: TokenValidator) -> Security {
        Security {
            authorizer: Authorizer::new(config.authorizer.clone(), Arc::clone(&store)),
            users: UserStore::new(Arc::clone(&store)),
            quotas: Quotas::new(Arc::clone(&store)),
            tokens,
            auth_failures: FailureThrottle::new(config.sasl.max_failures_per_ip_per_sec),
            api_keys: ApiKeys::new(Arc::clone(&store)),
            config,
        }
    }

    pub fn config(&self) -> &SecurityConfig {
        &self.config
    }
}
