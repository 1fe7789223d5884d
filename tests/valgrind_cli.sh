#!/usr/bin/env bash
# Runs the CLI under valgrind on good and bad input and fails on any memory
# error or leak.  Needs `make` and the test fixtures (make test builds them).
set -u
cli=${1:-build/lexie}
fx=${2:-build/fixtures}
fail=0
# check [ARGS...]: one CLI run; stdin comes from $input (default /dev/null).
input=/dev/null
check() {
    local log
    log=$(valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect \
        --error-exitcode=99 "$cli" "$@" 2>&1 >/dev/null <"$input")
    if [ $? -eq 99 ]; then
        echo "valgrind: errors in: lexie $*"
        echo "$log" | grep -E "==[0-9]+== " | head -30
        fail=1
    fi
}
check generate -m "$fx/llama_q.gguf" -p "hello world" -n 4 -t 2
check generate -m "$fx/llama_f32.gguf" --chat -p "hi" -n 2 --temp 0.7 --top-p 0.9
check tokenize -m "$fx/llama_f32.gguf" -p "héllo 🙂"
check generate -m /nonexistent.gguf -p x
check generate -m "$fx/missing_tensor.gguf" -p x
check generate -m "$fx/arch_foo.gguf" -p x
check models
check generate -m "$fx/llama_f32.gguf" -p "hello" -n 0 -c 16
tf=$(mktemp)
echo '{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}' >"$tf"
check tokenize -m "$fx/llama_f32.gguf" --chat -p "hi" --chat-template-file "$tf"
check tokenize -m "$fx/llama_f32.gguf" --chat -p "hi" --chat-template-file /nonexistent.jinja
rm -f "$tf"
input=$(mktemp)
printf '%s\n' '{"id": 1, "text": "<e1>BRCA1</e1> causes <e2>cancer</e2>."}' 'not json' \
    '{"id": 3, "text": "<e2>TP53</e2> and <e1>asthma</e1>."}' >"$input"
check relations -m "$fx/llama_q.gguf" --schema schemas/gad.json -t 1
check relations -m "$fx/llama_q.gguf" --schema schemas/gad.json -t 1 --calibrate
prior=$(mktemp)
echo '{"mean_probability": {"association": 0.4, "no_association": 0.6}}' >"$prior"
check relations -m "$fx/llama_q.gguf" --schema schemas/gad.json -t 1 --prior "$prior"
check relations -m "$fx/llama_q.gguf" --schema schemas/semeval.json -t 1 --prior "$prior"
# a NUL byte, an over-long line, overlapping spans
printf '\0{"id": 2}\n%05000d\n{"id": 4, "text": "ab cd", "head": {"start": 0, "end": 4}, "tail": {"start": 3, "end": 5}}\n' 0 >>"$input"
check relations -m "$fx/llama_q.gguf" --schema schemas/gad.json -t 1 --max-line 1000
rm -f "$input" "$prior"
# eval re on a hand-made GAD test split: a short run, its resume, a torn
# prediction line, --prior, --dump-prompt, and a missing dataset.
input=/dev/null
data=$(mktemp -d)
mkdir -p "$data/gad_biobert_fold1"
printf '@GENE$ in @DISEASE$.\t1\n@DISEASE$ no @GENE$.\t0\n@GENE$ up in @DISEASE$.\t1\n' \
    >"$data/gad_biobert_fold1/test.tsv"
tmpl='{% for m in messages %}{{ m.content }}{% endfor %}'
ev=(eval re --data gad -m "$fx/llama_q.gguf" --out "$data/out" -t 1 --batch 2 --quiet)
export LEXIE_DATA=$data
check "${ev[@]}" --chat-template "$tmpl" --limit 2
check "${ev[@]}" --chat-template "$tmpl"
printf '{"id":"test-9","gold":"assoc' >>"$(ls "$data"/out/*.jsonl)"
check "${ev[@]}" --chat-template "$tmpl" --calibrate
check "${ev[@]}" --chat-template "$tmpl" --prior "$(ls "$data"/out/*tmpl-????????????.report.json)"
check "${ev[@]}" --dump-prompt
check "${ev[@]}" --split dev
unset LEXIE_DATA
rm -rf "$data"
# training: a 2-step sft run with a log and checkpoints, its resume, merge,
# generate --lora, dpo, pairs, and a bad data line.
input=/dev/null
tr=$(mktemp -d)
printf '%s\n' '{"instruction": "Say hi", "output": "hi there"}' \
    '{"instruction": "Count", "input": "x", "output": "one two"}' >"$tr/sft.jsonl"
