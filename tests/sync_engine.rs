//! The sync engine, following the module doc's "Testing sync" list, then the design choices
//! the C++ module lacks.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use softadastra_sync::store::{Operation, StoreEngine};
use softadastra_sync::sync::{
    AckOutcome, ConflictPolicy, ErrorKind, RemoteOutcome, SyncConfig, SyncContext, SyncEngine,
    SyncOperation, SyncScheduler, SyncStatus,
};
use softadastra_sync::{Clock, ManualClock, Stamp};

fn fresh(config: SyncConfig) -> (tempfile::TempDir, Node) {
    let dir = tempfile::tempdir().unwrap();
    let n = node(dir.path(), config);
    (dir, n)
}

// ---- The doc's list ----

#[test]
fn valid_context() {
    let store = StoreEngine::memory();
    let ctx = SyncContext::new(&store, SyncConfig::durable("node-a"));
    assert!(ctx.is_valid());
    assert!(SyncEngine::new(&ctx).is_ok());
}

#[test]
fn invalid_context_names_the_problem() {
    let store = StoreEngine::memory();
    let ctx = SyncContext::new(&store, SyncConfig::durable(""));
    assert!(!ctx.is_valid());
    let err = SyncEngine::new(&ctx).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidNodeId);
    let mut config = SyncConfig::durable("node-a");
    config.batch_size = 0;
    let err = SyncEngine::new(&SyncContext::new(&store, config)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidContext);
    assert!(err.to_string().contains("batch_size"), "{err}");
}

#[test]
fn submit_local_operation_applies_first_then_tracks() {
    let (_d, n) = fresh(SyncConfig::durable("node-a"));
    let op = n
        .engine
        .submit_local_operation(put("user:1", "Gaspard"))
        .unwrap();
    assert_eq!(op.sync_id, "node-a-1");
    assert_eq!(op.version, 1);
    assert_eq!(op.origin_node_id, "node-a");
    assert_eq!(op.operation.timestamp.wall_ms(), T0);
    assert_eq!(get(&n.store, "user:1").as_deref(), Some("Gaspard"));
    let entry = n.store.get(&key("user:1")).unwrap();
    assert_eq!(entry.origin.unwrap().as_str(), "node-a");
    let s = n.engine.state();
    assert_eq!((s.outbox_size, s.queued_count), (1, 1));
    assert_eq!(s.last_submitted_version, 1);
    assert_eq!(s.outbox_bytes, ("user:1".len() + "Gaspard".len()) as u64);
}

#[test]
fn auto_queue_enabled_and_disabled_and_manual_queue() {
    let (_d, n) = fresh(SyncConfig::durable("node-a"));
    n.engine.submit_local_operation(put("k", "v")).unwrap();
    assert_eq!(n.engine.state().queued_count, 1);

    let mut config = SyncConfig::durable("node-b");
    config.auto_queue = false;
    let (_d2, m) = fresh(config);
    let op = m
        .engine
        .submit_local_operation(put("manual:key", "manual-value"))
        .unwrap();
    let s = m.engine.state();
    assert_eq!((s.queued_count, s.pending_count, s.outbox_size), (0, 1, 1));
    assert!(m.engine.next_batch().unwrap().is_empty());
    m.engine.queue_operation(&op.sync_id).unwrap();
    m.engine.queue_operation(&op.sync_id).unwrap(); // idempotent
    let s = m.engine.state();
    assert_eq!((s.queued_count, s.pending_count), (1, 0));
    assert_eq!(m.engine.next_batch().unwrap().len(), 1);
    let err = m.engine.queue_operation(&op.sync_id).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QueueFailed);
    assert!(err.to_string().contains("in flight"), "{err}");
    let err = m.engine.queue_operation("node-b-42").unwrap_err();
    assert_eq!(err.to_string(), "sync operation not found: node-b-42");
    let err = m.engine.queue_operation("garbage").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = m.engine.queue_operation("node-x-1").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "origin must match too");
}

#[test]
fn next_batch_is_oldest_first_and_bounded() {
    let mut config = SyncConfig::durable("node-a");
    config.batch_size = 3;
    let (_d, n) = fresh(config);
    for i in 0..7 {
        n.engine
            .submit_local_operation(put(&format!("k{i}"), "v"))
            .unwrap();
    }
    let ids = |b: Vec<softadastra_sync::sync::SyncEnvelope>| {
        b.into_iter()
            .map(|e| e.operation.version)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(n.engine.next_batch().unwrap()), vec![1, 2, 3]);
    assert_eq!(ids(n.engine.next_batch().unwrap()), vec![4, 5, 6]);
    let last = n.engine.next_batch().unwrap();
    assert_eq!(last[0].status, SyncStatus::InFlight);
    assert_eq!(last[0].retry_count, 0, "the first send is not a retry");
    assert_eq!(last[0].next_retry_at, Some(T0 + 10_000));
    assert_eq!(ids(last), vec![7]);
    assert!(n.engine.next_batch().unwrap().is_empty());
    let s = n.engine.state();
    assert_eq!((s.in_flight_count, s.queued_count), (7, 0));
}

