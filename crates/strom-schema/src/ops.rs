//! The registry's writes and checks: register (with the compatibility check), look up,
//! test compatibility, soft and hard delete (Confluent's two steps), config and mode.
//! Each write is made durable in the backend before the in-memory view changes.

use crate::error::{SchemaError, SchemaResult};
use crate::formats::{self, Dep, Parsed, Source};
use crate::model::{Level, Mode, NewSchema, SchemaType, StoredSchema, SubjectVersion, VersionRef};
use crate::registry::{apply_schema, find_version, identity, resolve, Registry, State};
use crate::store::{value_bytes, ConfigValue, Key, ModeValue, NextIdValue, SchemaValue};

/// Largest schema text accepted.
pub const MAX_SCHEMA_BYTES: usize = 1 << 20;
/// Longest subject name accepted.
pub const MAX_SUBJECT_BYTES: usize = 1024;

/// Which earlier versions a compatibility test compares with.
#[derive(Debug, Clone, Copy)]
pub enum Against {
    /// What the subject's level says (latest, or all for a transitive level).
    Level,
    /// One version.
    Version(VersionRef),
}

fn check_subject(subject: &str) -> SchemaResult<()> {
    if subject.is_empty()
        || subject.len() > MAX_SUBJECT_BYTES
        || subject.chars().any(char::is_control)
    {
        return Err(SchemaError::InvalidSubject(
            subject.chars().take(64).collect(),
        ));
    }
    Ok(())
}

/// Parses `new` (with its references resolved in `state`).
fn prepare(state: &State, new: &NewSchema) -> SchemaResult<(Vec<Dep>, Parsed)> {
    if new.schema.len() > MAX_SCHEMA_BYTES {
        return Err(SchemaError::SchemaTooLarge(format!(
            "{} bytes, at most {MAX_SCHEMA_BYTES}",
            new.schema.len()
        )));
    }
    let deps = resolve(state, &new.references, 0)?;
    let parsed = formats::parse(
        new.schema_type,
        Source {
            schema: &new.schema,
            deps: &deps,
        },
    )?;
    Ok((deps, parsed))
}

fn stored(new: &NewSchema, id: i32, text: String) -> StoredSchema {
    StoredSchema {
        id,
        schema_type: new.schema_type,
        schema: text,
        references: new.references.clone(),
        extra: new.extra.clone(),
    }
}

impl Registry {
    fn level_in(&self, state: &State, subject: &str) -> Level {
        state
            .levels
            .get(subject)
            .copied()
            .or(state.global_level)
            .unwrap_or(self.default_level)
    }

    /// Why `new` is incompatible with the versions `against` selects under `level`.
    fn incompatibilities(
        &self,
        state: &State,
        subject: &str,
        new: &NewSchema,
        deps: &[Dep],
        level: Level,
        against: Against,
    ) -> SchemaResult<Vec<String>> {
        let olds: Vec<SubjectVersion> = match against {
            Against::Version(v) => vec![find_version(state, subject, v, false)?],
            Against::Level if level == Level::None => Vec::new(),
            Against::Level => {
                let live: Vec<i32> = state
                    .subjects
                    .get(subject)
                    .map(|v| {
                        v.iter()
                            .filter(|(_, e)| !e.deleted)
                            .map(|(n, _)| *n)
                            .collect()
                    })
                    .unwrap_or_default();
                let chosen = if level.transitive() {
                    &live[..]
                } else {
                    &live[live.len().saturating_sub(1)..]
                };
                chosen
                    .iter()
                    .map(|n| find_version(state, subject, VersionRef::Number(*n), false))
                    .collect::<SchemaResult<_>>()?
            }
        };
        let new_source = Source {
            schema: &new.schema,
            deps,
        };
        let mut messages = Vec::new();
        for old in olds.iter().rev() {
            if old.schema.schema_type != new.schema_type {
                messages.push(format!(
                    "version {}: the schema type changed from {} to {}",
                    old.version,
                    old.schema.schema_type.as_str(),
                    new.schema_type.as_str()
                ));
                continue;
            }
            let old_deps = resolve(state, &old.schema.references, 0)?;
            let old_source = Source {
                schema: &old.schema.schema,
                deps: &old_deps,
            };
            let kind = new.schema_type;
            if level.backward() {
                for m in formats::incompatibilities(kind, new_source, old_source)? {
                    messages.push(format!("version {} (BACKWARD): {m}", old.version));
                }
            }
            if level.forward() {
                for m in formats::incompatibilities(kind, old_source, new_source)? {
                    messages.push(format!("version {} (FORWARD): {m}", old.version));
                }
            }
        }
        Ok(messages)
    }

