#!/usr/bin/env bash
# End-to-end test of the CMake package: installs the library (scripts/install.sh) and the C++
# wrapper (bindings/cpp/install.sh) into a temporary prefix, builds cmake-example (the doc's
# basic_sync.cpp) with find_package(softadastra_sync), runs it from a scratch directory and
# checks its output against examples/expected/basic_sync.txt; also checks that the program
# uses the installed library and that an incompatible version request is refused.
# Prints "cmake find_package: 1 passed, 0 failed" on success; exits non-zero on failure.
# With SA_VALGRIND=1 the example also runs under valgrind. Needs cmake (apt-get install cmake).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"

fail() {
  echo "cmake-test: $*" >&2
  echo "cmake find_package: 0 passed, 1 failed"
  exit 1
}
show() { sed 's/^/  | /' "$1" >&2; }

command -v cmake >/dev/null 2>&1 || fail "cmake not found (apt-get install -y cmake)"

"$root/scripts/install.sh" "$prefix" >"$work/install.log" 2>&1 || { show "$work/install.log"; fail "scripts/install.sh failed"; }
"$here/install.sh" "$prefix" >"$work/install-cpp.log" 2>&1 || { show "$work/install-cpp.log"; fail "bindings/cpp/install.sh failed"; }

cmake -S "$here/cmake-example" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Debug \
  >"$work/configure.log" 2>&1 || { show "$work/configure.log"; fail "cmake configure failed"; }
cmake --build "$work/build" >"$work/build.log" 2>&1 || { show "$work/build.log"; fail "cmake build failed"; }
exe="$work/build/basic_sync"
[ -x "$exe" ] || fail "no basic_sync executable was built"

# The program resolves the installed library (not a copy from the source tree).
if command -v ldd >/dev/null 2>&1; then
  ldd "$exe" | grep -F "$prefix/lib/libsoftadastra_sync.so" >/dev/null \
    || { ldd "$exe" >&2; fail "basic_sync does not use $prefix/lib/libsoftadastra_sync.so"; }
fi

mkdir "$work/run"
(cd "$work/run" && "$exe") >"$work/stdout" 2>"$work/stderr" || { show "$work/stdout"; show "$work/stderr"; fail "basic_sync failed"; }

# Every expected line must appear, in order.
exec 3<"$work/stdout"
while IFS= read -r wanted || [ -n "$wanted" ]; do
  [ -z "$wanted" ] && continue
  found=0
  while IFS= read -r line <&3; do
    if [ "$line" = "$wanted" ]; then found=1; break; fi
  done
  [ "$found" = 1 ] || { show "$work/stdout"; fail "expected line not found (in order): $wanted"; }
done <"$here/examples/expected/basic_sync.txt"
exec 3<&-

if [ -n "${SA_VALGRIND:-}" ]; then
  (cd "$work/run" && valgrind --quiet --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect "$exe") >/dev/null 2>"$work/valgrind.log" \
    || { show "$work/valgrind.log"; fail "valgrind found errors in basic_sync"; }
fi

# The version file refuses an incompatible request (another major, or a later minor than
# installed) and takes an earlier minor of the same major (the header's ABI rules). The
# installed version is read from the installed header.
version_part() {
  sed -n "s/^#define SA_SYNC_VERSION_$1 \([0-9]*\)$/\1/p" "$prefix/include/softadastra/sync.h"
}
major=$(version_part MAJOR)
minor=$(version_part MINOR)
earlier=$((minor > 0 ? minor - 1 : 0))
configure() {
  cmake -S "$here/cmake-example" -B "$work/build-$1" -DCMAKE_PREFIX_PATH="$prefix" \
    -DSOFTADASTRA_SYNC_REQUIRED_VERSION="$1" >"$work/configure-$1.log" 2>&1
}
if configure "$((major + 1)).0"; then
  fail "find_package(softadastra_sync $((major + 1)).0) succeeded against version $major.$minor"
fi
if configure "$major.$((minor + 1))"; then
  fail "find_package(softadastra_sync $major.$((minor + 1))) succeeded against $major.$minor"
fi
if ! configure "$major.$earlier"; then
  show "$work/configure-$major.$earlier.log"
  fail "find_package(softadastra_sync $major.$earlier) refused $major.$minor"
fi

echo "cmake find_package: 1 passed, 0 failed"
