#!/usr/bin/env bash
# couponbridge against nginx and the bare upstream, in one run.
#
#   benches/compare.sh     # DURATION=4s WARMUP=1s CONNECTIONS=32 by default
#
# Everything runs on loopback on this machine: wrk and benches/openloop.rs (the load), the
# Voucherify simulator (the upstream), Redis, nginx and couponbridge share
# the same cores, so read the results as ratios between scenarios of one
# run, not as absolute capacity. Scenarios, one after another:
#
#   bare          load → simulator                    (POST /v1/validations with a LOCK session)
#   nginx         load → nginx proxy_pass → simulator (the same request, keep-alive upstream pool)
#   couponbridge  load → couponbridge → simulator     (POST …/coupons/validate lock:true, lock written to Redis)
#
# and the same for a lock-details read (GET /v1/vouchers/{code} for bare and
# nginx) and a release (DELETE …/sessions/{key}). For each:
#
#   * saturation (wrk, closed loop, CONNECTIONS keep-alive connections):
#     requests/s and latency, and the headline: CPU microseconds per request
#     of every process (couponbridge, its Redis, nginx, the simulator), read
#     from /proc/PID/stat around the measured window;
#   * the same pinned (taskset): the proxy under test alone on CPU 1, the
#     load, the simulator and Redis on CPU 0;
#   * open loop (benches/openloop.rs, wrk2's schedule): a fixed rate of half
#     nginx's measured validation capacity, percentiles corrected for
#     coordinated omission, reported as added over the bare simulator;
#   * couponbridge's Voucherify calls and lock-store round trips per
#     Gameball operation (its own /metrics), and the Redis commands those
#     ran (Redis INFO commandstats);
#
# plus, to see two levers in the same run, a locking validation through an
# instance speaking h2c to the simulator (http2 = "always") and a lock
# details read through one with the definitions cache off; the simulator
# alone on one core; couponbridge's start-up time; and its resident memory
# per idle keep-alive connection at 1,000 and 10,000.
#
# Output in $OUT (default bench-results/): results.json, table.md,
# latency.png and the logs. Installs nginx, wrk, redis-server, gnuplot and
# python3 with apt-get when they are missing. BIN=path benchmarks
# an already built couponbridge instead of building this checkout;
# HTTP2=always makes couponbridge speak h2c to the simulator. About 3
# minutes with a built binary; from a clean checkout add the one release
# build of both binaries (4.5 to 5 minutes on two shared cores).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

# 4 s: 75,000 to 400,000 requests per scenario at these rates, enough for CPU
# per request to settle, and the whole run fits in 10 minutes from a clean
# checkout.
DURATION=${DURATION:-4s}
WARMUP=${WARMUP:-1s}
CONNECTIONS=${CONNECTIONS:-32}
WRK_THREADS=${WRK_THREADS:-1}
OUT=${OUT:-$ROOT/bench-results}
BASE_PORT=${BASE_PORT:-19000}
HTTP2=${HTTP2:-}
# LEGACY=1: the binary predates http2/definitions_ttl (a "before" run):
# no h2c or cache-off instance.
LEGACY=${LEGACY:-}
SIM_PORT=$((BASE_PORT + 90))
NGINX_PORT=$((BASE_PORT + 92))
CB_PORT=$((BASE_PORT + 80))
CB_ADMIN_PORT=$((BASE_PORT + 81))
CB2_PORT=$((BASE_PORT + 82))
CB3_PORT=$((BASE_PORT + 84))
CB3_ADMIN_PORT=$((BASE_PORT + 85))
CB4_PORT=$((BASE_PORT + 86))
CB4_ADMIN_PORT=$((BASE_PORT + 87))
REDIS_PORT=$((BASE_PORT + 79))
export CB_HTTP2=$HTTP2

source benches/common.sh
need nginx:nginx wrk:wrk redis-server:redis-server redis-cli:redis-tools gnuplot:gnuplot-nox python3:python3 taskset:util-linux
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
# 10,000 idle connections need as many descriptors, in couponbridge and
# in the client that opens them.
ulimit -n "$(ulimit -Hn)"

# The open-loop generator (benches/openloop.rs, the bench-tools feature's
# binary) always from this checkout, even when BIN is an older couponbridge
# (it builds the crate's library too, whose dependencies it shares);
# otherwise both from the one build, sharing every compiled dependency.
# The shipped build (Cargo.toml's dist profile: fat LTO, one codegen unit).
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}/dist
if [ -z "${BIN:-}" ]; then
  echo "building couponbridge and the open-loop generator (the dist profile)"
  cargo build --profile dist --features bench-tools --bin couponbridge --bin openloop -q
  BIN=$TARGET/couponbridge
