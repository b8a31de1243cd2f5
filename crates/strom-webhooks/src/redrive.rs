//! Redrive of dead letters (listing: [`crate::letters`]): a selection (one offset, a list,
//! or everything from an offset or since a time) delivered again to the subscription with
//! the original event ids (a first attempt while the request waits; when it fails, the rest
//! of the retry schedule in the background, and then a new dead letter with the attempts of
//! every round), or produced again, as new events, to the partition each came from. At most
//! [`MAX_BATCH`] per request; the answer says where to continue.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strom_broker::{decode_records, is_internal_topic, Broker, NewRecord, StoredRecord};

use crate::deliver::{deliver_from, history, Progress, Redriven};
use crate::dlq::{self, field};
use crate::error::{Result, WebhookError};
use crate::letters::blocking;
use crate::payload::{self, DLQ_ID_HEADER};
use crate::reads::Rec;
use crate::runtime::Runtime;
use crate::send::{self, Outcome};
use crate::{Ctx, Webhooks};

pub use crate::letters::MAX_BATCH;
/// Most dead letters one redrive looks at to find those written since a time.
const MAX_SCAN: usize = 100_000;

/// Where a redrive sends the dead letters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// Delivered to the subscription's endpoint with their original event ids.
    #[default]
    Subscription,
    /// Produced to the topic and partition each came from, as new events.
    Topic,
}

/// Which dead letters to redrive: `offset` or `offsets`, else those from `from_offset`
/// (default: the first) written since `since_ms` (default: any time).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    pub offset: Option<i64>,
    pub offsets: Option<Vec<i64>>,
    pub since_ms: Option<i64>,
    pub from_offset: Option<i64>,
    #[serde(default)]
    pub to: Target,
}

/// The dead letters a selection picked, read before anything is sent (so that the caller
/// can authorize writes to their topics).
#[derive(Debug, Clone, Default)]
pub struct Selected {
    pub letters: Vec<StoredRecord>,
    pub not_found: Vec<i64>,
    pub next_offset: Option<i64>,
}

impl Selected {
    /// The topics the letters came from.
    pub fn topics(&self) -> BTreeSet<String> {
        self.letters
            .iter()
            .filter_map(|l| field(l, "topic"))
            .collect()
    }
}

/// A dead letter produced back to its topic.
#[derive(Debug, Clone, Serialize)]
pub struct Produced {
    pub offset: i64,
    pub topic: String,
    pub partition: i32,
    pub new_offset: i64,
}

/// What a redrive did, by dead-letter offset.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Redrive {
    pub delivered: Vec<i64>,
    pub failed: Vec<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub produced: Vec<Produced>,
    /// Asked-for offsets that hold no dead letter.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_found: Vec<i64>,
    /// More letters may match from here: send the same selection with this `from_offset`.
    pub next_offset: Option<i64>,
}

impl Webhooks {
    /// Reads the dead letters `selection` picks. Errors: `Invalid` (a bad selection),
    /// `NotFound`, `Broker`.
    pub async fn select_dead_letters(&self, name: &str, selection: &Selection) -> Result<Selected> {
        let topic = self.runtime(name)?.current().dead_letter_topic.clone();
        let broker = Arc::clone(&self.ctx.broker);
        let single = selection.offset.map(|o| vec![o]);
        let offsets = match (single, selection.offsets.clone()) {
            (Some(_), Some(_)) => return Err(invalid("give offset or offsets, not both")),
            (a, b) => a.or(b),
        };
        let ranged = selection.since_ms.is_some() || selection.from_offset.is_some();
        match offsets {
            Some(_) if ranged => Err(invalid(
                "give offsets, or from_offset and since_ms, not both",
            )),
            Some(list) if list.len() > MAX_BATCH => {
                Err(invalid(&format!("at most {MAX_BATCH} offsets per redrive")))
            }
            Some(list) => blocking(move || pick(&broker, &topic, list)).await,
            None => {
                let (from, since) = (selection.from_offset, selection.since_ms);
                blocking(move || scan(&broker, &topic, from, since)).await
            }
        }
    }