    /// Registers `new` under `subject` and returns its global id; an identical schema
    /// already registered there returns its id without a new version. Errors:
    /// `InvalidSchema`, `Incompatible`, `OperationNotPermitted` (read-only mode), `Store`.
    pub fn register(
        &self,
        subject: &str,
        mut new: NewSchema,
        normalize: bool,
    ) -> SchemaResult<i32> {
        check_subject(subject)?;
        let _write = self.write.lock();
        let state = self.state.read();
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
        if new.id.is_some() && mode != Mode::Import {
            return Err(SchemaError::OperationNotPermitted(
                "an explicit id is only accepted in IMPORT mode".to_string(),
            ));
        }
        let (deps, parsed) = prepare(&state, &new)?;
        if normalize {
            new.schema = match new.schema_type {
                SchemaType::Protobuf => formats::protobuf::normalize(Source {
                    schema: &new.schema,
                    deps: &deps,
                })?,
                _ => parsed.normalized.clone(),
            };
        }
        let probe = stored(&new, 0, String::new());
        let existing_id = state
            .identities
            .get(&identity(&probe, &parsed.fingerprint))
            .copied();
        let versions = state.subjects.get(subject);
        if let (Some(id), Some(versions)) = (existing_id, versions) {
            if versions.values().any(|e| e.id == id && !e.deleted) {
                return Ok(id);
            }
        }
        if mode != Mode::Import {
            let level = self.level_in(&state, subject);
            let messages =
                self.incompatibilities(&state, subject, &new, &deps, level, Against::Level)?;
            if !messages.is_empty() {
                return Err(SchemaError::Incompatible {
                    subject: subject.to_string(),
                    messages,
                    code: self.incompatible_code(),
                });
            }
        }
        let id = new.id.or(existing_id).unwrap_or(state.next_id);
        let version = new
            .version
            .filter(|_| mode == Mode::Import)
            .unwrap_or_else(|| {
                versions
                    .and_then(|v| v.keys().next_back().copied())
                    .unwrap_or(0)
                    + 1
            });
        let next_id = state.next_id.max(id + 1);
        let value = SchemaValue {
            subject: subject.to_string(),
            version,
            id,
            schema_type: new.schema_type,
            references: new.references.clone(),
            schema: new.schema.clone(),
            deleted: false,
            extra: new.extra.clone(),
        };
        drop(state);
        self.backend.put_many(&[
            (
                Key::schema(subject, version).bytes(),
                Some(value_bytes(&value)),
            ),
            (
                Key::StromNextId { magic: 0 }.bytes(),
                Some(value_bytes(&NextIdValue { next_id })),
            ),
        ])?;
        let mut state = self.state.write();
        apply_schema(&mut state, value);
        state
            .identities
            .insert(identity(&probe, &parsed.fingerprint), id);
        state.next_id = next_id;
        Ok(id)
    }

    /// The version of `subject` holding exactly `new`. Errors: `SubjectNotFound`,
    /// `SchemaNotFound`, `InvalidSchema`.
    pub fn lookup(
        &self,
        subject: &str,
        new: &NewSchema,
        deleted: bool,
    ) -> SchemaResult<SubjectVersion> {
        let state = self.state.read();
        let versions = state
            .subjects
            .get(subject)
            .filter(|v| v.values().any(|e| deleted || !e.deleted))
            .ok_or_else(|| SchemaError::SubjectNotFound(subject.to_string()))?;
        let (_, parsed) = prepare(&state, new)?;
        let probe = stored(new, 0, String::new());
        let id = state
            .identities
            .get(&identity(&probe, &parsed.fingerprint))
            .copied();
        let found = versions
            .iter()
            .rev()
            .find(|(_, e)| Some(e.id) == id && (deleted || !e.deleted))
            .map(|(n, _)| *n)
            .ok_or_else(|| SchemaError::SchemaNotFound(String::new()))?;
        find_version(&state, subject, VersionRef::Number(found), deleted)
    }

    /// Why `new` would be refused under `subject` (empty: compatible). Errors:
    /// `SubjectNotFound`, `VersionNotFound`, `InvalidSchema`.
    pub fn test_compatibility(
        &self,
        subject: &str,
        new: &NewSchema,
        against: Against,
    ) -> SchemaResult<Vec<String>> {
        let state = self.state.read();
        let (deps, _) = prepare(&state, new)?;
        let level = self.level_in(&state, subject);
        self.incompatibilities(&state, subject, new, &deps, level, against)
    }

    /// Sets (or with `None` removes) the level of `subject`, or the global one. Errors: `Store`.
    pub fn set_level(&self, subject: Option<&str>, level: Option<Level>) -> SchemaResult<()> {
        let _write = self.write.lock();
        let value = level.map(|l| {
            value_bytes(&ConfigValue {
                compatibility_level: l,
            })
        });
        self.backend
            .put_many(&[(Key::config(subject).bytes(), value)])?;
        let mut state = self.state.write();
        match subject {
            Some(s) => match level {
                Some(l) => drop(state.levels.insert(s.to_string(), l)),
                None => drop(state.levels.remove(s)),
            },
            None => state.global_level = level,
        }
        Ok(())
    }

    /// Sets (or with `None` removes) the mode of `subject`, or the global one. Errors: `Store`.
    pub fn set_mode(&self, subject: Option<&str>, mode: Option<Mode>) -> SchemaResult<()> {
        let _write = self.write.lock();
        let value = mode.map(|m| value_bytes(&ModeValue { mode: m }));
        self.backend
            .put_many(&[(Key::mode(subject).bytes(), value)])?;
        let mut state = self.state.write();
        match subject {
            Some(s) => match mode {
                Some(m) => drop(state.modes.insert(s.to_string(), m)),
                None => drop(state.modes.remove(s)),
            },
            None => state.global_mode = mode,
        }
        Ok(())
    }
}
