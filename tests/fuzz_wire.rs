//! A bounded, seeded mutation pass over every decoder of untrusted bytes, on stable Rust: V2
//! operations and ACK frames (received by an engine), V1 frames (handled by an engine), and
//! WAL replay. Each target first replays its regression corpus (tests/fuzz-corpus/<target>/),
//! then mutates seeds: the vectors, frames made by the encoders, and the corpus.
//!
//! Properties checked on every input: no panic; a frame that fails to decode changes nothing
//! (store contents and engine counters); a decoded V2 frame re-encodes to the same bytes. An
//! input that breaks one is written to the corpus (so it is replayed on every later run) and
//! the test fails naming the file.
//!
//! `SA_FUZZ_ITERS` sets the mutations per target (default 2 000; the test command runs more in
//! release mode); `SA_FUZZ_SEED` the seed. cargo-fuzz targets for the same code are in fuzz/.

mod common;
mod vectors;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use softadastra_sync::store::{StoreConfig, StoreEngine};
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine, SyncState};
use softadastra_sync::wire::{decode_operations_frame, encode_operations_frame};
use softadastra_sync::ManualClock;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn iterations() -> usize {
    std::env::var("SA_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

fn seed() -> u64 {
    std::env::var("SA_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_cafe_f00d_0001)
}

/// One mutation of `input`, some of them splicing in `other`.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(8) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.next() as u8;
            }
            2 => out.insert(at, rng.next() as u8),
            3 if at < out.len() => {
                out.remove(at);
            }
            4 => out.truncate(at),
            5 if at + 4 <= out.len() => {
                // Length prefixes and counts: the interesting values.
                let values = [
                    0u32,
                    1,
                    0x7f,
                    0xffff,
                    0x7fff_ffff,
                    u32::MAX,
                    out.len() as u32,
                ];
                let v = values[rng.below(values.len())];
                out[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
            6 if !other.is_empty() => {
                let from = rng.below(other.len());
                let len = rng.below(other.len() - from + 1);
                out.splice(at..at, other[from..from + len].iter().copied());
            }
            _ if !out.is_empty() => {
                let from = rng.below(out.len());
                let len = rng.below((out.len() - from).min(64) + 1);
                let chunk = out[from..from + len].to_vec();
                out.splice(at..at, chunk);
            }
            _ => out.push(rng.next() as u8),
        }
    }
    out
}

fn corpus_dir(target: &str) -> PathBuf {
    root_dir().join("tests/fuzz-corpus").join(target)
}

fn root_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir(target))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

/// Runs `check` on the corpus, then on `iterations()` mutations of `seeds` + corpus. A failing
/// input is saved to the corpus and fails the test.
fn run(target: &str, seeds: Vec<Vec<u8>>, check: &mut dyn FnMut(&[u8]) -> Result<(), String>) {
    run_n(target, seeds, iterations(), check);
}

