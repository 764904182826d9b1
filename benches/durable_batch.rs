//! Durable submits: one operation per call against 100 per call (`submit_local_operations`:
//! one WAL record, one fdatasync) and against eight threads submitting at once (group commit),
//! beside the disk's raw append + fdatasync of a record of the same size.
//!
//! Workload: keys `k<i>`, 32-byte values, durable WAL in the system temp directory; 15 rounds,
//! each measuring every workload once in turn, so that a drift of the disk's latency (other
//! work on the machine moves it by more than ten times) hits all of them alike. One caller's
//! submits are measured alone (against the eight threads) and alternating call by call with
//! raw appends (against the disk). Printed: the median and min–max of operations per second,
//! and the ratios the targets are stated in (ratio of the medians, and the median and min–max
//! of the ratios within one round).
//!
//! `cargo bench --bench durable_batch`

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use softadastra_sync::store::{Key, Operation, StoreConfig, StoreEngine, Value};
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine};

const ROUNDS: usize = 15;
/// Submits (or raw appends) per sample of the one-caller workloads.
const CALLS: usize = 50;
const THREADS: usize = 8;

fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn min_max(samples: &[f64]) -> (f64, f64) {
    let min = samples.iter().copied().fold(f64::INFINITY, f64::min);
    let max = samples.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

fn summary(label: &str, ops_per_s: &[f64]) {
    let (min, max) = min_max(ops_per_s);
    println!(
        "{label:<42} median {:>9.0} ops/s  (min {min:.0}, max {max:.0})",
        median(ops_per_s)
    );
}

/// `numerator ÷ denominator`: the ratio of the medians, and the spread of the ratios of the
/// samples taken in the same round.
fn ratio(label: &str, numerator: &[f64], denominator: &[f64]) {
    let per_round: Vec<f64> = numerator
        .iter()
        .zip(denominator)
        .map(|(n, d)| n / d)
        .collect();
    let (min, max) = min_max(&per_round);
    println!(
        "{label:<42} {:>6.2} (ratio of medians; per round median {:.2}, min {min:.2}, max {max:.2})",
        median(numerator) / median(denominator),
        median(&per_round)
    );
}

/// Operations per second of `calls` calls of `f`.
fn rate(calls: usize, f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    calls as f64 / start.elapsed().as_secs_f64()
}

struct Bench {
    engine: SyncEngine,
    value: Value,
    next_key: AtomicUsize,
}

impl Bench {
    fn op(&self) -> Operation {
        let i = self.next_key.fetch_add(1, Ordering::Relaxed);
        Operation::put(Key::new(&format!("k{i}")).unwrap(), self.value.clone())
    }

    fn single(&self) {
        for _ in 0..CALLS {
            self.submit_one();
        }
    }

    fn submit_one(&self) {
        self.engine.submit_local_operation(self.op()).unwrap();
    }

    fn batched(&self) {
        for _ in 0..20 {
            let ops: Vec<Operation> = (0..100).map(|_| self.op()).collect();
            self.engine.submit_local_operations(ops).unwrap();
        }
    }

    /// Eight threads submitting one operation per call: group commit shares fdatasyncs.
    fn threaded(&self) {
        std::thread::scope(|scope| {
            for _ in 0..THREADS {
                scope.spawn(|| {
                    for _ in 0..CALLS {
                        self.engine.submit_local_operation(self.op()).unwrap();
                    }
                });
            }
        });
    }
}

/// The disk itself: append a record of the size one submit writes, and fdatasync, as one
/// submit does.
fn raw_once(file: &mut File, record: &[u8]) {
    file.write_all(record).unwrap();
    file.sync_data().unwrap();
}

/// One caller's submits and raw appends, alternating call by call (which goes first too), so
/// that both see the disk in the same state: their operations per second.
fn paired(bench: &Bench, file: &mut File, record: &[u8]) -> (f64, f64) {
    let (mut submits, mut appends) = (Duration::ZERO, Duration::ZERO);
    for i in 0..CALLS {
        let submit = |total: &mut Duration| {
            let start = Instant::now();
            bench.submit_one();
            *total += start.elapsed();
        };
        if i % 2 == 0 {
            submit(&mut submits);
        }
        let start = Instant::now();
        raw_once(file, record);
        appends += start.elapsed();
        if i % 2 == 1 {
            submit(&mut submits);
        }
    }
    let per_s = |total: Duration| CALLS as f64 / total.as_secs_f64();
    (per_s(submits), per_s(appends))
}

fn wal_bytes(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("d.wal")).unwrap().len()
}

fn main() {
    let dir = std::env::temp_dir().join(format!("sa-durable-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let store = StoreEngine::open(StoreConfig::durable(dir.join("d.wal"))).unwrap();
    let mut config = SyncConfig::durable("bench-node");
    config.max_outbox_operations = 10_000_000;
    let context = SyncContext::new(&store, config);
    let bench = Bench {
        engine: SyncEngine::new(&context).unwrap(),
        value: Value::new(&[7u8; 32]).unwrap(),
        next_key: AtomicUsize::new(0),
    };

    // Warm up, and learn the size of one submit's record from the WAL's growth.
    let before = wal_bytes(&dir);
    bench.single();
    let record = vec![1u8; ((wal_bytes(&dir) - before) / CALLS as u64) as usize];
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("raw"))
        .unwrap();
    raw_once(&mut file, &record);

    // The threads are compared with one caller measured the same way (alone, back to back);
    // the raw appends with the submits they alternate with.
    let (mut alternating, mut appends, mut single, mut threaded, mut batched) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let (submits, raw) = paired(&bench, &mut file, &record);
        alternating.push(submits);
        appends.push(raw);
        single.push(rate(CALLS, || bench.single()));
        threaded.push(rate(THREADS * CALLS, || bench.threaded()));
        batched.push(rate(2_000, || bench.batched()));
    }
    println!("record of one submit: {} bytes", record.len());
    summary("durable submit, 1 op per call", &single);
    summary("durable submit, 100 ops per call", &batched);
    summary("durable submit, 8 threads, 1 op per call", &threaded);
    summary("1 op per call, alternating with raw", &alternating);
    summary("raw append + fdatasync, alternating", &appends);
    ratio(
        "one caller ÷ raw append + fdatasync",
        &alternating,
        &appends,
    );
    ratio("8 threads ÷ one caller", &threaded, &single);
    std::fs::remove_dir_all(&dir).ok();
}
