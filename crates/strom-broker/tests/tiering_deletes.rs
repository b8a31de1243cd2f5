//! Tiered storage: DeleteRecords below the local log (the log start moves at once, the
//! remote manifest follows and the segments wholly below it leave the store; a restore keeps
//! it), and `remote.fetch.max.wait.ms` (a Kafka fetch's remote read is waited for a bounded
//! time; the read goes on and fills the cache for the retry).

mod tiering_common;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use strom_broker::tiering::RemoteRead;
use strom_broker::BrokerError;
use strom_log::LogError;
use strom_tier::RemoteStore;
use tiering_common::*;

/// Base offsets of the `.log` objects in the store.
fn remote_bases(s: &dyn RemoteStore) -> Vec<i64> {
    let mut bases: Vec<i64> = s
        .list("topics/")
        .unwrap()
        .into_iter()
        .filter(|l| l.key.ends_with(".log"))
        .filter_map(|l| l.key.rsplit('/').next()?.get(..20)?.parse().ok())
        .collect();
    bases.sort_unstable();
    bases
}

fn out_of_range(r: Result<strom_broker::FetchResult, BrokerError>) -> bool {
    matches!(r, Err(BrokerError::Log(LogError::OffsetOutOfRange { .. })))
}

#[test]
fn delete_records_below_the_local_log_moves_the_remote_log_start() {
    let (dirs, b, p, s) = setup(200);
    let t = tiering(Arc::clone(&s));
    t.run_once(&b);
    let local_start = p.log().log_start_offset();
    let before = remote_bases(s.as_ref());
    // An offset inside the third remote segment, below the local log, not a batch start.
    let cut = before[2] + 7;
    assert!(cut < local_start, "{cut} {local_start}");

    assert_eq!(p.delete_records_before(cut).unwrap(), cut);
    // At once: the log start, reads and time lookups, before the uploader ran.
    assert_eq!(p.log_start_offset(), cut);
    assert!(
        out_of_range(p.read(cut - 1, 1000)),
        "read below the new log start"
    );
    assert!(out_of_range(p.read(0, 1000)));
    assert!(p.read(cut, 1000).is_ok());
    assert_eq!(
        p.offset_for_timestamp(0).unwrap().map(|(o, _)| o),
        Some(cut)
    );
    // A lower DeleteRecords changes nothing.
    assert_eq!(p.delete_records_before(cut - 3).unwrap(), cut);

    // The next pass moves the manifest's log start and deletes the segments below it.
    t.run_once(&b);
    let range = p.remote().unwrap().range().unwrap();
    assert_eq!(range.0, cut, "manifest log start");
    let after = remote_bases(s.as_ref());
    assert_eq!(
        after[0], before[2],
        "segments wholly below {cut}: {after:?}"
    );
    assert_eq!(after[..], before[2..]);

    // A restart (the floor file) and a fresh node restored from the store keep it.
    b.shutdown().unwrap();
    drop((p, b));
    let b = broker(dirs.data.path());
    tiering(Arc::clone(&s)).run_once(&b);
    let p = b.partition("tiered", 0).unwrap();
    assert_eq!(p.log_start_offset(), cut);
    assert!(out_of_range(p.read(cut - 1, 1000)));
    b.shutdown().unwrap();
    drop((p, b));
    let fresh = tempfile::tempdir().unwrap();
    let t2 = tiering(store(dirs.bucket.path()));
    t2.restore(fresh.path()).unwrap();
    let b2 = broker(fresh.path());
    t2.run_once(&b2);
    let p2 = b2.partition("tiered", 0).unwrap();
    assert_eq!(p2.log_start_offset(), cut);
    assert!(out_of_range(p2.read(cut - 1, 1000)));
    assert!(p2.read(cut, 1000).is_ok());
}

#[test]
fn delete_records_above_the_local_start_hides_the_remote_copy_too() {
    let (_dirs, b, p, s) = setup(200);
    let t = tiering(Arc::clone(&s));
    t.run_once(&b);
    let local_start = p.log().log_start_offset();
    let remote_end = p.remote().unwrap().range().unwrap().1;
    assert!(remote_end > local_start, "{remote_end} {local_start}");
    // Between the local start and the remote end: the remote tier must not serve the
    // records below it.
    let cut = local_start + 1;
    assert_eq!(p.delete_records_before(cut).unwrap(), cut);
    assert_eq!(p.log_start_offset(), cut);
    assert!(out_of_range(p.read(0, 1000)));
    assert!(out_of_range(p.read(local_start, 1000)));
    t.run_once(&b);
    assert_eq!(p.remote().unwrap().range().unwrap().0, cut);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_read_slower_than_remote_fetch_max_wait_is_answered_pending() {
    let (_dirs, b, p, s) = setup(200);
    let t = tiering_with(Arc::clone(&s), 4 << 20, 512, 50);
    let (b2, t2) = (Arc::clone(&b), Arc::clone(&t));
    tokio::task::spawn_blocking(move || t2.run_once(&b2))
        .await
        .unwrap();
    assert!(p.reads_remote(0) && !p.reads_remote(p.log().log_start_offset()));
    assert_eq!(p.remote_fetch_max_wait().as_millis(), 50);

    // Each GET takes 2 s: the 50 ms wait ends first.
    s.get_delay_ms.store(2000, Ordering::SeqCst);
    let read = Arc::clone(&p).read_remote_bounded(0, 1000).await;
    assert!(matches!(read, RemoteRead::Pending), "{read:?}");
    // The read went on and cached what it fetched: once the store is fast again, the
    // retry is served (it may still wait for the GETs in flight).
    s.get_delay_ms.store(0, Ordering::SeqCst);
    let mut done = None;
    for _ in 0..200 {
        match Arc::clone(&p).read_remote_bounded(0, 1000).await {
            RemoteRead::Done(r) => {
                done = Some(r);
                break;
            }
            RemoteRead::Pending => {}
        }
    }
    let r = done.expect("the remote read never finished").unwrap();
    assert!(!r.records.is_empty());
    // Without a slow store a remote read is done at once.
    assert!(matches!(
        Arc::clone(&p).read_remote_bounded(0, 1000).await,
        RemoteRead::Done(Ok(_))
    ));
}

#[test]
fn total_retention_bytes_removes_remote_segments_and_moves_the_log_start() {
    let (_dirs, b, p, s) = setup(200);
    let t = tiering(Arc::clone(&s));
    t.run_once(&b);
    let before = remote_bases(s.as_ref());
    assert_eq!(p.log_start_offset(), 0);
    // Both tiers together may keep 20 KiB: the oldest remote segments go.
    let change = [("retention.bytes".to_string(), Some("20480".to_string()))];
    b.alter_topic_config("tiered", &change).unwrap();
    t.run_once(&b);
    let after = remote_bases(s.as_ref());
    assert!(after.len() < before.len(), "{before:?} -> {after:?}");
    let start = p.log_start_offset();
    assert_eq!(
        start, after[0],
        "the log start is the first remaining segment"
    );
    assert_eq!(p.remote().unwrap().range().unwrap().0, start);
    assert!(out_of_range(p.read(start - 1, 1000)));
    // Remote-only bytes plus local bytes stay within one segment of the limit.
    let local_start = p.log().log_start_offset();
    let m = p.remote().unwrap().manifest();
    let remote_only: u64 = m
        .segments
        .iter()
        .filter(|s| s.end_offset <= local_start)
        .map(|s| s.size)
        .sum();
    let total = remote_only + p.log().size_bytes();
    assert!(total < 20480 + 4096 + 1024, "{total}");
}
