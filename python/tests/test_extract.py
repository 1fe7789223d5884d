"""Tests of the lexie package's extraction face (lexie.IESchema,
lexie.Extractor, Model.extract, Model.ask and the result dataclasses)
against the tiny random-weight fixture model that `make test` builds
(build/fixtures/llama_q.gguf, or $LEXIE_TEST_FIXTURES), with a ChatML chat
template given as tests/test_extract.c gives it.

A random model writes nonsense, so the tests that need grounded spans give
the extractor a JSON Schema (same shape as the default) whose span texts
are an enum of strings of the document: whatever the model picks, it is in
the text, and the grounding, offsets and order can be checked exactly.

Run: python3 python/tests/test_extract.py   (no pytest needed).  The last
line is "N passed, N failed, N skipped"; the exit status is non-zero when a
test failed.  If the default catalog model is in the cache, one more test
extracts with it and compares the result with `lexie extract` (build/lexie,
or $LEXIE_TEST_CLI) on the same document; otherwise it is skipped.
"""

import gc
import json
import os
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "python"))

import lexie  # noqa: E402
from lexie import LexieError, Status  # noqa: E402

FIXTURES = os.environ.get("LEXIE_TEST_FIXTURES") or os.path.join(REPO, "build", "fixtures")
CLI = os.environ.get("LEXIE_TEST_CLI") or os.path.join(REPO, "build", "lexie")
TINY = os.path.join(FIXTURES, "llama_q.gguf")

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

SCHEMA = {
    "name": "news",
    "entities": ["person", {"type": "organization", "description": "firms"}, "location"],
    "relations": [
        {"label": "works_for", "template": "{subj} works for {obj}", "types": [["person", "organization"]]}
    ],
    "events": [
        {"type": "Travel", "roles": ["Traveler", {"role": "Destination", "description": "where"}]},
        {"type": "Hire"},
    ],
}


def forced_ner(texts, types, n):
    """An NER answer schema of the default's shape that makes the model
    write exactly n entities whose texts come from `texts`."""
    item = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"text": {"enum": list(texts)}, "type": {"enum": list(types)}},
        "required": ["text", "type"],
    }
    ents = {"type": "array", "minItems": n, "maxItems": n, "items": item}
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {"entities": ents},
        "required": ["entities"],
    }


# ==== A tiny runner (as test_lexie.py) ====


class Skip(Exception):
    pass


TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


def expect_error(status, needle, fn, *a, **k):
    """fn(*a, **k) must raise LexieError with this status and a message
    containing needle; returns the error."""
    try:
        fn(*a, **k)
    except LexieError as e:
        assert e.status == status, f"status {e.status!r}, wanted {status!r} ({e.message})"
        assert needle in e.message, f"message {e.message!r} lacks {needle!r}"
        return e
    raise AssertionError(f"no LexieError (wanted {status!r}, {needle!r})")


def expect_arg_error(kind, needle, fn, *a, **k):
    """fn(*a, **k) must raise kind (TypeError or ValueError), also a
    LexieError(INVALID) whose message says needle."""
    try:
        fn(*a, **k)
    except kind as e:
        assert isinstance(e, LexieError) and e.status == Status.INVALID, repr(e)
        assert needle in e.message, (e.message, needle)
        return
    raise AssertionError(f"no {kind.__name__} (wanted {needle!r})")


def tiny(n_ctx=1024):
    """A fresh fixture model with the ChatML template (the caller closes it)."""
    if not os.path.exists(TINY):
        raise Skip(f"fixture {TINY} missing (run make test)")
    return lexie.Model(TINY, n_threads=1, n_ctx=n_ctx, chat_template=CHATML)


