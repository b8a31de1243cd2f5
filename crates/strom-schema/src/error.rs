//! [`SchemaError`]: every way a registry operation fails, each with the Confluent Schema
//! Registry error code it is answered with ([`SchemaError::code`]); the HTTP status is the
//! code's first three digits (strom-http's `error.rs` does that mapping).

use thiserror::Error;

/// A failed registry operation.
#[derive(Debug, Error)]
pub enum SchemaError {
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    #[error("Version {0} not found.")]
    VersionNotFound(String),
    #[error("Schema {0} not found")]
    SchemaNotFound(String),
    #[error("Subject '{0}' was soft deleted. Set permanent=true to delete permanently")]
    SubjectSoftDeleted(String),
    #[error("Subject '{0}' was not deleted first before being permanently deleted")]
    SubjectNotSoftDeleted(String),
    #[error(
        "Subject '{0}' Version {1} was soft deleted. Set permanent=true to delete permanently"
    )]
    VersionSoftDeleted(String, i32),
    #[error("Subject '{0}' Version {1} was not deleted first before being permanently deleted")]
    VersionNotSoftDeleted(String, i32),
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    SubjectConfigNotFound(String),
    #[error("Subject '{0}' does not have subject-level mode configured")]
    SubjectModeNotFound(String),
    /// The new schema is incompatible; the messages say which field and why.
    #[error("Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]", .messages.join(", "))]
    Incompatible {
        subject: String,
        messages: Vec<String>,
        /// 409 (Confluent's historical code, the default) or 40901 (its current one).
        code: u32,
    },
    #[error("Invalid schema: {0}")]
    InvalidSchema(String),
    #[error("The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"")]
    InvalidVersion(String),
    #[error("Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive")]
    InvalidCompatibilityLevel,
    #[error("Invalid mode. Valid values are READWRITE, READONLY, READONLY_OVERRIDE and IMPORT")]
    InvalidMode,
    #[error("{0}")]
    OperationNotPermitted(String),
    #[error("One or more references exist to the schema {{subject={0},version={1}}}")]
    ReferenceExists(String, i32),
    #[error("Invalid subject {0}")]
    InvalidSubject(String),
    #[error("Schema too large: {0}")]
    SchemaTooLarge(String),
    /// The backing store failed (details are logged, not sent).
    #[error("Error while storing the schema registry state")]
    Store(String),
}

impl SchemaError {
    /// The Confluent error code (`error_code` in the response body).
    pub fn code(&self) -> u32 {
        match self {
            SchemaError::SubjectNotFound(_) => 40401,
            SchemaError::VersionNotFound(_) => 40402,
            SchemaError::SchemaNotFound(_) => 40403,
            SchemaError::SubjectSoftDeleted(_) => 40404,
            SchemaError::SubjectNotSoftDeleted(_) => 40405,
            SchemaError::VersionSoftDeleted(..) => 40406,
            SchemaError::VersionNotSoftDeleted(..) => 40407,
            SchemaError::SubjectConfigNotFound(_) => 40408,
            SchemaError::SubjectModeNotFound(_) => 40409,
            SchemaError::Incompatible { code, .. } => *code,
            SchemaError::InvalidSchema(_) => 42201,
            SchemaError::InvalidVersion(_) => 42202,
            SchemaError::InvalidCompatibilityLevel => 42203,
            SchemaError::InvalidMode => 42204,
            SchemaError::OperationNotPermitted(_) => 42205,
            SchemaError::ReferenceExists(..) => 42206,
            SchemaError::InvalidSubject(_) => 42208,
            SchemaError::SchemaTooLarge(_) => 42209,
            SchemaError::Store(_) => 50001,
        }
    }

    /// The HTTP status: the code's first three digits.
    pub fn status(&self) -> u16 {
        let code = self.code();
        if code < 1000 {
            code as u16
        } else {
            (code / 100) as u16
        }
    }
}

pub type SchemaResult<T> = Result<T, SchemaError>;