printf '%s\n' '{"prompt": "Say hi", "chosen": "hi", "rejected": "no"}' >"$tr/dpo.jsonl"
printf '%s\n' '{"instruction": "a"}' >"$tr/bad.jsonl"
sft=(train sft -m "$fx/llama_f32.gguf" --data "$tr/sft.jsonl" --out "$tr/a.gguf" -t 1 --batch 2)
check "${sft[@]}" --steps 2 --log "$tr/a.log" --save-every 1
check "${sft[@]}" --steps 3 --log "$tr/a.log" --save-every 1 --resume
check merge -m "$fx/llama_f32.gguf" --lora "$tr/a.gguf" -o "$tr/m.gguf"
check generate -m "$fx/llama_f32.gguf" -p hi -n 2 --lora "$tr/a.gguf" --lora-scale 0.5
check train dpo -m "$fx/llama_f32.gguf" --data "$tr/dpo.jsonl" --out "$tr/d.gguf" -t 1 --steps 1 \
    --ref-lora "$tr/a.gguf"
check pairs -m "$fx/llama_f32.gguf" --data "$tr/sft.jsonl" --n 2 --max-tokens 3 -t 1
check train sft -m "$fx/llama_f32.gguf" --data "$tr/bad.jsonl" --out "$tr/b.gguf"
check generate -m "$fx/qwen2_f32.gguf" -p hi --lora "$tr/a.gguf"
rm -rf "$tr"
# extraction: each task with a bad line and a long document (chunked, then
# refused with --no-chunk), ask, the HTML view of the output, and eval
# extract on a hand-made IOB set with its resume.
ex=$(mktemp -d)
long=$(printf 'Ann met Bob in Rome. %.0s' $(seq 1 40))
printf '%s\n' '{"id": 1, "text": "Ann met Bob in Rome."}' 'not json' "{\"id\": 3, \"text\": \"$long\"}" \
    >"$ex/docs.jsonl"
printf '%s' '{"entities": ["person", "location"], "relations": [{"label": "r", "template": "{subj} r {obj}"}], "events": [{"type": "Meet", "roles": ["Who"]}]}' >"$ex/s.json"
chatml='{% for m in messages %}<|im_start|>{{ m.role }}
{{ m.content }}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %}'
x=(extract -m "$fx/llama_q.gguf" -c 2048 --chat-template "$chatml" -t 1 --max-tokens 24 --batch 2)
input="$ex/docs.jsonl"
check "${x[@]}" --task ner --types person,location --chunk-tokens 64
check "${x[@]}" --task ner --types person,location --chunk-tokens 64 --no-chunk
check "${x[@]}" --task re --schema "$ex/s.json" --chunk-tokens 64
check "${x[@]}" --task events --schema "$ex/s.json" --chunk-tokens 64
check "${x[@]}" --task openie --chunk-tokens 64
check "${x[@]}" --task events --types person
"$cli" "${x[@]}" --task ner --types person,location --chunk-tokens 64 <"$input" >"$ex/out.jsonl" 2>/dev/null
check view "$ex/out.jsonl" --docs "$ex/docs.jsonl" -o "$ex/view.html"
input=/dev/null
check view "$ex/out.jsonl"
printf 'Aspirin 100 mg daily.' >"$ex/doc.txt"
input="$ex/doc.txt"
check ask "List drugs" -m "$fx/llama_q.gguf" -c 1024 --chat-template "$chatml" -t 1 --max-tokens 200
input=/dev/null
mkdir -p "$ex/data/conll2003"
cp tests/data/ie/mini.iob "$ex/data/conll2003/test.txt"
export LEXIE_DATA="$ex/data"
ee=(eval extract --data conll2003 -m "$fx/llama_q.gguf" -c 2048 --chat-template "$chatml" --out "$ex/out" -t 1 --max-tokens 24 --quiet)
check "${ee[@]}" --limit 1
check "${ee[@]}"
check eval extract --data nope -m "$fx/llama_q.gguf"
unset LEXIE_DATA
rm -rf "$ex"
[ $fail -eq 0 ] && echo "valgrind: CLI clean"
exit $fail