def check_span(s, text):
    """A Span's invariants against its document: offsets are the text's
    slice in code points and in UTF-8 bytes, or absent when flagged."""
    assert isinstance(s, lexie.Span), s
    assert s.match in ("exact", "normalized", "fuzzy", "none"), s
    assert 0.0 <= s.confidence <= 1.0, s
    if s.match == "none":
        assert s.text is None and s.start is None and s.byte_start is None and s.model_text, s
        assert not s.grounded
        return
    assert s.grounded and text[s.start : s.end] == s.text, (s, text[s.start : s.end])
    assert text.encode("utf-8")[s.byte_start : s.byte_end].decode("utf-8") == s.text, s
    assert len(text[: s.start].encode("utf-8")) == s.byte_start, s
    assert (s.match_score is not None) == (s.match == "fuzzy"), s
    assert s.model_text != s.text, s  # set only where it differs


# ==== Schemas ====


@test
def test_schema_load_parse_types_and_errors():
    s = lexie.IESchema.parse(SCHEMA)
    assert s.name == "news" and len(s.sha256) == 64, (s.name, s.sha256)
    assert s.entity_types == ["person", "organization", "location"], s.entity_types
    assert s.event_types == ["Travel", "Hire"] and s.relation_labels == ["works_for"], s
    assert lexie.IESchema.parse(json.dumps(SCHEMA)).sha256 == lexie.IESchema.parse(json.dumps(SCHEMA)).sha256
    t = lexie.IESchema.from_types(["drug", "dose"])
    assert t.entity_types == ["drug", "dose"] and t.event_types == [] and t.relation_labels == []
    assert lexie.IESchema.from_types("drug,,dose").entity_types == ["drug", "dose"]  # as --types splits
    with tempfile.TemporaryDirectory() as d:
        good = os.path.join(d, "news.json")
        with open(good, "w", encoding="utf-8") as f:
            json.dump(SCHEMA, f)
        assert lexie.IESchema.load(good).entity_types == s.entity_types
        # The file's path and the JSON path are in the library's message.
        bad = os.path.join(d, "bad.json")
        with open(bad, "w", encoding="utf-8") as f:
            json.dump({"entities": ["person", "person"]}, f)
        e = expect_error(Status.FORMAT, 'entities[1]: duplicate type "person"', lexie.IESchema.load, bad)
        assert bad in e.message, e.message
        unk = os.path.join(d, "unk.json")
        with open(unk, "w", encoding="utf-8") as f:
            json.dump({"entities": ["person"], "relations": [{"label": "r", "types": [["person", "city"]]}]}, f)
        e = expect_error(Status.FORMAT, 'unknown type "city"', lexie.IESchema.load, unk)
        assert unk in e.message and "relations[0].types[0]" in e.message, e.message
    expect_error(Status.IO, "/nonexistent/s.json", lexie.IESchema.load, "/nonexistent/s.json")
    expect_error(Status.FORMAT, "events[0].roles[1]: duplicate role", lexie.IESchema.parse,
                 {"events": [{"type": "E", "roles": ["r", "r"]}]})
    expect_error(Status.FORMAT, "entities[0]: the type is empty", lexie.IESchema.from_types, [""])
    expect_arg_error(TypeError, "types must be", lexie.IESchema.from_types, 3)
    expect_arg_error(TypeError, "types must be strs", lexie.IESchema.from_types, ["a", 1])
    try:
        lexie.IESchema()
        raise AssertionError("IESchema() should refuse")
    except TypeError:
        pass


