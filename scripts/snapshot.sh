#!/usr/bin/env bash
# scripts/snapshot.sh OUTDIR [quick] -- runs `lexie relations` and `lexie eval re`
# on the default model over fixed SemEval/GAD inputs and keeps every output
# (prediction files, reports, stdout, stderr, exit codes) in OUTDIR, so a
# refactoring can be shown not to change what users see:
#   git checkout OLD && make && bash scripts/snapshot.sh /tmp/before
#   git checkout NEW && make && bash scripts/snapshot.sh /tmp/after
#   bash scripts/snapshot_compare.sh /tmp/before /tmp/after
# The full run takes about 8 minutes on 2 idle cores; `quick` about 1.
set -u
L=${LEXIE_CLI:-./build/lexie}
O=$1
Q=${2:-}
D=${LEXIE_DATA:-../shared/data}
rm -rf "$O" && mkdir -p "$O/in" || exit 1
python3 - "$D" "$O/in" <<'PY'
import json, re, sys
data, out = sys.argv[1], sys.argv[2]
n = 0
with open(f"{data}/semeval2010_task8/TEST_FILE_FULL.TXT") as f, open(f"{out}/semeval60.jsonl", "w") as o:
    for line in f:
        m = re.match(r'^(\d+)\t"(.*)"$', line.rstrip("\n"))
        if m and n < 60:
            o.write(json.dumps({"id": int(m.group(1)), "text": m.group(2)}) + "\n")
            n += 1
with open(f"{out}/gad.jsonl", "w") as g:
    g.write(json.dumps({"id": "g1", "text": "Mutations in BRCA1 cause breast cancer.",
                        "head": {"start": 13, "end": 18, "type": "gene"},
                        "tail": {"start": 25, "end": 38, "type": "disease"}}) + "\n")
    g.write(json.dumps({"id": "g2", "text": "APOE variants were not associated with asthma.",
                        "head": {"start": 0, "end": 4, "type": "gene"},
                        "tail": {"start": 39, "end": 45, "type": "disease"}}) + "\n")
    g.write('{"id":"bad1","text":"no markers here"}\n')
    g.write("not json\n")
    g.write(json.dumps({"id": "g3", "text": "The <e1>TP53</e1> gene is linked to <e2>glioma</e2>."}) + "\n")
PY
I=$O/in
if [ "$Q" = quick ]; then head -20 "$I/semeval60.jsonl" > "$I/s.jsonl"; E=(8 12 10 6 6); else cp "$I/semeval60.jsonl" "$I/s.jsonl"; E=(30 50 40 20 20); fi
run() { local name=$1; shift; "$@" > "$O/$name.out" 2> "$O/$name.err"; echo "rc=$?" >> "$O/$name.err"; }
run rel_qa4re $L relations --schema semeval -t 2 < "$I/s.jsonl"
run rel_vanilla $L relations --schema semeval --method vanilla -t 2 --batch 3 < <(head -5 "$I/s.jsonl")
run rel_cal $L relations --schema semeval --calibrate -t 2 < "$I/s.jsonl"
run rel_thr $L relations --schema semeval --threshold 0.3 -t 2 < "$I/s.jsonl"
run rel_gad $L relations --schema gad -t 2 < "$I/gad.jsonl"
run rel_dump $L relations --schema semeval --dump-prompt < "$I/gad.jsonl"
run ev1 $L eval re --data semeval --limit "${E[0]}" --out "$O/ev" --quiet -t 2
run ev2 $L eval re --data semeval --limit "${E[1]}" --out "$O/ev" --quiet -t 2
run ev3 $L eval re --data semeval --method vanilla --limit 6 --out "$O/ev" --quiet -t 2 --calibrate
run ev5 $L eval re --data gad --limit "${E[2]}" --out "$O/ev" --quiet -t 2 --threshold 0.5
run ev6 $L eval re --data semeval --split dev --limit "${E[3]}" --out "$O/ev" --quiet -t 2
P=$(ls "$O"/ev/*dev*report.json 2>/dev/null | head -1)
run ev7 $L eval re --data semeval --limit "${E[4]}" --out "$O/ev" --quiet -t 2 --prior "$P"
run rel_prior $L relations --schema semeval --prior "$P" -t 2 < "$I/s.jsonl"
run ev_dump $L eval re --data semeval --limit 3 --dump-prompt
