"""What every part of the lexie package shares: the status codes, the one
exception (LexieError), the error-struct check, text encoding, and the base
class of the objects that own a C handle.

Ownership is the delicate part of a ctypes binding.  The C library requires
that a model outlive its contexts, a context and a schema outlive their
relation extractors.  Each Python object therefore keeps a strong reference
to its parents (so they are never collected first) and a weak set of its
children; close() closes the children before freeing its own handle, and
frees it exactly once.  Using an object after close() raises LexieError
instead of passing a dangling pointer to C.
"""

import ctypes
import enum
import json
import math
import numbers
import os
import threading
import weakref

from . import _lib


class Status(enum.IntEnum):
    """lexie_status codes (lexie.h).  Values never change."""

    OK = 0
    IO = 1  # a file could not be opened, read or written
    FORMAT = 2  # malformed input: GGUF, JSON, schema, ...
    UNSUPPORTED = 3  # valid but not supported: arch, tensor type
    NOMEM = 4  # an allocation failed or would be absurd
    INVALID = 5  # a bad argument from the caller
    UTF8 = 6  # text is not valid UTF-8
    RANGE = 7  # a buffer, context or limit is too small
    NETWORK = 8  # a download failed
    INTERNAL = 9  # a bug in lexie: please report it
    NOT_FOUND = 10  # a named model, key or tensor does not exist


class LexieError(Exception):
    """An error reported by liblexie (or by the binding's own checks).

    Attributes:
        status: a Status (an int for a code this binding does not know).
        message: the library's message, e.g. "bad.json: line 1, column 30:
            expected a string key, found '}'".
    """

    def __init__(self, status, message):
        try:
            status = Status(int(status))
        except ValueError:
            status = int(status)
        super().__init__(status, message)
        self.status = status
        self.message = message

    def __str__(self):
        name = self.status.name.lower() if isinstance(self.status, Status) else str(self.status)
        return f"{self.message} [{name}]"


class ArgumentTypeError(LexieError, TypeError):
    """A parameter of the wrong type (a str where an int belongs): status
    INVALID; catch it as LexieError or as TypeError.  Parameters are never
    coerced, so n_threads="4" is this error, not 4."""


class ArgumentValueError(LexieError, ValueError):
    """A parameter of the right type out of its range (n_ctx=-5, a NaN):
    status INVALID; catch it as LexieError or as ValueError."""


def check_int(v, what, lo=None, hi=None, none=False):
    """v as an int, or ArgumentTypeError (a bool, float or str is not an
    int) or ArgumentValueError (outside [lo, hi]).  none: None passes."""
    if v is None and none:
        return None
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise ArgumentTypeError(Status.INVALID, f"{what} must be an int, not {type(v).__name__} {v!r}")
    v = int(v)
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ArgumentValueError(Status.INVALID, f"{what} must be {rng}, not {v}")
    return v


def check_float(v, what, lo, hi, lo_open=False):
    """v as a finite float in [lo, hi] ((lo, hi] with lo_open), or
    ArgumentTypeError (not a real number) or ArgumentValueError (NaN,
    infinite or out of range)."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise ArgumentTypeError(Status.INVALID, f"{what} must be a number, not {type(v).__name__} {v!r}")
    f = float(v)
    if not math.isfinite(f) or f < lo or f > hi or (lo_open and f == lo):
        rng = f"({lo}, {hi}]" if lo_open else f"[{lo}, {hi}]"
        if hi == math.inf:
            rng = f"finite and {'>' if lo_open else '>='} {lo}"
        raise ArgumentValueError(Status.INVALID, f"{what} must be {'' if hi == math.inf else 'in '}{rng}, not {v!r}")
    return f


def check_bool(v, what, none=False):
    """v as a bool: True, False, 1 or 0 (none: None passes); anything else
    is ArgumentTypeError (a str such as "false" would be true)."""
    if v is None and none:
        return None
    if isinstance(v, bool) or (isinstance(v, numbers.Integral) and int(v) in (0, 1)):
        return bool(v)
    raise ArgumentTypeError(Status.INVALID, f"{what} must be True or False, not {type(v).__name__} {v!r}")


def check_callable(v, what):
    """v when it is None or callable, else ArgumentTypeError."""
    if v is not None and not callable(v):
        raise ArgumentTypeError(Status.INVALID, f"{what} must be callable or None, not {type(v).__name__}")
    return v


def lib():
    """The declared library, or LexieError(NOT_FOUND) saying how to get it."""
    try:
        return _lib.lib()
    except _lib.LibraryNotFound as e:
        raise LexieError(Status.NOT_FOUND, str(e)) from None


def new_error():
    """A zeroed lexie_error for one call (caller-owned, as lexie.h wants)."""
    return _lib.lexie_error()


def raise_for(status, err, what=None):
    """Raises LexieError from a failed call's status and filled error struct."""
    msg = err.message.decode("utf-8", "replace") if err is not None else ""
    if not msg:
        msg = lib().lexie_status_string(int(status)).decode("utf-8", "replace")
    if what:
        msg = f"{what}: {msg}"
    raise LexieError(status, msg)


def check(status, err, what=None):
    """Returns normally for LEXIE_OK, raises LexieError otherwise."""
    if status != Status.OK:
        raise_for(status, err, what)


