#!/usr/bin/env bash
# bns vs unbound, side by side in one run, serving the same N names.
#
#   bench/dns-vs-unbound.sh N            # e.g. 10000, 100000, 1000000
#
# bns: `bns dev --generate-names N` (names n0.gen .. n{N-1}.gen registered
# through real preorder/register/update transactions, zone file A + TXT).
# The data dir is $BNS_BENCH_DIR/bns-N (kept, so a second run skips the
# generation; default: a fresh temporary dir). unbound: the same records as
# `local-data` (1 thread). One dnsperf query file (random existing names, A
# and TXT); `dnsperf -l $SECS -c 4` against each, then a shorter `-v` run for
# latency percentiles. Prints qps, latency, RSS, server CPU per query.
# Needs dnsperf, unbound, dig (scripts/test installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:?usage: bench/dns-vs-unbound.sh N}
SECS=${SECS:-15}
LAT_SECS=${LAT_SECS:-5}
QUERIES=${QUERIES:-200000}
for t in dnsperf unbound dig; do command -v $t >/dev/null || { echo "$t is missing (scripts/test installs it)" >&2; exit 1; }; done

cargo build --release -q
BIN=${CARGO_TARGET_DIR:-target}/release/bns
WORK=${BNS_BENCH_DIR:-$(mktemp -d)}
mkdir -p "$WORK"
DATA=$WORK/bns-$N
UNB=$WORK/unbound-$N
mkdir -p "$UNB"
free_port() { python3 -c 'import socket;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
BPORT=$(free_port); UPORT=$(free_port)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; [ -n "${BNS_BENCH_DIR:-}" ] || rm -rf "$WORK"; }
trap cleanup EXIT

# --- bns ---------------------------------------------------------------------
echo "== bns dev --generate-names $N (data dir $DATA)"
t0=$(date +%s.%N)
"$BIN" dev --data-dir "$DATA" --dns-addr 127.0.0.1:$BPORT --block-interval 3600 --generate-names "$N" \
  >"$WORK/bns.out" 2>"$WORK/bns.err" & BPID=$!
PIDS+=($BPID)
shown=0
until grep -q '^bns dev: ready' "$WORK/bns.out"; do
  kill -0 $BPID 2>/dev/null || { echo "bns exited" >&2; cat "$WORK/bns.out" "$WORK/bns.err" >&2; exit 1; }
  lines=$(wc -l <"$WORK/bns.out"); if [ "$lines" -gt "$shown" ]; then tail -n +$((shown + 1)) "$WORK/bns.out"; shown=$lines; fi
  sleep 0.5
done
tail -n +$((shown + 1)) "$WORK/bns.out"
BREADY=$(echo "$(date +%s.%N) - $t0" | bc)
[ "$(dig @127.0.0.1 -p $BPORT n0.gen A +short)" = "10.0.0.0" ] || { echo "bns does not answer n0.gen" >&2; exit 1; }

# --- unbound with the same records -------------------------------------------
echo "== unbound local-data for $N names"
awk -v n="$N" 'BEGIN {
  print "server:\n  local-zone: \"gen.\" static"
  for (i = 0; i < n; i++) {
    printf "  local-data: \"n%d.gen. 3600 IN A 10.%d.%d.%d\"\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256
    printf "  local-data: '"'"'n%d.gen. 3600 IN TXT \"bns-bench n%d.gen\"'"'"'\n", i, i
  }
}' >"$UNB/local-data.conf"
cat >"$UNB/unbound.conf" <<EOF
server:
  do-daemonize: no
  interface: 127.0.0.1
  port: $UPORT
  username: ""
  chroot: ""
  directory: "$UNB"
  pidfile: ""
  use-syslog: no
  logfile: ""
  num-threads: 1
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
  do-not-query-localhost: no
