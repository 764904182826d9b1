//! Per-operation cost of submit (and state()) as the outbox grows.
//!
//! Workload: keys `k<i>`, 32-byte values, auto_queue on, nothing sent: every operation stays
//! pending, the worst case for an outbox. For each outbox size the engine is filled, then 20
//! samples of 1 000 submits are timed; the median per-op time is printed. Memory is the
//! resident-set growth per pending operation (store entry + outbox entry + indexes).
//!
//! `cargo bench --bench submit` (set SA_BENCH_MAX=100000 for a quicker run).

use std::time::Instant;

use softadastra_sync::store::{Key, Operation, StoreConfig, StoreEngine, Value};
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine};

const SAMPLES: usize = 20;
const PER_SAMPLE: usize = 1_000;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn engine(store: &StoreEngine, durable: bool) -> SyncEngine {
    let mut config = if durable {
        SyncConfig::durable("bench-node")
    } else {
        SyncConfig::fast("bench-node")
    };
    config.max_outbox_operations = 4_000_000;
    config.max_outbox_bytes = 1 << 40;
    SyncEngine::new(&SyncContext::new(store, config)).unwrap()
}

fn submit(engine: &SyncEngine, i: usize, value: &Value) {
    let op = Operation::put(Key::new(&format!("k{i}")).unwrap(), value.clone());
    engine.submit_local_operation(op).unwrap();
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn measure(label: &str, pending: usize, store: StoreEngine, durable: bool, per_sample: usize) {
    let value = Value::new(&[7u8; 32]).unwrap();
    let rss_before = rss_bytes();
    let engine = engine(&store, durable);
    for i in 0..pending {
        submit(&engine, i, &value);
    }
    let rss_per_op = (rss_bytes().saturating_sub(rss_before)) as f64 / pending as f64;
    let mut samples = Vec::new();
    let mut next = pending;
    for _ in 0..SAMPLES {
        let start = Instant::now();
        for _ in 0..per_sample {
            submit(&engine, next, &value);
            next += 1;
        }
        samples.push(start.elapsed().as_secs_f64() * 1e6 / per_sample as f64);
    }
    let start = Instant::now();
    for _ in 0..10_000 {
        std::hint::black_box(engine.state());
    }
    let state_ns = start.elapsed().as_secs_f64() * 1e9 / 10_000.0;
    println!(
        "{label:<22} pending={pending:>9}  submit median {:>7.2} us/op  state() {:>6.0} ns  memory {:>5.0} B/op",
        median(samples),
        state_ns,
        rss_per_op
    );
}

fn main() {
    let max: usize = std::env::var("SA_BENCH_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("sa-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for pending in [10_000, 100_000, 1_000_000]
        .into_iter()
        .filter(|&p| p <= max)
    {
        measure(
            "memory store",
            pending,
            StoreEngine::memory(),
            false,
            PER_SAMPLE,
        );
        let wal = dir.join(format!("fast-{pending}.wal"));
        let store = StoreEngine::open(StoreConfig::fast(&wal)).unwrap();
        measure("WAL, fast mode", pending, store, false, PER_SAMPLE);
        std::fs::remove_file(&wal).ok();
    }
    // Durable mode is bound by the disk's fdatasync latency, not by the outbox.
    let wal = dir.join("durable.wal");
    let store = StoreEngine::open(StoreConfig::fast(&wal)).unwrap();
    measure("WAL, durable (fsync)", 10_000, store, true, 50);
    std::fs::remove_dir_all(&dir).ok();
}
