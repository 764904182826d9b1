//! Applying V2 frames to an engine: an operations frame in, a report and an ACK frame out; an
//! ACK frame in, acknowledgements out.

use super::ack::{decode_ack_frame, encode_ack_frame};
use super::error::WireError;
use super::operations::decode_remote_operations;
use crate::sync::{AckReport, ErrorKind, RemoteOutcome, SyncEngine};

/// Why one operation of a frame was not applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperationError {
    /// Its position in the frame (0-based).
    pub index: usize,
    pub sync_id: String,
    /// The engine's message, naming the offending value.
    pub message: String,
}

/// What receiving one operations frame did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceiveReport {
    pub applied: usize,
    pub ignored: usize,
    pub duplicate: usize,
    /// Operations refused by validation; each is in `errors`, none is acknowledged.
    pub invalid: usize,
    pub errors: Vec<OperationError>,
}

impl SyncEngine {
    /// Applies every valid operation of a V2 operations frame and returns the report and the
    /// ACK frame to send back (listing applied, ignored and duplicate ids, in frame order).
    /// The frame's writes are logged together (see [`SyncEngine::receive_remote_many`]).
    ///
    /// A frame that fails to decode changes nothing. An invalid operation is reported in
    /// `errors` and does not stop the others. An engine failure (I/O) stops the frame and is
    /// returned: the operations applied before it are durable and, not being acknowledged,
    /// come back as duplicates when the sender re-sends.
    pub fn receive_frame(&self, frame: &[u8]) -> Result<(ReceiveReport, Vec<u8>), WireError> {
        let operations = decode_remote_operations(frame)?;
        let ids: Vec<&str> = operations.iter().map(|op| op.sync_id).collect();
        // The ids handled (applied, ignored or duplicate), in frame order: what the ACK frame
        // lists; borrowed from the frame, never copied.
        let mut acknowledged = Vec::with_capacity(ids.len());
        // One call for the frame: its writes share a WAL record.
        let results = self.receive_remote_many(operations)?;
        let mut report = ReceiveReport::default();
        for (index, (result, sync_id)) in results.into_iter().zip(ids).enumerate() {
            match result {
                Ok(result) => {
                    match result.outcome {
                        RemoteOutcome::Applied => report.applied += 1,
                        RemoteOutcome::Ignored => report.ignored += 1,
                        RemoteOutcome::Duplicate => report.duplicate += 1,
                    }
                    acknowledged.push(sync_id);
                }
                Err(e) => {
                    // Only validation refuses one operation; anything else stopped the call.
                    debug_assert!(matches!(
                        e.kind(),
                        ErrorKind::InvalidRemoteOperation | ErrorKind::InvalidNodeId
                    ));
                    report.invalid += 1;
                    report.errors.push(OperationError {
                        index,
                        sync_id: sync_id.to_string(),
                        message: e.to_string(),
                    });
                }
            }
        }
        let ack = encode_ack_frame(&acknowledged)?;
        Ok((report, ack))
    }

    /// Acknowledges every sync id of a V2 ACK frame, logged as one transition. A frame that
    /// fails to decode changes nothing; ids the outbox does not hold are counted, not errors
    /// (ACKs may arrive after a prune).
    pub fn ack_frame(&self, frame: &[u8]) -> Result<AckReport, WireError> {
        let ids = decode_ack_frame(frame)?;
        Ok(self.receive_acks(&ids)?)
    }
}
