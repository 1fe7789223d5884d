#!/bin/bash
# semeval_sft.sh -- issue 11's SemEval run: LoRA SFT of a model on
# SemEval-2010 Task 8 train, then SemEval test before and after.  Every
# step resumes: run it again after a kill and it goes on where it stopped.
#
#   scripts/semeval_sft.sh [MODEL=smollm2-135m-instruct] [LR=1e-3] [THREADS=2]
#
# 1. `lexie eval re --split train --method compact --export-sft`: the 7,500
#    train sentences outside the dev sample, each as the exact chat the
#    compact prompt is scored with, plus its gold label.
# 2. `lexie train sft`, one epoch, checkpointed every 25 steps (--resume
#    continues a killed run).  The learning rate was chosen on dev: at step
#    225, 2e-4 reached dev micro-F1 36.0 and 1e-3 reached 50.3 on the first
#    200 dev sentences (results/train/semeval-sft/).
# 3. `lexie eval re --method compact` on test with the adapter (resumable
#    like every eval run), and without it (zero-shot, the same prompt).
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

ADAPTER="$RUN/lora-lr$LR.gguf"
if [ ! -s "$ADAPTER" ]; then
    start=$(date +%s)
    "$LEXIE" train sft -m "$MODEL" --data "$RUN/train.jsonl" --out "$ADAPTER" --epochs 1 \
        --lr "$LR" -t "$T" --save-every 25 --log "$OUT/$MODEL-lr$LR.log.jsonl" --resume
    echo "training (this invocation): $(($(date +%s) - start)) s wall" >&2
fi

"$LEXIE" eval re --data semeval --method compact -m "$MODEL" --lora "$ADAPTER" -t "$T" \
    --out "$OUT"
"$LEXIE" eval re --data semeval --method compact -m "$MODEL" -t "$T" --out "$OUT"
