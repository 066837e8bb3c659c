#!/usr/bin/env bash
# bns vs NSD, Knot and unbound, in one run, serving the same N names.
#
#   bench/dns-vs-peers.sh N            # e.g. 10000, 100000, 1000000
#   BNS_BIN=path/to/bns bench/dns-vs-peers.sh N     # no cargo build
#
# Names n0.gen .. n{N-1}.gen, each one A 10.a.b.c and one TXT "bns-bench nI.gen"
# (TTL 3600), exactly what `bns dev --generate-names N` registers. bns serves
# them from its data dir $BNS_BENCH_DIR/bns-N (kept, so a second run skips the
# generation; default: a fresh temporary dir); NSD and Knot from a zone file
# `gen.` (SOA + NS at the apex); unbound from `local-data` (1 thread). Each
# server runs ALONE: start, first correct answer ("ready"), stop, start again
# ("restart", same data), check answers, `dnsperf -l $SECS -c 4` from one shared
# query file ($QUERIES lines: 45% A, 45% TXT, 10% NXDOMAIN; fixed seed), a
# shorter `-v` run ($LAT_SECS) for p50/p99, then stop. CPU per query = utime+stime
# of the server's whole process tree over queries completed; memory = PSS.
# Env: SECS [15], LAT_SECS [5], QUERIES [200000], BNS_BIN, BNS_BENCH_DIR, BNS_FLAGS (more
# `bns dev` flags, e.g. "--udp-workers 1"),
# BNS_GEN_TIMEOUT [7200 s for the first bns start, generation included], RUST_LOG
# (bns's log filter, to $BNS_BENCH_DIR/bns.err; the default logs no query).
# Needs dnsperf, dig (dnsutils), nsd, knotd (knot), unbound, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/sbin:/sbin
BNS_FLAGS=${BNS_FLAGS:-}
N=${1:?usage: bench/dns-vs-peers.sh N}
SECS=${SECS:-15}
LAT_SECS=${LAT_SECS:-5}
QUERIES=${QUERIES:-200000}
GEN_TIMEOUT=${BNS_GEN_TIMEOUT:-7200}
for tp in dnsperf:dnsperf dig:dnsutils nsd:nsd knotd:knot unbound:unbound python3:python3; do
  command -v "${tp%%:*}" >/dev/null || { echo "${tp%%:*} is missing: apt-get install -y ${tp#*:}" >&2; exit 1; }
done
others=$(for d in nsd knotd unbound; do pgrep -x $d || true; done | tr '\n' ' ')
[ -z "$others" ] || echo "warning: nsd/knotd/unbound already running (pids $others), not ours; they share the 2 cores (stop them: service nsd/knot/unbound stop)" >&2

