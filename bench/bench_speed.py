"""Engine speed in one run: lexie beside llama.cpp and ik_llama.cpp.

For each model and thread count: prefill tokens/s (one prompt of --n-prompt
tokens) and decode tokens/s (--n-gen single-token steps after it) for
  lexie              build/bench/bench_engine
  llama.cpp          llama-cpp-python
  ik_llama.cpp       ik-llama-cpp-python (ctypes over its libllama)
  ik_llama.cpp -rtr  the same with its run-time repacking (repack_tensors)
as medians of --repeats runs, and lexie's ratio to each peer (> 1: lexie is
faster).  Then the one-thread memory read bandwidth (build/bench/membw, a
streaming sum over 512 MB), the decode bound (bandwidth / bytes read per
token, i.e. the weights a token multiplies by: every tensor but a token
embedding table that is not also the output head; KV cache reads are not
counted, so the bound is optimistic for small models) and lexie's decode as
a percent of it, and lexie's batched decoding: aggregate tokens/s for 1, 2,
4 and 8 sequences sharing the prompt, one token per sequence per decode,
with the ratio to one sequence.

Run (the full benchmark, roughly 20-30 minutes on 2 cores; the machine
should be otherwise idle):

    make -j2 && make bench && IK_NATIVE=1 bash bench/peers/speed_setup.sh
    python3 bench/bench_speed.py --json speed.json

Smoke test (small sizes, one repeat):

    python3 bench/bench_speed.py --quick --models smollm2-135m-instruct --threads 1

Options: --models (catalog names or GGUF paths; default the default
smollm2-135m-instruct Q4_1 and qwen2.5-coder-1.5b-instruct Q4_K_M),
--threads 1,2, --repeats 3, --n-prompt 512, --n-gen 128, --batched 1,2,4,8,
--engines, --flash-attn (the peers' flash attention; default off, with an
F32 KV cache like lexie's, except ik_llama.cpp, which without flash
attention only takes an F16 V cache and keeps its F16 default), --venv (default bench/.venv-speed), --json OUT.

Same token ids in every engine: a deterministic prompt of ordinary tokens;
lexie's decode samples greedily, the peers feed fixed tokens (the cost of a
step does not depend on the token).  Each peer runs in its own subprocess
(the venv's python running this file with --peer), all repeats after one
model load, so one crashing loses only its own row.  The peers' packages
come from bench/peers/speed_setup.sh, never from CI.  ik_llama.cpp is the
PyPI wheel's generic AVX2 build unless IK_NATIVE=1 speed_setup.sh built
libllama for this CPU (bench/.venv-speed/ik-lib.path names it); the table
says which ran.
"""
import argparse
import json
import os
import platform
import re
import statistics
import struct
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_MODELS = ["smollm2-135m-instruct", "qwen2.5-coder-1.5b-instruct"]
ENGINES = ["lexie", "llama.cpp", "ik_llama.cpp", "ik_llama.cpp -rtr"]
PEER_TIMEOUT_S = 3600


def prompt_tokens(n, n_vocab):
    """The prompt bench_engine uses too."""
    return [1000 + (i * 7919) % (n_vocab - 1000) for i in range(n)]


# ---- peers (run inside the bench venv, one engine per process) ----

def peer_llamacpp(a):
    import llama_cpp
    from importlib.metadata import version

    llm = llama_cpp.Llama(model_path=a.model, n_ctx=a.n_prompt + a.n_gen + 16,
                          n_batch=a.n_prompt, logits_all=False, n_threads=a.threads,
                          n_threads_batch=a.threads, verbose=False, type_k=0, type_v=0,
                          flash_attn=a.flash_attn)
    toks = prompt_tokens(a.n_prompt, llm.n_vocab())
    runs = []
    for _ in range(a.repeats):
        llm.reset()  # the next eval drops the cached cells past n_tokens = 0
        t0 = time.perf_counter()
        llm.eval(toks)
        t_prefill = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(a.n_gen):
            llm.eval([toks[i]])
        t_decode = time.perf_counter() - t0
        runs.append({"prefill_tok_s": a.n_prompt / t_prefill,
                     "decode_tok_s": a.n_gen / t_decode})
    return {"package": "llama-cpp-python " + version("llama-cpp-python"), "runs": runs,
            "kv_cache": "F32"}


