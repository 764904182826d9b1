//! Criterion benches of the engine's calls in Rust, as the outbox (or the applied history)
//! grows: submit, next_batch + ACK, and remote apply, on a memory store and a WAL in fast
//! mode, with 32-byte and 1 KiB values, at 10 k, 100 k and 1 M operations.
//!
//! Workload: keys `key:000000000`..., one engine per case (fast preset, ACKs required,
//! `batch_size` 1 000), filled before timing. Only the call is timed; the outbox is kept at
//! its size by untimed steps:
//! - `submit/<store>/<value>/<pending>`: one `submit_local_operation` of a fresh key per
//!   iteration; after every 1 000, the 1 000 oldest are handed out, acknowledged and pruned;
//! - `next_batch_ack/...`: one iteration is `next_batch` of 1 000 operations plus
//!   `receive_acks` of their ids (the figure is per operation: throughput is 1 000 elements);
//!   then they are pruned and 1 000 fresh ones submitted;
//! - `remote_apply/...`: one `receive_remote_operation` of a fresh key from another node (each
//!   one applied: dedup, conflict check, store write), the receiver having applied `<pending>`.
//!
//! `cargo bench --bench calls` (about 3 minutes); `SA_BENCH_MAX=100000` leaves out the 1 M
//! cases; criterion's filter selects cases: `cargo bench --bench calls -- 'submit/memory'`.
//! The C-ABI figures of BENCHMARKS.md come from benches/c/bench_calls.c (scripts/bench-all.sh).

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use softadastra_sync::store::{Key, Operation, StoreConfig, StoreEngine, Value};
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine, SyncOperation};

/// Operations per batch, per drain step and per prepared chunk.
const CHUNK: usize = 1_000;
const VALUE_SIZES: [usize; 2] = [32, 1024];

#[derive(Clone, Copy)]
enum Store {
    Memory,
    FastWal,
}

impl Store {
    fn name(self) -> &'static str {
        match self {
            Store::Memory => "memory",
            Store::FastWal => "fast_wal",
        }
    }

    fn open(self, dir: &tempfile::TempDir, file: &str) -> StoreEngine {
        match self {
            Store::Memory => StoreEngine::memory(),
            Store::FastWal => StoreEngine::open(StoreConfig::fast(dir.path().join(file))).unwrap(),
        }
    }
}

/// 10 k, 100 k, 1 M, up to `SA_BENCH_MAX`.
fn sizes() -> Vec<usize> {
    let max: usize = std::env::var("SA_BENCH_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    [10_000, 100_000, 1_000_000]
        .into_iter()
        .filter(|&n| n <= max)
        .collect()
}

/// Every (store, value size, size) case, with its criterion id.
fn cases() -> Vec<(Store, usize, usize)> {
    let mut cases = Vec::new();
    for pending in sizes() {
        for value_len in VALUE_SIZES {
            for store in [Store::Memory, Store::FastWal] {
                cases.push((store, value_len, pending));
            }
        }
    }
    cases
}

fn id(store: Store, value_len: usize, pending: usize) -> BenchmarkId {
    BenchmarkId::new(format!("{}/{value_len}B", store.name()), pending)
}

/// One case's engine (fast preset, ACKs required, `batch_size` CHUNK) on its own store.
struct Case {
    engine: SyncEngine,
    value: Value,
    _store: StoreEngine,
    _dir: tempfile::TempDir,
}

impl Case {
    fn new(store: Store, value_len: usize, node: &str) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let store = store.open(&dir, "bench.wal");
        let mut config = SyncConfig::fast(node);
        config.require_ack = true;
        config.batch_size = CHUNK;
        config.max_outbox_operations = usize::MAX / 2;
        config.max_outbox_bytes = u64::MAX / 2;
        Case {
            engine: SyncEngine::new(&SyncContext::new(&store, config)).unwrap(),
            value: Value::new(&vec![7u8; value_len]).unwrap(),
            _store: store,
            _dir: dir,
        }
    }
}

/// Runs `iters` operations, at most CHUNK per `chunk(n)` call, which returns the time of the
/// part it timed; the total.
fn in_chunks(iters: u64, mut chunk: impl FnMut(usize) -> Duration) -> Duration {
    let mut timed = Duration::ZERO;
    let mut left = iters as usize;
    while left > 0 {
        let n = left.min(CHUNK);
        timed += chunk(n);
        left -= n;
    }
    timed
}

