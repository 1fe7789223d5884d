#!/bin/bash
# bioinstruct.sh -- issue 11's BioInstruct-style run: LoRA SFT of a model on
# biomedical instructions of BioInstruct's three categories, then each
# category's test before and after.  Every step resumes: run it again after
# a kill and it goes on where it stopped.
#
#   scripts/bioinstruct.sh [MODEL=smollm2-135m-instruct] [LR=1e-3] [THREADS=2]
#
# 1. Training data, each line the exact chat its test is scored with plus
#    the gold answer (`--export-sft`), from train splits only:
#      IE          NCBI-disease train (seeded 800 of 5,424 sentences) and
#                  BC5CDR train (600 of 4,560) as lexie's NER prompt; GAD
#                  train (500 of the 4,296 outside its dev sample) as the
#                  vanilla relation prompt;
#      QA          PubMedQA train-dev, all 500: yes, no or maybe;
#      generation  the same 500 abstracts: write the conclusion.
#    2,900 lines, about 730,000 tokens: PubMedQA's abstracts are long, so
#    they take most of the hour; the IE samples fill the rest.
# 2. `lexie train sft`, one epoch, sequences up to 1,024 tokens (a sixth of
#    PubMedQA's prompts pass 512), checkpointed every 10 steps (--resume
#    continues a killed run).  The learning rate is the one chosen on
#    SemEval's dev split (scripts/semeval_sft.sh); no BioInstruct test
#    figure chose anything.
# 3. Each test with the adapter and without it, the same prompts: NCBI
#    (all 940) and BC5CDR (seeded 1,000) strict entity F1, GAD test (534)
#    F1, PubMedQA test (500) accuracy and macro-F1, and the conclusions'
#    ROUGE-L.  Evaluations resume like every eval run; they write to
#    results/ as any eval does, so the runs without the adapter are the
#    README's own rows where those exist (the same command and hash).
#
# Work files go to $RUN_DIR (default ../runs/bioinstruct-MODEL); the
# training log to results/train/bioinstruct/.
set -euo pipefail
MODEL=${1:-smollm2-135m-instruct}
LR=${2:-1e-3}
T=${3:-2}
cd "$(dirname "$0")/.."
LEXIE=${LEXIE:-build/lexie}
RUN=${RUN_DIR:-../runs/bioinstruct-$MODEL}
OUT=results/train/bioinstruct
mkdir -p "$RUN" "$OUT"

if [ ! -s "$RUN/train.jsonl" ]; then
    "$LEXIE" eval extract --data ncbi --split train --sample 800 -m "$MODEL" \
        --export-sft "$RUN/ncbi.jsonl"
    "$LEXIE" eval extract --data bc5cdr --split train --sample 600 -m "$MODEL" \
        --export-sft "$RUN/bc5cdr.jsonl"
    "$LEXIE" eval re --data gad --split train --method vanilla --sample 500 -m "$MODEL" \
        --export-sft "$RUN/gad.jsonl"
    "$LEXIE" eval extract --data pubmedqa --split train -m "$MODEL" --export-sft "$RUN/pqa.jsonl"
    "$LEXIE" eval extract --data pubmedqa-conclusion --split train -m "$MODEL" \
        --export-sft "$RUN/pqa-conclusion.jsonl"
    # The trainer shuffles (its --seed); the order here does not matter.
    cat "$RUN"/ncbi.jsonl "$RUN"/bc5cdr.jsonl "$RUN"/gad.jsonl "$RUN"/pqa.jsonl \
        "$RUN"/pqa-conclusion.jsonl > "$RUN/train.jsonl.tmp"
    mv "$RUN/train.jsonl.tmp" "$RUN/train.jsonl"
fi

ADAPTER="$RUN/lora-lr$LR.gguf"
if [ ! -s "$ADAPTER" ]; then
    start=$(date +%s)
    "$LEXIE" train sft -m "$MODEL" --data "$RUN/train.jsonl" --out "$ADAPTER" --epochs 1 \
        --lr "$LR" --seq-len 1024 -t "$T" --save-every 10 \
        --log "$OUT/$MODEL-lr$LR.log.jsonl" --resume
    echo "training (this invocation): $(($(date +%s) - start)) s wall" >&2
fi

# Before (no adapter) and after, the same commands.
for lora in "" "--lora $ADAPTER"; do
    # shellcheck disable=SC2086
    {
        "$LEXIE" eval extract --data pubmedqa -m "$MODEL" $lora --max-tokens 4 --batch 4 -t "$T"
        "$LEXIE" eval re --data gad --method vanilla -m "$MODEL" $lora -t "$T"
        "$LEXIE" eval extract --data pubmedqa-conclusion -m "$MODEL" $lora --max-tokens 160 \
            --batch 4 -t "$T"
        "$LEXIE" eval extract --data ncbi --sample 1000 -m "$MODEL" $lora --max-tokens 256 \
            --batch 4 -t "$T"
        "$LEXIE" eval extract --data bc5cdr --sample 1000 -m "$MODEL" $lora --max-tokens 256 \
            --batch 4 -t "$T"
    }
done
