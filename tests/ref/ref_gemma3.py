"""ref_gemma3.py -- tiny random-weight gemma3 models and their NumPy reference.

make_fixtures.py calls write_fixtures(out) to write, into out/:

  gemma3_f32.gguf     6 layers (0-4 local with a sliding window of 8, 5
                      global), float32, tied embeddings, no soft-capping
  gemma3_cap.gguf     the same shapes, other weights, with
                      final_logit_softcapping 10 and linear rope scaling
                      (factor 4, global layers only)
  gemma3_no_post_norm.gguf  gemma3_f32 without blk.2.post_ffw_norm.weight
  gemma3_tokens.txt   the sequences, in the line format of ref_tokens.txt:
                        n_vocab <n>
                        window <w>
                        prefix <p>     branch shares main's first p tokens
                        seq <name> <n> <id> ...
  <model>.<seq>.bin   reference logits (n_tokens, n_vocab) float32 LE
  gemma3_f32.main.nowin.bin  the same model with the window mask left out:
                      equal to the windowed logits before position `window`
                      and different after, so a test can show the window is
                      really applied

The forward pass is gemma3 as llama.cpp computes it (src/models/gemma3.cpp,
src/llama-model.cpp): embeddings times sqrt(n_embd); RMS norms with the
stored weight as is (the GGUF converter already added Gemma's +1);
per-head q/k RMS norms; NeoX RoPE with base 10000 on local layers and
rope.freq_base (with linear scaling) on global ones, every 6th layer
(il % 6 == 5) global; q.k / sqrt(head_dim); a key at position j is seen by
a query at i on local layers iff i - window < j <= i; post-attention and
post-FFN norms before the residual adds; GELU (tanh form) gating, with
the input and result rounded to fp16 as ggml's CPU table does; optional
final soft-capping cap * tanh(logits / cap).
"""
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as QT
from gguf import GGUFWriter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import Hparams, LlamaRef, rmsnorm, rope_angles  # noqa: E402
from tinymodel import CHATML, SPECIALS, make_vocab, random_weights  # noqa: E402

ARCH = "gemma3"
SWA_PATTERN = 6
ROPE_BASE_SWA = 10000.0

HP = Hparams(n_layer=6, n_embd=64, n_head=4, n_head_kv=2, head_dim=32, n_ff=128, n_vocab=300,
             n_ctx_train=512, rope_base=1000000.0, rms_eps=1e-6, n_rot=32)
WINDOW = 8
N_MAIN, PREFIX, N_BRANCH_TAIL = 40, 20, 16

# (stem, weight seed, final_logit_softcapping, linear rope scaling factor)
MODELS = [
    ("gemma3_f32", 11, 0.0, 0.0),
    ("gemma3_cap", 12, 10.0, 4.0),
]


def gelu_ggml(x):
    """GELU (tanh form) as ggml's CPU backend computes it for float input:
    the input rounded to fp16, the formula, the result rounded to fp16;
    inputs at or beyond +-10 bypass the table (0 or x)."""
    h = np.asarray(x).astype(np.float16).astype(np.float64)
    g = 0.5 * h * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * h * (1.0 + 0.044715 * h * h)))
    g = g.astype(np.float16).astype(np.float64)
    return np.where(x <= -10.0, 0.0, np.where(x >= 10.0, x, g))


class Gemma3Ref(LlamaRef):
    arch = ARCH
    rope_neox = True

    def __init__(self, hp, weights, window, softcap=0.0, rope_factor=0.0, mask_window=True):
        """mask_window False: local layers keep their RoPE but see every
        earlier position (only to show the fixture depends on the window)."""
        super().__init__(hp, weights)
        self.window = window
        self.mask_window = mask_window
        self.softcap = softcap
        self.rope_scale = 1.0 / rope_factor if rope_factor > 0 else 1.0

    def is_local(self, il):
        return self.window > 0 and il % SWA_PATTERN < SWA_PATTERN - 1

    def embed(self, tokens):
        scale = float(np.sqrt(np.float32(self.hp.n_embd), dtype=np.float32))
        return super().embed(tokens) * scale

    def qk_norm(self, il, q, k):
        p, eps = f"blk.{il}.", self.hp.rms_eps
        return (rmsnorm(q, self.t(p + "attn_q_norm.weight"), eps),
                rmsnorm(k, self.t(p + "attn_k_norm.weight"), eps))

    def rope(self, il, x, pos):
        hp = self.hp
        base, scale = (ROPE_BASE_SWA, 1.0) if self.is_local(il) else (hp.rope_base, self.rope_scale)
        ang = (rope_angles(pos, hp.n_rot, base) * scale)[:, None, :]
        c, s = np.cos(ang), np.sin(ang)
        half = hp.n_rot // 2
        y = x.copy()
        x0, x1 = x[..., :half], x[..., half:hp.n_rot]
        y[..., :half] = x0 * c - x1 * s
        y[..., half:hp.n_rot] = x0 * s + x1 * c
        return y

    def attn_mask(self, il, pos):
        mask = super().attn_mask(il, pos)
        if self.is_local(il) and self.mask_window:
            pos = np.asarray(pos)
            mask &= (pos[:, None] - pos[None, :]) < self.window
        return mask

    def activation(self, gate):
        return gelu_ggml(gate)

    def post_attn(self, il, a):
        return rmsnorm(a, self.t(f"blk.{il}.post_attention_norm.weight"), self.hp.rms_eps)

    def post_ffn(self, il, f):
        return rmsnorm(f, self.t(f"blk.{il}.post_ffw_norm.weight"), self.hp.rms_eps)

    def final_logits(self, logits):
        if self.softcap > 0:
            return self.softcap * np.tanh(logits / self.softcap)
        return logits


