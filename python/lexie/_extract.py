"""Extraction: lexie.IESchema, lexie.Extractor, Model.extract, Model.ask and
the result dataclasses (Span, Relation, Event, Triple, Extraction, Table).

A thin face over the library calls `lexie extract` and `lexie ask` make
(tools/lexie/cmd_extract.c): the same schema lookup, parameters, context
sizing and results.  A result is read through lexie_extraction_json, the
very JSON object the CLI writes on an output line (docs/formats.md, "lexie
extract"; without "id"), so Python and the CLI cannot disagree; the
dataclasses only give it attributes.  Confidences and fuzzy match scores
therefore carry the CLI's 4 decimals.

Offsets are Unicode code points (what indexing a Python str counts), end
exclusive: text[span.start:span.end] == span.text for every grounded span.
A span the library could not find in the text has match "none", no offsets
and no text; the model's string is in model_text.
"""

import ctypes
import json
import os
import threading
from ctypes import POINTER, byref, c_char_p, c_void_p
from dataclasses import dataclass, field
from typing import List, Optional

from . import _lib
from ._base import (
    ArgumentTypeError,
    ArgumentValueError,
    Handle,
    SchemaHandle,
    LexieError,
    Status,
    check,
    check_bool,
    check_int,
    lib,
    new_error,
    opt_str,
    raise_for,
    to_bytes,
    to_path,
)
from ._model import Context, Model
from ._relations import _schema_path

# ==== Results ====


@dataclass(frozen=True)
class Span:
    """A span of the input the model named.

    type: the requested type verbatim (an event argument's role; None for
    a triple's slots).  text: the input's own slice text[start:end] (None
    when match is "none").  start, end: code points, end exclusive;
    byte_start, byte_end: the same in UTF-8 bytes; all None when match is
    "none".  match: "exact", "normalized", "fuzzy" or "none".  confidence:
    in [0, 1], from the token probabilities (docs/formats.md).
    model_text: the model's string where it differs from text (always set
    for match "none").  match_score: the alignment score of a fuzzy match,
    else None."""

    type: Optional[str]
    text: Optional[str]
    start: Optional[int]
    end: Optional[int]
    byte_start: Optional[int]
    byte_end: Optional[int]
    match: str
    confidence: float
    model_text: Optional[str] = None
    match_score: Optional[float] = None

    @property
    def grounded(self):
        """True when the span has offsets (match is not "none")."""
        return self.match != "none"


@dataclass(frozen=True)
class Relation:
    """A relation between two entities of the same Extraction: head and
    tail index Extraction.entities (Extraction.relation_spans(r) gives the
    Spans)."""

    head: int
    tail: int
    label: str
    confidence: float


@dataclass(frozen=True)
class Event:
    """An event: type, its trigger (trigger.type is the event type) and its
    arguments (each argument's type is its role)."""

    type: str
    trigger: Span
    arguments: List[Span]
    confidence: float


@dataclass(frozen=True)
class Triple:
    """An open IE triple; time and place are None when absent.  Its spans
    have type None."""

    subject: Span
    relation: Span
    object: Span
    time: Optional[Span] = None
    place: Optional[Span] = None
    confidence: float = 0.0


@dataclass(frozen=True)
class Extraction:
    """What was extracted from one document.  The lists a task does not
    produce are empty.  chunks: the pieces the document was split into (1:
    whole).  truncated: an answer hit max_tokens and was closed early.
    to_dict() gives the library's JSON object (the CLI's line without
    "id")."""

    entities: List[Span]
    relations: List[Relation]
    events: List[Event]
    triples: List[Triple]
    chunks: int = 1
    truncated: bool = False
    _raw: dict = field(default=None, repr=False, compare=False)

    def relation_spans(self, relation):
        """(head Span, tail Span) of a Relation (or the index of one)."""
        if isinstance(relation, int) and not isinstance(relation, bool):
            relation = self.relations[relation]
        if not isinstance(relation, Relation):
            raise ArgumentTypeError(
                Status.INVALID, f"relation must be a Relation or an index, not {type(relation).__name__}"
            )
        return self.entities[relation.head], self.entities[relation.tail]

    def to_dict(self):
        """The library's JSON object for this result (a fresh copy)."""
        return json.loads(json.dumps(self._raw))


