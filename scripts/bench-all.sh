#!/usr/bin/env bash
# Reproduces every figure of BENCHMARKS.md, into bench-results/ (or $SA_BENCH_OUT):
#   c_abi.tsv         benches/c/bench_calls.c through the C ABI, built against the release
#                     library installed by scripts/install.sh (what users link), via pkg-config
#   criterion.txt     cargo bench --bench calls (the Rust calls)
#   durable.txt       cargo bench --bench durable_batch (durable submits, group commit)
#   python.txt        bindings/python/bench_overhead.py against the installed library
#   instructions.txt  scripts/check-instructions.py (instructions per operation)
#   tables.md         the tables of BENCHMARKS.md (scripts/bench_tables.py)
# then draws docs/benchmarks-per-op.svg from c_abi.tsv (scripts/bench_chart.py).
# About 15 minutes on a 2-core machine; SA_BENCH_MAX=100000 leaves out the 1 M cases.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${SA_BENCH_OUT:-bench-results}"
max="${SA_BENCH_MAX:-1000000}"
mkdir -p "$out"
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
bash scripts/install.sh "$prefix" > /dev/null
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
{
  echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -srm), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "# $(git rev-parse --short HEAD) $(rustc --version)"
} > "$out/machine.txt"

cc -O2 -std=c11 -Wall -Wextra -Werror benches/c/bench_calls.c \
  $(pkg-config --cflags --libs softadastra-sync) -Wl,-rpath,"$prefix/lib" -o "$prefix/bench_calls"
"$prefix/bench_calls" --max "$max" --samples 7 | tee "$out/c_abi.tsv"
SA_BENCH_MAX="$max" cargo bench --bench calls 2>&1 | grep -E '^[a-z_]+/|time:|thrpt:' | tee "$out/criterion.txt"
cargo bench --bench durable_batch 2>&1 | grep -E 'ops/s|÷|record of' | tee "$out/durable.txt"
SOFTADASTRA_SYNC_LIB="$prefix/lib/libsoftadastra_sync.so" \
  python3 bindings/python/bench_overhead.py --runs 9 | tee "$out/python.txt"
python3 scripts/check-instructions.py | tee "$out/instructions.txt" || true
python3 scripts/bench_tables.py "$out/c_abi.tsv" target/criterion > "$out/tables.md"
python3 scripts/bench_chart.py "$out/c_abi.tsv" docs/benchmarks-per-op.svg
echo "figures in $out/, chart in docs/benchmarks-per-op.svg"
