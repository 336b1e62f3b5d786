#!/usr/bin/env bash
# Instructions per Gameball call, counted by callgrind: a locking validation,
# a lock-details read (cache warm) and a release, through the same stack as
# compare.sh (simulator, Redis, couponbridge with one worker).
#
#   benches/instructions.sh                       # builds the dist profile
#   BIN=old/couponbridge benches/instructions.sh  # any other build
#   N=300                                         # calls counted per operation
#
# Unlike CPU time on this shared machine (±20 % between runs), the count is
# the same to a fraction of a per cent run after run, so two builds can be
# compared a few per cent apart. It counts couponbridge's user-space
# instructions only: not the kernel's share of its sockets (about half its
# CPU on loopback, see docs/performance.md), not Redis nor the simulator. And
# under valgrind code that picks CPU features at run time takes the portable
# path (SHA-256 without the SHA extensions, for one), so such code weighs more
# here than on the CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${N:-300}
OUT=${OUT:-$ROOT/bench-results/instructions}
BASE_PORT=${BASE_PORT:-19700}
REDIS_PORT=$((BASE_PORT + 1)) SIM_PORT=$((BASE_PORT + 2)) CB_PORT=$((BASE_PORT + 3))
source benches/common.sh
need valgrind:valgrind redis-server:redis-server
if [ -z "${BIN:-}" ]; then
  cargo build --profile dist --bin couponbridge -q
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/dist/couponbridge
fi
rm -rf "$OUT"; mkdir -p "$OUT"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT

echo '[{"code": "SAVE10", "type": "DISCOUNT_VOUCHER", "discount": {"type": "PERCENT", "percent_off": 10, "amount_limit": 5000, "effect": "APPLY_TO_ORDER"}}]' >"$OUT/vouchers.json"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >"$OUT/redis.log" 2>&1 & PIDS+=($!)
"$BIN" simulate --listen "127.0.0.1:$SIM_PORT" --vouchers "$OUT/vouchers.json" >"$OUT/sim.log" 2>&1 & PIDS+=($!)
bench_config "$CB_PORT" "" >"$OUT/couponbridge.toml"
wait_port "$REDIS_PORT"; wait_port "$SIM_PORT"
# Counting starts switched off: start-up and the warm-up are not counted.
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$OUT/callgrind.%p" \
  "$BIN" serve --config "$OUT/couponbridge.toml" >"$OUT/couponbridge.log" 2>&1 & CB=$!; PIDS+=($CB)

python3 - "$CB_PORT" "$N" "$CB" "$OUT" <<'PY'
import glob, http.client, json, subprocess, sys, time
port, n, pid, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
deadline = time.monotonic() + 120  # valgrind starts slowly
while True:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        c.request("GET", "/"); c.getresponse().read(); break
    except OSError:
        if time.monotonic() > deadline: sys.exit("couponbridge did not start under valgrind")
        time.sleep(0.2)
H = {"apikey": "bench-api-key", "secretkey": "bench-secret-key", "content-type": "application/json"}
BODY = json.dumps({"customerId": "bench", "coupons": ["SAVE10"], "lock": True, "totalPurchaseAmount": 250})
def call(method, path, body=None):
    c.request(method, path, body, H); r = c.getresponse(); d = r.read()
    if r.status != 200: sys.exit(f"{method} {path}: {r.status} {d[:200]!r}")
    return d
def validate(_=None):
    return json.loads(call("POST", "/api/v4.0/integrations/coupons/validate", BODY))["validCoupons"][0]["lockReference"]
refs = [validate() for _ in range(100)]
for r in refs: call("GET", f"/api/v4.0/integrations/locks/{r}")
def control(*args): subprocess.run(["callgrind_control", *args, pid], check=True, capture_output=True)
def counted(name, f):
    control("-z"); control("-i", "on")
    for i in range(n): f(i)
    control("-i", "off"); control("-d", name)
    time.sleep(0.5)
    dumps = sorted(glob.glob(f"{out}/callgrind.{pid}.*"), key=lambda p: int(p.rsplit(".", 1)[1]))
    return next(int(l.split()[1]) for l in open(dumps[-1]) if l.startswith("totals:"))
validate_ir = counted("validate", validate)
details_ir = counted("details", lambda i: call("GET", f"/api/v4.0/integrations/locks/{refs[i % len(refs)]}"))
# A release needs a fresh lock each time: validate-and-release, less a validation.
both_ir = counted("validate+release", lambda i: call("DELETE", f"/api/v4.0/integrations/coupons/{validate()}"))
result = {"calls": n, "validate": round(validate_ir / n), "details": round(details_ir / n),
          "release": round((both_ir - validate_ir) / n)}
json.dump(result, open(f"{out}/instructions.json", "w"))
print(f"instructions per call ({n} each): validate {result['validate']:,}  details {result['details']:,}  release {result['release']:,}")
PY
echo "callgrind dumps: $OUT/callgrind.$CB.* (callgrind_annotate FILE)"
