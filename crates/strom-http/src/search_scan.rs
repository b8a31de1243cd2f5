//! The scanning half of bounded search (`search.rs`): the filter a record must pass (plain
//! byte comparisons, no user code), the resumable cursor (the next offset of every partition
//! in scope), and the scan loop that reads partitions in order until the page is full or a
//! budget (records scanned, bytes scanned, wall time) runs out.

use std::sync::Arc;
use std::time::Instant;

use strom_broker::{Partition, StoredRecord};

use crate::error::{ApiError, ApiResult};
use crate::reader::read_uncounted;

/// What a record must match; every part given must hold.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub key: Option<Vec<u8>>,
    /// `key` must equal (else contain) the record's key.
    pub key_equals: bool,
    pub value_contains: Option<Vec<u8>>,
    /// A header with this key (and, when given, exactly this value).
    pub header: Option<(String, Option<Vec<u8>>)>,
    pub from_time: Option<i64>,
    pub to_time: Option<i64>,
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

impl Filter {
    pub fn matches(&self, r: &StoredRecord) -> bool {
        if let Some(k) = &self.key {
            let key = r.key.as_deref().unwrap_or(&[]);
            let ok = if self.key_equals {
                r.key.is_some() && key == k.as_slice()
            } else {
                r.key.is_some() && contains(key, k)
            };
            if !ok {
                return false;
            }
        }
        if let Some(v) = &self.value_contains {
            if !r.value.as_deref().is_some_and(|value| contains(value, v)) {
                return false;
            }
        }
        if let Some((hk, hv)) = &self.header {
            let found = r.headers.iter().any(|h| {
                h.key == *hk
                    && hv
                        .as_ref()
                        .is_none_or(|want| h.value.as_deref() == Some(want.as_slice()))
            });
            if !found {
                return false;
            }
        }
        self.from_time.is_none_or(|t| r.timestamp >= t)
            && self.to_time.is_none_or(|t| r.timestamp <= t)
    }
}

/// Where a search stands: the next offset to scan in each partition of its scope, written
/// `partition:offset` joined by `,` (`0:1200,1:0,2:877`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchCursor(pub Vec<(i32, i64)>);

impl SearchCursor {
    pub fn parse(text: &str, partitions: i32) -> ApiResult<SearchCursor> {
        let bad = || {
            ApiError::bad_request(format!(
                "invalid cursor '{text}': expected partition:offset pairs joined by ','"
            ))
        };
        let mut out: Vec<(i32, i64)> = Vec::new();
        for pair in text.split(',').filter(|s| !s.trim().is_empty()) {
            let (p, o) = pair.trim().split_once(':').ok_or_else(bad)?;
            let p: i32 = p.parse().map_err(|_| bad())?;
            let o: i64 = o.parse().map_err(|_| bad())?;
            if p < 0 || p >= partitions || o < 0 || out.iter().any(|(q, _)| *q == p) {
                return Err(bad());
            }
            out.push((p, o));
        }
        if out.is_empty() {
            return Err(bad());
        }
        Ok(SearchCursor(out))
    }
}

impl std::fmt::Display for SearchCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (p, o)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{p}:{o}")?;
        }
        Ok(())
    }
}

/// The limits of one request.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Most matches returned.
    pub limit: usize,
    pub max_records: u64,
    pub max_bytes: u64,
    pub max_ms: u64,
}

/// Why a scan stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stop {
    /// Every partition was scanned to its end.
    End,
    /// `limit` matches were found.
    Limit,
    MaxRecords,
    MaxBytes,
    MaxMs,
}

/// One partition of the scope: where the scan is and where it ends (exclusive).
#[derive(Clone)]
pub struct Lane {
    pub partition: Arc<Partition>,
    pub position: i64,
    pub end: i64,
}

#[derive(Debug, Default)]
pub struct Scan {
    pub matches: Vec<(i32, StoredRecord)>,
    pub scanned: u64,
    pub scanned_bytes: u64,
    pub stop: Option<Stop>,
}

/// Most records read from the log in one step (a step is one blocking read).
const STEP_RECORDS: u64 = 2_000;
const STEP_BYTES: u64 = 4 * 1024 * 1024;

fn size(r: &StoredRecord) -> u64 {
    let h: usize = r
        .headers
        .iter()
        .map(|h| h.key.len() + h.value.as_ref().map_or(0, |v| v.len()))
        .sum();
    (r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len()) + h) as u64
}

