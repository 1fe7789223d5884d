#!/bin/bash
# check_invariance.sh -- the CLI proof of batch invariance (issue 10, item 8):
# `lexie relations --schema semeval` on the first N SemEval test sentences
# gives byte-identical per-id output lines whatever the input order, the
# batch size, the thread count and the cache state; `lexie eval re` gives
# identical prediction lines (its "seconds" timing field aside) with
# --batch 1 and --batch 8.
#
#   scripts/check_invariance.sh [N=200] [COLD_N=50] [EVAL_N=50]
#
# Runs, each compared with A after sorting by id:
#   A  file order,  --batch 8, -t 2
#   B  shuffled,    --batch 8, -t 2    (input order)
#   C  file order,  --batch 1, -t 2    (batch size)
#   D  file order,  --batch 8, -t 1    (threads)
#   E  shuffled,    --batch 1, -t 1    (all three: the issue's reproducer)
#   F  the first COLD_N lines, each in a fresh process (cold cache, nothing
#      before it), against A's lines of the same ids
# Then `lexie eval re --data semeval --limit EVAL_N` with --batch 1 and 8.
# Costs several CPU minutes (about 1.5 CPU seconds a line with the default
# model).  Files go to $INV_DIR (default /tmp/lexie-invariance).  Exit 0
# when everything matches.
set -euo pipefail
N=${1:-200}
COLD_N=${2:-50}
EVAL_N=${3:-50}
cd "$(dirname "$0")/.."
LEXIE=${LEXIE:-build/lexie}
DATA=${LEXIE_DATA:-../shared/data}
W=${INV_DIR:-/tmp/lexie-invariance}
rm -rf "$W"
mkdir -p "$W"

# The sentences as {"id", "text"} lines, <e1>/<e2> markers kept.
python3 - "$DATA/semeval2010_task8/TEST_FILE_FULL.TXT" "$N" "$W" <<'EOF'
import json, random, re, sys
src, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = []
for line in open(src, encoding="utf-8"):
    m = re.match(r'^(\d+)\t"(.*)"\s*$', line)
    if m:
        rows.append(json.dumps({"id": m.group(1), "text": m.group(2)}, ensure_ascii=False))
rows = rows[:n]
assert len(rows) == n, f"only {len(rows)} sentences"
open(f"{out}/in.jsonl", "w", encoding="utf-8").write("\n".join(rows) + "\n")
random.Random(1).shuffle(rows)
open(f"{out}/shuffled.jsonl", "w", encoding="utf-8").write("\n".join(rows) + "\n")
EOF

fail=0
run() { # name input batch threads
    local t0=$SECONDS
    "$LEXIE" relations --schema semeval --batch "$3" -t "$4" <"$W/$2" >"$W/$1.out"
    sort "$W/$1.out" >"$W/$1.sorted"
    echo "$1: $(wc -l <"$W/$1.out") lines, $((SECONDS - t0)) s (--batch $3 -t $4, $2)"
}
same() { # a b what
    if cmp -s "$W/$1" "$W/$2"; then
        echo "  same: $3"
    else
        echo "  DIFFERENT: $3 ($(diff "$W/$1" "$W/$2" | grep -c '^<') lines differ)"
        fail=1
    fi
}

run A in.jsonl 8 2
[ "$(wc -l <"$W/A.out")" = "$N" ] || { echo "A: expected $N lines"; exit 1; }
run B shuffled.jsonl 8 2
same A.sorted B.sorted "input order (B vs A)"
run C in.jsonl 1 2
same A.sorted C.sorted "--batch 1 vs 8 (C vs A)"
run D in.jsonl 8 1
same A.sorted D.sorted "-t 1 vs 2 (D vs A)"
run E shuffled.jsonl 1 1
same A.sorted E.sorted "shuffled, --batch 1 -t 1 vs file order, --batch 8 -t 2 (E vs A)"

t0=$SECONDS
head -n "$COLD_N" "$W/in.jsonl" | while IFS= read -r line; do
    printf '%s\n' "$line" | "$LEXIE" relations --schema semeval --batch 1 -t 1
done >"$W/F.out"
sort "$W/F.out" >"$W/F.sorted"
head -n "$COLD_N" "$W/A.out" | sort >"$W/A_cold.sorted"
echo "F: $(wc -l <"$W/F.out") lines, one process each, $((SECONDS - t0)) s"
same A_cold.sorted F.sorted "cold cache, one line per process (F vs A)"

# lexie eval re: prediction lines without their timing field, by id.
for b in 1 8; do
    t0=$SECONDS
    "$LEXIE" eval re --data semeval --limit "$EVAL_N" --batch "$b" -t 2 --quiet \
        --out "$W/eval_b$b" >/dev/null
    cat "$W/eval_b$b"/*.jsonl | sed -E 's/,"seconds":[-+0-9.eE]+//' | sort >"$W/eval_b$b.sorted"
    echo "eval re --batch $b: $(wc -l <"$W/eval_b$b.sorted") predictions, $((SECONDS - t0)) s"
done
[ "$(wc -l <"$W/eval_b1.sorted")" = "$EVAL_N" ] || { echo "eval: expected $EVAL_N lines"; exit 1; }
same eval_b1.sorted eval_b8.sorted "eval re predictions, --batch 1 vs 8"

labels=$(sed -E 's/.*"label":"([^"]*)".*/\1/' "$W/A.out" | sort | uniq -c | sort -rn | head -3 | tr -s ' ' | tr '\n' ';')
echo "labels in A (top 3): $labels"
if [ $fail = 0 ]; then echo "check_invariance: all outputs identical"; else echo "check_invariance: FAILED"; fi
exit $fail
