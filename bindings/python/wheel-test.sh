#!/usr/bin/env bash
# End-to-end test of the Python package as a user installs it: builds the wheel from this
# checkout (setup.py runs cargo and bundles the library; cargo reuses an already-built release
# library, so this compiles nothing when `cargo build --release` ran before), checks that the
# wheel holds the library and is tagged for any Python 3, installs it into a fresh virtualenv
# in a temporary directory outside the checkout (offline: the wheel has no dependencies), and
# runs the basic_sync example there with nothing pointing back at the checkout; then the same
# after `pip install bindings/python` straight from the checkout.
# Prints "python wheel: 1 passed, 0 failed" on success; exits non-zero on failure.
# Needs pip and venv (Debian: python3-pip python3-venv); building the wheel fetches setuptools
# from PyPI into pip's isolated build environment.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fail() {
  echo "wheel-test: $*" >&2
  echo "python wheel: 0 passed, 1 failed"
  exit 1
}
show() { sed 's/^/  | /' "$1" >&2; }

python3 -m pip wheel --no-deps --quiet --wheel-dir "$work/dist" "$here" >"$work/wheel.log" 2>&1 \
  || { show "$work/wheel.log"; fail "pip wheel failed"; }
wheels=("$work"/dist/softadastra_sync-*-py3-none-*.whl)
[ -f "${wheels[0]}" ] || { ls "$work/dist" >&2; fail "no py3-none-<platform> wheel was built"; }
wheel="${wheels[0]}"
python3 - "$wheel" "$here/../../include/softadastra/sync.h" <<'EOF' || fail "the wheel does not bundle the library and the jetstream subpackage, at the header's version"
import re, sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
libraries = [n for n in names if n.startswith("softadastra_sync/libsoftadastra_sync.")
             or n == "softadastra_sync/softadastra_sync.dll"]
if len(libraries) != 1:
    sys.exit(f"libraries in the wheel: {libraries}")
# The JetStream transport ships as a subpackage, its dependency as the `jetstream` extra.
if "softadastra_sync/jetstream/__main__.py" not in names:
    sys.exit("the wheel lacks softadastra_sync.jetstream")
metadata = zipfile.ZipFile(sys.argv[1]).read(
    next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
if "Provides-Extra: jetstream" not in metadata or "extra == \"jetstream\"" not in metadata:
    sys.exit("the wheel's metadata lacks the jetstream extra")
# The package's version is the library's: read from the header, never copied.
header = open(sys.argv[2]).read()
parts = [re.search(rf"#define SA_SYNC_VERSION_{p} (\d+)", header).group(1)
         for p in ("MAJOR", "MINOR", "PATCH")]
if f"\nVersion: {'.'.join(parts)}\n" not in metadata:
    sys.exit(f"the wheel's version is not the header's {'.'.join(parts)}")
EOF

python3 -m venv "$work/venv" >"$work/venv.log" 2>&1 \
  || { show "$work/venv.log"; fail "python3 -m venv failed (Debian: apt-get install python3-venv)"; }
"$work/venv/bin/python" -m pip install --no-index --quiet "$wheel" >"$work/install.log" 2>&1 \
  || { show "$work/install.log"; fail "installing the wheel failed"; }

# Run outside the checkout, with nothing pointing at it: the package must use its own copy.
mkdir "$work/run"
cp "$here/examples/basic_sync.py" "$work/run/"
run() {
  (cd "$work/run" && env -u SOFTADASTRA_SYNC_LIB -u PYTHONPATH "$work/venv/bin/python" "$@")
}
expected="== BASIC SYNC EXAMPLE ==
Submitted sync id: node-a-1
Batch size: 1
Ready to send: node-a-1 version=1"
check_installed() {
  run basic_sync.py >"$work/stdout" 2>"$work/stderr" \
    || { show "$work/stdout"; show "$work/stderr"; fail "basic_sync.py failed ($1)"; }
  [ "$(cat "$work/stdout")" = "$expected" ] || { show "$work/stdout"; fail "unexpected output ($1)"; }
  [ ! -s "$work/stderr" ] || { show "$work/stderr"; fail "basic_sync.py wrote to stderr ($1)"; }
  library=$(run -c 'import softadastra_sync as sa; print(sa.library_path())')
  case "$library" in
    "$work/venv/"*/site-packages/softadastra_sync/*) ;;
    *) fail "the installed package loaded $library, not its bundled copy ($1)" ;;
  esac
}

check_installed "the wheel"

# The same straight from the checkout, as a user types it: pip install bindings/python.
"$work/venv/bin/python" -m pip uninstall --yes --quiet softadastra-sync >"$work/uninstall.log" 2>&1 \
  || { show "$work/uninstall.log"; fail "uninstalling the wheel failed"; }
"$work/venv/bin/python" -m pip install --quiet "$here" >"$work/install-dir.log" 2>&1 \
  || { show "$work/install-dir.log"; fail "pip install bindings/python failed"; }
check_installed "pip install bindings/python"

echo "python wheel: 1 passed, 0 failed"
