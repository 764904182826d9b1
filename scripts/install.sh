#!/usr/bin/env bash
# Builds the release library and installs it under PREFIX (default /usr/local):
#   PREFIX/include/softadastra/sync.h
#   PREFIX/lib/libsoftadastra_sync.so.X.Y.Z, .so.X (soname), .so, and libsoftadastra_sync.a
#   PREFIX/lib/pkgconfig/softadastra-sync.pc
#   PREFIX/bin/softadastra-sync (the WAL tool: inspect, verify)
set -euo pipefail
prefix="${1:-/usr/local}"
cd "$(dirname "$0")/.."
cargo build --release --lib --bin softadastra-sync --quiet
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
major=${version%%.*}
libdir="$prefix/lib"
install -d "$libdir/pkgconfig" "$prefix/include/softadastra" "$prefix/bin"
install -m 0755 target/release/softadastra-sync "$prefix/bin/softadastra-sync"
install -m 0644 include/softadastra/sync.h "$prefix/include/softadastra/sync.h"
install -m 0755 target/release/libsoftadastra_sync.so "$libdir/libsoftadastra_sync.so.$version"
ln -sf "libsoftadastra_sync.so.$version" "$libdir/libsoftadastra_sync.so.$major"
ln -sf "libsoftadastra_sync.so.$major" "$libdir/libsoftadastra_sync.so"
install -m 0644 target/release/libsoftadastra_sync.a "$libdir/libsoftadastra_sync.a"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" softadastra-sync.pc.in \
  > "$libdir/pkgconfig/softadastra-sync.pc"
echo "installed softadastra-sync $version under $prefix"
