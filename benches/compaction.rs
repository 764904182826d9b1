//! Compaction (issue 10's targets), fast mode, 32-byte values, WAL in the system temp
//! directory:
//! 1. 1 000 000 overwrites of 1 000 keys (`key:000000001`…), each batch of 1 000 sent,
//!    acknowledged and pruned, with automatic compaction at the default threshold: the store's
//!    files against 2 × live data + one threshold, and the time to reopen (store + engine).
//! 2. Reopen of 1 000 000 live pending operations, from the log alone and from a checkpoint.
//! 3. The longest pause a submit sees while compactions run: every submit of a writer is timed
//!    while another thread compacts in a loop over 200 000 pending operations (p50, p99, max),
//!    beside the same writer without compaction.
//!
//! `cargo bench --bench compaction` (about a minute). Reopen figures are the median of 5,
//! repeated in one process (which reuses the memory the previous reopen freed) and, for the
//! checkpoint, each in a fresh process (the bench runs itself with `SA_BENCH_REOPEN=<wal>`,
//! which times one reopen and prints it with the memory then resident), as an application
//! starting up sees it.
//! `SA_BENCH_KEEP=1` keeps the pending operations' files (to profile a reopen of them with
//! `SA_BENCH_REOPEN`).

use std::path::Path;
use std::time::{Duration, Instant};

use softadastra_sync::store::{Key, Operation, StoreConfig, StoreEngine, Value};
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine};

fn key(i: u64) -> Key {
    Key::new(&format!("key:{i:09}")).unwrap()
}

fn open(wal: &Path, threshold: u64) -> (StoreEngine, SyncEngine) {
    let mut config = StoreConfig::fast(wal);
    config.compact_threshold_bytes = threshold;
    let store = StoreEngine::open(config).unwrap();
    let mut sync = SyncConfig::fast("bench-node");
    sync.max_outbox_operations = 10_000_000;
    sync.max_outbox_bytes = u64::MAX;
    sync.batch_size = 1_000;
    let engine = SyncEngine::new(&SyncContext::new(&store, sync)).unwrap();
    (store, engine)
}

fn files_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|f| f.unwrap().metadata().unwrap().len())
        .sum()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// The median of 5 reopens of `wal`, each in a fresh process, and the memory the last one
/// kept resident (bytes).
fn fresh_reopen(wal: &Path) -> (Duration, u64) {
    let mut resident = 0;
    let times = (0..5)
        .map(|_| {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .env("SA_BENCH_REOPEN", wal)
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            let printed = String::from_utf8(out.stdout).unwrap();
            let mut fields = printed
                .split_whitespace()
                .map(|f| f.parse::<u64>().unwrap());
            let nanos = fields.next().unwrap();
            resident = fields.next().unwrap();
            Duration::from_nanos(nanos)
        })
        .collect();
    (median(times), resident)
}

/// The memory this process holds resident, from /proc (0 where there is none).
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn reopen_time(wal: &Path) -> Duration {
    median(
        (0..5)
            .map(|_| {
                let started = Instant::now();
                let (store, engine) = open(wal, 0);
                let elapsed = started.elapsed();
                drop(engine);
                drop(store);
                elapsed
            })
            .collect(),
    )
}

