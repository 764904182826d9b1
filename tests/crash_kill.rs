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
//! A second variant starts two children at once on the same WAL: exactly one may open it (the
//! other is refused with `InUse`), and the same invariants hold after the kill.
//!
//! A third variant kills a child whose four threads submit durably at once, so that kills land
//! while a group of submitters shares one record and one fdatasync (group commit).
//!
//! A fourth variant kills a child that compacts its store in a loop while it writes, at a
//! random moment after a compaction started, so that kills land while a checkpoint is written
//! or swapped in; it counts those that did.
//!
//! `SA_CRASH_KILLS=N` sets the number of kills (default 200; the long mode is 1000),
//! `SA_CRASH_RACES=N` the number of racing pairs (default 50; the long mode is 200),
//! `SA_CRASH_GROUP_KILLS=N` the group-commit kills (default 100; the long mode is 300), and
//! `SA_CRASH_COMPACT_KILLS=N` the compaction kills (default 60; the long mode is 250).

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;

use common::*;
use softadastra_sync::store::{StoreConfig, StoreEngine, StoreError};
use softadastra_sync::sync::{SyncConfig, SyncContext, SyncEngine, SyncStatus};

const KEYS: u64 = 20;

fn open(wal: &Path, durable: bool) -> SyncEngine {
    try_open(wal, durable).unwrap()
}

fn try_open(wal: &Path, durable: bool) -> Result<SyncEngine, StoreError> {
    let store = StoreEngine::open(StoreConfig::durable(wal))?;
    let mut config = if durable {
        SyncConfig::durable("node-a")
    } else {
        SyncConfig::fast("node-a")
    };
    config.require_ack = true;
    config.batch_size = 4;
    Ok(SyncEngine::new(&SyncContext::new(&store, config)).unwrap())
}

/// The child: runs until killed, or exits at once when another process holds the WAL.
fn child(wal: &Path, durable: bool) {
    let out = std::io::stdout();
    let mut out = out.lock();
    let engine = match try_open(wal, durable) {
        Ok(engine) => engine,
        Err(StoreError::InUse { .. }) => {
            writeln!(out, "in-use").unwrap();
            return;
        }
        Err(e) => panic!("{e}"),
    };
    writeln!(out, "opened").unwrap();
    out.flush().unwrap();
    if let Some(threads) = std::env::var("SA_CRASH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        drop(out);
        group_child(&engine, threads);
        return;
    }
    if std::env::var_os("SA_CRASH_COMPACT").is_some() {
        drop(out);
        compact_child(&engine);
        return;
    }
    write_forever(&engine, &mut |line| {
        writeln!(out, "{line}").unwrap();
        out.flush().unwrap();
    });
}

/// Submits in a loop until killed (sending, acknowledging even versions and pruning as it
/// goes), handing each line of the history to `emit` the moment its call returned OK.
fn write_forever(engine: &SyncEngine, emit: &mut dyn FnMut(&str)) {
    let mut n: u64 = engine.state().last_submitted_version;
    loop {
        n += 1;
        let key = format!("k{}", n % KEYS);
        let op = engine
            .submit_local_operation(put(&key, &format!("v{n}")))
            .unwrap();
        emit(&format!("submit {} {key} {}", op.sync_id, op.version));
        if n.is_multiple_of(3) {
            for envelope in engine.next_batch().unwrap() {
                if envelope.operation.version % 2 == 0 {
                    engine.receive_ack(&envelope.operation.sync_id).unwrap();
                    emit(&format!("ack {}", envelope.operation.sync_id));
                }
            }
        }
        if n.is_multiple_of(7) {
            engine.prune_completed().unwrap();
            emit("prune");
        }
    }
}

/// The group-commit child: `threads` threads submit durably at once (sharing fdatasyncs), each
/// on its own keys, printing `submit <id> <key> <n>` where value `v<n>` grows per key; thread 0
/// also sends, acknowledges and prunes.
fn group_child(engine: &SyncEngine, threads: u64) {
    let base: u64 = std::env::var("SA_CRASH_BASE").unwrap().parse().unwrap();
    std::thread::scope(|scope| {
        for t in 0..threads {
            scope.spawn(move || {
                for j in 1.. {
                    let n = base + j;
                    let key = format!("t{t}-k{}", j % KEYS);
                    let op = engine
                        .submit_local_operation(put(&key, &format!("v{n}")))
                        .unwrap();
                    println!("submit {} {key} {n}", op.sync_id);
                    if t == 0 && j % 3 == 0 {
                        for envelope in engine.next_batch().unwrap() {
                            if envelope.operation.version % 2 == 0 {
                                engine.receive_ack(&envelope.operation.sync_id).unwrap();
                                println!("ack {}", envelope.operation.sync_id);
                            }
                        }
                    }
                    if t == 0 && j % 7 == 0 {
                        engine.prune_completed().unwrap();
                        println!("prune");
                    }
                }
            });
        }
    });
}

