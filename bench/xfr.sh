#!/usr/bin/env bash
# Zone transfers of an N-name namespace (`gen`, the names `bns dev
# --generate-names N` registers: A + TXT each) in one run:
#   - `bns zone export gen`: time and size of the master file;
#   - AXFR to kdig: time, bytes, messages, records;
#   - Knot and NSD as secondaries of bns: time from their start to bns's serial;
#   - a restart of bns that registers K more names with zone files
#     (`--import-zonefiles`) while Knot and NSD keep the old serial: the
#     time they take to catch up (NOTIFY, IXFR), the IXFR bytes from each
#     older serial, and the IXFR of an empty block.
#
#   bench/xfr.sh [N] [K]          # N [1000000] names, K [1000] more names
# Env: BNS_BIN (no cargo build), BNS_BENCH_DIR (the data dir bns-N is kept
# there and reused, as bench/dns-vs-peers.sh does; default /tmp/bns-bench),
# BNS_GEN_TIMEOUT [7200 s]. Needs kdig (knot-dnsutils), dig, knotd, nsd, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/sbin:/sbin
N=${1:-1000000}; K=${2:-1000}
GEN_TIMEOUT=${BNS_GEN_TIMEOUT:-7200}
for tp in kdig:knot-dnsutils dig:dnsutils knotd:knot nsd:nsd python3:python3; do
  command -v "${tp%%:*}" >/dev/null || { echo "${tp%%:*} is missing: apt-get install -y ${tp#*:}" >&2; exit 1; }
done
if [ -z "${BNS_BIN:-}" ]; then cargo build --release -q; fi
BIN=${BNS_BIN:-${CARGO_TARGET_DIR:-target}/release/bns}
WORK=${BNS_BENCH_DIR:-/tmp/bns-bench}; mkdir -p "$WORK"
DATA=$WORK/bns-$N
T=$(mktemp -d)
free_port() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
now() { date +%s.%N; }
since() { python3 -c "import sys;print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$(now)"; }
# Every transfer and NOTIFY is signed (TSIG hmac-sha256), as secondaries are run.
SECRET=$(python3 -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())')
BNS=$(free_port); API=$(free_port); ATL=$(free_port); KNOT=$(free_port); NSD=$(free_port)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT

# Starts `bns dev` on DATA with transfers to kdig, Knot and NSD; waits for "ready".
start_bns() {
  "$BIN" dev --data-dir "$DATA" --generate-names "$N" --block-interval "${INTERVAL:-3600}" --upstream none \
    --dns-addr 127.0.0.1:$BNS --api-addr 127.0.0.1:$API --atlas-addr 127.0.0.1:$ATL \
    --allow-transfer 127.0.0.1/32 --notify 127.0.0.1:$KNOT --notify 127.0.0.1:$NSD \
    --tsig-key "xfr:hmac-sha256:$SECRET" "$@" \
    >"$T/bns.out" 2>>"$T/bns.err" &
  BPID=$!; PIDS+=($BPID)
  local deadline=$((SECONDS + GEN_TIMEOUT))
  until grep -q "^bns dev: ready" "$T/bns.out"; do
    kill -0 $BPID 2>/dev/null && ! grep -q "failed" "$T/bns.out" || { cat "$T/bns.out" >&2; tail -20 "$T/bns.err" >&2; exit 1; }
    [ $SECONDS -lt $deadline ] || { echo "bns dev not ready after $GEN_TIMEOUT s" >&2; exit 1; }
    sleep 0.2
  done
}
serial() { dig @127.0.0.1 -p "$1" gen. SOA +short +time=2 +tries=1 2>/dev/null | awk '{print $3}'; }
# Waits until the server on port $1 has serial $2 or later; prints the seconds since $3.
wait_serial() {
  local got
  for _ in $(seq 1 6000); do
    got=$(serial "$1"); [ -n "$got" ] && [ "$got" -ge "$2" ] && { since "$3"; return; }; sleep 0.05
  done
  echo "timeout"; return 1
}
received() { grep -E "^;; Received" "$1" | tail -1 | sed 's/^;; //'; }

echo "--- bench/xfr.sh: $N names, $(date -u +%FT%TZ), $(nproc) cores, $("$BIN" --version)"
start_bns
S0=$(serial $BNS)
echo "bns dev ready on $DATA: serial $S0"

t=$(now)
"$BIN" zone export gen --data-dir "$DATA" -o "$T/gen.zone" 2>"$T/export.err"
echo "export: $(since "$t") s, $(stat -c %s "$T/gen.zone") bytes, $(tail -1 "$T/export.err")"

