#!/usr/bin/env python3
"""Prints a Markdown table of the lexie relation-extraction reports under a folder.

usage: results/summarize.py [DIR=results]

One row per *.report.json: data/split, method, shots, examples scored, micro
P/R/F1 (positive labels), SemEval official macro-F1 when present, accuracy,
invalid-answer rate, examples per second, and the command that produced it.
"""
import glob
import json
import os
import sys


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "results"
    rows = []
    for path in sorted(glob.glob(os.path.join(folder, "*.report.json"))):
        r = json.load(open(path))
        m = r["micro"]
        sv = r.get("semeval_official")
        rows.append((
            f"{r['dataset']}/{r['split']}",
            r["method"] + (" (free gen)" if r.get("free_gen") else "") + (f" p{r['n_permute']}" if r["n_permute"] > 1 else ""),
            str(r["shots"]),
            str(r["n_scored"]),
            f"{100 * m['p']:.1f} / {100 * m['r']:.1f} / {100 * m['f1']:.1f}",
            f"{100 * sv['macro_f1']:.1f}" if sv else "-",
            f"{100 * r['accuracy']:.1f}",
            f"{100 * r['invalid_rate']:.1f}",
            f"{r['examples_per_second']:.2f}",
            "`" + r["command"].replace(" -t 2", "").replace(" -t 1", "").replace(" --quiet", "").replace("|", "\\|") + "`",
        ))
    head = ("data", "method", "shots", "n", "micro P / R / F1", "SemEval macro-F1", "acc", "invalid %", "ex/s", "command")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