if [ -z "${BNS_BIN:-}" ]; then cargo build --release -q; fi
BIN=${BNS_BIN:-${CARGO_TARGET_DIR:-target}/release/bns}
[ -x "$BIN" ] || { echo "no bns binary at $BIN" >&2; exit 1; }
WORK=${BNS_BENCH_DIR:-$(mktemp -d)}; mkdir -p "$WORK"
DATA=$WORK/bns-$N
PEERS=$(mktemp -d)   # zone file, configs and state of NSD, Knot, unbound (not kept)
free_port() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
tree() { # PID and all its descendants
  local p; echo "$1"
  for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do tree "$p"; done
}
alive() { [ -e /proc/"$1" ] && [ "$(sed 's/.*) //' /proc/"$1"/stat 2>/dev/null | cut -d' ' -f1)" != Z ]; }
stop() { # SIGTERM the process tree of $1, wait (bounded) for it to exit
  local p t all; all=$(tree "$1")
  kill -TERM $all 2>/dev/null || true
  for t in $(seq 1 300); do alive "$1" || break; sleep 0.1; done
  if alive "$1"; then echo "pid $1 did not exit 30 s after SIGTERM; killing it" >&2; kill -KILL $all 2>/dev/null || true; fi
  wait "$1" 2>/dev/null || true
  for p in $all; do alive "$p" && kill -KILL "$p" 2>/dev/null || true; done
}
SPID= PP=   # the one server running, and its first-answer poller
cleanup() {
  for p in $SPID $PP; do alive "$p" && stop "$p"; done
  rm -rf "$PEERS"; [ -n "${BNS_BENCH_DIR:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT; trap "exit 130" INT TERM

# First correct answer (n0.gen A = 10.0.0.0) on PORT, polled every 5 ms by one
# process; prints seconds since T0. Fails if PID exits or after LIMIT seconds.
cat >"$PEERS/first.py" <<'EOF'
import os, socket, struct, sys, time
port, pid, t0, limit = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
q = struct.pack('>6H', 0x4242, 0x0100, 1, 0, 0, 0) + b'\x02n0\x03gen\x00' + struct.pack('>2H', 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.005)
def alive():
    try: return open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError: return False
while time.time() - t0 < limit:
    if not alive(): print('server exited', file=sys.stderr); sys.exit(1)
    try:
        s.sendto(q, ('127.0.0.1', port))
        while True:
            r = s.recv(4096)
            if r[:2] == q[:2] and r[3] & 15 == 0 and b'\x00\x04\x0a\x00\x00\x00' in r[12:]:
                print('%.3f' % (time.time() - t0)); sys.exit(0)
    except OSError: time.sleep(0.005)
print('no correct answer after %.0f s' % limit, file=sys.stderr); sys.exit(1)
EOF

# --- the data: bns data dir, zone file, unbound local-data, query file ---------
echo "== zone file, unbound local-data and $QUERIES queries for $N names"
awk -v n="$N" -v z="$PEERS/gen.zone" -v u="$PEERS/local-data.conf" 'BEGIN {
  print "$ORIGIN gen.\n$TTL 3600\n@ IN SOA ns1.bench.invalid. hostmaster.bench.invalid. 1 3600 600 86400 3600\n@ IN NS ns1.bench.invalid." >z
  print "server:\n  local-zone: \"gen.\" static" >u
  for (i = 0; i < n; i++) {
    a = sprintf("10.%d.%d.%d", int(i / 65536) % 256, int(i / 256) % 256, i % 256)
    printf "n%d.gen. 3600 IN A %s\nn%d.gen. 3600 IN TXT \"bns-bench n%d.gen\"\n", i, a, i, i >z
    printf "  local-data: \"n%d.gen. 3600 IN A %s\"\n  local-data: '"'"'n%d.gen. 3600 IN TXT \"bns-bench n%d.gen\"'"'"'\n", i, a, i, i >u
  }
}'
awk -v n="$N" -v q="$QUERIES" 'BEGIN { srand(42); for (j = 0; j < q; j++) { r = rand(); i = int(rand() * n)
  if (r < 0.45) printf "n%d.gen A\n", i; else if (r < 0.9) printf "n%d.gen TXT\n", i; else printf "x%d.gen A\n", i } }' >"$PEERS/queries"

PORT=$(free_port)
mkdir -p "$PEERS/nsd" "$PEERS/knot" "$PEERS/unbound"
cat >"$PEERS/nsd/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.1
  port: $PORT
  do-ip6: no
  database: ""
  zonelistfile: "$PEERS/nsd/zone.list"
  xfrdfile: "$PEERS/nsd/xfrd.state"
  xfrdir: "$PEERS/nsd"
  pidfile: "$PEERS/nsd/nsd.pid"
  logfile: "$PEERS/nsd/log"
  username: ""
  chroot: ""
  server-count: 1
  reuseport: yes
  minimal-responses: yes
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: "gen."
  zonefile: "$PEERS/gen.zone"
EOF
cat >"$PEERS/knot/knot.conf" <<EOF
server:
  rundir: "$PEERS/knot"
  listen: 127.0.0.1@$PORT
  udp-workers: 1
  tcp-workers: 1
  background-workers: 1
log:
  - target: stderr
    any: warning
database:
  storage: "$PEERS/knot/db"
template:
  - id: default
    storage: "$PEERS/knot"
    journal-content: none
    zonefile-sync: -1
zone:
  - domain: gen.
    file: "$PEERS/gen.zone"
EOF
cat >"$PEERS/unbound/unbound.conf" <<EOF
server:
  do-daemonize: no
  interface: 127.0.0.1
  port: $PORT
  username: ""
  chroot: ""
  directory: "$PEERS/unbound"
  pidfile: ""
  use-syslog: no
  logfile: ""
  num-threads: 1
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  do-not-query-localhost: no
include: "$PEERS/local-data.conf"
EOF

