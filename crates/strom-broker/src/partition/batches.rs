//! Batch headers of an append request: parsed one after the other, and the marker type of
//! each control batch among them.

use strom_log::{BatchHeader, LogError};

use crate::partition_txn::{self, ControlType};
use crate::BrokerError;

/// The marker type of each control batch among `headers` (the batches of `batch`).
pub(super) fn control_types(batch: &[u8], headers: &[BatchHeader]) -> Vec<Option<ControlType>> {
    let mut pos = 0;
    headers
        .iter()
        .map(|h| {
            let one = batch.get(pos..).unwrap_or_default();
            pos += h.total_len();
            h.is_control()
                .then(|| partition_txn::control_type(one))
                .flatten()
        })
        .collect()
}

pub(super) fn headers_of(batch: &[u8]) -> Result<Vec<BatchHeader>, BrokerError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < batch.len() {
        let h = BatchHeader::parse(&batch[pos..]).ok_or_else(|| {
            BrokerError::Log(LogError::CorruptBatch(format!(
                "truncated batch header at byte {pos}"
            )))
        })?;
        if h.batch_length <= 0 {
            return Err(BrokerError::Log(LogError::CorruptBatch(format!(
                "invalid batch length {} at byte {pos}",
                h.batch_length
            ))));
        }
        pos += h.total_len();
        out.push(h);
    }
    Ok(out)
}