/// Scans `lanes` in order, moving each lane's position past what it scanned.
pub async fn scan(lanes: &mut [Lane], filter: &Filter, budget: Budget) -> ApiResult<Scan> {
    let started = Instant::now();
    let mut out = Scan::default();
    for lane in lanes.iter_mut() {
        lane.position = lane.position.max(lane.partition.log_start_offset());
        while lane.position < lane.end {
            if let Some(stop) = exhausted(&out, budget, started) {
                out.stop = Some(stop);
                return Ok(out);
            }
            let left = budget.max_records - out.scanned;
            let step = STEP_RECORDS
                .min(left)
                .min((lane.end - lane.position) as u64);
            let bytes = STEP_BYTES.min(budget.max_bytes - out.scanned_bytes).max(1);
            let read = read_uncounted(
                Arc::clone(&lane.partition),
                lane.position,
                step as usize,
                bytes as usize,
            )
            .await?;
            let index = lane.partition.index();
            let mut next = read.next_offset.max(lane.position);
            for r in read.records {
                if r.offset >= lane.end {
                    next = lane.end;
                    break;
                }
                out.scanned += 1;
                out.scanned_bytes += size(&r);
                let offset = r.offset;
                if filter.matches(&r) {
                    out.matches.push((index, r));
                }
                next = offset + 1;
                if out.matches.len() >= budget.limit {
                    lane.position = next;
                    out.stop = Some(Stop::Limit);
                    return Ok(out);
                }
            }
            if next <= lane.position {
                // Nothing readable here now (an open transaction): the cursor keeps the place.
                break;
            }
            lane.position = next.min(lane.end);
        }
    }
    out.stop = Some(if lanes.iter().all(|l| l.position >= l.end) {
        Stop::End
    } else {
        exhausted(&out, budget, started).unwrap_or(Stop::End)
    });
    Ok(out)
}

fn exhausted(out: &Scan, budget: Budget, started: Instant) -> Option<Stop> {
    if out.scanned >= budget.max_records {
        Some(Stop::MaxRecords)
    } else if out.scanned_bytes >= budget.max_bytes {
        Some(Stop::MaxBytes)
    } else if started.elapsed().as_millis() as u64 >= budget.max_ms {
        Some(Stop::MaxMs)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use strom_broker::RecordHeader;

    fn rec(key: &str, value: &str, header: (&str, &str)) -> StoredRecord {
        StoredRecord {
            offset: 7,
            timestamp: 1000,
            key: Some(Bytes::from(key.to_string())),
            value: Some(Bytes::from(value.to_string())),
            headers: vec![RecordHeader {
                key: header.0.into(),
                value: Some(Bytes::from(header.1.to_string())),
            }],
        }
    }

    #[test]
    fn filters_by_key_value_header_and_time() {
        let r = rec("user-42", "{\"status\":\"failed\"}", ("source", "web"));
        let key = |k: &str, eq| Filter {
            key: Some(k.into()),
            key_equals: eq,
            ..Filter::default()
        };
        assert!(key("user-42", true).matches(&r));
        assert!(!key("user-4", true).matches(&r));
        assert!(key("er-4", false).matches(&r));
        let value = |v: &str| Filter {
            value_contains: Some(v.into()),
            ..Filter::default()
        };
        assert!(value("failed").matches(&r) && !value("passed").matches(&r));
        let header = |k: &str, v: Option<&str>| Filter {
            header: Some((k.into(), v.map(|v| v.as_bytes().to_vec()))),
            ..Filter::default()
        };
        assert!(header("source", None).matches(&r) && header("source", Some("web")).matches(&r));
        assert!(!header("source", Some("we")).matches(&r) && !header("trace", None).matches(&r));
        let time = |from, to| Filter {
            from_time: from,
            to_time: to,
            ..Filter::default()
        };
        assert!(time(Some(1000), Some(1000)).matches(&r));
        assert!(!time(Some(1001), None).matches(&r) && !time(None, Some(999)).matches(&r));
    }

    #[test]
    fn cursor_round_trips_and_refuses_nonsense() {
        let c = SearchCursor::parse("0:12,2:7", 3).unwrap();
        assert_eq!(c.0, vec![(0, 12), (2, 7)]);
        assert_eq!(c.to_string(), "0:12,2:7");
        for bad in ["", "x", "3:1", "0:-1", "0:1,0:2", "0"] {
            assert!(SearchCursor::parse(bad, 3).is_err(), "{bad}");
        }
    }
}
