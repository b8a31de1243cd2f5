//! `remote.fetch.max.wait.ms` (KIP-1018): a Kafka fetch that must read remote data waits at
//! most this long for it, then answers with what it has (the remote partition empty, no
//! error; the client fetches again). The read is not cancelled: it goes on on a blocking
//! thread and fills the chunk cache, so the retry finds its bytes there. At most
//! [`MAX_DETACHED`] such reads run at once, server-wide; a fetch that finds them all busy (a
//! slow or unreachable store) waits the same bounded time for one to finish, else answers
//! empty, so a stalled store can never tie up the blocking threads the produce path uses.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::{BrokerError, FetchResult, Partition};

/// Remote reads running on blocking threads at once, server-wide.
pub const MAX_DETACHED: usize = 16;

static DETACHED: Semaphore = Semaphore::const_new(MAX_DETACHED);

/// Kafka's default `remote.fetch.max.wait.ms`.
pub const DEFAULT_REMOTE_FETCH_MAX_WAIT_MS: u64 = 500;

/// The outcome of a bounded remote read.
#[derive(Debug)]
pub enum RemoteRead {
    /// The read finished in time (with data or an error).
    Done(Result<FetchResult, BrokerError>),
    /// Still running after `remote.fetch.max.wait.ms`: answer the partition empty.
    Pending,
}

impl Partition {
    /// Whether a read at `offset` goes to the remote tier (below the local log, within the
    /// remote range).
    pub fn reads_remote(&self, offset: i64) -> bool {
        let log = self.log();
        self.remote().is_some()
            && offset < log.log_start_offset()
            && offset >= self.log_start_offset()
    }

    /// The server's `remote.fetch.max.wait.ms`, set when tiering attached the remote tier.
    pub fn remote_fetch_max_wait(&self) -> Duration {
        Duration::from_millis(self.remote_wait_ms.load(Ordering::Acquire))
    }

    /// [`Partition::read`] for a Kafka fetch whose offset [`Partition::reads_remote`]: runs
    /// on a blocking thread and is waited for at most `remote.fetch.max.wait.ms`.
    pub async fn read_remote_bounded(self: Arc<Self>, offset: i64, max_bytes: usize) -> RemoteRead {
        let wait = self.remote_fetch_max_wait();
        let deadline = tokio::time::Instant::now() + wait;
        let Ok(Ok(permit)) = tokio::time::timeout_at(deadline, DETACHED.acquire()).await else {
            metrics::counter!("strom_tier_remote_fetch_timeouts_total").increment(1);
            return RemoteRead::Pending;
        };
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            self.read(offset, max_bytes)
        });
        match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(result)) => RemoteRead::Done(result),
            Ok(Err(join)) => {
                tracing::error!(error = %join, "a remote read panicked");
                RemoteRead::Done(Err(BrokerError::RemoteStorage))
            }
            Err(_) => {
                metrics::counter!("strom_tier_remote_fetch_timeouts_total").increment(1);
                RemoteRead::Pending
            }
        }
    }
}
