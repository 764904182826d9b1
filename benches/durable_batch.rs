//! Durable submits: one operation per call against 100 per call (`submit_local_operations`:
//! one WAL record, one fdatasync) and against eight threads submitting at once (group commit),
//! beside the disk's raw append + fdatasync of a record of the same size.
//!
//! Workload: keys `k<i>`, 32-byte values, durable WAL in the system temp directory; 15 samples,
//! the median and the min–max of operations per second are printed.
//!
//! `cargo bench --bench durable_batch`

use std::fs::OpenOptions;
use std::io::Write;
use std::time::Instant;

use softadastra_sync::store::{Key, Operation, StoreConfig, StoreEngine, Value};
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine};

const SAMPLES: usize = 15;

fn summary(label: &str, mut ops_per_s: Vec<f64>) {
    ops_per_s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{label:<36} median {:>9.0} ops/s  (min {:.0}, max {:.0})",
        ops_per_s[ops_per_s.len() / 2],
        ops_per_s[0],
        ops_per_s[ops_per_s.len() - 1]
    );
}

fn main() {
    let dir = std::env::temp_dir().join(format!("sa-durable-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let value = Value::new(&[7u8; 32]).unwrap();
    let store = StoreEngine::open(StoreConfig::durable(dir.join("d.wal"))).unwrap();
    let mut config = SyncConfig::durable("bench-node");
    config.max_outbox_operations = 10_000_000;
    let engine = SyncEngine::new(&SyncContext::new(&store, config)).unwrap();
    let mut next = 0usize;
    let mut op = || {
        next += 1;
        Operation::put(Key::new(&format!("k{next}")).unwrap(), value.clone())
    };

    let mut single = Vec::new();
    for _ in 0..SAMPLES {
        let start = Instant::now();
        for _ in 0..50 {
            engine.submit_local_operation(op()).unwrap();
        }
        single.push(50.0 / start.elapsed().as_secs_f64());
    }
    summary("durable submit, 1 op per call", single);

    let mut batched = Vec::new();
    for _ in 0..SAMPLES {
        let start = Instant::now();
        for _ in 0..20 {
            let ops: Vec<Operation> = (0..100).map(|_| op()).collect();
            engine.submit_local_operations(ops).unwrap();
        }
        batched.push(2_000.0 / start.elapsed().as_secs_f64());
    }
    summary("durable submit, 100 ops per call", batched);

    // Eight threads submitting one operation per call: group commit shares fdatasyncs.
    let mut threaded = Vec::new();
    let counter = std::sync::atomic::AtomicUsize::new(10_000_000);
    for _ in 0..SAMPLES {
        let start = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..50 {
                        let i = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let key = Key::new(&format!("k{i}")).unwrap();
                        engine
                            .submit_local_operation(Operation::put(key, value.clone()))
                            .unwrap();
                    }
                });
            }
        });
        threaded.push(400.0 / start.elapsed().as_secs_f64());
    }
    summary("durable submit, 8 threads, 1 op per call", threaded);

    // The disk itself: append a 60-byte record and fdatasync, as one submit does.
    let mut raw = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("raw"))
        .unwrap();
    let mut appends = Vec::new();
    for _ in 0..SAMPLES {
        let start = Instant::now();
        for _ in 0..50 {
            raw.write_all(&[1u8; 60]).unwrap();
            raw.sync_data().unwrap();
        }
        appends.push(50.0 / start.elapsed().as_secs_f64());
    }
    summary("raw append + fdatasync (per second)", appends);
    std::fs::remove_dir_all(&dir).ok();
}
