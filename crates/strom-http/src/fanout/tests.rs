//! The fan-out's contract: subscribers at one position share one read per new batch; a
//! subscriber that stops reading delays nobody, keeps the ring bounded, and later receives
//! exactly the events it missed (ids continuous, no gap, no duplicate).

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use strom_broker::{Broker, NewRecord, Topic};

use super::{Chunk, Subscription};
use crate::cursor::Cursor;
use crate::feed_cache::tests::broker;
use crate::state::{AppState, Shared};

fn state(b: &Arc<Broker>) -> (Shared, tokio::sync::watch::Sender<bool>) {
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    (
        AppState::new(b.clone(), Default::default(), shutdown, None),
        stop,
    )
}

fn append(topic: &Topic, partition: i32, value: &[u8]) {
    topic
        .partition(partition)
        .expect("partition")
        .append_records(&[NewRecord {
            value: Some(Bytes::copy_from_slice(value)),
            ..Default::default()
        }])
        .expect("append");
}

/// The next events of `sub` as `(partition, offset, id)`.
async fn next_events(sub: &mut Subscription) -> Vec<(i32, i64, Cursor)> {
    let mut chunks: Vec<Chunk> = Vec::new();
    assert!(sub.next(&mut chunks).await, "the feed goes on");
    chunks
        .iter()
        .flat_map(|c| c.batch.batch.events[c.skip..].iter())
        .map(|e| (e.partition, e.record.offset, e.id.clone()))
        .collect()
}

#[tokio::test]
async fn subscribers_of_one_position_share_one_read_per_new_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = broker(dir.path());
    let topic = b.create_topic("t", 1, &Default::default()).expect("topic");
    let (state, _stop) = state(&b);
    let mut subs: Vec<Subscription> = (0..50)
        .map(|_| {
            state
                .fanout
                .subscribe(&state, &topic, Cursor::beginning(1), 10)
        })
        .collect();
    let lookups_before = state.feed_cache.lookups();
    for i in 0..5i64 {
        append(&topic, 0, b"x");
        let mut first: Option<Arc<crate::feed_cache::SharedBatch>> = None;
        for sub in subs.iter_mut() {
            let mut chunks = Vec::new();
            assert!(sub.next(&mut chunks).await);
            assert_eq!(chunks.len(), 1);
            assert_eq!(chunks[0].batch.batch.events[0].record.offset, i);
            match &first {
                None => first = Some(Arc::clone(&chunks[0].batch)),
                Some(f) => assert!(Arc::ptr_eq(f, &chunks[0].batch), "one shared batch"),
            }
        }
    }
    assert_eq!(state.feed_cache.decodes(), 5, "one decoded read per batch");
    let lookups = state.feed_cache.lookups() - lookups_before;
    assert!(
        lookups <= 2 * 5 + 2,
        "the follower reads, not the 50 subscribers: {lookups} cache lookups"
    );
    assert!(subs.iter().all(Subscription::is_live));
    assert_eq!(state.fanout.followers(), 1);
    drop(subs);
    b.shutdown().expect("shutdown");
}

/// Checks that `events` continue exactly from `from`: each id is the previous one with the
/// event's partition advanced to the event's offset, which is the next in that partition.
fn assert_continuous(from: &Cursor, events: &[(i32, i64, Cursor)]) {
    let mut at = from.clone();
    let mut seen = HashSet::new();
    for (p, offset, id) in events {
        assert_eq!(
            *offset,
            at.next_offset(*p as usize),
            "no gap in partition {p}"
        );
        assert!(seen.insert((*p, *offset)), "no duplicate");
        at.advance(*p as usize, *offset);
        assert_eq!(id, &at, "the id is the cursor after the event");
    }
}

#[tokio::test]
async fn a_slow_subscriber_delays_nobody_and_catches_up_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = broker(dir.path());
    let topic = b.create_topic("t", 2, &Default::default()).expect("topic");
    let (state, _stop) = state(&b);
    state.fanout.set_ring_limits(4, usize::MAX);
    let start = Cursor::beginning(2);
    let mut fast = state.fanout.subscribe(&state, &topic, start.clone(), 3);
    let mut slow = state.fanout.subscribe(&state, &topic, start.clone(), 3);
    // Both take the first event, so both are live on the ring.
    append(&topic, 0, b"first");
    let mut fast_events = next_events(&mut fast).await;
    let mut slow_events = next_events(&mut slow).await;
    assert!(fast.is_live() && slow.is_live());
    for i in 1..41 {
        append(&topic, i % 2, format!("{i}").as_bytes());
        // The slow subscriber is never polled here: the fast one gets each event anyway.
        let got = next_events(&mut fast).await;
        assert_eq!(got.len(), 1);
        fast_events.extend(got);
    }
    assert_continuous(&start, &fast_events);
    while slow_events.len() < 41 {
        slow_events.extend(next_events(&mut slow).await);
    }
    assert_eq!(slow_events.len(), 41);
    assert_continuous(&start, &slow_events);
    assert!(
        state.fanout.lagged() >= 1,
        "the slow one fell behind the ring"
    );
    // Caught up, it rejoins the ring and follows live again.
    append(&topic, 1, b"late");
    let last = slow_events.last().map(|e| e.2.clone()).expect("events");
    let got = next_events(&mut slow).await;
    assert_continuous(&last, &got);
    assert!(slow.is_live());
    drop((fast, slow));
    b.shutdown().expect("shutdown");
}

#[tokio::test]
async fn a_stalled_subscriber_leaves_the_ring_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = broker(dir.path());
    let topic = b.create_topic("t", 1, &Default::default()).expect("topic");
    let (state, _stop) = state(&b);
    let budget = 64 * 1024;
    state.fanout.set_ring_limits(16, budget);
    let start = Cursor::beginning(1);
    let mut fast = state.fanout.subscribe(&state, &topic, start.clone(), 10);
    let stalled = state.fanout.subscribe(&state, &topic, start, 10);
    let value = vec![b'v'; 4096];
    let mut max_seen = (0, 0);
    for _ in 0..200 {
        append(&topic, 0, &value);
        assert_eq!(next_events(&mut fast).await.len(), 1);
        let (slots, bytes) = state.fanout.ring_usage(topic.id()).expect("follower");
        max_seen = (max_seen.0.max(slots), max_seen.1.max(bytes));
    }
    assert!(max_seen.0 <= 16, "slots bounded: {max_seen:?}");
    assert!(max_seen.1 <= budget, "bytes bounded: {max_seen:?}");
    drop((fast, stalled));
    b.shutdown().expect("shutdown");
}

#[tokio::test]
async fn the_follower_retires_with_its_last_subscriber() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = broker(dir.path());
    let topic = b.create_topic("t", 1, &Default::default()).expect("topic");
    let (state, _stop) = state(&b);
    let sub = state
        .fanout
        .subscribe(&state, &topic, Cursor::beginning(1), 10);
    assert_eq!(
        (state.fanout.followers(), state.fanout.subscribers()),
        (1, 1)
    );
    drop(sub);
    while state.fanout.followers() != 0 {
        tokio::task::yield_now().await;
    }
    // A new subscriber starts a new follower and gets events.
    let mut sub = state
        .fanout
        .subscribe(&state, &topic, Cursor::beginning(1), 10);
    append(&topic, 0, b"x");
    assert_eq!(next_events(&mut sub).await.len(), 1);
    drop(sub);
    b.shutdown().expect("shutdown");
}
