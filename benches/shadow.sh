#!/usr/bin/env bash
# Shadow mode's cost on the merchant's path: validate in `passthrough` vs
# `shadow`, same run, against a local stand-in for Gameball (nginx answering
# a fixed seed-shaped validation), at a fixed rate well under saturation.
#
#   wrk (paced) → couponbridge → nginx (Gameball stand-in)
#                      └─ shadow: dry run → couponbridge simulate (Voucherify)
#
# The modes alternate (passthrough, shadow, passthrough, shadow, ...) so the
# machine's drift hits both; the figure is the ratio of the medians of the
# runs' p99s, plus couponbridge's CPU per request (from /proc, whole
# process: in shadow mode it includes the comparisons themselves).
#
#   bash benches/shadow.sh [--rounds N] [--duration 10s] [--rate-ms 5]
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/common.sh

ROUNDS=3 DURATION=10s DELAY_MS=5 CONNECTIONS=8
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --rate-ms) DELAY_MS=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
need nginx:nginx wrk:wrk redis-server:redis-server python3:python3 chrt:util-linux
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
cargo build --profile dist --bin couponbridge -q
BIN=${CARGO_TARGET_DIR:-target}/dist/couponbridge
RUN=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
SIM_PORT=$(port) GB_PORT=$(port) CB_PORT=$(port) ADMIN_PORT=$(port) REDIS_PORT=$(port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$RUN/redis.log" 2>&1 &
PIDS+=($!)

cat >"$RUN/vouchers.json" <<'JSON'
[{"code": "SAVE10", "type": "DISCOUNT_VOUCHER",
  "discount": {"type": "PERCENT", "percent_off": 10, "amount_limit": 5000, "effect": "APPLY_TO_ORDER"}}]
JSON
# The simulator stands in for Voucherify, which runs on Voucherify's
# machines, not the merchant's: at idle priority here so that its CPU (only
# shadow mode calls it) does not compete with the path being measured on
# this machine's two cores. couponbridge's own shadow threads are at idle
# priority by design (docs/record-replay-shadow.md, Shadow mode).
chrt --idle 0 "$BIN" simulate --listen "127.0.0.1:$SIM_PORT" --vouchers "$RUN/vouchers.json" >"$RUN/sim.log" 2>&1 &
PIDS+=($!)

# What couponbridge itself answers for this validation, so shadow compares
# equal answers (the work of a match, the common case).
mkdir -p "$RUN/nginx/logs"
cat >"$RUN/nginx/nginx.conf" <<NGINX
worker_processes 1;
error_log $RUN/nginx/logs/error.log warn;
pid $RUN/nginx/nginx.pid;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$GB_PORT;
    location / {
      default_type "application/json; charset=utf-8";
      return 200 '{"validCoupons":[{"code":"SAVE10","lockReference":null,"discountType":"percentage","discountAmount":25}],"invalidCoupons":[]}';
    }
  }
}
NGINX
"$NGINX" -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -g 'daemon off;' >"$RUN/nginx.log" 2>&1 &
PIDS+=($!)

# compare.sh's couponbridge (one worker, Redis, tenant "bench"), with
# validate switched between passthrough and shadow.
config() { # mode
  bench_config "$CB_PORT" "$ADMIN_PORT"
  printf '[passthrough]\nupstream = "http://127.0.0.1:%s"\n[routes]\nvalidate = "%s"\n' "$GB_PORT" "$1"
}

cat >"$RUN/paced.lua" <<LUA
-- A fixed pace per connection (wrk's delay hook): $CONNECTIONS connections,
-- one request every ${DELAY_MS} ms each.
wrk.method = "POST"
wrk.headers["apikey"] = "bench-api-key"
wrk.headers["secretkey"] = "bench-secret-key"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"customerId":"bench","coupons":["SAVE10"],"lock":false,"totalPurchaseAmount":250}'
function delay() return $DELAY_MS end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %.4f %.4f %d\n", summary.requests,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
LUA

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_port "$SIM_PORT"; wait_port "$GB_PORT"; wait_port "$REDIS_PORT"
: >"$RUN/results"
for round in $(seq 1 "$ROUNDS"); do
  for mode in passthrough shadow; do
    config "$mode" >"$RUN/cb.toml"
    "$BIN" serve --config "$RUN/cb.toml" >>"$RUN/cb.log" 2>&1 &
    CB=$!
    wait_port "$CB_PORT"
    wrk -t1 -c"$CONNECTIONS" -d2s -s "$RUN/paced.lua" "http://127.0.0.1:$CB_PORT/api/v4.0/integrations/coupons/validate" >/dev/null
    before=$(cpu_ticks "$CB")
    out=$(wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s "$RUN/paced.lua" \
      "http://127.0.0.1:$CB_PORT/api/v4.0/integrations/coupons/validate" | grep '^RESULT')
    after=$(cpu_ticks "$CB")
    compared=$(curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" \
      | awk '/^couponbridge_shadow_comparisons_total/ {split($0, a, "result=\""); split(a[2], r, "\""); n[r[1]] += $NF}
             END {printf "match=%d mismatch=%d error=%d dropped=%d", n["match"], n["mismatch"], n["error"], n["dropped"]}')
    kill "$CB"; wait "$CB" 2>/dev/null || true
    read -r _ requests p50 p99 errors <<<"$out"
    echo "$round $mode $requests $p50 $p99 $errors $((after - before)) $compared" | tee -a "$RUN/results"
  done
done

python3 - "$RUN/results" "$(getconf CLK_TCK)" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
hz = int(sys.argv[2])
by = {}
for r in rows:
    by.setdefault(r[1], []).append(r)
print()
print("| mode | rounds | requests/run | p50 ms (median) | p99 ms (median) | couponbridge CPU µs/request | shadow results (last run) |")
print("|---|---|---|---|---|---|---|")
med = {}
for mode in ("passthrough", "shadow"):
    rs = by[mode]
    reqs = statistics.median(int(r[2]) for r in rs)
    p50 = statistics.median(float(r[3]) for r in rs)
    p99 = statistics.median(float(r[4]) for r in rs)
    cpu = statistics.median(int(r[6]) / hz * 1e6 / max(int(r[2]), 1) for r in rs)
    med[mode] = p99
    print(f"| {mode} | {len(rs)} | {reqs:.0f} | {p50:.3f} | {p99:.3f} | {cpu:.1f} | {' '.join(rs[-1][7:])} |")
ratio = med["shadow"] / med["passthrough"]
print(f"\nshadow p99 / passthrough p99 = {ratio:.3f} (goal: <= 1.05)")
PY
