//! Unit tests of the fetch session cache: epochs, principals, bounds and Kafka's eviction
//! preference (with explicit clocks, so no test waits).

use super::*;

fn key(p: i32) -> PartitionKey {
    (
        Uuid::nil(),
        TopicName(kafka_protocol::protocol::StrBytes::from_static_str("t")),
        p,
    )
}

fn alice() -> Principal {
    Principal::user("alice")
}

fn session_of(n: i32) -> IndexMap<PartitionKey, Cached> {
    (0..n).map(|p| (key(p), Cached::unsent(0, 100))).collect()
}

fn incremental(
    cache: &FetchSessionCache,
    id: i32,
    epoch: i32,
    now: Instant,
) -> Result<Begin, ResponseError> {
    cache.begin(
        &alice(),
        false,
        (id, epoch),
        std::iter::empty(),
        std::iter::empty(),
        now,
    )
}

#[test]
fn epochs_advance_and_a_wrong_one_is_refused() {
    let cache = FetchSessionCache::default();
    let now = Instant::now();
    let id = cache.create(&alice(), false, session_of(2), now);
    assert_ne!(id, 0);
    let Ok(Begin::Incremental {
        epoch, partitions, ..
    }) = incremental(&cache, id, 1, now)
    else {
        panic!("epoch 1 continues the session");
    };
    assert_eq!((epoch, partitions.len()), (2, 2));
    assert_eq!(
        incremental(&cache, id, 1, now).err(),
        Some(ResponseError::InvalidFetchSessionEpoch)
    );
    assert_eq!(
        incremental(&cache, id + 1, 2, now).err(),
        Some(ResponseError::FetchSessionIdNotFound)
    );
    let bob = Principal::user("bob");
    let other = cache.begin(
        &bob,
        false,
        (id, 2),
        std::iter::empty(),
        std::iter::empty(),
        now,
    );
    assert_eq!(other.err(), Some(ResponseError::FetchSessionIdNotFound));
    let ids = cache.begin(
        &alice(),
        true,
        (id, 2),
        std::iter::empty(),
        std::iter::empty(),
        now,
    );
    assert_eq!(ids.err(), Some(ResponseError::FetchSessionTopicIdError));
    // Epoch -1 closes the session.
    assert!(matches!(
        incremental(&cache, id, -1, now),
        Ok(Begin::Sessionless)
    ));
    assert!(cache.is_empty());
}

#[test]
fn updates_add_partitions_and_forgotten_ones_leave() {
    let cache = FetchSessionCache::default();
    let now = Instant::now();
    let id = cache.create(&alice(), false, session_of(2), now);
    let begun = cache.begin(
        &alice(),
        false,
        (id, 1),
        [(key(1), 7, 50), (key(5), 3, 60)].into_iter(),
        [key(0)].into_iter(),
        now,
    );
    let Ok(Begin::Incremental { partitions, .. }) = begun else {
        panic!("incremental");
    };
    let got: Vec<_> = partitions
        .iter()
        .map(|(k, c)| (k.2, c.fetch_offset, c.max_bytes))
        .collect();
    assert_eq!(got, vec![(1, 7, 50), (5, 3, 60)]);
}

#[test]
fn commit_remembers_offsets_and_rotates_partitions_with_records() {
    let cache = FetchSessionCache::default();
    let now = Instant::now();
    let id = cache.create(&alice(), false, session_of(3), now);
    let sent = |p, hw, records| Sent {
        key: key(p),
        high_watermark: hw,
        last_stable_offset: hw,
        log_start_offset: 0,
        error: false,
        records,
    };
    let Ok(Begin::Incremental { epoch, .. }) = incremental(&cache, id, 1, now) else {
        panic!("incremental");
    };
    cache.commit(id, epoch, &[sent(0, 4, true), sent(2, 9, false)]);
    let Ok(Begin::Incremental { partitions, .. }) = incremental(&cache, id, epoch, now) else {
        panic!("incremental");
    };
    let got: Vec<_> = partitions
        .iter()
        .map(|(k, c)| (k.2, c.high_watermark))
        .collect();
    assert_eq!(got, vec![(1, -1), (2, 9), (0, 4)]);
}

#[test]
fn a_full_cache_evicts_stale_then_smaller_old_sessions_only() {
    let age = Duration::from_secs(120);
    let cache = FetchSessionCache::new(1, age);
    let t0 = Instant::now();
    let small = cache.create(&alice(), false, session_of(1), t0);
    assert_ne!(small, 0);
    // Young: a larger session does not evict it.
    assert_eq!(
        cache.create(&alice(), false, session_of(5), t0 + age / 2),
        0
    );
    // Old but in use: only a larger session evicts it.
    let old = t0 + age * 2;
    assert!(incremental(&cache, small, 1, old).is_ok());
    assert_eq!(cache.create(&alice(), false, session_of(1), old), 0);
    let large = cache.create(&alice(), false, session_of(5), old);
    assert_ne!(large, 0);
    assert_eq!(
        incremental(&cache, small, 2, old).err(),
        Some(ResponseError::FetchSessionIdNotFound)
    );
    // Stale (unused for longer than the age): any new session evicts it.
    let later = old + age * 2;
    assert_ne!(cache.create(&alice(), false, session_of(1), later), 0);
    assert_eq!(cache.len(), 1);
}

#[test]
fn sessions_are_bounded() {
    let cache = FetchSessionCache::new(0, EVICTION_AGE);
    assert_eq!(
        cache.create(&alice(), false, session_of(1), Instant::now()),
        0
    );
    let cache = FetchSessionCache::default();
    let too_big = (MAX_SESSION_PARTITIONS + 1) as i32;
    assert_eq!(
        cache.create(&alice(), false, session_of(too_big), Instant::now()),
        0
    );
    let id = cache.create(&alice(), false, session_of(1), Instant::now());
    let growth = (0..too_big).map(|p| (key(p), 0, 1));
    let grown = cache.begin(
        &alice(),
        false,
        (id, 1),
        growth,
        std::iter::empty(),
        Instant::now(),
    );
    assert_eq!(grown.err(), Some(ResponseError::FetchSessionIdNotFound));
    assert!(cache.is_empty());
}
