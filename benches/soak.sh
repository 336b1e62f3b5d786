#!/usr/bin/env bash
# Soak: mixed Gameball traffic against couponbridge on Redis with AOF while
# Redis is killed -9 and restarted, couponbridge is restarted and Voucherify
# faults are injected; then the invariants, as a Markdown table on stdout
# and in bench-results/soak.md. Loopback only; ends by itself at
# seconds + 30.
#
#   benches/soak.sh                  # --seconds 60, a seed from the clock
#   benches/soak.sh --seconds 20 --seed 7
#
# Exit status: 0 when every invariant count is zero, 1 when one is not, 2
# when something could not be checked in time, 3 on the hard stop.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/common.sh
need redis-server:redis-server
exec cargo bench --bench soak -- "$@"