/// The compaction child: one thread writes as the plain child does (printing each line as it
/// is made), another compacts in a loop, printing `compact-start` and `compact-end` around
/// each compaction.
fn compact_child(engine: &SyncEngine) {
    std::thread::scope(|scope| {
        scope.spawn(|| loop {
            println!("compact-start");
            engine.compact().unwrap();
            println!("compact-end");
        });
        write_forever(engine, &mut |line| println!("{line}"));
    });
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

/// A seeded xorshift generator.
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

fn kills_from_env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs the child side when this process is one; returns true if it was.
fn run_as_child() -> bool {
    match std::env::var("SA_CRASH_CHILD") {
        Ok(dir) => {
            child(
                Path::new(&dir).join("node.wal").as_path(),
                std::env::var_os("SA_CRASH_DURABLE").is_some(),
            );
            true
        }
        Err(_) => false,
    }
}

/// Starts a child running `test` on the WAL in `dir`, its stdout lines sent to `lines` tagged
/// with `tag`.
fn spawn_child(
    test: &str,
    dir: &Path,
    durable: bool,
    tag: usize,
    lines: &mpsc::Sender<(usize, String)>,
) -> Child {
    spawn_child_with(test, dir, durable, tag, lines, &[])
}

fn spawn_child_with(
    test: &str,
    dir: &Path,
    durable: bool,
    tag: usize,
    lines: &mpsc::Sender<(usize, String)>,
    env: &[(&str, String)],
) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("SA_CRASH_CHILD", dir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if durable {
        command.env("SA_CRASH_DURABLE", "1");
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // The test harness prints lines of its own, and prefixes the child's first line
            // with "test <name> ... ".
            let line = line.rsplit("... ").next().unwrap_or_default().to_string();
            let word = line.split(' ').next().unwrap_or_default();
            let words = [
                "submit",
                "ack",
                "prune",
                "opened",
                "in-use",
                "compact-start",
                "compact-end",
            ];
            if !words.contains(&word) {
                continue;
            }
            if lines.send((tag, line)).is_err() {
                break;
            }
        }
    });
    child
}

const SINGLE: &str = "sigkill_at_random_moments_never_loses_acknowledged_writes_or_reuses_ids";
const RACING: &str = "two_processes_racing_to_open_one_wal_never_share_it";
const GROUP: &str = "sigkill_during_group_commit_never_loses_acknowledged_writes_or_reuses_ids";
const COMPACT: &str = "sigkill_during_compaction_never_loses_acknowledged_writes_or_reuses_ids";

