#!/usr/bin/env python3
"""train_peers.py -- LoRA training speed: `lexie train sft` against PyTorch +
PEFT (a plain training loop) and TRL's SFTTrainer, or (--task dpo) `lexie
train dpo` against TRL's DPOTrainer, on the same model, data, LoRA and
batch, measured in the same run, with one table.

    bash bench/peers/train_setup.sh    # once: bench/.venv-train (never in CI)
    make -j2                           # build/lexie and build/liblexie.so
    OMP_WAIT_POLICY=PASSIVE bench/.venv-train/bin/python bench/train_peers.py \\
        [--model smollm2-135m-instruct] [--batch 8] [--seq-len 128] [--steps 3] \\
        [--warmup 1] [--rounds 2] [--threads 2] [--peers lexie,peft,trl-nogc,trl:1] \\
        [--out DIR] [--table RUNS.json] [--task sft|dpo]

The model is the GGUF file lexie trains (~/.cache/lexie/models/MODEL/*.gguf);
the peers load that same file with transformers (from_pretrained(dir,
gguf_file=...), which dequantizes it to fp32).  No other model is ever
substituted: if the peers cannot load it, the script says so and stops.

Data: --n-examples instruction examples made deterministically here, each
rendered with the model's chat template by lexie's own library (the
Python binding, which tokenizes as `lexie train` does) and grown word by
word until it is exactly --seq-len tokens long, so every step of every
framework computes batch x seq-len tokens and nothing is padded or cut:
"tokens" below is all tokens of the step's sequences (= the non-padding
tokens; the loss covers the response part, its end of turn included).
lexie reads the JSONL; the peers get the very same token ids and loss
masks (labels -100 on the prompt).

Same training setup everywhere: LoRA rank 16, alpha 32, dropout 0.05 on
q, k, v, o, gate, up and down; AdamW (0.9, 0.999, 1e-8, weight decay 0);
peak lr 2e-4, warm-up ceil(3% of the steps), cosine; clipping at norm 1;
fp32 on the CPU; --threads threads (torch.set_num_threads; lexie -t).
Each run is warmup + steps optimizer steps in a fresh process; the first
--warmup steps are not timed.  Frameworks run one after another, the
order reversed every round (--rounds), so a change in the machine's load
falls on all of them.

Measured per timed step: wall time (lexie: its log's tokens_per_s, which
is the step's tokens over its wall time; the peers: perf_counter around
the step) and the process's CPU time (lexie: /proc/PID/stat sampled when
each log line appears; the peers: time.process_time around the step),
and each process's peak RSS (wait4's ru_maxrss, model loading
included).  On a shared machine wall time depends on the load; CPU time
much less (but a thread spinning while it waits counts as CPU time).
"tok/s cpu" = tokens / (CPU seconds / threads): the speed with every
thread on its own core.

Threads on a loaded machine: torch's OpenMP threads spin while they wait
at a barrier, so with 2 threads on 2 busy shared cores a torch step took
2-4x the CPU time and about 3x the wall time of the same step with
OMP_WAIT_POLICY=PASSIVE or on 1 thread (measured; docs/training.md).
Run the peers' figures with OMP_WAIT_POLICY=PASSIVE (it changes nothing
in lexie, which has no OpenMP) or --threads 1 unless the machine is
idle.  --table RUNS.json prints the table of an earlier run again.

DPO (--task dpo; peers lexie, trl-dpo, trl-dpo-pre): --batch pairs a step
(each a chosen and a rejected sequence, both exactly --seq-len tokens:
the rejected answer swaps the chemical and the disease, or names other
ones, whichever renders to the same length), beta 0.1, the base model as
the reference, LoRA dropout on in both (DPOConfig's disable_dropout is
set to False to match).  lexie computes the reference log-probabilities
once before its first step (not in the step times; the run's total wall
time, printed, holds it); TRL by default runs the reference (the model
with the adapter disabled) in every step (trl-dpo), or once before
training with precompute_ref_log_probs=True (trl-dpo-pre), as lexie does.
No FLOP rates are printed for DPO.

Known differences, kept because each is the tool's default behaviour:
lexie keeps only each layer's input and recomputes the layer in the
backward pass (checkpointing; the CLI has no switch) and computes the
output head on the loss tokens only; PEFT's loop keeps all activations
and computes the head on every token; TRL's SFTTrainer runs with
SFTConfig's default gradient_checkpointing (printed).
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

# ---- data -------------------------------------------------------------------

CHEMS = ["aspirin", "cisplatin", "lithium", "warfarin", "metformin", "caffeine", "heparin",
         "tamoxifen", "ibuprofen", "morphine", "nicotine", "insulin", "digoxin", "ketamine"]
DISEASES = ["hepatitis", "asthma", "anemia", "psoriasis", "arthritis", "epilepsy", "glaucoma",
            "leukemia", "migraine", "nephritis", "sepsis", "gout", "angina", "myopathy"]
FRAMES = ["Patients given {c} for {d} were followed for a year.",
          "A case of {d} after long use of {c} is described.",
          "{c} did not change the course of {d} in this trial.",
          "We report that {c} lowered the rate of {d} in older adults."]
FILLER = ("the study was small and the results need to be checked in a larger group of "
          "patients before any advice can be given to doctors or to the public").split()


def make_examples(model, n, seq_len):
    """n instruction examples, each exactly seq_len tokens as lexie renders
    them; returns (records for the JSONL, [(ids, loss_mask)])."""
    recs, toks = [], []
    for i in range(n):
        c, d = CHEMS[i % len(CHEMS)], DISEASES[(i * 5 + 3) % len(DISEASES)]
        sent = FRAMES[i % len(FRAMES)].format(c=c, d=d)
        sent = sent[0].upper() + sent[1:]
        rec = {"instruction": "List the chemicals and the diseases that the sentence names, "
                              "one line each.",
               "input": sent,
               "output": f"chemical: {c}\ndisease: {d}"}
        k = 0
        while True:
            user = rec["instruction"] + "\n\n" + rec["input"]
            conv = [{"role": "user", "content": user}]
            prompt = model.chat_tokens(conv, add_generation_prompt=True)
            full = model.chat_tokens(conv + [{"role": "assistant", "content": rec["output"]}],
                                     add_generation_prompt=False)
            if full[:len(prompt)] != prompt:
                sys.exit("train_peers: the prompt's tokens are not a prefix of the example's")
            if len(full) == seq_len:
                break
            if len(full) > seq_len or k >= 4 * seq_len:
                sys.exit(f"train_peers: cannot make example {i} exactly {seq_len} tokens "
                         f"(got {len(full)}); use a longer --seq-len")
            rec["input"] += " " + FILLER[(i + k) % len(FILLER)]
            k += 1
        recs.append(rec)
        toks.append((full, [0] * len(prompt) + [1] * (len(full) - len(prompt))))
    return recs, toks


def make_pairs(model, n, seq_len):
    """n preference pairs: the chosen answer is make_examples' output, the
    rejected one a wrong answer of the same rendered length; returns
    (records for lexie's JSONL, [(chosen ids, rejected ids, prompt length)])."""
    recs, toks = [], []
    ex, _ = make_examples(model, n, seq_len)
    for i, rec in enumerate(ex):
        user = rec["instruction"] + "\n\n" + rec["input"]
        conv = [{"role": "user", "content": user}]
        prompt = model.chat_tokens(conv, add_generation_prompt=True)
        chosen = model.chat_tokens(conv + [{"role": "assistant", "content": rec["output"]}],
                                   add_generation_prompt=False)
        c, d = (x.split(": ", 1)[1] for x in rec["output"].split("\n"))
        wrong = [f"chemical: {d}\ndisease: {c}"] + \
            [f"chemical: {c2}\ndisease: {d2}" for c2 in CHEMS for d2 in DISEASES
             if c2 != c and d2 != d]
        for w in wrong:
            rej = model.chat_tokens(conv + [{"role": "assistant", "content": w}],
                                    add_generation_prompt=False)
            if len(rej) == seq_len and rej[:len(prompt)] == prompt:
                break
        else:
            sys.exit(f"train_peers: no rejected answer of {seq_len} tokens for pair {i}")
        recs.append({"prompt": user, "chosen": rec["output"], "rejected": w})
        toks.append((chosen, rej, len(prompt)))
    return recs, toks


# ---- process measurement ------------------------------------------------------

def proc_cpu(pid):
    """utime + stime of a live process in seconds, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_lexie(a, gguf_dir, data_path, work, tag):
    log = os.path.join(work, f"lexie-{tag}.jsonl")
    out = os.path.join(work, f"lexie-{tag}.gguf")
    cmd = [a.lexie, "train", a.task, "-m", a.model, "--data", data_path, "--out", out,
           "--steps", str(a.warmup + a.steps), "--batch", str(a.batch), "--seq-len",
           str(a.seq_len), "--rank", "16", "--alpha", "32", "--dropout", "0.05", "--lr", "2e-4",
           "--warmup-ratio", "0.03", "--schedule", "cosine", "--clip", "1", "--targets", "all",
           "-t", str(a.threads), "--log", log] + (["--beta", "0.1"] if a.task == "dpo" else [])
    if os.path.exists(log):
        os.unlink(log)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cpu_at, seen = [], 0
    cpu0 = None
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        c = proc_cpu(p.pid)
        if cpu0 is None and c is not None:
            cpu0 = c
        try:
            with open(log) as f:
                n = sum(1 for line in f if line.endswith("\n"))
        except OSError:
            n = 0
        while seen < n and c is not None:
            cpu_at.append(c)
            seen += 1
        time.sleep(0.05)
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode(errors="replace")
    if p.returncode != 0:
        sys.exit(f"train_peers: lexie failed ({p.returncode}): {' '.join(cmd)}\n{err}")
    with open(log) as f:
        lines = [json.loads(x) for x in f]
    if len(cpu_at) == len(lines) - 1:  # the last line came just before the exit:
        cpu_at.append(ru.ru_utime + ru.ru_stime)  # its step plus saving the adapter
    if len(lines) != a.warmup + a.steps or len(cpu_at) != len(lines):
        sys.exit(f"train_peers: lexie logged {len(lines)} steps, sampled {len(cpu_at)}")
    ntok = a.batch * a.seq_len * (2 if a.task == "dpo" else 1)  # dpo: batch pairs
    steps = []
    for i, x in enumerate(lines):
        prev = cpu_at[i - 1] if i else None
        steps.append({"loss": x["loss"], "lr": x["lr"], "tokens": ntok,
                      "wall": ntok / x["tokens_per_s"],
                      "cpu": None if prev is None else cpu_at[i] - prev})
    return {"steps": steps, "rss_mb": ru.ru_maxrss / 1024.0, "total_wall": time.perf_counter() - t0,
            "total_cpu": ru.ru_utime + ru.ru_stime, "load": (load0, os.getloadavg()[0]),
            "cmd": " ".join(cmd), "note": "checkpointing on; head on loss tokens" +
            ("; reference log-probabilities once, before step 1" if a.task == "dpo" else "")}


def run_worker(a, kind, spec_path, tag):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, "--spec", spec_path]
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    err_path = os.path.join(a.out, f"{kind}-{tag}.err")
    with open(err_path, "w") as ef:  # a file: progress bars would fill a pipe
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=ef)
        out = p.stdout.read().decode(errors="replace")
        _, status, ru = os.wait4(p.pid, 0)
    with open(err_path, errors="replace") as ef:
        err = ef.read()
    rc = os.waitstatus_to_exitcode(status)
    res = None
    for line in out.splitlines():
        if line.startswith("RESULT "):
            res = json.loads(line[7:])
    if rc != 0 or res is None:
        sys.exit(f"train_peers: the {kind} worker failed ({rc}); stderr tail:\n{err[-3000:]}")
    res.update({"rss_mb": ru.ru_maxrss / 1024.0, "total_wall": time.perf_counter() - t0,
                "total_cpu": ru.ru_utime + ru.ru_stime, "load": (load0, os.getloadavg()[0]),
                "cmd": " ".join(cmd)})
    return res


# ---- the peers (run inside the worker process) -----------------------------------

def load_hf(spec):
    """The GGUF model and tokenizer through transformers, fp32."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer
    kw = {"gguf_file": spec["gguf_name"]}
    major = int(transformers.__version__.split(".")[0])
    dt = {"dtype": torch.float32} if major >= 5 else {"torch_dtype": torch.float32}
    model = AutoModelForCausalLM.from_pretrained(spec["gguf_dir"], **kw, **dt)
    tok = AutoTokenizer.from_pretrained(spec["gguf_dir"], **kw)
    # transformers dequantizes every GGUF tensor to a plain fp32 parameter
    # but still marks the model as GGUF-quantized, and Trainer refuses to
    # train such a model; the weights are fp32 (checked), so drop the mark.
    bad = {str(p.dtype) for p in model.parameters() if p.dtype != torch.float32}
    if bad:
        sys.exit(f"train_peers: the GGUF model loaded with parameters of {bad}, not fp32")
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model, tok


def lora_config(spec):
    from peft import LoraConfig
    return LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules=TARGETS,
                      bias="none", task_type="CAUSAL_LM")