@test
def test_extractor_arguments():
    m = tiny()
    try:
        c = m.context(n_ctx=1024, n_seq_max=5)
        V, T = ValueError, TypeError
        expect_arg_error(V, "types or schema, not both", lexie.Extractor, c, "ner", types=["a"], schema=SCHEMA)
        expect_arg_error(V, "task must be ner, re, events or openie", lexie.Extractor, c, "nre", types=["a"])
        expect_arg_error(T, "task must be a str", lexie.Extractor, c, 0, types=["a"])
        expect_arg_error(V, "task ner needs types or schema", lexie.Extractor, c, "ner")
        expect_arg_error(V, "re_method must be qa4re or generate", lexie.Extractor, c, "re", schema=SCHEMA,
                         re_method="vanilla")
        expect_arg_error(V, "batch", lexie.Extractor, c, "ner", types=["a"], batch=0)
        expect_arg_error(V, "batch", lexie.Extractor, c, "ner", types=["a"], batch=33)
        expect_arg_error(T, "batch", lexie.Extractor, c, "ner", types=["a"], batch="4")
        expect_arg_error(V, "max_tokens", lexie.Extractor, c, "ner", types=["a"], max_tokens=8)
        expect_arg_error(V, "overlap", lexie.Extractor, c, "ner", types=["a"], overlap=17)
        expect_arg_error(T, "no_chunk", lexie.Extractor, c, "ner", types=["a"], no_chunk="yes")
        expect_arg_error(T, "schema must be", lexie.Extractor, c, "ner", schema=3)
        expect_arg_error(T, "Model or a Context", lexie.Extractor, "model", "ner", types=["a"])
        # The library's own refusals keep its status and message.
        expect_error(Status.INVALID, "events need an events section", lexie.Extractor, c, "events", types=["a"])
        expect_error(Status.INVALID, "RE needs a relations section", lexie.Extractor, c, "re", types=["a"])
        expect_error(Status.FORMAT, "the answer schema", lexie.Extractor, c, "ner", types=["a"], json_schema="{")
        expect_error(Status.RANGE, "give a larger context", lexie.Extractor, m.context(n_ctx=128), "ner",
                     types=["a"])
        x = lexie.Extractor(c, "openie", max_tokens=32)  # open IE needs no schema
        assert x.schema is None and "openie" in repr(x)
        expect_arg_error(V, "errors must be", x.extract_many, ["a"], errors="skip")
        expect_arg_error(T, "a list of texts", x.extract_many, "one text")
    finally:
        m.close()


# ==== Results ====


@test
def test_demos():
    m = tiny()
    try:
        x = lexie.Extractor(m, "ner", types=["person", "location"], max_tokens=32)
        x.set_demos([("Ann met Bob.", {"entities": [{"text": "Ann", "type": "person"}]})])
        p = x.prompt("Zed left.")
        want = 'Text: Ann met Bob.<|im_end|>\n<|im_start|>assistant\n{"entities": [{"text": "Ann", "type": "person"}]}'
        assert want in p and p.index(want) < p.index("Text: Zed left."), p
        x.extract("Zed left.")
        expect_error(Status.INVALID, "demonstration 0", x.set_demos, [("a", '{"entities": [{"text": "a", "type": "city"}]}')])
        expect_arg_error(TypeError, "(text, answer) pair", x.set_demos, ["a"])
        x.set_demos([])
        assert "Ann met Bob." not in x.prompt("Zed left.")
    finally:
        m.close()


