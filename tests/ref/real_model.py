"""real_model.py -- the NumPy reference on a real GGUF model, and how
sensitive its logits are to float32-level noise.

    python3 tests/ref/real_model.py MODEL.gguf [--ids 504,3575,282] [--perturb 2]
            [--llamacpp] [--lexie LOGITS.bin]

Not run by `make test` (a 135M model takes seconds and a GB of memory in
float64).  It is the evidence behind the wide tolerances of
tests/test_parity.c: it prints the last-position logits' max difference
between the float reference, the activation-quantized replay of ggml
(ggml_quant.py), the replay with its activations perturbed by 1e-7
relative before each quantization (--perturb runs), llama.cpp
(--llamacpp, needs llama-cpp-python) and a float32 logit dump of lexie
(--lexie).  On SmolLM2-135M Q4_1 each of these pairs differs by 0.5-1.5:
activation rounding flips compound over 30 layers.
"""
import argparse
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as QT
from gguf import GGUFReader, quants

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ggml_quant  # noqa: E402
from reference import Hparams, reference_for  # noqa: E402


def load(path):
    """(arch, Hparams, float weights, quantized weights) of a GGUF file."""
    r = GGUFReader(path)

    def kv(key, default=None):
        f = r.fields.get(key)
        return f.contents() if f is not None else default

    arch = kv("general.architecture")
    n_embd, n_head = kv(f"{arch}.embedding_length"), kv(f"{arch}.attention.head_count")
    head_dim = kv(f"{arch}.attention.key_length", n_embd // n_head)
    tokens = kv("tokenizer.ggml.tokens")
    hp = Hparams(n_layer=kv(f"{arch}.block_count"), n_embd=n_embd, n_head=n_head,
                 n_head_kv=kv(f"{arch}.attention.head_count_kv", n_head), head_dim=head_dim,
                 n_ff=kv(f"{arch}.feed_forward_length"),
                 n_vocab=kv(f"{arch}.vocab_size", len(tokens) if tokens else 0),
                 n_ctx_train=kv(f"{arch}.context_length"),
                 rope_base=kv(f"{arch}.rope.freq_base", 10000.0),
                 rms_eps=kv(f"{arch}.attention.layer_norm_rms_epsilon"),
                 n_rot=kv(f"{arch}.rope.dimension_count", head_dim))
    w, qw = {}, {}
    for t in r.tensors:
        shape = tuple(int(x) for x in reversed(t.shape.tolist()))
        if t.tensor_type == QT.F32:
            w[t.name] = np.array(t.data, dtype=np.float32).reshape(shape)
        else:
            raw = np.array(t.data)
            w[t.name] = quants.dequantize(raw, t.tensor_type).reshape(shape)
            qw[t.name] = (raw, t.tensor_type)
    return arch, hp, w, qw


def llamacpp_logits(path, ids):
    import llama_cpp
    llm = llama_cpp.Llama(path, n_ctx=max(256, len(ids) + 8), n_threads=2,
                          type_k=llama_cpp.GGML_TYPE_F32, type_v=llama_cpp.GGML_TYPE_F32,
                          flash_attn=False, verbose=False)
    llm.eval(ids)
    p = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    return np.ctypeslib.as_array(p, shape=(llm.n_vocab(),)).astype(np.float64).copy()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--ids", default="504,3575,282,4649,314")  # "The capital of France is"
    ap.add_argument("--perturb", type=int, default=2)
    ap.add_argument("--llamacpp", action="store_true")
    ap.add_argument("--lexie", help="float32 logits of the last position, as written by lexie")
    args = ap.parse_args()
    ids = [int(x) for x in args.ids.split(",")]

    arch, hp, w, qw = load(args.model)
    out = {"float": reference_for(arch, hp, w).forward(ids)[-1],
           "actq": reference_for(arch, hp, w, qw).forward(ids)[-1]}
    exact = ggml_quant.quantize_act
    rng = np.random.default_rng(0)
    for k in range(args.perturb):
        def noisy(x, with_sum):
            x = np.asarray(x, dtype=np.float64)
            return exact(x * (1 + 1e-7 * rng.standard_normal(x.shape)), with_sum)
        ggml_quant.quantize_act = noisy
        out[f"actq+noise{k}"] = reference_for(arch, hp, w, qw).forward(ids)[-1]
        ggml_quant.quantize_act = exact
    if args.llamacpp:
        out["llama.cpp"] = llamacpp_logits(args.model, ids)
    if args.lexie:
        out["lexie"] = np.fromfile(args.lexie, dtype="<f4").astype(np.float64)
    names = list(out)
    print(f"{arch}: {hp}")
    print("argmax: " + ", ".join(f"{n} {int(np.argmax(out[n]))}" for n in names))
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            d = np.abs(out[a] - out[b])
            print(f"{a:>14s} vs {b:<14s} max |diff| {d.max():.3f}  mean {d.mean():.3f}")


if __name__ == "__main__":
    main()