fn overwrites(root: &Path) {
    let dir = root.join("overwrites");
    std::fs::create_dir_all(&dir).unwrap();
    let wal = dir.join("o.wal");
    let value = Value::new(&[7u8; 32]).unwrap();
    let threshold = StoreConfig::fast(&wal).compact_threshold_bytes;
    let (store, engine) = open(&wal, threshold);
    let started = Instant::now();
    for round in 0..1_000u64 {
        let ops = (0..1_000).map(|i| Operation::put(key(i + 1), value.clone()));
        engine.submit_local_operations(ops.collect()).unwrap();
        // Fast preset: no ACK required, so handing out is acknowledging.
        while !engine.next_batch().unwrap().is_empty() {}
        engine.prune_completed().unwrap();
        if round % 250 == 249 {
            eprintln!("  {} overwrites", (round + 1) * 1_000);
        }
    }
    let elapsed = started.elapsed();
    // The files are measured at rest: an automatic compaction started by the last writes
    // (a rotated segment beside the new one until it ends) is let finish, as it would be in
    // an application that keeps running. Over 1 000 keys one takes milliseconds.
    let mut runs = store.compaction_stats().runs;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = store.compaction_stats();
        if now.last.is_some() && now.runs == runs {
            break;
        }
        runs = now.runs;
    }
    let stats = store.compaction_stats();
    let live: u64 = store
        .entries("")
        .map(|e| (e.key.as_str().len() + e.value.len()) as u64)
        .sum();
    drop(engine);
    drop(store);
    let files = files_bytes(&dir);
    println!("1 000 000 overwrites of 1 000 keys, all acknowledged and pruned (fast mode):");
    println!(
        "  submit+batch+prune {:.2} s, {} automatic compactions, {} failed",
        elapsed.as_secs_f64(),
        stats.runs,
        stats.failures
    );
    println!(
        "  files {files} bytes; live data {live} bytes; bound 2 x live + threshold = {}",
        2 * live + threshold
    );
    println!("  reopen {:.1} ms", reopen_time(&wal).as_secs_f64() * 1e3);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn pending(root: &Path) {
    let dir = root.join("pending");
    std::fs::create_dir_all(&dir).unwrap();
    let wal = dir.join("p.wal");
    let value = Value::new(&[7u8; 32]).unwrap();
    let (store, engine) = open(&wal, 0);
    for chunk in 0..1_000u64 {
        let ops = (0..1_000).map(|i| Operation::put(key(chunk * 1_000 + i + 1), value.clone()));
        engine.submit_local_operations(ops.collect()).unwrap();
    }
    assert_eq!(engine.state().outbox_size, 1_000_000);
    drop(engine);
    drop(store);
    println!("1 000 000 live pending operations (fast mode):");
    println!(
        "  reopen from the log alone ({} MB): {:.0} ms",
        files_bytes(&dir) >> 20,
        reopen_time(&wal).as_secs_f64() * 1e3
    );
    let (store, engine) = open(&wal, 0);
    let report = engine.compact().unwrap();
    drop(engine);
    drop(store);
    println!(
        "  compaction {:.0} ms (rotation held the lock {} us); checkpoint {} MB",
        report.duration.as_secs_f64() * 1e3,
        report.rotation_pause.as_micros(),
        report.checkpoint_bytes >> 20
    );
    let (fresh, resident) = fresh_reopen(&wal);
    println!(
        "  reopen from the checkpoint: {:.0} ms; in a fresh process {:.0} ms, then {} MB \
         resident ({} B per pending operation, the program's own few MB included)",
        reopen_time(&wal).as_secs_f64() * 1e3,
        fresh.as_secs_f64() * 1e3,
        resident / 1_000_000,
        resident / 1_000_000
    );
    if std::env::var_os("SA_BENCH_KEEP").is_none() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// Times every submit of one writer for `duration`; with `compacting`, another thread compacts
/// in a loop meanwhile.
fn submit_latencies(engine: &SyncEngine, compacting: bool, first: u64) -> (Vec<Duration>, u64) {
    let value = Value::new(&[7u8; 32]).unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut compactions = 0;
    let mut latencies = Vec::new();
    std::thread::scope(|scope| {
        let compactor = scope.spawn(|| {
            let mut runs = 0;
            while compacting && !stop.load(std::sync::atomic::Ordering::Relaxed) {
                engine.compact().unwrap();
                runs += 1;
            }
            runs
        });
        let started = Instant::now();
        let mut i = first;
        while started.elapsed() < Duration::from_secs(4) {
            let op = Operation::put(key(i), value.clone());
            let t = Instant::now();
            engine.submit_local_operation(op).unwrap();
            latencies.push(t.elapsed());
            i += 1;
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        compactions = compactor.join().unwrap();
    });
    latencies.sort();
    (latencies, compactions)
}

fn pauses(root: &Path) {
    let dir = root.join("pauses");
    std::fs::create_dir_all(&dir).unwrap();
    let wal = dir.join("c.wal");
    let value = Value::new(&[7u8; 32]).unwrap();
    let (store, engine) = open(&wal, 0);
    for chunk in 0..200u64 {
        let ops = (0..1_000).map(|i| Operation::put(key(chunk * 1_000 + i + 1), value.clone()));
        engine.submit_local_operations(ops.collect()).unwrap();
    }
    println!("submit latency, fast mode, 200 000 pending operations, 4 s per run:");
    for compacting in [false, true] {
        let (lat, runs) = submit_latencies(&engine, compacting, 10_000_000);
        let pick = |q: f64| lat[((lat.len() - 1) as f64 * q) as usize];
        println!(
            "  {:<34} p50 {:>6.1} us  p99 {:>7.1} us  max {:>8.1} us  ({} submits)",
            if compacting {
                format!("while compacting ({runs} compactions)")
            } else {
                "without compaction".to_string()
            },
            pick(0.5).as_secs_f64() * 1e6,
            pick(0.99).as_secs_f64() * 1e6,
            lat[lat.len() - 1].as_secs_f64() * 1e6,
            lat.len()
        );
    }
    drop(engine);
    drop(store);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn main() {
    if let Some(wal) = std::env::var_os("SA_BENCH_REOPEN") {
        let started = Instant::now();
        let opened = open(Path::new(&wal), 0);
        let elapsed = started.elapsed();
        println!("{} {}", elapsed.as_nanos(), resident_bytes());
        // The process exits without closing them, as a timed-out application would: nothing
        // was written, and the measure stays the reopen alone.
        std::mem::forget(opened);
        return;
    }
    let root = std::env::temp_dir().join(format!("sa-compaction-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    // `cargo bench --bench compaction -- NAME` runs only the parts whose name contains NAME.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let run = |name: &str| only.is_empty() || only.iter().any(|o| name.contains(o.as_str()));
    if run("overwrites") {
        overwrites(&root);
    }
    if run("pending") {
        pending(&root);
    }
    if run("pauses") {
        pauses(&root);
    }
    if std::env::var_os("SA_BENCH_KEEP").is_none() {
        std::fs::remove_dir_all(&root).unwrap();
    } else {
        println!("files kept in {}", root.display());
    }
}
