#!/usr/bin/env python3
"""Position-bias analysis of lexie QA4RE/vanilla prediction files.

For SemEval (no type constraints) QA4RE offers every relation in schema order,
so a label's index is its option letter (A = 0, ..., the none label last).
Reports, over the first N predictions of each file given:
  - how predictions spread over letters (labels) versus the gold spread;
  - the mean probability the model gives each letter, whatever the example
    (a flat, example-independent profile means the answer is the letter prior);
  - the mean rank of the gold label (random guessing: (n_labels - 1) / 2);
  - accuracy and micro-F1 after contextual calibration: dividing each
    example's probabilities by the mean profile (an estimate of the prior).

usage: results/analyze_bias.py SCHEMA.json PRED.jsonl [PRED.jsonl ...] [--n N]
"""
import json
import sys


def micro_f1(pairs, none):
    tp = sum(1 for g, p in pairs if g == p and g != none)
    pred = sum(1 for _, p in pairs if p != none)
    gold = sum(1 for g, _ in pairs if g != none)
    pr = tp / pred if pred else 0.0
    rc = tp / gold if gold else 0.0
    return 2 * pr * rc / (pr + rc) if pr + rc else 0.0


def main(argv):
    n_max = None
    if "--n" in argv:
        i = argv.index("--n")
        n_max = int(argv[i + 1])
        del argv[i : i + 2]
    schema = json.load(open(argv[1]))
    labels = [r["label"] for r in schema["relations"]] + [schema["none"]["label"]]
    none = len(labels) - 1
    for path in argv[2:]:
        rows = [json.loads(l) for l in open(path)]
        rows = rows[:n_max] if n_max else rows
        n, k = len(rows), len(labels)
        # "probs": one per label in schema order; older files: {label: p}.
        probs = [r["probs"] if "probs" in r else [r["scores"].get(l, 0.0) for l in labels] for r in rows]
        gold = [labels.index(r["gold"]) for r in rows]
        pred = [labels.index(r["label"]) for r in rows]
        mean = [sum(p[j] for p in probs) / n for j in range(k)]
        ranks = [sum(1 for j in range(k) if p[j] > p[g]) for p, g in zip(probs, gold)]
        cal = [max(range(k), key=lambda j: p[j] / mean[j] if mean[j] > 0 else 0.0) for p in probs]
        spread = [pred.count(j) for j in range(k)]
        print(f"== {path}  ({n} examples, {k} labels)")
        print("  predicted per label:", spread)
        print("  gold per label:     ", [gold.count(j) for j in range(k)])
        print("  mean prob per label:", " ".join(f"{m:.3f}" for m in mean))
        print(f"  accuracy {sum(g == p for g, p in zip(gold, pred)) / n:.3f}  micro-F1 {micro_f1(list(zip(gold, pred)), none):.3f}")
        print(f"  mean gold rank {sum(ranks) / n:.2f} (random {(k - 1) / 2:.1f}); gold in top 3: {sum(r < 3 for r in ranks) / n:.3f}")
        print(f"  calibrated (divide by the mean profile): accuracy {sum(g == c for g, c in zip(gold, cal)) / n:.3f}"
              f"  micro-F1 {micro_f1(list(zip(gold, cal)), none):.3f}")


if __name__ == "__main__":
    main(sys.argv)