def peer_ik(a, rtr):
    from importlib.metadata import version
    from ik_llama_cpp import _ctypes_api as C

    C.llama_backend_init()
    mp = C.llama_model_default_params()
    mp.n_gpu_layers = 0
    mp.repack_tensors = rtr
    mp.use_mmap = not rtr  # ik_llama.cpp's -rtr turns mmap off as well
    model = C.llama_model_load_from_file(a.model.encode(), mp)
    if not model:
        raise RuntimeError("llama_model_load_from_file failed")
    cp = C.llama_context_default_params()
    cp.n_ctx = a.n_prompt + a.n_gen + 16
    cp.n_batch = a.n_prompt
    cp.n_ubatch = min(a.n_prompt, 512)
    cp.n_seq_max = 1
    cp.n_threads = cp.n_threads_batch = a.threads
    if a.flash_attn:
        cp.type_k = cp.type_v = 0  # F32, as lexie's cache
    # Without flash attention ik_llama.cpp refuses any V cache but F16
    # ("V cache quantization requires flash_attn"): its default F16 stays.
    cp.flash_attn = a.flash_attn
    cp.logits_all = False
    ctx = C.llama_init_from_model(model, cp)
    if not ctx:
        raise RuntimeError("llama_init_from_model failed")
    n_vocab = C.llama_vocab_n_tokens(C.llama_model_get_vocab(model))
    toks = prompt_tokens(a.n_prompt, n_vocab)
    big = C.llama_batch_init(a.n_prompt, 0, 1)
    one = C.llama_batch_init(1, 0, 1)
    for i, t in enumerate(toks):
        big.token[i], big.pos[i], big.n_seq_id[i] = t, i, 1
        big.seq_id[i][0], big.logits[i] = 0, int(i == a.n_prompt - 1)
    big.n_tokens = a.n_prompt
    one.n_tokens, one.n_seq_id[0], one.seq_id[0][0], one.logits[0] = 1, 1, 0, 1
    runs = []
    for _ in range(a.repeats):
        C.llama_kv_cache_clear(ctx)
        t0 = time.perf_counter()
        if C.llama_decode(ctx, big) != 0:
            raise RuntimeError("llama_decode failed on the prompt")
        t_prefill = time.perf_counter() - t0
        t0 = time.perf_counter()
        for i in range(a.n_gen):
            one.token[0], one.pos[0] = toks[i], a.n_prompt + i
            if C.llama_decode(ctx, one) != 0:
                raise RuntimeError(f"llama_decode failed at step {i}")
        t_decode = time.perf_counter() - t0
        runs.append({"prefill_tok_s": a.n_prompt / t_prefill,
                     "decode_tok_s": a.n_gen / t_decode})
    return {"package": "ik-llama-cpp-python " + version("ik-llama-cpp-python"), "runs": runs,
            "kv_cache": "F32" if a.flash_attn else "F16"}


def peer_main(a):
    if a.peer == "llama.cpp":
        out = peer_llamacpp(a)
    elif a.peer in ("ik_llama.cpp", "ik_llama.cpp -rtr"):
        out = peer_ik(a, a.peer.endswith("-rtr"))
    else:
        sys.exit(f"bench: unknown peer {a.peer}")
    sys.stdout.flush()
    # The result goes last on stdout, after whatever the library printed.
    print("BENCH_RESULT " + json.dumps(out), flush=True)


# ---- the driver ----

def sh(cmd, timeout=None, env=None):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          env=env)


def resolve_model(name):
    if os.path.exists(name):
        return os.path.abspath(name)
    out = sh(["./build/lexie", "path", name])
    path = out.stdout.strip()
    if out.returncode != 0 or not path or not os.path.exists(path):
        sys.exit(f"bench: no model {name!r}; `./build/lexie pull {name}` or pass a GGUF path")
    return path


