//! One partition's tiering pass: take over its remote manifest (once), upload its closed
//! segments in offset order, each followed by a new manifest version, then local retention
//! and total retention. Order of effects, so a crash at any point loses nothing:
//! objects are uploaded under fresh names -> the manifest that records them is created ->
//! only then may local retention delete the local copy. Remote segments leave the manifest
//! first and the store after; anything a crash leaves unreferenced is deleted as an orphan
//! when the next process takes the manifest over.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use strom_log::{ClosedSegment, Log};
use strom_tier::{ManifestWriter, PartitionKey, RemoteReader, RemoteSegment, TierError};

use super::Tiering;
use crate::producer_state::ProducerStates;
use crate::{Partition, Topic, TopicConfig};

/// Upload state of one partition.
pub(super) struct PartState {
    writer: ManifestWriter,
    reader: Arc<RemoteReader>,
    /// Idempotent-producer state at the manifest's end offset (uploaded with each segment).
    producers: ProducerStates,
    /// Segment keys no manifest names whose objects could not be deleted yet (the store
    /// failed mid-upload); retried every pass.
    orphans: Vec<String>,
}

const EXTENSIONS: [&str; 4] = ["log", "index", "timeindex", "snapshot"];

fn nonce() -> String {
    crate::topic::format_id(&crate::broker::random_bytes::<16>())[..12].to_string()
}

impl Tiering {
    pub(super) fn tier_partition(
        &self,
        topic: &Topic,
        p: &Partition,
        config: &TopicConfig,
    ) -> Result<(), TierError> {
        let id = (topic.name().to_string(), p.index());
        let mut parts = self.parts.lock();
        if !parts.contains_key(&id) {
            let key = PartitionKey {
                topic: topic.name().to_string(),
                topic_id: crate::topic::format_id(&topic.id()),
                partition: p.index(),
            };
            let state = self.take_over(key, p)?;
            parts.insert(id.clone(), state);
        }
        let Some(state) = parts.get_mut(&id) else {
            return Ok(());
        };
        let log = p.log();
        self.retry_orphans(state);
        let result = self.upload_closed(state, &log);
        if *state.reader.manifest() != *state.writer.manifest() {
            // The writer adopted a version an earlier, unanswered write of ours created: take
            // the partition over again next pass (reader and producer state from the store).
            parts.remove(&id);
            return result.and(Err(TierError::Unavailable("manifest reloaded".into())));
        }
        // Retention runs even when an upload failed: it only needs what is recorded.
        self.local_retention(state, &log, config);
        self.total_retention(state, &log, p.log_start_floor())?;
        self.record_gauges(topic.name(), p.index(), state, &log);
        match result {
            Err(TierError::Fenced(reason)) => {
                tracing::error!(topic = %topic.name(), partition = p.index(), %reason,
                    "another node took over this partition's remote log; uploads stop");
                parts.remove(&id);
                Err(TierError::Fenced(reason))
            }
            other => other,
        }
    }

    /// Takes the partition's manifest over (fencing earlier writers), deletes orphans and
    /// attaches the remote tier to the partition for reads.
    fn take_over(&self, key: PartitionKey, p: &Partition) -> Result<PartState, TierError> {
        let writer = ManifestWriter::acquire(Arc::clone(&self.store), key)?;
        let m = writer.manifest().clone();
        self.delete_orphans(&writer)?;
        let producers = match m.segments.last() {
            Some(last) => {
                let bytes = self.store.get(&format!("{}.snapshot", last.key))?;
                serde_json::from_slice(&bytes)
                    .map_err(|e| TierError::Corrupt(format!("{}.snapshot: {e}", last.key)))?
            }
            None => ProducerStates::default(),
        };
        if !m.segments.is_empty() {
            p.adopt_remote_txns(producers.txns.clone(), m.end_offset())
                .map_err(|e| TierError::Unavailable(format!("local log: {e}")))?;
        }
        let reader = Arc::new(RemoteReader::new(
            Arc::clone(&self.store),
            Arc::clone(&self.cache),
            m,
        ));
        p.attach_remote(Arc::clone(&reader), self.config.remote_fetch_max_wait_ms);
        Ok(PartState {
            writer,
            reader,
            producers,
            orphans: Vec::new(),
        })
    }