def _span(d, type_=None, type_key="type"):
    return Span(
        type=d.get(type_key, type_),
        text=d.get("text"),
        start=d.get("start"),
        end=d.get("end"),
        byte_start=d.get("byte_start"),
        byte_end=d.get("byte_end"),
        match=d["match"],
        confidence=float(d["confidence"]),
        model_text=d.get("model_text"),
        match_score=None if d.get("match_score") is None else float(d["match_score"]),
    )


def _extraction(d):
    """The JSON object of lexie_extraction_json -> an Extraction."""
    events = [
        Event(
            type=e["type"],
            trigger=_span(e["trigger"], e["type"]),
            arguments=[_span(a, type_key="role") for a in e["arguments"]],
            confidence=float(e["confidence"]),
        )
        for e in d.get("events", [])
    ]
    triples = [
        Triple(
            subject=_span(t["subject"]),
            relation=_span(t["relation"]),
            object=_span(t["object"]),
            time=_span(t["time"]) if "time" in t else None,
            place=_span(t["place"]) if "place" in t else None,
            confidence=float(t["confidence"]),
        )
        for t in d.get("triples", [])
    ]
    return Extraction(
        entities=[_span(e) for e in d.get("entities", [])],
        relations=[
            Relation(r["head"], r["tail"], r["label"], float(r["confidence"])) for r in d.get("relations", [])
        ],
        events=events,
        triples=triples,
        chunks=int(d.get("chunks", 1)),
        truncated=bool(d.get("truncated", False)),
        _raw=d,
    )


@dataclass(frozen=True)
class Table:
    """An on-demand table: header (column names) and rows, each exactly
    len(header) cells.  truncated: the answer hit max_tokens and was closed
    early."""

    header: List[str]
    rows: List[List[str]]
    truncated: bool = False

    def _c_table(self):
        """A lexie_table borrowing this table's strings, and what it borrows."""
        enc = lambda s: to_bytes(s, "a table cell")  # noqa: E731
        head = [enc(h) for h in self.header]
        for i, r in enumerate(self.rows):
            if len(r) != len(head):
                raise ArgumentValueError(Status.INVALID, f"row {i} has {len(r)} cells for {len(head)} columns")
        cells = [enc(c) for r in self.rows for c in r]
        t = _lib.lexie_table()
        h_arr = (c_char_p * max(1, len(head)))(*head)
        c_arr = (c_char_p * max(1, len(cells)))(*cells)
        t.header, t.n_cols = ctypes.cast(h_arr, POINTER(c_char_p)), len(head)
        t.cells, t.n_rows = ctypes.cast(c_arr, POINTER(c_char_p)), len(self.rows)
        t.truncated = int(bool(self.truncated))
        return t, (head, cells, h_arr, c_arr)

    def to_markdown(self):
        """The table as Markdown, exactly as `lexie ask --format md` prints
        it (lexie_table_markdown; '|' in a cell escaped)."""
        t, keep = self._c_table()
        err, out = new_error(), c_void_p()
        st = lib().lexie_table_markdown(byref(t), byref(out), byref(err))
        s = _lib.take_string(out.value)
        del keep
        check(st, err)
        return s.decode("utf-8")

    def to_dict(self):
        """{"header": [...], "rows": [[...], ...]}, the JSON `lexie ask
        --format json` prints."""
        return {"header": list(self.header), "rows": [list(r) for r in self.rows]}


def _table(t):
    """A filled lexie_table -> Table (strings copied)."""

    def s(p):
        return "" if p is None else p.decode("utf-8", "replace")

    header = [s(t.header[i]) for i in range(t.n_cols)]
    rows = [[s(t.cells[r * t.n_cols + c]) for c in range(t.n_cols)] for r in range(t.n_rows)]
    return Table(header, rows, bool(t.truncated))


