#!/usr/bin/env bash
# Keep a compare.sh run: copy its results into benches/results/ and put its
# tables into the README's Performance section, between the kept-run
# markers, so the README shows exactly what the kept files say.
#
#   benches/keep.sh OUT            # the kept run (README updated)
#   benches/keep.sh OUT before     # the baseline run, benches/results/before/
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: benches/keep.sh OUT [before]}
dest=benches/results${2:+/$2}
mkdir -p "$dest"
for f in table.md results.json memory.json latency.png; do
  [ -f "$out/$f" ] && cp "$out/$f" "$dest/"
done
[ -n "${2:-}" ] && exit 0
python3 - "$out/table.md" <<'PY'
import sys
begin, end = "<!-- kept-run:begin (benches/keep.sh) -->", "<!-- kept-run:end -->"
readme = open("README.md").read()
head, rest = readme.split(begin, 1)
_, tail = rest.split(end, 1)
table = open(sys.argv[1]).read().strip()
open("README.md", "w").write(f"{head}{begin}\n{table}\n{end}{tail}")
PY
echo "kept: $dest/, README.md"
