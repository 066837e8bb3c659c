#!/usr/bin/env bash
# Time from `bns dev` start (fresh data dir) to the first DNS answer for werner.id.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
DIR=$(mktemp -d); PORT=${PORT:-5391}
start=$(date +%s.%N)
./target/release/bns dev --data-dir "$DIR" --dns-addr 127.0.0.1:$PORT >"$DIR/out" 2>"$DIR/err" & PID=$!
trap 'kill $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 1 3000); do
  if [ "$(dig @127.0.0.1 -p $PORT werner.id A +short +time=1 +tries=1 2>/dev/null)" = "192.0.2.10" ]; then
    end=$(date +%s.%N)
    echo "first answer after $(echo "$end - $start" | bc) s"
    cat "$DIR/out"
    dig @127.0.0.1 -p $PORT werner.id TXT
    exit 0
  fi
  sleep 0.01
done
echo "no answer after 30 s" >&2; cat "$DIR/err" >&2; exit 1
