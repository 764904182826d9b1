//! One engine driven from eight threads at once: no deadlock, exact final counters.

mod common;

use std::sync::Arc;
use std::thread;

use common::*;
use softadastra_sync::store::StoreEngine;
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine};

#[test]
fn eight_threads_submit_batch_ack_and_read_state_concurrently() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 500;
    let store = StoreEngine::memory();
    let mut config = SyncConfig::durable("node-a");
    config.batch_size = 16;
    let engine = Arc::new(SyncEngine::new(&SyncContext::new(&store, config)).unwrap());
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let engine = engine.clone();
            thread::spawn(move || {
                let mut acked = 0;
                for i in 0..PER_THREAD {
                    engine
                        .submit_local_operation(put(&format!("t{t}-k{i}"), "v"))
                        .unwrap();
                    for envelope in engine.next_batch().unwrap() {
                        engine.receive_ack(&envelope.operation.sync_id).unwrap();
                        acked += 1;
                    }
                    let s = engine.state();
                    assert!(
                        s.acknowledged_count + s.queued_count + s.in_flight_count <= s.outbox_size
                    );
                }
                acked
            })
        })
        .collect();
    let acked: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    // Whatever is left queued after every thread stopped.
    let mut rest = 0;
    loop {
        let batch = engine.next_batch().unwrap();
        if batch.is_empty() {
            break;
        }
        for e in batch {
            engine.receive_ack(&e.operation.sync_id).unwrap();
            rest += 1;
        }
    }
    let total = (THREADS * PER_THREAD) as u64;
    assert_eq!((acked + rest) as u64, total);
    let s = engine.state();
    assert_eq!(s.outbox_size, total);
    assert_eq!(s.acknowledged_count, total);
    assert_eq!((s.queued_count, s.in_flight_count), (0, 0));
    assert_eq!(s.last_submitted_version, total);
    assert_eq!(store.len() as u64, total);
    assert_eq!(engine.prune_completed().unwrap() as u64, total);
}
