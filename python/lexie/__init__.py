"""lexie: run GGUF language models on the CPU as information extractors.

A thin ctypes binding over liblexie (include/lexie.h is the manual); no
compiled extension.  The library is found at $LEXIE_LIB, else the lexie
repository's build/liblexie.so, else on the system's library path.

    import lexie

    with lexie.Model("smollm2-135m-instruct") as m:       # `lexie pull` it first
        print(m.generate([{"role": "user", "content": "Hi!"}], max_tokens=32))

        re = lexie.RelationExtractor(m, "semeval")
        print(re.classify("<e1>Smoke</e1> came from the <e2>fire</e2>."))
        # {'label': ..., 'scores': {label: probability, ...}}

        x = m.extract("Ann met Bob in Rome.", task="ner", types=["person", "location"])
        for e in x.entities:                               # grounded Spans
            print(e.type, e.text, e.start, e.end, e.match, e.confidence)
        print(m.ask("list every person", "Ann met Bob in Rome.").to_markdown())

        ex = lexie.Extractor(m, "re", schema="news.json")  # a lexie schema file; compiled once
        for x in ex.extract_many(texts):                   # in order
            for r in x.relations:
                head, tail = x.relation_spans(r)
                print(head.text, r.label, tail.text, r.confidence)

Every failure raises lexie.LexieError(status, message) with the library's
message; status is a lexie.Status.  Objects that hold C memory free it on
close(), at the end of a `with` block, or when collected; closing a Model
closes what was made on it.
"""

from ._base import ArgumentTypeError, ArgumentValueError, LexieError, Status
from ._model import (
    Context,
    Model,
    cache_dir,
    cached_path,
    catalog,
    install,
    pull,
    version,
)
from ._extract import (
    Event,
    Extraction,
    Extractor,
    IESchema,
    Relation,
    Span,
    Table,
    Triple,
    ask,
)
from ._relations import RelationExtractor, RelationSchema, evaluate_relations, parse_markers

__version__ = "0.1.0"

__all__ = [
    "ArgumentTypeError",
    "ArgumentValueError",
    "Context",
    "Event",
    "Extraction",
    "Extractor",
    "IESchema",
    "LexieError",
    "Model",
    "RelationExtractor",
    "Relation",
    "RelationSchema",
    "Span",
    "Status",
    "Table",
    "Triple",
    "ask",
    "cache_dir",
    "cached_path",
    "catalog",
    "evaluate_relations",
    "install",
    "parse_markers",
    "pull",
    "version",
]