#[test]
fn scheduler_tick_retries_prunes_and_batches() {
    let mut config = SyncConfig::durable("node-a");
    config.ack_timeout = Duration::from_millis(100);
    config.retry_interval = Duration::from_millis(0);
    let (_d, n) = fresh(config);
    let scheduler = SyncScheduler::new(&n.engine);
    let a = n
        .engine
        .submit_local_operation(put("task:1", "sync-me"))
        .unwrap();
    let tick = scheduler.tick(false).unwrap();
    assert_eq!(tick.batch_size(), 1);
    assert!(tick.has_work());
    assert_eq!(tick.batch[0].operation.sync_id, a.sync_id);
    let idle = scheduler.tick(false).unwrap();
    assert!(!idle.has_work());
    n.clock.advance(Duration::from_millis(100));
    let retry = scheduler.tick(false).unwrap();
    assert_eq!(retry.retried_count, 1);
    assert_eq!(retry.batch_size(), 1, "a retried operation is sent again");
    assert_eq!(retry.batch[0].retry_count, 1);
    n.engine.receive_ack(&a.sync_id).unwrap();
    let prune = scheduler.tick(true).unwrap();
    assert_eq!(prune.pruned_count, 1);
    assert_eq!(n.engine.state().outbox_size, 0);
}

#[test]
fn ack_track_receive_and_prune() {
    let (_d, n) = fresh(SyncConfig::durable("node-a"));
    let a = n.engine.submit_local_operation(put("a", "1")).unwrap();
    let b = n.engine.submit_local_operation(put("b", "2")).unwrap();
    n.engine.next_batch().unwrap();
    assert_eq!(
        n.engine.receive_ack(&a.sync_id).unwrap(),
        AckOutcome::Acknowledged
    );
    assert_eq!(
        n.engine.receive_ack(&a.sync_id).unwrap(),
        AckOutcome::AlreadyAcknowledged
    );
    let s = n.engine.state();
    assert_eq!((s.acknowledged_count, s.in_flight_count), (1, 1));
    assert_eq!(n.engine.prune_completed().unwrap(), 1);
    assert_eq!(n.engine.state().outbox_size, 1);
    assert_eq!(
        n.engine.outbox_entry(&b.sync_id).unwrap().status,
        SyncStatus::InFlight
    );
    let err = n.engine.receive_ack(&a.sync_id).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("sync operation not found: {}", a.sync_id)
    );
    assert_eq!(
        get(&n.store, "a").as_deref(),
        Some("1"),
        "pruning keeps local data"
    );
}

#[test]
fn without_require_ack_a_batch_counts_as_acknowledged() {
    let (_d, n) = fresh(SyncConfig::fast("node-a"));
    n.engine.submit_local_operation(put("a", "1")).unwrap();
    let batch = n.engine.next_batch().unwrap();
    assert_eq!(batch[0].status, SyncStatus::Acknowledged);
    assert_eq!(n.engine.state().acknowledged_count, 1);
    assert_eq!(n.engine.retry_expired().unwrap(), 0);
}

#[test]
fn retry_expired_requeues_after_the_interval() {
    let mut config = SyncConfig::fast("node-a");
    config.require_ack = true;
    config.max_retries = 3;
    config.ack_timeout = Duration::from_millis(1);
    config.retry_interval = Duration::from_millis(50);
    let (_d, n) = fresh(config);
    n.engine
        .submit_local_operation(put("retry:key", "retry-value"))
        .unwrap();
    assert_eq!(n.engine.next_batch().unwrap().len(), 1);
    assert_eq!(n.engine.retry_expired().unwrap(), 0, "not expired yet");
    n.clock.advance(Duration::from_millis(1));
    assert_eq!(n.engine.retry_expired().unwrap(), 1);
    let s = n.engine.state();
    assert_eq!(
        (s.queued_count, s.in_flight_count, s.total_retries),
        (1, 0, 1)
    );
    assert!(
        n.engine.next_batch().unwrap().is_empty(),
        "waits for retry_interval"
    );
    let listed = &n.engine.outbox()[0];
    let at = listed.next_retry_at.unwrap();
    assert!(
        (T0 + 1 + 25..=T0 + 1 + 50).contains(&at),
        "jittered in the upper half: {at}"
    );
    n.clock.advance(Duration::from_millis(50));
    assert_eq!(n.engine.next_batch().unwrap()[0].retry_count, 1);
    assert_eq!(n.engine.state().outbox_size, 1);
}

