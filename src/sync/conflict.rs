//! Conflict resolution: whether a remote write replaces the local one.
//!
//! Writes are identified by (stamp, origin), a total order every node shares. A remote write is
//! a *conflict* only when it is concurrent with the local one: it did not replace the local
//! write at its origin, and it does not come from the same origin (writes of one origin are
//! ordered by their stamps). Causal successors and same-origin updates are applied under every
//! policy; the policy decides conflicts only.

use super::config::ConflictPolicy;
use super::error::SyncError;
use crate::node::NodeId;
use crate::store::{Entry, Operation, WriteId, WriteRef};

/// Why a resolution came out as it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ResolutionReason {
    /// The key is unknown locally.
    NoLocalEntry = 1,
    /// The local entry is this very write.
    SameWrite = 2,
    /// The remote write replaced exactly the local write at its origin.
    CausalSuccessor = 3,
    /// Same origin as the local write, and newer.
    SameOriginNewer = 4,
    /// Same origin as the local write, and older: a late delivery.
    SameOriginOlder = 5,
    /// Conflict under last-write-wins: the remote write is greater.
    RemoteWins = 6,
    /// Conflict under last-write-wins: the local write is greater.
    LocalWins = 7,
    /// Conflict under keep-local.
    PolicyKeepLocal = 8,
    /// Conflict under keep-remote.
    PolicyKeepRemote = 9,
}

/// A decision: exactly one of `apply_remote` and `keep_local` is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolution {
    pub conflict_detected: bool,
    pub apply_remote: bool,
    pub keep_local: bool,
    pub reason: ResolutionReason,
}

impl Resolution {
    fn new(conflict_detected: bool, apply_remote: bool, reason: ResolutionReason) -> Resolution {
        Resolution {
            conflict_detected,
            apply_remote,
            keep_local: !apply_remote,
            reason,
        }
    }

    /// True when the decision is usable (exactly one outcome chosen).
    pub fn is_valid(&self) -> bool {
        self.apply_remote != self.keep_local
    }
}

/// Decides between local and remote writes. Pure: same inputs, same decision.
pub struct ConflictResolver;

impl ConflictResolver {
    /// Decides whether `remote` (which replaced `remote_replaces` at its origin) should replace
    /// the local write `local` (`None`: key unknown locally).
    pub fn decide(
        local: Option<WriteRef<'_>>,
        remote: WriteRef<'_>,
        remote_replaces: Option<WriteRef<'_>>,
        policy: ConflictPolicy,
    ) -> Resolution {
        use ResolutionReason::*;
        let Some(local) = local else {
            return Resolution::new(false, true, NoLocalEntry);
        };
        if local == remote {
            return Resolution::new(false, false, SameWrite);
        }
        // A successor is newer by construction of the hybrid clock; one that is not is bad
        // input and is decided as a conflict instead.
        if remote_replaces == Some(local) && remote > local {
            return Resolution::new(false, true, CausalSuccessor);
        }
        if local.origin.is_some() && local.origin == remote.origin {
            return if remote > local {
                Resolution::new(false, true, SameOriginNewer)
            } else {
                Resolution::new(false, false, SameOriginOlder)
            };
        }
        match policy {
            ConflictPolicy::LastWriteWins if remote > local => {
                Resolution::new(true, true, RemoteWins)
            }
            ConflictPolicy::LastWriteWins => Resolution::new(true, false, LocalWins),
            ConflictPolicy::KeepLocal => Resolution::new(true, false, PolicyKeepLocal),
            ConflictPolicy::KeepRemote => Resolution::new(true, true, PolicyKeepRemote),
        }
    }

