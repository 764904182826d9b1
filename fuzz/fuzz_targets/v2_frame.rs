//! V2 operations and ACK frames: decode, re-encode, receive, ingest ACKs.
#![no_main]
mod common;

use libfuzzer_sys::fuzz_target;
use softadastra_sync::wire::{decode_operations_frame, encode_operations_frame};

fuzz_target!(|data: &[u8]| {
    if let Ok(ops) = decode_operations_frame(data) {
        assert_eq!(encode_operations_frame(&ops).unwrap(), data);
    }
    let (store, engine) = common::engine();
    let before = (store.len(), engine.state());
    if engine.receive_frame(data).is_err() {
        assert_eq!((store.len(), engine.state()), before);
    }
    let before = (store.len(), engine.state());
    if engine.ack_frame(data).is_err() {
        assert_eq!((store.len(), engine.state()), before);
    }
});
