#!/usr/bin/env bash
# couponbridge against nginx and the bare upstream, in one run.
#
#   benches/compare.sh            # DURATION=10s WARMUP=3s CONNECTIONS=50 by default
#
# Everything runs on loopback on this machine: wrk (the load), the
# Voucherify simulator (the upstream), Redis, nginx and couponbridge share
# the same cores, so read the results as ratios between scenarios of one
# run, not as absolute capacity. Scenarios, one after another, same load:
#
#   bare          wrk → simulator                    (POST /v1/validations with a LOCK session)
#   nginx         wrk → nginx proxy_pass → simulator (the same request, keep-alive upstream pool)
#   couponbridge  wrk → couponbridge → simulator     (POST …/coupons/validate lock:true, lock written to Redis)
#
# and the same for a lock-details read (GET /v1/vouchers/{code} for bare and
# nginx) and a release (DELETE …/sessions/{key}). Also: the simulator alone
# on one core, couponbridge's start-up time and its memory with 1,000 idle
# keep-alive connections.
#
# Output in $OUT (default bench-results/): results.json, table.md,
# latency.png and the logs. Installs nginx, wrk, redis-server, gnuplot and
# python3 with apt-get when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
CONNECTIONS=${CONNECTIONS:-50}
WRK_THREADS=${WRK_THREADS:-1}
OUT=${OUT:-$ROOT/bench-results}
BASE_PORT=${BASE_PORT:-19000}
SIM_PORT=$((BASE_PORT + 90))
NGINX_PORT=$((BASE_PORT + 92))
CB_PORT=$((BASE_PORT + 80))
CB_ADMIN_PORT=$((BASE_PORT + 81))
CB2_PORT=$((BASE_PORT + 82))
REDIS_PORT=$((BASE_PORT + 79))

source benches/common.sh
need nginx:nginx wrk:wrk redis-server:redis-server gnuplot:gnuplot-nox python3:python3
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

echo "building couponbridge (release)"
cargo build --release --bin couponbridge -q
BIN=$ROOT/target/release/couponbridge

RUN=$OUT/run
rm -rf "$OUT"
mkdir -p "$RUN/nginx/logs"
RESULTS=$OUT/results.jsonl
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
PIDS+=($!)

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
  upstream simulator { server 127.0.0.1:$SIM_PORT; keepalive 64; }
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
PIDS+=($!)

bench_config "$CB_PORT" "$CB_ADMIN_PORT" >"$RUN/couponbridge.toml"
bench_config "$CB2_PORT" "$((CB_ADMIN_PORT + 10))" >"$RUN/couponbridge-startup.toml"
wait_port "$REDIS_PORT"
fresh_upstream
wait_port "$NGINX_PORT"
"$BIN" serve --config "$RUN/couponbridge.toml" >"$RUN/couponbridge.log" 2>&1 &
CB_PID=$!
PIDS+=($CB_PID)
wait_port "$CB_PORT"

scenario() { # name kind port [refs-file]
  local name=$1 kind=$2 port=$3 refs=${4:-}
  echo "  $name"
  KIND=$kind NAME=$name OUT=/dev/null REFS=$refs \
    wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$WARMUP" -s benches/wrk/scenario.lua "http://127.0.0.1:$port" >/dev/null
  KIND=$kind NAME=$name OUT=$RESULTS REFS=$refs \
    wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s benches/wrk/scenario.lua "http://127.0.0.1:$port" \
    >"$RUN/wrk-$name.txt"
}

echo "running scenarios ($CONNECTIONS connections, $DURATION each after $WARMUP of warm-up)"
scenario bare-validate vf_validate "$SIM_PORT"
fresh_upstream
scenario nginx-validate vf_validate "$NGINX_PORT"
fresh_upstream
scenario couponbridge-validate gb_validate "$CB_PORT"

fresh_upstream
# Lock references and session keys for the read and release scenarios.
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

scenario bare-details vf_details "$SIM_PORT"
scenario nginx-details vf_details "$NGINX_PORT"
scenario couponbridge-details gb_details "$CB_PORT" "$RUN/refs.txt"
scenario bare-release vf_release "$SIM_PORT" "$RUN/keys.txt"
scenario nginx-release vf_release "$NGINX_PORT" "$RUN/keys.txt"
scenario couponbridge-release gb_release "$CB_PORT" "$RUN/refs.txt"