# launch NAME: starts the server on $PORT in the background, sets SPID.
launch() {
  case $1 in
    bns) "$BIN" dev --data-dir "$DATA" --dns-addr 127.0.0.1:$PORT --api-addr 127.0.0.1:0 --atlas-addr 127.0.0.1:0 \
           --upstream none --block-interval 3600 --generate-names "$N" $BNS_FLAGS >>"$WORK/bns.out" 2>"$WORK/bns.err" & SPID=$! ;;
    nsd) nsd -d -c "$PEERS/nsd/nsd.conf" >>"$PEERS/nsd/out" 2>&1 & SPID=$! ;;
    knot) knotd -c "$PEERS/knot/knot.conf" >>"$PEERS/knot/out" 2>&1 & SPID=$! ;;
    unbound) unbound -c "$PEERS/unbound/unbound.conf" >>"$PEERS/unbound/out" 2>&1 & SPID=$! ;;
  esac
}
# start NAME LIMIT: launch and wait for the first correct answer; sets SPID, READY.
start() {
  local t0 shown lines; touch "$WORK/bns.out"; shown=$(wc -l <"$WORK/bns.out"); t0=$(date +%s.%N); launch "$1"
  python3 "$PEERS/first.py" "$PORT" "$SPID" "$t0" "$2" >"$PEERS/ready" 2>"$PEERS/ready.err" & PP=$!
  while :; do  # bounded by first.py's LIMIT; shows what bns prints (generation progress) meanwhile
    if [ "$1" = bns ]; then lines=$(wc -l <"$WORK/bns.out"); [ "$lines" -le "$shown" ] || { tail -n +$((shown + 1)) "$WORK/bns.out" | head -n $((lines - shown)); shown=$lines; }; fi
    alive $PP || break; sleep 0.2
  done
  if ! wait $PP; then
    echo "$1 gave no correct answer: $(cat "$PEERS/ready.err")" >&2
    tail -n 20 "$WORK/bns.err" "$PEERS/$1/out" 2>/dev/null >&2; exit 1
  fi
  PP=; READY=$(cat "$PEERS/ready")
}
# check NAME: a few answers, against what every server must give.
check() {
  local i got want
  for i in 0 $((N / 2)) $((N - 1)) $(((N * 7 / 10 + 3) % N)); do
    want="10.$((i / 65536 % 256)).$((i / 256 % 256)).$((i % 256))"
    got=$(dig @127.0.0.1 -p $PORT n$i.gen A +short +time=2 +tries=2)
    [ "$got" = "$want" ] || { echo "FATAL: $1 answers n$i.gen A with '$got', want '$want'" >&2; exit 1; }
    got=$(dig @127.0.0.1 -p $PORT n$i.gen TXT +short +time=2 +tries=2)
    [ "$got" = "\"bns-bench n$i.gen\"" ] || { echo "FATAL: $1 answers n$i.gen TXT with '$got'" >&2; exit 1; }
    got=$(dig @127.0.0.1 -p $PORT x$i.gen A +time=2 +tries=2 | sed -n 's/.*status: \([A-Z]*\).*/\1/p')
    [ "$got" = NXDOMAIN ] || { echo "FATAL: $1 answers x$i.gen A with status '$got', want NXDOMAIN" >&2; exit 1; }
  done
}
ticks() { local p; for p in $1; do sed 's/.*) //' /proc/"$p"/stat 2>/dev/null || true; done | awk '{ u += $12; t += $12 + $13 } END { print t + 0, u + 0 }'; }
pss_mib() { local p; for p in $1; do cat /proc/"$p"/smaps_rollup 2>/dev/null || true; done | awk '$1 == "Pss:" { k += $2 } END { printf "%.1f", k / 1024 }'; }
HZ=$(getconf CLK_TCK)

