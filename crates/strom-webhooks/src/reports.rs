//! Dead letters for other consumers, in the webhooks' format ([`crate::dlq::build`]): a
//! REST Proxy consumer instance rejects records into its group's `<group>.dlq`, and any
//! client (a feed reader has no group) reports a record of a topic into `<topic>.dlq`.
//!
//! A dead-letter topic is claimed in `__strom_webhooks` (`dlq/<topic>` → `group:<g>` or
//! `topic:<t>`, next to the subscriptions' claims) and created on first use with one
//! partition and `cleanup.policy=delete`; one that exists unclaimed or claimed by something
//! else is a `Conflict`. Topic reports are idempotent on (partition, offset, consumer) among
//! the retained dead letters ([`Reports`] keeps an index, caught up from the log).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use strom_broker::{is_internal_topic, Broker, BrokerError, StoredRecord};

use crate::dlq::{self, build, field, Source};
use crate::error::{Result, WebhookError};
use crate::letters::{blocking, page, Page};
use crate::{Ctx, Webhooks};

/// Longest reason, consumer or instance text kept, in bytes.
pub const MAX_TEXT: usize = 1024;

/// Most records one reject handles.
pub const MAX_REJECT: usize = 1000;

/// One record to dead-letter and why.
#[derive(Debug, Clone)]
pub struct Report {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub reason: String,
}

/// Who dead-letters: a REST Proxy instance of a group, or a client reporting on a topic.
#[derive(Debug, Clone)]
pub enum Reporter {
    Group { group: String, instance: String },
    Topic { consumer: Option<String> },
}

/// Where a dead letter went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Filed {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub dead_letter_topic: String,
    pub dead_letter_offset: i64,
    /// The same (partition, offset, consumer) was already reported: nothing written.
    pub duplicate: bool,
}

/// The report index: dead-letter topics verified as claimed, and per topic the reports seen.
#[derive(Default)]
pub struct Reports {
    claimed: parking_lot::Mutex<HashSet<String>>,
    seen: tokio::sync::Mutex<HashMap<String, Seen>>,
}

/// Topic reports in a dead-letter topic up to `scanned`: (partition, offset, consumer) →
/// dead-letter offset.
#[derive(Default)]
struct Seen {
    scanned: i64,
    keys: HashMap<(i32, i64, String), i64>,
}

/// The dead-letter topic of a group or a topic: `<name>.dlq`.
pub fn dead_letter_topic(name: &str) -> String {
    format!("{name}.dlq")
}

fn owner_of(reporter: &Reporter, topic: &str) -> String {
    match reporter {
        Reporter::Group { group, .. } => format!("group:{group}"),
        Reporter::Topic { .. } => format!("topic:{topic}"),
    }
}

fn checked_text(what: &str, text: &str) -> Result<()> {
    if text.trim().is_empty() || text.len() > MAX_TEXT {
        return Err(WebhookError::Invalid(format!(
            "{what} must be 1 to {MAX_TEXT} bytes"
        )));
    }
    Ok(())
}

