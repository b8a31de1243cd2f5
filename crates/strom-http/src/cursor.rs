//! Feed cursors: the event id of the HTTP feed, SSE and WebSocket streams.
//!
//! A cursor is the vector of the last delivered offset of every partition, written as the
//! offsets joined by `.`, `-1` for a partition nothing was delivered from
//! (`"41"` for one partition, `"12.-1.7"` for three). Each event's id is the cursor just
//! after that event, so passing it back as `lastEventId` resumes exactly: every partition
//! continues after its own component, with no loss and no duplicate, whatever interleaving
//! the server chose. Components only grow along a feed, so ids are ordered component-wise.
//! A cursor shorter than the partition count (the topic grew) reads the new partitions from
//! the beginning; a longer one is an error.

use std::fmt;

use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub Vec<i64>);

impl Cursor {
    /// The start of the feed for `partitions` partitions.
    pub fn beginning(partitions: usize) -> Cursor {
        Cursor(vec![-1; partitions])
    }

    /// Parses a client's `lastEventId`; empty or `null` is the beginning.
    pub fn parse(text: Option<&str>, partitions: usize) -> ApiResult<Cursor> {
        let text = text.map(str::trim).unwrap_or("");
        if text.is_empty() || text == "null" {
            return Ok(Cursor::beginning(partitions));
        }
        let mut out = Vec::new();
        for part in text.split('.') {
            let offset: i64 = part.parse().map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid lastEventId '{text}': expected offsets joined by '.', e.g. '41' or '12.-1.7'"
                ))
            })?;
            if offset < -1 {
                return Err(ApiError::bad_request(format!(
                    "invalid lastEventId '{text}': offsets must be -1 or more"
                )));
            }
            out.push(offset);
        }
        if out.len() > partitions {
            return Err(ApiError::bad_request(format!(
                "lastEventId '{text}' names {} partitions but the topic has {partitions}",
                out.len()
            )));
        }
        out.resize(partitions, -1);
        Ok(Cursor(out))
    }

    /// The next offset to read in `partition`.
    pub fn next_offset(&self, partition: usize) -> i64 {
        self.0.get(partition).map(|o| o + 1).unwrap_or(0)
    }

    /// Records delivery of `offset` from `partition`.
    pub fn advance(&mut self, partition: usize, offset: i64) {
        if partition >= self.0.len() {
            self.0.resize(partition + 1, -1);
        }
        self.0[partition] = offset;
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, o) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{o}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pads_and_prints() {
        let c = Cursor::parse(Some("5.-1"), 3).unwrap();
        assert_eq!(c.0, vec![5, -1, -1]);
        assert_eq!(c.to_string(), "5.-1.-1");
        assert_eq!(c.next_offset(0), 6);
        assert_eq!(Cursor::parse(None, 2).unwrap().to_string(), "-1.-1");
        assert!(Cursor::parse(Some("1.2.3"), 2).is_err());
        assert!(Cursor::parse(Some("x"), 1).is_err());
        assert!(Cursor::parse(Some("-2"), 1).is_err());
    }
}
