"""ref_qwen.py -- tiny random-weight qwen2 and qwen3 models and their NumPy reference.

make_fixtures.py calls write_fixtures(out) to write, into out/:

  qwen2_f32.gguf   qwen2, float32, tied embeddings (no output.weight), q/k/v
                   biases, head_dim 16 = n_embd / n_head, rope base 1e6
  qwen2_q.gguf     the same shapes, other weights: matmuls Q4_1 / Q8_0, the
                   tied token_embd Q8_0 (so the output head is quantized
                   too); biases and norms float32
  qwen3_f32.gguf   qwen3, float32, separate output.weight, per-head q/k RMS
                   norms, 6 heads of 32 (qwen3.attention.key_length 32) over
                   n_embd 64: n_head * head_dim = 192 != n_embd and
                   n_embd % n_head != 0, 3 query heads per kv head
  qwen3_q.gguf     qwen3 quantized like qwen2_q, tied embeddings
  qwen2_no_bias.gguf   qwen2_f32 without blk.1.attn_k.bias
  qwen3_no_qnorm.gguf  qwen3_f32 without blk.0.attn_q_norm.weight
  qwen_tokens.txt  the sequences, in ref_tokens.txt's line format:
                     n_vocab <n>
                     prefix <p>       branches share main's first p tokens
                     seq <name> <n> <id> ...
  <model>.<seq>.bin       reference logits (n_tokens, n_vocab) float32 LE,
                          float activations times the stored weights
  <model>.<seq>.actq.bin  (quantized models) activations quantized before
                          each quantized product as ggml does (ggml_quant.py)

The forward passes follow llama.cpp (src/models/qwen2.cpp, qwen3.cpp;
tensors and hparams in src/llama-model.cpp):
  qwen2: the llama decoder with Wq x + bq, Wk x + bk, Wv x + bv
         (blk.N.attn_{q,k,v}.bias, all required) and NEOX RoPE (pairs
         (x[i], x[i + n_rot/2])); output.weight optional, else token_embd.
  qwen3: no biases; q and k reshaped to heads, each head RMS-normed with
         attn_q_norm / attn_k_norm (shape head_dim, eps = the model's rms
         eps), THEN NEOX RoPE; head_dim = qwen3.attention.key_length, so
         wq is (n_embd -> n_head * head_dim) and wo the reverse.
Both scale q.k by 1/sqrt(head_dim).

Each fixture is checked here to depend on what it is meant to test: the
logits move clearly if the biases, the q/k norms or the NEOX layout are
left out, so a C engine that skipped one could not pass.
"""
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as QT
from gguf import GGUFWriter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ggml_quant  # noqa: E402
from reference import ARCHES, Hparams, LlamaRef, rmsnorm  # noqa: E402
from tinymodel import CHATML, SPECIALS, make_vocab, quantize_weights, random_weights  # noqa: E402

HP2 = Hparams(n_layer=2, n_embd=64, n_head=4, n_head_kv=2, head_dim=16, n_ff=128, n_vocab=300,
              n_ctx_train=512, rope_base=1000000.0, rms_eps=1e-6, n_rot=16)
HP3 = Hparams(n_layer=2, n_embd=64, n_head=6, n_head_kv=2, head_dim=32, n_ff=128, n_vocab=300,
              n_ctx_train=512, rope_base=1000000.0, rms_eps=1e-6, n_rot=32)

N_MAIN, PREFIX, N_BRANCH_TAIL = 40, 16, 12


class Qwen2Ref(LlamaRef):
    """qwen2: llama plus q/k/v biases, NEOX RoPE."""

    arch = "qwen2"
    rope_neox = True

    def project_qkv(self, il, x):
        hp, n, p = self.hp, x.shape[0], f"blk.{il}."
        q, k, v = super().project_qkv(il, x)
        q = q + self.t(p + "attn_q.bias").reshape(hp.n_head, hp.head_dim)
        k = k + self.t(p + "attn_k.bias").reshape(hp.n_head_kv, hp.head_dim)
        v = v + self.t(p + "attn_v.bias").reshape(hp.n_head_kv, hp.head_dim)
        assert q.shape[0] == n
        return q, k, v


