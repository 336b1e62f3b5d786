# Shared by compare.sh and profile.sh: tool installation, port waits, and
# the couponbridge configuration both benchmark, so a profile explains the
# figures compare.sh reports.

need() { # cmd:package...
  local missing=()
  for tool in "$@"; do
    IFS=: read -r cmd pkg <<<"$tool"
    command -v "$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$cmd" ] || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

wait_port() { # port
  for _ in $(seq 1 400); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.025
  done
  echo "nothing listens on port $1" >&2
  return 1
}

bench_config() { # port admin-port ("" for none); uses REDIS_PORT, SIM_PORT, CB_HTTP2 and CB_DEFINITIONS_TTL
  local admin="enabled = false"
  [ -n "$2" ] && admin="listen = \"127.0.0.1:$2\""
  cat <<TOML
[server]
listen = "127.0.0.1:$1"
header_read_timeout = "60s"
# One worker, like nginx's one worker process: on two cores shared with
# wrk, the simulator and Redis, a second thread only adds wake-ups.
worker_threads = 1
# The memory measure holds 10,000 idle connections.
max_connections = 20000
[admin]
$admin
[store]
url = "redis://127.0.0.1:$REDIS_PORT/0"
[locks]
retention = "10m"
[log]
level = "warn"
[tenants.bench]
api_key = "bench-api-key"
secret_key = "bench-secret-key"
[tenants.bench.voucherify]
base_url = "http://127.0.0.1:$SIM_PORT"
app_id = "sim-app-id"
app_token = "sim-app-token"
${CB_HTTP2:+http2 = \"$CB_HTTP2\"}
${CB_DEFINITIONS_TTL:+definitions_ttl = \"$CB_DEFINITIONS_TTL\"}
TOML
}
