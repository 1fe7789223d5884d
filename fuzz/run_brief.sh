#!/usr/bin/env bash
# fuzz/run_brief.sh -- CI's short fuzzing step: builds the libFuzzer targets
# (clang, ASan + UBSan) and runs each for ${FUZZ_BRIEF_SECONDS:-20} s.
# About 2 minutes in all with six targets; a finding fails the step.
set -euo pipefail
cd "$(dirname "$0")/.."
make fuzz-build
bash fuzz/run.sh "${FUZZ_BRIEF_SECONDS:-20}"