    /// Deletes segment objects no manifest references (uploads a crash cut short).
    fn delete_orphans(&self, writer: &ManifestWriter) -> Result<(), TierError> {
        let referenced: HashSet<String> = writer
            .manifest()
            .segments
            .iter()
            .flat_map(|s| EXTENSIONS.map(|ext| format!("{}.{ext}", s.key)))
            .collect();
        for obj in self.store.list(&writer.key().segments_prefix())? {
            if !referenced.contains(&obj.key) {
                tracing::info!(object = %obj.key, "deleting an orphaned remote object");
                self.store.delete(&obj.key)?;
            }
        }
        Ok(())
    }

    fn upload_closed(&self, state: &mut PartState, log: &Log) -> Result<(), TierError> {
        for seg in log.closed_segments() {
            if self.stopping() {
                return Ok(());
            }
            let m = state.writer.manifest();
            let end = m.end_offset();
            if seg.end_offset <= end {
                continue;
            }
            if seg.base_offset < end && !m.segments.is_empty() {
                tracing::warn!(
                    base = seg.base_offset,
                    remote_end = end,
                    "a local segment overlaps the remote log; not uploaded"
                );
                continue;
            }
            if seg.base_offset > end && !m.segments.is_empty() {
                // Total retention removed local data never uploaded: everything remote is
                // older still, so the remote log restarts at this segment.
                self.restart_remote(state, seg.base_offset)?;
            }
            self.upload_segment(state, log, &seg)?;
        }
        Ok(())
    }

    fn restart_remote(&self, state: &mut PartState, base: i64) -> Result<(), TierError> {
        let mut next = state.writer.manifest().clone();
        let dropped = std::mem::take(&mut next.segments);
        next.log_start_offset = base;
        state.writer.commit(next)?;
        state.reader.set_manifest(state.writer.manifest().clone());
        state.producers = ProducerStates::default();
        self.delete_segments(state, &dropped);
        Ok(())
    }

    fn upload_segment(
        &self,
        state: &mut PartState,
        log: &Log,
        seg: &ClosedSegment,
    ) -> Result<(), TierError> {
        let key = format!(
            "{}{:020}-{}",
            state.writer.key().segments_prefix(),
            seg.base_offset,
            nonce()
        );
        let local = |e: crate::BrokerError| TierError::Unavailable(format!("local segment: {e}"));
        let mut producers = state.producers.clone();
        log.scan_headers(seg.base_offset, &mut |h| {
            if h.base_offset >= seg.end_offset {
                return false;
            }
            producers.record(h);
            true
        })
        .map_err(|e| local(e.into()))?;
        // Open and aborted transactions too, so read_committed readers of the remote data
        // (and a restored node) know the LSO and which batches to drop.
        let txns = crate::partition_txn::txn_batches(log, seg.base_offset, seg.end_offset)
            .map_err(local)?;
        for (h, control) in txns {
            producers.txns.record(&h, control);
        }
        producers.next_offset = seg.end_offset;
        let snapshot = serde_json::to_vec(&producers)
            .map_err(|e| TierError::Corrupt(format!("producer snapshot: {e}")))?;
        let budget = |n: u64| self.throttle.consume(n);
        let uploaded = (|| -> Result<RemoteSegment, TierError> {
            let size =
                self.store
                    .put_file(&format!("{key}.log"), &seg.log, Some(seg.size), &budget)?;
            let index_size =
                self.store
                    .put_file(&format!("{key}.index"), &seg.index, None, &budget)?;
            let timeindex_size =
                self.store
                    .put_file(&format!("{key}.timeindex"), &seg.timeindex, None, &budget)?;
            self.store
                .put(&format!("{key}.snapshot"), Bytes::from(snapshot))?;
            Ok(RemoteSegment {
                base_offset: seg.base_offset,
                end_offset: seg.end_offset,
                size,
                index_size,
                timeindex_size,
                max_timestamp: seg.max_timestamp,
                key: key.clone(),
            })
        })();
        let remote = match uploaded {
            Ok(r) => r,
            Err(e) => {
                if !self.delete_objects(&key) {
                    state.orphans.push(key);
                }
                return Err(e);
            }
        };
        let mut next = state.writer.manifest().clone();
        if next.segments.is_empty() {
            next.log_start_offset = seg.base_offset;
        }
        next.segments.push(remote);
        state.writer.commit(next)?;
        state.reader.set_manifest(state.writer.manifest().clone());
        state.producers = producers;
        metrics::counter!("strom_tier_uploaded_segments_total").increment(1);
        metrics::counter!("strom_tier_uploaded_bytes_total").increment(seg.size);
        Ok(())
    }