# measure NAME: the whole cycle for one server; sets R_<name>_*.
measure() {
  local name=$1 ready restart procs c0 c1 u0 u1 out completed lost qps avg cpu user pct pss
  echo "== $name: start"
  start "$name" "$([ "$name" = bns ] && echo "$GEN_TIMEOUT" || echo 600)"; ready=$READY
  stop "$SPID"; SPID=
  start "$name" 600; restart=$READY
  echo "   ready after ${ready}s, again after a restart ${restart}s"
  check "$name"
  procs=$(tree "$SPID" | tr '\n' ' ')
  read -r c0 u0 < <(ticks "$procs")
  out=$(timeout $((SECS + 60)) dnsperf -s 127.0.0.1 -p "$PORT" -d "$PEERS/queries" -l "$SECS" -c 4 2>&1)
  read -r c1 u1 < <(ticks "$procs")
  echo "$out" >"$PEERS/dnsperf-$name.txt"
  read -r completed lost qps avg < <(echo "$out" | awk '/Queries completed:/ { c = $3 } /Queries lost:/ { l = $3 }
    /Queries per second:/ { q = $4 } /Average Latency/ { a = $4 } END { printf "%d %d %.0f %.3f\n", c, l, q, a * 1000 }')
  [ "$completed" -gt 0 ] || { echo "FATAL: dnsperf against $name completed no query" >&2; echo "$out" >&2; exit 1; }
  echo "   dnsperf: $(echo "$out" | sed -n 's/^ *Response codes: //p')"
  read -r cpu user < <(awk -v a="$c0" -v b="$c1" -v ua="$u0" -v ub="$u1" -v n="$completed" -v hz="$HZ" \
    'BEGIN { printf "%.2f %.2f\n", (b - a) / hz * 1e6 / n, (ub - ua) / hz * 1e6 / n }')
  pss=$(pss_mib "$procs")
  pct=$(timeout $((LAT_SECS + 60)) dnsperf -s 127.0.0.1 -p "$PORT" -d "$PEERS/queries" -l "$LAT_SECS" -c 4 -v 2>/dev/null |
    awk '$1 == ">" { print $NF }' | sort -g |
    awk '{ a[NR] = $1 } END { if (NR) printf "%.3f %.3f", a[int(NR * 0.5)] * 1000, a[int(NR * 0.99)] * 1000; else print "- -" }')
  stop "$SPID"; SPID=
  ROWS+=("$(printf '| %-8s | %7s | %6s | %6s | %6s | %8s | %9s | %7s | %7s | %9s | %6s |' \
    "$name" "$qps" "$avg" "${pct% *}" "${pct#* }" "$cpu" "$user" "$pss" "$ready" "$restart" "$lost")")
  eval "R_${name}_qps=$qps R_${name}_cpu=$cpu R_${name}_p99=${pct#* } R_${name}_pss=$pss R_${name}_restart=$restart"
}

ROWS=()
echo "== bns data dir $DATA (binary $BIN)"
for s in bns nsd knot unbound; do measure $s; done

echo
echo "N = $N names, $QUERIES-query file (45% A, 45% TXT, 10% NXDOMAIN), dnsperf -l $SECS -c 4 (percentiles from a -v run of ${LAT_SECS}s); each server alone"
echo "ready = start to first correct answer (bns: generation included on a fresh data dir); restart = the same on the same data"
echo
echo "| server   |     qps | avg ms | p50 ms | p99 ms | CPU µs/q | user µs/q | PSS MiB | ready s | restart s |   lost |"
echo "|----------|---------|--------|--------|--------|----------|-----------|---------|---------|-----------|--------|"
printf '%s\n' "${ROWS[@]}"
echo
best_q=$(printf '%s\n' "nsd $R_nsd_qps" "knot $R_knot_qps" | sort -k2 -g | tail -n 1)
best_c=$(printf '%s\n' "nsd $R_nsd_cpu" "knot $R_knot_cpu" | sort -k2 -g | head -n 1)
awk -v b="$R_bns_qps" -v q="$best_q" -v c="$best_c" -v bc="$R_bns_cpu" 'BEGIN { split(q, Q, " "); split(c, C, " ")
  printf "bns against the best of NSD/Knot: qps %.2fx (%s), CPU per query %.2fx (%s)\n", b / Q[2], Q[1], bc / C[2], C[1] }'
target() { if awk "BEGIN { exit !($2) }"; then echo "PASS: $1"; else echo "FAIL: $1"; fi; }
target "qps $R_bns_qps >= max(NSD $R_nsd_qps, Knot $R_knot_qps)" "$R_bns_qps >= $R_nsd_qps && $R_bns_qps >= $R_knot_qps"
target "CPU/q $R_bns_cpu µs <= NSD's $R_nsd_cpu µs" "$R_bns_cpu <= $R_nsd_cpu"
target "p99 $R_bns_p99 ms <= 1 ms" "${R_bns_p99/-/99} <= 1"
if [ "$N" -ge 1000000 ]; then
  target "PSS $R_bns_pss MiB <= 175 MiB" "$R_bns_pss <= 175"
  target "restart $R_bns_restart s <= 0.25 s" "$R_bns_restart <= 0.25"
fi