def gemma3_weights(seed):
    """tinymodel's llama weights (tied) plus gemma3's extra norms, all near 1
    but not 1 (the stored values already hold Gemma's +1)."""
    w = random_weights(HP, seed, tied=True)
    rng = np.random.default_rng(seed + 1000)

    def norm(n):
        return (1.0 + 0.2 * rng.standard_normal(n)).astype(np.float32)

    for il in range(HP.n_layer):
        p = f"blk.{il}."
        w[p + "attn_q_norm.weight"] = norm(HP.head_dim)
        w[p + "attn_k_norm.weight"] = norm(HP.head_dim)
        w[p + "post_attention_norm.weight"] = norm(HP.n_embd)
        w[p + "post_ffw_norm.weight"] = norm(HP.n_embd)
    return w


def write_gemma3_gguf(path, w, name, softcap, rope_factor, drop=()):
    tokens, types, merges = make_vocab(HP.n_vocab)
    gw = GGUFWriter(path, ARCH)
    gw.add_string("general.name", name)
    gw.add_uint32(f"{ARCH}.block_count", HP.n_layer)
    gw.add_uint32(f"{ARCH}.context_length", HP.n_ctx_train)
    gw.add_uint32(f"{ARCH}.embedding_length", HP.n_embd)
    gw.add_uint32(f"{ARCH}.feed_forward_length", HP.n_ff)
    gw.add_uint32(f"{ARCH}.attention.head_count", HP.n_head)
    gw.add_uint32(f"{ARCH}.attention.head_count_kv", HP.n_head_kv)
    gw.add_uint32(f"{ARCH}.attention.key_length", HP.head_dim)
    gw.add_uint32(f"{ARCH}.attention.value_length", HP.head_dim)
    gw.add_float32(f"{ARCH}.attention.layer_norm_rms_epsilon", HP.rms_eps)
    gw.add_float32(f"{ARCH}.rope.freq_base", HP.rope_base)
    gw.add_uint32(f"{ARCH}.attention.sliding_window", WINDOW)
    if softcap > 0:
        gw.add_float32(f"{ARCH}.final_logit_softcapping", softcap)
    if rope_factor > 0:
        gw.add_string(f"{ARCH}.rope.scaling.type", "linear")
        gw.add_float32(f"{ARCH}.rope.scaling.factor", rope_factor)
    gw.add_string("tokenizer.ggml.model", "gpt2")
    gw.add_string("tokenizer.ggml.pre", "smollm")
    gw.add_array("tokenizer.ggml.tokens", tokens)
    gw.add_array("tokenizer.ggml.token_type", types)
    gw.add_array("tokenizer.ggml.merges", merges)
    gw.add_uint32("tokenizer.ggml.bos_token_id", SPECIALS.index("<|im_start|>"))
    gw.add_uint32("tokenizer.ggml.eos_token_id", SPECIALS.index("<|im_end|>"))
    gw.add_uint32("tokenizer.ggml.unknown_token_id", SPECIALS.index("<|endoftext|>"))
    gw.add_bool("tokenizer.ggml.add_bos_token", False)
    gw.add_string("tokenizer.chat_template", CHATML)
    for tname, arr in w.items():
        if tname not in drop:
            gw.add_tensor(tname, arr)
    gw.write_header_to_file()
    gw.write_kv_data_to_file()
    gw.write_tensors_to_file()
    gw.close()


def sequences():
    rng = np.random.default_rng(4321)
    main = rng.integers(0, HP.n_vocab, N_MAIN).tolist()
    branch = main[:PREFIX] + rng.integers(0, HP.n_vocab, N_BRANCH_TAIL).tolist()
    return {"main": main, "branch": branch}


def write_fixtures(out):
    os.makedirs(out, exist_ok=True)
    seqs = sequences()
    with open(os.path.join(out, "gemma3_tokens.txt"), "w") as f:
        f.write("# gemma3 reference token sequences; see tests/ref/ref_gemma3.py\n")
        f.write(f"n_vocab {HP.n_vocab}\nwindow {WINDOW}\nprefix {PREFIX}\n")
        for name, ids in seqs.items():
            f.write(f"seq {name} {len(ids)} {' '.join(map(str, ids))}\n")
    for stem, seed, softcap, rope_factor in MODELS:
        w = gemma3_weights(seed)
        write_gemma3_gguf(os.path.join(out, stem + ".gguf"), w, "lexie-test-" + stem, softcap,
                          rope_factor)
        ref = Gemma3Ref(HP, w, WINDOW, softcap, rope_factor)
        for name, ids in seqs.items():
            ref.forward(ids).astype("<f4").tofile(os.path.join(out, f"{stem}.{name}.bin"))
        if stem == "gemma3_f32":
            win = ref.forward(seqs["main"])
            nowin = Gemma3Ref(HP, w, WINDOW, mask_window=False).forward(seqs["main"])
            # The fixture must exercise the window: same logits while it
            # does not bind, clearly different once it does.
            d = np.abs(win - nowin).max(axis=1)
            assert d[:WINDOW].max() < 1e-9 and d[WINDOW:].min() > 0.05, d
            nowin.astype("<f4").tofile(os.path.join(out, f"{stem}.main.nowin.bin"))
            write_gemma3_gguf(os.path.join(out, "gemma3_no_post_norm.gguf"), w, "missing", 0.0,
                              0.0, drop=("blk.2.post_ffw_norm.weight",))


if __name__ == "__main__":
    write_fixtures(sys.argv[1])
