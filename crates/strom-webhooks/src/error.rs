//! [`WebhookError`]: every way a webhook operation fails. Mapped to HTTP statuses only in
//! `strom-http/src/error.rs`.

use strom_broker::{BrokerError, GroupError};

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Bad input: a name, URL, filter, schedule or field that cannot be accepted.
    #[error("{0}")]
    Invalid(String),
    /// The target address is refused by the SSRF policy.
    #[error("{0}")]
    TargetRefused(String),
    #[error("subscription '{0}' not found")]
    NotFound(String),
    #[error("subscription '{0}' already exists")]
    Exists(String),
    /// A derived resource (dead-letter topic, group) belongs to something else.
    #[error("{0}")]
    Conflict(String),
    #[error("topic '{0}' not found")]
    UnknownTopic(String),
    /// No record at the asked-for position (resend): partition or offset out of range.
    #[error("{0}")]
    OutOfRange(String),
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error("group coordinator: {0}")]
    Group(#[from] GroupError),
}

pub type Result<T> = std::result::Result<T, WebhookError>;
