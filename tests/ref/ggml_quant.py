"""ggml_quant.py -- NumPy replay of ggml's quantized matrix products.

llama.cpp (and lexie, which follows it) never multiplies a quantized weight
by float activations: each activation row is first quantized per block of
32 to the weight type's "vec_dot type" (Q8_0 for Q8_0 and Q4_0 weights,
Q8_1 for Q4_1), and the dot product is computed blockwise from the integer
sums.  That rounding moves logits by up to ~0.7 on our tiny random models,
far more than float error, so a reference with float activations can only
be checked loosely.  This module replays the integer arithmetic so a second
reference can be checked tightly.  Checked against llama.cpp itself
(llama-cpp-python 0.3.36, CPU): logits agree to ~1e-5.

The details that matter (ggml-cpu quants, x86 path):
  Q8_0 / Q8_1 activations: amax over the block; d = amax / 127 (float32);
    q = round(x * (127 / amax)), stored d as fp16.
  Q8_1 also stores s = fp16(d * sum(q)), with the unrounded float32 d.
  Q8_0 . Q8_0 and Q4_0 . Q8_0:  sum_b  dw_b * dx_b * sum_j qw_j qx_j
  Q4_1 . Q8_1:                  sum_b (dw_b * dx_b * sum_j qw_j qx_j + mw_b * s_b)
The fp16 rounding of s is what a plain "dequantize then multiply" misses.
"""
import numpy as np
from gguf import GGMLQuantizationType as QT

QK = 32


def _f16(b):
    """Little-endian fp16 in the last axis of b (uint8, size 2) -> float64."""
    return np.ascontiguousarray(b).view(np.float16)[..., 0].astype(np.float64)


def quantize_act(x, with_sum):
    """Q8_0 (with_sum False) or Q8_1 activations of x (n, k).
    Returns (q (n, nb, 32) float64 ints, d (n, nb) fp16-rounded, s (n, nb))."""
    xb = np.asarray(x, dtype=np.float32).reshape(x.shape[0], -1, QK)
    amax = np.abs(xb).max(axis=-1)
    d = (amax / np.float32(127)).astype(np.float32)
    safe = np.where(amax == 0, np.float32(1), amax)
    inv = np.where(amax == 0, np.float32(0), np.float32(127) / safe).astype(np.float32)
    q = np.round((xb * inv[..., None]).astype(np.float32)).astype(np.float64)
    d16 = d.astype(np.float16).astype(np.float64)
    s = None
    if with_sum:
        s = (d * q.sum(axis=-1).astype(np.float32)).astype(np.float16).astype(np.float64)
    return q, d16, s


def _weight_blocks(raw, qtype, shape):
    """(qs (out, nb, 32) float64, d (out, nb), m (out, nb) or None)."""
    out, k = shape
    nb = k // QK
    if qtype == QT.Q8_0:
        blk = raw.reshape(out, nb, 34)
        return blk[..., 2:].copy().view(np.int8).astype(np.float64), _f16(blk[..., 0:2]), None
    if qtype in (QT.Q4_0, QT.Q4_1):
        hdr = 2 if qtype == QT.Q4_0 else 4
        blk = raw.reshape(out, nb, hdr + QK // 2)
        qs = blk[..., hdr:]
        # low nibbles hold elements 0..15, high nibbles 16..31
        q = np.concatenate([qs & 15, qs >> 4], axis=-1).astype(np.float64)
        if qtype == QT.Q4_0:
            return q - 8.0, _f16(blk[..., 0:2]), None
        return q, _f16(blk[..., 0:2]), _f16(blk[..., 2:4])
    raise NotImplementedError(f"no activation-quantized replay for {qtype.name}")


def quant_matmul(x, raw, qtype, shape):
    """x (n, k) times the transpose of a quantized weight (out, k) stored as
    raw bytes, the way ggml computes it.  Returns (n, out) float64."""
    qw, dw, mw = _weight_blocks(np.asarray(raw, dtype=np.uint8), qtype, shape)
    qx, dx, sx = quantize_act(x, with_sum=(qtype == QT.Q4_1))
    sumi = np.einsum("nbj,obj->nob", qx, qw)  # exact: integers well below 2^53
    y = dw[None, :, :] * dx[:, None, :] * sumi
    if mw is not None:
        y = y + mw[None, :, :] * sx[:, None, :]
    return y.sum(axis=-1)