@test
def test_dataclasses_from_a_real_extraction():
    m = tiny()
    try:
        c = m.context(n_ctx=1024, n_seq_max=5)
        text = "Zoë met Bob in 東京. Bob 😀 left, and bob came back."
        js = forced_ner(["Zoë", "東京", "BOB  😀", "Bob"], ["person", "location"], 6)
        x = lexie.Extractor(c, "ner", types=["person", "location"], json_schema=js, max_tokens=300)
        r = x.extract(text)
        assert isinstance(r, lexie.Extraction) and r.chunks == 1 and not r.truncated, r
        assert 1 <= len(r.entities) <= 6 and r.relations == [] and r.events == [] and r.triples == [], r
        # Six items asked for; mentions of one type and span are one entity.
        keys = [(s.type, s.start, s.end) for s in r.entities]
        assert len(keys) == len(set(keys)), keys
        for s in r.entities:
            check_span(s, text)
            assert s.grounded and s.type in ("person", "location"), s
        # Non-ASCII: after "ë" code points and bytes differ, and both are right.
        assert any(s.start != s.byte_start for s in r.entities), r.entities
        # The dataclasses say exactly what the library's JSON says.
        d = r.to_dict()
        assert set(d) == {"entities", "relations", "events", "triples"}, d
        for s, e in zip(r.entities, d["entities"]):
            for k in ("type", "text", "start", "end", "byte_start", "byte_end", "match", "confidence"):
                assert getattr(s, k) == e[k], (k, s, e)
            assert s.model_text == e.get("model_text") and s.match_score == e.get("match_score"), (s, e)
        assert r == x.extract(text), "the same text gave another result"
        # A repeated name takes successive occurrences.
        x2 = lexie.Extractor(c, "ner", types=["person"], json_schema=forced_ner(["Bob"], ["person"], 3),
                             max_tokens=200)
        r2 = x2.extract(text)
        starts = [s.start for s in r2.entities]
        assert starts == [8, 19, 35], r2.entities
        assert [s.match for s in r2.entities] == ["exact", "exact", "normalized"], r2.entities
        assert r2.entities[2].text == "bob" and r2.entities[2].model_text == "Bob", r2.entities
        # The prompt holds the text, in the chat template's user turn.
        p = x.prompt(text)
        assert p.startswith("<|im_start|>user\n") and text in p and p.endswith("<|im_start|>assistant\n"), p
        expect_error(Status.UTF8, "not valid UTF-8", x.extract, b"bad \xff text")
        expect_error(Status.INVALID, "NUL", x.extract, "a\0b")
    finally:
        m.close()


@test
def test_structures_relations_events_triples():
    m = tiny()
    try:
        c = m.context(n_ctx=1024, n_seq_max=5)
        text = "Ann met Bob in Rome. Acme hired Cy."
        s = lexie.IESchema.parse(SCHEMA)
        for task, part in (("events", "events"), ("openie", "triples"), ("re", "relations")):
            x = lexie.Extractor(c, task, schema=s if task != "openie" else None, max_tokens=48)
            r = x.extract(text)
            d = r.to_dict()
            assert len(getattr(r, part)) == len(d[part]), (task, r, d)
            for ev in r.events:
                assert ev.type in s.event_types and ev.trigger.type == ev.type, ev
                check_span(ev.trigger, text)
                for a in ev.arguments:
                    check_span(a, text)
                    assert a.type in ("Traveler", "Destination"), a
            for t in r.triples:
                for sp in (t.subject, t.relation, t.object, t.time, t.place):
                    if sp is not None:
                        check_span(sp, text)
                        assert sp.type is None, sp
            for rel in r.relations:
                h, tl = r.relation_spans(rel)
                assert h is r.entities[rel.head] and tl is r.entities[rel.tail], rel
                assert rel.label in s.relation_labels, rel
        # relation_spans on a hand-made result.
        sp = lambda t, a: lexie.Span("person", t, a, a + len(t), a, a + len(t), "exact", 1.0)  # noqa: E731
        ex = lexie.Extraction([sp("Ann", 0), sp("Bob", 8)], [lexie.Relation(1, 0, "knows", 0.5)], [], [])
        assert ex.relation_spans(0) == (ex.entities[1], ex.entities[0])
        expect_arg_error(TypeError, "a Relation or an index", ex.relation_spans, "knows")
    finally:
        m.close()


# ==== Many documents, long documents ====