def check_tokenizer(tok, spec):
    """How many examples transformers' GGUF tokenizer renders to lexie's ids."""
    same = 0
    for rec, (ids, _) in zip(spec["records"], spec["tokens"]):
        conv = [{"role": "user", "content": rec["instruction"] + "\n\n" + rec["input"]},
                {"role": "assistant", "content": rec["output"]}]
        try:
            hf = tok.apply_chat_template(conv, tokenize=True, add_generation_prompt=False)
            if isinstance(hf, dict) or hasattr(hf, "keys"):
                hf = hf["input_ids"]
            same += list(hf) == list(ids)
        except Exception:  # a tokenizer without a template: reported as 0 agreeing
            pass
    return same


def worker_peft(spec):
    import torch
    from peft import get_peft_model
    from transformers import get_cosine_schedule_with_warmup
    import peft
    torch.set_num_threads(spec["threads"])
    torch.manual_seed(spec["seed"])
    model, tok = load_hf(spec)
    agree = check_tokenizer(tok, spec)
    model = get_peft_model(model, lora_config(spec))
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=2e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    total = spec["warmup"] + spec["steps"]
    sched = get_cosine_schedule_with_warmup(opt, math.ceil(total * 0.03), total)
    ex, B = spec["tokens"], spec["batch"]
    steps = []
    for s in range(total):
        rows = [ex[(s * B + j) % len(ex)] for j in range(B)]
        ids = torch.tensor([r[0] for r in rows])
        labels = torch.tensor([[t if m else -100 for t, m in zip(*r)] for r in rows])
        w0, c0 = time.perf_counter(), time.process_time()
        lr = sched.get_last_lr()[0]
        loss = model(input_ids=ids, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        steps.append({"loss": loss.item(), "lr": lr, "tokens": int(ids.numel()),
                      "wall": time.perf_counter() - w0, "cpu": time.process_time() - c0})
    return {"steps": steps, "tokenizer_agrees": agree,
            "trainable": sum(p.numel() for p in params),
            "note": f"torch {torch.__version__}, peft {peft.__version__}, "
                    f"attn {model.config._attn_implementation}, no checkpointing, "
                    f"head on all tokens"}


def trainer_kwargs(spec, subdir, **extra):
    """TrainingArguments shared by the TRL peers: the setup of the module
    docstring, one optimizer step a batch, nothing saved or reported."""
    total = spec["warmup"] + spec["steps"]
    kw = dict(output_dir=spec["work"] + "/" + subdir, max_steps=total,
              per_device_train_batch_size=spec["batch"], gradient_accumulation_steps=1,
              learning_rate=2e-4, lr_scheduler_type="cosine",
              warmup_steps=math.ceil(total * 0.03), weight_decay=0.0, max_grad_norm=1.0,
              adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, optim="adamw_torch",
              logging_steps=1, save_strategy="no", report_to=[], disable_tqdm=True,
              use_cpu=True, bf16=False, fp16=False, seed=spec["seed"], dataloader_num_workers=0)
    kw.update(extra)
    return kw


def step_callbacks():
    """(times, losses, callbacks): wall and CPU time of each optimizer step
    and each logged loss, filled in while a Trainer runs."""
    from transformers import TrainerCallback
    times, losses = [], []

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **k):
            times.append([time.perf_counter(), time.process_time()])

        def on_step_end(self, args, state, control, **k):
            times[-1] = [time.perf_counter() - times[-1][0], time.process_time() - times[-1][1]]

    class Losses(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **k):
            if logs and "loss" in logs:
                losses.append(logs["loss"])

    return times, losses, [Timer(), Losses()]