#[test]
fn retry_exhausted_marks_failed_visibly_and_keeps_local_data() {
    let mut config = SyncConfig::durable("node-a");
    config.max_retries = 2;
    config.ack_timeout = Duration::from_millis(10);
    config.retry_interval = Duration::ZERO;
    let (_d, n) = fresh(config);
    let op = n.engine.submit_local_operation(put("k", "v")).unwrap();
    let mut sends = 0;
    for _ in 0..5 {
        sends += n.engine.next_batch().unwrap().len();
        n.clock.advance(Duration::from_millis(10));
        n.engine.retry_expired().unwrap();
    }
    assert_eq!(sends, 3, "one send plus max_retries re-sends");
    let s = n.engine.state();
    assert_eq!((s.failed_count, s.total_retries, s.outbox_size), (1, 2, 1));
    let failed = n.engine.outbox_entry(&op.sync_id).unwrap();
    assert_eq!(failed.status, SyncStatus::Failed);
    assert_eq!(failed.retry_count, 2);
    assert_eq!(get(&n.store, "k").as_deref(), Some("v"));
    // A late ACK still proves delivery.
    n.engine.receive_ack(&op.sync_id).unwrap();
    assert_eq!(n.engine.state().failed_count, 0);
}

#[test]
fn prune_failed_removes_only_failed() {
    let mut config = SyncConfig::durable("node-a");
    config.max_retries = 0;
    config.ack_timeout = Duration::from_millis(1);
    let (_d, n) = fresh(config);
    n.engine.submit_local_operation(put("a", "1")).unwrap();
    n.engine.next_batch().unwrap();
    n.engine.submit_local_operation(put("b", "2")).unwrap();
    n.clock.advance(Duration::from_millis(1));
    assert_eq!(n.engine.retry_expired().unwrap(), 0);
    assert_eq!(n.engine.state().failed_count, 1);
    assert_eq!(n.engine.prune_failed().unwrap(), 1);
    let s = n.engine.state();
    assert_eq!((s.outbox_size, s.failed_count, s.queued_count), (1, 0, 1));
    assert_eq!(get(&n.store, "a").as_deref(), Some("1"));
}

#[test]
fn remote_apply_stores_the_value() {
    let (_d, n) = fresh(SyncConfig::durable("node-local"));
    let op = Operation::put(key("remote:user:1"), val("Remote value"));
    let remote = SyncOperation::remote("node-remote-1", "node-remote", 1, op);
    let result = n.engine.receive_remote_operation(&remote).unwrap();
    assert!(result.applied());
    assert_eq!(
        get(&n.store, "remote:user:1").as_deref(),
        Some("Remote value")
    );
    let entry = n.store.get(&key("remote:user:1")).unwrap();
    assert_eq!(entry.origin.unwrap().as_str(), "node-remote");
    let s = n.engine.state();
    assert_eq!(
        (s.remote_applied_count, s.last_applied_remote_version),
        (1, 1)
    );
    assert_eq!(
        s.outbox_size, 0,
        "remote operations are not propagated again"
    );
}

#[test]
fn remote_delete_applies_and_leaves_a_tombstone() {
    let (_d, n) = fresh(SyncConfig::durable("node-a"));
    let mut t = Stamp::new(T0 - 100, 0);
    let put_op = Operation::put(key("k"), val("v")).with_timestamp(t);
    n.engine
        .receive_remote_operation(&SyncOperation::remote("node-b-1", "node-b", 1, put_op))
        .unwrap();
    t = Stamp::new(T0 - 50, 0);
    let del = Operation::delete(key("k")).with_timestamp(t);
    assert!(n
        .engine
        .receive_remote_operation(&SyncOperation::remote("node-b-2", "node-b", 2, del))
        .unwrap()
        .applied());
    assert_eq!(get(&n.store, "k"), None);
    // An older put from another node cannot resurrect the key.
    let old = Operation::put(key("k"), val("zombie")).with_timestamp(Stamp::new(T0 - 75, 0));
    let r = n
        .engine
        .receive_remote_operation(&SyncOperation::remote("node-c-1", "node-c", 1, old))
        .unwrap();
    assert_eq!(r.outcome, RemoteOutcome::Ignored);
    assert!(r.conflict_detected);
    assert_eq!(get(&n.store, "k"), None);
}

#[test]
fn invalid_remote_operations_are_rejected_and_change_nothing() {
    let (_d, n) = fresh(SyncConfig::durable("node-a"));
    let op = || Operation::put(key("k"), val("v")).with_timestamp(Stamp::new(T0, 0));
    let cases = [
        (
            SyncOperation::remote("", "node-b", 1, op()),
            "empty sync id",
        ),
        (
            SyncOperation::remote("x-1", "", 1, op()),
            "node id is empty",
        ),
        (
            SyncOperation::remote("x-1", "bad node", 1, op()),
            "whitespace",
        ),
        (
            SyncOperation::remote("node-b-0", "node-b", 0, op()),
            "version 0",
        ),
    ];
    for (remote, expected) in cases {
        let err = n.engine.receive_remote_operation(&remote).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRemoteOperation);
        assert!(err.to_string().contains(expected), "{err}");
    }
    let mut bad_delete = SyncOperation::remote("node-b-1", "node-b", 1, op());
    bad_delete.operation.kind = softadastra_sync::store::OperationKind::Delete;
    assert!(n.engine.receive_remote_operation(&bad_delete).is_err());
    assert!(n.store.is_empty());
    assert_eq!(n.engine.state().remote_applied_count, 0);
}

