#!/usr/bin/env bash
# scripts/snapshot_compare.sh A B -- every file of two scripts/snapshot.sh runs
# must be equal once timings (examples/s, seconds) and the output folders'
# own paths are masked.  Prints `snapshot: identical` or the differences.
set -u
A=$(cd "$1" && pwd) || exit 2
B=$(cd "$2" && pwd) || exit 2
norm() {
    sed -E -e 's/[0-9.]+ examples\/s//g' -e 's/"examples_per_s(econd)?": *[0-9.e+-]+//g' \
        -e 's/"seconds[a-z_]*": *[0-9.e+-]+//g' -e "s#$2##g" "$1"
}
rc=0
while IFS= read -r f; do
    if [ ! -f "$B/$f" ]; then echo "missing in B: $f"; rc=1; continue; fi
    if ! cmp -s <(norm "$A/$f" "$A") <(norm "$B/$f" "$B"); then
        echo "differs: $f"
        diff <(norm "$A/$f" "$A") <(norm "$B/$f" "$B") | head -4 | cut -c1-300
        rc=1
    fi
done < <(cd "$A" && find . -type f | sort)
while IFS= read -r f; do [ -f "$A/$f" ] || { echo "only in B: $f"; rc=1; }; done < <(cd "$B" && find . -type f | sort)
[ $rc = 0 ] && echo "snapshot: identical"
exit $rc
