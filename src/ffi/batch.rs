//! Batches: envelopes handed out by the engine, read through borrowed views.
//!
//! A batch is built straight from the outbox (`sa_sync_next_batch`): every string a view
//! points to (sync ids, keys, origins) is copied once, NUL-terminated, into one buffer, and
//! values are shared with the store. Envelopes, which the wire and JSON forms read, are made
//! only when asked for.

use std::os::raw::c_char;
use std::sync::OnceLock;

use super::args::{bytes_view, handle};
use super::error::{guard, guard_value, Failure};
use super::sized::{growable, SizedOut};
use super::types::*;
use crate::clock::Stamp;
use crate::node::NodeId;
use crate::store::{Key, Operation, OperationKind, Value, WriteId};
use crate::sync::envelope::EnvelopeRef;
use crate::sync::operation::{decimal, Direction, SyncOperation};
use crate::sync::{SyncEnvelope, SyncStatus};

/// Where a string is in a batch's text: `len` bytes at `at`, then a NUL.
#[derive(Clone, Copy)]
struct Span {
    at: usize,
    len: usize,
}

/// One envelope: its numbers, its value, and where its strings are in the batch's text.
struct BatchItem {
    value: Value,
    version: u64,
    stamp: Stamp,
    submitted_at: u64,
    last_attempt_at: Option<u64>,
    next_retry_at: Option<u64>,
    sync_id: Span,
    key: Span,
    origin: Span,
    /// The replaced write's stamp and origin (`None` for a direct store write).
    replaces: Option<(Stamp, Option<Span>)>,
    retry_count: u32,
    kind: OperationKind,
    status: SyncStatus,
}

/// A batch of envelopes (possibly empty), owned by the caller; free with `sa_batch_free`.
/// Immutable, so any number of threads may read it.
pub struct sa_batch {
    items: Vec<BatchItem>,
    /// Every string of the batch, each followed by a NUL.
    text: Vec<u8>,
    /// The envelopes, made on first use (views never need them).
    envelopes: OnceLock<Vec<SyncEnvelope>>,
}

/// Builds a batch's text.
#[derive(Default)]
struct Text {
    bytes: Vec<u8>,
    /// Origins already in `bytes`: nearly every envelope names one or two.
    origins: Vec<Span>,
    /// The address of the origin asked for last, and its copy.
    last_origin: Option<(*const str, Span)>,
}

impl Text {
    fn push(&mut self, parts: &[&[u8]]) -> Span {
        let at = self.bytes.len();
        for part in parts {
            self.bytes.extend_from_slice(part);
        }
        let len = self.bytes.len() - at;
        self.bytes.push(0);
        Span { at, len }
    }

    /// `origin`'s copy, shared with the envelopes before when one of the last few has it.
    fn origin(&mut self, origin: &str) -> Span {
        // Entries of one origin share its string: the same address is the same text (nothing
        // a batch is built from is freed while it is built).
        if let Some((last, span)) = self.last_origin {
            if std::ptr::eq(last, origin) {
                return span;
            }
        }
        let span = self.find_origin(origin);
        self.last_origin = Some((origin, span));
        span
    }

    fn find_origin(&mut self, origin: &str) -> Span {
        let bytes = &self.bytes;
        let known = self
            .origins
            .iter()
            .rev()
            .take(4)
            .find(|span| bytes.get(span.at..span.at + span.len) == Some(origin.as_bytes()));
        if let Some(&span) = known {
            return span;
        }
        let span = self.push(&[origin.as_bytes()]);
        self.origins.push(span);
        span
    }
}

