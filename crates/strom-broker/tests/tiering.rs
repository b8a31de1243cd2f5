//! Tiered storage through the broker: closed segments go to a local-directory object store,
//! local retention deletes only what a manifest records, reads below the local log come from
//! the remote tier byte for byte, a fresh data directory restores from the store, orphans of
//! an interrupted upload are deleted, an unreachable store fails reads retriably, and
//! sequential remote reads are read ahead.

mod tiering_common;

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use strom_broker::BrokerError;
use strom_tier::RemoteStore;
use tiering_common::*;

#[test]
fn uploads_trims_locally_reads_remotely_and_restores() {
    let (dirs, b, p, s) = setup(200);
    let before = read_all(&p).unwrap();
    let t = tiering(Arc::clone(&s));
    t.run_once(&b);

    let local_start = p.log().log_start_offset();
    assert!(local_start > 0, "local retention deleted nothing");
    // The tiers as `strom topic describe` shows them.
    let st = p.tier_status().unwrap();
    assert_eq!(
        (
            st.remote_start_offset,
            st.local_start_offset,
            st.local_end_offset
        ),
        (0, local_start, p.high_watermark())
    );
    assert!(st.remote_end_offset >= local_start, "{st:?}");
    assert_eq!(
        (st.local_bytes, st.upload_lag_segments),
        (p.log().size_bytes(), 0)
    );
    assert!(st.remote_segments > 0 && st.remote_bytes > 0, "{st:?}");
    assert_eq!(p.log_start_offset(), 0, "the remote tier starts at 0");
    assert!(
        p.log().size_bytes() <= 8192 + 2 * 4096 + 1024,
        "local size {}",
        p.log().size_bytes()
    );
    assert_eq!(
        read_all(&p).unwrap(),
        before,
        "remote + local reads differ from the original"
    );
    // A time lookup of the first record lands in the remote tier.
    assert_eq!(p.offset_for_timestamp(0).unwrap().map(|(o, _)| o), Some(0));

    // A fresh data directory restores from the store.
    let remote_end = p.remote().unwrap().range().unwrap().1;
    b.shutdown().unwrap();
    drop(p);
    drop(b);
    let fresh = tempfile::tempdir().unwrap();
    let t3 = tiering(store(dirs.bucket.path()));
    assert_eq!(
        t3.restore(fresh.path()).unwrap(),
        vec!["tiered".to_string()]
    );
    let b2 = broker(fresh.path());
    t3.run_once(&b2);
    let p2 = b2.partition("tiered", 0).unwrap();
    assert_eq!(p2.high_watermark(), remote_end);
    assert_eq!(p2.log_start_offset(), 0);
    let restored = read_all(&p2).unwrap();
    assert!(
        restored.len() > before.len() / 2,
        "{} of {}",
        restored.len(),
        before.len()
    );
    assert_eq!(restored[..], before[..restored.len()]);
    // Appends continue the offsets after the restored data.
    produce(&p2, 1);
    assert_eq!(p2.high_watermark(), remote_end + 5);
}

/// A reader moving sequentially through remote segments finds the next chunk already fetched
/// (512-byte chunks, so a 4 KiB segment has eight); with a cache too small for two chunks
/// nothing is read ahead. Reads are byte-identical either way.
#[test]
fn sequential_remote_reads_are_read_ahead_within_the_cache() {
    for (cache_bytes, read_ahead) in [(64 << 10, true), (1000, false)] {
        let data = tempfile::tempdir().unwrap();
        let bucket = tempfile::tempdir().unwrap();
        let b = broker(data.path());
        let p = create(&b);
        produce(&p, 200);
        let before = read_all(&p).unwrap();
        let t = tiering_with_cache(store(bucket.path()), cache_bytes, 512);
        t.run_once(&b);
        assert!(p.log().log_start_offset() > 0, "nothing is remote");
        assert_eq!(read_all(&p).unwrap(), before);
        let stats = t.cache_stats();
        assert_eq!(stats.readahead_hits > 0, read_ahead, "{stats:?}");
        assert!(stats.bytes <= cache_bytes, "{stats:?}");
    }
}

