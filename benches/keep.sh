#!/usr/bin/env bash
# Keep a compare.sh run: copy its results into benches/results/ and put its
# tables into the README's Performance section, between the kept-run
# markers, so the README shows exactly what the kept files say.
#
#   benches/keep.sh OUT            # the kept run (README updated)
#   benches/keep.sh OUT before     # the baseline run, benches/results/before/
set -euo pipefail
out=$(realpath "${1:?usage: benches/keep.sh OUT [before]}")
cd "$(dirname "$0")/.."
dest=benches/results${2:+/$2}
begin="<!-- kept-run:begin (benches/keep.sh) -->" end="<!-- kept-run:end -->"
# Everything checked before anything is copied: a half-kept run would mix
# one run's plot with another's figures.
for f in table.md results.json memory.json latency.png; do
  [ -f "$out/$f" ] || { echo "keep.sh: $out/$f is missing (not a finished compare.sh run?)" >&2; exit 1; }
done
if [ -z "${2:-}" ] && ! { grep -qF "$begin" README.md && grep -qF "$end" README.md; }; then
  echo "keep.sh: README.md lacks the kept-run markers" >&2; exit 1
fi
mkdir -p "$dest"
cp "$out"/{table.md,results.json,memory.json,latency.png} "$dest/"
[ -n "${2:-}" ] && { echo "kept: $dest/"; exit 0; }
python3 - "$out/table.md" "$begin" "$end" <<'PY'
import sys
table, begin, end = open(sys.argv[1]).read().strip(), sys.argv[2], sys.argv[3]
readme = open("README.md").read()
head, rest = readme.split(begin, 1)
_, tail = rest.split(end, 1)
open("README.md", "w").write(f"{head}{begin}\n{table}\n{end}{tail}")
PY
echo "kept: $dest/, README.md"
