"""ctypes declarations of liblexie's public C API (include/lexie.h).

This module only finds the shared library, declares every function's
argument and return types, and mirrors the structs of lexie.h field for
field.  Nothing here is pythonic on purpose: the classes in the other
modules of the package build the friendly API on top, and they are the only
users of these names.

Rules kept throughout, because ctypes does not enforce them:
  - Strings the library allocates ("free with lexie_free") are declared as
    c_void_p, never c_char_p: ctypes would copy a c_char_p result and lose
    the pointer, leaking it.  _take_string() copies and frees them.
  - Borrowed strings (model arch, schema labels) are c_char_p: copied into
    Python bytes at once, never freed.
  - Every struct layout follows lexie.h; a change there must change here.

The library is looked up, on first use, at $LEXIE_LIB, then the repository's
build/liblexie.so (this file lives at python/lexie/_lib.py), then wherever
ctypes.util.find_library("lexie") points.
"""

import ctypes
import ctypes.util
import os
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_double,
    c_float,
    c_int,
    c_int8,
    c_int32,
    c_long,
    c_size_t,
    c_uint64,
    c_void_p,
)

# ==== Structs (field for field as in lexie.h) ====

lexie_token = c_int32


class lexie_error(Structure):
    _fields_ = [("code", c_int), ("message", c_char * 512)]


class lexie_model_params(Structure):
    _fields_ = [("chat_template", c_char_p), ("keep_layout", c_int)]


class lexie_chat_msg(Structure):
    _fields_ = [("role", c_char_p), ("content", c_char_p)]


class lexie_span(Structure):
    _fields_ = [("start", c_size_t), ("end", c_size_t)]


class lexie_ctx_params(Structure):
    _fields_ = [
        ("n_ctx", c_int),
        ("n_batch", c_int),
        ("n_seq_max", c_int),
        ("n_threads", c_int),
    ]


class lexie_batch(Structure):
    _fields_ = [
        ("n_tokens", c_int),
        ("token", POINTER(lexie_token)),
        ("pos", POINTER(c_int32)),
        ("seq_id", POINTER(c_int32)),
        ("logits", POINTER(c_int8)),
    ]


class lexie_sampler_params(Structure):
    _fields_ = [
        ("temperature", c_float),
        ("top_k", c_int),
        ("top_p", c_float),
        ("seed", c_uint64),
    ]


class lexie_gen_timing(Structure):
    _fields_ = [
        ("mask_s", c_double),
        ("step_s", c_double),
        ("n_steps", c_int),
    ]


class lexie_gen_params(Structure):
    _fields_ = [
        ("max_tokens", c_int),
        ("sampler", lexie_sampler_params),
        ("stop", POINTER(c_char_p)),
        ("grammar", c_void_p),  # const lexie_grammar *
        ("grammar_vocab", c_void_p),  # const lexie_grammar_vocab *
        ("timing", POINTER(lexie_gen_timing)),
    ]


# int (*)(const char *piece, size_t len, void *user); piece is not
# NUL-terminated, hence c_void_p and ctypes.string_at(piece, len).
lexie_gen_callback = CFUNCTYPE(c_int, c_void_p, c_size_t, c_void_p)


class lexie_model_part(Structure):
    _fields_ = [("package", c_char_p), ("version", c_char_p), ("member", c_char_p)]


class lexie_model_info(Structure):
    _fields_ = [
        ("name", c_char_p),
        ("description", c_char_p),
        ("arch", c_char_p),
        ("license", c_char_p),
        ("sha256", c_char_p),
        ("size", c_uint64),
        ("n_parts", c_int),
        ("parts", POINTER(lexie_model_part)),
    ]


class lexie_pull_event(Structure):
    _fields_ = [
        ("stage", c_int),
        ("part", c_int),
        ("n_parts", c_int),
        ("done", c_uint64),
        ("total", c_uint64),
        ("what", c_char_p),
    ]


pull_progress_cb = CFUNCTYPE(None, POINTER(lexie_pull_event), c_void_p)
pull_output_cb = CFUNCTYPE(None, c_void_p, c_size_t, c_void_p)


class lexie_pull_params(Structure):
    _fields_ = [
        ("python", c_char_p),
        ("verify", c_int),
        ("offline", c_int),
        ("pip_to_stderr", c_int),
        ("progress", pull_progress_cb),
        ("on_output", pull_output_cb),
        ("user", c_void_p),
    ]


