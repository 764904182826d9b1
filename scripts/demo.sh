#!/usr/bin/env bash
# Builds the library and runs the two-node demo.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --release --example two_nodes