class Qwen3Ref(LlamaRef):
    """qwen3: llama plus per-head RMS norms of q and k before NEOX RoPE."""

    arch = "qwen3"
    rope_neox = True

    def qk_norm(self, il, q, k):
        p, eps = f"blk.{il}.", self.hp.rms_eps
        return (rmsnorm(q, self.t(p + "attn_q_norm.weight"), eps),
                rmsnorm(k, self.t(p + "attn_k_norm.weight"), eps))


ARCHES.setdefault("qwen2", Qwen2Ref)
ARCHES.setdefault("qwen3", Qwen3Ref)


def q_types(hp, tied):
    """Quantization of qwen*_q: like llama_q (Q4_1 / Q8_0 matmuls, Q8_0
    embeddings); biases and norms stay float32."""
    t = {"token_embd.weight": QT.Q8_0}
    if not tied:
        t["output.weight"] = QT.Q8_0
    for il in range(hp.n_layer):
        for name in ("attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"):
            t[f"blk.{il}.{name}.weight"] = QT.Q4_1
        for name in ("attn_v", "ffn_down"):
            t[f"blk.{il}.{name}.weight"] = QT.Q8_0
    return t


def qwen_weights(arch, hp, seed, tied):
    """tinymodel's llama weights plus qwen2's biases or qwen3's q/k norms.
    Biases are large enough to matter (real Qwen2 q/k biases are large);
    norms are near 1 but not 1."""
    w = random_weights(hp, seed, tied)
    rng = np.random.default_rng(seed + 500)
    qd, kvd = hp.n_head * hp.head_dim, hp.n_head_kv * hp.head_dim
    for il in range(hp.n_layer):
        p = f"blk.{il}."
        if arch == "qwen2":
            w[p + "attn_q.bias"] = (0.5 * rng.standard_normal(qd)).astype(np.float32)
            w[p + "attn_k.bias"] = (0.5 * rng.standard_normal(kvd)).astype(np.float32)
            w[p + "attn_v.bias"] = (0.3 * rng.standard_normal(kvd)).astype(np.float32)
        else:
            # q/k norms: spread out so heads differ in sharpness
            w[p + "attn_q_norm.weight"] = (1.0 + 0.4 * rng.standard_normal(hp.head_dim)).astype(
                np.float32)
            w[p + "attn_k_norm.weight"] = (1.0 + 0.4 * rng.standard_normal(hp.head_dim)).astype(
                np.float32)
    return w


def write_qwen_gguf(path, arch, hp, stored, name, drop=()):
    """A qwen2/qwen3 file with llama.cpp's key and tensor names."""
    tokens, types, merges = make_vocab(hp.n_vocab)
    gw = GGUFWriter(path, arch)
    gw.add_string("general.name", name)
    gw.add_uint32(f"{arch}.block_count", hp.n_layer)
    gw.add_uint32(f"{arch}.context_length", hp.n_ctx_train)
    gw.add_uint32(f"{arch}.embedding_length", hp.n_embd)
    gw.add_uint32(f"{arch}.feed_forward_length", hp.n_ff)
    gw.add_uint32(f"{arch}.attention.head_count", hp.n_head)
    gw.add_uint32(f"{arch}.attention.head_count_kv", hp.n_head_kv)
    if arch == "qwen3":
        gw.add_uint32(f"{arch}.attention.key_length", hp.head_dim)
        gw.add_uint32(f"{arch}.attention.value_length", hp.head_dim)
    gw.add_float32(f"{arch}.rope.freq_base", hp.rope_base)
    gw.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", hp.rms_eps)
    gw.add_string("tokenizer.ggml.model", "gpt2")
    gw.add_string("tokenizer.ggml.pre", "smollm")
    gw.add_array("tokenizer.ggml.tokens", tokens)
    gw.add_array("tokenizer.ggml.token_type", types)
    gw.add_array("tokenizer.ggml.merges", merges)
    gw.add_uint32("tokenizer.ggml.bos_token_id", SPECIALS.index("<|endoftext|>"))
    gw.add_uint32("tokenizer.ggml.eos_token_id", SPECIALS.index("<|im_end|>"))
    gw.add_bool("tokenizer.ggml.add_bos_token", False)
    gw.add_string("tokenizer.chat_template", CHATML)
    for tname, (arr, qt) in stored.items():
        if tname in drop:
            continue
        if qt == QT.F32:
            gw.add_tensor(tname, arr)
        else:
            gw.add_tensor(tname, arr, raw_dtype=qt)
    gw.write_header_to_file()
    gw.write_kv_data_to_file()
    gw.write_tensors_to_file()
    gw.close()