else
  echo "building the open-loop generator (the dist profile)"
  cargo build --profile dist --features bench-tools --bin openloop -q
fi
OPENLOOP=$TARGET/openloop
CLK_TCK=$(getconf CLK_TCK)
CPUS=$(nproc)

RUN=$OUT/run
rm -rf "$OUT"
mkdir -p "$RUN/nginx/logs"
RESULTS=$OUT/results.jsonl
MEASURES=$OUT/measures.jsonl
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

cat >"$RUN/vouchers.json" <<'JSON'
[{"code": "SAVE10", "type": "DISCOUNT_VOUCHER",
  "discount": {"type": "PERCENT", "percent_off": 10, "amount_limit": 5000, "effect": "APPLY_TO_ORDER"}}]
JSON

redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$RUN/redis.log" 2>&1 &
REDIS_PID=$!
PIDS+=($REDIS_PID)

# Every scenario that takes locks starts from an empty simulator and an
# empty Redis, so no scenario pays for the state an earlier one left.
SIM_PID=""
fresh_upstream() { # [extra simulate flags]
  if [ -n "$SIM_PID" ]; then kill "$SIM_PID" 2>/dev/null || true; wait "$SIM_PID" 2>/dev/null || true; fi
  "$BIN" simulate --listen "127.0.0.1:$SIM_PORT" --vouchers "$RUN/vouchers.json" "$@" >>"$RUN/sim.log" 2>&1 &
  SIM_PID=$!
  PIDS+=($SIM_PID)
  wait_port "$SIM_PORT"
  redis-cli -p "$REDIS_PORT" flushall >/dev/null
}