class lexie_re_params(Structure):
    _fields_ = [
        ("method", c_int),
        ("free_gen", c_int),
        ("max_gen_tokens", c_int),
        ("n_permute", c_int),
        ("none_threshold", c_float),
        ("mark", c_int),
        ("batch", c_int),
    ]


class lexie_re_example(Structure):
    _fields_ = [
        ("text", c_char_p),
        ("head_start", c_int),
        ("head_end", c_int),
        ("tail_start", c_int),
        ("tail_end", c_int),
        ("head_type", c_char_p),
        ("tail_type", c_char_p),
    ]


class lexie_re_line(Structure):
    _fields_ = [
        ("ex", lexie_re_example),
        ("id", c_void_p),  # owned by the line: lexie_re_line_clear frees it
        ("label", c_void_p),
    ]


class lexie_re_result(Structure):
    _fields_ = [
        ("label", c_int),
        ("invalid", c_int),
        ("probs", POINTER(c_float)),
        ("answer", c_void_p),  # owned by the result: lexie_re_result_clear frees it
    ]


class lexie_re_eval_event(Structure):
    _fields_ = [
        ("kind", c_int),
        ("n_examples", c_int),
        ("n_resumed", c_int),
        ("done", c_int),
        ("total", c_int),
        ("id", c_char_p),
        ("message", c_char_p),
        ("path", c_char_p),
    ]


re_eval_event_cb = CFUNCTYPE(None, POINTER(lexie_re_eval_event), c_void_p)
re_eval_resolve_cb = CFUNCTYPE(c_void_p, c_char_p, c_void_p, c_void_p)


class lexie_re_eval_params(Structure):
    _fields_ = [
        ("data", c_char_p),
        ("split", c_char_p),
        ("data_dir", c_char_p),
        ("schema_path", c_char_p),
        ("model", c_char_p),
        ("chat_template", c_char_p),
        ("out_dir", c_char_p),
        ("prior_path", c_char_p),
        ("command", c_char_p),
        ("method", c_int),
        ("shots", c_int),
        ("seed", ctypes.c_uint64),
        ("limit", c_int),
        ("sample", c_int),
        ("n_permute", c_int),
        ("free_gen", c_int),
        ("threshold", c_double),
        ("calibrate", c_int),
        ("batch", c_int),
        ("n_threads", c_int),
        ("dump_prompt", c_int),
        ("resolve_model", re_eval_resolve_cb),
        ("on_event", re_eval_event_cb),
        ("user", c_void_p),
        ("lora", c_char_p),
        ("lora_scale", ctypes.c_float),
        ("sft_out", c_char_p),
    ]


class lexie_re_eval_result(Structure):
    _fields_ = [
        ("predictions", c_char_p),  # owned by the result: lexie_re_eval_result_clear frees them
        ("report_json", c_char_p),
        ("report_txt", c_char_p),
        ("table", c_char_p),
        ("prompt", c_char_p),
        ("n_examples", c_int),
        ("n_resumed", c_int),
        ("n_computed", c_int),
        ("n_errors", c_int),
        ("report_written", c_int),
    ]


# Extraction (lexie.h "Extraction: entities, relations, events, open IE,
# tables").  The package reads results through lexie_extraction_json and
# lexie_table's fields; the structs are mirrored whole so that arrays of
# them have the C stride and lexie_extraction_clear frees what C made.


class lexie_mention(Structure):
    _fields_ = [
        ("type", c_char_p),  # owned by the result: lexie_extraction_clear frees them
        ("text", c_char_p),
        ("model_text", c_char_p),
        ("start", c_int),
        ("end", c_int),
        ("byte_start", c_long),
        ("byte_end", c_long),
        ("match", c_int),  # lexie_match
        ("match_score", c_float),
        ("confidence", c_float),
    ]


class lexie_relation(Structure):
    _fields_ = [("head", c_int), ("tail", c_int), ("label", c_char_p), ("confidence", c_float)]


class lexie_event(Structure):
    _fields_ = [
        ("trigger", lexie_mention),
        ("args", POINTER(lexie_mention)),
        ("n_args", c_int),
        ("confidence", c_float),
    ]


class lexie_triple(Structure):
    _fields_ = [
        ("subject", lexie_mention),
        ("relation", lexie_mention),
        ("object", lexie_mention),
        ("time", POINTER(lexie_mention)),
        ("place", POINTER(lexie_mention)),
        ("confidence", c_float),
    ]


