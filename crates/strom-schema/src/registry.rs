//! [`Registry`]: the in-memory view of every subject, version, schema id, config and mode,
//! rebuilt from the [`Backend`] at start; every lookup is served from memory. Writes (in
//! `ops.rs`) go to the backend first and change the view only once they are durable.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::error::{SchemaError, SchemaResult};
use crate::formats::{self, Dep, Source};
use crate::model::{Level, Mode, Reference, StoredSchema, SubjectVersion, VersionRef};
use crate::store::{Backend, ConfigValue, Key, ModeValue, NextIdValue, SchemaValue};

/// The `error_code`s an incompatible registration may be answered with: Confluent's
/// historical 409 (the default; Karapace answers it too) and its current 40901. Clients key
/// on the HTTP status, 409 for both.
pub const INCOMPATIBLE_CODES: [u32; 2] = [409, 40901];

/// Deepest chain of references followed (deeper, or a cycle, is an invalid schema).
pub const MAX_REFERENCE_DEPTH: usize = 16;

/// One version of a subject.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub id: i32,
    pub deleted: bool,
}

#[derive(Default)]
pub(crate) struct State {
    pub schemas: HashMap<i32, Arc<StoredSchema>>,
    /// Identity of a schema (type, references, fingerprint) to its id.
    pub identities: HashMap<String, i32>,
    pub subjects: BTreeMap<String, BTreeMap<i32, Entry>>,
    pub global_level: Option<Level>,
    pub levels: HashMap<String, Level>,
    pub global_mode: Option<Mode>,
    pub modes: HashMap<String, Mode>,
    pub next_id: i32,
}

/// The schema registry.
pub struct Registry {
    pub(crate) backend: Box<dyn Backend>,
    pub(crate) state: RwLock<State>,
    /// Serialises writers (check, persist, apply).
    pub(crate) write: Mutex<()>,
    /// The level used when neither the subject nor the global config sets one.
    pub(crate) default_level: Level,
    /// The `error_code` an incompatible registration is answered with (409 or 40901).
    pub(crate) incompatible_code: std::sync::atomic::AtomicU32,
    /// Payload decoders by schema id, compiled on first use.
    pub(crate) decoders: RwLock<HashMap<i32, Arc<crate::payload::PayloadDecoder>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.read();
        f.debug_struct("Registry")
            .field("subjects", &state.subjects.len())
            .field("schemas", &state.schemas.len())
            .finish_non_exhaustive()
    }
}

/// The identity under which equal schemas share an id.
pub(crate) fn identity(schema: &StoredSchema, fingerprint: &str) -> String {
    let refs = serde_json::to_string(&schema.references).unwrap_or_default();
    format!("{}\n{refs}\n{fingerprint}", schema.schema_type.as_str())
}

impl Registry {
    /// Opens the registry on `backend`, replaying its records. A record that cannot be
    /// read is skipped with a warning. Errors: `Store`.
    pub fn open(backend: Box<dyn Backend>, default_level: Level) -> SchemaResult<Registry> {
        let records = backend.load()?;
        let mut state = State {
            next_id: 1,
            ..State::default()
        };
        for (key, value) in records {
            if let Err(reason) = apply_record(&mut state, &key, &value) {
                tracing::warn!(reason = %reason, "skipping a schema registry record");
            }
        }
        let mut ids: Vec<i32> = state.schemas.keys().copied().collect();
        ids.sort_unstable();
        for id in ids {
            let Some(schema) = state.schemas.get(&id).cloned() else {
                continue;
            };
            state.next_id = state.next_id.max(id + 1);
            let deps = resolve(&state, &schema.references, 0).unwrap_or_default();
            let fingerprint = formats::parse(
                schema.schema_type,
                Source {
                    schema: &schema.schema,
                    deps: &deps,
                },
            )
            .map(|p| p.fingerprint)
            .unwrap_or_else(|_| schema.schema.clone());
            state.identities.insert(identity(&schema, &fingerprint), id);
        }
        Ok(Registry {
            backend,
            state: RwLock::new(state),
            write: Mutex::new(()),
            default_level,
            decoders: RwLock::new(HashMap::new()),
            incompatible_code: INCOMPATIBLE_CODES[0].into(),
        })
    }

