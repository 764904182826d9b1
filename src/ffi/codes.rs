//! The C enums: each is one `#[repr(i32)]` Rust enum, the single source of its names and
//! numbers (cbindgen writes it into the header; `sa_status_str` and the bindings' checks read
//! it from here).
//!
//! A C enum value crosses the boundary as an `int32_t`. Values coming *from* C stay `i32` in
//! every signature and struct and are converted with the checked `TryFrom<i32>` (a Rust enum
//! built from an arbitrary integer would be undefined behaviour); values going *to* C are
//! converted with `i32::from`. Each enum also converts to and from its engine counterpart in
//! exactly one place below.

use crate::store::{Durability, OperationKind};
use crate::sync::{AckOutcome, ConflictPolicy, RemoteOutcome, ResolutionReason, SyncStatus};

/// For a C enum: its variants in order, each variant's C name, and the two conversions with
/// `i32`. The variant list is checked by the compiler (an exhaustive `match`), so a variant
/// added to the enum and not here does not build.
macro_rules! c_enum {
    ($name:ident { $($variant:ident),+ $(,)? }) => {
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The C name, NUL-terminated (static).
            pub const fn c_name(self) -> &'static str {
                match self {
                    $($name::$variant => concat!(stringify!($variant), "\0")),+
                }
            }

            /// The C name without its NUL.
            pub fn name(self) -> &'static str {
                let with_nul = self.c_name();
                &with_nul[..with_nul.len() - 1]
            }
        }

        impl From<$name> for i32 {
            fn from(value: $name) -> i32 {
                value as i32
            }
        }

        impl TryFrom<i32> for $name {
            /// The integer that names no value.
            type Error = i32;
            fn try_from(code: i32) -> Result<$name, i32> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|&value| i32::from(value) == code)
                    .ok_or(code)
            }
        }
    };
}

/// Result of every fallible function: `SA_OK` (0) or an error code. The detailed message of
/// the last error on the calling thread is returned by `sa_last_error_message()`. Codes never
/// change meaning; a minor version may add codes, so treat an unknown one as an error.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sa_status {
    /// Success.
    SA_OK = 0,
    /// A required pointer was NULL, or an argument is out of range.
    SA_ERR_INVALID_ARGUMENT = 1,
    /// The engine cannot be built from this store and configuration.
    SA_ERR_INVALID_CONTEXT = 2,
    /// A node id is empty, too long, not UTF-8, or contains whitespace/control characters.
    SA_ERR_INVALID_NODE_ID = 3,
    /// An operation was refused (invalid key or value, unknown type), whether submitted to the
    /// sync engine or written to the store directly; nothing changed.
    SA_ERR_INVALID_OPERATION = 4,
    /// A remote operation was refused (empty sync id, bad origin, an origin equal to this
    /// node's own id, version 0, clock skew, invalid key or value); the store is untouched.
    SA_ERR_INVALID_REMOTE_OPERATION = 5,
    /// No such sync operation (`sync operation not found: <id>`).
    SA_ERR_NOT_FOUND = 6,
    /// The operation cannot be queued in its current status.
    SA_ERR_QUEUE_FAILED = 7,
    /// The operation cannot be retried in its current status.
    SA_ERR_RETRY_FAILED = 8,
    /// Conflict resolution could not decide safely.
    SA_ERR_CONFLICT = 9,
    /// The store could not take a valid write (its clock cannot issue a later stamp).
    SA_ERR_STORE_APPLY = 10,
    /// ACK tracking refused the request (e.g. an empty sync id).
    SA_ERR_ACK_TRACKING = 11,
    /// The outbox is at `max_outbox_operations` or `max_outbox_bytes`; nothing was written.
    SA_ERR_CAPACITY_EXCEEDED = 12,
    /// A WAL read, write or sync failed.
    SA_ERR_IO = 13,
    /// The WAL (or a file beside it) holds damaged data that is not a torn tail; nothing was
    /// truncated. The message names the file, the byte offset and the damage.
    SA_ERR_CORRUPT = 14,
    /// A bug in the library (a caught panic). The handle stays usable.
    SA_ERR_INTERNAL = 15,
    /// The WAL is open in another store handle (this process or another); only one handle may
    /// hold a WAL at a time. Nothing was opened.
    SA_ERR_IN_USE = 16,
    /// Bytes received from another node do not form a valid frame (truncated, bad magic,
    /// unknown format version, bad tag or length, trailing bytes, invalid UTF-8, a field over
    /// its limit); the message names the problem. Nothing was applied.
    SA_ERR_MALFORMED_FRAME = 17,
}
c_enum!(sa_status {
    SA_OK,
    SA_ERR_INVALID_ARGUMENT,
    SA_ERR_INVALID_CONTEXT,
    SA_ERR_INVALID_NODE_ID,
    SA_ERR_INVALID_OPERATION,
    SA_ERR_INVALID_REMOTE_OPERATION,
    SA_ERR_NOT_FOUND,
    SA_ERR_QUEUE_FAILED,
    SA_ERR_RETRY_FAILED,
    SA_ERR_CONFLICT,
    SA_ERR_STORE_APPLY,
    SA_ERR_ACK_TRACKING,
    SA_ERR_CAPACITY_EXCEEDED,
    SA_ERR_IO,
    SA_ERR_CORRUPT,
    SA_ERR_INTERNAL,
    SA_ERR_IN_USE,
    SA_ERR_MALFORMED_FRAME,
});

