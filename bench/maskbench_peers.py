#!/usr/bin/env python3
"""maskbench_peers.py -- lexie, llguidance and xgrammar on the same MaskBench
files and the same vocabulary, in one run, with one table.

    bash bench/peers/setup.sh          # once: bench/.venv-peers (never in CI)
    bench/.venv-peers/bin/python bench/maskbench_peers.py \\
        [--model smollm2-135m-instruct] [--sample 300] [--engines lexie,llguidance,xgrammar] \\
        [--data ../shared/data/maskbench_dev] [--timeout 60] [--out DIR] [--lexie EXE]

Each engine gets the same files (--sample N: N files spread evenly over the
sorted list) and the same vocabulary: the model's GGUF file under
~/.cache/lexie/models/MODEL, read by lexie itself (build/bench/maskbench)
and, for the peers, by transformers (its GGUF tokenizer reader), whose
tokenizer also tokenizes the instances.  The method is MaskBench's
(SOURCE.md): instances serialised as json.dumps(data, ensure_ascii=False),
tokenized without special tokens, fed token by token; a token outside the
mask rejects; a valid instance must also end where the grammar may end.
Measured as bench/maskbench.c measures lexie: compile time (schema to a
matcher ready for its first mask), and per token the time to compute the
full-vocabulary mask (not the commit).  The peers are timed from Python
(the call's overhead, about a microsecond, is in their figures).

Every engine runs in a worker process fed one file at a time, so a compile
or mask past --timeout seconds counts as a timeout and the run goes on.
Prints per-engine lines and a table with lexie's ratios to each peer on
stdout; per-file JSON lines (and the peers' warnings, e.g. XGrammar's
"ignoring minLength/maxLength") go to --out (default build/maskbench-peers).
Run it on a quiet machine for timings: every engine is timed on one
thread, but a loaded machine slows each engine unevenly."""
import argparse
import glob
import json
import os
import select
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def pct(xs, p):
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * (len(xs) - 1) + 0.5))]


def gguf_path(model):
    if os.path.isfile(model):
        return model
    hits = glob.glob(os.path.expanduser(f"~/.cache/lexie/models/{model}/*.gguf"))
    if not hits:
        sys.exit(f"maskbench_peers: no GGUF file for {model} (lexie pull {model})")
    return hits[0]


# ==== Workers (one engine, one vocabulary; file paths on stdin) ====

class Peer:
    """What each peer engine implements: compile(schema) -> error text or
    None, then start() / mask() / allowed(t) / commit(t) / accepting()."""

    def __init__(self, tok):
        self.tok = tok


class Llg(Peer):
    def __init__(self, tok, n_vocab):
        super().__init__(tok)
        import llguidance
        import llguidance.numpy as lnp
        self.llg, self.lnp = llguidance, lnp
        self.lltok = llguidance.LLTokenizer(tok.backend_tokenizer.to_str(), n_vocab=n_vocab,
                                            eos_token=tok.eos_token_id)
        self.bits = lnp.allocate_token_bitmask(1, self.lltok.vocab_size)

    def compile(self, schema):
        g = self.llg.LLMatcher.grammar_from_json_schema(schema)
        self.m0 = self.llg.LLMatcher(self.lltok, g, log_level=0)
        return self.m0.get_error() if self.m0.is_error() else None

    def start(self):
        self.m = self.m0.deep_copy()

    def mask(self):
        self.lnp.fill_next_token_bitmask(self.m, self.bits)

    def allowed(self, t):
        return (int(self.bits[0, t >> 5]) >> (t & 31)) & 1

    def commit(self, t):
        return self.m.consume_token(t) and not self.m.is_error()

    def accepting(self):
        return self.m.is_accepting()