# ==== Schemas ====


class IESchema(SchemaHandle):
    """What to extract: a lexie schema file with "entities", "relations"
    and "events" sections (docs/formats.md, "The lexie schema file").
    Immutable; threads may share one.  Make one with IESchema.load(path or
    name), IESchema.parse(JSON text or dict) or IESchema.from_types([...]).

    Attributes (read-only): name, sha256 (of the source bytes),
    entity_types, event_types (file order) and relation_labels (the
    relations section's labels, without its none label; [] when absent)."""

    _c = "lexie_ie_schema"

    def __init__(self, *_a, **_k):
        raise TypeError("use IESchema.load(path), IESchema.parse(json_or_dict) or IESchema.from_types(types)")

    @classmethod
    def _wrap(cls, ptr):
        self = cls.__new__(cls)
        self._init_handle()
        self._ptr = ptr
        L = lib()
        self.name = opt_str(L.lexie_ie_schema_name(ptr))
        self.sha256 = opt_str(L.lexie_ie_schema_sha256(ptr))
        self.entity_types = [
            opt_str(L.lexie_ie_schema_entity_type(ptr, i)) for i in range(L.lexie_ie_schema_n_entity_types(ptr))
        ]
        self.event_types = [
            opt_str(L.lexie_ie_schema_event_type(ptr, i)) for i in range(L.lexie_ie_schema_n_event_types(ptr))
        ]
        rel = L.lexie_ie_schema_relations(ptr)
        self.relation_labels = []
        if rel:
            none = L.lexie_re_schema_none(rel)
            self.relation_labels = [
                opt_str(L.lexie_re_schema_label(rel, i)) for i in range(L.lexie_re_schema_n_labels(rel)) if i != none
            ]
        return self

    @classmethod
    def load(cls, path):
        """Loads a schema file; like `lexie extract --schema`, a name with
        no '/' and no .json ending is looked up among the built-in schemas
        ($LEXIE_SCHEMAS, ./schemas, the repository's schemas/).  Errors
        (LexieError FORMAT) name the file and the JSON path."""
        return cls._make("load", to_path(_schema_path(path)))

    @classmethod
    def from_types(cls, types):
        """A schema of entity types only, as `--types A,B,C` makes: a list
        of non-empty, distinct names, or one comma-separated str (empty
        pieces skipped, as the CLI does)."""
        if isinstance(types, str):
            types = [t for t in types.split(",") if t]
        elif isinstance(types, (list, tuple)):
            for t in types:
                if not isinstance(t, str):
                    raise ArgumentTypeError(Status.INVALID, f"types must be strs, not {type(t).__name__} {t!r}")
        else:
            raise ArgumentTypeError(
                Status.INVALID, f"types must be a list of str or 'A,B,C', not {type(types).__name__}"
            )
        enc = [to_bytes(t, "a type") for t in types]
        arr = (c_char_p * max(1, len(enc)))(*enc)
        return cls._make("from_types", arr, len(enc))

    def __repr__(self):
        if self.closed:
            return "<lexie.IESchema (closed)>"
        return (
            f"<lexie.IESchema '{self.name}' {len(self.entity_types)} entity types, "
            f"{len(self.relation_labels)} relations, {len(self.event_types)} event types>"
        )


def _as_schema(schema, types):
    """(IESchema or None, owned: whether it was made here) from the
    types=/schema= arguments."""
    if types is not None and schema is not None:
        raise ArgumentValueError(Status.INVALID, "give types or schema, not both")
    if types is not None:
        return IESchema.from_types(types), True
    if schema is None or isinstance(schema, IESchema):
        return schema, False
    if isinstance(schema, dict):
        return IESchema.parse(schema), True
    if isinstance(schema, (str, bytes, os.PathLike)):
        return IESchema.load(schema), True
    raise ArgumentTypeError(
        Status.INVALID, f"schema must be an IESchema, a dict or a path, not {type(schema).__name__}"
    )