# The simulator alone with one worker thread (locking validations per
# second on one core).
fresh_upstream --threads 1
scenario simulator-1-thread vf_validate "$SIM_PORT"

# Start-up: from exec to accepting connections (Redis is up).
START=$(date +%s%N)
"$BIN" serve --config "$RUN/couponbridge-startup.toml" >"$RUN/couponbridge-startup.log" 2>&1 &
PIDS+=($!)
until (exec 3<>"/dev/tcp/127.0.0.1/$CB2_PORT") 2>/dev/null; do sleep 0.001; done
STARTUP_MS=$(( ($(date +%s%N) - START) / 1000000 ))

# Memory with 1,000 idle keep-alive connections (each served one request).
python3 - "$CB_PID" "$CB_PORT" "$STARTUP_MS" "$OUT/memory.json" <<'PY'
import json, resource, socket, sys, time
pid, port, startup_ms, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))
def rss_kib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
before = rss_kib()
request = (b"GET /api/v4.0/integrations/locks/00000000000000000000000000000000 HTTP/1.1\r\n"
           b"Host: bench\r\napikey: bench-api-key\r\nsecretkey: bench-secret-key\r\n\r\n")
socks = []
for _ in range(1000):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(request)
    s.recv(65536)
    socks.append(s)
time.sleep(0.5)
after = rss_kib()
json.dump({"rss_before_kib": before, "rss_with_1000_idle_kib": after,
           "per_connection_kib": round((after - before) / 1000, 2), "startup_ms": startup_ms}, open(out, "w"))
for s in socks:
    s.close()
PY

python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
rows = [json.loads(l) for l in open(f"{out}/results.jsonl")]
by = {r["name"]: r for r in rows}
memory = json.load(open(f"{out}/memory.json"))
ratios = {}
for op in ("validate", "details", "release"):
    cb, ng, bare = by.get(f"couponbridge-{op}"), by.get(f"nginx-{op}"), by.get(f"bare-{op}")
    if cb and ng and bare:
        ratios[op] = {
            "throughput_vs_nginx": round(cb["rps"] / ng["rps"], 3),
            "throughput_vs_bare": round(cb["rps"] / bare["rps"], 3),
            "p99_added_vs_bare_ms": round(cb["p99_ms"] - bare["p99_ms"], 3),
            "p99_added_vs_nginx_ms": round(cb["p99_ms"] - ng["p99_ms"], 3),
        }
json.dump({"scenarios": rows, "ratios": ratios, "memory": memory}, open(f"{out}/results.json", "w"), indent=2)
lines = ["| scenario | requests/s | p50 ms | p99 ms | p99.9 ms | errors |", "|---|---:|---:|---:|---:|---:|"]
for r in rows:
    lines.append(f"| {r['name']} | {r['rps']:,.0f} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | {r['p999_ms']:.3f} | {r['errors']} |")
lines += ["", "| operation | couponbridge/nginx throughput | couponbridge/bare throughput | p99 added vs bare | p99 added vs nginx |",
          "|---|---:|---:|---:|---:|"]
for op, q in ratios.items():
    lines.append(f"| {op} | {q['throughput_vs_nginx']:.2f} | {q['throughput_vs_bare']:.2f} | "
                 f"{q['p99_added_vs_bare_ms']:+.3f} ms | {q['p99_added_vs_nginx_ms']:+.3f} ms |")
lines += ["", f"couponbridge start-up: {memory['startup_ms']} ms; resident memory {memory['rss_before_kib']/1024:.1f} MiB, "
          f"{memory['rss_with_1000_idle_kib']/1024:.1f} MiB with 1,000 idle keep-alive connections "
          f"({memory['per_connection_kib']} KiB each)"]
open(f"{out}/table.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
for r in rows:
    with open(f"{out}/spectrum-{r['name']}.dat", "w") as f:
        for p, ms in r["spectrum"]:
            f.write(f"{1 / (1 - p / 100)} {ms} {p}\n")
PY

gnuplot <<GNUPLOT
set terminal pngcairo size 1000,560 noenhanced font ",11"
set output "$OUT/latency.png"
set title "Latency by percentile, $CONNECTIONS connections, all on one 2-core machine"
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
