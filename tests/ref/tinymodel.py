"""tinymodel.py -- tiny random-weight GGUF models for lexie's tests.

Builds a byte-level BPE vocabulary (GPT-2 style, as SmolLM2 has), seeded
random weights in GGUF's layout, optionally quantizes some of them with
gguf.quants, and writes the file with gguf.GGUFWriter using llama.cpp's
tensor and metadata names.  The reference forward pass (reference.py) gets
the same weights back dequantized, so it computes with exactly the values
stored in the file.
"""
import re
from collections import Counter

import numpy as np
from gguf import GGMLQuantizationType as QT
from gguf import GGUFWriter, quants

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]  # ids 0, 1, 2 as in SmolLM2

CHATML = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# A few sentences to learn merges from: only their statistics matter.
MERGE_CORPUS = (
    "the quick brown fox jumps over the lazy dog. the cat sat on the mat. "
    "then the other one said that there is nothing in the house. "
    "in the beginning the world was without form, and the earth was there. "
    "information extraction finds the entities and the relations in the text."
)


def bytes_to_unicode():
    """GPT-2's byte -> printable char table: printable Latin-1 bytes map to
    themselves, the other 68 bytes to U+0100 upwards in byte order."""
    keep = list(range(ord("!"), ord("~") + 1))
    keep += list(range(ord("\u00a1"), ord("\u00ac") + 1))
    keep += list(range(ord("\u00ae"), ord("\u00ff") + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def learn_merges(text, n_merges):
    """Greedy BPE on text split GPT-2 style; ties go to the smaller pair so
    the result is deterministic."""
    b2u = bytes_to_unicode()
    words = Counter(re.findall(r" ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+", text))
    seqs = {tuple(b2u[b] for b in w.encode()): c for w, c in words.items()}
    merges = []
    while len(merges) < n_merges:
        pairs = Counter()
        for s, c in seqs.items():
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        best = min(pairs, key=lambda p: (-pairs[p], p))
        merges.append(best)
        new = {}
        for s, c in seqs.items():
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    out.append(s[i] + s[i + 1])
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            new[tuple(out)] = new.get(tuple(out), 0) + c
        seqs = new
    return merges


def make_vocab(n_vocab):
    """(tokens, token_types, merges): specials, the 256 byte tokens, then
    merged tokens up to n_vocab."""
    b2u = bytes_to_unicode()
    tokens = list(SPECIALS) + [b2u[b] for b in range(256)]
    types = [3] * len(SPECIALS) + [1] * 256  # 3: control, 1: normal
    merges = learn_merges(MERGE_CORPUS, n_vocab - len(tokens))
    for a, b in merges:
        tokens.append(a + b)
        types.append(1)
    if len(tokens) != n_vocab:
        raise ValueError(f"merge corpus too small for n_vocab {n_vocab}")
    return tokens, types, [f"{a} {b}" for a, b in merges]


def random_weights(hp, seed, tied):
    """GGUF-named float32 weights: matrices (out, in) scaled by 1/sqrt(in)
    so activations stay O(1); norm weights near 1 but not 1, so a skipped
    norm multiply shows."""
    rng = np.random.default_rng(seed)
    e, kv = hp.n_embd, hp.n_head_kv * hp.head_dim

    def mat(out, inp, gain=1.0):
        return (rng.standard_normal((out, inp)) * gain / np.sqrt(inp)).astype(np.float32)

    def norm(n):
        return (1.0 + 0.2 * rng.standard_normal(n)).astype(np.float32)

    w = {"token_embd.weight": (rng.standard_normal((hp.n_vocab, e)) * 0.3).astype(np.float32)}
    for il in range(hp.n_layer):
        p = f"blk.{il}."
        w[p + "attn_norm.weight"] = norm(e)
        # gain 2 on q and k: sharper attention than uniform, so a wrong mask
        # or rotation changes the output clearly.
        w[p + "attn_q.weight"] = mat(hp.n_head * hp.head_dim, e, 2.0)
        w[p + "attn_k.weight"] = mat(kv, e, 2.0)
        w[p + "attn_v.weight"] = mat(kv, e)
        w[p + "attn_output.weight"] = mat(e, hp.n_head * hp.head_dim)
        w[p + "ffn_norm.weight"] = norm(e)
        w[p + "ffn_gate.weight"] = mat(hp.n_ff, e)
        w[p + "ffn_up.weight"] = mat(hp.n_ff, e)
        w[p + "ffn_down.weight"] = mat(e, hp.n_ff)
    w["output_norm.weight"] = norm(e)
    if not tied:
        w["output.weight"] = mat(hp.n_vocab, e, 2.0)
    return w


def quantize_weights(w, types):
    """Quantizes the named tensors.  Returns (stored, dequantized): stored
    maps name -> (array to write, ggml type); dequantized maps name -> the
    float32 values the file really holds."""
    stored, deq = {}, {}
    for name, x in w.items():
        qt = types.get(name, QT.F32)
        if qt == QT.F32:
            stored[name], deq[name] = (x, QT.F32), x
        else:
            q = quants.quantize(x, qt)
            stored[name] = (q, qt)
            deq[name] = quants.dequantize(q, qt).reshape(x.shape).astype(np.float32)
    return stored, deq


def write_gguf(path, hp, stored, name, arch="llama", drop=(), reshape=None, kv=None):
    """Writes a model file.  drop: tensor names to leave out; reshape: name
    -> float32 array stored instead (both for malformed-model tests); kv:
    extra metadata, key -> str or float (e.g. rope scaling)."""
    tokens, types, merges = make_vocab(hp.n_vocab)
    gw = GGUFWriter(path, arch)
    gw.add_string("general.name", name)
    gw.add_uint32(f"{arch}.block_count", hp.n_layer)
    gw.add_uint32(f"{arch}.context_length", hp.n_ctx_train)
    gw.add_uint32(f"{arch}.embedding_length", hp.n_embd)
    gw.add_uint32(f"{arch}.feed_forward_length", hp.n_ff)
    gw.add_uint32(f"{arch}.attention.head_count", hp.n_head)
    gw.add_uint32(f"{arch}.attention.head_count_kv", hp.n_head_kv)
    gw.add_float32(f"{arch}.rope.freq_base", hp.rope_base)
    gw.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", hp.rms_eps)
    gw.add_uint32(f"{arch}.rope.dimension_count", hp.n_rot)
    gw.add_uint32(f"{arch}.vocab_size", hp.n_vocab)
    gw.add_string("tokenizer.ggml.model", "gpt2")
    gw.add_string("tokenizer.ggml.pre", "smollm")  # as SmolLM2; llama.cpp knows it
    gw.add_array("tokenizer.ggml.tokens", tokens)
    gw.add_array("tokenizer.ggml.token_type", types)
    gw.add_array("tokenizer.ggml.merges", merges)
    gw.add_uint32("tokenizer.ggml.bos_token_id", SPECIALS.index("<|im_start|>"))
    gw.add_uint32("tokenizer.ggml.eos_token_id", SPECIALS.index("<|im_end|>"))
    gw.add_uint32("tokenizer.ggml.unknown_token_id", SPECIALS.index("<|endoftext|>"))
    gw.add_bool("tokenizer.ggml.add_bos_token", False)
    gw.add_string("tokenizer.chat_template", CHATML)
    for key, val in (kv or {}).items():
        if isinstance(val, str):
            gw.add_string(key, val)
        else:
            gw.add_float32(key, float(val))
    for tname, (arr, qt) in stored.items():
        if tname in drop:
            continue
        if reshape and tname in reshape:
            gw.add_tensor(tname, reshape[tname])
        elif qt == QT.F32:
            gw.add_tensor(tname, arr)
        else:
            gw.add_tensor(tname, arr, raw_dtype=qt)
    gw.write_header_to_file()
    gw.write_kv_data_to_file()
    gw.write_tensors_to_file()
    gw.close()
