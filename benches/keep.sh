#!/usr/bin/env bash
# Keep a compare.sh run: copy its results into benches/results/ and put its
# tables into docs/performance.md, between the kept-run markers, so the
# performance page shows exactly what the kept files say.
#
#   benches/keep.sh OUT            # the kept run (docs/performance.md updated)
#   benches/keep.sh OUT before     # the baseline run, benches/results/before/
set -euo pipefail
out=$(realpath "${1:?usage: benches/keep.sh OUT [before]}")
cd "$(dirname "$0")/.."
dest=benches/results${2:+/$2}
page=docs/performance.md
begin="<!-- kept-run:begin (benches/keep.sh) -->" end="<!-- kept-run:end -->"
# Everything checked before anything is copied: a half-kept run would mix
# one run's plot with another's figures.
for f in table.md results.json memory.json latency.png; do
  [ -f "$out/$f" ] || { echo "keep.sh: $out/$f is missing (not a finished compare.sh run?)" >&2; exit 1; }
done
if [ -z "${2:-}" ] && ! { grep -qF "$begin" "$page" && grep -qF "$end" "$page"; }; then
  echo "keep.sh: $page lacks the kept-run markers" >&2; exit 1
fi
mkdir -p "$dest"
cp "$out"/{table.md,results.json,memory.json,latency.png} "$dest/"
[ -n "${2:-}" ] && { echo "kept: $dest/"; exit 0; }
python3 - "$out/table.md" "$begin" "$end" "$page" <<'PY'
import sys
table, begin, end, page = open(sys.argv[1]).read().strip(), sys.argv[2], sys.argv[3], sys.argv[4]
text = open(page).read()
head, rest = text.split(begin, 1)
_, tail = rest.split(end, 1)
open(page, "w").write(f"{head}{begin}\n{table}\n{end}{tail}")
PY
echo "kept: $dest/, $page"
