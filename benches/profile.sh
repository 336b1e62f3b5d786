#!/usr/bin/env bash
# Where couponbridge spends its CPU during the locking-validation benchmark:
# the same stack as compare.sh (simulator, Redis, couponbridge on loopback),
# wrk on POST …/coupons/validate with lock:true, `perf record` on the
# couponbridge process, then the hottest symbols.
#
#   benches/profile.sh            # DURATION=10s CONNECTIONS=50
#
# Installs wrk, redis-server and perf when missing; needs permission to profile
# (root, or kernel.perf_event_paranoid <= 1).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-50}
OUT=${OUT:-$ROOT/bench-results/profile}
BASE_PORT=${BASE_PORT:-19500}
SIM_PORT=$((BASE_PORT + 90)); CB_PORT=$((BASE_PORT + 80)); REDIS_PORT=$((BASE_PORT + 79))

# Frame pointers give perf whole call stacks; a separate target folder
# keeps the normal release build untouched.
RUSTFLAGS="-C force-frame-pointers=yes" CARGO_TARGET_DIR=$ROOT/target/profiling \
  cargo build --profile dist --bin couponbridge -q
BIN=$ROOT/target/profiling/dist/couponbridge
rm -rf "$OUT"; mkdir -p "$OUT"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
source benches/common.sh
need wrk:wrk redis-server:redis-server perf:linux-perf

echo '[{"code": "SAVE10", "type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10}}]' >"$OUT/vouchers.json"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$OUT/redis.log" 2>&1 & PIDS+=($!)
"$BIN" simulate --listen "127.0.0.1:$SIM_PORT" --vouchers "$OUT/vouchers.json" >"$OUT/sim.log" 2>&1 & PIDS+=($!)
bench_config "$CB_PORT" "" >"$OUT/couponbridge.toml"
wait_port "$REDIS_PORT"; wait_port "$SIM_PORT"
"$BIN" serve --config "$OUT/couponbridge.toml" >"$OUT/couponbridge.log" 2>&1 & CB=$!; PIDS+=($CB)
wait_port "$CB_PORT"

KIND=${KIND:-gb_validate} NAME=warmup OUT=/dev/null wrk -t1 -c"$CONNECTIONS" -d3s -s benches/wrk/scenario.lua "http://127.0.0.1:$CB_PORT" >/dev/null
perf record -F 999 -g -p "$CB" -o "$OUT/perf.data" -- sleep "${DURATION%s}" 2>"$OUT/perf-record.log" &
PERF=$!
KIND=${KIND:-gb_validate} NAME=profile OUT=/dev/null wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s benches/wrk/scenario.lua \
  "http://127.0.0.1:$CB_PORT" | tee "$OUT/wrk.txt"
wait "$PERF" || true
perf report -i "$OUT/perf.data" --no-children --sort dso,symbol --percent-limit 0.7 --stdio -g none 2>/dev/null \
  | grep '%' | head -40 | tee "$OUT/self.txt"
perf report -i "$OUT/perf.data" --children --sort symbol --percent-limit 2 --stdio -g none 2>/dev/null \
  | grep '%' | grep -v ' \[k\] ' | head -60 | tee "$OUT/inclusive.txt"
echo "profile: $OUT/perf.data (perf report -i $OUT/perf.data)"