def sequences():
    rng = np.random.default_rng(2468)
    main = rng.integers(0, HP2.n_vocab, N_MAIN).tolist()
    b1 = main[:PREFIX] + rng.integers(0, HP2.n_vocab, N_BRANCH_TAIL).tolist()
    b2 = main[:PREFIX] + rng.integers(0, HP2.n_vocab, N_BRANCH_TAIL).tolist()
    return {"main": main, "branch1": b1, "branch2": b2}


# (stem, arch, hparams, weight seed, tied, quantized)
MODELS = [
    ("qwen2_f32", "qwen2", HP2, 21, True, False),
    ("qwen2_q", "qwen2", HP2, 22, True, True),
    ("qwen3_f32", "qwen3", HP3, 31, False, False),
    ("qwen3_q", "qwen3", HP3, 34, True, True),
]


class _NormRope:
    """Mixin: pairs-adjacent RoPE instead of NEOX (a negative control)."""

    rope_neox = False


class _NormAfterRope(Qwen3Ref):
    """qwen3 with the q/k norms applied after RoPE (a negative control: the
    per-dimension norm weights do not commute with the rotation)."""

    def qk_norm(self, il, q, k):
        return q, k

    def rope(self, il, x, pos):
        y = super().rope(il, x, pos)
        which = "attn_q_norm" if x.shape[1] == self.hp.n_head else "attn_k_norm"
        return rmsnorm(y, self.t(f"blk.{il}.{which}.weight"), self.hp.rms_eps)


def _quantize_act_generic(x, with_sum):
    """ggml_quant.quantize_act as ggml's generic C path (and lexie's scalar
    one) computes it: id = 1 / d, round half away from zero, where the x86
    path ggml_quant follows takes 127 / amax and rounds half to even."""
    xb = np.asarray(x, dtype=np.float32).reshape(x.shape[0], -1, ggml_quant.QK)
    amax = np.abs(xb).max(axis=-1)
    d = (amax / np.float32(127)).astype(np.float32)
    inv = np.where(d == 0, np.float32(0), np.float32(1) / np.where(d == 0, np.float32(1), d))
    v = (xb * inv.astype(np.float32)[..., None]).astype(np.float32)
    q = (np.sign(v) * np.floor(np.abs(v) + np.float32(0.5))).astype(np.float64)
    s = None
    if with_sum:
        s = (d * q.sum(axis=-1).astype(np.float32)).astype(np.float16).astype(np.float64)
    return q, d.astype(np.float16).astype(np.float64), s


