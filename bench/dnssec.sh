#!/usr/bin/env bash
# CPU per query of signed (DO) against unsigned answers, in one run of one
# `bns dev` serving N generated names (`gen`, A + TXT each): the same query
# file (45% A, 45% TXT, 10% NXDOMAIN, fixed seed) with `dnsperf` without and
# with `-D`, twice each (the second signed pass answers from the signature
# cache; the first signs every RRset it meets).
#
#   bench/dnssec.sh [N]        # N [100000]
# Env: BNS_BIN, BNS_BENCH_DIR (data dir bns-N kept and reused, as
# bench/dns-vs-peers.sh does; default /tmp/bns-bench), SECS [10], QUERIES [200000].
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}; SECS=${SECS:-10}; QUERIES=${QUERIES:-200000}
for tp in dnsperf:dnsperf dig:dnsutils python3:python3; do
  command -v "${tp%%:*}" >/dev/null || { echo "${tp%%:*} is missing: apt-get install -y ${tp#*:}" >&2; exit 1; }
done
if [ -z "${BNS_BIN:-}" ]; then cargo build --release -q; fi
BIN=${BNS_BIN:-${CARGO_TARGET_DIR:-target}/release/bns}
WORK=${BNS_BENCH_DIR:-/tmp/bns-bench}; mkdir -p "$WORK"; DATA=$WORK/bns-$N
T=$(mktemp -d)
PORT=$(python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
"$BIN" dev --data-dir "$DATA" --generate-names "$N" --block-interval 3600 --upstream none \
  --dns-addr 127.0.0.1:$PORT --api-addr 127.0.0.1:0 --atlas-addr 127.0.0.1:0 >"$T/out" 2>"$T/err" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$T"' EXIT
until grep -q "^bns dev: ready" "$T/out"; do kill -0 $PID || { cat "$T/out" "$T/err"; exit 1; }; sleep 0.5; done
python3 - "$N" "$QUERIES" >"$T/queries" <<'EOF'
import random, sys
n, q = int(sys.argv[1]), int(sys.argv[2])
r = random.Random(42)
for _ in range(q):
    x = r.random()
    i = r.randrange(n)
    print("n%d.gen %s" % (i, "A" if x < 0.45 else "TXT") if x < 0.9 else "missing%d.gen A" % i)
EOF
cpu() { awk '{print $14 + $15}' /proc/$PID/stat; }
run() { # label, dnsperf flags
  local before after q
  before=$(cpu)
  dnsperf -s 127.0.0.1 -p $PORT -d "$T/queries" -l "$SECS" -c 4 -q 200 $2 >"$T/perf" 2>&1
  after=$(cpu)
  q=$(awk '/Queries completed/ {print $3}' "$T/perf")
  python3 -c "import sys;b,a,q=map(float,sys.argv[1:4]);print('%-22s %9.0f qps  %6.2f us CPU per query' % (sys.argv[4], q/$SECS, (a-b)*1e6/100/q))" \
    "$before" "$after" "$q" "$1"
}
echo "--- bench/dnssec.sh: $N names, $(date -u +%FT%TZ), $(nproc) cores"
dig @127.0.0.1 -p $PORT n1.gen A +dnssec +short | head -2
run "unsigned" ""
run "signed (first pass)" "-D"
run "unsigned" ""
run "signed (cached)" "-D"
