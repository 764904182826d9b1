//! ABI stability: programs in tests/abi/ are compiled against the frozen header of the version
//! they name (tests/abi/<version>/softadastra/sync.h, never edited) and run against this
//! library. A failure means a change broke the ABI rules stated at the top of the header.

mod native;

use native::*;

#[test]
fn programs_built_against_the_frozen_1_0_header_pass_against_this_library() {
    let dir = root().join("tests/abi");
    let frozen = dir.join("1.0");
    assert!(
        frozen.join("softadastra/sync.h").is_file(),
        "the frozen 1.0 header is missing"
    );
    let source = dir.join("abi_1_0.c");
    let exe = compile_against("abi_1_0", std::slice::from_ref(&source), &frozen);
    assert_all_passed("abi_1_0", &run(&exe));
}