GGUF_SCALAR = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def gguf_weights(path):
    """(file type name, bytes read per token, all tensor bytes) from the
    GGUF header: tensor sizes from the gaps between their data offsets."""
    with open(path, "rb") as f:
        def rd(fmt):
            return struct.unpack("<" + fmt, f.read(struct.calcsize("<" + fmt)))[0]

        def rstr():
            return f.read(rd("Q")).decode("utf-8", "replace")

        def skip(t):
            if t == 8:
                f.seek(rd("Q"), 1)
            elif t == 9:
                et, n = rd("I"), rd("Q")
                if et in GGUF_SCALAR:
                    f.seek(GGUF_SCALAR[et] * n, 1)
                else:
                    for _ in range(n):
                        skip(et)
            else:
                f.seek(GGUF_SCALAR[t], 1)

        if f.read(4) != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        rd("I")
        n_tensors, n_kv = rd("Q"), rd("Q")
        align, ftype = 32, None
        for _ in range(n_kv):
            key, t = rstr(), rd("I")
            if key == "general.alignment" and t == 4:
                align = rd("I")
            elif key == "general.file_type" and t == 4:
                ftype = rd("I")
            else:
                skip(t)
        infos = []
        for _ in range(n_tensors):
            name = rstr()
            f.seek(8 * rd("I"), 1)
            rd("I")
            infos.append((rd("Q"), name))
        data_start = (f.tell() + align - 1) // align * align
    end = os.path.getsize(path) - data_start
    infos.sort()
    sizes = {name: (infos[i + 1][0] if i + 1 < len(infos) else end) - off
             for i, (off, name) in enumerate(infos)}
    total = sum(sizes.values())
    per_token = total
    if "output.weight" in sizes and "token_embd.weight" in sizes:
        per_token -= sizes["token_embd.weight"]  # one row of it is read, not all
    names = {2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 15: "Q4_K_M",
             14: "Q4_K_S", 17: "Q5_K_M", 18: "Q6_K", 1: "F16", 0: "F32"}
    return names.get(ftype, f"file_type {ftype}"), per_token, total


