#!/usr/bin/env python3
"""tokenizer_gemma3.py -- writes tests/data/tokenizer_gemma3.tsv and
tokenizer_gemma3_prefix.tsv: llama.cpp's token ids for the Gemma 3
(SentencePiece) vocabulary as shipped (add_space_prefix off), and for the
same vocabulary with tokenizer.ggml.add_space_prefix set to true, the
setting of Llama 2 and Mistral v1 vocabularies.  test_spm.c compares
lexie's tokenizer against both.

Usage: python3 tests/data/tokenizer_gemma3.py GEMMA3.gguf tests/data
(the GGUF: `./build/lexie path gemma3-270m`).  Needs llama-cpp-python and
gguf; only the vocabulary is loaded.  The random strings are seeded, so
reruns with the same llama.cpp give the same files.
"""
import json
import os
import random
import sys
import tempfile

import gguf

import llama_cpp

FIXED = [
    "Hello world",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "I'm can't we'll they've she'd I'M YOU'RE",
    " leading space",
    "   three leading",
    "trailing   ",
    "a  b",
    "a   b     c",
    " ",
    "  ",
    "x\ty\t\tz",
    "\t",
    "\n",
    "line one\nline two\n\nline four",
    "\r\n windows \r\n",
    " \n \t mixed \t\n ",
    "café über naïve façade résumé",
    "Größe Straße",
    "中文分词测试，你好世界。",
    "日本語のテキストです",
    "한국어 텍스트",
    "ελληνικά γράμματα",
    "русский текст",
    "مرحبا بالعالم",
    "שלום עולם",
    "हिन्दी पाठ",
    "ไทย",
    "😀",
    "👍🏽 family: 👨‍👩‍👧 flags 🇫🇷🇩🇪",
    "emoji🙂in🙂text",
    "𠀀𠀁 rare CJK, \ue000 private use, \U000F0000 plane 15",
    "control \x01\x02\x7f bytes",
    "12345 3.14159265358979 1,000,000 -42 0x1F",
    "2024-01-15T10:30:00Z",
    "def f(x):\n\treturn x**2  # comment\n",
    "#include <stdio.h>\nint main(void) {\n    printf(\"hi\\n\");\n    return 0;\n}\n",
    "{\"json\": [1, 2, 3], \"ok\": true, \"n\": null}",
    "<div class=\"x\">text</div> <table><tr><td>1</td></tr></table>",
    "http://example.com/path?q=1&b=2#frag",
    "========================================",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "▁already▁escaped ▁",
    "<0x41> is not a byte token in text",
    "[multimodal] and <start_of_image>",
    "<bos>Hello<eos>",
    "a</s>b",
    "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n",
    "<start_of_turn> spaced <end_of_turn>",
    "<unk><pad><mask>",
    "<unused0> <unused6241>",
    "<start_of_turn",
]

POOL = ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        "     \t\n\r.,;:!?'\"-_/\\()[]{}<>|@#$%^&*+=~`"
        "éüßñçøåЖжёعש中文日本語한국ไ½²€™→∑≠\u3000\u200d\u0301"
        "🙂😀👍🇫")
TOKENS = ["<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "</div>", "\n\n", "    ",
          "[multimodal]", "▁"]


def random_strings(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(3, 30)):
            if rng.random() < 0.08:
                parts.append(rng.choice(TOKENS))
            else:
                parts.append(rng.choice(POOL))
        out.append("".join(parts))
    return out


def with_space_prefix(src, dst):
    """Copies src's metadata (no tensors) with add_space_prefix = true."""
    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(dst, arch=r.fields["general.architecture"].contents())
    for k, f in r.fields.items():
        if k.startswith("GGUF.") or k in ("general.architecture",
                                          "tokenizer.ggml.add_space_prefix"):
            continue
        sub = f.types[-1] if f.types[0] == gguf.GGUFValueType.ARRAY else None
        w.add_key_value(k, f.contents(), f.types[0], sub_type=sub)
    w.add_bool("tokenizer.ggml.add_space_prefix", True)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write(path, model, note, modes):
    m = llama_cpp.Llama(model_path=model, vocab_only=True, verbose=False)
    with open(path, "w", encoding="utf-8") as f:
        f.write("# Gemma 3 (gemma3-270m) token ids%s from llama.cpp (llama-cpp-python %s,"
                " vocab_only=True).\n" % (note, llama_cpp.__version__))
        f.write("# Each line: the text as a JSON string, a tab, the ids.  '#parse_special=N' and"
                " '#add_bos=N' switch the mode for the lines below.\n")
        f.write("# Written by tests/data/tokenizer_gemma3.py.\n")
        for add_bos, special, subset in modes:
            f.write("#add_bos=%d\n#parse_special=%d\n" % (add_bos, special))
            for t in subset:
                ids = m.tokenize(t.encode("utf-8"), add_bos=bool(add_bos), special=bool(special))
                f.write("%s\t%s\n" % (json.dumps(t, ensure_ascii=False),
                                       " ".join(map(str, ids))))


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    texts = FIXED + random_strings(40, 1234)
    write(os.path.join(out, "tokenizer_gemma3.tsv"), src, "",
          ((0, 1, texts), (0, 0, texts), (1, 1, FIXED[:12] + [""])))
    with tempfile.TemporaryDirectory() as tmp:
        prefixed = os.path.join(tmp, "vocab.gguf")
        with_space_prefix(src, prefixed)
        write(os.path.join(out, "tokenizer_gemma3_prefix.tsv"), prefixed,
              " with add_space_prefix = true",
              ((0, 1, texts), (0, 0, FIXED), (1, 1, FIXED[:12] + [""])))


if __name__ == "__main__":
    main()