kdig -y hmac-sha256:xfr:$SECRET @127.0.0.1 -p $BNS gen. AXFR +tcp +noall >/dev/null 2>&1 || true   # warm the page cache
t=$(now); kdig -y hmac-sha256:xfr:$SECRET @127.0.0.1 -p $BNS gen. AXFR +tcp +noall +stat >"$T/axfr" 2>&1
echo "AXFR to kdig: $(since "$t") s, $(received "$T/axfr")"

# Knot and NSD, secondaries of gen from bns.
mkdir -p "$T/knot" "$T/nsd"
cat >"$T/knot/knot.conf" <<EOF
server:
    rundir: "$T/knot"
    listen: 127.0.0.1@$KNOT
log:
  - target: stderr
    any: info
database:
    storage: "$T/knot"
key:
  - id: xfr
    algorithm: hmac-sha256
    secret: $SECRET
remote:
  - id: bns
    address: 127.0.0.1@$BNS
    key: xfr
acl:
  - id: from_bns
    address: 127.0.0.1
    key: xfr
    action: notify
template:
  - id: default
    storage: "$T/knot"
    zonefile-sync: -1
    zonefile-load: none
    journal-content: changes
    journal-max-usage: 2G
zone:
  - domain: gen
    master: bns
    acl: from_bns
EOF
cat >"$T/nsd/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$NSD
    port: $NSD
    username: ""
    chroot: ""
    zonesdir: "$T/nsd"
    pidfile: "$T/nsd/nsd.pid"
    database: ""
    xfrdfile: "$T/nsd/xfrd.state"
    xfrdir: "$T/nsd"
    zonelistfile: "$T/nsd/zone.list"
    server-count: 1
    do-ip6: no
remote-control:
    control-enable: no
key:
    name: "xfr"
    algorithm: hmac-sha256
    secret: "$SECRET"
zone:
    name: gen
    zonefile: "gen.zone"
    request-xfr: 127.0.0.1@$BNS xfr
    allow-notify: 127.0.0.1 xfr
EOF
t=$(now); knotd -c "$T/knot/knot.conf" 2>"$T/knot.log" & PIDS+=($!)
echo "Knot 3 secondary, first AXFR: $(wait_serial $KNOT "$S0" "$t") s to serial $S0"
t=$(now); nsd -d -c "$T/nsd/nsd.conf" 2>"$T/nsd.log" & PIDS+=($!)
echo "NSD 4 secondary, first AXFR: $(wait_serial $NSD "$S0" "$t") s to serial $S0"

# K more names with zone files (`--import-zonefiles`: a preorder block, a register
# block, then the zone files), then empty blocks every 5 s. Knot and NSD stay up at S0.
python3 - "$K" "$(date +%s)" >"$T/import.txt" <<'EOF'
import hashlib, sys
for i in range(int(sys.argv[1])):
    name = "r%sx%d.gen" % (sys.argv[2], i)   # new names on every run
    z = "$ORIGIN %s\n$TTL 3600\n@ IN A 10.200.%d.%d\n@ IN TXT \"bench import %d\"\n" % (name, i // 256 % 256, i % 256, i)
    h = hashlib.new("ripemd160", hashlib.sha256(z.encode()).digest()).hexdigest()
    print(h); print(z.replace("\n", "\\n"))
EOF
kill $BPID; wait $BPID 2>/dev/null || true
INTERVAL=5 start_bns --import-zonefiles "$T/import.txt"
S2=$(serial $BNS); t=$(now)
echo "restarted with $K more names: serial $S0 -> $S2"
echo "Knot at serial >= $S2 $(wait_serial $KNOT "$S2" "$t") s after bns was"
echo "NSD at serial >= $S2 $(wait_serial $NSD "$S2" "$t") s after bns was"
for s in $(seq $((S2 - 1)) -1 $((S0 - 1))); do
  kdig -y hmac-sha256:xfr:$SECRET @127.0.0.1 -p $BNS gen. IXFR=$s +tcp +noall +stat >"$T/ixfr" 2>&1 || true
  echo "IXFR $s -> $S2: $(received "$T/ixfr")"
done
wait_serial $BNS $((S2 + 1)) "$(now)" >/dev/null
kdig -y hmac-sha256:xfr:$SECRET @127.0.0.1 -p $BNS gen. IXFR=$S2 +tcp +noall +stat >"$T/ixfr" 2>&1 || true
echo "IXFR $S2 -> $(serial $BNS) (an empty block): $(received "$T/ixfr")"
echo "transfers logged by bns: $(grep -c "zone transfer sent" "$T/bns.err")"
