#!/usr/bin/env bash
# Creates (or reuses) the Python venv in which the Rust integration tests run
# Gameball's real SDK (gb-alpha, via tests/sdk/gb_alpha_driver.py) and
# Voucherify's official one (voucherify, via tests/sdk/voucherify_driver.py),
# with the packages pinned in tests/sdk/requirements.txt.
#
# Idempotent and safe to run concurrently (flock). Needs network access only to
# PyPI, and to the Debian mirrors when python3 or its venv module is missing.
# Progress goes to stderr; stdout is one line: the venv's python path.
#
# Env: SDK_VENV  venv directory (default: <repo>/target/sdk-venv)
#      PYTHON    interpreter to build it from (default: python3)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${SDK_VENV:-$repo/target/sdk-venv}"
req="$here/requirements.txt"
python="${PYTHON:-python3}"
stamp="$venv/.requirements.sha256"

log() { echo "setup-venv: $*" >&2; }

sudo_if_needed() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    log "installing $* with apt-get"
    sudo_if_needed apt-get update -qq >&2
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9

want="$(sha256sum "$req" | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] \
    && "$venv/bin/python" -c 'import gameball, requests, voucherify' 2>/dev/null; then
    echo "$venv/bin/python"
    exit 0
fi

if ! command -v "$python" >/dev/null; then
    [ "$python" = python3 ] || { log "PYTHON=$python not found"; exit 1; }
    apt_install python3 python3-venv
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    log "$python is older than 3.10, which requests $(grep -o 'requests==.*' "$req") needs"
    exit 1
fi

# A venv whose interpreter no longer runs (python upgraded or removed) is rebuilt.
if ! { [ -x "$venv/bin/python" ] && "$venv/bin/python" -m pip --version >/dev/null 2>&1; }; then
    rm -rf "$venv"
    if ! "$python" -m venv "$venv" >&2; then
        # Debian ships ensurepip (needed by `-m venv`) in python3-venv.
        rm -rf "$venv"
        apt_install python3-venv
        "$python" -m venv "$venv" >&2
    fi
fi

# Wheels only, but for voucherify, which PyPI has only as a source archive.
"$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q \
    --only-binary=:all: --no-binary=voucherify -r "$req" >&2
echo "$want" >"$stamp"
echo "$venv/bin/python"
