//! A full data directory at the broker level, on a small private tmpfs: appends are refused
//! early with `InsufficientSpace` (nothing written) once free space falls below the minimum;
//! a write that still hits `ENOSPC` poisons its partition, which the broker's disk check
//! reopens from disk by itself once space is back. Either way writes resume without a
//! restart, and every acknowledged record is readable, in order, before and after a restart.
//!
//! Mounting needs root (CI runs as root). Where it is not permitted the tests say so and
//! return, unless `STROM_REQUIRE_ROOT_TESTS=1`, which turns that into a failure.

mod common_disk;

use common_disk::{append, assert_all_acked, fill, open, wait_until, Tmpfs};
use strom_broker::BrokerError;
use strom_log::LogError;

#[test]
fn low_space_refuses_early_and_resumes_without_restart() {
    let Some(fs) = Tmpfs::mount("4m") else { return };
    let dir = fs.path.join("data");
    let broker = open(&dir, 1 << 20);
    broker
        .create_topic("t", 1, &Default::default())
        .expect("create");
    let p = broker.partition("t", 0).expect("partition");
    let (acked, err) = fill(&p, 0);
    match err {
        BrokerError::InsufficientSpace {
            free_bytes,
            min_free_bytes,
        } => assert!(free_bytes < min_free_bytes + 9000 && min_free_bytes == 1 << 20),
        other => panic!("expected an early InsufficientSpace refusal, got {other:?}"),
    }
    assert!(acked > 100, "only {acked} appends fit in 3 MiB");
    assert!(
        !p.is_poisoned(),
        "refused before writing: nothing to reopen"
    );
    let status = broker.storage_status();
    assert!(!status.accepts_writes());
    assert!(status
        .reason()
        .is_some_and(|r| r.contains("below the minimum")));
    assert!(status.refused_appends >= 1);
    assert!(matches!(
        append(&p, acked),
        Err(BrokerError::InsufficientSpace { .. })
    ));

    fs.resize("16m");
    wait_until("the disk check sees the space", || {
        broker.storage_status().accepts_writes()
    });
    append(&p, acked).expect("append after space came back, without a restart");
    assert_eq!(assert_all_acked(&p, acked + 1), acked + 1);

    broker.shutdown().expect("clean shutdown");
    drop((p, broker));
    let broker = open(&dir, 1 << 20);
    let p = broker.partition("t", 0).expect("partition");
    assert_eq!(
        assert_all_acked(&p, acked + 1),
        acked + 1,
        "after a restart"
    );
    broker.shutdown().expect("clean shutdown");
}

#[test]
fn enospc_poisons_then_the_partition_reopens_by_itself() {
    let Some(fs) = Tmpfs::mount("2m") else { return };
    let dir = fs.path.join("data");
    // No early refusal: the disk really fills and a write fails with ENOSPC.
    let broker = open(&dir, 0);
    broker
        .create_topic("t", 1, &Default::default())
        .expect("create");
    let p = broker.partition("t", 0).expect("partition");
    let (acked, err) = fill(&p, 0);
    match &err {
        BrokerError::Log(LogError::Io { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(libc::ENOSPC), "{source}")
        }
        other => panic!("expected ENOSPC, got {other:?}"),
    }
    assert!(acked > 50, "only {acked} appends fit in 2 MiB");
    // (With a minimum of 0 the check may reopen the log on the still-full disk; nothing is
    // appended meanwhile, so the state in between is not asserted.)
    fs.resize("16m");
    wait_until("the poisoned partition is reopened", || {
        let s = broker.storage_status();
        s.accepts_writes() && s.poisoned_partitions == 0 && s.reopened_partitions >= 1
    });
    let n = assert_all_acked(&p, acked);
    let offset = append(&p, n).expect("append after the reopen, without a restart");
    assert_eq!(offset, n as i64, "appends continue at the recovered end");
    assert_eq!(assert_all_acked(&p, n + 1), n + 1);

    broker.shutdown().expect("clean shutdown");
    drop((p, broker));
    let broker = open(&dir, 0);
    let p = broker.partition("t", 0).expect("partition");
    assert_eq!(assert_all_acked(&p, n + 1), n + 1, "after a restart");
    broker.shutdown().expect("clean shutdown");
}
