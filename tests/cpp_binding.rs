//! The C++ wrapper: the module doc's seven examples, copied verbatim into
//! bindings/cpp/examples/, compile unchanged with -std=c++17 -Wall -Wextra -Werror and print
//! the lines listed in bindings/cpp/examples/expected/ (in order); the C++ test program in
//! bindings/cpp/tests/ passes.

mod native;

use native::*;

fn cpp_include() -> std::path::PathBuf {
    root().join("bindings/cpp/include")
}

#[test]
fn doc_examples_compile_unchanged_and_print_what_the_doc_says() {
    let examples = sources(&root().join("bindings/cpp/examples"), "cpp");
    assert_eq!(examples.len(), 7, "the doc has seven C++ examples");
    for source in examples {
        let name = source.file_stem().unwrap().to_string_lossy().into_owned();
        let exe = compile(
            &format!("cpp_example_{name}"),
            &[source],
            true,
            &[cpp_include()],
        );
        let stdout = run_ok(&name, &exe);
        let expected_path = root().join(format!("bindings/cpp/examples/expected/{name}.txt"));
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("missing {}", expected_path.display()));
        let mut lines = stdout.lines();
        for wanted in expected.lines().filter(|l| !l.is_empty()) {
            assert!(
                lines.any(|line| line == wanted),
                "{name}: expected line {wanted:?} (in order) not found in:\n{stdout}"
            );
        }
    }
}

#[test]
fn cpp_test_program_passes() {
    let tests = sources(&root().join("bindings/cpp/tests"), "cpp");
    assert!(!tests.is_empty(), "no C++ tests found");
    for source in tests {
        let name = source.file_stem().unwrap().to_string_lossy().into_owned();
        let exe = compile(
            &format!("cpp_test_{name}"),
            &[source],
            true,
            &[cpp_include()],
        );
        assert_all_passed(&name, &run(&exe));
    }
}