@test
def test_extract_many_keeps_order_and_errors():
    m = tiny()
    try:
        c = m.context(n_ctx=1024, n_seq_max=3)
        docs = ["Ann met Bob.", "Bob met Cy in Rome.", "Cy left.", "Rome, then Ann.", "Ann and Cy."]
        js = forced_ner(["Ann", "Bob", "Cy", "Rome"], ["person", "location"], 2)
        x = lexie.Extractor(c, "ner", types=["person", "location"], json_schema=js, max_tokens=120, batch=2)
        many = x.extract_many(docs)
        one = [x.extract(d) for d in docs]
        assert many == one, "batched results differ from one at a time"
        for d, r in zip(docs, many):
            for s in r.entities:
                check_span(s, d)
        assert x.extract_many([]) == []
        # A failing document: its own error in its place, or raised naming it.
        mixed = [docs[0], b"bad \xff", docs[1], "nul\0", docs[2]]
        got = x.extract_many(mixed, errors="return")
        assert [type(g).__name__ for g in got] == ["Extraction", "LexieError", "Extraction", "LexieError",
                                                  "Extraction"], got
        assert got[1].status == Status.UTF8 and got[3].status == Status.INVALID, got
        assert (got[0], got[2], got[4]) == (one[0], one[1], one[2]), got
        expect_error(Status.UTF8, "document 1: ", x.extract_many, mixed)
        expect_error(Status.INVALID, "document 1: ", x.extract_many, [docs[0], "nul\0"])
    finally:
        m.close()


@test
def test_long_document_chunks_or_refuses():
    m = tiny()
    try:
        c = m.context(n_ctx=1024, n_seq_max=5)
        long_text = "Ann met Bob in Rome. Acme hired Cy. " * 60
        x = lexie.Extractor(c, "ner", schema=SCHEMA, max_tokens=48)
        r = x.extract(long_text)
        assert r.chunks > 1, r.chunks
        assert r.to_dict().get("chunks") == r.chunks
        for s in r.entities:
            check_span(s, long_text)
        xn = lexie.Extractor(c, "ner", schema=SCHEMA, max_tokens=48, no_chunk=True)
        expect_error(Status.RANGE, "chunking is off", xn.extract, long_text)
        assert xn.extract("Ann met Bob.").chunks == 1
    finally:
        m.close()


# ==== Tables ====


@test
def test_ask_returns_rectangular_tables():
    m = tiny()
    try:
        text = "Ann met Bob in Rome. Cy took 5 mg of aspirin."
        seen_rows = 0
        for ins in ("list every drug with its dose", "who met whom", "people and places"):
            t = m.ask(ins, text, max_tokens=512)
            assert isinstance(t, lexie.Table) and len(t.header) >= 1, t
            for row in t.rows:
                assert len(row) == len(t.header) and all(isinstance(c, str) for c in row), t
            seen_rows += len(t.rows)
            md = t.to_markdown()
            assert md.count("\n") == len(t.rows) + 2, md  # header, rule, rows
            assert t.to_dict() == {"header": t.header, "rows": t.rows}
            assert m.ask(ins, text, max_tokens=512) == t, "the same question gave another table"
        assert seen_rows > 0, "no question gave a row"
        expect_error(Status.INVALID, "instruction", m.ask, "", text)
        expect_arg_error(ValueError, "max_tokens", m.ask, "q", text, max_tokens=8)
        expect_arg_error(TypeError, "instruction must be a str", m.ask, None, text)
        # Markdown is the library's (as `lexie ask --format md`): '|' escaped.
        t = lexie.Table(["drug", "dose"], [["a|b", "5 mg"]])
        assert t.to_markdown() == "| drug | dose |\n| --- | --- |\n| a\\|b | 5 mg |\n", repr(t.to_markdown())
        expect_arg_error(ValueError, "row 0 has 1 cells for 2 columns", lexie.Table(["a", "b"], [["x"]]).to_markdown)
        # A borrowed context answers too.
        c = m.context(n_ctx=1024, n_seq_max=2)
        assert c.ask("who met whom", text, max_tokens=512) == m.ask("who met whom", text, max_tokens=512)
    finally:
        m.close()


# ==== Lifetimes and Model.extract ====