// ---- Design choices ----

#[test]
fn remote_stamps_far_in_the_future_are_rejected_naming_origin_and_skew() {
    let (_d, n) = fresh(SyncConfig::durable("node-a"));
    let future = Operation::put(key("k"), val("v")).with_timestamp(Stamp::new(T0 + 3_600_000, 0));
    let err = n
        .engine
        .receive_remote_operation(&SyncOperation::remote("node-b-1", "node-b", 1, future))
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("node-b") && msg.contains("3600000 ms ahead"),
        "{msg}"
    );
    assert!(n.store.is_empty());
    // Within the bound, a remote stamp advances the local clock.
    let near = Operation::put(key("k"), val("v")).with_timestamp(Stamp::new(T0 + 30_000, 0));
    n.engine
        .receive_remote_operation(&SyncOperation::remote("node-b-1", "node-b", 1, near))
        .unwrap();
    let local = n.engine.submit_local_operation(put("k", "mine")).unwrap();
    assert!(local.operation.timestamp > Stamp::new(T0 + 30_000, 0));
}

#[test]
fn the_skew_bound_is_measured_from_the_local_clock_s_high_water_when_the_wall_clock_steps_back() {
    let (_d, n) = fresh(SyncConfig::durable("node-a"));
    let at = |ms: u64, k: &str| Operation::put(key(k), val("v")).with_timestamp(Stamp::new(ms, 0));
    // Accepted within the bound: the local clock has reached T0 + 50 s.
    n.engine
        .receive_remote_operation(&SyncOperation::remote(
            "b-1",
            "node-b",
            1,
            at(T0 + 50_000, "k1"),
        ))
        .unwrap();
    // The wall clock steps back an hour. A stamp the local clock has already reached moves it
    // no further: accepted (the clock is not read for it).
    n.clock.set(T0 - 3_600_000);
    let late = at(T0 + 40_000, "k2");
    assert!(n
        .engine
        .receive_remote_operation(&SyncOperation::remote("c-1", "node-c", 1, late))
        .unwrap()
        .applied());
    // One beyond it is measured against the wall clock: refused, naming the skew.
    let ahead = at(T0 + 60_000, "k3");
    let err = n
        .engine
        .receive_remote_operation(&SyncOperation::remote("c-2", "node-c", 2, ahead))
        .unwrap_err();
    assert!(err.to_string().contains("3660000 ms ahead"), "{err}");
    assert!(n.store.get(&key("k3")).is_none());
}

#[test]
fn duplicates_are_reported_and_change_nothing_even_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let n = node(dir.path(), SyncConfig::durable("node-a"));
    let op = Operation::put(key("k"), val("v1")).with_timestamp(Stamp::new(T0 - 10, 0));
    let remote = SyncOperation::remote("node-b-7", "node-b", 7, op);
    assert!(n
        .engine
        .receive_remote_operation(&remote)
        .unwrap()
        .applied());
    n.engine.submit_local_operation(put("k", "local")).unwrap();
    let again = n.engine.receive_remote_operation(&remote).unwrap();
    assert_eq!(again.outcome, RemoteOutcome::Duplicate);
    assert_eq!(get(&n.store, "k").as_deref(), Some("local"));
    // An ignored operation is remembered too.
    let old = Operation::put(key("k"), val("old")).with_timestamp(Stamp::new(T0 - 20, 0));
    let ignored = SyncOperation::remote("node-c-1", "node-c", 1, old);
    assert!(n
        .engine
        .receive_remote_operation(&ignored)
        .unwrap()
        .ignored());
    let n = n.restart();
    assert!(n
        .engine
        .receive_remote_operation(&remote)
        .unwrap()
        .duplicate_delivery());
    assert!(n
        .engine
        .receive_remote_operation(&ignored)
        .unwrap()
        .duplicate_delivery());
    assert_eq!(n.engine.state().remote_duplicate_count, 2);
}

#[test]
fn a_remote_operation_with_this_nodes_own_id_is_refused_naming_the_id() {
    let dir = tempfile::tempdir().unwrap();
    let n = node(dir.path(), SyncConfig::durable("node-a"));
    n.engine.submit_local_operation(put("mine", "m")).unwrap();
    let before = n.engine.state();
    // Our own operation coming back, and a peer that was given our id: both refused.
    let own = n.engine.outbox()[0].operation.clone();
    let mut twin = SyncOperation::remote(
        "node-a-50",
        "node-a",
        50,
        put("twin", "t").with_timestamp(Stamp::new(T0, 0)),
    );
    for op in [&own, &twin] {
        let err = n.engine.receive_remote_operation(op).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRemoteOperation);
        let message = err.to_string();
        assert!(
            message.contains("origin node-a is this node's own id"),
            "{message}"
        );
    }
    twin.origin_node_id = "node-b".into();
    assert!(n.engine.receive_remote_operation(&twin).unwrap().applied());
    let after = n.engine.state();
    assert_eq!(after.remote_duplicate_count, before.remote_duplicate_count);
    assert_eq!(get(&n.store, "twin").as_deref(), Some("t"));
}

