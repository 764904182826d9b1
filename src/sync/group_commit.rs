//! Group commit: durable submitters that arrive while another one is writing share its next
//! WAL record and its fdatasync.
//!
//! Submitters join a queue. The one at the front (the leader) takes everything queued behind
//! it, submits it as one record with one fdatasync, and hands every member its own result; the
//! others sleep meanwhile. Nothing is applied before it is durable, so a failure still changes
//! nothing: if the group's submit fails (one member's operation is invalid, the outbox is full,
//! the disk failed), the leader submits each member alone, so that each gets the result it
//! would have had by itself.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::error::SyncError;
use super::operation::Submitted;
use crate::store::Operation;

/// Most operations one group record takes (the leader stops adding members beyond it).
const MAX_GROUP_OPERATIONS: usize = 4096;

type Outcome = Result<Vec<Submitted>, SyncError>;

/// One submitter's place in the queue.
struct Member {
    operations: Mutex<Option<Vec<Operation>>>,
    outcome: Mutex<Option<Outcome>>,
    /// Woken (unparked) when its outcome is set or it reaches the front: only the threads
    /// that have something to do wake, not every waiter.
    thread: std::thread::Thread,
}

/// The longest a leader waits for the submitters it expects (see [`CommitQueue::submit`]):
/// well under one fdatasync, which the whole group then shares.
const MAX_GATHER: Duration = Duration::from_micros(300);

/// The queue of durable submitters.
pub(crate) struct CommitQueue {
    waiting: Mutex<VecDeque<Arc<Member>>>,
    /// Signalled when the last submitter a gathering leader expects joins.
    joined: Condvar,
    /// Submitters active around the last group (its members and those queued behind it when
    /// it ended): how many the next leader expects.
    active: AtomicUsize,
    /// The longest a leader waits for the submitters it expects: [`MAX_GATHER`] (tests that
    /// must not depend on the machine's speed wait longer).
    gather: Duration,
    /// How often a gathering leader was signalled.
    #[cfg(test)]
    signals: AtomicUsize,
}

impl Default for CommitQueue {
    fn default() -> Self {
        CommitQueue {
            waiting: Mutex::default(),
            joined: Condvar::new(),
            active: AtomicUsize::new(0),
            gather: MAX_GATHER,
            #[cfg(test)]
            signals: AtomicUsize::new(0),
        }
    }
}