def worker_trl(spec, gc=None):
    import inspect
    import torch
    import trl
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer
    torch.set_num_threads(spec["threads"])
    model, tok = load_hf(spec)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    ds = Dataset.from_list([{"input_ids": ids, "completion_mask": m} for ids, m in spec["tokens"]])
    kw = trainer_kwargs(spec, "trl", max_length=spec["seq_len"], packing=False,
                        completion_only_loss=True)
    if gc is not None:
        kw["gradient_checkpointing"] = gc
    known = inspect.signature(SFTConfig.__init__).parameters
    cfg = SFTConfig(**{k: v for k, v in kw.items() if k in known})
    times, losses, callbacks = step_callbacks()
    tr = SFTTrainer(model=model, args=cfg, train_dataset=ds, processing_class=tok,
                    peft_config=lora_config(spec), callbacks=callbacks)
    tr.train()
    n = spec["batch"] * spec["seq_len"]
    steps = [{"loss": losses[i] if i < len(losses) else None, "tokens": n, "wall": w, "cpu": c}
             for i, (w, c) in enumerate(times)]
    return {"steps": steps, "note": f"trl {trl.__version__}, gradient_checkpointing="
                                    f"{cfg.gradient_checkpointing}, head on all tokens"}


def worker_trl_dpo(spec, pre):
    import inspect
    import torch
    import trl
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer
    torch.set_num_threads(spec["threads"])
    model, tok = load_hf(spec)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    ds = Dataset.from_list([{"prompt": [{"role": "user", "content": r["prompt"]}],
                             "chosen": [{"role": "assistant", "content": r["chosen"]}],
                             "rejected": [{"role": "assistant", "content": r["rejected"]}]}
                            for r in spec["records"]])
    kw = trainer_kwargs(spec, "trl-dpo", max_length=spec["seq_len"] + 16, beta=0.1,
                        disable_dropout=False, precompute_ref_log_probs=pre)
    known = inspect.signature(DPOConfig.__init__).parameters
    cfg = DPOConfig(**{k: v for k, v in kw.items() if k in known})
    times, losses, callbacks = step_callbacks()
    tr = DPOTrainer(model=model, args=cfg, train_dataset=ds, processing_class=tok,
                    peft_config=lora_config(spec), callbacks=callbacks)
    # the same token ids as lexie's, pair by pair (prompt + chosen, prompt + rejected)
    agree = 0
    for row, (ch, rj, _) in zip(tr.train_dataset, spec["tokens"]):
        agree += (list(row["prompt_ids"]) + list(row["chosen_ids"]) == list(ch) and
                  list(row["prompt_ids"]) + list(row["rejected_ids"]) == list(rj))
    tr.train()
    n = 2 * spec["batch"] * spec["seq_len"]
    steps = [{"loss": losses[i] if i < len(losses) else None, "tokens": n, "wall": w, "cpu": c}
             for i, (w, c) in enumerate(times)]
    return {"steps": steps, "tokenizer_agrees": agree,
            "note": f"trl {trl.__version__}, precompute_ref_log_probs={pre}, "
                    f"gradient_checkpointing={cfg.gradient_checkpointing}, head on all tokens"}