#[test]
fn a_causal_successor_is_applied_without_a_conflict_even_under_keep_local() {
    let dir = tempfile::tempdir().unwrap();
    let mut ca = SyncConfig::durable("node-a");
    ca.conflict_policy = ConflictPolicy::KeepLocal;
    let mut cb = SyncConfig::durable("node-b");
    cb.conflict_policy = ConflictPolicy::KeepLocal;
    let a = node(dir.path(), ca);
    let b = node(dir.path(), cb);
    let first = a.engine.submit_local_operation(put("doc", "v1")).unwrap();
    assert!(b.engine.receive_remote_operation(&first).unwrap().applied());
    b.clock.advance(Duration::from_millis(5));
    let second = b.engine.submit_local_operation(put("doc", "v2")).unwrap();
    assert_eq!(
        second.replaces.as_ref().unwrap().stamp,
        first.operation.timestamp
    );
    let r = a.engine.receive_remote_operation(&second).unwrap();
    assert!(r.applied() && !r.conflict_detected, "{r:?}");
    assert_eq!(get(&a.store, "doc").as_deref(), Some("v2"));
    assert_eq!(a.engine.state().conflict_count, 0);
}

#[test]
fn concurrent_writes_converge_under_last_write_wins_in_any_delivery_order() {
    // Three nodes with skewed clocks write the same key concurrently; each then receives the
    // other two writes, in every possible order. All end on the same value: the write with the
    // greatest (stamp, origin), here node-b's (its clock is 7 ms ahead).
    let names = ["node-a", "node-b", "node-c"];
    let skews = [0u64, 7, 3];
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for order in orders {
        let dir = tempfile::tempdir().unwrap();
        let nodes: Vec<Node> = names
            .iter()
            .zip(skews)
            .map(|(name, skew)| {
                node_with(
                    dir.path(),
                    SyncConfig::durable(name),
                    Arc::new(ManualClock::new(T0 + skew)),
                )
            })
            .collect();
        let writes: Vec<SyncOperation> = nodes
            .iter()
            .map(|n| {
                n.engine
                    .submit_local_operation(put("doc", n.engine.node_id().as_str()))
                    .unwrap()
            })
            .collect();
        for (i, receiver) in nodes.iter().enumerate() {
            for &j in order.iter().filter(|&&j| j != i) {
                let r = receiver
                    .engine
                    .receive_remote_operation(&writes[j])
                    .unwrap();
                assert!(r.conflict_detected, "concurrent writes are conflicts");
            }
        }
        let finals: Vec<String> = nodes
            .iter()
            .map(|n| get(&n.store, "doc").unwrap())
            .collect();
        assert_eq!(finals, ["node-b", "node-b", "node-b"], "order {order:?}");
    }
}

#[test]
fn durable_outbox_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SyncConfig::durable("node-a");
    config.max_retries = 0;
    config.ack_timeout = Duration::from_millis(5);
    let n = node(dir.path(), config);
    let ids: Vec<String> = (1..=6)
        .map(|i| {
            n.engine
                .submit_local_operation(put(&format!("k{i}"), &format!("v{i}")))
                .unwrap()
                .sync_id
        })
        .collect();
    n.engine.next_batch().unwrap(); // all six in flight
    n.engine.receive_ack(&ids[0]).unwrap(); // 1 acknowledged
    n.engine.receive_ack(&ids[1]).unwrap(); // 2 acknowledged, then pruned
    n.engine.prune_completed().unwrap();
    n.engine.receive_ack(&ids[2]).unwrap(); // 3 acknowledged, not pruned
    n.clock.advance(Duration::from_millis(5));
    n.engine.receive_ack(&ids[4]).unwrap();
    n.engine.retry_expired().unwrap(); // 4 and 6 failed (no retries)
    let before = n.engine.state();
    assert_eq!((before.failed_count, before.acknowledged_count), (2, 2));

    let n = n.restart();
    let listing: Vec<(String, SyncStatus)> = n
        .engine
        .outbox()
        .into_iter()
        .map(|e| (e.operation.sync_id, e.status))
        .collect();
    assert_eq!(
        listing,
        vec![
            (ids[2].clone(), SyncStatus::Acknowledged),
            (ids[3].clone(), SyncStatus::Failed),
            (ids[4].clone(), SyncStatus::Acknowledged),
            (ids[5].clone(), SyncStatus::Failed),
        ]
    );
    let after = n.engine.state();
    assert_eq!(after.outbox_size, 4);
    assert_eq!(after.last_submitted_version, 6);
    for i in 1..=6 {
        assert_eq!(get(&n.store, &format!("k{i}")), Some(format!("v{i}")));
    }
}