#[test]
fn sigkill_at_random_moments_never_loses_acknowledged_writes_or_reuses_ids() {
    if run_as_child() {
        return;
    }
    let kills = kills_from_env("SA_CRASH_KILLS", 200);
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("node.wal");
    let mut next = rng(0x5EED);
    let mut history = History::default();
    for kill in 0..kills {
        let (send, receive) = mpsc::channel();
        let mut child = spawn_child(SINGLE, dir.path(), next().is_multiple_of(2), 0, &send);
        drop(send);
        let wanted = 1 + next() % 60;
        let mut seen = 0;
        while seen < wanted {
            let Ok((_, line)) = receive.recv() else { break };
            if history.record(&line, kill) {
                seen += 1;
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Lines written before the kill but not read yet still count as OK-returned.
        for (_, line) in receive {
            history.record(&line, kill);
        }
        check(&wal, &mut history, kill);
    }
    assert!(
        history.submitted.len() as u64 >= kills,
        "the children made progress"
    );
}

#[test]
fn two_processes_racing_to_open_one_wal_never_share_it() {
    if run_as_child() {
        return;
    }
    let races = kills_from_env("SA_CRASH_RACES", 50);
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("node.wal");
    let mut next = rng(0xACE5);
    let mut history = History::default();
    for race in 0..races {
        let (send, receive) = mpsc::channel();
        let mut children: Vec<Child> = (0..2)
            .map(|tag| spawn_child(RACING, dir.path(), next().is_multiple_of(2), tag, &send))
            .collect();
        drop(send);
        let wanted = 1 + next() % 30;
        let (mut opened, mut refused) = (Vec::new(), Vec::new());
        let mut seen = 0;
        // Wait for both children's verdicts and some progress of the winner.
        while seen < wanted || opened.len() + refused.len() < 2 {
            let Ok((tag, line)) = receive.recv() else {
                break;
            };
            match line.as_str() {
                "opened" => opened.push(tag),
                "in-use" => refused.push(tag),
                _ => {
                    assert_eq!(
                        opened,
                        [tag],
                        "race {race}: output from a child without the WAL"
                    );
                    if history.record(&line, race) {
                        seen += 1;
                    }
                }
            }
        }
        for child in &mut children {
            child.kill().ok(); // SIGKILL (the refused one may have exited already)
            child.wait().unwrap();
        }
        for (tag, line) in receive {
            assert_eq!(
                opened,
                [tag],
                "race {race}: output from a child without the WAL"
            );
            history.record(&line, race);
        }
        assert_eq!(
            (opened.len(), refused.len()),
            (1, 1),
            "race {race}: exactly one child opens the WAL"
        );
        check(&wal, &mut history, race);
    }
}

#[test]
fn sigkill_during_group_commit_never_loses_acknowledged_writes_or_reuses_ids() {
    if run_as_child() {
        return;
    }
    let kills = kills_from_env("SA_CRASH_GROUP_KILLS", 100);
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("node.wal");
    let mut next = rng(0x6C0F);
    let mut history = History::default();
    for kill in 0..kills {
        let (send, receive) = mpsc::channel();
        // Each child's values are above every earlier child's, key by key.
        let env = [
            ("SA_CRASH_THREADS", "4".to_string()),
            ("SA_CRASH_BASE", ((kill + 1) << 32).to_string()),
        ];
        let mut child = spawn_child_with(GROUP, dir.path(), true, 0, &send, &env);
        drop(send);
        let wanted = 1 + next() % 80;
        let mut seen = 0;
        while seen < wanted {
            let Ok((_, line)) = receive.recv() else { break };
            if history.record(&line, kill) {
                seen += 1;
            }
        }
        child.kill().unwrap(); // SIGKILL, with submitters queued and a group in fdatasync
        child.wait().unwrap();
        for (_, line) in receive {
            history.record(&line, kill);
        }
        check(&wal, &mut history, kill);
    }
    assert!(history.submitted.len() as u64 >= kills);
}

#[test]
fn sigkill_during_compaction_never_loses_acknowledged_writes_or_reuses_ids() {
    if run_as_child() {
        return;
    }
    let kills = kills_from_env("SA_CRASH_COMPACT_KILLS", 60);
    let dir = tempfile::tempdir().unwrap();
    let wal = dir.path().join("node.wal");
    let mut next = rng(0xC0_4AC7);
    let mut history = History::default();
    let mut inside = 0;
    for kill in 0..kills {
        let (send, receive) = mpsc::channel();
        let env = [("SA_CRASH_COMPACT", "1".to_string())];
        let durable = next().is_multiple_of(2);
        let mut child = spawn_child_with(COMPACT, dir.path(), durable, 0, &send, &env);
        drop(send);
        let wanted = 1 + next() % 40;
        let mut seen = 0;
        let mut compacting = false;
        // Some writes first, then the next compaction start, then a random moment inside it
        // (a compaction takes several fdatasyncs: milliseconds).
        while seen < wanted || !compacting {
            let Ok((_, line)) = receive.recv() else { break };
            match line.as_str() {
                "compact-start" => compacting = true,
                "compact-end" => compacting = false,
                _ => seen += u64::from(history.record(&line, kill)),
            }
        }
        std::thread::sleep(std::time::Duration::from_micros(next() % 3_000));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        for (_, line) in receive {
            match line.as_str() {
                "compact-start" => compacting = true,
                "compact-end" => compacting = false,
                _ => {
                    history.record(&line, kill);
                }
            }
        }
        inside += u64::from(compacting);
        check(&wal, &mut history, kill);
    }
    println!("{inside} of {kills} kills landed inside a compaction");
    assert!(
        inside * 5 >= kills * 4,
        "only {inside} of {kills} kills landed inside a compaction"
    );
}