impl sa_batch {
    /// A batch from envelopes already made (listings, the scheduler's tick).
    pub(crate) fn new(envelopes: Vec<SyncEnvelope>) -> sa_batch {
        let mut text = Text::default();
        let items = envelopes
            .iter()
            .map(|envelope| {
                let op = &envelope.operation;
                BatchItem {
                    value: op.operation.value.clone(),
                    version: op.version,
                    stamp: op.operation.timestamp,
                    submitted_at: envelope.submitted_at,
                    last_attempt_at: envelope.last_attempt_at,
                    next_retry_at: envelope.next_retry_at,
                    sync_id: text.push(&[op.sync_id.as_bytes()]),
                    key: text.push(&[op.operation.key.as_bytes()]),
                    origin: text.origin(&op.origin_node_id),
                    replaces: op
                        .replaces
                        .as_ref()
                        .map(|r| (r.stamp, r.origin.as_ref().map(|o| text.origin(o.as_str())))),
                    retry_count: envelope.retry_count,
                    kind: op.operation.kind,
                    status: envelope.status,
                }
            })
            .collect();
        sa_batch {
            items,
            text: text.bytes,
            envelopes: OnceLock::from(envelopes),
        }
    }

    /// Hands out the engine's next batch, built straight from its outbox.
    pub(crate) fn next(engine: &crate::sync::SyncEngine) -> Result<sa_batch, Failure> {
        let mut text = Text::default();
        let items = engine.next_batch_with(|entry| BatchItem::from_outbox(entry, &mut text))?;
        Ok(sa_batch {
            items,
            text: text.bytes,
            envelopes: OnceLock::new(),
        })
    }

    /// The envelopes, in batch order.
    pub(crate) fn envelopes(&self) -> impl Iterator<Item = &SyncEnvelope> {
        self.envelopes
            .get_or_init(|| self.items.iter().map(|item| self.envelope(item)).collect())
            .iter()
    }

    fn str(&self, span: Span) -> &str {
        std::str::from_utf8(&self.text[span.at..span.at + span.len])
            .expect("batch text is copied from strings")
    }

    fn view(&self, span: Span) -> sa_str {
        sa_str {
            ptr: self.text[span.at..=span.at + span.len]
                .as_ptr()
                .cast::<c_char>(),
            len: span.len,
        }
    }

    /// Makes the envelope of an item built from the outbox.
    fn envelope(&self, item: &BatchItem) -> SyncEnvelope {
        let node = |span| NodeId::new(self.str(span)).expect("copied from a node id");
        SyncEnvelope {
            operation: SyncOperation {
                sync_id: self.str(item.sync_id).to_owned(),
                origin_node_id: self.str(item.origin).to_owned(),
                version: item.version,
                operation: Operation {
                    kind: item.kind,
                    key: Key::new(self.str(item.key)).expect("copied from a key"),
                    value: item.value.clone(),
                    timestamp: item.stamp,
                },
                replaces: item.replaces.map(|(stamp, origin)| WriteId {
                    stamp,
                    origin: origin.map(node),
                }),
                direction: Direction::LocalToRemote,
            },
            status: item.status,
            retry_count: item.retry_count,
            submitted_at: item.submitted_at,
            last_attempt_at: item.last_attempt_at,
            next_retry_at: item.next_retry_at,
        }
    }
}

impl BatchItem {
    fn from_outbox(entry: EnvelopeRef<'_>, text: &mut Text) -> BatchItem {
        let origin = entry.origin.as_str();
        let mut digits = [0u8; 20];
        let digits = decimal(entry.seq, &mut digits);
        BatchItem {
            value: entry.op.value(),
            version: entry.seq,
            stamp: entry.op.timestamp,
            submitted_at: entry.submitted_at,
            last_attempt_at: entry.last_attempt_at,
            next_retry_at: entry.next_retry_at,
            sync_id: text.push(&[origin.as_bytes(), b"-", digits.as_bytes()]),
            key: text.push(&[entry.op.key.as_bytes()]),
            origin: text.origin(origin),
            replaces: entry
                .replaces
                .map(|r| (r.stamp, r.origin.map(|o| text.origin(o.as_str())))),
            retry_count: entry.retry_count,
            kind: entry.op.kind,
            status: entry.status,
        }
    }
}

