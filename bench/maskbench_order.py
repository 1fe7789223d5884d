#!/usr/bin/env python3
"""maskbench_order.py -- which valid MaskBench instances lexie rejects only
for their property order.

    python3 bench/maskbench_order.py -m MODEL OUT.jsonl [--data DIR] [--lexie EXE]

lexie's grammars emit an object's properties in schema order (declared
names in the order of "properties", then required names not declared):
JSON Schema allows any order, but a grammar that allows every order of n
optional members needs a state per subset of them, so lexie keeps the one
order, as llguidance and XGrammar do.  A valid instance written in another
order is then rejected.  This script takes the files of a maskbench run
(OUT.jsonl from build/bench/maskbench) that rejected valid instances,
rewrites those instances with every object's keys in schema order (the
order in which names first appear under "properties" anywhere in the
schema), runs lexie's runner on them again, and prints per file how many
rejections the order explains; the rest have another cause (a stricter
grammar: dependencies on optional members, non-integer bounds rounded
inwards, formats)."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def schema_order(schema):
    rank = {}

    def visit(s):
        if isinstance(s, dict):
            props = s.get("properties")
            if isinstance(props, dict):
                for k in props:
                    rank.setdefault(k, len(rank))
            for v in s.values():
                visit(v)
        elif isinstance(s, list):
            for v in s:
                visit(v)

    visit(schema)
    return rank


def reorder(x, rank):
    if isinstance(x, dict):
        pos = {k: i for i, k in enumerate(x)}
        keys = sorted(x, key=lambda k: (rank.get(k, len(rank)), pos[k]))
        return {k: reorder(x[k], rank) for k in keys}
    if isinstance(x, list):
        return [reorder(v, rank) for v in x]
    return x


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-m", "--model", required=True, help="GGUF file (as given to maskbench)")
    ap.add_argument("out", help="maskbench output (one JSON line per file)")
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "maskbench_dev"))
    ap.add_argument("--lexie", default=os.path.join(ROOT, "build", "bench", "maskbench"))
    a = ap.parse_args()
    rows = [json.loads(line) for line in open(a.out)]
    bad = [r for r in rows if r.get("false_reject")]
    if not bad:
        print("no valid instance was rejected")
        return
    with tempfile.TemporaryDirectory() as tmp:
        for r in bad:
            with open(os.path.join(a.data, r["id"] + ".json")) as f:
                doc = json.load(f)
            rank = schema_order(doc["schema"])
            doc["tests"] = [dict(t, data=reorder(t["data"], rank)) for t in doc["tests"] if t["valid"]]
            with open(os.path.join(tmp, r["id"] + ".json"), "w") as f:
                json.dump(doc, f)
        p = subprocess.run([a.lexie, "-m", a.model, tmp], capture_output=True, text=True)
        if p.returncode:
            sys.exit(p.stderr)
        again = {r["id"]: r for r in map(json.loads, p.stdout.splitlines())}
    total = order = 0
    for r in bad:
        left = again[r["id"]]["false_reject"]
        total += r["false_reject"]
        order += r["false_reject"] - left
        print(f"{r['id']}: {r['false_reject']} rejected, {r['false_reject'] - left} of them "
              f"accepted in schema order")
    print(f"{order} of {total} rejected valid instances are accepted once their properties "
          f"follow the schema's order; {total - order} have another cause")


if __name__ == "__main__":
    main()
