#!/usr/bin/env bash
# Index a dev chain of N names (default 1,000,000; preorder + register +
# update each = 3 name ops) from its raw blocks into a fresh SQLite store;
# print ops/s (wall and per CPU second), peak RSS, bytes per name by table
# (indexes included), and the times to export the index as a snapshot and to
# import it with --trust into a fresh store.
#
#   bench/index-1m.sh [N]
#
# The chain is generated once (real signed transactions; takes a while) into
# $BNS_BENCH_DIR (default /tmp/bns-bench-<N>) and reused on later runs.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
DIR=${BNS_BENCH_DIR:-/tmp/bns-bench-$N}
PER_BLOCK=${PER_BLOCK:-1000}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release -q --example index_bench
BIN="$TARGET/release/examples/index_bench"
"$BIN" gen "$N" "$DIR" "$PER_BLOCK"
DB="$DIR/index.sqlite"
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
/usr/bin/time -v "$BIN" index "$DIR" "$DB" 2> "$OUT" | tee /dev/stderr > "$OUT.stdout" || { cat "$OUT" >&2; exit 1; }
echo "--- $N names, $(date -u +%FT%TZ), $(nproc) cores"
cat "$OUT.stdout"
grep -E "Elapsed \(wall clock\)|Maximum resident set size|User time|System time" "$OUT" | sed 's/^\s*/time -v: /'
rm -f "$OUT.stdout"