# ==== The extractor ====

_TASKS = {"ner": 0, "re": 1, "events": 2, "openie": 3}
_RE_METHODS = ("qa4re", "generate")
MAX_BATCH = 32  # cmd_extract.c's MAX_BATCH


def _json_schema_text(js):
    """json_schema= -> bytes: a dict, JSON text (str/bytes) or a file
    (os.PathLike), as `--json-schema FILE` reads."""
    if js is None:
        return None
    if isinstance(js, dict):
        return to_bytes(json.dumps(js, ensure_ascii=False), "json_schema")
    if isinstance(js, os.PathLike):
        with open(js, "rb") as f:
            return to_bytes(f.read(), "json_schema")
    if isinstance(js, (str, bytes)):
        return to_bytes(js, "json_schema")
    raise ArgumentTypeError(
        Status.INVALID, f"json_schema must be a dict, JSON text or a path, not {type(js).__name__}"
    )


def _open_model_n_ctx(model, batch):
    """cmd_extract.c's open_model: min(training context or 4096,
    4096 + 1536 * batch) cells."""
    train = model.n_ctx_train
    return min(train if train > 0 else 4096, 4096 + 1536 * batch)


class Extractor(Handle):
    """One task over one schema, compiled once: `lexie extract`.

    Extractor(model_or_context, task="ner", *, types=None, schema=None,
              re_method="qa4re", instruction=None, json_schema=None,
              max_tokens=0, chunk_tokens=0, overlap=1, no_chunk=False,
              batch=4, n_threads=None, n_ctx=None)

    model_or_context: a Model (the extractor then makes and owns a Context
    sized as the CLI sizes it: batch + 1 sequences and min(training
    context, 4096 + 1536 * batch) cells, or n_ctx, or the Model's own
    n_ctx when it was given one) or a Context to borrow (the library
    decodes up to its n_seq_max - 1 document pieces together, so give it
    n_seq_max >= batch + 1).
    task: "ner", "re", "events" or "openie".  types (a list of entity
    types, or "A,B,C") or schema (an IESchema, a dict, or a schema file
    path or built-in name): one of them, except for "openie", which needs
    neither.  re_method: "qa4re" (entities, then QA4RE over the pairs) or
    "generate" (the model writes the triples).  instruction: replaces the
    task's instruction ("{types}" becomes the type list).  json_schema:
    replaces the answer's JSON Schema (a dict, JSON text, or an
    os.PathLike file; same shape as the default).  max_tokens: answer
    budget per piece (0: 512, else 16..65536).  chunk_tokens: longest piece
    of a document (0: what fits, at most 1024).  overlap: sentences
    neighbouring pieces share (0..16).  no_chunk: refuse a document that
    does not fit whole.  batch: documents per lexie_extract call in
    extract_many, as `lexie extract --batch` reads them (1..32).

    Closing the Model or Context closes the extractor."""

    _kind = "extractor"

    def __init__(
        self,
        model_or_context,
        task="ner",
        *,
        types=None,
        schema=None,
        re_method="qa4re",
        instruction=None,
        json_schema=None,
        max_tokens=0,
        chunk_tokens=0,
        overlap=1,
        no_chunk=False,
        batch=4,
        n_threads=None,
        n_ctx=None,
    ):
        self._ptr = None
        self._owned = []
        if not isinstance(task, str):
            raise ArgumentTypeError(Status.INVALID, f"task must be a str, not {type(task).__name__}")
        if task not in _TASKS:
            raise ArgumentValueError(Status.INVALID, f"task must be ner, re, events or openie, not {task!r}")
        if re_method not in _RE_METHODS:
            raise ArgumentValueError(Status.INVALID, f"re_method must be qa4re or generate, not {re_method!r}")
        max_tokens = check_int(max_tokens, "max_tokens", 0, 65536, none=True) or 0
        if 0 < max_tokens < 16:
            raise ArgumentValueError(Status.INVALID, f"max_tokens must be 0 or in [16, 65536], not {max_tokens}")
        chunk_tokens = check_int(chunk_tokens, "chunk_tokens", 0, 1 << 20, none=True) or 0
        if 0 < chunk_tokens < 16:
            raise ArgumentValueError(
                Status.INVALID, f"chunk_tokens must be 0 or in [16, {1 << 20}], not {chunk_tokens}"
            )
        overlap = check_int(overlap, "overlap", 0, 16)
        no_chunk = check_bool(no_chunk, "no_chunk")
        batch = check_int(batch, "batch", 1, MAX_BATCH)
        n_threads = check_int(n_threads, "n_threads", 0, 256, none=True)
        n_ctx = check_int(n_ctx, "n_ctx", 0, 2**24, none=True)
        if instruction is not None and not isinstance(instruction, str):
            raise ArgumentTypeError(Status.INVALID, f"instruction must be a str, not {type(instruction).__name__}")
        if types is None and schema is None and task != "openie":
            raise ArgumentValueError(Status.INVALID, f"task {task} needs types or schema")
        if not isinstance(model_or_context, (Model, Context)):
            raise ArgumentTypeError(
                Status.INVALID, f"Extractor needs a Model or a Context, not {type(model_or_context).__name__}"
            )
        # Everything the params point to stays alive with the extractor.
        self._instruction = None if instruction is None else to_bytes(instruction, "instruction")
        self._json_schema = _json_schema_text(json_schema)
        s, owned = _as_schema(schema, types)
        if owned:
            self._owned.append(s)
        try:
            if isinstance(model_or_context, Model):
                m = model_or_context
                ctx = Context(
                    m,
                    n_ctx=n_ctx or m._n_ctx or _open_model_n_ctx(m, batch),
                    n_seq_max=batch + 1,
                    n_threads=n_threads if n_threads is not None else m.n_threads,
                )
                self._owned.append(ctx)
            else:
                ctx = model_or_context
            parents = (ctx,) if s is None else (ctx, s)
            self._init_handle(parents=parents)
            self.context, self.schema, self.task, self.re_method = ctx, s, task, re_method
            self.batch = batch
            L, err = lib(), new_error()
            p = L.lexie_extract_default_params()
            p.task = _TASKS[task]
            p.re_generate = int(re_method == "generate")
            p.instruction = self._instruction
            p.json_schema = self._json_schema
            p.max_tokens = max_tokens
            p.chunk_tokens = chunk_tokens
            p.chunk_overlap = overlap
            p.no_chunk = int(no_chunk)
            p.batch = batch
            self._params = p
            with ctx._use() as h:
                ptr = L.lexie_extractor_new(h, None if s is None else s._handle(), byref(p), byref(err))
            if not ptr:
                raise_for(err.code, err)
            self._ptr = ptr
        except BaseException:
            self._close_owned()
            raise

    def set_demos(self, demos):
        """Few-shot demonstrations: a list of (text, answer) pairs, the answer
        a dict or JSON text in the task's answer shape (lexie_extractor_set_demos:
        shown before every document; [] removes them).  A demonstration whose
        answer does not fit the task's schema raises LexieError naming it."""
        if not isinstance(demos, (list, tuple)):
            raise ArgumentTypeError(Status.INVALID, f"demos must be a list, not {type(demos).__name__}")
        texts, answers = [], []
        for i, d in enumerate(demos):
            if not isinstance(d, (list, tuple)) or len(d) != 2:
                raise ArgumentTypeError(Status.INVALID, f"demos[{i}] must be a (text, answer) pair")
            t, a = d
            texts.append(to_bytes(t, f"demos[{i}] text"))
            answers.append(to_bytes(a if isinstance(a, str) else json.dumps(a), f"demos[{i}] answer"))
        n = len(texts)
        tv, av = (c_char_p * max(n, 1))(*texts), (c_char_p * max(n, 1))(*answers)
        L, err = lib(), new_error()
        with self.context._use():
            st = L.lexie_extractor_set_demos(self._handle(), tv, av, n, byref(err))
        if st:
            raise_for(st, err)

    def _free(self, ptr):
        with self.context._lock:
            lib().lexie_extractor_free(ptr)

    def __repr__(self):
        if self.closed:
            return "<lexie.Extractor (closed)>"
        what = f" on '{self.schema.name}'" if self.schema is not None and self.schema.name else ""
        return f"<lexie.Extractor {self.task}{what}>"

    def prompt(self, text):
        """The exact prompt (chat template applied) a text is extracted
        with, as `lexie extract --dump-prompt` prints it."""
        data = to_bytes(text, "text")
        L, err, out = lib(), new_error(), c_void_p()
        with self.context._use():
            st = L.lexie_extractor_prompt(self._handle(), data, byref(out), byref(err))
        s = _lib.take_string(out.value)
        check(st, err)
        return s.decode("utf-8")

    def _run(self, datas):
        """lexie_extract over encoded texts -> a list of Extraction or
        LexieError (a document's own failure), in order.  A failure of the
        whole call raises."""
        n = len(datas)
        texts = (c_char_p * n)(*datas)
        out = (_lib.lexie_extraction * n)()  # zeroed, as lexie_extract wants
        doc_err = (_lib.lexie_error * n)()
        L, err = lib(), new_error()
        try:
            with self.context._use():
                st = L.lexie_extract(self._handle(), texts, n, out, doc_err, byref(err))
            check(st, err)
            res = []
            for i in range(n):
                if doc_err[i].code != Status.OK:
                    res.append(LexieError(doc_err[i].code, doc_err[i].message.decode("utf-8", "replace")))
                    continue
                js, e2 = c_void_p(), new_error()
                st = L.lexie_extraction_json(byref(out[i]), byref(js), byref(e2))
                raw = _lib.take_string(js.value)
                check(st, e2)
                res.append(_extraction(json.loads(raw.decode("utf-8"))))
            return res
        finally:
            for i in range(n):
                L.lexie_extraction_clear(byref(out[i]))

    def extract(self, text):
        """Extracts from one text (str, or UTF-8 bytes) -> Extraction.  A
        failure of the document (invalid UTF-8, too long with no_chunk, a
        NUL character) raises LexieError with the library's message."""
        r = self._run([to_bytes(text, "text")])[0]
        if isinstance(r, LexieError):
            raise r
        return r

    def extract_many(self, texts, *, errors="raise"):
        """Extracts from many texts, `batch` documents decoded together as
        `lexie extract` reads them, and returns one result per text, in
        order.  A document fails alone (invalid UTF-8, a NUL character, too
        long with no_chunk; a text that is not str or bytes), as a bad line
        of `lexie extract` does.  errors="raise" (default): the first failed
        document in input order raises its LexieError (same status and
        class) with "document I: " (I its index in texts) before the
        library's message, as soon as its batch is done.  errors="return":
        its place in the list holds that LexieError instead of an
        Extraction (the CLI's error line), and the rest go on."""
        if errors not in ("raise", "return"):
            raise ArgumentValueError(Status.INVALID, f"errors must be 'raise' or 'return', not {errors!r}")
        if isinstance(texts, (str, bytes)):
            raise ArgumentTypeError(Status.INVALID, "texts must be a list of texts (use extract() for one)")
        items = list(texts)
        results = [None] * len(items)
        todo = []
        for i, t in enumerate(items):
            try:
                todo.append((i, to_bytes(t, "text")))
            except LexieError as e:
                results[i] = e  # a text the C side cannot take fails alone
        checked = 0  # results[:checked] hold no error (errors="raise")

        def raise_first(upto):
            nonlocal checked
            for i in range(checked, upto):
                r = results[i]
                if isinstance(r, LexieError):
                    raise type(r)(r.status, f"document {i}: {r.message}")
            checked = max(checked, upto)

        for c0 in range(0, len(todo), self.batch):
            part = todo[c0 : c0 + self.batch]
            for (i, _), r in zip(part, self._run([d for _, d in part])):
                results[i] = r
            if errors == "raise":
                # The first failure in input order, as soon as it is known.
                raise_first(part[-1][0] + 1)
        if errors == "raise":
            raise_first(len(items))
        return results


