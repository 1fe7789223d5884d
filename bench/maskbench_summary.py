#!/usr/bin/env python3
"""maskbench_summary.py -- summarise build/bench/maskbench output.

    python3 bench/maskbench_summary.py OUT.jsonl [--compact COMPACT.jsonl]

Prints passing, compile errors (by message), invalid instances accepted,
valid instances rejected, compile p50 and mask p50/p99/max over all
tokens.  --compact writes the per-file lines without their mask_us arrays
(small enough to commit)."""
import collections
import json
import re
import sys


def pct(xs, p):
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * (len(xs) - 1) + 0.5))]


def main():
    rows = [json.loads(line) for line in open(sys.argv[1])]
    masks = [x for r in rows for x in r["mask_us"]]
    comp = [r["compile_us"] for r in rows]
    n = len(rows)
    passed = sum(r["passed"] for r in rows)
    errs = collections.Counter(re.sub(r" at .*", "", r["compile_error"])[:100]
                               for r in rows if "compile_error" in r)
    print(f"files {n}, passing {passed} ({100.0 * passed / max(n, 1):.1f}%), "
          f"compile errors {sum(errs.values())}, timeouts {sum(1 for r in rows if r.get('timeout'))}")
    print(f"invalid instances accepted {sum(r['false_accept'] for r in rows)}, "
          f"valid instances rejected {sum(r['false_reject'] for r in rows)}, tokens {len(masks)}")
    print(f"compile p50 {pct(comp, 50):.0f} us; mask p50 {pct(masks, 50):.1f} us, "
          f"p90 {pct(masks, 90):.1f} us, p99 {pct(masks, 99):.1f} us, max {max(masks or [0]):.0f} us")
    for msg, k in errs.most_common():
        print(f"  {k:4d}  {msg}")
    if "--compact" in sys.argv:
        with open(sys.argv[sys.argv.index("--compact") + 1], "w") as f:
            for r in rows:
                r = dict(r)
                r.pop("mask_us")
                f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