class lexie_extraction(Structure):
    _fields_ = [
        ("entities", POINTER(lexie_mention)),
        ("n_entities", c_int),
        ("relations", POINTER(lexie_relation)),
        ("n_relations", c_int),
        ("events", POINTER(lexie_event)),
        ("n_events", c_int),
        ("triples", POINTER(lexie_triple)),
        ("n_triples", c_int),
        ("n_chunks", c_int),
        ("truncated", c_int),
    ]


class lexie_extract_params(Structure):
    _fields_ = [
        ("task", c_int),  # lexie_task
        ("re_generate", c_int),
        ("instruction", c_char_p),
        ("json_schema", c_char_p),
        ("max_tokens", c_int),
        ("chunk_tokens", c_int),
        ("chunk_overlap", c_int),
        ("no_chunk", c_int),
        ("batch", c_int),
        ("fuzzy_min", c_float),
    ]


class lexie_table(Structure):
    _fields_ = [
        ("header", POINTER(c_char_p)),  # owned by the table: lexie_table_clear frees it
        ("n_cols", c_int),
        ("cells", POINTER(c_char_p)),  # row-major, n_rows * n_cols
        ("n_rows", c_int),
        ("truncated", c_int),
    ]


# ==== Function table ====

_P = c_void_p  # every opaque handle (lexie_model *, lexie_ctx *, ...)
_ERR = POINTER(lexie_error)
_OUT_STR = POINTER(c_void_p)  # char **out, malloc'd by the library
_SCORE_ARGS = [_P, POINTER(lexie_token), c_int, POINTER(POINTER(lexie_token)), POINTER(c_int), c_int]