    /// Local retention: segments recorded in the manifest beyond `local.retention.*`.
    fn local_retention(&self, state: &PartState, log: &Log, config: &TopicConfig) {
        let (ms, bytes) = config.local_retention(&log.config());
        let end = state.writer.manifest().end_offset();
        if let Err(e) = log.delete_uploaded_segments(end, crate::records::now_ms(), ms, bytes) {
            tracing::warn!(log = %log.dir().display(), error = %e, "local retention failed");
        }
    }

    /// Total retention (`retention.ms/bytes` over both tiers) and DeleteRecords (`floor`):
    /// the oldest remote segments leave the manifest, then the store; the manifest's log
    /// start moves up to the floor (within its first segment too), so a restore keeps it.
    fn total_retention(
        &self,
        state: &mut PartState,
        log: &Log,
        floor: i64,
    ) -> Result<(), TierError> {
        let c = log.config();
        let now = crate::records::now_ms();
        let local_start = log.log_start_offset();
        let mut next = state.writer.manifest().clone();
        let remote_only: u64 = next
            .segments
            .iter()
            .filter(|s| s.end_offset <= local_start)
            .map(|s| s.size)
            .sum();
        let mut total = remote_only + log.size_bytes();
        let mut dropped = Vec::new();
        while let Some(first) = next.segments.first() {
            let expired = c
                .retention_ms
                .is_some_and(|ms| ms >= 0 && first.max_timestamp < now.saturating_sub(ms));
            let remote_only = first.end_offset <= local_start;
            let oversize = c
                .retention_bytes
                .is_some_and(|max| remote_only && total.saturating_sub(first.size) >= max);
            let deleted = first.end_offset <= floor;
            if !(expired || oversize || deleted) {
                break;
            }
            if remote_only {
                total -= first.size;
            }
            dropped.push(next.segments.remove(0));
        }
        let mut start = next.log_start_offset;
        if let Some(last) = dropped.last() {
            start = start.max(last.end_offset);
        }
        if !next.segments.is_empty() {
            // Below the first remaining segment's end (else it was dropped above).
            start = start.max(floor);
        }
        if dropped.is_empty() && start == next.log_start_offset {
            return Ok(());
        }
        next.log_start_offset = start;
        state.writer.commit(next)?;
        state.producers.txns.trim_before(start);
        state.reader.set_manifest(state.writer.manifest().clone());
        self.delete_segments(state, &dropped);
        Ok(())
    }

    fn delete_segments(&self, state: &mut PartState, dropped: &[RemoteSegment]) {
        for s in dropped {
            if !self.delete_objects(&s.key) {
                state.orphans.push(s.key.clone());
            }
            self.cache.forget(&format!("{}.log", s.key));
        }
    }

    /// Deletes the objects of segments left unreferenced by an earlier failure.
    fn retry_orphans(&self, state: &mut PartState) {
        state.orphans.retain(|key| !self.delete_objects(key));
    }

    /// Deletes a segment's objects; false if one could not be (the key is then kept as an
    /// orphan and retried by the next pass, or deleted by a later take-over).
    fn delete_objects(&self, key: &str) -> bool {
        let mut all = true;
        for ext in EXTENSIONS {
            if let Err(e) = self.store.delete(&format!("{key}.{ext}")) {
                tracing::debug!(error = %e, "remote delete failed; retried later");
                all = false;
            }
        }
        all
    }

    fn record_gauges(&self, topic: &str, partition: i32, state: &PartState, log: &Log) {
        let m = state.writer.manifest();
        let topic = crate::telemetry::topic_label(topic);
        let labels = [("topic", topic), ("partition", partition.to_string())];
        let closed = log.closed_segments();
        let lag: u64 = closed
            .iter()
            .filter(|s| s.end_offset > m.end_offset())
            .map(|s| s.size)
            .sum();
        metrics::gauge!("strom_tier_remote_bytes", &labels).set(m.size_bytes() as f64);
        metrics::gauge!("strom_tier_remote_segments", &labels).set(m.segments.len() as f64);
        metrics::gauge!("strom_tier_local_bytes", &labels).set(log.size_bytes() as f64);
        metrics::gauge!("strom_tier_local_segments", &labels).set(log.segment_count() as f64);
        metrics::gauge!("strom_tier_upload_lag_bytes", &labels).set(lag as f64);
    }
}
