//! The remote layout of a partition and its manifest.
//!
//! ```text
//! topics/<topic>/topic.json                                 topic metadata (for restore)
//! topics/<topic>/<topic-id>/<p>/segments/<base:020>-<n>.log       segment bytes, as on disk
//! topics/<topic>/<topic-id>/<p>/segments/<base:020>-<n>.index     its offset index
//! topics/<topic>/<topic-id>/<p>/segments/<base:020>-<n>.timeindex its time index
//! topics/<topic>/<topic-id>/<p>/segments/<base:020>-<n>.snapshot  producer state at its end
//! topics/<topic>/<topic-id>/<p>/manifest/<version:020>.json       manifest versions
//! ```
//!
//! Objects are immutable and uniquely named (`<n>` is random per upload attempt), so an
//! upload never overwrites anything a manifest references. A manifest version is written
//! create-only; the highest version is the truth. The writer's epoch is inside it: a new
//! writer first creates the next version with a higher epoch, so an older writer's next
//! create collides (the name is taken) and, reading the winner's epoch, stops: it is fenced.
//! An object no manifest references (an upload cut short before its manifest) is an orphan
//! that the writer deletes on its next pass.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::{RemoteStore, TierError};

/// Which partition's remote log.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartitionKey {
    pub topic: String,
    pub topic_id: String,
    pub partition: i32,
}

impl PartitionKey {
    /// The partition's folder in the store.
    pub fn root(&self) -> String {
        format!("topics/{}/{}/{}", self.topic, self.topic_id, self.partition)
    }
    pub fn manifest_prefix(&self) -> String {
        format!("{}/manifest/", self.root())
    }
    pub fn segments_prefix(&self) -> String {
        format!("{}/segments/", self.root())
    }
    /// Key of manifest `version`.
    pub fn manifest_key(&self, version: u64) -> String {
        format!("{}{version:020}.json", self.manifest_prefix())
    }
}

/// Key of a topic's metadata object.
pub fn topic_meta_key(topic: &str) -> String {
    format!("topics/{topic}/topic.json")
}

/// One uploaded segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteSegment {
    pub base_offset: i64,
    /// One past its last offset.
    pub end_offset: i64,
    /// Bytes of the `.log` object.
    pub size: u64,
    pub index_size: u64,
    pub timeindex_size: u64,
    pub max_timestamp: i64,
    /// Object key without extension (`.log`, `.index`, `.timeindex`, `.snapshot`).
    pub key: String,
}

/// A partition's remote log: which segments are where.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u64,
    /// Epoch of the writer that wrote this version.
    pub epoch: u64,
    /// First readable remote offset: the first segment's base, or above it within that
    /// segment after DeleteRecords (retention drops whole segments).
    pub log_start_offset: i64,
    pub segments: Vec<RemoteSegment>,
}

impl Manifest {
    /// One past the last remote offset (the log start when empty).
    pub fn end_offset(&self) -> i64 {
        self.segments
            .last()
            .map_or(self.log_start_offset, |s| s.end_offset)
    }
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.size).sum()
    }
    /// The segment holding `offset`.
    pub fn segment_for(&self, offset: i64) -> Option<&RemoteSegment> {
        let i = self.segments.partition_point(|s| s.end_offset <= offset);
        self.segments.get(i).filter(|s| s.base_offset <= offset)
    }
}

/// The manifest's writer was fenced by a newer epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fenced {
    pub ours: u64,
    pub theirs: u64,
}

/// The newest manifest of `key`, if any.
/// Errors: `Unavailable`, `Corrupt` (an unparsable manifest).
pub fn load_latest(
    store: &dyn RemoteStore,
    key: &PartitionKey,
) -> Result<Option<Manifest>, TierError> {
    let mut versions: Vec<u64> = store
        .list(&key.manifest_prefix())?
        .into_iter()
        .filter_map(|l| {
            let name = l.key.rsplit('/').next()?;
            name.strip_suffix(".json")?.parse::<u64>().ok()
        })
        .collect();
    versions.sort_unstable();
    let Some(&latest) = versions.last() else {
        return Ok(None);
    };
    read_version(store, key, latest).map(Some)
}

fn read_version(
    store: &dyn RemoteStore,
    key: &PartitionKey,
    v: u64,
) -> Result<Manifest, TierError> {
    let bytes = store.get(&key.manifest_key(v))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| TierError::Corrupt(format!("manifest {} version {v}: {e}", key.root())))
}

/// Manifest versions kept behind the newest (readers that listed just before a write).
const KEEP_VERSIONS: u64 = 3;

/// The single writer of a partition's manifest under one epoch.
pub struct ManifestWriter {
    store: Arc<dyn RemoteStore>,
    key: PartitionKey,
    epoch: u64,
    current: Manifest,
}