class Xgr(Peer):
    def __init__(self, tok, n_vocab):
        super().__init__(tok)
        import xgrammar
        self.xgr = xgrammar
        info = xgrammar.TokenizerInfo.from_huggingface(tok, vocab_size=n_vocab)
        self.stop = list(info.stop_token_ids)
        self.compiler = xgrammar.GrammarCompiler(info, max_threads=1, cache_enabled=False)
        self.bits = xgrammar.allocate_token_bitmask(1, info.vocab_size)

    def compile(self, schema):
        # upstream MaskBench's default XGrammar mode: strict, no free whitespace
        self.cg = self.compiler.compile_json_schema(json.dumps(schema), any_whitespace=False,
                                                    strict_mode=True)
        self.m = self.xgr.GrammarMatcher(self.cg)
        return None

    def start(self):
        self.m.reset()

    def mask(self):
        self.m.fill_next_token_bitmask(self.bits)

    def allowed(self, t):
        return (int(self.bits[0, t >> 5]) >> (t & 31)) & 1

    def commit(self, t):
        return self.m.accept_token(t)

    def accepting(self):
        # the grammar may end here: it accepts a stop token
        return any(self.m.accept_token(s) for s in self.stop[:1])


def one_file(eng, path):
    with open(path) as f:
        doc = json.load(f)
    out = {"id": os.path.basename(path)[:-5], "compile_us": 0.0, "tests": len(doc["tests"]),
           "passed": False, "false_reject": 0, "false_accept": 0, "tokens": 0, "mask_us": []}
    t0 = time.perf_counter()
    try:
        err = eng.compile(doc["schema"])
    except Exception as e:  # a peer's refusal is an exception or an error state
        err = repr(e)
    out["compile_us"] = (time.perf_counter() - t0) * 1e6
    if err:
        out["compile_error"] = str(err)[:300]
        return out
    for test in doc["tests"]:
        text = json.dumps(test["data"], indent=None, ensure_ascii=False)
        toks = eng.tok.encode(text, add_special_tokens=False)
        eng.start()
        ok = True
        for t in toks:
            m0 = time.perf_counter()
            eng.mask()
            out["mask_us"].append(round((time.perf_counter() - m0) * 1e6, 1))
            out["tokens"] += 1
            if not eng.allowed(t) or not eng.commit(t):
                ok = False
                break
        ok = ok and eng.accepting()
        if test["valid"] and not ok:
            out["false_reject"] += 1
        if not test["valid"] and ok:
            out["false_accept"] += 1
    out["passed"] = out["false_reject"] == 0 and out["false_accept"] == 0
    return out


def worker(engine, gguf):
    from transformers import AutoTokenizer
    import gguf as ggufpkg
    n_vocab = len(ggufpkg.GGUFReader(gguf).fields["tokenizer.ggml.tokens"].data)
    tok = AutoTokenizer.from_pretrained(os.path.dirname(gguf), gguf_file=os.path.basename(gguf))
    eng = (Llg if engine == "llguidance" else Xgr)(tok, n_vocab)
    print(json.dumps({"ready": True, "n_vocab": n_vocab}), flush=True)
    for line in sys.stdin:
        print(json.dumps(one_file(eng, line.strip())), flush=True)


# ==== Driver ====

def run_lexie(files, gguf, timeout, exe):
    if not os.path.exists(exe):
        sys.exit("maskbench_peers: build/bench/maskbench missing (make bench)")
    p = subprocess.run([exe, "-m", gguf, "-t", str(timeout)] + files, capture_output=True,
                       text=True, check=True)
    return [json.loads(l) for l in p.stdout.splitlines() if l.strip()]


def run_peer(engine, files, gguf, timeout, log):
    rows, i = [], 0
    while i < len(files):
        w = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker", engine,
                              "--gguf", gguf], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=log, text=True, bufsize=1)
        if not json.loads(w.stdout.readline() or "{}").get("ready"):
            sys.exit(f"maskbench_peers: the {engine} worker did not start")
        while i < len(files):
            w.stdin.write(files[i] + "\n")
            w.stdin.flush()
            r, _, _ = select.select([w.stdout], [], [], timeout)
            line = w.stdout.readline() if r else ""
            if not line:  # past the limit (or died): a timeout, then a fresh worker
                w.kill()
                w.wait()
                rows.append({"id": os.path.basename(files[i])[:-5], "timeout": True,
                             "compile_us": 0.0, "tests": 0, "passed": False, "false_reject": 0,
                             "false_accept": 0, "tokens": 0, "mask_us": []})
                i += 1
                break
            rows.append(json.loads(line))
            i += 1
        else:
            w.stdin.close()
            w.wait()
    return rows


