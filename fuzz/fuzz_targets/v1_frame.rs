//! One V1 frame handled like the C++ dispatcher.
#![no_main]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (store, engine) = common::engine();
    let before = (store.len(), engine.state());
    if engine.handle_v1_frame(data).is_err() {
        assert_eq!((store.len(), engine.state()), before);
    }
});