impl ManifestWriter {
    /// Takes over the partition's remote log: loads the newest manifest and creates the next
    /// version under a higher epoch, which fences every earlier writer.
    /// Errors: `Unavailable`, `Corrupt`, `Fenced` if other writers keep winning.
    pub fn acquire(
        store: Arc<dyn RemoteStore>,
        key: PartitionKey,
    ) -> Result<ManifestWriter, TierError> {
        for _ in 0..5 {
            let latest = load_latest(store.as_ref(), &key)?.unwrap_or_default();
            let next = Manifest {
                version: latest.version + 1,
                epoch: latest.epoch + 1,
                ..latest.clone()
            };
            match put_manifest(store.as_ref(), &key, &next) {
                Ok(()) => {
                    return Ok(ManifestWriter {
                        epoch: next.epoch,
                        store,
                        key,
                        current: next,
                    })
                }
                Err(TierError::AlreadyExists(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(TierError::Fenced(format!(
            "{}: could not take the manifest",
            key.root()
        )))
    }

    pub fn manifest(&self) -> &Manifest {
        &self.current
    }
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
    pub fn key(&self) -> &PartitionKey {
        &self.key
    }

    /// Writes `next` (segments and log start) as the next version under this writer's epoch.
    /// Errors: `Fenced` when another writer created that version first (this writer must
    /// stop writing), `Unavailable` (nothing changed; retry later).
    pub fn commit(&mut self, mut next: Manifest) -> Result<(), TierError> {
        next.version = self.current.version + 1;
        next.epoch = self.epoch;
        match put_manifest(self.store.as_ref(), &self.key, &next) {
            Ok(()) => {}
            Err(TierError::AlreadyExists(_)) => {
                let stored = read_version(self.store.as_ref(), &self.key, next.version);
                if let Ok(m) = &stored {
                    if m.epoch == self.epoch {
                        return self.adopt_own_write(next, m.clone());
                    }
                }
                let theirs = stored.map(|m| m.epoch).unwrap_or(u64::MAX);
                return Err(TierError::Fenced(format!(
                    "{}: manifest version {} was written by epoch {theirs}, ours is {}",
                    self.key.root(),
                    next.version,
                    self.epoch
                )));
            }
            Err(e) => return Err(e),
        }
        self.committed(next);
        Ok(())
    }

    fn committed(&mut self, next: Manifest) {
        self.current = next;
        if let Some(old) = self.current.version.checked_sub(KEEP_VERSIONS + 1) {
            // Best effort: an old version left behind is only garbage.
            let _ = self.store.delete(&self.key.manifest_key(old));
        }
    }

    /// The version `next` wanted exists under this writer's own epoch: an earlier write of
    /// ours whose answer was lost (a connection cut after the store stored it, then a retry
    /// found it). The store's version is the truth: identical, the commit succeeded; different
    /// (an earlier attempt reported as failed), it becomes current and the caller retries.
    fn adopt_own_write(&mut self, next: Manifest, stored: Manifest) -> Result<(), TierError> {
        let same = stored == next;
        let version = stored.version;
        self.committed(stored);
        if same {
            return Ok(());
        }
        Err(TierError::Unavailable(format!(
            "manifest version {version} holds an earlier attempt of this writer; reloaded"
        )))
    }
}

fn put_manifest(
    store: &dyn RemoteStore,
    key: &PartitionKey,
    m: &Manifest,
) -> Result<(), TierError> {
    let bytes = serde_json::to_vec_pretty(m)
        .map_err(|e| TierError::Corrupt(format!("manifest encoding: {e}")))?;
    store.put_new(&key.manifest_key(m.version), Bytes::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ObjectStoreBackend, StoreConfig};

    fn store(dir: &std::path::Path) -> Arc<dyn RemoteStore> {
        let url = format!("file://{}", dir.display());
        Arc::new(
            ObjectStoreBackend::open(&StoreConfig {
                url,
                ..Default::default()
            })
            .unwrap(),
        )
    }

    fn key() -> PartitionKey {
        PartitionKey {
            topic: "t".into(),
            topic_id: "id".into(),
            partition: 0,
        }
    }

    #[test]
    fn a_new_writer_fences_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let mut old = ManifestWriter::acquire(Arc::clone(&s), key()).unwrap();
        let mut m = old.manifest().clone();
        m.log_start_offset = 5;
        old.commit(m.clone()).unwrap();
        let mut new = ManifestWriter::acquire(Arc::clone(&s), key()).unwrap();
        assert!(new.epoch() > old.epoch());
        assert_eq!(new.manifest().log_start_offset, 5);
        let err = old.commit(m.clone()).unwrap_err();
        assert!(matches!(err, TierError::Fenced(_)), "{err}");
        new.commit(m).unwrap();
        let latest = load_latest(s.as_ref(), &key()).unwrap().unwrap();
        assert_eq!(latest.epoch, new.epoch());
    }

    #[test]
    fn a_lost_answer_to_our_own_write_is_not_a_fence() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        let mut w = ManifestWriter::acquire(Arc::clone(&s), key()).unwrap();
        let mut m = w.manifest().clone();
        m.log_start_offset = 7;
        // The store stored version 2 but the writer never heard (its connection was cut).
        let mut landed = m.clone();
        landed.version = w.manifest().version + 1;
        landed.epoch = w.epoch();
        put_manifest(s.as_ref(), &key(), &landed).unwrap();
        w.commit(m.clone()).unwrap();
        assert_eq!(w.manifest(), &landed);
        // An earlier attempt with other content: adopted, and the caller told to retry.
        let mut other = landed.clone();
        other.version += 1;
        other.log_start_offset = 9;
        put_manifest(s.as_ref(), &key(), &other).unwrap();
        let err = w.commit(m).unwrap_err();
        assert!(matches!(err, TierError::Unavailable(_)), "{err}");
        assert_eq!(w.manifest(), &other);
    }

    #[test]
    fn segment_lookup_by_offset() {
        let seg = |b, e| RemoteSegment {
            base_offset: b,
            end_offset: e,
            size: 1,
            index_size: 0,
            timeindex_size: 0,
            max_timestamp: 0,
            key: String::new(),
        };
        let m = Manifest {
            segments: vec![seg(0, 10), seg(10, 20)],
            ..Default::default()
        };
        assert_eq!(m.segment_for(0).map(|s| s.base_offset), Some(0));
        assert_eq!(m.segment_for(10).map(|s| s.base_offset), Some(10));
        assert_eq!(m.segment_for(19).map(|s| s.base_offset), Some(10));
        assert!(m.segment_for(20).is_none());
        assert_eq!(m.end_offset(), 20);
    }
}
