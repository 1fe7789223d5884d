"""make_fixtures.py -- writes the test fixtures into the directory argv[1].

`make test` runs this before the C tests (tests/test_model_ref.c).  It
writes tiny random-weight llama GGUF models (tinymodel.py) and, for fixed
token sequences, the logits of the NumPy reference forward pass
(reference.py) at every position.  Everything is seeded: the same files
every run.

Files written
  llama_f32.gguf      all float32, separate output.weight
  llama_q.gguf        matmul weights Q4_1 and Q8_0 (token_embd and output
                      Q8_0, as in SmolLM2's Q4_1 file); norms float32
  llama_tied.gguf     float32, no output.weight: logits use token_embd
  <model>.<seq>.bin   reference logits, float32 little-endian, row-major
                      (n_tokens, n_vocab): row i = logits after token i;
                      float activations times the dequantized weights
  <model>.<seq>.actq.bin  (quantized models only) the same with activations
                      quantized before each quantized product as ggml does
                      (ggml_quant.py): what lexie should match closely
  ref_tokens.txt      the sequences, in a line format C reads with fscanf:
                        n_vocab <n>
                        prefix <p>          shared prefix length of branches
                        seq <name> <n> <id> <id> ...
                      The branches share main's first p tokens, then differ.
  arch_foo.gguf       llama_f32 relabelled as architecture "foo"
  missing_tensor.gguf llama_f32 without blk.1.ffn_up.weight
  bad_shape.gguf      llama_f32 with blk.0.attn_k.weight of shape
                      (n_embd, n_embd) instead of (n_head_kv*head_dim, n_embd)
"""
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as QT

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference import Hparams, reference_for  # noqa: E402
from tinymodel import quantize_weights, random_weights, write_gguf  # noqa: E402
import ref_gemma3  # noqa: E402
import ref_qwen  # noqa: E402
import ref_rope  # noqa: E402

HP = Hparams(n_layer=2, n_embd=64, n_head=4, n_head_kv=2, head_dim=16, n_ff=128, n_vocab=300,
             n_ctx_train=256, rope_base=10000.0, rms_eps=1e-5, n_rot=16)

N_MAIN, PREFIX, N_BRANCH_TAIL = 40, 16, 12

Q_TYPES = {
    "token_embd.weight": QT.Q8_0,
    "output.weight": QT.Q8_0,
}
for _il in range(HP.n_layer):
    for _t in ("attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"):
        Q_TYPES[f"blk.{_il}.{_t}.weight"] = QT.Q4_1
    for _t in ("attn_v", "ffn_down"):
        Q_TYPES[f"blk.{_il}.{_t}.weight"] = QT.Q8_0

# (file stem, weight seed, tied embeddings, quantized types)
MODELS = [
    ("llama_f32", 1, False, {}),
    ("llama_q", 2, False, Q_TYPES),
    ("llama_tied", 3, True, {}),
]


def sequences():
    rng = np.random.default_rng(1234)
    main = rng.integers(0, HP.n_vocab, N_MAIN).tolist()
    b1 = main[:PREFIX] + rng.integers(0, HP.n_vocab, N_BRANCH_TAIL).tolist()
    b2 = main[:PREFIX] + rng.integers(0, HP.n_vocab, N_BRANCH_TAIL).tolist()
    return {"main": main, "branch1": b1, "branch2": b2}


def write_tokens(path, seqs):
    with open(path, "w") as f:
        f.write("# token sequences of the reference logits; see make_fixtures.py\n")
        f.write(f"n_vocab {HP.n_vocab}\nprefix {PREFIX}\n")
        for name, ids in seqs.items():
            f.write(f"seq {name} {len(ids)} {' '.join(map(str, ids))}\n")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seqs = sequences()
    write_tokens(os.path.join(out, "ref_tokens.txt"), seqs)
    for stem, seed, tied, qtypes in MODELS:
        w = random_weights(HP, seed, tied)
        stored, deq = quantize_weights(w, qtypes)
        write_gguf(os.path.join(out, stem + ".gguf"), HP, stored, "lexie-test-" + stem)
        ref = reference_for("llama", HP, deq)
        qw = {n: v for n, v in stored.items() if v[1] != QT.F32}
        refq = reference_for("llama", HP, deq, qw) if qw else None
        for name, ids in seqs.items():
            ref.forward(ids).astype("<f4").tofile(os.path.join(out, f"{stem}.{name}.bin"))
            if refq:
                refq.forward(ids).astype("<f4").tofile(os.path.join(out, f"{stem}.{name}.actq.bin"))
        if stem == "llama_f32":
            base = stored
    wrong = np.zeros((HP.n_embd, HP.n_embd), dtype=np.float32)
    write_gguf(os.path.join(out, "arch_foo.gguf"), HP, base, "bad-arch", arch="foo")
    write_gguf(os.path.join(out, "missing_tensor.gguf"), HP, base, "missing",
               drop=("blk.1.ffn_up.weight",))
    write_gguf(os.path.join(out, "bad_shape.gguf"), HP, base, "bad-shape",
               reshape={"blk.0.attn_k.weight": wrong})
    ref_gemma3.write_fixtures(out)  # gemma3_*: see ref_gemma3.py
    ref_qwen.write_fixtures(out)  # qwen2_*, qwen3_*: see ref_qwen.py
    ref_rope.write_fixtures(out)  # rope_*: see ref_rope.py


if __name__ == "__main__":
    main()
