#!/usr/bin/env python3
"""seeds.py OUT [FIXTURES] -- generates seed corpora for the fuzz targets
from the repository's own test inputs, into OUT/<target>/ (nothing here is
committed): the built-in schemas (json, schema), the chat templates of
tests/test_chat.c (chat), the small test fixture GGUF files (gguf), and,
when $LEXIE_DATA holds the shared data sets, the first few records of
SemEval and GAD (readers) and the ADELIE SemEval JSONL (json).  The hand-made
seeds in fuzz/corpus/<target>/ are passed to the fuzzer beside these."""
import ast
import os
import re
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
out = sys.argv[1]
fixtures = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "build", "fixtures")


def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


for fn in sorted(os.listdir(os.path.join(root, "schemas"))):
    data = open(os.path.join(root, "schemas", fn), "rb").read()
    put("schema", fn, data)
    put("json", fn, b"\x00" + data)

src = open(os.path.join(root, "tests", "test_chat.c"), encoding="utf-8").read()
for m in re.finditer(r'static const char \*const (tmpl_\w+) =\s*((?:"(?:[^"\\]|\\.)*"\s*)+);', src):
    parts = re.findall(r'"(?:[^"\\]|\\.)*"', m.group(2))
    put("chat", m.group(1), "".join(ast.literal_eval(p) for p in parts).encode("utf-8"))

if os.path.isdir(fixtures):
    for fn in sorted(os.listdir(fixtures)):
        p = os.path.join(fixtures, fn)
        if fn.endswith(".gguf") and os.path.getsize(p) <= 256 * 1024:
            put("gguf", fn, open(p, "rb").read())

data = os.environ.get("LEXIE_DATA", os.path.join(os.path.dirname(root), "shared", "data"))


def head(path, n):
    try:
        with open(path, "rb") as f:
            return b"".join(f.readline() for _ in range(n))
    except OSError:
        return None


for sel, rel, n in [(0, "semeval2010_task8/TRAIN_FILE.TXT", 16),
                    (0, "semeval2010_task8/TEST_FILE.txt", 6),
                    (1, "gad_biobert_fold1/train.tsv", 8),
                    (1, "gad_biobert_fold1/test.tsv", 8)]:
    h = head(os.path.join(data, rel), n)
    if h:
        put("readers", os.path.basename(rel), bytes([sel]) + h)
h = head(os.path.join(data, "adelie_testsets/zeroshot/semeval.jsonl"), 4)
if h:
    for i, line in enumerate(h.splitlines()):
        put("json", "adelie_%d" % i, b"\x00" + line)