# ==== On-demand tables ====


def ask(model_or_context, instruction, text, max_tokens=0):
    """Answers instruction over text with a Table, as `lexie ask` does
    (lexie_ask: the header, then rows of exactly that many cells, under
    grammars).  max_tokens: 0 (768) or 32..65536.  A Model uses its
    extraction context (see Model.extract)."""
    if not isinstance(instruction, str):
        raise ArgumentTypeError(Status.INVALID, f"instruction must be a str, not {type(instruction).__name__}")
    max_tokens = check_int(max_tokens, "max_tokens", 0, 65536, none=True) or 0
    if 0 < max_tokens < 32:
        raise ArgumentValueError(Status.INVALID, f"max_tokens must be 0 or in [32, 65536], not {max_tokens}")
    ins, data = to_bytes(instruction, "instruction"), to_bytes(text, "text")
    if isinstance(model_or_context, Model):
        ctx = _extract_context(model_or_context, 1)
    elif isinstance(model_or_context, Context):
        ctx = model_or_context
    else:
        raise ArgumentTypeError(
            Status.INVALID, f"ask needs a Model or a Context, not {type(model_or_context).__name__}"
        )
    t, L, err = _lib.lexie_table(), lib(), new_error()
    try:
        with ctx._use() as h:
            st = L.lexie_ask(h, ins, data, max_tokens, byref(t), byref(err))
        check(st, err)
        return _table(t)
    finally:
        L.lexie_table_clear(byref(t))


