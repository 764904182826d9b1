#!/usr/bin/env bash
# Runs every test of the project. CI calls this after its lint steps.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test
cargo run --quiet --example two_nodes > /dev/null
