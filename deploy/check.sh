#!/usr/bin/env bash
# Validates everything in deploy/, offline once its tools are installed:
#   promtool check rules   deploy/prometheus/*.yaml (syntax, PromQL, templates)
#   promtool test rules    deploy/prometheus/tests/*.yaml (each alert fires when it should)
#   kubernetes-validate    deploy/kubernetes/*.yaml, strict, against Kubernetes 1.25 and 1.37
#   check-jsonschema       deploy/compose.yaml against the Compose Specification schema
#   kubectl kustomize      deploy/kubernetes builds (only where kubectl is installed)
#   couponbridge check-config  deploy/couponbridge.toml with the example env file: its
#                          placeholders refused, and valid once filled in (only where a
#                          couponbridge binary at least as new as src/ exists)
#   Dockerfile dependency stage  Cargo.toml and Cargo.lock load with stub
#                          sources only, --locked (as that stage builds them)
#   deploy/test_deploy.py  the files name couponbridge's real metrics, labels, paths,
#                          ports, config keys and drain timings (read from src/)
# Installs what is missing: promtool (Debian package prometheus, with apt-get)
# and a venv with deploy/requirements.txt (target/deploy-venv, from PyPI).
# Needs no Docker and no cluster. Exit status 1 when any check fails (all run).
#
# Env: DEPLOY_VENV     venv directory (default: <repo>/target/deploy-venv)
#      PYTHON          interpreter to build it from (default: python3, 3.11 or newer)
#      COUPONBRIDGE_BIN  couponbridge binary for check-config (default: the newest in target/)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$repo"
venv="${DEPLOY_VENV:-$repo/target/deploy-venv}"
req="$here/requirements.txt"
python="${PYTHON:-python3}"
stamp="$venv/.requirements.sha256"

log() { echo "check.sh: $*" >&2; }
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
apt_install() {
    log "installing $* with apt-get"
    local out
    if [ -z "$apt_updated" ]; then
        out="$(sudo_if_needed apt-get update -qq 2>&1)" || { echo "$out" >&2; return 1; }
        apt_updated=1
    fi
    out="$(sudo_if_needed env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$@" 2>&1)" || { echo "$out" >&2; return 1; }
}

# Installs without starting the services a package brings (the prometheus
# package would start a Prometheus server): policy-rc.d answers "not allowed"
# while the install runs, as in container image builds.
apt_install_no_start() {
    local created="" rc=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | sudo_if_needed tee /usr/sbin/policy-rc.d >/dev/null
        sudo_if_needed chmod 755 /usr/sbin/policy-rc.d
        created=1
    fi
    apt_install "$@" || rc=$?
    [ -z "$created" ] || sudo_if_needed rm -f /usr/sbin/policy-rc.d
    return "$rc"
}

# --- tools -----------------------------------------------------------------
command -v promtool >/dev/null 2>&1 || apt_install_no_start prometheus

if ! command -v "$python" >/dev/null 2>&1; then
    [ "$python" = python3 ] || { log "PYTHON=$python not found"; exit 1; }
    apt_install python3 python3-venv
fi
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { log "$python is older than 3.11 (test_deploy.py needs tomllib)"; exit 1; }

mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
want="$(sha256sum "$req" | cut -d' ' -f1)"
if ! { [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] \
        && "$venv/bin/python" -c 'import yaml, kubernetes_validate, check_jsonschema' 2>/dev/null; }; then
    if ! { [ -x "$venv/bin/python" ] && "$venv/bin/python" -m pip --version >/dev/null 2>&1; }; then
        rm -rf "$venv"
        if ! "$python" -m venv "$venv" >&2; then
            rm -rf "$venv"
            apt_install python3-venv    # Debian ships ensurepip there
            "$python" -m venv "$venv" >&2
        fi
    fi
    log "installing deploy/requirements.txt into $venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q \
        --only-binary=:all: -r "$req" >&2
    echo "$want" >"$stamp"
fi
exec 9>&-

# --- checks ----------------------------------------------------------------
passed=0
failed=0
failures=()
check() {
    local name="$1"
    shift
    echo "== $name"
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "FAILED: $name"
    fi
}
skip() { echo "== $1"; echo "skipped: $2"; }

