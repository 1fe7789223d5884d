#!/usr/bin/env python3
"""check_schema_generation.py -- the generation check of issue 14: run
`lexie generate --json-schema` on the first N MaskBench schemas (sorted by
file name) that compile, and validate every output with Python's
`jsonschema` package (a check dependency, not needed by CI or lexie).

    python3 scripts/check_schema_generation.py --limit 300 [--model NAME] [-n 384]

Prints one line per schema that fails (not parsed, not valid, cut, error)
and a summary: compiled, generated, parsed, validated, cut (the -n budget
or the context ran out before the output could be closed: lexie exits 1
and says so), and the mask's share of decode time (lexie's --timing: time
in grammar masks over the time of whole decode steps, summed over runs).
A schema that lexie refuses to compile is skipped (counted as refused); N
counts compiled schemas.  With --jsonl FILE every run is recorded.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

try:
    import jsonschema
except ImportError:
    sys.exit("check_schema_generation: needs the jsonschema package (pip install jsonschema)")

PROMPT = (
    "Write one JSON value that is valid under the JSON Schema below. "
    "Reply with the JSON only.\n\nSchema:\n{schema}"
)
TIMING = re.compile(r"timing: (\d+) steps, ([0-9.]+) ms in steps, ([0-9.]+) ms in grammar masks")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    data = os.environ.get("LEXIE_DATA", os.path.join(root, "..", "shared", "data"))
    ap.add_argument("--dir", default=os.path.join(data, "maskbench_dev"))
    ap.add_argument("--lexie", default=os.path.join(root, "build", "lexie"))
    ap.add_argument("--model", default=None, help="model name or GGUF (default: lexie's default)")
    ap.add_argument("--limit", type=int, default=300, help="compiled schemas to run (default 300)")
    ap.add_argument("-n", type=int, default=384, help="max tokens per output (default 384)")
    ap.add_argument("-c", type=int, default=8192, help="context size (default 8192)")
    ap.add_argument("-t", type=int, default=0, help="threads (default: lexie's default)")
    ap.add_argument("--max-schema-chars", type=int, default=6000,
                    help="schema text in the prompt is cut to this (default 6000)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per run")
    ap.add_argument("--jsonl", default=None, help="write one JSON line per run here")
    a = ap.parse_args()

    files = sorted(f for f in os.listdir(a.dir) if f.endswith(".json"))
    rec = open(a.jsonl, "w") if a.jsonl else None
    c = dict(refused=0, compiled=0, generated=0, parsed=0, validated=0, cut=0, errors=0)
    t_start = time.time()
    counters = dict(mask_ms=0.0, step_ms=0.0, steps=0)
    interrupted = False
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run_all(a, files, c, rec, tmp, counters)
    except KeyboardInterrupt:
        interrupted = True
    mask_ms, step_ms, steps = counters["mask_ms"], counters["step_ms"], counters["steps"]
    report(c, mask_ms, step_ms, steps, t_start, interrupted)
    ok = not interrupted and c["validated"] == c["generated"] == c["parsed"] and not c["errors"]
    return 0 if ok else 1


def run_all(a, files, c, rec, tmp, k):
    """Runs the files until a.limit compiled; counts into c, timing into k."""
    sp = os.path.join(tmp, "schema.json")
    for name in files:
        if c["compiled"] >= a.limit:
            break
        with open(os.path.join(a.dir, name), encoding="utf-8") as f:
            schema = json.load(f)["schema"]
        with open(sp, "w", encoding="utf-8") as f:
            json.dump(schema, f, ensure_ascii=False)
        text = json.dumps(schema, ensure_ascii=False, separators=(",", ":"))
        prompt = PROMPT.format(schema=text[: a.max_schema_chars])
        cmd = [a.lexie, "generate", "--chat", "-p", prompt, "--json-schema", sp,
               "-n", str(a.n), "-c", str(a.c), "--timing"]
        if a.model:
            cmd += ["-m", a.model]
        if a.t:
            cmd += ["-t", str(a.t)]
        try:
            r = subprocess.run(cmd, capture_output=True, timeout=a.timeout)
            rc, out, err = r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode(
                "utf-8", "replace")
        except subprocess.TimeoutExpired:
            rc, out, err = -1, "", "timeout"
        if rc != 0 and "does not compile" in err:
            c["refused"] += 1
            continue
        c["compiled"] += 1
        m = TIMING.search(err)
        if m:
            k["steps"] += int(m.group(1))
            k["step_ms"] += float(m.group(2))
            k["mask_ms"] += float(m.group(3))
        status = "ok"
        if rc != 0:
            status = "cut" if "was cut" in err else "error"
            c["cut" if status == "cut" else "errors"] += 1
        else:
            c["generated"] += 1
            try:
                inst = json.loads(out)
                c["parsed"] += 1
                cls = jsonschema.validators.validator_for(schema)
                v = cls(schema, format_checker=cls.FORMAT_CHECKER)
                errs = list(v.iter_errors(inst))
                if errs:
                    status = "invalid: " + errs[0].message[:200]
                else:
                    c["validated"] += 1
            except json.JSONDecodeError as e:
                status = "not parsed: %s" % e
            except Exception as e:  # a schema jsonschema itself cannot handle
                status = "validator error: %s" % e
        if status != "ok":
            print("%s: %s | %s" % (name, status, (out.strip() or err.strip())[:300]),
                  flush=True)
        if rec:
            rec.write(json.dumps(dict(file=name, rc=rc, status=status, output=out,
                                      stderr=err[-2000:]), ensure_ascii=False) + "\n")
            rec.flush()


def report(c, mask_ms, step_ms, steps, t_start, interrupted):
    share = 100.0 * mask_ms / step_ms if step_ms > 0 else 0.0
    if interrupted:
        print("interrupted: figures cover the schemas finished so far")
    print("schemas refused by the compiler (skipped): %d" % c["refused"])
    print("compiled %d, generated %d, parsed %d, validated %d, cut (budget) %d, errors %d"
          % (c["compiled"], c["generated"], c["parsed"], c["validated"], c["cut"], c["errors"]))
    print("mask share of decode steps: %.2f%% (%.1f ms of %.1f ms over %d steps); wall %.0f s"
          % (share, mask_ms, step_ms, steps, time.time() - t_start))


if __name__ == "__main__":
    sys.exit(main())
