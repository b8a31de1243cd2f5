//! A follower's ring of its most recent batches: each slot is one batch the follower read
//! (decoded, rendered and SSE-framed once), numbered by a sequence. Live subscribers hold
//! only a position (next slot, events of it to skip) and take every slot published since,
//! by refcount. The ring is bounded by a slot count and a byte budget; a subscriber whose
//! next slot was dropped is *lagged* and catches up from the log on its own.
//!
//! Pure data under the follower's lock: no I/O, no waiting, no allocation per taken slot
//! beyond the caller's output vector.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::cursor::Cursor;
use crate::feed_cache::SharedBatch;

/// One batch of the follower's stream.
pub struct Slot {
    pub seq: u64,
    /// The position before the batch's first event.
    pub before: Cursor,
    /// The position after its last event.
    pub after: Arc<Cursor>,
    pub batch: Arc<SharedBatch>,
    /// What the slot is charged against the ring's byte budget.
    pub bytes: usize,
}

/// Part of a slot handed to a subscriber: the batch's events from `skip` on.
pub struct Chunk {
    pub batch: Arc<SharedBatch>,
    pub skip: usize,
}

/// Where a live subscriber stands: the next slot it takes and how many of that slot's
/// events it already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub next: u64,
    pub skip: usize,
}

/// What [`Ring::take`] found.
pub enum Take {
    /// Chunks were appended; the subscriber's position is now this cursor.
    Delivered(Arc<Cursor>),
    /// Nothing new yet.
    Empty,
    /// The next slot was dropped from the ring: catch up from the log.
    Lagged,
    /// The follower stopped (shutdown, topic deleted, read error).
    Closed,
}

pub struct Ring {
    slots: VecDeque<Arc<Slot>>,
    first_seq: u64,
    /// The position after the newest slot: where the follower reads next.
    head: Cursor,
    bytes: usize,
    max_slots: usize,
    max_bytes: usize,
    pub closed: bool,
}

impl Ring {
    pub fn new(head: Cursor, max_slots: usize, max_bytes: usize) -> Ring {
        Ring {
            slots: VecDeque::new(),
            first_seq: 0,
            head,
            bytes: 0,
            max_slots: max_slots.max(1),
            max_bytes,
            closed: false,
        }
    }

    /// The sequence number the next pushed slot gets.
    pub fn next_seq(&self) -> u64 {
        self.first_seq + self.slots.len() as u64
    }

    pub fn head(&self) -> &Cursor {
        &self.head
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Publishes a non-empty batch read at the head; drops the oldest slots while over the
    /// slot count or byte budget (the newest always stays).
    pub fn push(&mut self, batch: Arc<SharedBatch>, bytes: usize) {
        let after = batch.batch.cursor.clone();
        let before = std::mem::replace(&mut self.head, after.clone());
        self.slots.push_back(Arc::new(Slot {
            seq: self.next_seq(),
            before,
            after: Arc::new(after),
            batch,
            bytes,
        }));
        self.bytes += bytes;
        while self.slots.len() > self.max_slots
            || (self.bytes > self.max_bytes && self.slots.len() > 1)
        {
            if let Some(old) = self.slots.pop_front() {
                self.bytes -= old.bytes;
                self.first_seq += 1;
            }
        }
    }

    /// Where a subscriber at `cursor` can join: at the head, or inside a slot whose events
    /// continue exactly from `cursor`. `starts` are the partitions' log start offsets, so a
    /// position before removed records equals the first one after them.
    pub fn join(&self, cursor: &Cursor, starts: &[i64]) -> Option<Position> {
        if same_position(cursor, &self.head, starts) {
            return Some(Position {
                next: self.next_seq(),
                skip: 0,
            });
        }
        for slot in self.slots.iter().rev() {
            if same_position(cursor, &slot.before, starts) {
                return Some(Position {
                    next: slot.seq,
                    skip: 0,
                });
            }
            if !within(cursor, &slot.before, &slot.after) {
                continue;
            }
            let events = &slot.batch.batch.events;
            if let Some(i) = events.iter().position(|e| e.id == *cursor) {
                return Some(Position {
                    next: slot.seq,
                    skip: i + 1,
                });
            }
        }
        None
    }

    /// Appends every slot from `pos` on (at least one, then up to `max_bytes`) to `out`
    /// and advances `pos` past them.
    pub fn take(&self, pos: &mut Position, out: &mut Vec<Chunk>, max_bytes: usize) -> Take {
        if pos.next < self.first_seq {
            return if self.closed {
                Take::Closed
            } else {
                Take::Lagged
            };
        }
        let start = (pos.next - self.first_seq) as usize;
        let mut taken = 0;
        let mut after = None;
        for slot in self.slots.iter().skip(start) {
            if after.is_some() && taken + slot.bytes > max_bytes {
                break;
            }
            if pos.skip < slot.batch.batch.events.len() {
                out.push(Chunk {
                    batch: Arc::clone(&slot.batch),
                    skip: pos.skip,
                });
            }
            taken += slot.bytes;
            pos.next = slot.seq + 1;
            pos.skip = 0;
            after = Some(&slot.after);
        }
        match after {
            Some(after) => Take::Delivered(Arc::clone(after)),
            None if self.closed => Take::Closed,
            None => Take::Empty,
        }
    }
}

/// Two positions that read on identically: equal offsets per partition, where an offset
/// before the log start counts as the log start (a missing component is `-1`).
pub fn same_position(a: &Cursor, b: &Cursor, starts: &[i64]) -> bool {
    let n = a.0.len().max(b.0.len());
    (0..n).all(|p| {
        let x = a.0.get(p).copied().unwrap_or(-1) + 1;
        let y = b.0.get(p).copied().unwrap_or(-1) + 1;
        let start = starts.get(p).copied().unwrap_or(0);
        x == y || x.max(start) == y.max(start)
    })
}

/// Whether `c` lies component-wise between `lo` and `hi` (a cheap filter before scanning a
/// slot's event ids).
fn within(c: &Cursor, lo: &Cursor, hi: &Cursor) -> bool {
    (0..c.0.len().max(hi.0.len())).all(|p| {
        let v = c.0.get(p).copied().unwrap_or(-1);
        lo.0.get(p).copied().unwrap_or(-1) <= v && v <= hi.0.get(p).copied().unwrap_or(-1)
    })
}
