#!/usr/bin/env python3
"""make_fixture.py -- writes docs.jsonl and results.jsonl beside it: the
fixture of tests/view_chromium.py.  Offsets are computed here by code points
(Python's str), byte offsets from UTF-8, so they are independent of the C
code under test.  The results hold nested and crossing spans, emoji (one a
ZWJ sequence), CJK, a no-break space, markup-like text, CR LF, a fuzzy and a
normalized match, a match "none", offsets outside the text, a bad relation,
an event, a triple, an error line, a malformed line and an id the documents
lack."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

DOCS = [
    {"id": "d1", "text": "Barack Obama was born in Honolulu, Hawaii. He met Michelle Obama in Chicago."},
    {"id": 2, "text": "Caf\u00e9 \U0001F389 at \u5317\u4eac\u5927\u5b66: Zo\u00eb "
                      "\U0001F469\u200d\U0001F52C joined Acme\u00a0Corp \U0001F600!"},
    {"id": "x<3", "text": "<script>alert(\"x\")</script> & 'quotes' \"too\"\r\nline two </mark> end"},
    {"id": "ev", "text": "The patient developed a severe rash after taking amoxicillin."},
    {"id": "oie", "text": "Marie Curie discovered polonium in Paris in 1898."},
]
BY_ID = {d["id"]: d for d in DOCS}


def span(doc, sub, typ=None, key="type", match="exact", conf=0.9, **extra):
    text = doc["text"]
    s = text.index(sub)
    e = s + len(sub)
    m = {key: typ} if typ is not None else {}
    m.update({"text": sub, "start": s, "end": e, "byte_start": len(text[:s].encode()),
              "byte_end": len(text[:e].encode())})
    m.update(extra)
    m["match"] = match
    if match == "fuzzy":
        m["match_score"] = 0.8
    m["confidence"] = conf
    return m


def results():
    d = BY_ID["d1"]
    ents = [span(d, "Barack Obama", "PER"), span(d, "Obama", "FAMILY"),
            span(d, "Honolulu, Hawaii", "LOC"), span(d, "Hawaii. He", "MISC", conf=0.3),
            span(d, "Michelle Obama", "PER", match="normalized", model_text="michelle obama"),
            span(d, "Chicago", "LOC", match="fuzzy", model_text="Chicgo"),
            {"type": "ORG", "model_text": "White House", "match": "none", "confidence": 0.2}]
    yield {"id": "d1", "entities": ents, "relations": [
        {"head": 0, "tail": 2, "label": "born_in", "confidence": 0.93},
        {"head": 4, "tail": 5, "label": "met_in", "confidence": 0.5},
        {"head": 0, "tail": 9, "label": "bogus", "confidence": 0.1}]}
    d = BY_ID[2]
    yield {"id": 2, "entities": [
        span(d, "Caf\u00e9", "LOC"), span(d, "\U0001F389", "EMOJI"),
        span(d, "\u5317\u4eac\u5927\u5b66", "ORG"),
        span(d, "Zo\u00eb \U0001F469\u200d\U0001F52C", "PER"),
        span(d, "Acme\u00a0Corp", "ORG"), span(d, "\U0001F600", "EMOJI")]}
    d = BY_ID["x<3"]
    yield {"id": "x<3", "entities": [
        span(d, "<script>alert(\"x\")</script>", "CODE<b>"),
        span(d, "&", "AMP\"onmouseover=\"x"), span(d, "'quotes'", "Q"),
        span(d, "two </mark> end", "TAIL"),
        {"type": "BAD", "text": "zzz", "start": 90, "end": 95, "match": "exact",
         "confidence": 0.5}]}
    d = BY_ID["ev"]
    yield {"id": "ev", "events": [{
        "type": "Adverse_event", "trigger": span(d, "developed"),
        "arguments": [span(d, "The patient", "Subject", key="role"),
                      span(d, "severe rash", "Effect", key="role"),
                      span(d, "amoxicillin", "Treatment", key="role")],
        "confidence": 0.77}]}
    d = BY_ID["oie"]
    yield {"id": "oie", "triples": [{
        "subject": span(d, "Marie Curie"), "relation": span(d, "discovered"),
        "object": span(d, "polonium"), "time": span(d, "1898"), "place": span(d, "Paris"),
        "confidence": 0.66}]}
    yield None  # a malformed line
    yield {"id": "gone", "error": {"code": "format", "message": "line 7: text is not a string <b>"}}
    yield {"id": "missing", "entities": [
        {"type": "PER", "text": "Ada", "start": 4, "end": 7, "match": "exact", "confidence": 0.9},
        {"type": "PER", "text": "Lovelace", "start": 8, "end": 16, "match": "exact",
         "confidence": 0.9}]}


def main():
    with open(os.path.join(HERE, "docs.jsonl"), "w", encoding="utf-8", newline="") as f:
        for d in DOCS:
            f.write(json.dumps(d, ensure_ascii=False) + "\n")
    with open(os.path.join(HERE, "results.jsonl"), "w", encoding="utf-8", newline="") as f:
        for r in results():
            f.write('{"id": "broken", "entities": [\n' if r is None
                    else json.dumps(r, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
