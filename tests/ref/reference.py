"""reference.py -- a plain NumPy forward pass of decoder-only transformers.

This is the yardstick lexie's C forward pass is measured against: written
for clarity, not speed, and computed in float64 from the (dequantized) float32
weights, so any difference from lexie comes from lexie, not from here.

Weights are a dict from GGUF tensor name to a NumPy array in GGUF's
convention: a matrix with ne[0] = input dim is a NumPy array of shape
(out, in), so a projection is x @ W.T.

Architectures plug in by subclassing LlamaRef and overriding its hooks
(embed, project_qkv, qk_norm, rope, attn_mask, activation, post_attn,
post_ffn, output_name, final_logits).  The defaults are llama's; the
comments on each hook say what qwen2 / qwen3 / gemma3 change there.
"""
from dataclasses import dataclass

import numpy as np

from ggml_quant import quant_matmul


@dataclass
class Hparams:
    n_layer: int
    n_embd: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_ff: int
    n_vocab: int
    n_ctx_train: int
    rope_base: float
    rms_eps: float
    n_rot: int  # rotated dims per head (llama.rope.dimension_count)


def rope_angles(pos, n_rot, base):
    """theta[p, i] for i < n_rot/2, computed the way ggml does it.

    ggml (ggml_rope_cache_init) starts at theta = pos and multiplies by
    theta_scale = powf(base, -2.0f/n_rot) once per pair, in float32, so the
    angle of pair i is pos * theta_scale^i with float32 rounding at every
    step.  We replay that exactly; the cos/sin are then taken in float64.
    """
    scale = np.power(np.float32(base), np.float32(-2.0) / np.float32(n_rot), dtype=np.float32)
    theta = np.asarray(pos, dtype=np.float32).copy()
    out = np.empty((len(theta), n_rot // 2), dtype=np.float64)
    for i in range(n_rot // 2):
        out[:, i] = theta
        theta = (theta * scale).astype(np.float32)
    return out


def rope_apply(x, pos, n_rot, base, neox):
    """Rotates x (n_tok, n_heads, head_dim) by position.

    Normal mode (ggml mode 0, llama): pairs are adjacent, (x[2i], x[2i+1]).
    NEOX mode (qwen2, qwen3, gemma3): pairs are (x[i], x[i + n_rot/2]).
    Dims at and past n_rot pass through unchanged.
    """
    ang = rope_angles(pos, n_rot, base)[:, None, :]  # (n_tok, 1, n_rot/2)
    c, s = np.cos(ang), np.sin(ang)
    y = x.copy()
    if neox:
        half = n_rot // 2
        x0, x1 = x[..., :half], x[..., half:n_rot]
        y[..., :half] = x0 * c - x1 * s
        y[..., half:n_rot] = x0 * s + x1 * c
    else:
        x0, x1 = x[..., 0:n_rot:2], x[..., 1:n_rot:2]
        y[..., 0:n_rot:2] = x0 * c - x1 * s
        y[..., 1:n_rot:2] = x0 * s + x1 * c
    return y


def rmsnorm(x, w, eps):
    """x / sqrt(mean(x^2) + eps) * w over the last axis."""
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def silu(x):
    return x / (1.0 + np.exp(-x))


def softmax(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(x, axis=-1):
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


class LlamaRef:
    """The llama architecture; other architectures override the hooks."""

    arch = "llama"
    rope_neox = False  # qwen2 / qwen3 / gemma3: True

    def __init__(self, hp, weights, qweights=None):
        """weights: name -> float array (dequantized where the file is
        quantized).  qweights (optional): name -> (raw bytes, ggml type) of
        the quantized tensors; given, their products quantize activations
        the way ggml does (ggml_quant.py) instead of using float activations."""
        self.hp = hp
        self.w = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
        self.qw = qweights or {}

    def t(self, name):
        return self.w[name]

    def lin(self, x, name):
        """x @ W.T for the weight called name."""
        if name in self.qw:
            raw, qtype = self.qw[name]
            return quant_matmul(x, raw, qtype, self.w[name].shape)
        return x @ self.t(name).T

    # ---- hooks ----

    def embed(self, tokens):
        """Token embeddings.  gemma3 multiplies them by sqrt(n_embd)."""
        return self.t("token_embd.weight")[np.asarray(tokens)]

    def project_qkv(self, il, x):
        """q, k, v as (n_tok, heads, head_dim).  qwen2 adds biases here."""
        hp, n = self.hp, x.shape[0]
        p = f"blk.{il}."
        q = self.lin(x, p + "attn_q.weight").reshape(n, hp.n_head, hp.head_dim)
        k = self.lin(x, p + "attn_k.weight").reshape(n, hp.n_head_kv, hp.head_dim)
        v = self.lin(x, p + "attn_v.weight").reshape(n, hp.n_head_kv, hp.head_dim)
        return q, k, v

    def qk_norm(self, il, q, k):
        """qwen3 and gemma3 rmsnorm q and k per head (attn_q_norm/attn_k_norm)."""
        return q, k

    def rope(self, il, x, pos):
        hp = self.hp
        return rope_apply(x, pos, hp.n_rot, hp.rope_base, self.rope_neox)

    def attn_scale(self):
        return 1.0 / np.sqrt(self.hp.head_dim)

    def attn_mask(self, il, pos):
        """True where query i may attend key j: causal.  gemma3 adds a
        sliding window on some layers."""
        pos = np.asarray(pos)
        return pos[None, :] <= pos[:, None]

    def activation(self, gate):
        """silu for llama/qwen; gemma3 uses gelu (tanh approximation)."""
        return silu(gate)

    def post_attn(self, il, a):
        """gemma3 rmsnorms the attention output before the residual add."""
        return a

    def post_ffn(self, il, f):
        """gemma3 rmsnorms the FFN output before the residual add."""
        return f

    def output_name(self):
        """output.weight, or the token embeddings when the model ties them."""
        return "output.weight" if "output.weight" in self.w else "token_embd.weight"

    def final_logits(self, logits):
        """gemma2-style final soft-capping would go here."""
        return logits

    # ---- the forward pass ----

    def attention(self, il, x, pos):
        hp = self.hp
        q, k, v = self.project_qkv(il, x)
        q, k = self.qk_norm(il, q, k)
        q, k = self.rope(il, q, pos), self.rope(il, k, pos)
        group = hp.n_head // hp.n_head_kv  # GQA: query head h reads kv head h // group
        mask = self.attn_mask(il, pos)
        out = np.empty_like(q)
        for h in range(hp.n_head):
            kh, vh = k[:, h // group, :], v[:, h // group, :]
            s = (q[:, h, :] @ kh.T) * self.attn_scale()
            s = np.where(mask, s, -np.inf)
            out[:, h, :] = softmax(s) @ vh
        return self.lin(out.reshape(x.shape[0], -1), f"blk.{il}.attn_output.weight")

    def ffn(self, il, x):
        p = f"blk.{il}."
        g = self.activation(self.lin(x, p + "ffn_gate.weight"))
        return self.lin(g * self.lin(x, p + "ffn_up.weight"), p + "ffn_down.weight")

    def forward(self, tokens, pos=None):
        """Logits (n_tok, n_vocab), float64, of one sequence at every position."""
        hp = self.hp
        pos = np.arange(len(tokens)) if pos is None else np.asarray(pos)
        h = self.embed(tokens)
        for il in range(hp.n_layer):
            p = f"blk.{il}."
            x = rmsnorm(h, self.t(p + "attn_norm.weight"), hp.rms_eps)
            h = h + self.post_attn(il, self.attention(il, x, pos))
            x = rmsnorm(h, self.t(p + "ffn_norm.weight"), hp.rms_eps)
            h = h + self.post_ffn(il, self.ffn(il, x))
        h = rmsnorm(h, self.t("output_norm.weight"), hp.rms_eps)
        return self.final_logits(self.lin(h, self.output_name()))


ARCHES = {"llama": LlamaRef}


def reference_for(arch, hp, weights, qweights=None):
    """The reference model of an architecture name, e.g. "llama"."""
    if arch not in ARCHES:
        raise KeyError(f"no NumPy reference for architecture {arch!r}")
    return ARCHES[arch](hp, weights, qweights)
