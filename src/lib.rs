//! softadastra-sync: the sync module of Softadastra Engine.
//!
//! A local write is applied to the local store first ([`store`]), then tracked as a sync
//! operation in a durable outbox, queued, handed out in batches for a transport, tracked for
//! ACKs with bounded retries; operations from other nodes are validated and applied with a
//! deterministic conflict policy ([`sync`]). The engine never opens sockets.

mod binary;
pub mod clock;
pub mod ffi;
pub mod json;
pub mod node;
#[cfg(test)]
mod seeded;
mod shared_bytes;
mod small_bytes;
pub mod store;
pub mod sync;
pub mod wire;

pub use clock::{Clock, ClockExhausted, HybridClock, ManualClock, Stamp, SystemClock};
pub use node::{InvalidNodeId, NodeId};