/// Store operation types (`int32_t` fields and arguments).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sa_op_type {
    SA_OP_PUT = 1,
    SA_OP_DELETE = 2,
}
c_enum!(sa_op_type {
    SA_OP_PUT,
    SA_OP_DELETE
});

/// Durability modes (`int32_t`): `SA_DURABLE` returns once the WAL record is on disk
/// (fdatasync); `SA_FAST` once it is handed to the OS (survives a crash, not a power cut).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sa_durability {
    SA_DURABLE = 1,
    SA_FAST = 2,
}
c_enum!(sa_durability {
    SA_DURABLE,
    SA_FAST
});

/// Conflict policies (`int32_t`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sa_conflict_policy {
    SA_POLICY_LAST_WRITE_WINS = 1,
    SA_POLICY_KEEP_LOCAL = 2,
    SA_POLICY_KEEP_REMOTE = 3,
}
c_enum!(sa_conflict_policy {
    SA_POLICY_LAST_WRITE_WINS,
    SA_POLICY_KEEP_LOCAL,
    SA_POLICY_KEEP_REMOTE,
});

/// Outbox statuses of an operation (`int32_t`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sa_outbox_status {
    SA_STATUS_PENDING = 1,
    SA_STATUS_QUEUED = 2,
    SA_STATUS_IN_FLIGHT = 3,
    SA_STATUS_ACKNOWLEDGED = 4,
    SA_STATUS_FAILED = 5,
}
c_enum!(sa_outbox_status {
    SA_STATUS_PENDING,
    SA_STATUS_QUEUED,
    SA_STATUS_IN_FLIGHT,
    SA_STATUS_ACKNOWLEDGED,
    SA_STATUS_FAILED,
});

/// Outcomes of receiving a remote operation (`int32_t`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sa_outcome {
    SA_APPLIED = 1,
    SA_IGNORED = 2,
    SA_DUPLICATE = 3,
}
c_enum!(sa_outcome {
    SA_APPLIED,
    SA_IGNORED,
    SA_DUPLICATE
});

/// Outcomes of an ACK (`int32_t`).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sa_ack_outcome {
    SA_ACK_ACKNOWLEDGED = 1,
    SA_ACK_ALREADY_ACKNOWLEDGED = 2,
}
c_enum!(sa_ack_outcome {
    SA_ACK_ACKNOWLEDGED,
    SA_ACK_ALREADY_ACKNOWLEDGED
});

/// Why a conflict resolution came out as it did (`int32_t`; 0 where no resolution ran).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum sa_reason {
    SA_REASON_NO_LOCAL_ENTRY = 1,
    SA_REASON_SAME_WRITE = 2,
    SA_REASON_CAUSAL_SUCCESSOR = 3,
    SA_REASON_SAME_ORIGIN_NEWER = 4,
    SA_REASON_SAME_ORIGIN_OLDER = 5,
    SA_REASON_REMOTE_WINS = 6,
    SA_REASON_LOCAL_WINS = 7,
    SA_REASON_POLICY_KEEP_LOCAL = 8,
    SA_REASON_POLICY_KEEP_REMOTE = 9,
}
c_enum!(sa_reason {
    SA_REASON_NO_LOCAL_ENTRY,
    SA_REASON_SAME_WRITE,
    SA_REASON_CAUSAL_SUCCESSOR,
    SA_REASON_SAME_ORIGIN_NEWER,
    SA_REASON_SAME_ORIGIN_OLDER,
    SA_REASON_REMOTE_WINS,
    SA_REASON_LOCAL_WINS,
    SA_REASON_POLICY_KEEP_LOCAL,
    SA_REASON_POLICY_KEEP_REMOTE,
});

/// Pairs a C enum with its engine enum: one `match` per direction, so the numbers of the
/// engine's enums never matter.
macro_rules! engine_pair {
    ($c:ident <=> $engine:ident { $($cv:ident <=> $ev:ident),+ $(,)? }) => {
        impl From<$engine> for $c {
            fn from(value: $engine) -> $c {
                match value {
                    $($engine::$ev => $c::$cv),+
                }
            }
        }

        impl From<$c> for $engine {
            fn from(value: $c) -> $engine {
                match value {
                    $($c::$cv => $engine::$ev),+
                }
            }
        }
    };
}