def to_bytes(text, what="text", allow_nul=False):
    """str (encoded as UTF-8) or bytes -> bytes.  A NUL byte is refused
    unless allow_nul: the C side would silently stop at it.  A str that
    cannot be UTF-8 (a lone surrogate) raises LexieError(UTF8)."""
    if isinstance(text, str):
        try:
            b = text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise LexieError(Status.UTF8, f"{what}: not encodable as UTF-8 ({e.reason} at {e.start})")
    elif isinstance(text, (bytes, bytearray, memoryview)):
        b = bytes(text)
    else:
        raise ArgumentTypeError(Status.INVALID, f"{what} must be str or bytes, not {type(text).__name__}")
    if not allow_nul and b"\0" in b:
        raise LexieError(Status.INVALID, f"{what} contains a NUL character")
    return b


def to_path(path):
    """str/bytes/PathLike -> bytes for a C path argument."""
    try:
        p = os.fsencode(path)
    except TypeError:
        raise ArgumentTypeError(
            Status.INVALID, f"a path must be str, bytes or os.PathLike, not {type(path).__name__}"
        )
    if b"\0" in p:
        raise LexieError(Status.INVALID, "a path contains a NUL character")
    return p


def opt_str(p):
    """A borrowed const char * result (bytes or None) -> str or None."""
    return None if p is None else p.decode("utf-8", "replace")


def token_array(tokens, what="tokens"):
    """A sequence of ints -> (ctypes int32 array, count)."""
    try:
        vals = list(tokens)
    except TypeError:
        raise ArgumentTypeError(Status.INVALID, f"{what} must be a sequence of token ids")
    if any(isinstance(t, bool) or not isinstance(t, numbers.Integral) for t in vals):
        raise ArgumentTypeError(Status.INVALID, f"{what} must be a sequence of token ids (ints)")
    vals = [int(t) for t in vals]
    for t in vals:
        if not -(2**31) <= t < 2**31:
            raise LexieError(Status.INVALID, f"{what}: token id {t} out of range")
    arr = (_lib.lexie_token * max(1, len(vals)))(*vals)
    return arr, len(vals)


# ==== Handles ====


class Handle:
    """Base of the objects that own one C handle.

    Subclasses set self._ptr (a nonzero int) and implement _free(ptr).  A
    child registers with its parents through _adopt(); closing a parent
    closes the children first.  Objects made for this one alone (an
    extractor's own context and schema) go in self._owned and are closed
    after it, newest first.  Thread-safe: close() may race with itself.
    """

    _kind = "object"

    def _init_handle(self, parents=()):
        self._ptr = None
        self._parents = tuple(parents)  # strong: keep them alive
        self._children = weakref.WeakSet()
        self._close_lock = threading.RLock()  # re-entered: an extractor closes the context it owns
        for p in self._parents:
            p._children.add(self)

    @property
    def closed(self):
        """True once close() has run (or construction failed)."""
        return not getattr(self, "_ptr", None)

    def _handle(self):
        ptr = getattr(self, "_ptr", None)
        if not ptr:
            raise LexieError(Status.INVALID, f"the {self._kind} is closed")
        return ptr

    def close(self):
        """Frees the C object (and first every object that borrows it).
        Idempotent: later calls do nothing."""
        lock = getattr(self, "_close_lock", None)
        if lock is None:
            return
        with lock:
            if getattr(self, "_closing", False):
                return  # re-entered from a child's close(): the outer call finishes
            self._closing = True
            try:
                for child in list(self._children):
                    child.close()
            finally:
                ptr, self._ptr = self._ptr, None
                if ptr:
                    self._free(ptr)
                self._close_owned()

    def _close_owned(self):
        owned, self._owned = getattr(self, "_owned", []), []
        for o in reversed(owned):
            o.close()

    def _free(self, ptr):  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def __enter__(self):
        self._handle()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        # At interpreter shutdown module globals may already be gone; the
        # process is ending anyway, so a failed free is not worth a traceback.
        try:
            self.close()
        except Exception:
            pass


class SchemaHandle(Handle):
    """Base of the schema objects: immutable, made by load(path) or
    parse(source); _c names the C object ("lexie_re_schema" has
    lexie_re_schema_load, _parse and _free) and _wrap(ptr) reads its
    attributes."""

    _kind = "schema"
    _c = ""

    @classmethod
    def _make(cls, fn, *args):
        err = new_error()
        ptr = getattr(lib(), f"{cls._c}_{fn}")(*args, ctypes.byref(err))
        if not ptr:
            raise_for(err.code, err)
        return cls._wrap(ptr)

    @classmethod
    def parse(cls, source):
        """A schema from JSON text (str or bytes) or a dict."""
        if isinstance(source, dict):
            source = json.dumps(source, ensure_ascii=False)
        data = to_bytes(source, "schema JSON")
        return cls._make("parse", data, len(data))

    def _free(self, ptr):
        getattr(lib(), f"{self._c}_free")(ptr)


def c_float_list(ptr, n):
    """The first n floats behind a POINTER(c_float) as Python floats."""
    return [float(ptr[i]) for i in range(n)]


def string_at(p, n):
    """n bytes at a c_void_p address."""
    return ctypes.string_at(p, n)
