//! Crash-kill harness: a child process (this test binary, re-executed) opens a WAL-backed
//! store + engine and submits, batches, acks and prunes in a loop, printing each sync id the
//! moment its call returned OK. The parent kills it with SIGKILL at seeded moments, reopens the
//! WAL and checks:
//! - every write whose submit returned OK is readable (or overwritten by a later write);
//! - every operation not acknowledged is pending again (queued, none in flight), and
//!   acknowledged ones are not resent;
//! - no sync id is ever issued twice;
//! - the state counters agree with the outbox listing.
//!
//! `SA_CRASH_KILLS=N` sets the number of kills (default 200; the long mode is 1000).

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;
use softadastra_sync::store::{StoreConfig, StoreEngine};
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine, SyncStatus};

const KEYS: u64 = 20;

fn open(wal: &Path, durable: bool) -> SyncEngine {
    let store = StoreEngine::open(StoreConfig::durable(wal)).unwrap();
    let mut config = if durable {
        SyncConfig::durable("node-a")
    } else {
        SyncConfig::fast("node-a")
    };
    config.require_ack = true;
    config.batch_size = 4;
    SyncEngine::new(&SyncContext::new(&store, config)).unwrap()
}

/// The child: runs until killed.
fn child(wal: &Path, durable: bool) {
    let engine = open(wal, durable);
    let out = std::io::stdout();
    let mut out = out.lock();
    let mut n: u64 = engine.state().last_submitted_version;
    loop {
        n += 1;
        let key = format!("k{}", n % KEYS);
        let op = engine
            .submit_local_operation(put(&key, &format!("v{n}")))
            .unwrap();
        writeln!(out, "submit {} {key} {}", op.sync_id, op.version).unwrap();
        out.flush().unwrap();
        if n % 3 == 0 {
            for envelope in engine.next_batch().unwrap() {
                if envelope.operation.version % 2 == 0 {
                    engine.receive_ack(&envelope.operation.sync_id).unwrap();
                    writeln!(out, "ack {}", envelope.operation.sync_id).unwrap();
                    out.flush().unwrap();
                }
            }
        }
        if n % 7 == 0 {
            engine.prune_completed().unwrap();
            writeln!(out, "prune").unwrap();
            out.flush().unwrap();
        }
    }
}

#[derive(Default)]
struct History {
    issued: HashSet<String>,
    /// key → highest version whose submit returned OK.
    latest: HashMap<String, u64>,
    acked: HashSet<String>,
    submitted: Vec<String>,
    max_version: u64,
}

impl History {
    /// Records one line of the child's output; returns true for a submit.
    fn record(&mut self, line: &str, kill: u64) -> bool {
        let words: Vec<&str> = line.split(' ').collect();
        match words[0] {
            "submit" => {
                let id = words[1].to_string();
                assert!(
                    self.issued.insert(id.clone()),
                    "kill {kill}: {id} issued twice"
                );
                let version: u64 = words[3].parse().unwrap();
                self.latest.insert(words[2].to_string(), version);
                self.max_version = self.max_version.max(version);
                self.submitted.push(id);
                true
            }
            "ack" => {
                self.acked.insert(words[1].to_string());
                false
            }
            _ => false,
        }
    }
}

fn check(wal: &Path, history: &mut History, kill: u64) {
    let engine = open(wal, false);
    let store = engine.store();
    for (key, &version) in &history.latest {
        let value = get(store, key).unwrap_or_else(|| panic!("kill {kill}: {key} lost"));
        let stored: u64 = value.trim_start_matches('v').parse().unwrap();
        assert!(
            stored >= version,
            "kill {kill}: {key} holds v{stored}, OK-returned v{version}"
        );
    }
    let listing = engine.outbox();
    let status: HashMap<&str, SyncStatus> = listing
        .iter()
        .map(|e| (e.operation.sync_id.as_str(), e.status))
        .collect();
    for id in &history.submitted {
        match status.get(id.as_str()) {
            // Pruned: only acknowledged operations are pruned.
            None => assert!(
                history.acked.contains(id),
                "kill {kill}: unacked {id} vanished"
            ),
            // An ACK can be logged and the child killed before it printed it; learn it now,
            // before a later child prunes the operation.
            Some(SyncStatus::Acknowledged) => {
                history.acked.insert(id.clone());
            }
            Some(SyncStatus::Queued) => assert!(
                !history.acked.contains(id),
                "kill {kill}: acknowledged {id} would be resent"
            ),
            Some(other) => panic!("kill {kill}: {id} is {other:?} after restart"),
        }
    }
    let s = engine.state();
    let count = |st| listing.iter().filter(|e| e.status == st).count() as u64;
    assert_eq!(s.outbox_size, listing.len() as u64, "kill {kill}");
    assert_eq!(s.queued_count, count(SyncStatus::Queued), "kill {kill}");
    assert_eq!(
        s.acknowledged_count,
        count(SyncStatus::Acknowledged),
        "kill {kill}"
    );
    assert_eq!(
        (s.in_flight_count, s.failed_count, s.pending_count),
        (0, 0, 0),
        "kill {kill}"
    );
    let max_issued = history.submitted.len() as u64;
    assert!(
        s.last_submitted_version >= max_issued,
        "kill {kill}: versions went back"
    );
}

#[test]
fn sigkill_at_random_moments_never_loses_acknowledged_writes_or_reuses_ids() {
    if let Ok(dir) = std::env::var("SA_CRASH_CHILD") {
        child(
            Path::new(&dir).join("node.wal").as_path(),
            std::env::var_os("SA_CRASH_DURABLE").is_some(),
        );
        return;
    }
    let kills: u64 = std::env::var("SA_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("node.wal");
    let mut rng: u64 = 0x5EED;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut history = History::default();
    for kill in 0..kills {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "--exact",
                "sigkill_at_random_moments_never_loses_acknowledged_writes_or_reuses_ids",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("SA_CRASH_CHILD", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if next() % 2 == 0 {
            command.env("SA_CRASH_DURABLE", "1");
        }
        let mut child = command.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let wanted = 1 + next() % 60;
        let mut seen = 0;
        while seen < wanted {
            let Some(Ok(line)) = lines.next() else { break };
            if history.record(&line, kill) {
                seen += 1;
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Lines written before the kill but not read yet still count as OK-returned.
        for line in lines.map_while(Result::ok) {
            history.record(&line, kill);
        }
        check(&wal, &mut history, kill);
    }
    assert!(
        history.submitted.len() as u64 >= kills,
        "the children made progress"
    );
}