k8s_files=()
for f in deploy/kubernetes/*.yaml; do
    [ "$(basename "$f")" = kustomization.yaml ] || k8s_files+=("$f")
done

check "promtool check rules" promtool check rules deploy/prometheus/*.yaml
check "promtool test rules" promtool test rules deploy/prometheus/tests/*.yaml
for v in 1.25.0 1.37.0; do
    check "kubernetes-validate --strict (Kubernetes $v)" \
        "$venv/bin/kubernetes-validate" --strict --kubernetes-version "$v" "${k8s_files[@]}"
done
check "check-jsonschema compose.yaml (Compose Specification)" \
    "$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose.yaml

if command -v kubectl >/dev/null 2>&1 && kubectl kustomize --help >/dev/null 2>&1; then
    check "kubectl kustomize deploy/kubernetes" \
        bash -c 'kubectl kustomize deploy/kubernetes >/dev/null && echo "builds"'
else
    skip "kubectl kustomize deploy/kubernetes" "kubectl is not installed (test_deploy.py checks the resource list)"
fi

bin="${COUPONBRIDGE_BIN:-}"
if [ -z "$bin" ]; then
    bin="$(ls -t target/release/couponbridge target/dist/couponbridge target/debug/couponbridge 2>/dev/null | head -n 1 || true)"
fi
if [ -z "$bin" ] || [ ! -x "$bin" ]; then
    skip "couponbridge check-config" "no couponbridge binary in target/ (cargo build, or set COUPONBRIDGE_BIN)"
elif [ -z "${COUPONBRIDGE_BIN:-}" ] && [ -n "$(find src Cargo.toml -newer "$bin" -print -quit)" ]; then
    skip "couponbridge check-config" "$bin is older than src/ (rebuild it, or set COUPONBRIDGE_BIN)"
else
    # With the example env file and nothing else from the caller's
    # environment: as shipped, its placeholder secrets are refused (and
    # nothing else is wrong); filled in, the configuration is valid.
    mapfile -t example_env < <(grep -E '^COUPONBRIDGE_[A-Z0-9_]+=' deploy/couponbridge.env.example)
    mapfile -t filled_env < <(printf '%s\n' "${example_env[@]}" | sed 's/=change-me$/=check-sh-example-value/')
    check_config() {
        local refused
        refused="$(env -i "${example_env[@]}" "$bin" check-config --config deploy/couponbridge.toml 2>/dev/null || true)"
        if [ -z "$refused" ] || grep -v 'is a placeholder' <<<"$refused"; then
            echo "the example env file's placeholders were not refused, or more was wrong: $refused"
            return 1
        fi
        env -i "${filled_env[@]}" "$bin" check-config --config deploy/couponbridge.toml
    }
    check "couponbridge check-config deploy/couponbridge.toml ($bin)" check_config
fi

# The Dockerfile's dependency stage sees only Cargo.toml, Cargo.lock and stub
# sources: the manifest must load there, with the lock file as it is
# (--locked). Asking for a binary that does not exist stops cargo right after
# it has loaded the manifest and selected targets, before compiling anything.
docker_dependency_stage() {
    local dir out
    dir="$(mktemp -d)"
    cp Cargo.toml Cargo.lock "$dir/"
    mkdir "$dir/src"
    echo 'fn main() {}' >"$dir/src/main.rs"
    touch "$dir/src/lib.rs"
    out="$(cd "$dir" && CARGO_TARGET_DIR="$dir/target" cargo build --release --locked --bin dockerfile-stage-probe 2>&1)" || true
    rm -rf "$dir"
    if grep -q "no bin target named" <<<"$out"; then
        echo "manifest loads"
    else
        echo "$out"
        return 1
    fi
}
check "Dockerfile dependency stage (Cargo.toml with stub sources)" docker_dependency_stage

check "test_deploy.py (names, paths, ports, timings against src/)" "$venv/bin/python" deploy/test_deploy.py

echo
if [ "$failed" -gt 0 ]; then
    printf 'failed: %s\n' "${failures[@]}"
fi
echo "deploy checks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