/// A borrowed view of one envelope: strings are NUL-terminated, everything is valid until
/// the batch is freed. Fields map one to one to a remote operation (`sa_remote_op_from_view`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct sa_envelope_view {
    /// Set by the caller to `sizeof` this struct, before the call that fills it and in a
    /// struct it passes in (see the top of this header).
    pub struct_size: u32,
    pub sync_id: sa_str,
    pub origin: sa_str,
    pub version: u64,
    /// Hybrid-clock stamp: wall ms << 16 | logical counter.
    pub stamp: u64,
    /// `SA_OP_PUT` or `SA_OP_DELETE`.
    pub op_type: i32,
    pub key: sa_str,
    pub value: sa_bytes,
    /// `SA_STATUS_*` at the time the batch was made.
    pub status: i32,
    /// Re-sends after the first send.
    pub retry_count: u32,
    /// The operation replaced an earlier write at its origin.
    pub has_replaces: bool,
    pub replaces_stamp: u64,
    /// Origin of the replaced write (empty for a direct store write).
    pub replaces_origin: sa_str,
}

growable!(sa_envelope_view, min: 4; sync_id, origin, version, stamp, op_type, key, value, status,
    retry_count, has_replaces, replaces_stamp, replaces_origin);

/// The fields a function reading a view needs: through `value` (the replaced write is optional).
pub(crate) const ENVELOPE_VIEW_MIN_INPUT: usize =
    std::mem::offset_of!(sa_envelope_view, value) + std::mem::size_of::<sa_bytes>();

/// The number of envelopes; 0 for NULL.
#[no_mangle]
pub extern "C" fn sa_batch_len(batch: *const sa_batch) -> usize {
    // SAFETY: `batch` is NULL (handled) or a live handle.
    guard_value(0, || unsafe { batch.as_ref() }.map_or(0, |b| b.items.len()))
}

/// Fills `*out_view` with envelope `index` (0-based). Errors: `SA_ERR_INVALID_ARGUMENT` (NULL
/// argument, or `index` out of range — the message gives the batch length).
#[no_mangle]
pub extern "C" fn sa_batch_get(
    batch: *const sa_batch,
    index: usize,
    out_view: *mut sa_envelope_view,
) -> sa_status {
    guard(|| {
        // SAFETY: each pointer is NULL (rejected) or valid.
        let batch = unsafe { handle(batch, "batch") }?;
        // SAFETY: as above.
        let slot = unsafe { SizedOut::new(out_view, "out_view") }?;
        let item = batch.items.get(index).ok_or_else(|| {
            Failure::new(
                SA_ERR_INVALID_ARGUMENT,
                format!(
                    "index {index} is out of range for a batch of {}",
                    batch.items.len()
                ),
            )
        })?;
        static EMPTY: &[u8] = b"\0";
        slot.write(sa_envelope_view {
            struct_size: 0,
            sync_id: batch.view(item.sync_id),
            origin: batch.view(item.origin),
            version: item.version,
            stamp: item.stamp.raw(),
            op_type: c_value::<sa_op_type, _>(item.kind),
            key: batch.view(item.key),
            value: bytes_view(item.value.as_bytes()),
            status: c_value::<sa_outbox_status, _>(item.status),
            retry_count: item.retry_count,
            has_replaces: item.replaces.is_some(),
            replaces_stamp: item.replaces.map_or(0, |(stamp, _)| stamp.raw()),
            replaces_origin: match item.replaces.and_then(|(_, origin)| origin) {
                Some(span) => batch.view(span),
                None => sa_str {
                    ptr: EMPTY.as_ptr().cast::<c_char>(),
                    len: 0,
                },
            },
        });
        Ok(())
    })
}