fn puts(first: usize, count: usize, value: &Value) -> Vec<Operation> {
    (first..first + count)
        .map(|i| Operation::put(Key::new(&format!("key:{i:09}")).unwrap(), value.clone()))
        .collect()
}

/// Submits `count` operations from key `first` on, a chunk per call.
fn fill(engine: &SyncEngine, first: usize, count: usize, value: &Value) {
    for start in (first..first + count).step_by(CHUNK) {
        let n = CHUNK.min(first + count - start);
        engine
            .submit_local_operations(puts(start, n, value))
            .unwrap();
    }
}

/// Hands out, acknowledges and prunes the oldest `CHUNK` operations.
fn drain_chunk(engine: &SyncEngine) {
    let batch = engine.next_batch().unwrap();
    let ids: Vec<&str> = batch.iter().map(|e| e.operation.sync_id.as_str()).collect();
    engine.receive_acks(&ids).unwrap();
    engine.prune_completed().unwrap();
}

fn submit(c: &mut Criterion) {
    let mut group = c.benchmark_group("submit");
    group.throughput(Throughput::Elements(1));
    for (store_kind, value_len, pending) in cases() {
        let Case { engine, value, .. } = &Case::new(store_kind, value_len, "node-a");
        fill(engine, 0, pending, value);
        let mut next = pending;
        let mut undrained = 0;
        group.bench_function(id(store_kind, value_len, pending), |b| {
            b.iter_custom(|iters| {
                in_chunks(iters, |n| {
                    let ops = puts(next, n, value);
                    next += n;
                    let start = Instant::now();
                    for op in ops {
                        engine.submit_local_operation(op).unwrap();
                    }
                    let timed = start.elapsed();
                    undrained += n;
                    while undrained >= CHUNK {
                        drain_chunk(engine);
                        undrained -= CHUNK;
                    }
                    timed
                })
            })
        });
    }
    group.finish();
}

fn next_batch_ack(c: &mut Criterion) {
    let mut group = c.benchmark_group("next_batch_ack");
    group.throughput(Throughput::Elements(CHUNK as u64));
    for (store_kind, value_len, pending) in cases() {
        let Case { engine, value, .. } = &Case::new(store_kind, value_len, "node-a");
        fill(engine, 0, pending, value);
        let mut next = pending;
        group.bench_function(id(store_kind, value_len, pending), |b| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let batch = engine.next_batch().unwrap();
                    let ids: Vec<&str> =
                        batch.iter().map(|e| e.operation.sync_id.as_str()).collect();
                    engine.receive_acks(&ids).unwrap();
                    timed += start.elapsed();
                    drop(ids);
                    drop(batch);
                    engine.prune_completed().unwrap();
                    fill(engine, next, CHUNK, value);
                    next += CHUNK;
                }
                timed
            })
        });
    }
    group.finish();
}

/// Remote operations of node `peer`, versions and keys from `first`.
fn remote_ops(first: usize, count: usize, value: &Value) -> Vec<SyncOperation> {
    puts(first, count, value)
        .into_iter()
        .zip(first + 1..)
        .map(|(op, version)| {
            SyncOperation::remote(&format!("peer-{version}"), "peer", version as u64, op)
        })
        .collect()
}

fn remote_apply(c: &mut Criterion) {
    let mut group = c.benchmark_group("remote_apply");
    group.throughput(Throughput::Elements(1));
    for (store_kind, value_len, pending) in cases() {
        let Case { engine, value, .. } = &Case::new(store_kind, value_len, "recv");
        for first in (0..pending).step_by(CHUNK) {
            for op in remote_ops(first, CHUNK, value) {
                engine.receive_remote_operation(&op).unwrap();
            }
        }
        let mut next = pending;
        group.bench_function(id(store_kind, value_len, pending), |b| {
            b.iter_custom(|iters| {
                in_chunks(iters, |n| {
                    let ops = remote_ops(next, n, value);
                    next += n;
                    let start = Instant::now();
                    for op in &ops {
                        engine.receive_remote_operation(op).unwrap();
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    // Short runs: 36 cases per call; each figure is the median of 10 samples.
    Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(10)
}

criterion_group! {
    name = calls;
    config = config();
    targets = submit, next_batch_ack, remote_apply
}
criterion_main!(calls);