# name: (restype, argtypes)
_FUNCS = {
    "lexie_version": (c_char_p, []),
    "lexie_version_number": (c_int, []),
    "lexie_status_string": (c_char_p, [c_int]),
    "lexie_free": (None, [c_void_p]),
    # models
    "lexie_model_default_params": (lexie_model_params, []),
    "lexie_model_load": (_P, [c_char_p, POINTER(lexie_model_params), _ERR]),
    "lexie_model_free": (None, [_P]),
    "lexie_model_arch": (c_char_p, [_P]),
    "lexie_model_name": (c_char_p, [_P]),
    "lexie_model_n_vocab": (c_int, [_P]),
    "lexie_model_n_ctx_train": (c_int, [_P]),
    "lexie_model_n_embd": (c_int, [_P]),
    "lexie_model_n_layer": (c_int, [_P]),
    "lexie_model_meta_str": (c_char_p, [_P, c_char_p]),
    # tokens and chat
    "lexie_tokenize": (
        c_int,
        [_P, c_char_p, c_size_t, c_int, c_int, POINTER(lexie_token), c_int, POINTER(c_int), _ERR],
    ),
    "lexie_token_to_piece": (c_int, [_P, lexie_token, c_void_p, c_int]),
    "lexie_token_is_eog": (c_int, [_P, lexie_token]),
    "lexie_chat_apply": (c_int, [_P, POINTER(lexie_chat_msg), c_int, c_int, _OUT_STR, _ERR]),
    "lexie_chat_apply_spans": (
        c_int,
        [_P, POINTER(lexie_chat_msg), c_int, c_int, _OUT_STR, POINTER(c_void_p), POINTER(c_int), _ERR],
    ),
    "lexie_tokenize_chat": (
        c_int,
        [_P, c_char_p, c_size_t, c_int, c_void_p, c_int, POINTER(lexie_token), c_int, POINTER(c_int), _ERR],
    ),
    # contexts
    "lexie_ctx_default_params": (lexie_ctx_params, []),
    "lexie_ctx_new": (_P, [_P, POINTER(lexie_ctx_params), _ERR]),
    "lexie_ctx_free": (None, [_P]),
    "lexie_ctx_n_ctx": (c_int, [_P]),
    "lexie_ctx_decode": (c_int, [_P, POINTER(lexie_batch), _ERR]),
    "lexie_ctx_logits": (POINTER(c_float), [_P, c_int]),
    "lexie_kv_seq_rm": (c_int, [_P, c_int, c_int, c_int]),
    "lexie_kv_seq_cp": (c_int, [_P, c_int, c_int, c_int, c_int]),
    "lexie_kv_seq_pos_max": (c_int, [_P, c_int]),
    "lexie_kv_clear": (None, [_P]),
    # scoring and generation
    # (ctx, prompt, n_prompt, conts, n_conts, n_cont, then the output)
    "lexie_score_continuations": (c_int, _SCORE_ARGS + [POINTER(c_double), _ERR]),
    "lexie_score_continuation_tokens": (c_int, _SCORE_ARGS + [POINTER(POINTER(c_float)), _ERR]),
    "lexie_next_token_probs": (
        c_int,
        [
            _P,
            POINTER(lexie_token),
            c_int,
            POINTER(lexie_token),
            c_int,
            POINTER(c_float),
            POINTER(c_float),
            _ERR,
        ],
    ),
    "lexie_sampler_default_params": (lexie_sampler_params, []),
    "lexie_gen_default_params": (lexie_gen_params, []),
    "lexie_generate": (
        c_int,
        [
            _P,
            POINTER(lexie_token),
            c_int,
            POINTER(lexie_gen_params),
            lexie_gen_callback,
            c_void_p,
            _OUT_STR,
            POINTER(c_int),
            _ERR,
        ],
    ),
    # model cache
    "lexie_model_catalog_count": (c_int, []),
    "lexie_model_catalog_at": (POINTER(lexie_model_info), [c_int]),
    "lexie_model_catalog_find": (POINTER(lexie_model_info), [c_char_p]),
    "lexie_model_cache_dir": (c_int, [_OUT_STR, _ERR]),
    "lexie_model_cached_path": (c_int, [c_char_p, _OUT_STR, _ERR]),
    "lexie_pull_default_params": (lexie_pull_params, []),
    "lexie_model_pull": (
        c_int,
        [c_char_p, POINTER(lexie_pull_params), _OUT_STR, POINTER(c_int), _ERR],
    ),
    "lexie_model_install": (
        c_int,
        [c_char_p, c_char_p, POINTER(lexie_pull_params), _OUT_STR, _ERR],
    ),
    # relation extraction
    "lexie_re_schema_load": (_P, [c_char_p, _ERR]),
    "lexie_re_schema_parse": (_P, [c_char_p, c_size_t, _ERR]),
    "lexie_re_schema_free": (None, [_P]),
    "lexie_re_schema_n_labels": (c_int, [_P]),
    "lexie_re_schema_label": (c_char_p, [_P, c_int]),
    "lexie_re_schema_none": (c_int, [_P]),
    "lexie_re_schema_name": (c_char_p, [_P]),
    "lexie_re_schema_sha256": (c_char_p, [_P]),
    "lexie_re_schema_n_warnings": (c_int, [_P]),
    "lexie_re_schema_warning": (c_char_p, [_P, c_int]),
    "lexie_re_default_params": (lexie_re_params, []),
    "lexie_re_result_clear": (None, [POINTER(lexie_re_result)]),
    "lexie_re_new": (_P, [_P, _P, POINTER(lexie_re_params), _ERR]),
    "lexie_re_free": (None, [_P]),
    "lexie_re_set_demos": (
        c_int,
        [_P, POINTER(lexie_re_example), POINTER(c_int), c_int, _ERR],
    ),
    "lexie_re_prompt": (c_int, [_P, POINTER(lexie_re_example), _OUT_STR, _ERR]),
    "lexie_re_classify": (
        c_int,
        [_P, POINTER(lexie_re_example), c_int, POINTER(lexie_re_result), _ERR],
    ),
    # relation inputs and decisions
    "lexie_re_schema_find": (c_int, [c_char_p, POINTER(c_char_p), c_int, _OUT_STR, _ERR]),
    "lexie_re_parse_markers": (c_int, [c_char_p, _OUT_STR, POINTER(c_int), _ERR]),
    "lexie_re_line_parse": (c_int, [c_char_p, c_size_t, c_int, POINTER(lexie_re_line), _ERR]),
    "lexie_re_line_clear": (None, [POINTER(lexie_re_line)]),
    "lexie_re_decide": (c_int, [_P, POINTER(c_float), c_float]),
    "lexie_re_prior": (None, [POINTER(POINTER(c_float)), c_int, c_int, POINTER(c_double)]),
    "lexie_re_decide_calibrated": (c_int, [POINTER(c_float), POINTER(c_double), c_int]),
    "lexie_re_prior_load": (c_int, [c_char_p, _P, POINTER(c_double), _ERR]),
    # the evaluation runner
    "lexie_re_eval_default_params": (lexie_re_eval_params, []),
    "lexie_re_eval_run": (c_int, [POINTER(lexie_re_eval_params), POINTER(lexie_re_eval_result), _ERR]),
    "lexie_re_eval_result_clear": (None, [POINTER(lexie_re_eval_result)]),
    # extraction: schemas, extractors, results, tables
    "lexie_match_name": (c_char_p, [c_int]),
    "lexie_extraction_clear": (None, [POINTER(lexie_extraction)]),
    "lexie_extraction_json": (c_int, [POINTER(lexie_extraction), _OUT_STR, _ERR]),
    "lexie_mention_clear": (None, [POINTER(lexie_mention)]),
    "lexie_ie_schema_load": (_P, [c_char_p, _ERR]),
    "lexie_ie_schema_parse": (_P, [c_char_p, c_size_t, _ERR]),
    "lexie_ie_schema_from_types": (_P, [POINTER(c_char_p), c_int, _ERR]),
    "lexie_ie_schema_free": (None, [_P]),
    "lexie_ie_schema_name": (c_char_p, [_P]),
    "lexie_ie_schema_sha256": (c_char_p, [_P]),
    "lexie_ie_schema_n_entity_types": (c_int, [_P]),
    "lexie_ie_schema_entity_type": (c_char_p, [_P, c_int]),
    "lexie_ie_schema_n_event_types": (c_int, [_P]),
    "lexie_ie_schema_event_type": (c_char_p, [_P, c_int]),
    "lexie_ie_schema_relations": (_P, [_P]),  # borrowed lexie_re_schema *, or NULL
    "lexie_extract_default_params": (lexie_extract_params, []),
    "lexie_extractor_new": (_P, [_P, _P, POINTER(lexie_extract_params), _ERR]),
    "lexie_extractor_free": (None, [_P]),
    "lexie_extractor_prompt": (c_int, [_P, c_char_p, _OUT_STR, _ERR]),
    "lexie_extractor_set_demos": (c_int, [_P, POINTER(c_char_p), POINTER(c_char_p), c_int, _ERR]),
    "lexie_extract": (
        c_int,
        [_P, POINTER(c_char_p), c_int, POINTER(lexie_extraction), POINTER(lexie_error), _ERR],
    ),
    "lexie_table_clear": (None, [POINTER(lexie_table)]),
    "lexie_table_markdown": (c_int, [POINTER(lexie_table), _OUT_STR, _ERR]),
    "lexie_table_json": (c_int, [POINTER(lexie_table), _OUT_STR, _ERR]),
    "lexie_ask": (c_int, [_P, c_char_p, c_char_p, c_int, POINTER(lexie_table), _ERR]),
}