# ---- FLOPs (lexie's step_flops in src/train/trainer.c, checkpointing on) ---------

def hparams(gguf_path):
    from gguf import GGUFReader
    r = GGUFReader(gguf_path)

    def val(key):
        f = r.fields.get(key)
        return None if f is None else f.contents()
    arch = val("general.architecture")
    hp = {k: val(f"{arch}.{k}") for k in ("embedding_length", "feed_forward_length",
                                           "block_count", "attention.head_count",
                                           "attention.head_count_kv", "attention.key_length")}
    hp["vocab"] = len(val("tokenizer.ggml.tokens"))
    if not hp["attention.key_length"]:
        hp["attention.key_length"] = hp["embedding_length"] // hp["attention.head_count"]
    return hp


def step_flops(hp, batch, seq_len, n_loss, passes, head_tokens, rank=16):
    d, ff, nl = hp["embedding_length"], hp["feed_forward_length"], hp["block_count"]
    qd = hp["attention.head_count"] * hp["attention.key_length"]
    kvd = hp["attention.head_count_kv"] * hp["attention.key_length"]
    per_tok = passes * 2.0 * (d * qd + 2 * d * kvd + qd * d + 3 * d * ff)
    per_tok += 8.0 * rank * ((d + qd) + 2 * (d + kvd) + (qd + d) + 3 * (d + ff))
    att = batch * (passes + 2.0) * 4.0 * seq_len * seq_len * qd
    return nl * (per_tok * batch * seq_len + att) + 4.0 * d * hp["vocab"] * head_tokens


