#!/usr/bin/env python3
"""maskbench_compare.py -- two build/bench/maskbench outputs, file by file.

    python3 bench/maskbench_compare.py BEFORE.jsonl AFTER.jsonl [N]

A speed change must not change a result: prints every file whose
compile_error, tests, passed, false_reject, false_accept or tokens differ
(exit status 1 if any, or if a file is missing on one side), then mask
p50/p90/p99/max and the total over all tokens of each run, and the N
files (default 10) with the most mask time before, with their totals and
p99 before and after.  Mask times are wall-clock per mask: on a shared
machine compare the runs' CPU (user) time as well."""
import json
import sys

FIELDS = ("compile_error", "tests", "passed", "false_reject", "false_accept", "tokens")


def load(path):
    out = {}
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            out[d["id"]] = d
    return out


def pct(xs, p):
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * (len(xs) - 1) + 0.5))]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    a, b = load(sys.argv[1]), load(sys.argv[2])
    n_top = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    diffs = 0
    for k in sorted(set(a) | set(b)):
        if k not in a or k not in b:
            print("missing in %s: %s" % ("before" if k not in a else "after", k))
            diffs += 1
            continue
        for f in FIELDS:
            if a[k].get(f) != b[k].get(f):
                print("DIFF %s %s: %r -> %r" % (k, f, a[k].get(f), b[k].get(f)))
                diffs += 1
    print("files %d / %d, %d differences" % (len(a), len(b), diffs))
    for name, d in (("before", a), ("after", b)):
        ms = [u for r in d.values() for u in r.get("mask_us", [])]
        print("%-6s tokens %d  mask p50 %.1f  p90 %.1f  p99 %.1f  max %.1f us  total %.0f ms"
              % (name, len(ms), pct(ms, 50), pct(ms, 90), pct(ms, 99), max(ms or [0]),
                 sum(ms) / 1000))
    top = sorted((k for k in a if k in b), key=lambda k: -sum(a[k].get("mask_us", [])))
    for k in top[:n_top]:
        x, y = a[k].get("mask_us", []), b[k].get("mask_us", [])
        print("  %-48s total %7.0f -> %6.0f ms  p99 %7.0f -> %6.0f us"
              % (k[:48], sum(x) / 1000, sum(y) / 1000, pct(x, 99), pct(y, 99)))
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
