#!/usr/bin/env bash
# Atlas replication on loopback: NAMES zone files (default 10,000) over NODES
# bns nodes (default 50), all following one dev chain.
#
#   bench/atlas.sh [NODES] [NAMES]
#
# Node 0 is `bns dev --generate-names NAMES` (it registers the names through
# real transactions and holds every zone file). Nodes 1..NODES-1 are
# `bns node --dev-chain` followers that start from a copy of an index of the
# chain without zone files (so the figure is replication, not indexing), each
# given one seed peer: a random node started before it. Printed:
#   - time from the followers' start until every node holds every file;
#   - time for a wiped node (data dir deleted) to index the chain again and
#     hold every file, from one peer;
#   - RSS per node.
set -euo pipefail
cd "$(dirname "$0")/.."
NODES=${1:-50}
NAMES=${2:-10000}
DIR=${BNS_BENCH_DIR:-/tmp/bns-atlas-bench}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release -q
BIN="$TARGET/release/bns"
rm -rf "$DIR"
mkdir -p "$DIR"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
port() { echo $(( $1 + $2 )); } # base + node index
now() { date +%s%3N; }          # milliseconds
secs() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }
common=(--upstream none --cache-size 0)

echo "--- atlas bench: $NODES nodes, $NAMES zone files, $(date -u +%FT%TZ), $(nproc) cores"
t=$(now)
RUST_LOG=warn "$BIN" dev --data-dir "$DIR/n0" --generate-names "$NAMES" --block-interval 86400 \
  --dns-addr 127.0.0.1:"$(port 21000 0)" --api-addr 127.0.0.1:"$(port 22000 0)" \
  --atlas-addr 127.0.0.1:"$(port 23000 0)" --zones zones "${common[@]}" > "$DIR/n0.log" 2>&1 &
pids+=($!)
until grep -q "bns dev: ready" "$DIR/n0.log"; do
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$DIR/n0.log"; exit 1; }
  sleep 0.5
done
echo "seed: $(grep 'bns dev: ready' "$DIR/n0.log") ($(secs $(( $(now) - t ))) s)"
CHAIN="$DIR/n0/devchain.dat"

status() { curl -s "http://127.0.0.1:$(port 22000 "$1")/v1/atlas/status"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

# One index of the chain without zone files, copied to every follower.
RUST_LOG=warn "$BIN" node --dev-chain "$CHAIN" --data-dir "$DIR/template" --dns-addr 127.0.0.1:0 \
  --api-addr 127.0.0.1:"$(port 22000 999)" --atlas-addr 127.0.0.1:0 "${common[@]}" > "$DIR/template.log" 2>&1 &
tpid=$!
tip=$(sed -n 's/^bns dev: ready at block \([0-9]*\).*/\1/p' "$DIR/n0.log")
until [ "$(status 999 2>/dev/null | field last_block_processed 2>/dev/null || echo 0)" = "$tip" ]; do sleep 0.5; done
kill "$tpid"; wait "$tpid" 2>/dev/null || true
python3 -c "import sqlite3; c=sqlite3.connect('$DIR/template/bns.sqlite'); c.execute('PRAGMA wal_checkpoint(TRUNCATE)'); c.execute('DELETE FROM atlas_peers'); c.commit()"

start_node() { # index seed
  local i=$1 seed=$2
  RUST_LOG=warn "$BIN" node --dev-chain "$CHAIN" --data-dir "$DIR/n$i" \
    --dns-addr 127.0.0.1:"$(port 21000 "$i")" --api-addr 127.0.0.1:"$(port 22000 "$i")" \
    --atlas-addr 127.0.0.1:"$(port 23000 "$i")" --atlas-peer 127.0.0.1:"$(port 23000 "$seed")" \
    "${common[@]}" > "$DIR/n$i.log" 2>&1 &
  pids+=($!)
}

all_held() { # first last -> 0 when every node in the range holds NAMES files
  python3 - "$1" "$2" "$NAMES" <<'EOF'
import json, sys, urllib.request
first, last, n = map(int, sys.argv[1:])
for i in range(first, last + 1):
    try:
        s = json.load(urllib.request.urlopen(f"http://127.0.0.1:{22000 + i}/v1/atlas/status", timeout=5))
    except Exception:
        sys.exit(1)
    if s["zonefiles_held"] < n or s["zonefiles_missing"] > 0:
        sys.exit(1)
EOF
}

for i in $(seq 1 $((NODES - 1))); do
  mkdir -p "$DIR/n$i"
  cp "$DIR/template/bns.sqlite" "$DIR/n$i/bns.sqlite"
done
t0=$(now)
for i in $(seq 1 $((NODES - 1))); do
  start_node "$i" $(( RANDOM % i ))
done
until all_held 0 $((NODES - 1)); do sleep 0.2; done
t1=$(now)
echo "replication: every one of $NODES nodes holds all $NAMES zone files $(secs $((t1 - t0))) s after $((NODES - 1)) followers started (one random seed each)"

rss=0; max=0
for p in "${pids[@]}"; do
  k=$(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
  rss=$((rss + k)); [ "$k" -gt "$max" ] && max=$k
done
echo "RSS: $((rss / ${#pids[@]} / 1024)) MiB per node on average, $((max / 1024)) MiB max, $((rss / 1024)) MiB for all $NODES"
traffic=$(curl -s "http://127.0.0.1:$(port 22000 1)/metrics" | awk '/^bns_atlas_bytes_in_total/ {print $2}')
echo "node 1 received $traffic bytes from peers"

# Wipe node NODES-1 and restart it from nothing with one peer.
last=$((NODES - 1))
kill "${pids[$last]}"; wait "${pids[$last]}" 2>/dev/null || true
rm -rf "$DIR/n$last"
t2=$(now)
start_node "$last" 1
until all_held "$last" "$last"; do sleep 0.1; done
t3=$(now)
echo "wiped node: indexed the chain again and holds all $NAMES zone files after $(secs $((t3 - t2))) s"
# And a wiped node whose index survives (zone files only lost): replication alone.
kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
rm -rf "$DIR/n$last"; mkdir -p "$DIR/n$last"; cp "$DIR/template/bns.sqlite" "$DIR/n$last/bns.sqlite"
t4=$(now)
start_node "$last" 1
until all_held "$last" "$last"; do sleep 0.1; done
t5=$(now)
echo "node with its zone files lost: holds all $NAMES again after $(secs $((t5 - t4))) s"
