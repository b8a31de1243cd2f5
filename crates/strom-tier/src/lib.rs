//! Tiered storage for Strom: closed log segments and a per-partition manifest on object
//! storage (S3 and S3-compatible stores through `object_store`, or a local directory).
//!
//! - [`store`]: the blocking [`RemoteStore`] trait and its `object_store` back end.
//! - [`manifest`]: the remote layout, the manifest of a partition's remote segments and its
//!   create-only versioned writes, which fence a second writer.
//! - [`reader`]: reads of remote segments (index lookup, ranged reads through a bounded
//!   chunk [`cache`], read-ahead for sequential readers).
//!
//! What to upload and when, local retention and restore live in `strom-broker`'s
//! `tiering` module, which owns the partitions; this crate knows nothing about them.

pub mod cache;
pub mod manifest;
mod readahead;
pub mod reader;
pub mod store;

pub use cache::{CacheStats, ChunkCache};
pub use manifest::{Fenced, Manifest, ManifestWriter, PartitionKey, RemoteSegment};
pub use reader::RemoteReader;
pub use store::{Listed, ObjectStoreBackend, RemoteStore, StoreConfig};

/// Failures of the object store or of the remote data.
#[derive(Debug, thiserror::Error)]
pub enum TierError {
    /// The store could not be reached or answered with an error; retriable.
    #[error("object store unavailable: {0}")]
    Unavailable(String),
    /// A create-only write found the object already there.
    #[error("object already exists: {0}")]
    AlreadyExists(String),
    #[error("object not found: {0}")]
    NotFound(String),
    /// The stored data does not parse (a manifest, an index, a batch).
    #[error("corrupt remote data: {0}")]
    Corrupt(String),
    /// Another writer holds a newer epoch of this partition's remote log.
    #[error("fenced: {0}")]
    Fenced(String),
    #[error("tiered storage configuration: {0}")]
    Config(String),
}

impl From<object_store::Error> for TierError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::AlreadyExists { path, .. } => TierError::AlreadyExists(path),
            object_store::Error::Precondition { path, .. } => TierError::AlreadyExists(path),
            object_store::Error::NotFound { path, .. } => TierError::NotFound(path),
            // The error text names the store's URL and key, never credentials.
            other => TierError::Unavailable(other.to_string()),
        }
    }
}