# ==== Model conveniences ====

_ctx_lock = threading.Lock()


def _extract_context(model, batch):
    """The Context that Model.extract and Model.ask use: made on first use
    and remade larger when a call needs more sequences, sized as
    cmd_extract.c's open_model (batch + 1 sequences; min(training context,
    4096 + 1536 * batch) cells), or with the Model's n_ctx when it was
    given one.  Closing the Model closes it."""
    with _ctx_lock:
        held = getattr(model, "_extract_ctx", None)
        if held is not None and not held[0].closed and held[1] >= batch:
            return held[0]
        if held is not None:
            held[0].close()
        ctx = Context(
            model,
            n_ctx=model._n_ctx or _open_model_n_ctx(model, batch),
            n_seq_max=batch + 1,
            n_threads=model.n_threads,
        )
        model._extract_ctx = (ctx, batch)
        return ctx


def model_extract(self, text, task="ner", *, types=None, schema=None, **kw):
    """Extracts from one text with a fresh Extractor on the model's
    extraction context (made on first use, sized as `lexie extract` sizes
    its context: batch + 1 sequences, min(training context, 4096 + 1536 *
    batch) cells, or the Model's n_ctx when it was given one).  task, types,
    schema and **kw (re_method, instruction, json_schema, max_tokens,
    chunk_tokens, overlap, no_chunk, batch) as for Extractor.  Returns an
    Extraction; a failure raises LexieError.  For many texts, make an
    Extractor once and call extract_many."""
    for k in ("n_ctx", "n_threads"):
        if k in kw:
            raise ArgumentTypeError(Status.INVALID, f"Model.extract takes no {k} (set it on the Model)")
    batch = check_int(kw.get("batch", 4), "batch", 1, MAX_BATCH)
    self._handle()
    x = Extractor(_extract_context(self, batch), task, types=types, schema=schema, **kw)
    try:
        return x.extract(text)
    finally:
        x.close()