    /// Redrives `selected` to `to`. Delivery (to the subscription) is one at a time with the
    /// original event ids, within the subscription's concurrency and rate limits, recorded in
    /// the attempt history. Errors: `NotFound`.
    pub async fn redrive(&self, name: &str, selected: Selected, to: Target) -> Result<Redrive> {
        let mut done = Redrive {
            not_found: selected.not_found,
            next_offset: selected.next_offset,
            ..Redrive::default()
        };
        for letter in selected.letters {
            let Some((record, topic, partition)) = dlq::original(&letter) else {
                done.not_found.push(letter.offset);
                continue;
            };
            match to {
                Target::Subscription => {
                    match self
                        .resend(name, &letter, (record, topic, partition))
                        .await?
                    {
                        true => done.delivered.push(letter.offset),
                        false => done.failed.push(letter.offset),
                    }
                }
                Target::Topic => match self.reproduce(name, record, &topic, partition).await? {
                    Some(new_offset) => done.produced.push(Produced {
                        offset: letter.offset,
                        topic,
                        partition,
                        new_offset,
                    }),
                    None => done.failed.push(letter.offset),
                },
            }
        }
        Ok(done)
    }

    /// Sends one redriven event once; true when delivered. When it fails, the rest of the
    /// subscription's retry schedule runs in the background ([`retry_redriven`]).
    async fn resend(&self, name: &str, letter: &StoredRecord, original: Original) -> Result<bool> {
        let (record, topic, partition) = original;
        let rt = self.runtime(name)?;
        let sub = rt.current();
        let event = payload::build(
            &record,
            &topic,
            partition,
            sub.payload,
            self.ctx.decoder.as_ref(),
        );
        let attempt = {
            let _permit = rt.inflight.acquire().await;
            rt.rate_limit().await;
            send::attempt(&rt.client, &rt.url, &self.ctx.policy, &sub, &event).await
        };
        rt.record(history(&event, 1, &attempt));
        let mut progress = Progress::new(first_attempt_ms(letter));
        progress.redriven = Some(Redriven {
            attempts: num(letter, "attempts"),
            redrives: num(letter, "redrives"),
        });
        match attempt.outcome {
            Outcome::Delivered { .. } => {
                rt.metrics.delivered();
                rt.metrics.observe(attempt.latency);
                return Ok(true);
            }
            Outcome::Gone => {
                rt.metrics.failed("gone");
                let reason = "the endpoint answered 410 Gone".to_string();
                crate::edit::disable(&self.ctx, &rt, reason).await;
                progress.last = Some(crate::deliver::gone());
            }
            Outcome::Failed(f) => {
                rt.metrics.failed(f.reason);
                progress.attempts = 1;
                progress.last = Some(f);
            }
        }
        let task = tokio::spawn(retry_redriven(
            Arc::clone(&self.ctx),
            Arc::clone(&rt),
            (topic, partition),
            record,
            progress,
        ));
        let mut workers = rt.workers.lock();
        workers.retain(|h| !h.is_finished());
        workers.push(task);
        Ok(false)
    }

    /// Appends `record` (its original key, value and headers) to `topic`/`partition` as a
    /// new event; `None` when the topic is not one of the subscription's or cannot be
    /// written.
    async fn reproduce(
        &self,
        name: &str,
        record: StoredRecord,
        topic: &str,
        partition: i32,
    ) -> Result<Option<i64>> {
        let sub = self.runtime(name)?.current();
        if is_internal_topic(topic) || !sub.topics.iter().any(|t| t == topic) {
            return Ok(None);
        }
        let new = NewRecord {
            key: record.key,
            value: record.value,
            headers: record
                .headers
                .into_iter()
                .filter(|h| h.key != DLQ_ID_HEADER)
                .collect(),
            timestamp: None,
        };
        let broker = Arc::clone(&self.ctx.broker);
        let topic = topic.to_string();
        let written = blocking(move || {
            let part = broker.partition(&topic, partition)?;
            Ok(part.append_records(&[new])?.base_offset)
        })
        .await;
        Ok(written.ok())
    }
}