@test
def test_model_extract_and_closing():
    m = tiny()
    text = "Ann met Bob in Rome."
    js = forced_ner(["Ann", "Bob", "Rome"], ["person", "location"], 2)
    r = m.extract(text, task="ner", types=["person", "location"], json_schema=js, max_tokens=120)
    for s in r.entities:
        check_span(s, text)
    assert len(r.entities) == 2, r
    ctx = m._extract_ctx[0]
    assert ctx.n_ctx == 1024, ctx.n_ctx  # the Model's n_ctx, as it was given one
    x_own = lexie.Extractor(m, "ner", types=["person"], max_tokens=48)  # owns a context
    c = m.context(n_ctx=1024, n_seq_max=5)
    x_borrow = lexie.Extractor(c, "ner", schema=SCHEMA, max_tokens=48)
    same = lexie.Extractor(c, "ner", types=["person", "location"], json_schema=js, max_tokens=120)
    assert same.extract(text) == r, "Model.extract and an Extractor disagree"
    expect_arg_error(ValueError, "types or schema, not both", m.extract, text, types=["a"], schema=SCHEMA)
    expect_arg_error(TypeError, "takes no n_ctx", m.extract, text, types=["a"], n_ctx=10)
    m.close()  # closes the contexts and every extractor on them
    assert x_own.closed and x_borrow.closed and same.closed and c.closed and ctx.closed
    assert x_borrow.schema.closed  # the schema it made from a dict went with it
    expect_error(Status.INVALID, "is closed", x_own.extract, text)
    expect_error(Status.INVALID, "is closed", x_borrow.prompt, text)
    expect_error(Status.INVALID, "model is closed", m.extract, text, types=["a"])
    # An extractor dropped without close() is freed by the collector.
    for _ in range(3):
        mm = tiny()
        lexie.Extractor(mm, "ner", types=["a"], max_tokens=48).extract("a b")
        del mm
        gc.collect()
    # Closing an extractor closes what it made for itself, not what it borrowed.
    with tiny() as m2:
        s = lexie.IESchema.parse(SCHEMA)
        x = lexie.Extractor(m2, "ner", schema=s, max_tokens=48)
        own_ctx = x.context
        x.close()
        assert own_ctx.closed and not s.closed and not m2.closed
        x = lexie.Extractor(m2, "ner", types=["a"], max_tokens=48)
        own_schema = x.schema
        x.close()
        assert own_schema.closed


# ==== The real default model (optional) ====


@test
def test_real_model_matches_cli():
    path = lexie.cached_path()
    if path is None:
        raise Skip("the default model is not in the cache (lexie pull)")
    if not os.access(CLI, os.X_OK):
        raise Skip(f"CLI {CLI} missing (run make)")
    text = "Barack Obama met Angela Merkel in Berlin on Monday."
    with lexie.Model(path) as m:
        r = m.extract(text, task="ner", types="person,location", max_tokens=64)
        for s in r.entities:
            check_span(s, text)
        assert r.entities, r
        line = json.dumps({"id": 1, "text": text}) + "\n"
        p = subprocess.run(
            [CLI, "extract", "-m", path, "--task", "ner", "--types", "person,location", "--max-tokens", "64"],
            input=line.encode(),
            capture_output=True,
            timeout=300,
        )
        assert p.returncode == 0, p.stderr.decode()
        got = json.loads(p.stdout)
        assert got.pop("id") == 1
        want = {k: v for k, v in r.to_dict().items() if k == "entities"}
        assert got == want, (got, want)


# ==== Runner ====


def main():
    only = sys.argv[1:]
    passed = failed = skipped = 0
    verbose = bool(os.environ.get("LX_TEST_VERBOSE"))
    for fn in TESTS:
        if only and not any(o in fn.__name__ for o in only):
            continue
        try:
            fn()
        except Skip as s:
            skipped += 1
            print(f"SKIP {fn.__name__}: {s}")
        except Exception:  # noqa: BLE001 - a test's failure, reported
            failed += 1
            print(f"FAIL {fn.__name__}")
            traceback.print_exc(file=sys.stdout)
        else:
            passed += 1
            if verbose:
                print(f"ok   {fn.__name__}")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