    /// Answers incompatible registrations with `code`, one of [`INCOMPATIBLE_CODES`].
    /// Errors: another code, returned.
    pub fn set_incompatible_code(&self, code: u32) -> Result<(), u32> {
        if !INCOMPATIBLE_CODES.contains(&code) {
            return Err(code);
        }
        self.incompatible_code
            .store(code, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn incompatible_code(&self) -> u32 {
        self.incompatible_code
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Subjects with at least one version (soft-deleted ones too when `deleted`), starting
    /// with `prefix`.
    pub fn subjects(&self, prefix: &str, deleted: bool) -> Vec<String> {
        let state = self.state.read();
        state
            .subjects
            .iter()
            .filter(|(name, versions)| {
                name.starts_with(prefix) && versions.values().any(|e| deleted || !e.deleted)
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The version numbers of `subject`. Errors: `SubjectNotFound`.
    pub fn versions(&self, subject: &str, deleted: bool) -> SchemaResult<Vec<i32>> {
        let state = self.state.read();
        let versions: Vec<i32> = state
            .subjects
            .get(subject)
            .map(|v| {
                v.iter()
                    .filter(|(_, e)| deleted || !e.deleted)
                    .map(|(n, _)| *n)
                    .collect()
            })
            .unwrap_or_default();
        if versions.is_empty() {
            return Err(SchemaError::SubjectNotFound(subject.to_string()));
        }
        Ok(versions)
    }

    /// One version of `subject`. Errors: `SubjectNotFound`, `VersionNotFound`.
    pub fn version(
        &self,
        subject: &str,
        version: VersionRef,
        deleted: bool,
    ) -> SchemaResult<SubjectVersion> {
        let state = self.state.read();
        find_version(&state, subject, version, deleted)
    }

    /// The schema with global id `id`. Errors: `SchemaNotFound`.
    pub fn schema(&self, id: i32) -> SchemaResult<Arc<StoredSchema>> {
        self.state
            .read()
            .schemas
            .get(&id)
            .cloned()
            .ok_or_else(|| SchemaError::SchemaNotFound(id.to_string()))
    }

    /// Whether `id` names a schema registered under `subject` (a live version).
    pub fn id_in_subject(&self, id: i32, subject: &str) -> bool {
        self.state
            .read()
            .subjects
            .get(subject)
            .is_some_and(|v| v.values().any(|e| e.id == id && !e.deleted))
    }

    /// Every (subject, version) using schema `id`. Errors: `SchemaNotFound`.
    pub fn id_versions(&self, id: i32, deleted: bool) -> SchemaResult<Vec<(String, i32)>> {
        let state = self.state.read();
        if !state.schemas.contains_key(&id) {
            return Err(SchemaError::SchemaNotFound(id.to_string()));
        }
        Ok(state
            .subjects
            .iter()
            .flat_map(|(s, v)| v.iter().map(move |(n, e)| (s, *n, *e)))
            .filter(|(_, _, e)| e.id == id && (deleted || !e.deleted))
            .map(|(s, n, _)| (s.clone(), n))
            .collect())
    }

    /// Ids of the schemas that reference `subject` version `version`.
    pub fn referenced_by(&self, subject: &str, version: VersionRef) -> SchemaResult<Vec<i32>> {
        let state = self.state.read();
        let found = find_version(&state, subject, version, false)?;
        Ok(referrers(&state, subject, found.version))
    }

    /// The compatibility level in force for `subject` (or the global one for `None`).
    pub fn level(&self, subject: Option<&str>) -> Level {
        let state = self.state.read();
        subject
            .and_then(|s| state.levels.get(s).copied())
            .or(state.global_level)
            .unwrap_or(self.default_level)
    }

    /// The subject's own level. Errors: `SubjectConfigNotFound`.
    pub fn subject_level(&self, subject: &str) -> SchemaResult<Level> {
        self.state
            .read()
            .levels
            .get(subject)
            .copied()
            .ok_or_else(|| SchemaError::SubjectConfigNotFound(subject.to_string()))
    }

    /// The mode in force for `subject` (or the global one for `None`).
    pub fn mode(&self, subject: Option<&str>) -> Mode {
        let state = self.state.read();
        subject
            .and_then(|s| state.modes.get(s).copied())
            .or(state.global_mode)
            .unwrap_or_default()
    }

    /// The subject's own mode. Errors: `SubjectModeNotFound`.
    pub fn subject_mode(&self, subject: &str) -> SchemaResult<Mode> {
        self.state
            .read()
            .modes
            .get(subject)
            .copied()
            .ok_or_else(|| SchemaError::SubjectModeNotFound(subject.to_string()))
    }
}

/// Ids of the schemas whose references name `subject` version `version`.
pub(crate) fn referrers(state: &State, subject: &str, version: i32) -> Vec<i32> {
    let mut ids: Vec<i32> = state
        .schemas
        .values()
        .filter(|s| {
            s.references
                .iter()
                .any(|r| r.subject == subject && r.version == version)
        })
        .filter(|s| {
            state
                .subjects
                .values()
                .any(|v| v.values().any(|e| e.id == s.id && !e.deleted))
        })
        .map(|s| s.id)
        .collect();
    ids.sort_unstable();
    ids
}

pub(crate) fn find_version(
    state: &State,
    subject: &str,
    version: VersionRef,
    deleted: bool,
) -> SchemaResult<SubjectVersion> {
    let versions = state
        .subjects
        .get(subject)
        .filter(|v| v.values().any(|e| deleted || !e.deleted))
        .ok_or_else(|| SchemaError::SubjectNotFound(subject.to_string()))?;
    let found = match version {
        VersionRef::Latest => versions.iter().rev().find(|(_, e)| deleted || !e.deleted),
        VersionRef::Number(n) => versions
            .get_key_value(&n)
            .filter(|(_, e)| deleted || !e.deleted),
    };
    let (number, entry) = found.ok_or_else(|| {
        SchemaError::VersionNotFound(match version {
            VersionRef::Latest => "latest".to_string(),
            VersionRef::Number(n) => n.to_string(),
        })
    })?;
    let schema = state
        .schemas
        .get(&entry.id)
        .cloned()
        .ok_or_else(|| SchemaError::SchemaNotFound(entry.id.to_string()))?;
    Ok(SubjectVersion {
        subject: subject.to_string(),
        version: *number,
        deleted: entry.deleted,
        schema,
    })
}

/// The referenced schemas, transitively, in dependency order. Errors: `InvalidSchema` for
/// a reference to nothing, a cycle or a chain deeper than [`MAX_REFERENCE_DEPTH`].
pub(crate) fn resolve(state: &State, refs: &[Reference], depth: usize) -> SchemaResult<Vec<Dep>> {
    if depth > MAX_REFERENCE_DEPTH {
        return Err(SchemaError::InvalidSchema(
            "references are cyclic or nested too deeply".to_string(),
        ));
    }
    let mut deps: Vec<Dep> = Vec::new();
    for r in refs {
        let version = if r.version == -1 {
            VersionRef::Latest
        } else {
            VersionRef::Number(r.version)
        };
        let found = find_version(state, &r.subject, version, true).map_err(|_| {
            SchemaError::InvalidSchema(format!(
                "reference '{}' to subject '{}' version {} not found",
                r.name, r.subject, r.version
            ))
        })?;
        for dep in resolve(state, &found.schema.references, depth + 1)? {
            if !deps.iter().any(|d| d.name == dep.name) {
                deps.push(dep);
            }
        }
        if !deps.iter().any(|d| d.name == r.name) {
            deps.push(Dep {
                name: r.name.clone(),
                schema: found.schema.schema.clone(),
            });
        }
    }
    Ok(deps)
}

/// Applies one stored record to `state` (no identities: those are computed after replay).
pub(crate) fn apply_record(state: &mut State, key: &[u8], value: &[u8]) -> Result<(), String> {
    let key: Key = serde_json::from_slice(key).map_err(|e| format!("bad key: {e}"))?;
    let bad = |e: serde_json::Error| format!("bad value: {e}");
    match key {
        Key::Schema { .. } => {
            let v: SchemaValue = serde_json::from_slice(value).map_err(bad)?;
            apply_schema(state, v);
        }
        Key::Config { subject, .. } => {
            let v: ConfigValue = serde_json::from_slice(value).map_err(bad)?;
            match subject {
                Some(s) => drop(state.levels.insert(s, v.compatibility_level)),
                None => state.global_level = Some(v.compatibility_level),
            }
        }
        Key::Mode { subject, .. } => {
            let v: ModeValue = serde_json::from_slice(value).map_err(bad)?;
            match subject {
                Some(s) => drop(state.modes.insert(s, v.mode)),
                None => state.global_mode = Some(v.mode),
            }
        }
        Key::StromNextId { .. } => {
            let v: NextIdValue = serde_json::from_slice(value).map_err(bad)?;
            state.next_id = state.next_id.max(v.next_id);
        }
    }
    Ok(())
}

/// Adds a schema version to `state`.
pub(crate) fn apply_schema(state: &mut State, v: SchemaValue) {
    state.schemas.entry(v.id).or_insert_with(|| {
        Arc::new(StoredSchema {
            id: v.id,
            schema_type: v.schema_type,
            schema: v.schema,
            references: v.references,
            extra: v.extra,
        })
    });
    state.subjects.entry(v.subject).or_default().insert(
        v.version,
        Entry {
            id: v.id,
            deleted: v.deleted,
        },
    );
}