# ---- the table ----------------------------------------------------------------------

def summary(runs, warmup):
    timed = [s for r in runs for s in r["steps"][warmup:]]
    tok = sum(s["tokens"] for s in timed)
    wall = sum(s["wall"] for s in timed)
    cpu = sum(s["cpu"] for s in timed)
    return {"tokens": tok, "wall": wall, "cpu": cpu, "n": len(timed),
            "best_cpu": min(s["cpu"] / s["tokens"] for s in timed),
            "rss": max(r["rss_mb"] for r in runs),
            "loss0": statistics.mean(r["steps"][0]["loss"] for r in runs
                                     if r["steps"][0]["loss"] is not None)
            if any(r["steps"][0]["loss"] is not None for r in runs) else float("nan"),
            "loads": [x for r in runs for x in r["load"]]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--steps", type=int, default=3, help="timed steps per run")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n-examples", type=int, default=64)
    ap.add_argument("--peers", default="lexie,peft,trl-nogc,trl:1",
                    help="lexie, peft, trl (SFTConfig's defaults: gradient checkpointing on), "
                         "trl-nogc (off); NAME:N runs NAME in the first N rounds only")
    ap.add_argument("--lexie", default=os.path.join(ROOT, "build", "lexie"))
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "train-peers"))
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--table", metavar="RUNS.json", help="print the table of an earlier run")
    ap.add_argument("--task", choices=("sft", "dpo"), default="sft",
                    help="dpo: lexie train dpo against TRL's DPOTrainer; --batch counts pairs")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        with open(a.spec) as f:
            spec = json.load(f)
        res = {"peft": worker_peft, "trl": worker_trl,
               "trl-nogc": lambda s: worker_trl(s, gc=False),
               "trl-dpo": lambda s: worker_trl_dpo(s, pre=False),
               "trl-dpo-pre": lambda s: worker_trl_dpo(s, pre=True)}[a.worker](spec)
        print("RESULT " + json.dumps(res), flush=True)
        return

    if a.table:
        with open(a.table) as f:
            r = json.load(f)
        report(r["threads"], r["batch"], r["seq_len"], r["warmup"], r["n_loss"], r["gguf"],
               r["runs"], r.get("task", "sft"))
        return
    if a.task == "dpo" and a.peers == "lexie,peft,trl-nogc,trl:1":
        a.peers = "lexie,trl-dpo,trl-dpo-pre"
    allowed = ("lexie", "trl-dpo", "trl-dpo-pre") if a.task == "dpo" else \
        ("lexie", "peft", "trl", "trl-nogc")
    cap = {}  # "NAME:N": NAME runs in the first N rounds only
    for x in a.peers.split(","):
        name, _, n = x.partition(":")
        if name not in allowed:
            sys.exit(f"train_peers: unknown peer {name} for --task {a.task}")
        cap[name] = int(n) if n else a.rounds
    peers = list(cap)
    gguf_dir = os.path.join(os.path.expanduser(os.environ.get("LEXIE_CACHE", "~/.cache/lexie")),
                            "models", a.model)
    ggufs = sorted(f for f in os.listdir(gguf_dir) if f.endswith(".gguf")) \
        if os.path.isdir(gguf_dir) else []
    if len(ggufs) != 1:
        sys.exit(f"train_peers: expected one .gguf in {gguf_dir} (`lexie pull {a.model}`)")
    if not os.access(a.lexie, os.X_OK):
        sys.exit(f"train_peers: no {a.lexie} (make -j2)")
    os.makedirs(a.out, exist_ok=True)
    work = a.out

    sys.path.insert(0, os.path.join(ROOT, "python"))
    import lexie
    with lexie.Model(os.path.join(gguf_dir, ggufs[0])) as m:
        make = make_pairs if a.task == "dpo" else make_examples
        recs, toks = make(m, a.n_examples, a.seq_len)
    data_path = os.path.join(work, "data.jsonl")
    with open(data_path, "w") as f:
        for r in recs:
            f.write(json.dumps(r) + "\n")
    spec = {"gguf_dir": gguf_dir, "gguf_name": ggufs[0], "threads": a.threads, "seed": a.seed,
            "warmup": a.warmup, "steps": a.steps, "batch": a.batch, "seq_len": a.seq_len,
            "work": work, "records": recs, "tokens": toks}
    spec_path = os.path.join(work, "spec.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    if a.task == "dpo":
        n_loss = sum(2 * a.seq_len - 2 * pl for _, _, pl in toks) / (2 * len(toks))
        per_step = 2 * a.batch * a.seq_len
    else:
        n_loss = sum(sum(mk[1:]) for _, mk in toks) / len(toks)
        per_step = a.batch * a.seq_len
    print(f"data: {len(recs)} {a.task} items x {a.seq_len} tokens ({n_loss:.1f} in the loss "
          f"each), batch {a.batch}: {per_step} tokens a step; {a.warmup} warm-up + "
          f"{a.steps} timed steps a run, {a.rounds} rounds, {a.threads} threads; "
          f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.2f}", flush=True)

    runs = {p: [] for p in peers}
    for rnd in range(a.rounds):
        for p in (peers if rnd % 2 == 0 else peers[::-1]):
            if rnd >= cap[p]:
                continue
            tag = f"r{rnd}"
            if p == "lexie":
                r = run_lexie(a, gguf_dir, data_path, work, tag)
            else:
                r = run_worker(a, p, spec_path, tag)
            runs[p].append(r)
            st = r["steps"]
            print(f"round {rnd} {p:5s}: loss {st[0]['loss']}, step wall " +
                  " ".join(f"{s['wall']:.1f}" for s in st) + " s, cpu " +
                  " ".join("-" if s["cpu"] is None else f"{s['cpu']:.1f}" for s in st) +
                  f" s, rss {r['rss_mb']:.0f} MB, load {r['load'][0]:.2f}->{r['load'][1]:.2f}"
                  + (f", hf tokenizer agrees on {r['tokenizer_agrees']}/{len(toks)}"
                     if "tokenizer_agrees" in r else ""), flush=True)
    with open(os.path.join(work, "runs.json"), "w") as f:
        json.dump({"task": a.task, "threads": a.threads, "batch": a.batch, "seq_len": a.seq_len,
                   "warmup": a.warmup, "n_loss": n_loss, "gguf": os.path.join(gguf_dir, ggufs[0]),
                   "runs": runs}, f, indent=1)
    report(a.threads, a.batch, a.seq_len, a.warmup, n_loss, os.path.join(gguf_dir, ggufs[0]),
           runs, a.task)


def sgemm_peak(seconds=3.0):
    """torch's (MKL's) fp32 product, 1024 x 1024 x 1024 on one thread, in
    GFLOP per CPU second: the best of a few, as a measured reference for
    what one core does here."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    torch.mm(a, b)
    best, t_end = 0.0, time.process_time() + seconds
    while time.process_time() < t_end:
        c0 = time.process_time()
        for _ in range(4):
            torch.mm(a, b)
        best = max(best, 4 * 2.0 * 1024 ** 3 / (time.process_time() - c0) / 1e9)
    return best


def report(threads, batch, seq_len, warmup, n_loss, gguf_path, runs, task="sft"):
    """The table and the FLOP rates from the runs of every framework."""
    peers = list(runs)
    tokens_step = batch * seq_len * (2 if task == "dpo" else 1)
    S = {p: summary(runs[p], warmup) for p in peers}
    print()
    print("| framework | timed steps | tokens/step | s/step wall | tok/s wall | "
          "tok/s cpu | lexie x (wall) | lexie x (cpu) | tok/s cpu, best step | lexie x (best) | "
          "peak RSS | loss step 1 | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    L = S.get("lexie")
    for p in peers:
        s = S[p]
        tw = s["tokens"] / s["wall"]
        tc = s["tokens"] / (s["cpu"] / threads)
        if L:
            xw = (L["tokens"] / L["wall"]) / tw
            xc = (L["tokens"] / (L["cpu"] / threads)) / tc
            xb = s["best_cpu"] / L["best_cpu"]
        print(f"| {p} | {s['n']} | {tokens_step} | {s['wall'] / s['n']:.1f} | {tw:.1f} | "
              f"{tc:.1f} | " + (f"{xw:.2f} | {xc:.2f}" if L else "- | -") +
              f" | {threads / s['best_cpu']:.1f} | " + (f"{xb:.2f}" if L else "-") +
              f" | {s['rss']:.0f} MB | {s['loss0']:.3f} | "
              f"{min(s['loads']):.1f}-{max(s['loads']):.1f} |")
    for p in peers:
        print(f"{p}: {runs[p][0].get('note', '')}; total wall a run (load, "
              f"{'reference, ' if task == 'dpo' else ''}steps): " +
              ", ".join(f"{r['total_wall']:.1f} s" for r in runs[p]))
    if L and task == "sft":
        hp = hparams(gguf_path)
        nl = n_loss * batch
        fl = step_flops(hp, batch, seq_len, nl, 3.0, nl)
        per_step_cpu = L["cpu"] / L["n"]
        print(f"lexie: {fl / 1e9:.1f} GFLOP a step (src/train/trainer.c step_flops, "
              f"checkpointing on): {fl / 1e9 / per_step_cpu:.1f} GFLOP/s of CPU time "
              f"(per busy core), {fl / 1e9 / (L['wall'] / L['n']):.1f} GFLOP/s wall; lexie's fp32 "
              f"product kernel: about 144 GFLOP/s per core on 1024 x 576 x 576 (docs/training.md)")
        peak = sgemm_peak()
        if peak:
            print(f"measured now: torch.mm fp32 1024^3 on one thread, best {peak:.1f} GFLOP per "
                  f"CPU second")
        for p in peers:
            if p == "lexie":
                continue
            # the same formula for the peer's work: no recompute, head on every token
            passes = 3.0 if "gradient_checkpointing=True" in runs[p][0].get("note", "") else 2.0
            pf = step_flops(hp, batch, seq_len, nl, passes, batch * seq_len)
            s = S[p]
            print(f"{p}: ~{pf / 1e9:.1f} GFLOP a step by the same formula ({passes:.0f} passes, "
                  f"head on all tokens): {pf / 1e9 / (s['cpu'] / s['n']):.1f} GFLOP/s of CPU "
                  f"time")


if __name__ == "__main__":
    main()