def run_lexie(a, model, threads):
    runs, batched, err = [], [], None
    for _ in range(a.repeats):
        cmd = ["./build/bench/bench_engine", model, str(a.n_prompt), str(a.n_gen),
               str(threads), "0", a.batched]
        try:
            out = sh(cmd, timeout=PEER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            err = "timed out"
            break
        if out.returncode != 0:
            err = (out.stderr.strip().splitlines() or [f"exit {out.returncode}"])[-1]
            break
        r = json.loads(out.stdout)
        runs.append({"prefill_tok_s": r["prefill_tok_s"], "decode_tok_s": r["decode_tok_s"]})
        batched.append({b["n_seq"]: b["tok_s"] for b in r["batched"]})
    return {"package": "lexie " + git_rev(), "runs": runs, "error": err}, batched


def run_peer(a, engine, model, threads):
    py = os.path.join(a.venv, "bin", "python")
    if not os.path.exists(py):
        return {"runs": [], "error": f"no {py}: run bash bench/peers/speed_setup.sh"}
    cmd = [py, os.path.abspath(__file__), "--peer", engine, "--model", model,
           "--threads", str(threads), "--n-prompt", str(a.n_prompt), "--n-gen", str(a.n_gen),
           "--repeats", str(a.repeats)] + (["--flash-attn"] if a.flash_attn else [])
    env, lib = dict(os.environ), None
    lib_file = os.path.join(a.venv, "ik-lib.path")  # IK_NATIVE=1 speed_setup.sh
    if engine.startswith("ik_") and os.path.exists(lib_file):
        with open(lib_file) as f:
            lib = f.read().strip()
        env["IK_LLAMA_CPP_LIB_PATH"] = lib
    try:
        out = sh(cmd, timeout=PEER_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        return {"runs": [], "error": "timed out"}
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("BENCH_RESULT "):
            r = json.loads(line[len("BENCH_RESULT "):])
            r["error"] = None
            # What ik_llama.cpp says of itself: how many tensors -rtr
            # repacked (none for a type without a repacked layout), and
            # whether its build has the AVX-512 kernels.
            log = out.stdout + out.stderr
            n = re.search(r"Repacked (\d+) tensors", log)
            if engine.startswith("ik_"):
                r["repacked_tensors"] = int(n.group(1)) if n else 0
                r["avx512_kernels"] = "HAVE_FANCY_SIMD is NOT defined" not in log
                r["library"] = lib or "the wheel's (AVX2)"
                if lib:
                    r["package"] += " (libllama built for this CPU)"
            return r
    tail = (out.stderr.strip().splitlines() or [""])[-1]
    return {"runs": [], "error": f"exit {out.returncode}: {tail}"[:300]}


def git_rev():
    out = sh(["git", "rev-parse", "--short", "HEAD"])
    return out.stdout.strip() or "?"


def median(runs, key):
    return statistics.median(r[key] for r in runs) if runs else None


def fmt(v, spec="9.1f"):
    return format(v, spec) if v is not None else "n/a".rjust(int(spec.split(".")[0]))


def fmtx(v, width):
    return (f"{v:.2f}x" if v is not None else "n/a").rjust(width)


def ratio(x, y):
    return x / y if x and y else None


def membw(a):
    out = sh(["./build/bench/membw", str(a.membw_mb), "5" if not a.quick else "2"])
    if out.returncode != 0:
        print(f"bench: membw failed: {out.stderr.strip()}", file=sys.stderr)
        return None
    return json.loads(out.stdout)


def print_model(m, a):
    print(f"\n== {os.path.basename(m['name'])} ({m['type']}, {m['bytes_per_token'] / 1e9:.3f} GB "
          f"read per token), prompt {a.n_prompt}, generated {a.n_gen}, "
          f"median of {a.repeats} ==")
    print(f"{'thr':>3} {'engine':18} {'prefill tok/s':>13} {'decode tok/s':>12} "
          f"{'lexie/peer prefill':>19} {'decode':>7}")
    for row in m["rows"]:
        lx = next(r for r in m["rows"] if r["threads"] == row["threads"]
                  and r["engine"] == "lexie")
        rp = ratio(lx["prefill_tok_s"], row["prefill_tok_s"])
        rd = ratio(lx["decode_tok_s"], row["decode_tok_s"])
        peer = row["engine"] != "lexie"
        extra = f" {fmtx(rp, 19)} {fmtx(rd, 7)}" if peer else ""
        notes = [row["error"]] if row["error"] else []
        if peer and row["runs"]:
            notes.append(f"KV {row['kv_cache']}")
            if row["avx512_kernels"] is False:
                notes.append("AVX2 build")
            elif row["avx512_kernels"]:
                notes.append("native build")
            if row["engine"].endswith("-rtr"):
                notes.append(f"{row['repacked_tensors']} tensors repacked")
        print(f"{row['threads']:>3} {row['engine']:18} {fmt(row['prefill_tok_s'], '13.1f')} "
              f"{fmt(row['decode_tok_s'], '12.1f')}{extra}"
              + (f"   [{'; '.join(notes)}]" if notes else ""))
    if m["decode_bound_tok_s"]:
        print(f"decode bound: {m['bandwidth_gb_s']:.2f} GB/s (one thread) / "
              f"{m['bytes_per_token'] / 1e9:.3f} GB = {m['decode_bound_tok_s']:.1f} tok/s; lexie "
              + ", ".join(f"{t} thr {fmt(p, '.0f').strip()}%"
                          for t, p in m["lexie_pct_of_bound"].items()))
    for t, rows in m["batched"].items():
        cells = ", ".join(f"{b['n_seq']}: {fmt(b['tok_s'], '.1f')} ({fmt(b['vs_1'], '.2f')}x)"
                          for b in rows)
        print(f"lexie batched decode, {t} thr, aggregate tok/s (vs 1 sequence): {cells or 'n/a'}")


def drive(a):
    if not os.path.exists(os.path.join(ROOT, "build/bench/bench_engine")) or \
            not os.path.exists(os.path.join(ROOT, "build/bench/membw")):
        sys.exit("bench: run `make -j2 && make bench` first")
    threads = [int(t) for t in a.threads.split(",")]
    engines = [e.strip() for e in a.engines.split(",")]
    for e in engines:
        if e not in ENGINES:
            sys.exit(f"bench: unknown engine {e!r}; one of {', '.join(ENGINES)}")
    bw = membw(a)
    bw_gbs = bw["best_gb_s"] if bw else None
    report = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "host": platform.node(),
              "cpu": cpu_name(), "n_prompt": a.n_prompt, "n_gen": a.n_gen,
              "repeats": a.repeats, "threads": threads, "flash_attn_peers": a.flash_attn,
              "membw": bw, "models": []}
    print(f"lexie {git_rev()}, {report['cpu']}, read bandwidth "
          f"{fmt(bw_gbs, '.2f')} GB/s (one thread, {a.membw_mb} MB, best pass)")
    for name in a.models.split(","):
        path = resolve_model(name)
        ftype, per_token, total = gguf_weights(path)
        m = {"name": name, "path": path, "type": ftype, "weight_bytes": total,
             "bytes_per_token": per_token, "bandwidth_gb_s": bw_gbs,
             "decode_bound_tok_s": bw_gbs * 1e9 / per_token if bw_gbs else None,
             "rows": [], "batched": {}, "lexie_pct_of_bound": {}}
        for t in threads:
            for e in engines:
                if e == "lexie":
                    r, batched = run_lexie(a, path, t)
                    counts = [int(n) for n in a.batched.split(",")]
                    agg = {n: statistics.median(b[n] for b in batched) if batched else None
                           for n in counts}
                    m["batched"][t] = [{"n_seq": n, "tok_s": agg[n],
                                        "vs_1": ratio(agg[n], agg.get(1))} for n in counts]
                else:
                    r = run_peer(a, e, path, t)
                row = {"engine": e, "threads": t, "package": r.get("package"),
                       "kv_cache": r.get("kv_cache", "F32"),
                       "repacked_tensors": r.get("repacked_tensors"),
                       "avx512_kernels": r.get("avx512_kernels"),
                       "library": r.get("library"),
                       "prefill_tok_s": median(r["runs"], "prefill_tok_s"),
                       "decode_tok_s": median(r["runs"], "decode_tok_s"),
                       "runs": r["runs"], "error": r["error"]}
                m["rows"].append(row)
                if e == "lexie" and m["decode_bound_tok_s"] and row["decode_tok_s"]:
                    m["lexie_pct_of_bound"][t] = 100 * row["decode_tok_s"] / m["decode_bound_tok_s"]
            if "lexie" not in engines:
                m["rows"].insert(0, {"engine": "lexie", "threads": t, "prefill_tok_s": None,
                                     "decode_tok_s": None, "runs": [], "error": "not run"})
        for row in m["rows"]:
            if row["engine"] != "lexie":
                lx = next(r for r in m["rows"] if r["threads"] == row["threads"]
                          and r["engine"] == "lexie")
                row["lexie_ratio_prefill"] = ratio(lx["prefill_tok_s"], row["prefill_tok_s"])
                row["lexie_ratio_decode"] = ratio(lx["decode_tok_s"], row["decode_tok_s"])
        report["models"].append(m)
        print_model(m, a)
    packages = sorted({r["package"] for m in report["models"] for r in m["rows"]
                       if r.get("package")})
    report["packages"] = packages
    print("\npackages: " + "; ".join(packages))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {a.json}")


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip() + f" x{os.cpu_count()}"
    except OSError:
        pass
    return platform.processor() or "?"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(DEFAULT_MODELS),
                    help="comma list of catalog names or GGUF paths")
    ap.add_argument("--model", help=argparse.SUPPRESS)  # --peer's one model
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int)
    ap.add_argument("--n-prompt", type=int)
    ap.add_argument("--n-gen", type=int)
    ap.add_argument("--batched", default="1,2,4,8", help="lexie's batched sequence counts")
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--flash-attn", action="store_true", help="the peers' flash attention")
    ap.add_argument("--venv", default=os.path.join(ROOT, "bench", ".venv-speed"))
    ap.add_argument("--quick", action="store_true",
                    help="smoke test: prompt 64, 16 generated, 1 repeat, 128 MB bandwidth")
    ap.add_argument("--json", metavar="OUT")
    ap.add_argument("--peer", help=argparse.SUPPRESS)
    a = ap.parse_args()
    a.n_prompt = a.n_prompt or (64 if a.quick else 512)
    a.n_gen = a.n_gen or (16 if a.quick else 128)
    a.repeats = a.repeats or (1 if a.quick else 3)
    a.membw_mb = 128 if a.quick else 512
    if a.peer:
        a.threads = int(a.threads)
        peer_main(a)
    else:
        drive(a)


if __name__ == "__main__":
    main()
