//! Wire formats: how sync operations and ACKs leave the process as bytes.
//!
//! - V2 ([`frame`], [`operations`], [`ack`]): this library's own frames. They carry everything
//!   a sync operation has, so a node can relay another node's operation, and many operations
//!   per frame. [`receive`] applies an operations frame to an engine and answers with an ACK
//!   frame.
//! - V1 ([`v1`], [`v1_dispatch`]): the C++ transport's frames, byte for byte, so a node built on
//!   this library can talk to an existing C++ node.
//!
//! Every decoder reads untrusted bytes: malformed input is a [`WireError`] naming the problem,
//! never a panic, and no allocation is larger than the input justifies. The format is
//! documented in `docs/wire-format.md`.

pub mod ack;
pub mod error;
pub mod frame;
pub mod operations;
pub mod receive;
pub mod v1;
pub mod v1_dispatch;

pub use ack::{decode_ack_frame, encode_ack_frame};
pub use error::WireError;
pub use frame::{FrameKind, FORMAT_VERSION, HEADER_BYTES, MAGIC, MAX_FRAME_BODY_BYTES};
pub use operations::{decode_operations_frame, encode_operations_frame, MAX_SYNC_ID_BYTES};
pub use receive::{OperationError, ReceiveReport};
pub use v1::{V1AckPayload, V1Message, V1MessageType, V1SyncPayload, V1_MAX_FRAME_BYTES};
pub use v1_dispatch::{v1_frame_for_operation, v1_hello_frame};
