//! Building and running native (C, C++) programs against the freshly built shared library.
//!
//! The library is built with `cargo build --lib` (cargo test does not build the cdylib), the
//! compiler is the one the `cc` crate detects for this target, and every program runs in its
//! own scratch directory. With `SA_VALGRIND=1` each program also runs under
//! `valgrind --leak-check=full` and must be clean.
#![allow(dead_code)] // each test binary uses a subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The directory holding the freshly built `libsoftadastra_sync.so` (and its soname link).
pub fn library_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--lib", "--quiet", "--manifest-path"])
            .arg(root().join("Cargo.toml"))
            .status()
            .expect("cargo build runs");
        assert!(status.success(), "cargo build --lib failed");
        // tests run from target/<profile>/deps/<test binary>
        let dir = std::env::current_exe()
            .unwrap()
            .parent()
            .and_then(Path::parent)
            .unwrap()
            .to_path_buf();
        let so = dir.join("libsoftadastra_sync.so");
        assert!(so.exists(), "{} was not built", so.display());
        let soname = dir.join("libsoftadastra_sync.so.0");
        let _ = std::fs::remove_file(&soname);
        std::os::unix::fs::symlink("libsoftadastra_sync.so", &soname).unwrap();
        dir
    })
}

/// Compiles `sources` into an executable named `name`; `cpp` selects the C++ compiler.
pub fn compile(name: &str, sources: &[PathBuf], cpp: bool, includes: &[PathBuf]) -> PathBuf {
    let mut dirs = vec![root().join("include")];
    dirs.extend_from_slice(includes);
    build(name, sources, cpp, &dirs)
}

/// Compiles C `sources` against the header found in `include_root` only (not the current one):
/// how a program built against an older header is rebuilt.
pub fn compile_against(name: &str, sources: &[PathBuf], include_root: &Path) -> PathBuf {
    build(name, sources, false, &[include_root.to_path_buf()])
}

fn build(name: &str, sources: &[PathBuf], cpp: bool, includes: &[PathBuf]) -> PathBuf {
    let lib = library_dir();
    let out_dir = lib.join("native-tests");
    std::fs::create_dir_all(&out_dir).unwrap();
    let exe = out_dir.join(name);
    let target = env!("SA_TARGET");
    let compiler = cc::Build::new()
        .cpp(cpp)
        .target(target)
        .host(target)
        .opt_level(0)
        .cargo_metadata(false)
        .cargo_warnings(false)
        .get_compiler();
    let mut cmd = compiler.to_command();
    cmd.arg(if cpp { "-std=c++17" } else { "-std=c11" })
        .args(["-g", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe);
    for dir in includes {
        cmd.arg("-I").arg(dir);
    }
    cmd.args(sources)
        .arg("-L")
        .arg(lib)
        .args(["-lsoftadastra_sync", "-lpthread"])
        .arg(format!("-Wl,-rpath,{}", lib.display()));
    let output = cmd.output().expect("the compiler runs");
    assert!(
        output.status.success(),
        "compiling {name} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    exe
}

/// Runs `exe` in a fresh scratch directory; with SA_VALGRIND=1, also under valgrind.
pub fn run(exe: &Path) -> Output {
    let scratch = tempfile::tempdir().unwrap();
    let output = Command::new(exe)
        .current_dir(scratch.path())
        .output()
        .expect("the program runs");
    if std::env::var_os("SA_VALGRIND").is_some() {
        let checked = Command::new("valgrind")
            .args([
                "--quiet",
                "--error-exitcode=99",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect",
            ])
            .arg(exe)
            .current_dir(scratch.path())
            .output()
            .expect("valgrind runs (install it, or unset SA_VALGRIND)");
        assert!(
            checked.status.code() != Some(99),
            "valgrind found errors in {}:\n{}",
            exe.display(),
            String::from_utf8_lossy(&checked.stderr)
        );
    }
    output
}

/// Runs `exe` (see [`run`]), requires a zero exit status, and returns its stdout.
pub fn run_ok(name: &str, exe: &Path) -> String {
    let output = run(exe);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{name} exited with {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Every file with `extension` directly in `dir`, sorted.
pub fn sources(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == extension))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Asserts a test program's closing line is "N passed, 0 failed" with N > 0.
pub fn assert_all_passed(name: &str, output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().unwrap_or_default().to_string();
    let counts: Vec<u64> = last
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect();
    assert!(
        output.status.success()
            && last.ends_with(" failed")
            && counts.len() == 2
            && counts[0] > 0
            && counts[1] == 0,
        "{name} did not pass (exit {:?}), last line {last:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
}