# ==== Finding and loading the library ====


class LibraryNotFound(OSError):
    """Raised (wrapped in LexieError by the package) when liblexie is nowhere."""


def candidate_paths():
    """Where the library is looked for, in order (see the module docstring)."""
    out = []
    env = os.environ.get("LEXIE_LIB")
    if env:
        out.append(env)
    here = os.path.dirname(os.path.abspath(__file__))
    out.append(os.path.normpath(os.path.join(here, "..", "..", "build", "liblexie.so")))
    found = ctypes.util.find_library("lexie")
    if found:
        out.append(found)
    return out


_lock = threading.Lock()
_lib = None


def lib():
    """The loaded library with every function declared; loaded once."""
    global _lib
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        env = os.environ.get("LEXIE_LIB")
        for path in candidate_paths():
            # $LEXIE_LIB is an explicit choice: a bad one is an error, not a
            # reason to fall back silently to another copy.
            explicit = bool(env) and path == env
            if not explicit and os.sep in path and not os.path.exists(path):
                tried.append(f"{path} (absent)")
                continue
            try:
                handle = ctypes.CDLL(path)
            except OSError as e:
                tried.append(f"{path} ({e})")
                if explicit:
                    break
                continue
            missing = [name for name in _FUNCS if not hasattr(handle, name)]
            if missing:
                tried.append(f"{path} (lacks {', '.join(missing[:3])})")
                if explicit:
                    break
                continue
            for name, (restype, argtypes) in _FUNCS.items():
                fn = getattr(handle, name)
                fn.restype = restype
                fn.argtypes = argtypes
            _lib = handle
            return _lib
        raise LibraryNotFound(
            "cannot load liblexie: build it with `make` in the lexie repository, or point "
            "$LEXIE_LIB at liblexie.so; tried: " + "; ".join(tried or ["nothing"])
        )


def take_string(p):
    """Copies a library-allocated NUL-terminated string (a c_void_p value,
    possibly None) into bytes and frees it with lexie_free."""
    if not p:
        return None
    try:
        return ctypes.string_at(p)
    finally:
        lib().lexie_free(p)
