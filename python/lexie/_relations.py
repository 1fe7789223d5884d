"""Relation extraction: lexie.RelationSchema, lexie.RelationExtractor and
lexie.parse_markers.

The results have the shape `lexie relations` writes (docs/formats.md):
{"label": ..., "scores": {label: probability, ...}} with only the offered
labels in "scores", plus "invalid" and "answer" with free generation, and
"id" first in classify_many's results when the example had one.  Examples
use the CLI's input format too: {"id", "text", "head": {"start", "end",
"type", "text"}, "tail": {...}}, offsets in Unicode code points with the
end exclusive, or text with <e1>..</e1> <e2>..</e2> markers.

Offsets are code points, which is what indexing a Python str counts, so
text[start:end] is the entity.
"""

import ctypes
import json
import os
from ctypes import POINTER, byref, c_int, c_void_p

from . import _lib
from ._base import (
    Handle,
    SchemaHandle,
    LexieError,
    Status,
    check,
    check_bool,
    check_float,
    check_int,
    lib,
    new_error,
    opt_str,
    raise_for,
    to_bytes,
    to_path,
)
from ._model import Context, Model

# ==== Schemas ====


def _schema_path(arg):
    """A schema argument -> its file, resolved by the library as the CLI
    does (a path, or a built-in name under $LEXIE_SCHEMAS, ./schemas, then
    the repository's schemas/ beside this package)."""
    here = os.path.dirname(os.path.abspath(__file__))
    dirs = (ctypes.c_char_p * 1)(os.fsencode(os.path.join(here, "..", "..", "schemas")))
    err, out = new_error(), c_void_p()
    st = lib().lexie_re_schema_find(to_path(arg), dirs, 1, byref(out), byref(err))
    p = _lib.take_string(out.value)
    check(st, err)
    return os.path.normpath(os.fsdecode(p))


class RelationSchema(SchemaHandle):
    """A relation schema: labels with templates, type constraints and a
    none-of-the-above label (format: docs/formats.md).  Immutable; threads
    may share one.  Make one with RelationSchema.load() or .parse().

    Attributes (read-only): labels (every label, the relations in file order
    then the none label), relations (without the none label), none_label,
    none_index, name, sha256 (of the source bytes), warnings."""

    _c = "lexie_re_schema"

    def __init__(self, *_a, **_k):
        raise TypeError("use RelationSchema.load(path_or_name) or RelationSchema.parse(json)")

    @classmethod
    def _wrap(cls, ptr):
        self = cls.__new__(cls)
        self._init_handle()
        self._ptr = ptr
        L = lib()
        self.labels = [opt_str(L.lexie_re_schema_label(ptr, i)) for i in range(L.lexie_re_schema_n_labels(ptr))]
        self.none_index = L.lexie_re_schema_none(ptr)
        self.none_label = self.labels[self.none_index]
        self.relations = [l for i, l in enumerate(self.labels) if i != self.none_index]
        self.name = opt_str(L.lexie_re_schema_name(ptr))
        self.sha256 = opt_str(L.lexie_re_schema_sha256(ptr))
        self.warnings = [opt_str(L.lexie_re_schema_warning(ptr, i)) for i in range(L.lexie_re_schema_n_warnings(ptr))]
        return self

    @classmethod
    def load(cls, path):
        """Loads a schema file, or a built-in schema by name ("semeval",
        "tacred", "gad": a name has no '/' and no .json ending)."""
        return cls._make("load", to_path(_schema_path(path)))

    def index(self, label):
        """The index of a label name (LexieError(NOT_FOUND) if none)."""
        try:
            return self.labels.index(label)
        except ValueError:
            raise LexieError(Status.NOT_FOUND, f"label '{label}' is not in schema '{self.name}'") from None

    def __len__(self):
        return len(self.labels)

    def __repr__(self):
        return f"<lexie.RelationSchema '{self.name}' {len(self.relations)} relations + '{self.none_label}'>"


# ==== Examples ====

