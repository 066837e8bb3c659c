#!/usr/bin/env bash
# Fuzzes bns's hostile-input decoders with cargo-fuzz, one target at a time.
#
#   bench/fuzz.sh [SECONDS] [TARGET...]     default: 600 s each, every target
#
# Env: CARGO_TARGET_DIR (default /work/fuzz-target, away from the main build),
#      FUZZ_WORK (default /work/fuzz-work: corpora, logs, crash artifacts).
# Needs only the stable toolchain: RUSTC_BOOTSTRAP=1 unlocks the nightly
# flags cargo-fuzz passes (-Zsanitizer=address ...).
# Prints, per target: executions, exec/s, seconds, corpus size, crashes.
# Exits 1 if any target crashed (artifacts are listed).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECS=${1:-600}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(op_decode tx_scan zonefile_parse dns_message config_toml atlas_xmlrpc api_request)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/fuzz-target}
WORK=${FUZZ_WORK:-/work/fuzz-work}
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked || exit 1
(cd fuzz && cargo fuzz build -O) || { echo "cargo fuzz build failed" >&2; exit 1; }
BIN=$CARGO_TARGET_DIR/$(rustc -vV | sed -n 's/^host: //p')/release

# Seeds: the committed set, plus everything the test vectors give.
mkdir -p "$WORK/seeds"
if command -v python3 >/dev/null; then python3 fuzz/gen_seeds.py "$WORK/seeds" >/dev/null; fi

printf '%-16s %12s %10s %8s %10s %8s\n' target executions exec/s seconds corpus crashes
status=0
for t in "${TARGETS[@]}"; do
  [ -x "$BIN/$t" ] || { echo "no binary $BIN/$t" >&2; status=1; continue; }
  run="$WORK/run/$t"; corpus="$WORK/corpus/$t"
  mkdir -p "$run" "$corpus" "$WORK/seeds/$t"
  rm -f "$run"/fuzz-*.log
  start=$(date +%s)
  # -workers=1 -jobs=1: one process (libFuzzer logs to fuzz-0.log in the cwd).
  (cd "$run" && "$BIN/$t" "$corpus" "$WORK/seeds/$t" "$ROOT/fuzz/seeds/$t" \
     -max_total_time="$SECS" -workers=1 -jobs=1 -print_final_stats=1 \
     -artifact_prefix="$run/" >/dev/null 2>&1)
  secs=$(( $(date +%s) - start ))
  log="$run/fuzz-0.log"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ -z "$execs" ]; then  # crashed before the final stats: last status line
    execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
  fi
  execs=${execs:-0}
  crashes=$(find "$run" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  printf '%-16s %12s %10s %8s %10s %8s\n' "$t" "$execs" $(( execs / (secs > 0 ? secs : 1) )) "$secs" "$(ls "$corpus" | wc -l)" "$crashes"
  if [ "$crashes" -gt 0 ]; then
    status=1
    find "$run" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) -printf '  %p\n'
    grep -m1 -A3 'panicked\|ERROR: libFuzzer\|ERROR: AddressSanitizer' "$log" | sed 's/^/  /'
  fi
done
exit $status
