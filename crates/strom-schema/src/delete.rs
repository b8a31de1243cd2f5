//! Deleting subjects and versions with Confluent's two steps: a soft delete hides a
//! version (it stays readable with `deleted=true`, its id stays served), a permanent
//! delete removes a soft-deleted one for good. A version that another live schema
//! references cannot be deleted.

use crate::error::{SchemaError, SchemaResult};
use crate::model::VersionRef;
use crate::registry::{find_version, referrers, Registry, State};
use crate::store::{value_bytes, Key, SchemaValue};

impl Registry {
    fn check_writable(&self, state: &State, subject: &str) -> SchemaResult<()> {
        let mode = state
            .modes
            .get(subject)
            .copied()
            .or(state.global_mode)
            .unwrap_or_default();
        if mode.read_only() {
            return Err(SchemaError::OperationNotPermitted(format!(
                "Subject {subject} is in read-only mode"
            )));
        }
        Ok(())
    }

    /// Deletes `subject`: soft first, then (`permanent`) for good. Returns the versions
    /// deleted. Errors: `SubjectNotFound`, `SubjectSoftDeleted`, `SubjectNotSoftDeleted`,
    /// `ReferenceExists`, `Store`.
    pub fn delete_subject(&self, subject: &str, permanent: bool) -> SchemaResult<Vec<i32>> {
        let _write = self.write.lock();
        let state = self.state.read();
        self.check_writable(&state, subject)?;
        let versions = state
            .subjects
            .get(subject)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| SchemaError::SubjectNotFound(subject.to_string()))?;
        let live: Vec<i32> = versions
            .iter()
            .filter(|(_, e)| !e.deleted)
            .map(|(n, _)| *n)
            .collect();
        if permanent && !live.is_empty() {
            return Err(SchemaError::SubjectNotSoftDeleted(subject.to_string()));
        }
        if !permanent && live.is_empty() {
            return Err(SchemaError::SubjectSoftDeleted(subject.to_string()));
        }
        let chosen: Vec<i32> = if permanent {
            versions.keys().copied().collect()
        } else {
            live
        };
        for n in &chosen {
            if !referrers(&state, subject, *n).is_empty() {
                return Err(SchemaError::ReferenceExists(subject.to_string(), *n));
            }
        }
        self.persist_deletions(state, subject, &chosen, permanent)?;
        Ok(chosen)
    }

    /// Deletes one version: soft first, then (`permanent`) for good. Errors:
    /// `SubjectNotFound`, `VersionNotFound`, `VersionSoftDeleted`, `VersionNotSoftDeleted`,
    /// `ReferenceExists`, `Store`.
    pub fn delete_version(
        &self,
        subject: &str,
        version: VersionRef,
        permanent: bool,
    ) -> SchemaResult<i32> {
        let _write = self.write.lock();
        let state = self.state.read();
        self.check_writable(&state, subject)?;
        let found = find_version(&state, subject, version, true)?;
        if permanent && !found.deleted {
            return Err(SchemaError::VersionNotSoftDeleted(
                subject.to_string(),
                found.version,
            ));
        }
        if !permanent && found.deleted {
            return Err(SchemaError::VersionSoftDeleted(
                subject.to_string(),
                found.version,
            ));
        }
        if !referrers(&state, subject, found.version).is_empty() {
            return Err(SchemaError::ReferenceExists(
                subject.to_string(),
                found.version,
            ));
        }
        self.persist_deletions(state, subject, &[found.version], permanent)?;
        Ok(found.version)
    }

    fn persist_deletions(
        &self,
        state: parking_lot::RwLockReadGuard<'_, State>,
        subject: &str,
        versions: &[i32],
        permanent: bool,
    ) -> SchemaResult<()> {
        let mut records = Vec::new();
        for n in versions {
            let key = Key::schema(subject, *n).bytes();
            if permanent {
                records.push((key, None));
            } else if let Ok(v) = find_version(&state, subject, VersionRef::Number(*n), true) {
                let value = SchemaValue {
                    subject: subject.to_string(),
                    version: *n,
                    id: v.schema.id,
                    schema_type: v.schema.schema_type,
                    references: v.schema.references.clone(),
                    schema: v.schema.schema.clone(),
                    deleted: true,
                    extra: v.schema.extra.clone(),
                };
                records.push((key, Some(value_bytes(&value))));
            }
        }
        drop(state);
        self.backend.put_many(&records)?;
        let mut state = self.state.write();
        if let Some(entries) = state.subjects.get_mut(subject) {
            for n in versions {
                if permanent {
                    entries.remove(n);
                } else if let Some(e) = entries.get_mut(n) {
                    e.deleted = true;
                }
            }
            if entries.is_empty() {
                state.subjects.remove(subject);
            }
        }
        if permanent {
            forget_unused(&mut state);
        }
        Ok(())
    }
}

/// Drops schemas no version uses any more (their ids are never handed out again).
fn forget_unused(state: &mut State) {
    let used: std::collections::HashSet<i32> = state
        .subjects
        .values()
        .flat_map(|v| v.values().map(|e| e.id))
        .collect();
    state.schemas.retain(|id, _| used.contains(id));
    state.identities.retain(|_, id| used.contains(id));
}