/// Frees a batch (NULL is a no-op). Views into it become invalid.
#[no_mangle]
pub extern "C" fn sa_batch_free(batch: *mut sa_batch) {
    if !batch.is_null() {
        // SAFETY: a non-NULL `batch` came from this library and is freed once.
        guard_value((), || drop(unsafe { Box::from_raw(batch) }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreEngine;
    use crate::sync::{SyncConfig, SyncContext, SyncEngine};

    fn put(key: &str, value: &str) -> Operation {
        Operation::put(Key::new(key).unwrap(), Value::from_string(value).unwrap())
    }

    /// Everything a view shows, with its strings copied out.
    fn read(batch: &sa_batch, index: usize) -> (Vec<Vec<u8>>, [u64; 5], [i32; 2], bool) {
        // SAFETY: all-zero is a valid view; struct_size is set before the call.
        let mut view: sa_envelope_view = unsafe { std::mem::zeroed() };
        view.struct_size = std::mem::size_of::<sa_envelope_view>() as u32;
        assert_eq!(sa_batch_get(batch, index, &mut view), SA_OK);
        let text = |s: sa_str| {
            // SAFETY: a view's strings are `len` bytes and a NUL, valid while the batch lives.
            let bytes = unsafe { std::slice::from_raw_parts(s.ptr.cast::<u8>(), s.len + 1) };
            assert_eq!(bytes[s.len], 0, "NUL-terminated");
            bytes[..s.len].to_vec()
        };
        // SAFETY: as above, `len` bytes.
        let value = unsafe { std::slice::from_raw_parts(view.value.ptr, view.value.len) };
        (
            vec![
                text(view.sync_id),
                text(view.origin),
                text(view.key),
                value.to_vec(),
                text(view.replaces_origin),
            ],
            [
                view.version,
                view.stamp,
                view.replaces_stamp,
                u64::from(view.retry_count),
                view.struct_size.into(),
            ],
            [view.op_type, view.status],
            view.has_replaces,
        )
    }

    /// A batch built straight from the outbox shows what one built from its envelopes shows,
    /// and gives back the same envelopes: replaced writes of this node, of another node and
    /// none, a delete.
    #[test]
    fn a_batch_from_the_outbox_is_the_batch_of_its_envelopes() {
        let store = StoreEngine::memory();
        let engine =
            SyncEngine::new(&SyncContext::new(&store, SyncConfig::durable("node-a"))).unwrap();
        let remote = SyncOperation::remote(
            "node-b-1",
            "node-b",
            1,
            put("k1", "remote").with_timestamp(Stamp::new(1, 0)),
        );
        assert!(engine.receive_remote_operation(&remote).unwrap().applied());
        for op in [
            put("k1", "v1"),
            put("k1", "v2"),
            put("k2", ""),
            Operation::delete(Key::new("k2").unwrap()),
            put("k3", "\u{e9}t\u{e9}"),
        ] {
            engine.submit_local_operation(op).unwrap();
        }
        let batch = sa_batch::next(&engine).unwrap_or_else(|f| panic!("{}", f.message));
        assert_eq!(batch.items.len(), 5);
        let envelopes: Vec<SyncEnvelope> = batch.envelopes().cloned().collect();
        let listed: Vec<SyncEnvelope> = envelopes
            .iter()
            .map(|e| engine.outbox_entry(&e.operation.sync_id).unwrap())
            .collect();
        assert_eq!(envelopes, listed);
        assert!(envelopes.iter().all(|e| e.status == SyncStatus::InFlight));
        assert!(envelopes.iter().all(|e| e.next_retry_at.is_some()));
        assert_eq!(envelopes[0].operation.sync_id, "node-a-1");
        let replaced = |i: usize| envelopes[i].operation.replaces.clone().unwrap();
        assert_eq!(replaced(0).origin.unwrap().as_str(), "node-b");
        assert_eq!(replaced(1).origin.unwrap().as_str(), "node-a");
        assert!(envelopes[2].operation.replaces.is_none());
        let made = sa_batch::new(listed);
        for index in 0..5 {
            assert_eq!(read(&batch, index), read(&made, index), "envelope {index}");
        }
        let (strings, ..) = read(&batch, 1);
        assert_eq!(strings[0], b"node-a-2");
        assert_eq!(strings[4], b"node-a");
    }
}