def summary(rows):
    masks = [x for r in rows for x in r["mask_us"]]
    comp = [r["compile_us"] for r in rows if "compile_error" not in r and not r.get("timeout")]
    return {"files": len(rows), "passed": sum(r["passed"] for r in rows),
            "compiled": sum(1 for r in rows if "compile_error" not in r and not r.get("timeout")),
            "timeouts": sum(1 for r in rows if r.get("timeout")),
            "false_accept": sum(r["false_accept"] for r in rows),
            "false_reject": sum(r["false_reject"] for r in rows), "tokens": len(masks),
            "compile_p50": pct(comp, 50) / 1e3, "compile_p99": pct(comp, 99) / 1e3,
            "mask_p50": pct(masks, 50), "mask_p99": pct(masks, 99), "mask_max": max(masks or [0])}


def table(model, sums):
    print(f"\n## {model}: {sums[next(iter(sums))]['files']} files\n")
    print("| engine | compiled | passing | invalid accepted | valid rejected | timeouts | "
          "compile p50 / p99 (ms) | mask p50 / p99 / max (us) | tokens |")
    print("|---|---|---|---|---|---|---|---|---|")
    for e, s in sums.items():
        print(f"| {e} | {s['compiled']} | {s['passed']} ({100.0 * s['passed'] / max(s['files'], 1):.1f}%)"
              f" | {s['false_accept']} | {s['false_reject']} | {s['timeouts']} | "
              f"{s['compile_p50']:.2f} / {s['compile_p99']:.2f} | "
              f"{s['mask_p50']:.1f} / {s['mask_p99']:.1f} / {s['mask_max']:.0f} | {s['tokens']} |")
    if "lexie" in sums:
        lx = sums["lexie"]
        for e, s in sums.items():
            if e == "lexie":
                continue
            r = lambda a, b: f"{a / b:.2f}x" if b else "-"
            print(f"\nlexie / {e}: passing {lx['passed']} vs {s['passed']}, invalid accepted "
                  f"{lx['false_accept']} vs {s['false_accept']}; compile p50 "
                  f"{r(lx['compile_p50'], s['compile_p50'])}, mask p50 "
                  f"{r(lx['mask_p50'], s['mask_p50'])}, mask p99 {r(lx['mask_p99'], s['mask_p99'])}"
                  " (below 1: lexie faster)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", help="lexie model name or GGUF path (repeatable)")
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "maskbench_dev"))
    ap.add_argument("--sample", type=int, default=0, help="N files spread over the sorted list")
    ap.add_argument("--engines", default="lexie,llguidance,xgrammar")
    ap.add_argument("--timeout", type=float, default=60, help="seconds per file")
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "maskbench-peers"))
    ap.add_argument("--lexie", default=os.path.join(ROOT, "build", "bench", "maskbench"),
                    help="lexie's runner (make bench)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--gguf", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a.worker, a.gguf)
    files = sorted(glob.glob(os.path.join(a.data, "*.json")))
    if not files:
        sys.exit(f"maskbench_peers: no .json files in {a.data}")
    if a.sample and a.sample < len(files):
        step = len(files) / a.sample
        files = [files[int(i * step)] for i in range(a.sample)]
    os.makedirs(a.out, exist_ok=True)
    print(f"maskbench_peers: {len(files)} files from {a.data}; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", file=sys.stderr)
    for model in a.model or ["smollm2-135m-instruct"]:
        gguf = gguf_path(model)
        name = os.path.basename(os.path.dirname(gguf)) or model
        sums = {}
        for e in a.engines.split(","):
            t0 = time.time()
            if e == "lexie":
                rows = run_lexie(files, gguf, a.timeout, a.lexie)
            else:  # the peers' warnings (keywords they ignore) go to a log
                with open(os.path.join(a.out, f"{name}.{e}.log"), "w") as log:
                    rows = run_peer(e, files, gguf, a.timeout, log)
            with open(os.path.join(a.out, f"{name}.{e}.jsonl"), "w") as f:
                for r in rows:
                    f.write(json.dumps(r) + "\n")
            sums[e] = summary(rows)
            print(f"maskbench_peers: {name} {e}: {json.dumps(sums[e])} ({time.time() - t0:.0f} s)",
                  file=sys.stderr)
        table(name, sums)


if __name__ == "__main__":
    main()
