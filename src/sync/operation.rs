//! Sync operations: a store operation plus how it propagates.

use crate::clock::Stamp;
use crate::store::{Operation, WriteId};

/// Which way an operation travels, seen from this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Direction {
    LocalToRemote = 1,
    RemoteToLocal = 2,
}

/// The propagation unit: a stamped store operation with its sync id, origin and version.
///
/// An operation taken from one engine's batch can be handed as is to another engine's
/// `receive_remote_operation`: it carries everything conflict resolution needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncOperation {
    /// `<origin>-<version>` for operations made by this library.
    pub sync_id: String,
    pub origin_node_id: String,
    /// The origin's sequence number for this operation: never reused, even across restarts.
    pub version: u64,
    /// What changed; `operation.timestamp` is the write's hybrid-clock stamp.
    pub operation: Operation,
    /// The write this one replaced at its origin (`None` if the key was unknown there): a
    /// receiver holding exactly that write knows this one is a causal successor, not a conflict.
    pub replaces: Option<WriteId>,
    pub direction: Direction,
}

impl SyncOperation {
    /// An operation received from another node. Its stamp is `operation.timestamp`. Nothing is
    /// validated here; `receive_remote_operation` validates.
    pub fn remote(
        sync_id: &str,
        origin_node_id: &str,
        version: u64,
        operation: Operation,
    ) -> SyncOperation {
        SyncOperation {
            sync_id: sync_id.to_string(),
            origin_node_id: origin_node_id.to_string(),
            version,
            operation,
            replaces: None,
            direction: Direction::RemoteToLocal,
        }
    }

    /// The write's hybrid-clock stamp.
    pub fn timestamp(&self) -> Stamp {
        self.operation.timestamp
    }
}

/// A remote operation whose ids are borrowed from the caller's buffers (a C struct, a decoded
/// frame): what [`SyncEngine::receive_remote`](super::SyncEngine::receive_remote) takes.
/// Receiving from borrowed ids spares two string copies per operation on the path a node
/// catching up spends its time on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteOperation<'a> {
    pub sync_id: &'a str,
    pub origin_node_id: &'a str,
    pub version: u64,
    /// What changed; `operation.timestamp` is the write's stamp at its origin.
    pub operation: Operation,
    /// The write this one replaced at its origin, if any (see [`SyncOperation::replaces`]).
    pub replaces: Option<WriteId>,
}

impl RemoteOperation<'_> {
    /// The same operation with its own copies of the ids.
    pub fn to_owned_operation(&self) -> SyncOperation {
        let mut owned = SyncOperation::remote(
            self.sync_id,
            self.origin_node_id,
            self.version,
            self.operation.clone(),
        );
        owned.replaces = self.replaces.clone();
        owned
    }
}

impl SyncOperation {
    /// This operation as a remote one, its ids borrowed (key and value are shared, not copied).
    pub fn as_remote(&self) -> RemoteOperation<'_> {
        RemoteOperation {
            sync_id: &self.sync_id,
            origin_node_id: &self.origin_node_id,
            version: self.version,
            operation: self.operation.clone(),
            replaces: self.replaces.clone(),
        }
    }
}

/// What a submit assigned to one local operation: its version and its stamped operation. Its
/// sync id, `<node>-<version>`, is made only when asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    pub version: u64,
    /// The operation as written; `operation.timestamp` is its stamp.
    pub operation: Operation,
    /// The write it replaced locally, if the key held one (see [`SyncOperation::replaces`]).
    pub replaces: Option<WriteId>,
}

impl Submitted {
    /// The sync id of this operation submitted on `node`.
    pub fn sync_id(&self, node: &crate::node::NodeId) -> String {
        sync_id(node.as_str(), self.version)
    }
}

/// The sync id of `origin`'s operation number `seq`.
pub(crate) fn sync_id(origin: &str, seq: u64) -> String {
    let mut digits = [0u8; 20];
    let digits = decimal(seq, &mut digits);
    let mut id = String::with_capacity(origin.len() + 1 + digits.len());
    id.push_str(origin);
    id.push('-');
    id.push_str(digits);
    id
}

/// `seq` in decimal, written into `digits`. Made for every operation submitted and handed
/// out: digits written directly, not through the formatting machinery (a third of a submit's
/// instructions).
pub(crate) fn decimal(seq: u64, digits: &mut [u8; 20]) -> &str {
    // Two digits per division.
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut at = digits.len();
    let mut rest = seq;
    while rest >= 100 {
        let pair = (rest % 100) as usize * 2;
        rest /= 100;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if rest >= 10 {
        let pair = rest as usize * 2;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        digits[at] = b'0' + rest as u8;
    }
    std::str::from_utf8(&digits[at..]).expect("ASCII digits")
}

/// Splits a sync id made by [`sync_id`] into origin and sequence: the decimal digits after the
/// last `-` (a positive `u64`), and the non-empty origin before it. Read byte by byte: every
/// ACK goes through it.
pub(crate) fn parse_sync_id(id: &str) -> Option<(&str, u64)> {
    let bytes = id.as_bytes();
    let digits_start = bytes
        .iter()
        .rposition(|b| !b.is_ascii_digit())
        .map_or(0, |at| at + 1);
    let dash = digits_start.checked_sub(1)?;
    if bytes[dash] != b'-' || dash == 0 || digits_start == bytes.len() {
        return None;
    }
    let mut seq = 0u64;
    for &digit in &bytes[digits_start..] {
        seq = seq.checked_mul(10)?.checked_add(u64::from(digit - b'0'))?;
    }
    // The dash is ASCII, so the origin ends on a character boundary.
    (seq > 0).then(|| (&id[..dash], seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_ids_are_origin_dash_decimal_version() {
        for seq in [0, 1, 9, 10, 4096, 1_234_567_890, u64::MAX] {
            assert_eq!(sync_id("node-a", seq), format!("node-a-{seq}"));
        }
        for seq in [1, 10, u64::MAX] {
            assert_eq!(
                parse_sync_id(&sync_id("node-a", seq)),
                Some(("node-a", seq))
            );
        }
    }

    #[test]
    fn sync_ids_round_trip_with_dashes_in_node_ids() {
        assert_eq!(sync_id("node-a", 42), "node-a-42");
        assert_eq!(parse_sync_id("node-a-42"), Some(("node-a", 42)));
        assert_eq!(parse_sync_id("é--007"), Some(("é-", 7)));
        assert_eq!(
            parse_sync_id("n-18446744073709551615"),
            Some(("n", u64::MAX))
        );
        for bad in [
            "",
            "node",
            "node-",
            "-3",
            "node-+3",
            "node-0",
            "node-a-99999999999999999999",
            "node-a-18446744073709551616",
            "node-a-00",
            "node-3x",
            "node-a-4-",
        ] {
            assert_eq!(parse_sync_id(bad), None, "{bad}");
        }
    }
}
