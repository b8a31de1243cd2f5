//! The tiering hooks of [`Partition`]: reads and offsets that reach below the local log into
//! the remote tier (`tiering/read.rs`), the DeleteRecords floor (`tiering/floor.rs`), and the
//! transaction state adopted from the remote tier after a restore.

use std::sync::Arc;

use super::Partition;
use crate::internal::ClientOperation;
use crate::partition_txn;
use crate::{BrokerError, FetchResult};

impl Partition {
    /// Reads whole batches from `offset` (see [`strom_log::Log::read`]); below the local
    /// log, from the remote tier (`tiering/read.rs`). The one read path of every front end.
    ///
    /// Errors: `Log(OffsetOutOfRange)` outside the partition, `RemoteStorage` (retriable).
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<FetchResult, BrokerError> {
        let remote = self.remote();
        let floor = self.floor.get();
        crate::tiering::read(&self.log(), remote.as_deref(), floor, offset, max_bytes)
    }

    /// The remote tier of this partition, if tiering manages it.
    pub fn remote(&self) -> Option<Arc<strom_tier::RemoteReader>> {
        self.remote.read().clone()
    }

    /// Attaches the remote tier; Kafka fetches wait at most `fetch_wait_ms` for its reads.
    pub(crate) fn attach_remote(&self, remote: Arc<strom_tier::RemoteReader>, fetch_wait_ms: u64) {
        self.remote_wait_ms
            .store(fetch_wait_ms, std::sync::atomic::Ordering::Release);
        *self.remote.write() = Some(remote);
    }

    /// First readable offset: the remote log start when older data is remote.
    pub fn log_start_offset(&self) -> i64 {
        crate::tiering::log_start(&self.log(), self.remote().as_deref(), self.floor.get())
    }
    /// Earliest `(offset, timestamp)` with timestamp >= `timestamp`, remote tier included.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<(i64, i64)>, BrokerError> {
        let remote = self.remote();
        let floor = self.floor.get();
        crate::tiering::offset_for_timestamp(&self.log(), remote.as_deref(), floor, timestamp)
    }
    /// Kafka DeleteRecords: advances the log start offset; returns the new low watermark.
    /// Below the local log (tiered data), a persisted floor hides the records at once and the
    /// uploader removes them from the remote tier (`tiering/floor.rs`).
    /// Errors: `InternalTopic`, `Log`, `Io`.
    pub fn delete_records_before(&self, offset: i64) -> Result<i64, BrokerError> {
        self.refuse_client(ClientOperation::DeleteRecords)?;
        let log = self.log();
        log.delete_records_before(offset)?;
        if offset > self.log_start_offset() {
            self.floor.raise(log.dir(), offset)?;
        }
        Ok(self.log_start_offset())
    }

    /// The log start DeleteRecords set (0 if none), for the uploader.
    pub(crate) fn log_start_floor(&self) -> i64 {
        self.floor.get()
    }

    /// Takes the transaction state of the remote tier (`txns`, as of `remote_end`) extended
    /// by the local log from there, keeping the aborted transactions known locally: after a
    /// restore, or a restart that trimmed the aborted transactions below the local log, the
    /// last stable offset and the aborted list cover the remote data again. Nothing changes
    /// when the local log starts after `remote_end` (its own state is then the whole truth).
    /// Errors: those of reading the local log.
    pub(crate) fn adopt_remote_txns(
        &self,
        mut txns: partition_txn::PartitionTxns,
        remote_end: i64,
    ) -> Result<(), BrokerError> {
        let mut producers = self.producers.lock();
        let log = self.log();
        if remote_end < log.log_start_offset() {
            return Ok(());
        }
        for (h, control) in partition_txn::txn_batches(&log, remote_end, i64::MAX)? {
            txns.record(&h, control);
        }
        txns.merge_aborted(&producers.txns);
        producers.txns = txns;
        Ok(())
    }
}
