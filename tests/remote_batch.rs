//! Receiving many remote operations in one call (`receive_remote_many`, and the frames built
//! on it) decides exactly what receiving them one at a time decides: same outcomes, same
//! errors, same store, same counters, also after a restart.

mod common;

use std::sync::Arc;

use common::{node_with, T0};
use softadastra_sync::clock::Stamp;
use softadastra_sync::store::{Key, Operation, StoreEngine, Value, WriteId};
use softadastra_sync::sync::{ConflictPolicy, SyncConfig, SyncOperation};
use softadastra_sync::{ManualClock, NodeId};

/// xorshift64: a seeded, reproducible mix.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Operations from three peers over a few keys: in-order runs, redeliveries, reordering,
/// concurrent writes of one key, deletes, causal successors, and invalid operations.
fn traffic(seed: u64, count: usize) -> Vec<SyncOperation> {
    let mut rng = Rng(seed);
    let origins = ["node-b", "node-c", "node-d"];
    let mut next_version = [1u64; 3];
    let mut sent: Vec<SyncOperation> = Vec::new();
    let mut ops = Vec::new();
    for _ in 0..count {
        let roll = rng.below(100);
        if roll < 8 && !sent.is_empty() {
            // A redelivery, possibly long after.
            let again = sent[rng.below(sent.len() as u64) as usize].clone();
            ops.push(again);
            continue;
        }
        let o = rng.below(3) as usize;
        if roll == 21 && next_version[o] > 1 {
            // A version sent again with another key: a duplicate all the same.
            let version = next_version[o] - 1;
            let key = Key::new(&format!("other{}", rng.below(1_000))).unwrap();
            let op =
                Operation::put(key, Value::new(b"o").unwrap()).with_timestamp(Stamp::new(T0, 0));
            let id = format!("{}-{version}", origins[o]);
            ops.push(SyncOperation::remote(&id, origins[o], version, op));
            continue;
        }
        let mut version = next_version[o];
        next_version[o] += 1;
        if roll < 14 {
            // Sent out of order: skip one, to be filled by a later operation.
            version += 1;
            next_version[o] += 1;
        }
        let key = Key::new(&format!("k{}", rng.below(12))).unwrap();
        let wall = T0 - 5_000 + rng.below(10_000);
        let stamp = Stamp::new(wall, rng.below(3) as u16);
        let mut op = if rng.below(5) == 0 {
            Operation::delete(key)
        } else {
            let value = Value::new(format!("v{}", rng.next()).as_bytes()).unwrap();
            Operation::put(key, value)
        }
        .with_timestamp(stamp);
        let origin = origins[o];
        let mut sync_id = format!("{origin}-{version}");
        let mut origin_id = origin.to_string();
        match roll {
            14..=15 => version = 0,
            16 => origin_id = "node-a".into(),
            17 => sync_id.clear(),
            18 => op.value = Value::new(b"x").unwrap(),
            19 => op.timestamp = Stamp::new(T0 + 3_600_000, 0),
            20 => origin_id = "bad origin".into(),
            _ => {}
        }
        if op.kind == softadastra_sync::store::OperationKind::Put && roll == 18 {
            // Only a delete carrying a value is invalid.
            op = Operation::delete(op.key.clone()).with_timestamp(op.timestamp);
            op.value = Value::new(b"x").unwrap();
        }
        let mut remote = SyncOperation::remote(&sync_id, &origin_id, version, op);
        if rng.below(4) == 0 {
            remote.replaces = Some(WriteId {
                stamp: Stamp::new(wall - 1, 0),
                origin: Some(NodeId::new(origins[rng.below(3) as usize]).unwrap()),
            });
        }
        sent.push(remote.clone());
        ops.push(remote);
    }
    ops
}

fn contents(store: &StoreEngine) -> Vec<(String, Vec<u8>, u64)> {
    store
        .entries("")
        .map(|e| (e.key.to_string(), e.value.as_bytes().to_vec(), e.version))
        .collect()
}

fn config(policy: ConflictPolicy) -> SyncConfig {
    let mut config = SyncConfig::fast("node-a");
    config.conflict_policy = policy;
    config
}

#[test]
fn a_batch_decides_what_one_at_a_time_decides() {
    for (seed, policy) in [
        (1, ConflictPolicy::LastWriteWins),
        (2, ConflictPolicy::LastWriteWins),
        (3, ConflictPolicy::KeepLocal),
        (4, ConflictPolicy::KeepRemote),
    ] {
        let ops = traffic(seed, 2_000);
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let one_dir = dir.path().join("one");
        let many_dir = dir.path().join("many");
        std::fs::create_dir_all(&one_dir).unwrap();
        std::fs::create_dir_all(&many_dir).unwrap();
        let one = node_with(&one_dir, config(policy), clock.clone());
        let many = node_with(&many_dir, config(policy), clock.clone());

        let singles: Vec<String> = ops
            .iter()
            .map(|op| format!("{:?}", one.engine.receive_remote_operation(op)))
            .collect();
        let mut rng = Rng(seed ^ 0xdead_beef);
        let mut batched = Vec::new();
        let mut rest = &ops[..];
        while !rest.is_empty() {
            let n = (1 + rng.below(60) as usize).min(rest.len());
            let (batch, tail) = rest.split_at(n);
            rest = tail;
            let results = many
                .engine
                .receive_remote_many(batch.iter().map(SyncOperation::as_remote).collect())
                .unwrap();
            batched.extend(results.iter().map(|r| format!("{r:?}")));
        }
        for (i, (a, b)) in singles.iter().zip(&batched).enumerate() {
            assert_eq!(a, b, "seed {seed}, operation {i}: {:?}", ops[i]);
        }
        assert!(singles.iter().any(|r| r.contains("Applied")));
        assert!(singles.iter().any(|r| r.contains("Ignored")));
        assert!(singles.iter().any(|r| r.contains("Duplicate")));
        assert!(singles.iter().any(|r| r.contains("Err")));
        assert_eq!(contents(&one.store), contents(&many.store), "seed {seed}");
        assert_eq!(one.engine.state(), many.engine.state(), "seed {seed}");

        // The log holds what memory held: after a restart, the same store, and every
        // operation handled is a duplicate.
        let expected = contents(&many.store);
        let many = many.restart();
        assert_eq!(contents(&many.store), expected, "seed {seed}");
        let again = many
            .engine
            .receive_remote_many(ops.iter().map(SyncOperation::as_remote).collect())
            .unwrap();
        for (result, op) in again.iter().zip(&ops) {
            if let Ok(result) = result {
                assert!(result.duplicate_delivery(), "{op:?}: {result:?}");
            }
        }
        assert_eq!(contents(&many.store), expected, "seed {seed}");
    }
}

#[test]
fn an_empty_batch_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = node_with(
        dir.path(),
        config(ConflictPolicy::LastWriteWins),
        Arc::new(ManualClock::new(T0)),
    );
    assert!(node
        .engine
        .receive_remote_many(Vec::new())
        .unwrap()
        .is_empty());
    assert_eq!(node.engine.state(), Default::default());
}
