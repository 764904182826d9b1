//! The C ABI from C: the examples in examples-c/ (stdout compared with examples-c/expected/)
//! and the C test suite in tests/c/, each built with -std=c11 -Wall -Wextra -Werror.

mod native;

use native::*;

#[test]
fn the_header_compiles_alone_as_c11_and_as_cpp17() {
    let dir = tempfile::tempdir().unwrap();
    for (name, cpp) in [("header_only.c", false), ("header_only.cpp", true)] {
        let source = dir.path().join(name);
        std::fs::write(
            &source,
            "#include <softadastra/sync.h>\nint main(void) { return sa_version() == 0; }\n",
        )
        .unwrap();
        let exe = compile(&format!("{name}.bin"), &[source], cpp, &[]);
        run_ok(name, &exe);
    }
}

#[test]
fn c_examples_build_run_and_print_the_expected_output() {
    let examples = sources(&root().join("examples-c"), "c");
    assert!(!examples.is_empty(), "no C examples found");
    for source in examples {
        let name = source.file_stem().unwrap().to_string_lossy().into_owned();
        let exe = compile(
            &format!("example_{name}"),
            std::slice::from_ref(&source),
            false,
            &[],
        );
        let stdout = run_ok(&name, &exe);
        let expected_path = root().join(format!("examples-c/expected/{name}.out"));
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("missing {}", expected_path.display()));
        assert_eq!(
            stdout,
            expected,
            "{name}: stdout differs from {}",
            expected_path.display()
        );
    }
}

#[test]
fn c_test_suite_passes() {
    let tests = sources(&root().join("tests/c"), "c");
    assert!(!tests.is_empty(), "no C tests found");
    for source in tests {
        let name = source.file_stem().unwrap().to_string_lossy().into_owned();
        let exe = compile(&format!("ctest_{name}"), &[source], false, &[]);
        assert_all_passed(&name, &run(&exe));
    }
}
