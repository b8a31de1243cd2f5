//! Errors of the security services. Messages never contain a secret (password, key, token)
//! or a server path; front ends map them to Kafka error codes or HTTP problems.

use strom_broker::BrokerError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Reading or writing `__strom_security` failed.
    #[error("cannot store security state: {0}")]
    Storage(String),
    /// A request was malformed or asked for something invalid (message says what).
    #[error("{0}")]
    Invalid(String),
    /// Credentials or a token were rejected (message is safe to show the client).
    #[error("authentication failed: {0}")]
    Authentication(String),
    /// The thing named does not exist.
    #[error("{0}")]
    NotFound(String),
}

impl From<BrokerError> for AuthError {
    fn from(err: BrokerError) -> Self {
        // Broker errors shown to clients are path-free already (see strom-broker's errors).
        AuthError::Storage(err.to_string())
    }
}
