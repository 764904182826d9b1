#!/usr/bin/env bash
# Builds the library and runs the two-node demo through the C ABI: node A writes while
# offline, node B writes the same key, batches and ACKs are exchanged by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --lib --quiet
lib="$PWD/target/release"
ln -sf libsoftadastra_sync.so "$lib/libsoftadastra_sync.so.0"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cc -std=c11 -Wall -Wextra -Werror -Iinclude examples-c/two_node_demo.c \
  -L"$lib" -lsoftadastra_sync -Wl,-rpath,"$lib" -o "$out/two_node_demo"
(cd "$out" && ./two_node_demo)
