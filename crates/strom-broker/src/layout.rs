//! [`Layout`]: where topics live in the data directory, and the renames that make creating
//! and deleting a topic atomic across a crash.
//!
//! ```text
//! topics/<name>/   one folder per live topic, named exactly by the topic (at most 249 bytes)
//! staging/<id>/    a topic being created: its partition folders and topic.json are made
//!                  here, then the folder is renamed to topics/<name> (the commit point)
//! deleted/<id>/    a topic being removed: renamed here from topics/ (the commit point),
//!                  then removed; its topic.json still names it
//! ```
//! `<id>` is 32 generated hex digits. Only `topics/` holds names a client chose, and nothing
//! but topic folders lives there, so no legal topic name (`.creating-x` included) can reach a
//! staging or deleted folder, and every path component stays under the 255-byte limit.
//! Leftovers in `staging/` and `deleted/` are removed at start, each with a log line.
//!
//! Data directories of the previous layout built topics in `topics/.creating-<name>`. Such a
//! folder is a leftover only when its `topic.json` is missing or names `<name>` (the topic it
//! was building); a folder whose `topic.json` names `.creating-<name>` is a real topic with
//! that (legal) name and opens like any other.
//!
//! This module never touches partition logs; [`crate::Broker`] opens and closes them.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::topic::{format_id, TopicMeta, TOPIC_FILE};
use crate::BrokerError;

const TOPICS: &str = "topics";
const STAGING: &str = "staging";
const DELETED: &str = "deleted";
/// The staging prefix of the previous layout, inside `topics/`.
const LEGACY_STAGING_PREFIX: &str = ".creating-";

/// Test hook: when the environment variable `STROM_TEST_CRASH_AT` names a crash point, the
/// process kills itself with SIGKILL there, so crash tests can stop a create or a delete
/// between any two of its steps. Unset (always, in production) this is one cached check.
pub(crate) fn crash_point(point: &str) {
    static WANTED: OnceLock<Option<String>> = OnceLock::new();
    let wanted = WANTED.get_or_init(|| std::env::var("STROM_TEST_CRASH_AT").ok());
    if wanted.as_deref() == Some(point) {
        tracing::warn!(point, "STROM_TEST_CRASH_AT: killing the process");
        // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
        unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> BrokerError + '_ {
    move |source| BrokerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A fresh folder name for `staging/` or `deleted/`.
fn generated_id() -> String {
    format_id(&crate::broker::random_bytes::<16>())
}

/// The topic folders of one data directory.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
}

impl Layout {
    pub(crate) fn new(root: &Path) -> Layout {
        Layout {
            root: root.to_path_buf(),
        }
    }

    pub(crate) fn topics(&self) -> PathBuf {
        self.root.join(TOPICS)
    }
    fn staging(&self) -> PathBuf {
        self.root.join(STAGING)
    }
    fn deleted(&self) -> PathBuf {
        self.root.join(DELETED)
    }

    /// Creates the three folders and removes what an interrupted create or delete left in
    /// `staging/` and `deleted/`, logging each. Errors: `Io` if a folder cannot be created.
    pub(crate) fn prepare(&self) -> Result<(), BrokerError> {
        for dir in [self.topics(), self.staging(), self.deleted()] {
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        }
        strom_log::sync_dir(&self.root)?;
        remove_leftovers(&self.staging(), "removing an interrupted topic creation");
        remove_leftovers(&self.deleted(), "finishing an interrupted topic deletion");
        Ok(())
    }

    /// Every topic folder with its metadata, removing the previous layout's staging leftovers.
    /// Errors: `Io` for an unreadable folder or a topic folder without valid metadata.
    pub(crate) fn topic_dirs(&self) -> Result<Vec<(PathBuf, TopicMeta)>, BrokerError> {
        let topics = self.topics();
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&topics).map_err(io(&topics))? {
            let path = entry.map_err(io(&topics))?.path();
            if !path.is_dir() {
                tracing::warn!(path = %path.display(), "ignoring a file that is not a topic folder");
                continue;
            }
            let folder = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let meta = if path.join(TOPIC_FILE).exists() {
                Some(TopicMeta::load(&path)?)
            } else {
                None
            };
            if is_legacy_leftover(&folder, meta.as_ref()) {
                tracing::warn!(path = %path.display(),
                    "removing an interrupted topic creation of the previous data layout");
                std::fs::remove_dir_all(&path).map_err(io(&path))?;
                continue;
            }
            // A topic folder without metadata fails here, loudly: never guess about data.
            let meta = match meta {
                Some(meta) => meta,
                None => TopicMeta::load(&path)?,
            };
            out.push((path, meta));
        }
        strom_log::sync_dir(&topics)?;
        Ok(out)
    }

    /// Builds a topic in `staging/<id>`: its partition folders, then its `topic.json`.
    /// On failure the half-built folder is removed. Errors: `Io`, `Log`.
    pub(crate) fn stage(&self, meta: &TopicMeta) -> Result<PathBuf, BrokerError> {
        let staged = self.staging().join(generated_id());
        let built = build(&staged, meta);
        if built.is_err() {
            if let Err(e) = std::fs::remove_dir_all(&staged) {
                tracing::error!(path = %staged.display(), error = %e,
                    "cannot remove a failed topic creation; it is removed at the next start");
            }
        }
        built.map(|()| staged)
    }

    /// Moves a staged topic to `topics/<name>`: from here on the topic exists.
    /// Errors: `Io` (the staged folder is then removed).
    pub(crate) fn publish(&self, staged: &Path, name: &str) -> Result<PathBuf, BrokerError> {
        let dir = self.topics().join(name);
        crash_point("create:before-publish");
        if let Err(e) = std::fs::rename(staged, &dir) {
            self.purge(staged);
            return Err(io(&dir)(e));
        }
        strom_log::sync_dir(&self.topics())?;
        crash_point("create:published");
        strom_log::sync_dir(&self.staging())?;
        Ok(dir)
    }

    /// Moves a topic folder to `deleted/<id>`: from here on the topic is gone.
    /// Errors: `Io` if the rename fails (the topic is then untouched).
    pub(crate) fn retire(&self, dir: &Path) -> Result<PathBuf, BrokerError> {
        let retired = self.deleted().join(generated_id());
        crash_point("delete:before-retire");
        std::fs::rename(dir, &retired).map_err(io(dir))?;
        strom_log::sync_dir(&self.topics())?;
        crash_point("delete:retired");
        strom_log::sync_dir(&self.deleted())?;
        Ok(retired)
    }

    /// Removes a staged or retired folder; a failure is logged (the next start retries).
    pub(crate) fn purge(&self, dir: &Path) {
        if let Err(e) = std::fs::remove_dir_all(dir) {
            tracing::error!(path = %dir.display(), error = %e,
                "cannot remove a topic folder; it is removed at the next start");
        }
    }
}

