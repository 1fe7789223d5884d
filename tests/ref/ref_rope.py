"""ref_rope.py -- tiny llama models with RoPE scaling and their NumPy reference.

make_fixtures.py calls write_fixtures(out) to write, into out/:

  rope_freqs.gguf    llama_f32's shapes (HP below), other weights,
                     plus rope_freqs.weight: Llama-3 style per-pair angle
                     divisors (n_rot/2 float32), computed with Llama 3.1's
                     formula scaled down to this model (see llama3_factors)
  rope_linear.gguf   the same shapes, other weights, with
                     llama.rope.scaling.type = "linear" and
                     llama.rope.scaling.factor = 4 (positions divided by 4)
  rope_tokens.txt    the sequence, in ref_tokens.txt's line format:
                       n_vocab <n>
                       seq main <n> <id> ...
  <model>.main.bin          reference logits (n_tokens, n_vocab) float32 LE
  <model>.main.noscale.bin  the same model's logits with the scaling
                            ignored: what an engine that skips it computes
  rope_yarn.gguf     rope_linear with scaling type "yarn": must be refused
  rope_freqs_bad.gguf  rope_freqs with n_rot/2 + 1 divisors: must be refused

The angles are ggml's (ggml_rope_cache_init and rope_yarn in
ggml-cpu/ops.cpp, with ext_factor 0 and attn_factor 1 as llama.cpp uses for
these models): theta starts at the position and is multiplied by
base^(-2/n_rot) once per pair, in float32; pair i then turns by
freq_scale * (theta / freq_factor[i]), both steps in float32, where
freq_scale = 1/factor for linear scaling (1 otherwise) and freq_factor is
rope_freqs.weight (1 without it).  cos/sin are taken in float64.

Each fixture is checked here to depend on its scaling: the logits with the
scaling ignored differ by far more than test tolerances, so an engine that
skipped it could not pass (tests/test_rope_scaling.c checks lexie's
distance from the .noscale logits too).
"""
import math
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as QT

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import Hparams, LlamaRef  # noqa: E402
from tinymodel import quantize_weights, random_weights, write_gguf  # noqa: E402

# make_fixtures.HP's shapes (llama_f32), restated to keep the import one-way
HP = Hparams(n_layer=2, n_embd=64, n_head=4, n_head_kv=2, head_dim=16, n_ff=128, n_vocab=300,
             n_ctx_train=256, rope_base=10000.0, rms_eps=1e-5, n_rot=16)

N_TOK = 48
LINEAR_FACTOR = 4.0

# Llama 3.1's rope_scaling (factor 8, low/high frequency factors 1 and 4)
# with the original context 8192 scaled down to 64: at 8192 only pairs with
# wavelengths over 2048 positions would change, and this model's sequence
# is 48 tokens long, so the scaling would barely show.  At 64 the pairs
# span all three cases: unchanged, smoothly interpolated, divided by 8.
L3_FACTOR, L3_LOW, L3_HIGH, L3_ORIG_CTX = 8.0, 1.0, 4.0, 64


def llama3_factors(n_rot, base):
    """Per-pair divisors as convert_hf_to_gguf.py computes Llama 3's."""
    out = []
    for i in range(n_rot // 2):
        wavelen = 2 * math.pi * base ** (2 * i / n_rot)
        if wavelen < L3_ORIG_CTX / L3_HIGH:
            out.append(1.0)
        elif wavelen > L3_ORIG_CTX / L3_LOW:
            out.append(L3_FACTOR)
        else:
            smooth = (L3_ORIG_CTX / wavelen - L3_LOW) / (L3_HIGH - L3_LOW)
            out.append(1.0 / ((1.0 - smooth) / L3_FACTOR + smooth))
    return np.array(out, dtype=np.float32)


def scaled_angles(pos, n_rot, base, freq_scale, ff):
    """(n_tok, n_rot/2) angles exactly as ggml rounds them (float32)."""
    f32 = np.float32
    step = np.power(f32(base), f32(-2.0) / f32(n_rot), dtype=f32)
    theta = np.asarray(pos, dtype=f32).copy()
    out = np.empty((len(theta), n_rot // 2), dtype=np.float64)
    for i in range(n_rot // 2):
        t = (theta / f32(ff[i])).astype(f32) if ff is not None else theta
        out[:, i] = (f32(freq_scale) * t).astype(f32)
        theta = (theta * step).astype(f32)
    return out


class ScaledRopeRef(LlamaRef):
    """llama with RoPE angles scaled as above (normal, not NEOX, pairs)."""

    freq_scale = 1.0
    ff = None  # per-pair divisors, or None

    def rope(self, il, x, pos):
        hp = self.hp
        ang = scaled_angles(pos, hp.n_rot, hp.rope_base, self.freq_scale, self.ff)[:, None, :]
        c, s = np.cos(ang), np.sin(ang)
        y = x.copy()
        x0, x1 = x[..., 0:hp.n_rot:2], x[..., 1:hp.n_rot:2]
        y[..., 0:hp.n_rot:2] = x0 * c - x1 * s
        y[..., 1:hp.n_rot:2] = x0 * s + x1 * c
        return y


def _ref(w, freq_scale, ff):
    r = ScaledRopeRef(HP, w)
    r.freq_scale, r.ff = freq_scale, ff
    return r


def write_fixtures(out):
    os.makedirs(out, exist_ok=True)
    ids = np.random.default_rng(4321).integers(0, HP.n_vocab, N_TOK).tolist()
    with open(os.path.join(out, "rope_tokens.txt"), "w") as f:
        f.write("# RoPE-scaling reference token sequence; see tests/ref/ref_rope.py\n")
        f.write(f"n_vocab {HP.n_vocab}\nseq main {len(ids)} {' '.join(map(str, ids))}\n")
    ff = llama3_factors(HP.n_rot, HP.rope_base)
    # (stem, weight seed, freq_scale, freq factors, extra metadata)
    models = [
        ("rope_freqs", 11, 1.0, ff, {}),
        ("rope_linear", 12, 1.0 / LINEAR_FACTOR, None,
         {"llama.rope.scaling.type": "linear", "llama.rope.scaling.factor": LINEAR_FACTOR}),
    ]
    for stem, seed, fs, factors, kv in models:
        w = random_weights(HP, seed, False)
        stored, deq = quantize_weights(w, {})
        if factors is not None:
            stored["rope_freqs.weight"] = (factors, QT.F32)
        write_gguf(os.path.join(out, stem + ".gguf"), HP, stored, "lexie-test-" + stem, kv=kv)
        z = _ref(deq, fs, factors).forward(ids)
        z0 = _ref(deq, 1.0, None).forward(ids)
        d = float(np.max(np.abs(z - z0)))
        if d < 1.0:
            raise SystemExit(f"ref_rope: {stem}: scaling moves logits by only {d:.3g}")
        z.astype("<f4").tofile(os.path.join(out, f"{stem}.main.bin"))
        z0.astype("<f4").tofile(os.path.join(out, f"{stem}.main.noscale.bin"))
        if stem == "rope_linear":
            write_gguf(os.path.join(out, "rope_yarn.gguf"), HP, stored, "yarn",
                       kv=dict(kv, **{"llama.rope.scaling.type": "yarn"}))
        else:
            bad = dict(stored)
            bad["rope_freqs.weight"] = (np.append(factors, np.float32(1.0)), QT.F32)
            write_gguf(os.path.join(out, "rope_freqs_bad.gguf"), HP, bad, "freqs-bad")


if __name__ == "__main__":
    write_fixtures(sys.argv[1])
