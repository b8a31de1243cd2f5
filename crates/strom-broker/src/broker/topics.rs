//! Topic lifecycle: name and shape validation, creation (all or nothing), deletion, adding
//! partitions, config changes, and the `remote.storage.enable` check.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{random_bytes, Broker, MAX_PARTITIONS};
use crate::internal::{refuse_internal, ClientOperation};
use crate::layout::crash_point;
use crate::topic::{format_id, TopicMeta};
use crate::{BrokerError, Topic, TopicConfig};

/// Kafka's topic name rules: 1–249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub(crate) fn validate_topic_name(name: &str) -> Result<(), BrokerError> {
    let reason = if name.is_empty() {
        Some("must not be empty".to_string())
    } else if name == "." || name == ".." {
        Some("must not be '.' or '..'".to_string())
    } else if name.len() > 249 {
        Some(format!(
            "is {} characters long, the maximum is 249",
            name.len()
        ))
    } else {
        name.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
            .map(|c| format!("contains '{c}'; allowed are ASCII letters, digits, '.', '_' and '-'"))
    };
    match reason {
        Some(reason) => Err(BrokerError::InvalidTopicName {
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

impl Broker {
    /// Validates a create request without creating anything (Kafka `validate_only`).
    /// Errors: those of [`Broker::create_topic`] but `Io` and `Log`.
    pub fn validate_new_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), BrokerError> {
        refuse_internal(name, ClientOperation::Create)?;
        self.validate_shape(name, partitions, configs)
    }

    fn validate_shape(
        &self,
        name: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<(), BrokerError> {
        validate_topic_name(name)?;
        if !(1..=MAX_PARTITIONS).contains(&partitions) {
            return Err(BrokerError::InvalidPartitions(format!(
                "a topic needs between 1 and {MAX_PARTITIONS} partitions, got {partitions}"
            )));
        }
        self.check_remote_storage(&TopicConfig::from_map(configs)?)?;
        if self.topics.read().contains_key(name) {
            return Err(BrokerError::TopicExists(name.to_string()));
        }
        Ok(())
    }

    /// Creates a topic, all or nothing: it is built in `staging/`, renamed into `topics/`
    /// and opened; if any step fails, nothing of it is left and it does not exist.
    /// Errors: `TopicExists`, `InvalidTopicName`, `InternalTopic`, `InvalidPartitions`,
    /// `InvalidConfig`, `Io`, `Log` (opening a partition, e.g. too many open files).
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, BrokerError> {
        refuse_internal(name, ClientOperation::Create)?;
        self.create(name, partitions, configs)
    }

    /// Creates an internal topic for the broker's own stores (see `internal.rs`).
    /// Errors: those of [`Broker::create_topic`] but `InternalTopic`.
    pub(crate) fn create_internal_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, BrokerError> {
        self.create(name, partitions, configs)
    }

    fn create(
        &self,
        name: &str,
        partitions: i32,
        configs: &BTreeMap<String, String>,
    ) -> Result<Arc<Topic>, BrokerError> {
        self.check_running()?;
        let _admin = self.admin.lock();
        self.ensure_prepared()?;
        self.validate_shape(name, partitions, configs)?;
        let meta = TopicMeta {
            name: name.to_string(),
            id: format_id(&random_bytes::<16>()),
            partitions,
            config: TopicConfig::from_map(configs)?,
        };
        let staged = self.layout.stage(&meta)?;
        let dir = self.layout.publish(&staged, name)?;
        let topic = match Topic::open(&dir, &meta, &self.config.log_defaults) {
            Ok(topic) => Arc::new(topic),
            Err(e) => {
                tracing::error!(topic = name, error = %e, "cannot open a new topic; undoing its creation");
                // The partitions opened so far were dropped with the failed open.
                match self.layout.retire(&dir) {
                    Ok(retired) => self.layout.purge(&retired),
                    Err(undo) => tracing::error!(topic = name, error = %undo,
                        "cannot undo a failed topic creation; the topic opens at the next start"),
                }
                return Err(e);
            }
        };
        crash_point("create:opened");
        self.register_flush(&topic);
        self.topics
            .write()
            .insert(name.to_string(), Arc::clone(&topic));
        tracing::debug!(topic = name, partitions, "created topic");
        Ok(topic)
    }

    /// Deletes a topic and its data. The topic leaves memory only once its folder has left
    /// `topics/`; if that rename fails, the topic is reopened and stays as it was.
    /// Errors: `UnknownTopic`, `InternalTopic`, `Io`.
    pub fn delete_topic(&self, name: &str) -> Result<(), BrokerError> {
        self.check_running()?;
        refuse_internal(name, ClientOperation::Delete)?;
        let _admin = self.admin.lock();
        let topic = self
            .topic(name)
            .ok_or_else(|| BrokerError::UnknownTopic(name.to_string()))?;
        // Close first, so no append is acknowledged into files about to be removed.
        for p in topic.partitions() {
            if let Err(e) = p.close() {
                tracing::warn!(topic = name, partition = p.index(), error = %e, "closing a deleted partition failed");
            }
        }
        let retired = match self.layout.retire(topic.dir()) {
            Ok(retired) => retired,
            Err(e) => {
                tracing::error!(topic = name, error = %e, "cannot delete a topic; reopening it");
                self.reopen(&topic);
                return Err(e);
            }
        };
        self.topics.write().remove(name);
        self.layout.purge(&retired);
        tracing::debug!(topic = name, "deleted topic");
        Ok(())
    }

    /// Reopens a topic whose logs were closed for a delete that did not happen.
    fn reopen(&self, topic: &Topic) {
        match Topic::open(topic.dir(), &topic.meta(), &self.config.log_defaults) {
            Ok(reopened) => {
                let reopened = Arc::new(reopened);
                self.register_flush(&reopened);
                self.topics
                    .write()
                    .insert(topic.name().to_string(), reopened);
            }
            Err(e) => {
                tracing::error!(topic = %topic.name(), error = %e, "cannot reopen a topic; it is back after a restart")
            }
        }
    }

    /// The topic, auto-created with the default partition count when the broker allows it.
    /// Errors: `UnknownTopic` when auto-creation is off, or those of [`Broker::create_topic`].
    pub fn topic_or_create(&self, name: &str) -> Result<Arc<Topic>, BrokerError> {
        if let Some(t) = self.topic(name) {
            return Ok(t);
        }
        if !self.config.auto_create_topics {
            return Err(BrokerError::UnknownTopic(name.to_string()));
        }
        match self.create_topic(name, self.config.default_partitions, &BTreeMap::new()) {
            Err(BrokerError::TopicExists(_)) => self
                .topic(name)
                .ok_or_else(|| BrokerError::UnknownTopic(name.to_string())),
            other => other,
        }
    }

    /// Grows a topic to `total` partitions. Errors: `UnknownTopic`, `InternalTopic`,
    /// `InvalidPartitions` if not larger than now or above the maximum.
    pub fn create_partitions(&self, topic: &str, total: i32) -> Result<(), BrokerError> {
        self.check_running()?;
        refuse_internal(topic, ClientOperation::CreatePartitions)?;
        let _admin = self.admin.lock();
        let t = self
            .topic(topic)
            .ok_or_else(|| BrokerError::UnknownTopic(topic.to_string()))?;
        let current = t.partition_count();
        if total <= current {
            return Err(BrokerError::InvalidPartitions(format!(
                "topic '{topic}' has {current} partitions; the new count {total} must be larger"
            )));
        }
        if total > MAX_PARTITIONS {
            return Err(BrokerError::InvalidPartitions(format!(
                "at most {MAX_PARTITIONS} partitions, got {total}"
            )));
        }
        let mut meta = t.meta();
        meta.partitions = total;
        meta.save(t.dir())?;
        t.grow(total, &self.config.log_defaults)?;
        self.register_flush(&t);
        tracing::debug!(topic, from = current, to = total, "added partitions");
        Ok(())
    }

    /// Applies config changes (`None` removes the override); validated as a whole first and
    /// persisted before taking effect. Errors: `UnknownTopic`, `InternalTopic`, `InvalidConfig`.
    pub fn alter_topic_config(
        &self,
        topic: &str,
        changes: &[(String, Option<String>)],
    ) -> Result<(), BrokerError> {
        self.check_running()?;
        refuse_internal(topic, ClientOperation::AlterConfig)?;
        let _admin = self.admin.lock();
        let t = self
            .topic(topic)
            .ok_or_else(|| BrokerError::UnknownTopic(topic.to_string()))?;
        let mut overrides = t.config().overrides;
        for (k, v) in changes {
            match v {
                Some(v) => {
                    overrides.insert(k.clone(), v.clone());
                }
                None => {
                    crate::topic_config::validate_key(k)?;
                    overrides.remove(k);
                }
            }
        }
        let config = TopicConfig::from_map(&overrides)?;
        if !t.config().remote_storage() {
            self.check_remote_storage(&config)?;
        }
        let mut meta = t.meta();
        meta.config = config.clone();
        meta.save(t.dir())?;
        t.set_config(config, &self.config.log_defaults);
        tracing::debug!(topic, changes = %crate::topic_config::describe_changes(changes), "altered topic config");
        Ok(())
    }

    /// Effective value of every honoured config key for `topic` (override or default),
    /// with whether it is the default. Errors: `UnknownTopic`.
    pub fn effective_topic_config(
        &self,
        topic: &str,
    ) -> Result<Vec<(String, String, bool)>, BrokerError> {
        let t = self
            .topic(topic)
            .ok_or_else(|| BrokerError::UnknownTopic(topic.to_string()))?;
        Ok(t.config().effective(&self.config.log_defaults))
    }

    /// Marks a remote store as configured, so topics may set `remote.storage.enable=true`.
    /// Called by [`crate::Tiering::start`]; tests that drive tiering by hand call it too.
    pub fn enable_remote_storage(&self) {
        self.remote_storage.store(true, Ordering::Release);
    }

    fn check_remote_storage(&self, config: &TopicConfig) -> Result<(), BrokerError> {
        if config.remote_storage() && !self.remote_storage.load(Ordering::Acquire) {
            return Err(BrokerError::InvalidConfig(
                "remote.storage.enable=true needs tiered storage, which is off on this server \
                 (no [tiered] store in its configuration)"
                    .into(),
            ));
        }
        Ok(())
    }
}