/// Verifies (or creates and claims) the dead-letter topic `dlq` for `owner`.
fn claim(ctx: &Ctx, reports: &Reports, dlq: &str, owner: &str) -> Result<()> {
    let claimed = format!("{dlq}\0{owner}");
    if reports.claimed.lock().contains(&claimed) && ctx.broker.topic(dlq).is_some() {
        return Ok(());
    }
    let key = format!("dlq/{dlq}").into_bytes();
    if ctx.broker.topic(dlq).is_some() {
        let owners = ctx.store.load()?;
        if owners.get(&key[..]).map(|o| &o[..]) != Some(owner.as_bytes()) {
            return Err(WebhookError::Conflict(format!(
                "topic '{dlq}' exists and is not the dead-letter topic of {owner}"
            )));
        }
    } else {
        let config = BTreeMap::from([("cleanup.policy".to_string(), "delete".to_string())]);
        ctx.broker
            .validate_new_topic(dlq, 1, &config)
            .map_err(|e| WebhookError::Invalid(format!("dead-letter topic: {e}")))?;
        let owners = ctx.store.load()?;
        if let Some(other) = owners.get(&key[..]).filter(|o| &o[..] != owner.as_bytes()) {
            let other = String::from_utf8_lossy(other);
            return Err(WebhookError::Conflict(format!(
                "dead-letter topic '{dlq}' is claimed by {other}"
            )));
        }
        ctx.store.put(&key, Some(owner.as_bytes()))?;
        match ctx.broker.create_topic(dlq, 1, &config) {
            Ok(_) | Err(BrokerError::TopicExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    reports.claimed.lock().insert(claimed);
    Ok(())
}

/// The record at `offset`. Errors: `UnknownTopic` (or internal), `Invalid` when the offset
/// is outside the log or holds no record (compacted away).
fn source_record(broker: &Broker, r: &Report) -> Result<StoredRecord> {
    if is_internal_topic(&r.topic) {
        return Err(WebhookError::UnknownTopic(r.topic.clone()));
    }
    let part = broker
        .partition(&r.topic, r.partition)
        .map_err(|e| match e {
            BrokerError::UnknownTopic(_) => WebhookError::UnknownTopic(r.topic.clone()),
            e => e.into(),
        })?;
    let out_of_range = || {
        WebhookError::Invalid(format!(
            "offset {} is out of range for {}/{}",
            r.offset, r.topic, r.partition
        ))
    };
    crate::reads::record_at(&part, r.offset)?.ok_or_else(out_of_range)
}

/// The `strom-dlq-*` fields of a reporter's dead letter.
fn fields(reporter: &Reporter, principal: &str, reason: &str) -> Vec<(&'static str, String)> {
    let mut out = match reporter {
        Reporter::Group { group, instance } => {
            vec![("group", group.clone()), ("instance", instance.clone())]
        }
        Reporter::Topic { consumer } => vec![("consumer", consumer.clone().unwrap_or_default())],
    };
    out.push(("reason", reason.to_string()));
    out.push(("principal", principal.to_string()));
    out.push(("time", dlq::rfc3339(crate::now_ms())));
    out
}

impl Seen {
    /// Indexes the topic reports written since the last call.
    fn catch_up(&mut self, broker: &Broker, dlq: &str) -> Result<()> {
        let end = broker.partition(dlq, 0)?.high_watermark();
        while self.scanned < end {
            let letters = dlq::read(broker, dlq, self.scanned, crate::letters::MAX_BATCH)?;
            let Some(last) = letters.last().map(|l| l.offset) else {
                break;
            };
            for l in &letters {
                if let Some(key) = report_key(l) {
                    self.keys.insert(key, l.offset);
                }
            }
            self.scanned = last + 1;
        }
        Ok(())
    }
}

/// The idempotency key of a topic report: (partition, offset, consumer).
fn report_key(letter: &StoredRecord) -> Option<(i32, i64, String)> {
    if field(letter, "source").as_deref() != Some(Source::Topic.as_str()) {
        return None;
    }
    let partition = field(letter, "partition")?.parse().ok()?;
    let offset = field(letter, "offset")?.parse().ok()?;
    Some((
        partition,
        offset,
        field(letter, "consumer").unwrap_or_default(),
    ))
}

impl Webhooks {
    /// A REST Proxy instance rejects `records` (checked first, then written in one batch) to
    /// `<group>.dlq`. The caller checked authorization and that the instance owns each
    /// partition. Errors: `Invalid` (bad reason, offset out of range, topic name too long),
    /// `UnknownTopic`, `Conflict` (`<group>.dlq` is something else), `Broker`.
    pub async fn reject(
        &self,
        group: &str,
        instance: &str,
        principal: &str,
        records: Vec<Report>,
    ) -> Result<Vec<Filed>> {
        if records.is_empty() || records.len() > MAX_REJECT {
            return Err(WebhookError::Invalid(format!(
                "records must hold 1 to {MAX_REJECT} records"
            )));
        }
        records
            .iter()
            .try_for_each(|r| checked_text("reason", &r.reason))?;
        let reporter = Reporter::Group {
            group: group.to_string(),
            instance: instance.to_string(),
        };
        let dlq = dead_letter_topic(group);
        let (ctx, principal) = (Arc::clone(&self.ctx), principal.to_string());
        let reports = Arc::clone(&self.reports);
        blocking(move || {
            claim(&ctx, &reports, &dlq, &owner_of(&reporter, ""))?;
            let mut letters = Vec::with_capacity(records.len());
            for r in &records {
                let record = source_record(&ctx.broker, r)?;
                let fields = fields(&reporter, &principal, &r.reason);
                letters.push(build(
                    &record,
                    Source::ConsumerGroup,
                    &r.topic,
                    r.partition,
                    fields,
                ));
            }
            let base = ctx
                .broker
                .partition(&dlq, 0)?
                .append_records(&letters)?
                .base_offset;
            Ok(records
                .into_iter()
                .zip(base..)
                .map(|(r, at)| Filed {
                    topic: r.topic,
                    partition: r.partition,
                    offset: r.offset,
                    dead_letter_topic: dlq.clone(),
                    dead_letter_offset: at,
                    duplicate: false,
                })
                .collect())
        })
        .await
    }

    /// A client reports a record of `report.topic` to `<topic>.dlq`; a report of the same
    /// (partition, offset, consumer) still retained answers that one (`duplicate`). Errors
    /// as [`Webhooks::reject`].
    pub async fn report(
        &self,
        report: Report,
        consumer: Option<String>,
        principal: &str,
    ) -> Result<Filed> {
        checked_text("reason", &report.reason)?;
        if let Some(c) = &consumer {
            checked_text("consumer", c)?;
        }
        let dlq = dead_letter_topic(&report.topic);
        let mut seen_all = self.reports.seen.lock().await;
        let mut seen = seen_all.remove(&dlq).unwrap_or_default();
        let (ctx, reports) = (Arc::clone(&self.ctx), Arc::clone(&self.reports));
        let principal = principal.to_string();
        let topic = dlq.clone();
        let key = (
            report.partition,
            report.offset,
            consumer.clone().unwrap_or_default(),
        );
        let (seen, filed) = blocking(move || {
            let reporter = Reporter::Topic { consumer };
            claim(&ctx, &reports, &topic, &owner_of(&reporter, &report.topic))?;
            let record = source_record(&ctx.broker, &report)?;
            seen.catch_up(&ctx.broker, &topic)?;
            let start = ctx.broker.partition(&topic, 0)?.log_start_offset();
            let mut filed = Filed {
                dead_letter_topic: topic.clone(),
                dead_letter_offset: 0,
                duplicate: false,
                topic: report.topic.clone(),
                partition: report.partition,
                offset: report.offset,
            };
            if let Some(at) = seen.keys.get(&key).filter(|at| **at >= start) {
                filed.dead_letter_offset = *at;
                filed.duplicate = true;
                return Ok((seen, filed));
            }
            let fields = fields(&reporter, &principal, &report.reason);
            let letter = build(
                &record,
                Source::Topic,
                &report.topic,
                report.partition,
                fields,
            );
            filed.dead_letter_offset = dlq::write(&ctx.broker, &topic, letter)?;
            Ok((seen, filed))
        })
        .await?;
        seen_all.insert(dlq, seen);
        Ok(filed)
    }

    /// A page of `<topic>.dlq` (empty while nothing was reported). Errors: `Conflict` when
    /// that topic is not `topic`'s dead-letter topic, `Broker`.
    pub async fn topic_dead_letters(
        &self,
        topic: &str,
        from: Option<i64>,
        limit: usize,
    ) -> Result<Page> {
        let dlq = dead_letter_topic(topic);
        let owner = owner_of(&Reporter::Topic { consumer: None }, topic);
        let (ctx, reports) = (Arc::clone(&self.ctx), Arc::clone(&self.reports));
        blocking(move || {
            if ctx.broker.topic(&dlq).is_none() {
                return Ok(Page::default());
            }
            claim(&ctx, &reports, &dlq, &owner)?;
            page(&ctx.broker, &dlq, from, limit)
        })
        .await
    }
}