include: "$UNB/local-data.conf"
EOF
t0=$(date +%s.%N)
unbound -c "$UNB/unbound.conf" 2>"$UNB/err" & UPID=$!
PIDS+=($UPID)
until [ "$(dig @127.0.0.1 -p $UPORT n0.gen A +short +time=1 +tries=1 2>/dev/null)" = "10.0.0.0" ]; do
  kill -0 $UPID 2>/dev/null || { echo "unbound exited" >&2; cat "$UNB/err" >&2; exit 1; }
  sleep 0.05
done
UREADY=$(echo "$(date +%s.%N) - $t0" | bc)
# Both must give the same answers.
for q in "n$((N - 1)).gen TXT" "n$((N / 2)).gen A"; do
  a=$(dig @127.0.0.1 -p $BPORT $q +short); b=$(dig @127.0.0.1 -p $UPORT $q +short)
  [ "$a" = "$b" ] || { echo "answers differ for $q: bns '$a' unbound '$b'" >&2; exit 1; }
done

# --- one query file ----------------------------------------------------------
awk -v n="$N" -v q="$QUERIES" 'BEGIN { srand(42); for (j = 0; j < q; j++) printf "n%d.gen %s\n", int(rand() * n), (rand() < 0.5 ? "A" : "TXT") }' >"$WORK/queries"

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
rss_mb() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)

# run NAME PID PORT -> sets R_* for the table
run() {
  local name=$1 pid=$2 port=$3 c0 c1 out
  c0=$(ticks "$pid")
  out=$(dnsperf -s 127.0.0.1 -p "$port" -d "$WORK/queries" -l "$SECS" -c 4 2>&1)
  c1=$(ticks "$pid")
  echo "$out" >"$WORK/dnsperf-$name.txt"
  local completed qps avg lost
  completed=$(echo "$out" | awk '/Queries completed:/ { print $3 }')
  lost=$(echo "$out" | awk '/Queries lost:/ { print $3 }')
  qps=$(echo "$out" | awk '/Queries per second:/ { printf "%.0f", $4 }')
  avg=$(echo "$out" | awk '/Average Latency/ { printf "%.3f", $4 * 1000 }')
  local cpu_us
  cpu_us=$(echo "$c0 $c1 $completed $HZ" | awk '{ printf "%.2f", ($2 - $1) / $4 * 1e6 / $3 }')
  # Latency percentiles from a shorter verbose run (each answer with its latency).
  local pct
  pct=$(dnsperf -s 127.0.0.1 -p "$port" -d "$WORK/queries" -l "$LAT_SECS" -c 4 -v 2>/dev/null |
    awk '$1 == ">" { print $NF }' | sort -g |
    awk '{ a[NR] = $1 } END { if (NR) printf "%.3f %.3f", a[int(NR * 0.5)] * 1000, a[int(NR * 0.99)] * 1000; else print "- -" }')
  printf '| %-8s | %9s | %8s | %8s | %8s | %7s | %9s | %6s |\n' \
    "$name" "$qps" "$avg" "${pct% *}" "${pct#* }" "$(rss_mb "$pid")" "$cpu_us" "$lost"
  eval "R_${name}_qps=$qps R_${name}_cpu=$cpu_us R_${name}_rss=$(rss_mb "$pid")"
}

echo
echo "N = $N names, $QUERIES-query file (random existing names, A and TXT), dnsperf -l $SECS -c 4 (percentiles from a -v run of ${LAT_SECS}s)"
echo "ready after: bns ${BREADY}s (incl. generation on a fresh data dir), unbound ${UREADY}s"
echo
printf '| %-8s | %9s | %8s | %8s | %8s | %7s | %9s | %6s |\n' server qps "avg ms" "p50 ms" "p99 ms" "RSS MB" "CPU µs/q" lost
echo "|----------|-----------|----------|----------|----------|---------|-----------|--------|"
run bns $BPID $BPORT
run unbound $UPID $UPORT
echo
echo "$R_bns_qps $R_unbound_qps $R_bns_cpu $R_unbound_cpu $R_bns_rss $R_unbound_rss" |
  awk '{ printf "bns/unbound: qps %.2fx, CPU per query %.2fx, RSS %.2fx\n", $1 / $2, $3 / $4, $5 / $6 }'