def _check_tie_free(arch, hp, deq, qw, ids, logits):
    """The activation-quantized reference must not depend on how a platform
    rounds an activation that sits at (or within an ulp of) a rounding tie:
    there ggml's x86 and generic paths, and so lexie's AVX and scalar paths,
    legitimately differ by one step, which moves these logits by ~0.1.  The
    seeds are chosen so that no activation does."""
    saved = ggml_quant.quantize_act
    ggml_quant.quantize_act = _quantize_act_generic
    try:
        other = ARCHES[arch](hp, deq, qw).forward(ids)
    finally:
        ggml_quant.quantize_act = saved
    d = np.abs(other - logits).max()
    assert d < 1e-9, f"an activation of this fixture sits at a rounding tie ({d:.3g}): reseed it"


def _differs(a, b, what, at_least=0.1):
    d = np.abs(a - b).max()
    assert d > at_least, f"fixture does not exercise {what}: logits move by only {d:.3g}"


def _check_sensitivity(arch, hp, w, ids, logits):
    """The fixture must catch a forward pass that skips a qwen feature."""
    cls = ARCHES[arch]
    no_neox = type("NoNeox", (_NormRope, cls), {})(hp, w)
    _differs(logits, no_neox.forward(ids), "NEOX RoPE")
    if arch == "qwen2":
        nb = {k: (np.zeros_like(v) if k.endswith(".bias") else v) for k, v in w.items()}
        _differs(logits, cls(hp, nb).forward(ids), "q/k/v biases")
        nkb = {k: (np.zeros_like(v) if k.endswith("attn_k.bias") else v) for k, v in w.items()}
        # unrotated, a k bias adds q.bk to every score of a query, which
        # softmax cancels; RoPE rotates it by the key's position, so it counts
        _differs(logits, cls(hp, nkb).forward(ids), "the k bias", 1e-3)
    else:
        no_norm = type("NoNorm", (cls,), {"qk_norm": LlamaRef.qk_norm})(hp, w)
        _differs(logits, no_norm.forward(ids), "q/k norms")
        _differs(logits, _NormAfterRope(hp, w).forward(ids), "norm-then-RoPE order")


def write_fixtures(out):
    os.makedirs(out, exist_ok=True)
    seqs = sequences()
    with open(os.path.join(out, "qwen_tokens.txt"), "w") as f:
        f.write("# qwen2/qwen3 reference token sequences; see tests/ref/ref_qwen.py\n")
        f.write(f"n_vocab {HP2.n_vocab}\nprefix {PREFIX}\n")
        for name, ids in seqs.items():
            f.write(f"seq {name} {len(ids)} {' '.join(map(str, ids))}\n")
    for stem, arch, hp, seed, tied, quant in MODELS:
        w = qwen_weights(arch, hp, seed, tied)
        stored, deq = quantize_weights(w, q_types(hp, tied) if quant else {})
        write_qwen_gguf(os.path.join(out, stem + ".gguf"), arch, hp, stored, "lexie-test-" + stem)
        ref = ARCHES[arch](hp, deq)
        qw = {n: v for n, v in stored.items() if v[1] != QT.F32}
        refq = ARCHES[arch](hp, deq, qw) if qw else None
        for name, ids in seqs.items():
            logits = ref.forward(ids)
            logits.astype("<f4").tofile(os.path.join(out, f"{stem}.{name}.bin"))
            if refq:
                lq = refq.forward(ids)
                lq.astype("<f4").tofile(os.path.join(out, f"{stem}.{name}.actq.bin"))
                _check_tie_free(arch, hp, deq, qw, ids, lq)
            if name == "main" and not quant:
                _check_sensitivity(arch, hp, deq, ids, logits)
        if stem == "qwen2_f32":
            write_qwen_gguf(os.path.join(out, "qwen2_no_bias.gguf"), arch, hp, stored, "no-bias",
                            drop=("blk.1.attn_k.bias",))
        if stem == "qwen3_f32":
            write_qwen_gguf(os.path.join(out, "qwen3_no_qnorm.gguf"), arch, hp, stored, "no-qnorm",
                            drop=("blk.0.attn_q_norm.weight",))


if __name__ == "__main__":
    write_fixtures(sys.argv[1])