cat >"$RUN/nginx/nginx.conf" <<NGINX
worker_processes 1;
error_log $RUN/nginx/logs/error.log warn;
pid $RUN/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  # Neither side's keep-alive connections end every 1,000 requests (the
  # default): couponbridge keeps its own open, so should nginx.
  keepalive_requests 1000000;
  upstream simulator { server 127.0.0.1:$SIM_PORT; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://simulator;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
NGINX
"$NGINX" -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" -g 'daemon off;' >"$RUN/nginx.log" 2>&1 &
NGINX_PID=$!
PIDS+=($NGINX_PID)

bench_config "$CB_PORT" "$CB_ADMIN_PORT" >"$RUN/couponbridge.toml"
bench_config "$CB2_PORT" "$((CB_ADMIN_PORT + 10))" >"$RUN/couponbridge-startup.toml"
CB_HTTP2=always bench_config "$CB3_PORT" "$CB3_ADMIN_PORT" >"$RUN/couponbridge-h2c.toml"
CB_DEFINITIONS_TTL=0s bench_config "$CB4_PORT" "$CB4_ADMIN_PORT" >"$RUN/couponbridge-nocache.toml"
wait_port "$REDIS_PORT"
fresh_upstream
wait_port "$NGINX_PORT"
"$BIN" serve --config "$RUN/couponbridge.toml" >"$RUN/couponbridge.log" 2>&1 &
CB_PID=$!
PIDS+=($CB_PID)
wait_port "$CB_PORT"
wait_port "$CB_ADMIN_PORT"
if [ -z "$LEGACY" ]; then
# Two more instances, idle except in their own scenario: one speaking h2c to the simulator (http2 = "always"),
# (the lever's before/after in one run).
"$BIN" serve --config "$RUN/couponbridge-h2c.toml" >"$RUN/couponbridge-h2c.log" 2>&1 &
CB3_PID=$!
PIDS+=($CB3_PID)
wait_port "$CB3_PORT"
# And one that reads every definition from Voucherify (definitions_ttl = 0).
"$BIN" serve --config "$RUN/couponbridge-nocache.toml" >"$RUN/couponbridge-nocache.log" 2>&1 &
CB4_PID=$!
PIDS+=($CB4_PID)
wait_port "$CB4_PORT"
else
  CB3_PID="" CB4_PID="" CB3_ADMIN_PORT="" CB4_ADMIN_PORT=""
fi

# CPU time (utime + stime, every thread) of processes, in clock ticks.
ticks() { # pid...
  local total=0 t
  for p in "$@"; do
    [ -n "$p" ] || continue
    t=$(awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$p/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}
nginx_pids() { echo "$NGINX_PID" $(pgrep -P "$NGINX_PID" || true); }
# The four processes, as "name=ticks ...".
snapshot() {
  echo "couponbridge=$(ticks "$CB_PID" "$CB3_PID" "$CB4_PID") redis=$(ticks "$REDIS_PID") nginx=$(ticks $(nginx_pids)) simulator=$(ticks "$SIM_PID")"
}
# Calls to Voucherify, Gameball requests answered and lock-store calls
# (round trips to Redis), from couponbridge's own /metrics.
cb_counts() {
  python3 - "$CB_ADMIN_PORT" "$CB3_ADMIN_PORT" "$CB4_ADMIN_PORT" <<'PY'
import sys, urllib.request
text = "\n".join(urllib.request.urlopen(f"http://127.0.0.1:{p}/metrics").read().decode() for p in sys.argv[1:] if p)
def total(prefix):
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith(prefix))
print(int(total("couponbridge_voucherify_request_duration_seconds_count")), int(total("couponbridge_requests_total")),
      int(total("couponbridge_lock_store_call_duration_seconds_count")))
PY
}
# Per command: "name=calls:usec ..." (a script's inner commands are counted
# both in the script's time and as themselves).
redis_cmdstats() {
  redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' |
    awk -F'[:,=]' '/^cmdstat_/ {sub(/^cmdstat_/, "", $1); printf "%s=%s:%s ", $1, $3, $5}'
}

# pin CPU-LIST pid... (every thread); "" undoes it.
pin() {
  local cpus=$1; shift
  [ -n "$cpus" ] || cpus="0-$((CPUS - 1))"
  for p in "$@"; do taskset -a -p -c "$cpus" "$p" >/dev/null 2>&1 || true; done
}
# The load generator's own pinning (empty: none).
LOAD_CPUS=""
load() { if [ -n "$LOAD_CPUS" ]; then taskset -c "$LOAD_CPUS" "$@"; else "$@"; fi; }

scenario() { # name kind port [refs-file]
  local name=$1 kind=$2 port=$3 refs=${4:-}
  echo "  $name"
  KIND=$kind NAME=$name OUT=/dev/null REFS=$refs \
    load wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s benches/wrk/scenario.lua "http://127.0.0.1:$port" >/dev/null
  local before after vf0 gb0 sc0 vf1 gb1 sc1 cs0 cs1
  read -r vf0 gb0 sc0 < <(cb_counts)
  cs0=$(redis_cmdstats)
  before=$(snapshot)
  KIND=$kind NAME=$name OUT=$RESULTS REFS=$refs \
    load wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s benches/wrk/scenario.lua "http://127.0.0.1:$port" \
    >"$RUN/wrk-$name.txt"
  after=$(snapshot)
  cs1=$(redis_cmdstats)
  read -r vf1 gb1 sc1 < <(cb_counts)
  echo "{\"name\": \"$name\", \"before\": \"$before\", \"after\": \"$after\", \"clk_tck\": $CLK_TCK," \
    "\"vf_calls\": $((vf1 - vf0)), \"gb_requests\": $((gb1 - gb0)), \"store_calls\": $((sc1 - sc0)), \"cmdstats_before\": \"$cs0\", \"cmdstats_after\": \"$cs1\"}" >>"$MEASURES"
}

# open-loop NAME METHOD PORT PATH HEADERS-KIND [BODY]
open_loop() {
  local name=$1 method=$2 port=$3 path=$4 who=$5 body=${6:-}
  local h=()
  if [ "$who" = gb ]; then h=(-H "apikey: bench-api-key" -H "secretkey: bench-secret-key");
  else h=(-H "x-app-id: sim-app-id" -H "x-app-token: sim-app-token"); fi
  [ -n "$body" ] && h+=(-d "$body")
  echo "  $name (open loop, $RATE/s)"
  load "$OPENLOOP" --duration "$DURATION" --connections "$CONNECTIONS" --rate "$RATE" \
    -X "$method" "${h[@]}" "http://127.0.0.1:$port$path" >"$RUN/openloop-$name.json" 2>"$RUN/openloop-$name.err" || true
  python3 - "$name" "$RUN/openloop-$name.json" "$OUT/openloop.jsonl" <<'PY'
import json, sys
name, src, out = sys.argv[1:]
try:
    row = {"name": name, **json.load(open(src))}
except Exception as e:
    print(f"    the open-loop generator gave no result ({e})"); sys.exit(0)
open(out, "a").write(json.dumps(row) + "\n")
PY
}

VALIDATE_BODY='{"customerId":"bench","coupons":["SAVE10"],"lock":true,"totalPurchaseAmount":250}'
VF_VALIDATE_BODY='{"redeemables":[{"object":"voucher","id":"SAVE10"}],"customer":{"source_id":"bench"},"order":{"amount":25000},"session":{"type":"LOCK","key":"bench-open-loop","ttl":10,"ttl_unit":"MINUTES"}}'

make_refs() { # lock references and session keys for the read and release scenarios
  python3 - "$RUN" "$CB_PORT" "$SIM_PORT" <<'PY'
import http.client, json, sys
run, cb, sim = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
gb = http.client.HTTPConnection("127.0.0.1", cb)
vf = http.client.HTTPConnection("127.0.0.1", sim)
refs, keys = [], []
for i in range(2000):
    gb.request("POST", "/api/v4.0/integrations/coupons/validate",
               body=json.dumps({"customerId": f"setup-{i}", "coupons": ["SAVE10"], "lock": True}),
               headers={"apikey": "bench-api-key", "secretkey": "bench-secret-key", "content-type": "application/json"})
    refs.append(json.loads(gb.getresponse().read())["validCoupons"][0]["lockReference"])
    key = f"setup-session-{i}"
    vf.request("POST", "/v1/validations", body=json.dumps({
        "redeemables": [{"object": "voucher", "id": "SAVE10"}],
        "session": {"type": "LOCK", "key": key, "ttl": 10, "ttl_unit": "MINUTES"}}),
        headers={"x-app-id": "sim-app-id", "x-app-token": "sim-app-token", "content-type": "application/json"})
    vf.getresponse().read()
    keys.append(key)
open(f"{run}/refs.txt", "w").write("\n".join(refs) + "\n")
open(f"{run}/keys.txt", "w").write("\n".join(keys) + "\n")
PY
}

# suite SUFFIX: the nine saturation scenarios (names get SUFFIX).
suite() {
  local s=$1
  fresh_upstream; pin "${SIM_CPUS:-}" "$SIM_PID"
  scenario "bare-validate$s" vf_validate "$SIM_PORT"
  fresh_upstream; pin "${SIM_CPUS:-}" "$SIM_PID"
  scenario "nginx-validate$s" vf_validate "$NGINX_PORT"
  fresh_upstream; pin "${SIM_CPUS:-}" "$SIM_PID"
  scenario "couponbridge-validate$s" gb_validate "$CB_PORT"
  fresh_upstream; pin "${SIM_CPUS:-}" "$SIM_PID"
  make_refs
  scenario "bare-details$s" vf_details "$SIM_PORT"
  scenario "nginx-details$s" vf_details "$NGINX_PORT"
  scenario "couponbridge-details$s" gb_details "$CB_PORT" "$RUN/refs.txt"
  [ -n "$s" ] || [ -n "$LEGACY" ] || scenario couponbridge-details-nocache gb_details "$CB4_PORT" "$RUN/refs.txt"
  scenario "bare-release$s" vf_release "$SIM_PORT" "$RUN/keys.txt"
  scenario "nginx-release$s" vf_release "$NGINX_PORT" "$RUN/keys.txt"
  scenario "couponbridge-release$s" gb_release "$CB_PORT" "$RUN/refs.txt"
}

echo "saturation, unpinned ($CONNECTIONS connections, $DURATION each after $WARMUP of warm-up)"
suite ""
if [ -z "$LEGACY" ]; then
  fresh_upstream
  scenario couponbridge-validate-h2c gb_validate "$CB3_PORT"
fi

if [ "$CPUS" -ge 2 ]; then
  echo "saturation, pinned: the proxy under test on CPU 1, everything else on CPU 0"
  pin 1 "$CB_PID" $(nginx_pids)
  pin 0 "$REDIS_PID"
  SIM_CPUS=0 LOAD_CPUS=0 suite "-pinned"
  pin "" "$CB_PID" "$REDIS_PID" $(nginx_pids)
fi

RATE=$(python3 -c "
import json
rows = {r['name']: r for r in map(json.loads, open('$RESULTS'))}
print(max(100, int(rows['nginx-validate']['rps'] / 2)))")
echo "open loop at $RATE requests/s (half of nginx's validation capacity), coordinated-omission corrected"
fresh_upstream
open_loop bare-validate POST "$SIM_PORT" /v1/validations vf "$VF_VALIDATE_BODY"
fresh_upstream
open_loop nginx-validate POST "$NGINX_PORT" /v1/validations vf "$VF_VALIDATE_BODY"
fresh_upstream
open_loop couponbridge-validate POST "$CB_PORT" /api/v4.0/integrations/coupons/validate gb "$VALIDATE_BODY"
fresh_upstream
make_refs
REF=$(head -1 "$RUN/refs.txt")
open_loop bare-details GET "$SIM_PORT" /v1/vouchers/SAVE10 vf
open_loop nginx-details GET "$NGINX_PORT" /v1/vouchers/SAVE10 vf
open_loop couponbridge-details GET "$CB_PORT" "/api/v4.0/integrations/locks/$REF" gb

# The simulator alone with one worker thread (locking validations per
# second on one core).
fresh_upstream --threads 1
scenario simulator-1-thread vf_validate "$SIM_PORT"

# Start-up: from exec to accepting connections (Redis is up), polled
# every 0.2 ms; the instance stays up for the memory burst below.
read -r STARTUP_MS CB2_PID < <(python3 - "$BIN" "$RUN/couponbridge-startup.toml" "$CB2_PORT" "$RUN/couponbridge-startup.log" <<'PY'
import socket, subprocess, sys, time
binary, config, port, log = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
start = time.monotonic()
p = subprocess.Popen([binary, "serve", "--config", config], stdout=open(log, "w"), stderr=subprocess.STDOUT,
                     start_new_session=True)
while True:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        break
    except OSError:
        time.sleep(0.0002)
print(round((time.monotonic() - start) * 1000, 1), p.pid)
PY
)
PIDS+=($CB2_PID)

# Memory per idle keep-alive connection (each served one request), at
# 1,000 and 10,000 connections. Idle connections accumulate: they are
# opened in batches (100 at a time up to 1,000, then 1,000 at a time), a
# pause after each batch long enough for it to be parked, so the figure is
# what an idle connection holds. The same 1,000 opened in one burst, on the
# start-up instance, shows the peak instead (every connection in hyper at
# once; the allocator keeps that memory for reuse).
echo "memory: 1,000 and 10,000 idle keep-alive connections"
python3 - "$CB_PID" "$CB_PORT" "$CB2_PID" "$CB2_PORT" "$STARTUP_MS" "$OUT/memory.json" <<'PY'
import json, resource, socket, sys, time
pid, port, pid2, port2 = map(int, sys.argv[1:5])
startup_ms = float(sys.argv[5])
out = sys.argv[6]
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
PARK = 1.5  # > net::server::PARK_AFTER
def rss_kib(p):
    for line in open(f"/proc/{p}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
request = (b"GET /api/v4.0/integrations/locks/00000000000000000000000000000000 HTTP/1.1\r\n"
           b"Host: bench\r\napikey: bench-api-key\r\nsecretkey: bench-secret-key\r\n\r\n")
def connect(p):
    s = socket.create_connection(("127.0.0.1", p))
    s.sendall(request)
    s.recv(65536)
    return s
result = {"startup_ms": startup_ms, "rss_before_kib": rss_kib(pid)}
socks = []
try:
    for n, batch in ((1000, 100), (10000, 1000)):
        while len(socks) < n:
            socks += [connect(port) for _ in range(batch)]
            time.sleep(PARK)
        after = rss_kib(pid)
        result[f"rss_with_{n}_idle_kib"] = after
        result[f"per_connection_kib_{n}"] = round((after - result["rss_before_kib"]) / n, 2)
except OSError as e:
    result["error"] = str(e)
before2 = rss_kib(pid2)
burst = [connect(port2) for _ in range(1000)]
time.sleep(PARK)
result["burst_rss_before_kib"] = before2
result["burst_per_connection_kib_1000"] = round((rss_kib(pid2) - before2) / 1000, 2)
json.dump(result, open(out, "w"))
for s in socks + burst:
    s.close()
PY

python3 benches/report.py "$OUT" "$RATE" "${HTTP2:-auto}"

gnuplot <<GNUPLOT
set terminal pngcairo size 1000,560 noenhanced font ",11"
set output "$OUT/latency.png"
set title "Latency by percentile, $CONNECTIONS connections, all on one 2-core machine (saturation)"
set logscale x
set xtics ("50%%" 2, "90%%" 10, "99%%" 100, "99.9%%" 1000, "99.99%%" 10000)
set xlabel "percentile"
set ylabel "latency (ms)"
set key top left
set grid
plot "$OUT/spectrum-bare-validate.dat" using 1:2 with linespoints title "bare: simulator, locking validation", \
     "$OUT/spectrum-nginx-validate.dat" using 1:2 with linespoints title "nginx proxy_pass → simulator", \
     "$OUT/spectrum-couponbridge-validate.dat" using 1:2 with linespoints title "couponbridge validate+lock → simulator + Redis", \
     "$OUT/spectrum-couponbridge-details.dat" using 1:2 with linespoints dashtype 2 title "couponbridge lock details", \
     "$OUT/spectrum-couponbridge-release.dat" using 1:2 with linespoints dashtype 3 lc rgb "#b03030" title "couponbridge release"
GNUPLOT
echo "results: $OUT/results.json, $OUT/table.md, $OUT/latency.png"
