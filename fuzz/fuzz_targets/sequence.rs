//! Opening a store and an engine (read-only) on an arbitrary `<wal>.seq` file beside an empty
//! log segment.
#![no_main]

mod side_file;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| side_file::open_with("seq", data));
