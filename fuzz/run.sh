#!/usr/bin/env bash
# fuzz/run.sh SECONDS [TARGET...] -- runs each libFuzzer target built by
# `make fuzz-build` (build-fuzz/fuzz/fuzz_<t>) for SECONDS, one after
# another (one job: the machine's cores are shared), from the generated
# seeds (build-fuzz/seeds/<t>) and the hand-made ones (fuzz/corpus/<t>).
# New inputs go to build-fuzz/corpus/<t>; a finding is written to
# build-fuzz/artifacts/ and stops the run with a non-zero status.  Prints
# each target's executions (libFuzzer's stat::number_of_executed_units).
# Once a finding is fixed, commit its input as fuzz/corpus/<t>/crash-<what>:
# `make test` (and `make test SAN=1`) replays every file there.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
B=build-fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in fuzz/fuzz_*.c; do t=${f#fuzz/fuzz_}; targets+=("${t%.c}"); done
fi
mkdir -p "$B/artifacts"
status=0
for t in "${targets[@]}"; do
    mkdir -p "$B/corpus/$t" "$B/seeds/$t"
    log="$B/fuzz_$t.log"
    # The chat engine and the GGUF reader cap their own memory; 2 GB is
    # libFuzzer's default bound, kept explicit.
    if "$B/fuzz/fuzz_$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 \
        -print_final_stats=1 -artifact_prefix="$B/artifacts/$t-" \
        "$B/corpus/$t" "$B/seeds/$t" "fuzz/corpus/$t" >"$log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
        echo "fuzz $t: ${secs}s, ${execs:-?} executions, no finding"
    else
        echo "fuzz $t: FINDING (log: $log)"
        tail -n 40 "$log"
        status=1
    fi
done
exit $status