def parse_markers(marked):
    """Text with <e1>..</e1> and <e2>..</e2> -> (text, (head_start,
    head_end), (tail_start, tail_end)), offsets in code points of the text
    without the markers.  Each marker must appear exactly once, and the two
    entities must be non-empty and not overlap (LexieError(FORMAT)).  The
    library's parser (lexie_re_parse_markers), as the CLI uses."""
    if not isinstance(marked, str):
        raise LexieError(Status.INVALID, f"text must be str, not {type(marked).__name__}")
    spans, out, err = (c_int * 4)(), c_void_p(), new_error()
    st = lib().lexie_re_parse_markers(to_bytes(marked, "text"), byref(out), spans, byref(err))
    text = _lib.take_string(out.value)
    check(st, err)
    return text.decode("utf-8"), (spans[0], spans[1]), (spans[2], spans[3])


def _span(ent, which, text, bad):
    """head/tail in any accepted form -> (start, end, type or None); a
    fault raises LexieError(bad)."""
    etype = None
    if isinstance(ent, dict):
        if "start" not in ent or "end" not in ent:
            raise LexieError(bad, f"{which} needs 'start' and 'end'")
        start, end, etype, etext = ent["start"], ent["end"], ent.get("type"), ent.get("text")
    else:
        try:
            vals = tuple(ent)
        except TypeError:
            raise LexieError(bad, f"{which} must be (start, end), (start, end, type) or a dict") from None
        if len(vals) not in (2, 3):
            raise LexieError(bad, f"{which} must be (start, end), (start, end, type) or a dict")
        start, end = vals[0], vals[1]
        etype = vals[2] if len(vals) == 3 else None
        etext = None
    if isinstance(start, bool) or isinstance(end, bool) or not isinstance(start, int) or not isinstance(end, int):
        raise LexieError(bad, f"{which} start and end must be integers")
    if start < 0 or end <= start or end > len(text):
        raise LexieError(
            bad, f"{which} span [{start}, {end}) is empty or past the text's {len(text)} code points"
        )
    if etype is not None and (not isinstance(etype, str) or not etype):
        raise LexieError(bad, f"{which} type must be a non-empty string")
    if etext is not None and text[start:end] != etext:
        raise LexieError(
            bad, f'{which} text "{etext[:40]}" differs from the text at [{start}, {end}): "{text[start:end]}"'
        )
    return start, end, etype


def _prepare(text, head=None, tail=None, head_type=None, tail_type=None, bad=Status.INVALID):
    """Checks one example and returns (text bytes, h0, h1, t0, t1, htype
    bytes, ttype bytes) ready for a lexie_re_example.  Faults raise
    LexieError(bad): INVALID for arguments, FORMAT for input records (as
    `lexie relations` reports a bad line)."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as e:
            raise LexieError(Status.UTF8, f"invalid UTF-8 at byte {e.start}") from None
    if not isinstance(text, str):
        raise LexieError(Status.INVALID, f"text must be str, not {type(text).__name__}")
    if head is None and tail is None:
        text, h, t = parse_markers(text)
        h, t = (h[0], h[1], None), (t[0], t[1], None)
    elif head is None or tail is None:
        raise LexieError(bad, "give both head and tail, or neither (then the text needs markers)")
    else:
        h, t = _span(head, "head", text, bad), _span(tail, "tail", text, bad)
    ht = head_type if head_type is not None else h[2]
    tt = tail_type if tail_type is not None else t[2]
    for v, which in ((ht, "head_type"), (tt, "tail_type")):
        if v is not None and (not isinstance(v, str) or not v):
            raise LexieError(bad, f"{which} must be a non-empty string")
    return (
        to_bytes(text, "text"),
        h[0],
        h[1],
        t[0],
        t[1],
        None if ht is None else to_bytes(ht, "head type"),
        None if tt is None else to_bytes(tt, "tail type"),
    )


def _parse_item(item):
    """An example in the `lexie relations` input format (a dict), parsed
    and checked by the library's line parser (lexie_re_line_parse), so a
    bad example fails as the CLI's line would.  "id" and "label" are the
    caller's business and not passed on."""
    if not isinstance(item, dict):
        raise LexieError(Status.FORMAT, f"an example must be a dict, not {type(item).__name__}")
    rec = {k: v for k, v in item.items() if k not in ("id", "label")}
    if isinstance(rec.get("text"), (bytes, bytearray)):
        try:
            rec["text"] = bytes(rec["text"]).decode("utf-8")
        except UnicodeDecodeError as e:
            raise LexieError(Status.UTF8, f"invalid UTF-8 at byte {e.start}") from None
    try:
        line = json.dumps(rec, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError) as e:
        raise LexieError(Status.FORMAT, f"the example is not JSON: {e}") from None
    ln, err = _lib.lexie_re_line(), new_error()
    L = lib()
    try:
        check(L.lexie_re_line_parse(line, len(line), 0, byref(ln), byref(err)), err)
        ex = ln.ex
        return (
            ctypes.string_at(ex.text),
            ex.head_start,
            ex.head_end,
            ex.tail_start,
            ex.tail_end,
            ex.head_type,
            ex.tail_type,
        )
    finally:
        L.lexie_re_line_clear(byref(ln))


