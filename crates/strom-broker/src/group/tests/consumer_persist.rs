//! KIP-848 groups across a coordinator reopen (a broker restart): epochs, members and
//! assignments come back from `__consumer_offsets`, members keep heartbeating at their epoch,
//! a member that leaves or a deleted group leaves tombstones, and unknown bytes are refused.

use super::consumer::{beat, hb, owned, partitions};
use super::*;
use crate::group::codec::{decode_key, RecordKey};

/// Lets the detached writer flush (the clock is paused, so this is instant).
async fn flush() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Two members reconciled: a owns two partitions, b the other two; returns their epochs.
async fn two_members(c: &GroupCoordinator) -> (i32, Vec<i32>, i32, Vec<i32>) {
    let a = beat(c, hb("a", 0, owned(&[]))).unwrap();
    let b = beat(c, hb("b", 0, owned(&[]))).unwrap();
    let kept = partitions(&beat(c, hb("a", a.member_epoch, None)).unwrap());
    let a3 = beat(c, hb("a", a.member_epoch, owned(&kept))).unwrap();
    let b3 = beat(c, hb("b", b.member_epoch, None)).unwrap();
    (a3.member_epoch, kept, b3.member_epoch, partitions(&b3))
}

/// The consumer records of the log, newest value (or tombstone) per key.
fn live_kinds(storage: &MemoryStorage) -> Vec<(u16, bool)> {
    let mut latest = std::collections::BTreeMap::new();
    for log in storage.logs.lock().iter() {
        for r in log {
            if let Ok(RecordKey::Consumer { key, .. }) = decode_key(r.key.as_ref().unwrap()) {
                latest.insert(key.clone(), (key.record_type(), r.value.is_some()));
            }
        }
    }
    latest.into_values().collect()
}

#[tokio::test(start_paused = true)]
async fn a_reopened_coordinator_keeps_epochs_members_and_assignments() {
    let (c, storage) = coordinator().await;
    let (ea, pa, eb, pb) = two_members(&c).await;
    let before = c.describe_consumer_group("g").unwrap();
    assert_eq!(before.state, "Stable");
    flush().await;
    drop(c);

    let c = reopen(&storage).await;
    let after = c.describe_consumer_group("g").unwrap();
    assert_eq!(after, before, "same epochs, members and assignments");
    // Heartbeats at the old epochs are accepted and change nothing.
    let a = beat(&c, hb("a", ea, owned(&pa))).unwrap();
    let b = beat(&c, hb("b", eb, owned(&pb))).unwrap();
    assert_eq!((a.member_epoch, b.member_epoch), (ea, eb));
    assert_eq!(c.describe_consumer_group("g").unwrap(), before);

    // a leaves: its three records get tombstones; b gets a's partitions after a reopen too.
    beat(&c, hb("a", -1, None)).unwrap();
    flush().await;
    let dead: Vec<u16> = live_kinds(&storage)
        .into_iter()
        .filter(|(_, live)| !live)
        .map(|(kind, _)| kind)
        .collect();
    assert_eq!(dead, vec![5, 7, 8], "member, target, current assignment");
    drop(c);
    let c = reopen(&storage).await;
    let b = beat(&c, hb("b", eb, owned(&pb))).unwrap();
    assert!(b.member_epoch > eb);
    assert_eq!(partitions(&b), vec![0, 1, 2, 3]);
}

#[tokio::test(start_paused = true)]
async fn members_that_do_not_come_back_expire_and_a_deleted_group_is_gone() {
    let (c, storage) = coordinator().await;
    let (_, _, eb, pb) = two_members(&c).await;
    flush().await;
    drop(c);
    let c = reopen(&storage).await;
    // Only b heartbeats: a is removed after the session timeout.
    for _ in 0..4 {
        tokio::time::sleep(config().consumer_session_timeout / 3).await;
        let _ = beat(&c, hb("b", eb, owned(&pb)));
    }
    let members = c.describe_consumer_group("g").unwrap().members;
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].member_id, "b");
    let epoch = c.describe_consumer_group("g").unwrap().group_epoch;
    beat(&c, hb("b", members[0].member_epoch, None)).unwrap();
    beat(&c, hb("b", -1, None)).unwrap();
    flush().await;
    drop(c);

    // Empty: the group epoch survives, no member records are live.
    let c = reopen(&storage).await;
    let empty = c.describe_consumer_group("g").unwrap();
    assert_eq!((empty.state, empty.members.len()), ("Empty", 0));
    assert!(empty.group_epoch > epoch);
    assert!(live_kinds(&storage)
        .iter()
        .all(|(k, live)| !live || [3, 4, 6].contains(k)));
    let deleted = c.delete_groups(&["g".to_string()]).await;
    assert_eq!(deleted[0].1, None);
    flush().await;
    assert!(
        live_kinds(&storage).iter().all(|(_, live)| !live),
        "all tombstones"
    );
    drop(c);
    let c = reopen(&storage).await;
    assert_eq!(
        c.describe_consumer_group("g").err(),
        Some(GroupError::GroupIdNotFound)
    );
}
