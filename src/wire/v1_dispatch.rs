//! Speaking V1 with an engine: the frames a node sends, and handling one incoming frame the
//! way the C++ transport's dispatcher does.
//!
//! V1 cannot carry a stamp's logical part, the write an operation replaced, or an origin other
//! than the sender. So an operation is sent with its stamp's milliseconds, and one received is
//! stamped `(ms, version mod 2^16)` with no known predecessor (conflict resolution treats it
//! as concurrent with a local write of another origin); operations of other origins cannot be
//! relayed.

use super::error::WireError;
use super::v1::{V1AckPayload, V1Message, V1MessageType, V1SyncPayload};
use crate::node::NodeId;
use crate::sync::{ErrorKind, SyncEngine, SyncOperation};

/// The Hello frame a node sends after connecting.
pub fn v1_hello_frame(node_id: &NodeId) -> Result<Vec<u8>, WireError> {
    V1Message {
        kind: V1MessageType::Hello,
        from_node_id: node_id.to_string(),
        to_node_id: String::new(),
        correlation_id: String::new(),
        payload: Vec::new(),
    }
    .encode_frame()
}

/// The SyncBatch frame carrying `op` from its origin to `to_node_id`. The stamp's logical part
/// and the replaced write are not carried (V1 has no room for them).
pub fn v1_frame_for_operation(op: &SyncOperation, to_node_id: &str) -> Result<Vec<u8>, WireError> {
    let payload = V1SyncPayload {
        version: op.version,
        timestamp_ms: op.operation.timestamp.wall_ms(),
        operation: op.operation.clone(),
    };
    V1Message {
        kind: V1MessageType::SyncBatch,
        from_node_id: op.origin_node_id.clone(),
        to_node_id: to_node_id.to_string(),
        correlation_id: op.sync_id.clone(),
        payload: payload.encode(),
    }
    .encode_frame()
}

impl SyncEngine {
    /// Handles one complete V1 frame like the C++ dispatcher and returns the reply frame
    /// (empty when none is due): Hello and Pong need none; Ping gets a Pong with the same
    /// correlation id; SyncBatch is applied and answered with an Ack; Ack acknowledges its
    /// sync id (an id the outbox does not hold is ignored, as in C++).
    ///
    /// Errors: a malformed frame or payload, or an invalid operation (changes nothing, no
    /// reply: the sender will re-send); an engine failure.
    pub fn handle_v1_frame(&self, frame: &[u8]) -> Result<Vec<u8>, WireError> {
        let request = V1Message::decode_frame(frame)?;
        let reply_from = if request.to_node_id.is_empty() {
            "local".to_string()
        } else {
            request.to_node_id.clone()
        };
        let reply = |kind, payload| V1Message {
            kind,
            from_node_id: reply_from.clone(),
            to_node_id: request.from_node_id.clone(),
            correlation_id: request.correlation_id.clone(),
            payload,
        };
        match request.kind {
            V1MessageType::Hello | V1MessageType::Pong => Ok(Vec::new()),
            V1MessageType::Ping => reply(V1MessageType::Pong, Vec::new()).encode_frame(),
            V1MessageType::SyncBatch => {
                let payload = V1SyncPayload::decode(&request.payload)?;
                let op = SyncOperation::remote(
                    &request.correlation_id,
                    &request.from_node_id,
                    payload.version,
                    payload.operation,
                );
                self.receive_remote_operation(&op)?;
                let ack = V1AckPayload {
                    sync_id: request.correlation_id.clone(),
                    from_node_id: self.node_id().to_string(),
                    correlation_id: request.correlation_id.clone(),
                };
                reply(V1MessageType::Ack, ack.encode()).encode_frame()
            }
            V1MessageType::Ack => {
                let ack = V1AckPayload::decode(&request.payload)?;
                match self.receive_ack(&ack.sync_id) {
                    Ok(_) => Ok(Vec::new()),
                    Err(e) if e.kind() == ErrorKind::NotFound => Ok(Vec::new()),
                    Err(e) => Err(e.into()),
                }
            }
        }
    }
}