#[test]
fn in_flight_operations_are_queued_again_after_restart_and_acked_ones_are_not_resent() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SyncConfig::durable("node-a");
    config.auto_queue = false;
    let n = node(dir.path(), config);
    let a = n.engine.submit_local_operation(put("a", "1")).unwrap();
    let b = n.engine.submit_local_operation(put("b", "2")).unwrap();
    let c = n.engine.submit_local_operation(put("c", "3")).unwrap();
    n.engine.queue_operation(&a.sync_id).unwrap();
    n.engine.queue_operation(&b.sync_id).unwrap();
    n.engine.next_batch().unwrap();
    n.engine.receive_ack(&a.sync_id).unwrap();
    let n = n.restart();
    let s = n.engine.state();
    assert_eq!(
        (
            s.acknowledged_count,
            s.queued_count,
            s.pending_count,
            s.in_flight_count
        ),
        (1, 1, 1, 0)
    );
    let batch = n.engine.next_batch().unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].operation.sync_id, b.sync_id);
    assert_eq!(
        n.engine.outbox_entry(&c.sync_id).unwrap().status,
        SyncStatus::Pending
    );
    // The resent operation is the same operation: same stamp, same value.
    assert_eq!(batch[0].operation.operation.value.as_bytes(), b"2");
    assert_eq!(
        batch[0].operation.operation.timestamp,
        b.operation.timestamp
    );
}

#[test]
fn sync_ids_and_versions_never_repeat_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut n = node(dir.path(), SyncConfig::durable("node-a"));
    let mut seen = std::collections::HashSet::new();
    for round in 0..4 {
        for i in 0..5 {
            let op = n
                .engine
                .submit_local_operation(put(&format!("k{i}"), &format!("r{round}")))
                .unwrap();
            assert!(seen.insert(op.sync_id.clone()), "repeated {}", op.sync_id);
        }
        // Prune everything so that nothing in the outbox remembers the high-water mark.
        n.engine.next_batch().unwrap();
        for e in n.engine.outbox() {
            n.engine.receive_ack(&e.operation.sync_id).unwrap();
        }
        n.engine.prune_completed().unwrap();
        n = n.restart();
    }
    assert_eq!(n.engine.state().last_submitted_version, 20);
}

#[test]
fn the_hlc_high_water_mark_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let n = node(dir.path(), SyncConfig::durable("node-a"));
    // A remote write from a clock 30 s ahead, ignored under keep-local, still advances the clock.
    let local = n.engine.submit_local_operation(put("k", "v")).unwrap();
    let ahead = Operation::put(key("other"), val("x")).with_timestamp(Stamp::new(T0 + 30_000, 0));
    n.engine
        .receive_remote_operation(&SyncOperation::remote("node-b-1", "node-b", 1, ahead))
        .unwrap();
    let n = n.restart();
    n.clock.set(T0 - 60_000); // the wall clock stepped back during the restart
    let next = n.engine.submit_local_operation(put("k", "w")).unwrap();
    assert!(next.operation.timestamp > Stamp::new(T0 + 30_000, 0));
    assert!(next.operation.timestamp > local.operation.timestamp);
}

#[test]
fn outbox_capacity_gives_a_clear_error_and_keeps_what_was_written() {
    let mut config = SyncConfig::durable("node-a");
    config.max_outbox_operations = 2;
    let (_d, n) = fresh(config);
    n.engine.submit_local_operation(put("a", "1")).unwrap();
    n.engine.submit_local_operation(put("b", "2")).unwrap();
    let err = n.engine.submit_local_operation(put("c", "3")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::CapacityExceeded);
    assert!(
        err.to_string().contains("max_outbox_operations = 2"),
        "{err}"
    );
    assert_eq!(get(&n.store, "c"), None, "a refused write is not applied");
    assert_eq!(n.engine.state().outbox_size, 2);
    assert_eq!(get(&n.store, "a").as_deref(), Some("1"));

    let mut config = SyncConfig::durable("node-b");
    config.max_outbox_bytes = 10;
    let (_d2, m) = fresh(config);
    m.engine.submit_local_operation(put("k", "12345")).unwrap(); // 6 bytes
    let err = m
        .engine
        .submit_local_operation(put("k2", "123"))
        .unwrap_err(); // +5 > 10
    assert!(err.to_string().contains("max_outbox_bytes = 10"), "{err}");
    assert!(err.to_string().contains("\"k2\""), "{err}");
}

#[test]
fn invalid_local_operation_leaves_the_outbox_unchanged() {
    let (_d, n) = fresh(SyncConfig::durable("node-a"));
    let mut op = Operation::delete(key("k"));
    op.value = val("not allowed");
    let err = n.engine.submit_local_operation(op).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidLocalOperation);
    assert_eq!(n.engine.state().outbox_size, 0);
    assert!(n.store.is_empty());
}