def _fill(ex, prep):
    ex.text, ex.head_start, ex.head_end, ex.tail_start, ex.tail_end, ex.head_type, ex.tail_type = prep


_CODE_NAMES = {
    Status.FORMAT: "format",
    Status.UTF8: "utf8",
    Status.INVALID: "invalid",
    Status.RANGE: "range",
    Status.NOMEM: "nomem",
}


def _error_dict(id_, i, e):
    msg = f"example {i}: {e.message}"
    return {"id": id_, "error": {"code": _CODE_NAMES.get(e.status, "error"), "message": msg}}


# ==== The extractor ====

_METHODS = {"qa4re": 0, "vanilla": 1, "compact": 2}


class RelationExtractor(Handle):
    """Classifies the relation between two entities of a sentence against
    a schema, with QA4RE (lettered options, next-token distribution) or
    vanilla prompting (the label scored as the answer).

    RelationExtractor(model_or_context, schema, *, method="qa4re",
                      n_permute=1, none_threshold=0.0, mark=True, batch=8,
                      free_gen=False, max_gen_tokens=0, n_threads=None,
                      n_ctx=None)

    model_or_context: a Model (the extractor then makes and owns its own
    Context, of min(8192, training) cells and batch + 1 sequences, as the
    CLI does) or a Context to borrow.  schema: a RelationSchema, a path or
    built-in name, or a dict.  n_permute: average QA4RE over this many
    cyclic option orders.  none_threshold > 0: predict the none label iff
    its probability reaches it.  mark: [bracket] the entities in the
    prompt.  free_gen: generate the answer and parse it instead of scoring
    (results then carry "invalid" and "answer")."""

    _kind = "relation extractor"

    def __init__(
        self,
        model_or_context,
        schema,
        *,
        method="qa4re",
        n_permute=1,
        none_threshold=0.0,
        mark=True,
        batch=8,
        free_gen=False,
        max_gen_tokens=0,
        n_threads=None,
        n_ctx=None,
    ):
        self._ptr = None
        self._owned = []
        if method not in _METHODS:
            raise LexieError(Status.INVALID, f"method must be 'qa4re', 'vanilla' or 'compact', not {method!r}")
        batch = check_int(batch, "batch", 1, 63)
        n_permute = check_int(n_permute, "n_permute", 1, 64)
        none_threshold = check_float(none_threshold, "none_threshold", 0.0, 1.0)
        free_gen, mark = check_bool(free_gen, "free_gen"), check_bool(mark, "mark")
        max_gen_tokens = check_int(max_gen_tokens, "max_gen_tokens", 0, 2**31 - 1, none=True) or 0
        n_threads = check_int(n_threads, "n_threads", 0, 256, none=True)
        n_ctx = check_int(n_ctx, "n_ctx", 0, 2**24, none=True)
        if not isinstance(schema, RelationSchema):
            schema = RelationSchema.parse(schema) if isinstance(schema, dict) else RelationSchema.load(schema)
            self._owned.append(schema)
        if isinstance(model_or_context, Model):
            m = model_or_context
            ctx = Context(
                m,
                n_ctx=n_ctx or min(8192, m.n_ctx_train),
                n_seq_max=batch + 1,
                n_threads=n_threads if n_threads is not None else m.n_threads,
            )
            self._owned.append(ctx)
        elif isinstance(model_or_context, Context):
            ctx = model_or_context
        else:
            raise LexieError(
                Status.INVALID, f"RelationExtractor needs a Model or a Context, not {type(model_or_context).__name__}"
            )
        self._init_handle(parents=(ctx, schema))
        self.context, self.schema, self.method, self.free_gen = ctx, schema, method, bool(free_gen)
        self.none_threshold = float(none_threshold)
        L, err = lib(), new_error()
        p = L.lexie_re_default_params()
        p.method = _METHODS[method]
        p.free_gen = int(bool(free_gen))
        p.max_gen_tokens = int(max_gen_tokens or 0)
        p.n_permute = n_permute
        p.none_threshold = float(none_threshold)
        p.mark = int(bool(mark))
        p.batch = batch
        with ctx._use() as h:
            ptr = L.lexie_re_new(h, schema._handle(), byref(p), byref(err))
        if not ptr:
            self._close_owned()
            raise_for(err.code, err)
        self._ptr = ptr

    def _free(self, ptr):
        with self.context._lock:
            lib().lexie_re_free(ptr)

    def __repr__(self):
        state = "closed" if self.closed else f"{self.method} on '{self.schema.name}'"
        return f"<lexie.RelationExtractor {state}>"

    # ---- one example ----

    def prompt(self, text, head=None, tail=None, *, head_type=None, tail_type=None):
        """The exact prompt (chat template applied) that the example is
        classified with."""
        prep = _prepare(text, head, tail, head_type, tail_type)
        ex = _lib.lexie_re_example()
        _fill(ex, prep)
        L, err, out = lib(), new_error(), c_void_p()
        with self.context._use():
            st = L.lexie_re_prompt(self._handle(), byref(ex), byref(out), byref(err))
        s = _lib.take_string(out.value)
        check(st, err)
        return s.decode("utf-8")

    def classify(self, text, head=None, tail=None, *, head_type=None, tail_type=None):
        """Classifies one example and returns {"label": ..., "scores":
        {label: probability}} (offered labels only; they sum to 1).

        head and tail: (start, end) or (start, end, type) tuples or dicts
        {"start", "end", "type", "text"}, in code points, end exclusive; or
        both None when text carries <e1>..</e1> <e2>..</e2> markers."""
        return self._classify([_prepare(text, head, tail, head_type, tail_type)])[0]

    # ---- many examples ----

    def classify_many(self, examples, *, errors="raise", chunk=64, calibrate=False):
        """Classifies examples given in the `lexie relations` input format
        (dicts with "text", "head", "tail", optional "id") and returns one
        result dict per example, in order, with "id" first (None when
        absent).  errors="raise": the first bad example raises LexieError
        naming its index; errors="return": a bad example gives {"id": ...,
        "error": {"code", "message"}} as the CLI writes, and the rest go on.
        calibrate=True: each label is decided by batch calibration over
        these examples, as `lexie relations --calibrate` does (the scores
        stay the model's).
        """
        calibrate = check_bool(calibrate, "calibrate")
        chunk = check_int(chunk, "chunk", 1)
        if calibrate and (self.free_gen or self.none_threshold > 0):
            raise LexieError(Status.INVALID, "calibrate goes with neither free_gen nor none_threshold")
        if errors not in ("raise", "return"):
            raise LexieError(Status.INVALID, "errors must be 'raise' or 'return'")
        items = list(examples)
        results = [None] * len(items)
        ok = []
        for i, item in enumerate(items):
            id_ = item.get("id") if isinstance(item, dict) else None
            try:
                ok.append((i, id_, _parse_item(item)))
            except LexieError as e:
                if errors == "raise":
                    raise LexieError(e.status, f"example {i}: {e.message}") from None
                results[i] = _error_dict(id_, i, e)
        for c0 in range(0, len(ok), chunk):
            part = ok[c0 : c0 + chunk]
            try:
                outs = self._classify([p for _, _, p in part])
            except LexieError:
                # Retry one by one so only the guilty example reports it.
                outs = []
                for i, id_, p in part:
                    try:
                        outs.append(self._classify([p])[0])
                    except LexieError as e:
                        if errors == "raise":
                            raise LexieError(e.status, f"example {i}: {e.message}") from None
                        outs.append(_error_dict(id_, i, e))
            for (i, id_, _), r in zip(part, outs):
                results[i] = r if "error" in r else {"id": id_, **r}
        if calibrate:
            # Batch calibration by the library's rule (lexie_re_prior,
            # lexie_re_decide_calibrated): each label becomes the argmax of
            # score / (mean score over the results); the scores stay.
            ok = [r for r in results if "error" not in r]
            labels, L = self.schema.labels, lib()
            n, nl = len(ok), len(labels)
            rows = [(ctypes.c_float * nl)(*(r["scores"].get(k, 0.0) for k in labels)) for r in ok]
            ptrs = (POINTER(ctypes.c_float) * max(1, n))(*(ctypes.cast(x, POINTER(ctypes.c_float)) for x in rows))
            prior = (ctypes.c_double * nl)()
            L.lexie_re_prior(ptrs, n, nl, prior)
            for r, row in zip(ok, rows):
                r["label"] = labels[L.lexie_re_decide_calibrated(row, prior, nl)]
        return results

    def set_demos(self, demos):
        """Few-shot demonstrations shown before every example as earlier
        chat turns: dicts in the input format with a "label" (a label name
        or index).  An empty list removes them."""
        items = list(demos)
        n = len(items)
        exs = (_lib.lexie_re_example * max(1, n))()
        labels = (c_int * max(1, n))()
        for i, item in enumerate(items):
            try:
                prep = _parse_item(item)
                lab = item.get("label")
                labels[i] = lab if isinstance(lab, int) and not isinstance(lab, bool) else self.schema.index(lab)
            except LexieError as e:
                raise LexieError(e.status, f"demo {i}: {e.message}") from None
            _fill(exs[i], prep)
        err = new_error()
        with self.context._use():
            st = lib().lexie_re_set_demos(self._handle(), exs, labels, n, byref(err))
        check(st, err)

    def _classify(self, preps):
        """lexie_re_classify over prepared examples -> result dicts."""
        n = len(preps)
        exs = (_lib.lexie_re_example * n)()
        for k, p in enumerate(preps):
            _fill(exs[k], p)
        res = (_lib.lexie_re_result * n)()  # zeroed, as lexie_re_classify wants
        L, err = lib(), new_error()
        labels = self.schema.labels
        try:
            with self.context._use():
                st = L.lexie_re_classify(self._handle(), exs, n, res, byref(err))
            check(st, err)
            out = []
            for k in range(n):
                r = res[k]
                if not r.probs or not 0 <= r.label < len(labels):
                    raise LexieError(Status.INTERNAL, f"classify gave label {r.label} without probabilities")
                scores = {}
                for li, name in enumerate(labels):
                    pr = float(r.probs[li])
                    if pr > 0.0:
                        scores[name] = pr
                d = {"label": labels[r.label], "scores": scores}
                if self.free_gen:
                    d["invalid"] = bool(r.invalid)
                    d["answer"] = ctypes.string_at(r.answer).decode("utf-8", "replace") if r.answer else ""
                out.append(d)
            return out
        finally:
            for k in range(n):
                L.lexie_re_result_clear(byref(res[k]))