engine_pair!(sa_op_type <=> OperationKind { SA_OP_PUT <=> Put, SA_OP_DELETE <=> Delete });
engine_pair!(sa_durability <=> Durability { SA_DURABLE <=> Durable, SA_FAST <=> Fast });
engine_pair!(sa_conflict_policy <=> ConflictPolicy {
    SA_POLICY_LAST_WRITE_WINS <=> LastWriteWins,
    SA_POLICY_KEEP_LOCAL <=> KeepLocal,
    SA_POLICY_KEEP_REMOTE <=> KeepRemote,
});
engine_pair!(sa_outbox_status <=> SyncStatus {
    SA_STATUS_PENDING <=> Pending,
    SA_STATUS_QUEUED <=> Queued,
    SA_STATUS_IN_FLIGHT <=> InFlight,
    SA_STATUS_ACKNOWLEDGED <=> Acknowledged,
    SA_STATUS_FAILED <=> Failed,
});
engine_pair!(sa_outcome <=> RemoteOutcome {
    SA_APPLIED <=> Applied,
    SA_IGNORED <=> Ignored,
    SA_DUPLICATE <=> Duplicate,
});
engine_pair!(sa_ack_outcome <=> AckOutcome {
    SA_ACK_ACKNOWLEDGED <=> Acknowledged,
    SA_ACK_ALREADY_ACKNOWLEDGED <=> AlreadyAcknowledged,
});
engine_pair!(sa_reason <=> ResolutionReason {
    SA_REASON_NO_LOCAL_ENTRY <=> NoLocalEntry,
    SA_REASON_SAME_WRITE <=> SameWrite,
    SA_REASON_CAUSAL_SUCCESSOR <=> CausalSuccessor,
    SA_REASON_SAME_ORIGIN_NEWER <=> SameOriginNewer,
    SA_REASON_SAME_ORIGIN_OLDER <=> SameOriginOlder,
    SA_REASON_REMOTE_WINS <=> RemoteWins,
    SA_REASON_LOCAL_WINS <=> LocalWins,
    SA_REASON_POLICY_KEEP_LOCAL <=> PolicyKeepLocal,
    SA_REASON_POLICY_KEEP_REMOTE <=> PolicyKeepRemote,
});

/// The C value of an engine enum, as the `int32_t` a struct field or out-pointer carries.
pub(crate) fn c_value<C: From<E> + Into<i32>, E>(value: E) -> i32 {
    C::from(value).into()
}

/// The engine value of a C integer, or `None` if it names no value of `C`.
pub(crate) fn engine_value<C: TryFrom<i32> + Into<E>, E>(code: i32) -> Option<E> {
    C::try_from(code).ok().map(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_keep_their_published_numbers_and_names() {
        assert_eq!(sa_status::ALL.len(), 18);
        for (code, status) in sa_status::ALL.iter().enumerate() {
            assert_eq!(i32::from(*status), code as i32);
            assert_eq!(sa_status::try_from(code as i32), Ok(*status));
            assert!(status.name().starts_with("SA_"));
            assert!(status.c_name().ends_with('\0'));
        }
        assert_eq!(
            sa_status::SA_ERR_MALFORMED_FRAME.name(),
            "SA_ERR_MALFORMED_FRAME"
        );
        assert_eq!(sa_status::try_from(18), Err(18));
        assert_eq!(sa_status::try_from(-1), Err(-1));
    }

    #[test]
    fn every_enum_round_trips_through_its_engine_enum_and_rejects_unknown_codes() {
        fn check<C, E>()
        where
            C: TryFrom<i32> + Into<E> + From<E> + Into<i32> + Copy,
        {
            for code in -2..12 {
                if let Some(engine) = engine_value::<C, E>(code) {
                    assert_eq!(c_value::<C, E>(engine), code);
                }
            }
            assert!(engine_value::<C, E>(0).is_none());
            assert!(engine_value::<C, E>(i32::MAX).is_none());
        }
        check::<sa_op_type, OperationKind>();
        check::<sa_durability, Durability>();
        check::<sa_conflict_policy, ConflictPolicy>();
        check::<sa_outbox_status, SyncStatus>();
        check::<sa_outcome, RemoteOutcome>();
        check::<sa_ack_outcome, AckOutcome>();
        check::<sa_reason, ResolutionReason>();
        assert_eq!(
            engine_value::<sa_reason, ResolutionReason>(9),
            Some(ResolutionReason::PolicyKeepRemote)
        );
    }
}