#[test]
fn one_engine_per_store_and_state_survives_engine_recreation() {
    let store = StoreEngine::memory();
    let ctx = SyncContext::new(&store, SyncConfig::durable("node-a"));
    let engine = SyncEngine::new(&ctx).unwrap();
    let err = SyncEngine::new(&ctx).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidContext);
    engine.submit_local_operation(put("k", "v")).unwrap();
    drop(engine);
    let engine = SyncEngine::new(&ctx).unwrap();
    assert_eq!(engine.state().queued_count, 1);
    assert_eq!(
        engine
            .submit_local_operation(put("k", "w"))
            .unwrap()
            .version,
        2
    );
}

/// A new engine over the same store (no restart) starts exactly where a restart would: the
/// outbox with its logged statuses (in-flight operations queued again), the versions seen, the
/// numbering; only activity counters start over.
#[test]
fn engine_recreation_starts_where_a_restart_would() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SyncConfig::durable("node-a");
    config.auto_queue = false;
    let n = node(dir.path(), config.clone());
    let e = &n.engine;
    for i in 1..=6 {
        e.submit_local_operation(put(&format!("k{i}"), "v"))
            .unwrap();
    }
    for id in ["node-a-1", "node-a-2", "node-a-3", "node-a-4"] {
        e.queue_operation(id).unwrap();
    }
    assert_eq!(e.next_batch().unwrap().len(), 4); // 1..4 in flight
    e.receive_ack("node-a-1").unwrap();
    e.receive_ack("node-a-2").unwrap();
    e.prune_completed().unwrap();
    let remote = |version, key: &str| SyncOperation {
        sync_id: format!("node-b-{version}"),
        origin_node_id: "node-b".into(),
        version,
        operation: put(key, "remote").with_timestamp(Stamp::new(T0 - 1, 0)),
        replaces: None,
        direction: softadastra_sync::sync::Direction::RemoteToLocal,
    };
    e.receive_remote_operation(&remote(1, "r1")).unwrap();
    e.receive_remote_operation(&remote(2, "k6")).unwrap(); // older than the local k6: ignored
    let listing = |engine: &SyncEngine| {
        engine
            .outbox()
            .into_iter()
            .map(|env| (env.operation.sync_id, env.status, env.operation.operation))
            .collect::<Vec<_>>()
    };
    drop(n.engine);
    let recreated = SyncEngine::new(&SyncContext::new(&n.store, config.clone())).unwrap();
    let after_recreation = listing(&recreated);
    let state = recreated.state();
    assert_eq!(
        state.queued_count, 2,
        "3 and 4 were in flight: queued again"
    );
    assert_eq!(state.pending_count, 2);
    assert_eq!(state.in_flight_count, 0);
    assert_eq!(state.last_submitted_version, 6);
    assert_eq!(state.last_applied_remote_version, 1);
    assert_eq!(
        state.remote_applied_count, 0,
        "counters belong to one engine"
    );
    for version in [1, 2] {
        assert!(recreated
            .receive_remote_operation(&remote(version, "r1"))
            .unwrap()
            .duplicate_delivery());
    }
    drop(recreated);
    drop(n.store);
    let clock = Arc::new(ManualClock::new(T0));
    let store = open_store(&n.wal, &clock);
    let restarted = SyncEngine::new(&SyncContext::new(&store, config)).unwrap();
    assert_eq!(listing(&restarted), after_recreation);
    let next = restarted.submit_local_operation(put("k7", "v")).unwrap();
    assert_eq!(
        next.sync_id, "node-a-7",
        "numbering continues without a gap"
    );
}

/// Crash in the middle of writing the last submit: cut the WAL at every byte of that record.
/// The engine reopens with every earlier operation intact and never reuses a sync id that
/// another node could have seen.
#[test]
fn crash_while_logging_a_submit_at_every_byte_offset() {
    let dir = tempfile::tempdir().unwrap();
    let n = node(dir.path(), SyncConfig::durable("node-a"));
    n.engine.submit_local_operation(put("a", "1")).unwrap();
    n.engine.next_batch().unwrap();
    n.engine.receive_ack("node-a-1").unwrap();
    n.engine.submit_local_operation(put("b", "2")).unwrap();
    let before = std::fs::metadata(&n.wal).unwrap().len();
    n.engine.submit_local_operation(put("c", "3")).unwrap();
    let wal = n.wal.clone();
    drop(n);
    let full = std::fs::read(&wal).unwrap();
    let mut issued = 3;
    for cut in before..=full.len() as u64 {
        std::fs::write(&wal, &full[..cut as usize]).unwrap();
        let n = node(dir.path(), SyncConfig::durable("node-a"));
        let whole = cut == full.len() as u64;
        let s = n.engine.state();
        assert_eq!(s.acknowledged_count, 1, "cut {cut}");
        assert_eq!(s.queued_count, if whole { 2 } else { 1 }, "cut {cut}");
        assert_eq!(get(&n.store, "b").as_deref(), Some("2"));
        assert_eq!(get(&n.store, "c").is_some(), whole);
        // The cut record's id was issued before the crash: it is never issued again, nor is
        // any id an earlier round issued.
        let next = n.engine.submit_local_operation(put("d", "4")).unwrap();
        assert!(next.version > issued, "cut {cut}: {} reused", next.sync_id);
        issued = next.version;
    }
}