/// A dead letter's original record, topic and partition.
type Original = (StoredRecord, String, i32);

/// The rest of a failed redrive's retry schedule; when it is used up, the event goes back
/// to the dead-letter topic with its attempts over all rounds and its redrive count.
async fn retry_redriven(
    ctx: Arc<Ctx>,
    rt: Arc<Runtime>,
    (topic, partition): (String, i32),
    record: StoredRecord,
    progress: Progress,
) {
    deliver_from(&ctx, &rt, (&topic, partition), Rec::Owned(record), progress).await;
}

/// A numeric `strom-dlq-*` field of a dead letter, 0 when absent.
fn num(letter: &StoredRecord, name: &str) -> u32 {
    field(letter, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// When a dead letter's first attempt was (its write time when the header is missing).
fn first_attempt_ms(letter: &StoredRecord) -> i64 {
    field(letter, "first-attempt")
        .and_then(|t| humantime::parse_rfc3339(&t).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(letter.timestamp, |d| d.as_millis() as i64)
}

fn invalid(text: &str) -> WebhookError {
    WebhookError::Invalid(text.to_string())
}

/// The dead letters at `offsets` (blocking).
fn pick(broker: &Broker, topic: &str, offsets: Vec<i64>) -> Result<Selected> {
    let part = broker.partition(topic, 0)?;
    let (start, end) = (part.log_start_offset(), part.high_watermark());
    let wanted: BTreeSet<i64> = offsets.into_iter().collect();
    let mut out = Selected::default();
    for offset in wanted {
        let found = if (start..end).contains(&offset) {
            // Dead letters are written one per batch: this reads one small batch.
            decode_records(&part.read(offset, 1)?.records)?
                .into_iter()
                .find(|r| r.offset == offset)
        } else {
            None
        };
        match found {
            Some(r) => out.letters.push(r),
            None => out.not_found.push(offset),
        }
    }
    Ok(out)
}

/// Up to [`MAX_BATCH`] dead letters from `from` written since `since_ms` (blocking).
fn scan(
    broker: &Broker,
    topic: &str,
    from: Option<i64>,
    since_ms: Option<i64>,
) -> Result<Selected> {
    let part = broker.partition(topic, 0)?;
    let end = part.high_watermark();
    let mut next = from.unwrap_or(0).max(part.log_start_offset());
    let mut out = Selected::default();
    let mut scanned = 0;
    while next < end {
        if out.letters.len() >= MAX_BATCH || scanned >= MAX_SCAN {
            out.next_offset = Some(next);
            break;
        }
        let room = MAX_BATCH - out.letters.len();
        let chunk = dlq::read(broker, topic, next, room)?;
        let Some(last) = chunk.last().map(|r| r.offset) else {
            break;
        };
        scanned += chunk.len();
        out.letters.extend(
            chunk
                .into_iter()
                .filter(|r| since_ms.is_none_or(|s| written_since(r, s))),
        );
        next = last + 1;
    }
    Ok(out)
}

/// Whether a dead letter was written (its last attempt) at or after `since_ms`.
fn written_since(letter: &StoredRecord, since_ms: i64) -> bool {
    match field(letter, "last-attempt").and_then(|t| humantime::parse_rfc3339(&t).ok()) {
        Some(t) => t
            .duration_since(std::time::UNIX_EPOCH)
            .is_ok_and(|d| d.as_millis() as i64 >= since_ms),
        None => letter.timestamp >= since_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use strom_broker::RecordHeader;

    #[test]
    fn since_uses_the_last_attempt() {
        let r = StoredRecord {
            offset: 3,
            timestamp: 1_000,
            key: None,
            value: None,
            headers: vec![RecordHeader {
                key: "strom-dlq-last-attempt".into(),
                value: Some(Bytes::from_static(b"2026-01-01T00:00:00.000Z")),
            }],
        };
        assert!(written_since(&r, 1_767_225_600_000));
        assert!(!written_since(&r, 1_767_225_600_001));
    }
}