# ==== Evaluation ====

_EVENT_KINDS = {0: "warning", 1: "start", 2: "progress", 3: "example_error"}


def evaluate_relations(
    data,
    *,
    model=None,
    split="test",
    schema=None,
    data_dir=None,
    out_dir="results",
    method="qa4re",
    shots=0,
    seed=1,
    limit=0,
    sample=0,
    n_permute=1,
    free_gen=False,
    threshold=0.0,
    calibrate=False,
    prior=None,
    batch=8,
    n_threads=0,
    chat_template=None,
    on_event=None,
    export_sft=None,
):
    """Runs (or resumes) `lexie eval re` through the library's runner
    (lexie_re_eval_run): the same selection, prediction file (named by the
    configuration hash, so a stopped run resumes) and reports as the CLI.

    data: "semeval", "gad" or "tacred", read from data_dir (None:
    $LEXIE_DATA, else ../shared/data).  model: a catalog name, a GGUF path
    or None (the default model).  schema: a file or built-in name (None: the
    one named like data).  on_event(dict) (optional) gets {"kind":
    "warning"|"start"|"progress"|"example_error", ...} as the run goes.
    export_sft: a path; the selection is written there as chat JSONL for
    `lexie train sft` (each prompt with its gold answer) and nothing is
    classified (only "n_examples" is then meaningful).

    Returns {"predictions", "report_json", "report_txt" (paths), "table"
    (the readable report), "n_examples", "n_resumed", "n_computed",
    "n_errors", "report_written", "errors": [(id, message), ...]}."""
    from ._model import resolve_model

    if method not in _METHODS:
        raise LexieError(Status.INVALID, f"method must be 'qa4re', 'vanilla' or 'compact', not {method!r}")
    L, err = lib(), new_error()
    p = L.lexie_re_eval_default_params()
    keep = []  # bytes the params point into, alive for the call

    def s(v):
        if v is None:
            return None
        b = to_path(v) if not isinstance(v, str) else to_bytes(v)
        keep.append(b)
        return b

    p.data, p.split, p.data_dir = s(data), s(split), s(data_dir)
    p.schema_path = s(_schema_path(schema if schema is not None else data))
    p.model = s(resolve_model(model))
    p.chat_template, p.out_dir, p.prior_path = s(chat_template), s(out_dir), s(prior)
    p.command = s("lexie.evaluate_relations")
    p.sft_out = s(export_sft)
    p.method, p.shots = _METHODS[method], check_int(shots, "shots", 0, 64)
    p.seed = check_int(seed, "seed", 0, 2**64 - 1)
    p.limit, p.sample = check_int(limit, "limit", 0, 2**31 - 1), check_int(sample, "sample", 0, 2**31 - 1)
    p.n_permute, p.free_gen = check_int(n_permute, "n_permute", 1, 64), int(check_bool(free_gen, "free_gen"))
    p.threshold, p.calibrate = check_float(threshold, "threshold", 0.0, 1.0), int(check_bool(calibrate, "calibrate"))
    p.batch = check_int(batch, "batch", 1, 63)
    p.n_threads = check_int(n_threads, "n_threads", 0, 256, none=True) or 0
    if on_event is not None and not callable(on_event):
        raise LexieError(Status.INVALID, "on_event must be callable or None")
    errors = []

    def event(ev_p, _user):
        ev = ev_p.contents
        d = {
            "kind": _EVENT_KINDS.get(ev.kind, "unknown"),
            "n_examples": ev.n_examples,
            "n_resumed": ev.n_resumed,
            "done": ev.done,
            "total": ev.total,
        }
        for k in ("id", "message", "path"):
            v = getattr(ev, k)
            d[k] = v.decode("utf-8", "replace") if v is not None else None
        if ev.kind == 3:
            errors.append((d["id"], d["message"]))
        if on_event is not None:
            try:
                on_event(d)
            except Exception:  # noqa: BLE001 - never unwind through C
                pass

    cb = _lib.re_eval_event_cb(event)
    p.on_event = cb
    res = _lib.lexie_re_eval_result()
    try:
        st = L.lexie_re_eval_run(byref(p), byref(res), byref(err))
        check(st, err)

        def txt(v):
            return v.decode("utf-8", "replace") if v is not None else None

        return {
            "predictions": txt(res.predictions),
            "report_json": txt(res.report_json),
            "report_txt": txt(res.report_txt),
            "table": txt(res.table),
            "n_examples": res.n_examples,
            "n_resumed": res.n_resumed,
            "n_computed": res.n_computed,
            "n_errors": res.n_errors,
            "report_written": bool(res.report_written),
            "errors": errors,
        }
    finally:
        L.lexie_re_eval_result_clear(byref(res))