fn build(staged: &Path, meta: &TopicMeta) -> Result<(), BrokerError> {
    std::fs::create_dir(staged).map_err(io(staged))?;
    for p in 0..meta.partitions {
        let dir = staged.join(p.to_string());
        std::fs::create_dir(&dir).map_err(io(&dir))?;
    }
    crash_point("create:partitions-staged");
    meta.save(staged)
}

/// A previous-layout staging folder: `.creating-<name>` that holds no metadata, or metadata
/// of the topic `<name>` it was building (a real topic named `.creating-…` names itself).
fn is_legacy_leftover(folder: &str, meta: Option<&TopicMeta>) -> bool {
    let Some(building) = folder.strip_prefix(LEGACY_STAGING_PREFIX) else {
        return false;
    };
    match meta {
        None => true,
        Some(meta) => meta.name != folder && meta.name == building,
    }
}

fn remove_leftovers(dir: &Path, what: &str) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::error!(path = %dir.display(), error = %e, "cannot list leftovers");
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let topic = TopicMeta::load(&path).map(|m| m.name).unwrap_or_default();
        tracing::warn!(path = %path.display(), topic, "{what}");
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        if let Err(e) = removed {
            tracing::error!(path = %path.display(), error = %e, "cannot remove a leftover");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str) -> TopicMeta {
        TopicMeta {
            name: name.to_string(),
            id: "00".repeat(16),
            partitions: 1,
            config: Default::default(),
        }
    }

    #[test]
    fn a_real_topic_named_like_a_legacy_staging_folder_is_kept() {
        assert!(!is_legacy_leftover(
            ".creating-x",
            Some(&meta(".creating-x"))
        ));
        assert!(is_legacy_leftover(".creating-x", Some(&meta("x"))));
        assert!(is_legacy_leftover(".creating-x", None));
        assert!(!is_legacy_leftover("x", Some(&meta("x"))));
        // A legacy staging folder of a topic itself named `.creating-x`.
        assert!(is_legacy_leftover(
            ".creating-.creating-x",
            Some(&meta(".creating-x"))
        ));
    }
}