#[test]
fn same_inputs_same_results_with_an_injected_clock() {
    let run = || {
        let dir = tempfile::tempdir().unwrap();
        let mut config = SyncConfig::durable("node-a");
        config.ack_timeout = Duration::from_millis(20);
        config.retry_interval = Duration::from_millis(5);
        config.batch_size = 2;
        let n = node(dir.path(), config);
        let mut trace = Vec::new();
        for i in 0..10u64 {
            n.engine
                .submit_local_operation(put(&format!("k{}", i % 3), &format!("v{i}")))
                .unwrap();
            n.clock.advance(Duration::from_millis(3));
            let tick = SyncScheduler::new(&n.engine).tick(i % 4 == 0).unwrap();
            for e in &tick.batch {
                if e.operation.version % 3 == 0 {
                    n.engine.receive_ack(&e.operation.sync_id).unwrap();
                }
            }
            trace.push(format!("{:?}", tick));
        }
        trace.push(format!("{:?}", n.engine.state()));
        trace.push(format!("{:?}", n.engine.outbox()));
        trace
    };
    assert_eq!(run(), run());
}

#[test]
fn retries_back_off_exponentially_up_to_the_cap() {
    let mut config = SyncConfig::durable("node-a");
    config.ack_timeout = Duration::from_millis(10);
    config.retry_interval = Duration::from_millis(100);
    config.retry_backoff_max = Duration::from_millis(1_000);
    config.max_retries = 10;
    let (_d, n) = fresh(config);
    n.engine.submit_local_operation(put("k", "v")).unwrap();
    let mut waits = Vec::new();
    for _ in 0..7 {
        assert_eq!(n.engine.next_batch().unwrap().len(), 1);
        n.clock.advance(Duration::from_millis(10));
        assert_eq!(n.engine.retry_expired().unwrap(), 1);
        let at = n.engine.outbox()[0].next_retry_at.unwrap();
        let wait = at - n.clock.now_ms();
        waits.push(wait);
        n.clock.advance(Duration::from_millis(wait));
    }
    let caps = [100, 200, 400, 800, 1_000, 1_000, 1_000];
    for (wait, cap) in waits.iter().zip(caps) {
        assert!(*wait >= cap / 2 && *wait <= cap, "waits {waits:?}");
    }
}

#[test]
fn failed_operations_can_be_requeued_even_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SyncConfig::durable("node-a");
    config.max_retries = 0;
    config.ack_timeout = Duration::from_millis(1);
    let n = node(dir.path(), config);
    let a = n.engine.submit_local_operation(put("a", "1")).unwrap();
    let b = n.engine.submit_local_operation(put("b", "2")).unwrap();
    n.engine.next_batch().unwrap();
    n.clock.advance(Duration::from_millis(1));
    n.engine.retry_expired().unwrap();
    assert_eq!(n.engine.state().failed_count, 2);
    let err = n.engine.requeue_failed("node-a-9").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    n.engine.requeue_failed(&a.sync_id).unwrap();
    let err = n.engine.requeue_failed(&a.sync_id).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RetryFailed);
    assert!(err.to_string().contains("queued"), "{err}");
    let n = n.restart();
    let s = n.engine.state();
    assert_eq!((s.queued_count, s.failed_count), (1, 1));
    assert_eq!(n.engine.requeue_all_failed().unwrap(), 1);
    let batch = n.engine.next_batch().unwrap();
    let ids: Vec<&str> = batch.iter().map(|e| e.operation.sync_id.as_str()).collect();
    assert_eq!(ids, [a.sync_id.as_str(), b.sync_id.as_str()]);
    assert!(
        batch.iter().all(|e| e.retry_count == 0),
        "a fresh retry budget"
    );
}

#[test]
fn a_stuck_queue_is_visible_in_the_state() {
    let (_d, n) = fresh(SyncConfig::durable("node-a"));
    assert_eq!(n.engine.state().oldest_unacknowledged_age_ms, 0);
    let a = n.engine.submit_local_operation(put("a", "12345")).unwrap();
    n.clock.advance(Duration::from_millis(700));
    n.engine.submit_local_operation(put("bb", "1")).unwrap();
    n.clock.advance(Duration::from_millis(300));
    let s = n.engine.state();
    assert_eq!(s.oldest_unacknowledged_age_ms, 1_000);
    assert_eq!(s.unacknowledged_bytes, 6 + 3);
    n.engine.next_batch().unwrap();
    n.engine.receive_ack(&a.sync_id).unwrap();
    let s = n.engine.state();
    assert_eq!(s.oldest_unacknowledged_age_ms, 300);
    assert_eq!((s.unacknowledged_bytes, s.outbox_bytes), (3, 9));
}