/// [`run`] with `count` mutations.
fn run_n(
    target: &str,
    mut seeds: Vec<Vec<u8>>,
    count: usize,
    check: &mut dyn FnMut(&[u8]) -> Result<(), String>,
) {
    let saved = corpus(target);
    let mut attempt = |input: &[u8]| {
        let outcome = catch_unwind(AssertUnwindSafe(|| check(input)))
            .unwrap_or_else(|_| Err("panicked".to_string()));
        if let Err(why) = outcome {
            let name = format!("crash-{:016x}", fnv(input));
            let path = corpus_dir(target).join(name);
            std::fs::create_dir_all(corpus_dir(target)).unwrap();
            std::fs::write(&path, input).unwrap();
            panic!("{target}: {why}; input saved as {}", path.display());
        }
    };
    for input in &saved {
        attempt(input);
    }
    seeds.extend(saved);
    let mut rng = Rng(seed() ^ fnv(target.as_bytes()));
    for _ in 0..count {
        let base = &seeds[rng.below(seeds.len())];
        let other = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, base, other);
        attempt(&input);
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn vector_seeds(prefix: &str) -> Vec<Vec<u8>> {
    vectors::load()
        .iter()
        .filter(|(name, _)| name.starts_with(prefix))
        .map(|(_, v)| v.bytes())
        .collect()
}

/// An engine on a memory store at T0, holding one local write (so ACKs can hit it).
fn memory_engine(node: &str) -> (StoreEngine, SyncEngine) {
    let clock = Arc::new(ManualClock::new(T0));
    let store = StoreEngine::open(StoreConfig::memory().with_clock(clock)).unwrap();
    let engine = SyncEngine::new(&SyncContext::new(&store, SyncConfig::durable(node))).unwrap();
    engine
        .submit_local_operation(put("user:1", "Gaspard"))
        .unwrap();
    engine.next_batch().unwrap();
    (store, engine)
}

fn snapshot(store: &StoreEngine, engine: &SyncEngine) -> (usize, SyncState) {
    (store.len(), engine.state())
}

#[test]
fn v2_frames_survive_mutation() {
    let (store, engine) = memory_engine("node-b");
    let (_, a) = memory_engine("node-a");
    a.submit_local_operation(put("user:2", "Ada")).unwrap();
    a.submit_local_operation(put("user:1", "Grace")).unwrap();
    let ops: Vec<_> = a.outbox().into_iter().map(|e| e.operation).collect();
    let mut seeds = vector_seeds("v2_");
    seeds.push(encode_operations_frame(&ops).unwrap());
    run("v2", seeds, &mut |input| {
        if let Ok(ops) = decode_operations_frame(input) {
            if encode_operations_frame(&ops).unwrap() != input {
                return Err("a decoded frame does not re-encode to the same bytes".into());
            }
        }
        let before = snapshot(&store, &engine);
        if engine.receive_frame(input).is_err() && snapshot(&store, &engine) != before {
            return Err("a frame that failed to decode changed the engine".into());
        }
        let before = snapshot(&store, &engine);
        if engine.ack_frame(input).is_err() && snapshot(&store, &engine) != before {
            return Err("an ACK frame that failed to decode changed the engine".into());
        }
        Ok(())
    });
}

#[test]
fn v1_frames_survive_mutation() {
    let (store, engine) = memory_engine("node-b");
    run("v1", vector_seeds("v1_"), &mut |input| {
        let before = snapshot(&store, &engine);
        if engine.handle_v1_frame(input).is_err() && snapshot(&store, &engine) != before {
            return Err("a V1 frame that failed changed the engine".into());
        }
        Ok(())
    });
}

#[test]
fn wal_replay_survives_mutation() {
    let dir = tempfile::tempdir().unwrap();
    // Seed: a real WAL with local writes, a remote write, ACK/prune annotations.
    let n = node(dir.path(), SyncConfig::durable("node-a"));
    n.engine.submit_local_operation(put("k1", "v1")).unwrap();
    n.engine.submit_local_operation(put("k2", "v2")).unwrap();
    let batch = n.engine.next_batch().unwrap();
    n.engine.receive_ack(&batch[0].operation.sync_id).unwrap();
    n.engine.prune_completed().unwrap();
    let wal = std::fs::read(&n.wal).unwrap();
    drop(n);
    let path = dir.path().join("fuzz.wal");
    run("wal", vec![wal], &mut |input| {
        std::fs::write(&path, input).unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        if let Ok(store) = StoreEngine::open(StoreConfig::fast(&path).with_clock(clock)) {
            let _ = SyncEngine::new(&SyncContext::new(&store, SyncConfig::fast("node-a")));
        }
        Ok(())
    });
}

#[test]
fn checkpoint_load_survives_mutation() {
    let dir = tempfile::tempdir().unwrap();
    // Seed: a real checkpoint holding entries, a tombstone, an outbox and remote versions.
    let n = node(dir.path(), SyncConfig::durable("node-a"));
    n.engine.submit_local_operation(put("k1", "v1")).unwrap();
    n.engine.submit_local_operation(put("k2", "v2")).unwrap();
    n.store.remove(key("k3")).unwrap();
    let batch = n.engine.next_batch().unwrap();
    n.engine.receive_ack(&batch[0].operation.sync_id).unwrap();
    n.engine.compact().unwrap();
    let checkpoint = std::fs::read(n.wal.with_file_name("node-a.wal.ckpt")).unwrap();
    drop(n);
    run(
        "checkpoint",
        vec![checkpoint],
        &mut opens_with_side_file(dir.path(), "ckpt"),
    );
}

/// A check that writes its input as the `<wal>.<suffix>` file beside an empty segment, then
/// opens the store read-only (nothing written) and an engine on it: a damaged file is refused
/// by an error naming it, never taken silently.
fn opens_with_side_file(dir: &Path, suffix: &str) -> impl FnMut(&[u8]) -> Result<(), String> {
    let wal = dir.join("fuzz.wal");
    drop(StoreEngine::open(StoreConfig::fast(&wal)).unwrap());
    let name = format!("fuzz.wal.{suffix}");
    let path = dir.join(&name);
    move |input| {
        std::fs::write(&path, input).unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        match StoreEngine::open(StoreConfig::read_only(&wal).with_clock(clock)) {
            Ok(store) => {
                let _ = SyncEngine::new(&SyncContext::new(&store, SyncConfig::fast("node-a")));
                Ok(())
            }
            Err(e) if e.to_string().contains(&name) => Ok(()),
            Err(e) => Err(format!("error does not name {name}: {e}")),
        }
    }
}

#[test]
fn sequence_file_survives_mutation() {
    let dir = tempfile::tempdir().unwrap();
    // Seed: a real `<wal>.seq` after several reservations (both slots written).
    let n = node(dir.path(), SyncConfig::durable("node-a"));
    for i in 0..3 {
        n.engine
            .submit_local_operation(put(&format!("k{i}"), "v"))
            .unwrap();
    }
    n.store.compact().unwrap();
    let seq = std::fs::read(n.wal.with_file_name("node-a.wal.seq")).unwrap();
    drop(n);
    // A damaged mark is refused by name, never taken for a lower one silently. Two 32-byte
    // slots: a tenth of the other targets' mutations covers them (each one opens a store,
    // which costs more than decoding a frame).
    run_n(
        "sequence",
        vec![seq],
        iterations() / 10,
        &mut opens_with_side_file(dir.path(), "seq"),
    );
}