#[test]
fn unreachable_store_fails_remote_reads_retriably() {
    let (_dirs, b, p, s) = setup(100);
    tiering(Arc::clone(&s)).run_once(&b);
    assert!(p.log().log_start_offset() > 0);
    s.down.store(true, Ordering::SeqCst);
    // A fresh cache: nothing remote is cached by this reader yet.
    match p.read(0, 1000) {
        Err(BrokerError::RemoteStorage) => {}
        other => panic!("expected RemoteStorage, got {other:?}"),
    }
    // Local data is unaffected.
    assert!(p.read(p.log().log_start_offset(), 1000).is_ok());
    s.down.store(false, Ordering::SeqCst);
    assert!(p.read(0, 1000).is_ok());
}

#[test]
fn orphans_of_an_interrupted_upload_are_deleted_on_take_over() {
    let (_dirs, b, _p, s) = setup(50);
    tiering(Arc::clone(&s)).run_once(&b);
    let id: String = b
        .topic("tiered")
        .unwrap()
        .id()
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    let orphan = format!("topics/tiered/{id}/0/segments/00000000000000999999-dead.log");
    s.put(&orphan, Bytes::from_static(b"junk")).unwrap();
    // A new process takes the manifest over (a higher epoch) and deletes the orphan.
    tiering(Arc::clone(&s)).run_once(&b);
    let listed: Vec<String> = s
        .list("topics/")
        .unwrap()
        .into_iter()
        .map(|l| l.key)
        .collect();
    assert!(!listed.contains(&orphan), "orphan still there: {listed:?}");
    assert!(listed.iter().any(|k| k.ends_with(".log")), "{listed:?}");
}

#[test]
fn compacted_topics_cannot_be_tiered() {
    let data = tempfile::tempdir().unwrap();
    let b = broker(data.path());
    let configs: BTreeMap<String, String> = [
        ("remote.storage.enable", "true"),
        ("cleanup.policy", "compact"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let Err(err) = b.create_topic("c", 1, &configs) else {
        panic!("a compacted topic was tiered");
    };
    assert!(matches!(err, BrokerError::InvalidConfig(_)), "{err}");
}

#[test]
fn a_deleted_topic_leaves_the_store() {
    let (_dirs, b, p, s) = setup(50);
    let t = tiering(Arc::clone(&s));
    t.run_once(&b);
    assert!(!s.list("topics/").unwrap().is_empty());
    drop(p);
    b.delete_topic("tiered").unwrap();
    t.run_once(&b);
    let left = s.list("topics/").unwrap();
    assert!(left.is_empty(), "{left:?}");
    // Nothing to restore any more.
    let fresh = tempfile::tempdir().unwrap();
    assert!(t.restore(fresh.path()).unwrap().is_empty());
}

#[test]
fn tiering_needs_a_store_configured() {
    let data = tempfile::tempdir().unwrap();
    let b = plain_broker(data.path());
    let configs: BTreeMap<String, String> =
        [("remote.storage.enable".to_string(), "true".to_string())]
            .into_iter()
            .collect();
    let Err(err) = b.create_topic("t", 1, &configs) else {
        panic!("a topic was tiered on a server without a remote store");
    };
    assert!(matches!(err, BrokerError::InvalidConfig(_)), "{err}");
    b.create_topic("t", 1, &BTreeMap::new()).unwrap();
    let change = [(
        "remote.storage.enable".to_string(),
        Some("true".to_string()),
    )];
    assert!(matches!(
        b.alter_topic_config("t", &change),
        Err(BrokerError::InvalidConfig(_))
    ));
    b.enable_remote_storage();
    b.alter_topic_config("t", &change).unwrap();
}