impl std::fmt::Debug for CommitQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CommitQueue")
    }
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while these are held; the data stays consistent if something did.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl CommitQueue {
    /// Submits `operations` as part of a group; `submit` makes one record of what it is given
    /// (all or nothing) and is called by whichever submitter leads the group.
    pub fn submit(
        &self,
        operations: Vec<Operation>,
        submit: impl Fn(Vec<Operation>) -> Outcome,
    ) -> Outcome {
        let me = Arc::new(Member {
            operations: Mutex::new(Some(operations)),
            outcome: Mutex::new(None),
            thread: std::thread::current(),
        });
        let mut queue = locked(&self.waiting);
        queue.push_back(me.clone());
        // A gathering leader is woken once, by the submitter that completes the group it
        // expects, not by every one that joins: on two cores each needless wake-up delays the
        // others. A lone submitter expects no one and signals no one.
        let expected = self.active.load(Ordering::Relaxed);
        if expected > 1 && queue.len() == expected {
            #[cfg(test)]
            self.signals.fetch_add(1, Ordering::Relaxed);
            self.joined.notify_one();
        }
        loop {
            if let Some(outcome) = locked(&me.outcome).take() {
                return outcome;
            }
            if queue.front().is_some_and(|front| Arc::ptr_eq(front, &me)) {
                break;
            }
            // Parked until the leader hands over an outcome or the front (a wake-up that
            // finds neither just loops).
            drop(queue);
            std::thread::park();
            queue = locked(&self.waiting);
        }
        // The previous group's members are often still returning to submit again: a leader
        // that expects more submitters than are queued waits a little for them (never more
        // than MAX_GATHER), so that they share this fdatasync rather than start another. A lone
        // submitter expects no one and never waits.
        let expected = self.active.load(Ordering::Relaxed);
        if queue.len() < expected {
            let deadline = Instant::now() + self.gather;
            while queue.len() < expected {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                queue = self
                    .joined
                    .wait_timeout(queue, deadline - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        // Lead: take the group, write it without holding the queue, so others can join the
        // next group meanwhile.
        let mut group = Vec::new();
        let mut ops_in_group = 0;
        for member in queue.iter() {
            let count = locked(&member.operations).as_ref().map_or(0, Vec::len);
            if !group.is_empty() && ops_in_group + count > MAX_GROUP_OPERATIONS {
                break;
            }
            ops_in_group += count;
            group.push(member.clone());
        }
        drop(queue);
        lead(&group, &submit);
        let mut queue = locked(&self.waiting);
        queue.drain(..group.len());
        // Bounded: a group never takes more than MAX_GROUP_OPERATIONS anyway.
        let active = (group.len() + queue.len()).min(64);
        self.active.store(active, Ordering::Relaxed);
        let next = queue.front().cloned();
        drop(queue);
        // Outcomes are set: wake the next leader first (its group can gather meanwhile), then
        // the group's members, no one else, and outside the lock they will take to submit again.
        if let Some(next) = next {
            next.thread.unpark();
        }
        for member in group.iter().filter(|m| !Arc::ptr_eq(m, &me)) {
            member.thread.unpark();
        }
        let outcome = locked(&me.outcome).take();
        outcome.expect("the leader's own outcome is set")
    }
}

/// Submits the group as one record; on failure, each member alone.
fn lead(group: &[Arc<Member>], submit: &impl Fn(Vec<Operation>) -> Outcome) {
    let parts: Vec<Vec<Operation>> = group
        .iter()
        .map(|m| locked(&m.operations).take().unwrap_or_default())
        .collect();
    if let [only] = group {
        let outcome = submit(parts.into_iter().next().unwrap_or_default());
        *locked(&only.outcome) = Some(outcome);
        return;
    }
    let sizes: Vec<usize> = parts.iter().map(Vec::len).collect();
    match submit(parts.iter().flatten().cloned().collect()) {
        Ok(mut all) => {
            // Hand each member its slice, in queue order.
            for (member, size) in group.iter().zip(sizes).rev() {
                let mine = all.split_off(all.len() - size);
                *locked(&member.outcome) = Some(Ok(mine));
            }
        }
        Err(_) => {
            for (member, part) in group.iter().zip(parts) {
                *locked(&member.outcome) = Some(submit(part));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Key, Value};
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration;

    fn op(k: &str) -> Operation {
        Operation::put(Key::new(k).unwrap(), Value::from_string("v").unwrap())
    }

    fn sync_op(o: &Operation) -> Submitted {
        Submitted {
            version: 1,
            operation: o.clone(),
            replaces: None,
        }
    }

    impl CommitQueue {
        fn queued(&self) -> usize {
            locked(&self.waiting).len()
        }
    }

    /// The leader's first submit is held until three more submitters queue: they then go
    /// as one group, in queue order, each getting its own operations back.
    #[test]
    fn submitters_queued_behind_a_leader_share_one_submit() {
        let queue = Arc::new(CommitQueue::default());
        let (calls_tx, calls_rx) = mpsc::channel::<Vec<String>>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        let submitter = |keys: Vec<&'static str>| {
            let queue = queue.clone();
            let calls = calls_tx.clone();
            let release = release_rx.clone();
            thread::spawn(move || {
                let ops = keys.iter().map(|k| op(k)).collect();
                queue.submit(ops, |ops: Vec<Operation>| {
                    calls
                        .send(ops.iter().map(|o| o.key.as_str().to_string()).collect())
                        .unwrap();
                    locked(&release).recv().unwrap();
                    Ok(ops.iter().map(sync_op).collect())
                })
            })
        };
        let leader = submitter(vec!["a"]);
        assert_eq!(calls_rx.recv().unwrap(), ["a"]);
        let followers: Vec<_> = [vec!["b"], vec!["c", "d"], vec!["e"]]
            .into_iter()
            .map(|keys| {
                let before = queue.queued();
                let handle = submitter(keys);
                while queue.queued() == before {
                    thread::sleep(Duration::from_millis(1));
                }
                handle
            })
            .collect();
        release_tx.send(()).unwrap();
        assert_eq!(leader.join().unwrap().unwrap().len(), 1);
        assert_eq!(calls_rx.recv().unwrap(), ["b", "c", "d", "e"]);
        release_tx.send(()).unwrap();
        let got: Vec<Vec<String>> = followers
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap()
                    .unwrap()
                    .into_iter()
                    .map(|o| o.operation.key.as_str().to_string())
                    .collect()
            })
            .collect();
        assert_eq!(got, [vec!["b"], vec!["c", "d"], vec!["e"]]);
        assert_eq!(queue.queued(), 0);
    }

    /// A leader that expects three submitters (three were active around the last group) waits
    /// for the two that join after it, however slowly they come, and is signalled once, by the
    /// one that completes its group; the three then share one submit.
    #[test]
    fn a_leader_gathers_the_submitters_it_expects_and_is_signalled_once() {
        let queue = Arc::new(CommitQueue {
            gather: Duration::from_secs(600),
            ..CommitQueue::default()
        });
        queue.active.store(3, Ordering::Relaxed);
        let calls = Arc::new(Mutex::new(Vec::<Vec<String>>::new()));
        let submitter = |key: &'static str| {
            let shared = queue.clone();
            let calls = calls.clone();
            let before = queue.queued();
            let handle = thread::spawn(move || {
                shared.submit(vec![op(key)], |ops: Vec<Operation>| {
                    let keys = ops.iter().map(|o| o.key.as_str().to_string()).collect();
                    locked(&calls).push(keys);
                    Ok(ops.iter().map(sync_op).collect())
                })
            });
            while queue.queued() == before {
                thread::sleep(Duration::from_millis(1));
            }
            handle
        };
        let handles = [submitter("a"), submitter("b"), submitter("c")];
        for handle in handles {
            assert_eq!(handle.join().unwrap().unwrap().len(), 1);
        }
        assert_eq!(*locked(&calls), [vec!["a", "b", "c"]]);
        assert_eq!(queue.signals.load(Ordering::Relaxed), 1);
        assert_eq!(queue.queued(), 0);
    }

    /// A failing group is retried member by member: only the member whose operations fail
    /// gets the error.
    #[test]
    fn a_failing_group_gives_each_member_its_own_result() {
        let members: Vec<Arc<Member>> = [vec![op("a")], vec![op("bad")], vec![op("c")]]
            .into_iter()
            .map(|ops| {
                Arc::new(Member {
                    operations: Mutex::new(Some(ops)),
                    outcome: Mutex::new(None),
                    thread: thread::current(),
                })
            })
            .collect();
        let calls = Mutex::new(0);
        lead(&members, &|ops: Vec<Operation>| {
            *locked(&calls) += 1;
            if ops.iter().any(|o| o.key.as_str() == "bad") {
                Err(SyncError::InvalidLocalOperation("bad".into()))
            } else {
                Ok(ops.iter().map(sync_op).collect())
            }
        });
        assert_eq!(*locked(&calls), 4, "one group attempt, then one per member");
        let outcomes: Vec<bool> = members
            .iter()
            .map(|m| locked(&m.outcome).take().unwrap().is_ok())
            .collect();
        assert_eq!(outcomes, [true, false, true]);
    }
}
