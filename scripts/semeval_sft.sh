#!/bin/bash
# semeval_sft.sh -- issue 11's SemEval run: LoRA SFT of a model on
# SemEval-2010 Task 8 train, then SemEval test before and after.  Every
# step resumes: run it again after a kill and it goes on where it stopped.
#
#   scripts/semeval_sft.sh [MODEL=smollm2-135m-instruct] [LR=1e-3] [THREADS=2]
#
# For a bigger model, whose epoch takes hours, three variables shrink the run:
#   STEPS=N      train N steps instead of one epoch: the first 8N sentences of
#                the seeded shuffle, a random sample of train
#   SAMPLE=N     score the seeded N test sentences instead of all 2,717
#   DPO=0        stop after SFT
#
# 1. `lexie eval re --split train --method compact --export-sft`: the 7,500
#    train sentences outside the dev sample, each as the exact chat the
#    compact prompt is scored with, plus its gold label.
# 2. `lexie train sft`, one epoch, checkpointed every 20 steps (--resume
#    continues a killed run).  The learning rate was chosen on dev (the
#    first 200 sentences, results/train/semeval-sft/lr-choice/): for the
#    default model at step 225, 2e-4 reached micro-F1 36.0 and 1e-3 50.3;
#    for the 0.5B model (STEPS=200) at step 40, 2e-4 31.4 and 1e-3 25.6.
# 3. `lexie eval re --method compact` on test with the adapter (resumable
#    like every eval run), and without it (zero-shot, the same prompt).
# 4. DPO after SFT: `lexie pairs` samples 5 answers from the SFT model for
#    the first 1,000 train lines and keeps best/worst by exact match; `lexie
#    train dpo` starts from the SFT adapter with it as the reference; then
#    the seeded 1,000 test sentences with the DPO adapter.
#
# Work files (data, checkpoints, the adapter: tens of MB) go to $RUN_DIR
# (default ../runs/semeval-sft-MODEL); the log and the reports to
# results/train/semeval-sft/.
set -euo pipefail
MODEL=${1:-smollm2-135m-instruct}
LR=${2:-1e-3}
T=${3:-2}
cd "$(dirname "$0")/.."
LEXIE=${LEXIE:-build/lexie}
RUN=${RUN_DIR:-../runs/semeval-sft-$MODEL}
OUT=results/train/semeval-sft
mkdir -p "$RUN" "$OUT"

if [ ! -s "$RUN/train.jsonl" ]; then
    "$LEXIE" eval re --data semeval --split train --method compact -m "$MODEL" \
        --export-sft "$RUN/train.jsonl"
fi

LENGTH=(--epochs 1)
TAG=lr$LR
if [ -n "${STEPS:-}" ]; then
    LENGTH=(--steps "$STEPS")
    TAG=lr$LR-s$STEPS
fi
TEST=()
if [ -n "${SAMPLE:-}" ]; then TEST=(--sample "$SAMPLE"); fi

ADAPTER="$RUN/lora-$TAG.gguf"
if [ ! -s "$ADAPTER" ]; then
    start=$(date +%s)
    "$LEXIE" train sft -m "$MODEL" --data "$RUN/train.jsonl" --out "$ADAPTER" "${LENGTH[@]}" \
        --lr "$LR" -t "$T" --save-every 20 --log "$OUT/$MODEL-$TAG.log.jsonl" --resume
    echo "training (this invocation): $(($(date +%s) - start)) s wall" >&2
fi

"$LEXIE" eval re --data semeval --method compact -m "$MODEL" --lora "$ADAPTER" -t "$T" \
    "${TEST[@]}" --out "$OUT"
"$LEXIE" eval re --data semeval --method compact -m "$MODEL" -t "$T" "${TEST[@]}" --out "$OUT"
if [ "${DPO:-1}" = 0 ]; then exit 0; fi

DPO="$RUN/dpo-lr5e-5.gguf"
if [ ! -s "$DPO" ]; then
    head -n 1000 "$RUN/train.jsonl" > "$RUN/gold1000.jsonl"
    "$LEXIE" pairs -m "$MODEL" --lora "$ADAPTER" --data "$RUN/gold1000.jsonl" --n 5 --temp 1.0 \
        --metric exact --min-gap 0.1 --max-tokens 16 -t "$T" > "$RUN/pairs1000.jsonl.tmp"
    mv "$RUN/pairs1000.jsonl.tmp" "$RUN/pairs1000.jsonl"
    "$LEXIE" train dpo -m "$MODEL" --data "$RUN/pairs1000.jsonl" --out "$DPO" \
        --init-lora "$ADAPTER" --ref-lora "$ADAPTER" --beta 0.1 --epochs 1 --lr 5e-5 -t "$T" \
        --save-every 10 --log "$OUT/$MODEL-dpo-lr5e-5.log.jsonl" --resume
fi
"$LEXIE" eval re --data semeval --method compact -m "$MODEL" --lora "$DPO" -t "$T" \
    --sample 1000 --out "$OUT"