    /// The module doc's form: a local entry (absent: `None`), a remote store operation, the
    /// policy, and the two node ids. The entry's own origin is used when it has one, else
    /// `local_node`. The remote operation's stamp is its `timestamp`.
    pub fn resolve(
        local_entry: Option<&Entry>,
        remote_operation: &Operation,
        policy: ConflictPolicy,
        local_node: &str,
        remote_node: &str,
    ) -> Result<Resolution, SyncError> {
        let local_node = NodeId::new(local_node)?;
        let remote_node = NodeId::new(remote_node)?;
        if let Some(entry) = local_entry {
            if entry.key != remote_operation.key {
                return Err(SyncError::ConflictResolutionFailed(format!(
                    "local entry key {:?} differs from remote operation key {:?}",
                    entry.key.as_str(),
                    remote_operation.key.as_str()
                )));
            }
        }
        let local = local_entry.map(|entry| WriteId {
            stamp: entry.timestamp,
            origin: Some(entry.origin.clone().unwrap_or(local_node)),
        });
        let remote = WriteId {
            stamp: remote_operation.timestamp,
            origin: Some(remote_node),
        };
        Ok(Self::decide(
            local.as_ref().map(WriteId::borrowed),
            remote.borrowed(),
            None,
            policy,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Stamp;
    use crate::store::{Key, Value};
    use ConflictPolicy::*;

    fn id(ms: u64, node: &str) -> WriteId {
        WriteId {
            stamp: Stamp::new(ms, 0),
            origin: Some(NodeId::new(node).unwrap()),
        }
    }

    #[test]
    fn no_local_entry_applies_under_every_policy() {
        for p in [LastWriteWins, KeepLocal, KeepRemote] {
            let r = ConflictResolver::decide(None, id(1, "b").borrowed(), None, p);
            assert!(r.apply_remote && !r.conflict_detected && r.is_valid());
        }
    }

    #[test]
    fn causal_successor_is_applied_without_conflict_even_under_keep_local() {
        let local = id(10, "a");
        let r = ConflictResolver::decide(
            Some(local.borrowed()),
            id(20, "b").borrowed(),
            Some(local.borrowed()),
            KeepLocal,
        );
        assert_eq!(r.reason, ResolutionReason::CausalSuccessor);
        assert!(r.apply_remote && !r.conflict_detected);
    }

    #[test]
    fn same_origin_is_ordered_by_stamp_not_a_conflict() {
        let r = ConflictResolver::decide(
            Some(id(10, "b").borrowed()),
            id(5, "b").borrowed(),
            None,
            KeepRemote,
        );
        assert_eq!(r.reason, ResolutionReason::SameOriginOlder);
        assert!(r.keep_local && !r.conflict_detected);
        let r = ConflictResolver::decide(
            Some(id(10, "b").borrowed()),
            id(15, "b").borrowed(),
            None,
            KeepLocal,
        );
        assert!(r.apply_remote && !r.conflict_detected);
    }

    #[test]
    fn last_write_wins_and_ties_break_on_node_id_both_ways() {
        let newer = ConflictResolver::decide(
            Some(id(10, "a").borrowed()),
            id(11, "b").borrowed(),
            None,
            LastWriteWins,
        );
        assert!(newer.apply_remote && newer.conflict_detected);
        let older = ConflictResolver::decide(
            Some(id(10, "a").borrowed()),
            id(9, "b").borrowed(),
            None,
            LastWriteWins,
        );
        assert!(older.keep_local && older.conflict_detected);
        let tie_b = ConflictResolver::decide(
            Some(id(10, "a").borrowed()),
            id(10, "b").borrowed(),
            None,
            LastWriteWins,
        );
        assert!(tie_b.apply_remote);
        let tie_a = ConflictResolver::decide(
            Some(id(10, "b").borrowed()),
            id(10, "a").borrowed(),
            None,
            LastWriteWins,
        );
        assert!(tie_a.keep_local);
    }

    #[test]
    fn keep_local_and_keep_remote_decide_conflicts_always() {
        let kl = ConflictResolver::decide(
            Some(id(1, "a").borrowed()),
            id(99, "b").borrowed(),
            None,
            KeepLocal,
        );
        assert!(kl.keep_local && kl.conflict_detected);
        let kr = ConflictResolver::decide(
            Some(id(99, "a").borrowed()),
            id(1, "b").borrowed(),
            None,
            KeepRemote,
        );
        assert!(kr.apply_remote && kr.conflict_detected);
    }

    #[test]
    fn same_write_is_kept() {
        let r = ConflictResolver::decide(
            Some(id(5, "b").borrowed()),
            id(5, "b").borrowed(),
            None,
            KeepRemote,
        );
        assert_eq!(r.reason, ResolutionReason::SameWrite);
        assert!(r.keep_local);
    }

    #[test]
    fn doc_form_is_deterministic_and_checks_its_inputs() {
        let key = Key::new("doc:1").unwrap();
        let local = Entry::make(key.clone(), Value::from_string("local").unwrap(), 1);
        let remote = Operation::put(key, Value::from_string("remote").unwrap())
            .with_timestamp(Stamp::new(5, 0));
        let a = ConflictResolver::resolve(Some(&local), &remote, LastWriteWins, "node-a", "node-b")
            .unwrap();
        let b = ConflictResolver::resolve(Some(&local), &remote, LastWriteWins, "node-a", "node-b")
            .unwrap();
        assert_eq!(a, b);
        assert!(a.conflict_detected && a.apply_remote && a.is_valid());
        let other = Operation::delete(Key::new("doc:2").unwrap());
        let err = ConflictResolver::resolve(Some(&local), &other, KeepLocal, "node-a", "node-b")
            .unwrap_err();
        assert!(err.to_string().contains("doc:2"), "{err}");
        assert!(ConflictResolver::resolve(None, &other, KeepLocal, "", "node-b").is_err());
    }

    #[test]
    fn delete_respects_stamps() {
        // A tombstone is a write like any other: an older put does not beat a newer delete.
        let tombstone = id(20, "a");
        let r = ConflictResolver::decide(
            Some(tombstone.borrowed()),
            id(10, "b").borrowed(),
            None,
            LastWriteWins,
        );
        assert!(r.keep_local);
    }
}
