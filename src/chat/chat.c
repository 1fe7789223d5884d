/*
** chat.c -- rendering chat templates: the Jinja evaluator and
** lx_chat_render.
**
** The template sees what Hugging Face's apply_chat_template passes:
** `messages` (a list of {role, content} dicts), `add_generation_prompt`,
** `bos_token` and `eos_token`; everything else (tools, documents, ...) is
** undefined, so template branches for them are simply not taken.
** Semantics follow Jinja: undefined prints as nothing and is false, `set`
** inside a loop does not leak out of it (namespace() exists for that), and
** `a or b` yields a or b themselves.  Where Jinja would raise on undefined
** (an attribute of an undefined value) we yield undefined instead: a
** template that renders in Jinja renders the same here.
*/
#include "chat/chat_impl.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static jv val_cstr(const char *p) { return lx_chat_val_str(p, strlen(p)); }

/* ==== Evaluation ==== */

typedef struct scope {
    struct scope *up;
    jdict *vars;
} scope;

typedef struct ev {
    jx *c;
    scope *sc;
    jsb top;  /* the render's output (heap, bounded by lim.max_output) */
    jsb *out; /* where output goes now: top, or a block set's capture */
    int brk;  /* 1 break, 2 continue: unwinding to the innermost loop */
} ev;

static jv eval(ev *e, const jnode *x);
static void exec(ev *e, const jnode *x);

static jv lookup(ev *e, const char *name, size_t n) {
    for (scope *s = e->sc; s; s = s->up) {
        jv *v = lx_chat_dict_get(s->vars, name, n);
        if (v) return *v;
    }
    return (jv){.t = JV_UNDEF};
}

static jv index_value(ev *e, const jnode *at, jv obj, jv key) {
    if (obj.t == JV_DICT) {
        if (key.t != JV_STR) return (jv){.t = JV_UNDEF};
        jv *v = lx_chat_dict_get(obj.u.d, key.u.s.p, key.u.s.n);
        return v ? *v : (jv){.t = JV_UNDEF};
    }
    if (obj.t == JV_LIST || obj.t == JV_STR) {
        if (key.t != JV_INT && key.t != JV_BOOL)
            lx_chat_fail(e->c, at->pos, LEXIE_E_FORMAT, "%s index must be an integer, not %s",
                         lx_chat_type_name(obj), lx_chat_type_name(key));
        int64_t i = key.t == JV_INT ? key.u.i : key.u.b;
        if (obj.t == JV_LIST) {
            int64_t n = (int64_t)obj.u.l->n;
            if (i < 0) i += n;
            return i >= 0 && i < n ? obj.u.l->v[i] : (jv){.t = JV_UNDEF};
        }
        return lx_chat_str_index(e->c, obj, i);
    }
    return (jv){.t = JV_UNDEF};
}

/* Jinja lets an undefined value be printed, tested and iterated, but
** raises when one is looked into: messages[0].role on no messages. */
static void undefined_check(ev *e, const jnode *x, jv v) {
    if (v.t != JV_UNDEF) return;
    if (x->kind == JN_VAR)
        lx_chat_fail(e->c, x->pos, LEXIE_E_INVALID, "'%s' is undefined", x->name);
    lx_chat_fail(e->c, x->pos, LEXIE_E_INVALID, "value is undefined");
}

static jv eval_args(ev *e, const jnode *x, jv *args) {
    for (int i = 0; i < x->n_args; i++) args[i] = eval(e, x->args[i]);
    return (jv){.t = JV_UNDEF};
}

static jv eval_call(ev *e, const jnode *x, jv *args) {
    eval_args(e, x, args);
    const jnode *f = x->a;
    if (f->kind == JN_ATTR) {
        jv obj = eval(e, f->a);
        return lx_chat_method(e->c, x, obj, f->name, x->n_args, args, x->kw);
    }
    if (f->kind == JN_VAR && lookup(e, f->name, f->name_len).t == JV_UNDEF)
        return lx_chat_builtin(e->c, x, f->name, x->n_args, args, x->kw);
    lx_chat_fail(e->c, x->pos, LEXIE_E_UNSUPPORTED, "calling this value is not supported");
}

/* One frame's arguments live here, in eval: left-deep chains (a ~ b ~ c
** ..., a.b.c...) nest one eval per link, so frames stay small. */
static jv eval_node(ev *e, const jnode *x, jv *args);

static jv eval(ev *e, const jnode *x) {
    jv args[64];
    size_t pos = e->c->pos;
    e->c->pos = x->pos;
    lx_chat_enter(e->c);
    jv v = eval_node(e, x, args);
    lx_chat_leave(e->c);
    e->c->pos = pos;
    return v;
}

static jv eval_node(ev *e, const jnode *x, jv *args) {
    jx *c = e->c;
    switch (x->kind) {
    case JN_LIT: return x->lit;
    case JN_VAR: return lookup(e, x->name, x->name_len);
    case JN_ATTR: {
        jv obj = eval(e, x->a);
        undefined_check(e, x->a, obj);
        if (obj.t == JV_DICT) return index_value(e, x, obj, lx_chat_val_str(x->name, x->name_len));
        if (obj.t == JV_LIST && x->name[0] >= '0' && x->name[0] <= '9')
            return index_value(e, x, obj, lx_chat_val_int(strtoll(x->name, NULL, 10)));
        return (jv){.t = JV_UNDEF};
    }
    case JN_INDEX: {
        jv obj = eval(e, x->a);
        undefined_check(e, x->a, obj);
        return index_value(e, x, obj, eval(e, x->b));
    }
    case JN_SLICE: {
        jv obj = eval(e, x->a), part[3];
        int has[3];
        for (int i = 0; i < 3; i++) {
            has[i] = x->args[i] != NULL;
            part[i] = has[i] ? eval(e, x->args[i]) : lx_chat_val_int(0);
            if (has[i] && part[i].t == JV_NONE)
                has[i] = 0;
            else if (has[i] && part[i].t != JV_INT)
                lx_chat_fail(c, x->pos, LEXIE_E_FORMAT, "slice bounds must be integers");
        }
        return lx_chat_slice(c, x, obj, has, part);
    }
    case JN_CALL: return eval_call(e, x, args);
    case JN_FILTER: {
        eval_args(e, x, args);
        return lx_chat_filter(c, x, eval(e, x->a), x->n_args, args, x->kw);
    }
    case JN_TEST: {
        eval_args(e, x, args);
        int r = lx_chat_test(c, x, eval(e, x->a), x->n_args, args);
        return lx_chat_val_bool(x->op ? !r : r);
    }
    case JN_UNARY: {
        jv v = eval(e, x->a);
        if (x->op == 'n') return lx_chat_val_bool(!lx_chat_truthy(v));
        if (v.t == JV_BOOL) v = lx_chat_val_int(v.u.b);
        if (v.t != JV_INT && v.t != JV_FLOAT)
            lx_chat_fail(c, x->pos, LEXIE_E_FORMAT, "bad operand type for unary %c: %s", x->op,
                         lx_chat_type_name(v));
        if (x->op == '-') {
            if (v.t == JV_INT)
                v.u.i = v.u.i == INT64_MIN ? INT64_MIN : -v.u.i;
            else
                v.u.f = -v.u.f;
        }
        return v;
    }
    case JN_BIN: {
        jv a = eval(e, x->a);
        if (x->op == JO_AND) return lx_chat_truthy(a) ? eval(e, x->b) : a;
        if (x->op == JO_OR) return lx_chat_truthy(a) ? a : eval(e, x->b);
        return lx_chat_binop(c, x, x->op, a, eval(e, x->b));
    }
    case JN_COND:
        if (lx_chat_truthy(eval(e, x->a))) return eval(e, x->b);
        return x->c ? eval(e, x->c) : (jv){.t = JV_UNDEF};
    case JN_LIST: {
        jlist *l = lx_chat_list_new(c);
        for (int i = 0; i < x->n_args; i++) lx_chat_list_push(c, l, eval(e, x->args[i]));
        return (jv){.t = JV_LIST, .u.l = l};
    }
    case JN_DICT: {
        jdict *d = lx_chat_dict_new(c);
        for (int i = 0; i + 1 < x->n_args; i += 2) {
            jv k = eval(e, x->args[i]);
            if (k.t != JV_STR)
                lx_chat_fail(c, x->args[i]->pos, LEXIE_E_UNSUPPORTED, "dict keys must be strings");
            lx_chat_dict_setv(c, d, k, eval(e, x->args[i + 1]));
        }
        return (jv){.t = JV_DICT, .u.d = d};
    }
    default: lx_chat_fail(c, x->pos, LEXIE_E_INTERNAL, "statement used as an expression");
    }
}

/* ==== Statements ==== */

static void exec_for(ev *e, const jnode *x) {
    jx *c = e->c;
    jv it = eval(e, x->a);
    /* A list is walked in place (its length taken now, as Python's loop
    ** object does), so a loop holds no copy of what it iterates. */
    jlist *items = lx_chat_list_new(c);
    if (it.t == JV_LIST) {
        items = it.u.l;
    } else if (it.t == JV_DICT) {
        for (size_t i = 0; i < it.u.d->n; i++) lx_chat_list_push(c, items, it.u.d->k[i]);
    } else if (it.t == JV_STR) {
        items = lx_chat_str_chars(c, it);
    } else if (it.t != JV_UNDEF && it.t != JV_NONE) {
        lx_chat_fail(c, x->a->pos, LEXIE_E_FORMAT, "cannot iterate over %s", lx_chat_type_name(it));
    }

    scope sc = {e->sc, lx_chat_dict_new(c)};
    e->sc = &sc;
    if (x->c) { /* `for x in xs if cond`: filter first, so loop.length counts the kept ones */
        jlist *kept = lx_chat_list_new(c);
        size_t n0 = items->n;
        for (size_t i = 0; i < n0; i++) {
            lx_chat_step(c, 1);
            lx_chat_dict_set(c, sc.vars, x->args[0]->name, x->args[0]->name_len, items->v[i]);
            if (lx_chat_truthy(eval(e, x->c))) lx_chat_list_push(c, kept, items->v[i]);
        }
        items = kept;
    }
    size_t n = items->n;
    /* One loop object for the whole loop, updated in place (Jinja's is one
    ** object too): iterations allocate nothing of their own. */
    static const char *const loop_keys[] = {"index", "index0", "revindex", "revindex0", "first",
                                            "last",  "length", "previtem", "nextitem"};
    jdict *loop = lx_chat_dict_new(c);
    for (size_t k = 0; k < LX_ARRAY_LEN(loop_keys); k++)
        lx_chat_dict_set(c, loop, loop_keys[k], strlen(loop_keys[k]), (jv){.t = JV_UNDEF});
    lx_chat_dict_set(c, sc.vars, "loop", 4, (jv){.t = JV_DICT, .u.d = loop});
    for (size_t i = 0; i < n; i++) {
        c->pos = x->pos;
        lx_chat_step(c, 1);
        jv item = items->v[i];
        if (x->n_args == 2) {
            if (item.t != JV_LIST || item.u.l->n != 2)
                lx_chat_fail(c, x->pos, LEXIE_E_FORMAT, "cannot unpack %s into two loop variables",
                             lx_chat_type_name(item));
            lx_chat_dict_set(c, sc.vars, x->args[0]->name, x->args[0]->name_len, item.u.l->v[0]);
            lx_chat_dict_set(c, sc.vars, x->args[1]->name, x->args[1]->name_len, item.u.l->v[1]);
        } else {
            lx_chat_dict_set(c, sc.vars, x->args[0]->name, x->args[0]->name_len, item);
        }
        /* In place, in loop_keys order (a template may have set more keys
        ** on it, after these). */
        jv *lv = loop->v;
        lv[0] = lx_chat_val_int((int64_t)i + 1);
        lv[1] = lx_chat_val_int((int64_t)i);
        lv[2] = lx_chat_val_int((int64_t)(n - i));
        lv[3] = lx_chat_val_int((int64_t)(n - i - 1));
        lv[4] = lx_chat_val_bool(i == 0);
        lv[5] = lx_chat_val_bool(i + 1 == n);
        lv[6] = lx_chat_val_int((int64_t)n);
        lv[7] = i ? items->v[i - 1] : (jv){.t = JV_UNDEF};
        lv[8] = i + 1 < n ? items->v[i + 1] : (jv){.t = JV_UNDEF};
        exec(e, x->b);
        if (e->brk == 1) {
            e->brk = 0;
            break;
        }
        e->brk = 0;
    }
    e->sc = sc.up;
    if (n == 0 && x->d) exec(e, x->d);
}

static void exec_set(ev *e, const jnode *x) {
    jx *c = e->c;
    jv v;
    if (x->a) {
        v = eval(e, x->a);
    } else { /* block set: capture the body's output */
        jsb cap, *saved = e->out;
        lx_chat_sb_init(&cap, c);
        e->out = &cap;
        exec(e, x->b);
        v = lx_chat_sb_value(&cap);
        e->out = saved;
    }
    const jnode *t = x->args[0];
    if (t->kind == JN_VAR) {
        lx_chat_dict_set(c, e->sc->vars, t->name, t->name_len, v);
        return;
    }
    jv obj = lookup(e, t->a->name, t->a->name_len);
    if (obj.t != JV_DICT)
        lx_chat_fail(c, t->pos, LEXIE_E_FORMAT, "cannot set attribute '%s' of %s (use namespace())",
                     t->name, lx_chat_type_name(obj));
    lx_chat_dict_set(c, obj.u.d, t->name, t->name_len, v);
}

/* Numbers print straight into the output: a loop that prints its index
** allocates nothing per iteration. */
static void output(ev *e, jv v) {
    char buf[32];
    if (v.t == JV_INT) {
        int k = snprintf(buf, sizeof buf, "%lld", (long long)v.u.i);
        lx_chat_sb_put(e->out, buf, (size_t)k);
    } else if (v.t == JV_BOOL) {
        lx_chat_sb_put(e->out, v.u.b ? "True" : "False", v.u.b ? 4 : 5);
    } else if (v.t != JV_UNDEF) {
        lx_chat_sb_putv(e->out, lx_chat_to_str(e->c, v));
    }
}

static void exec(ev *e, const jnode *x) {
    size_t pos = e->c->pos;
    lx_chat_enter(e->c);
    for (; x && !e->brk; x = x->next) {
        e->c->pos = x->pos;
        switch (x->kind) {
        case JN_TEXT: lx_chat_sb_put(e->out, x->name, x->name_len); break;
        case JN_OUTPUT: output(e, eval(e, x->a)); break;
        case JN_IF:
            if (lx_chat_truthy(eval(e, x->a)))
                exec(e, x->b);
            else if (x->c)
                exec(e, x->c);
            break;
        case JN_FOR: exec_for(e, x); break;
        case JN_SET: exec_set(e, x); break;
        case JN_BREAK: e->brk = 1; break;
        case JN_CONTINUE: e->brk = 2; break;
        default: lx_chat_fail(e->c, x->pos, LEXIE_E_INTERNAL, "expression used as a statement");
        }
    }
    lx_chat_leave(e->c);
    e->c->pos = pos;
}

/* ==== Entry point ==== */

static void limits_fill(lx_chat_limits *l, const lx_chat_limits *given) {
    lx_chat_limits z = {0, 0, 0, 0};
    *l = given ? *given : z;
    if (!l->max_bytes) l->max_bytes = LX_CHAT_MAX_BYTES;
    if (!l->max_output) l->max_output = LX_CHAT_MAX_OUTPUT;
    if (l->max_steps <= 0) l->max_steps = LX_CHAT_MAX_STEPS;
    if (l->max_depth <= 0) l->max_depth = LX_CHAT_MAX_DEPTH;
}

/* Binds what the template sees and runs it into e->top. */
static void run(ev *e, const char *tmpl, size_t tn, const lx_chat_msg *msgs, int n_msgs,
                int add_generation_prompt, const char *bos, const char *eos) {
    jx *c = e->c;
    jnode *root = lx_chat_parse(c, tmpl, tn);
    scope top = {NULL, lx_chat_dict_new(c)};
    e->sc = &top;
    jlist *ml = lx_chat_list_new(c);
    for (int i = 0; i < n_msgs; i++) {
        /* Roles and contents are the caller's text: marked as user text,
        ** whatever the template does with them. */
        jdict *m = lx_chat_dict_new(c);
        lx_chat_dict_set(c, m, "role", 4, lx_chat_val_user(c, msgs[i].role, strlen(msgs[i].role)));
        lx_chat_dict_set(c, m, "content", 7,
                         lx_chat_val_user(c, msgs[i].content, strlen(msgs[i].content)));
        lx_chat_list_push(c, ml, (jv){.t = JV_DICT, .u.d = m});
    }
    lx_chat_dict_set(c, top.vars, "messages", 8, (jv){.t = JV_LIST, .u.l = ml});
    lx_chat_dict_set(c, top.vars, "add_generation_prompt", 21,
                     lx_chat_val_bool(add_generation_prompt));
    lx_chat_dict_set(c, top.vars, "bos_token", 9, val_cstr(bos ? bos : ""));
    lx_chat_dict_set(c, top.vars, "eos_token", 9, val_cstr(eos ? eos : ""));
    exec(e, root);
}

void lx_chat_out_free(lx_chat_out *out) {
    if (!out) return;
    free(out->text);
    free(out->user);
    memset(out, 0, sizeof *out);
}

lexie_status lx_chat_render_ex(const char *tmpl, const lx_chat_msg *msgs, int n_msgs,
                               int add_generation_prompt, const char *bos, const char *eos,
                               const lx_chat_limits *lim, lx_chat_out *out, lexie_error *err) {
    if (out) memset(out, 0, sizeof *out);
    if (!tmpl || !out || n_msgs < 0 || (n_msgs && !msgs))
        return lx_fail(err, LEXIE_E_INVALID, "chat template: bad arguments");
    size_t tn = strlen(tmpl), bad;
    if (!lx_utf8_valid(tmpl, tn, &bad))
        return lx_fail(err, LEXIE_E_UTF8, "chat template: invalid UTF-8 at byte %zu", bad);
    for (int i = 0; i < n_msgs; i++) {
        const char *f[2] = {msgs[i].role, msgs[i].content};
        for (int k = 0; k < 2; k++) {
            if (!f[k])
                return lx_fail(err, LEXIE_E_INVALID, "chat message %d: NULL %s", i,
                               k ? "content" : "role");
            if (!lx_utf8_valid(f[k], strlen(f[k]), &bad))
                return lx_fail(err, LEXIE_E_UTF8,
                               "chat message %d: invalid UTF-8 in %s at byte %zu", i,
                               k ? "content" : "role", bad);
        }
    }
    /* Both live on the heap: after longjmp, only objects not modified since
    ** setjmp are reliable, and these pointers never change. */
    jx *c = calloc(1, sizeof *c);
    ev *e = calloc(1, sizeof *e);
    if (!c || !e) {
        free(c);
        free(e);
        return lx_fail(err, LEXIE_E_NOMEM, "chat template: out of memory");
    }
    c->src = tmpl;
    c->src_len = tn;
    c->err = err;
    c->pos = (size_t)-1;
    limits_fill(&c->lim, lim);
    e->c = c;
    lx_chat_sb_init(&e->top, c);
    e->top.heap = 1;
    e->out = &e->top;
    lexie_status st = LEXIE_OK;
    if (setjmp(c->fail)) {
        st = c->status;
    } else {
        run(e, tmpl, tn, msgs, n_msgs, add_generation_prompt, bos, eos);
        size_t n = e->top.n;
        out->text = malloc(n + 1);
        out->user = e->top.tn ? malloc(e->top.tn * sizeof *out->user) : NULL;
        if (!out->text || (e->top.tn && !out->user) || e->top.tn > INT_MAX) {
            lx_chat_out_free(out);
            st = lx_fail(err, LEXIE_E_NOMEM, "chat template: out of memory");
        } else {
            if (n) memcpy(out->text, e->top.p, n);
            out->text[n] = 0;
            out->len = n;
            for (size_t i = 0; i < e->top.tn; i++)
                out->user[i] = (lexie_span){e->top.tr[2 * i], e->top.tr[2 * i + 1]};
            out->n_user = (int)e->top.tn;
        }
    }
    free(e->top.p);
    free(e->top.tr);
    lx_chat_arena_free(c);
    free(c);
    free(e);
    return st;
}

lexie_status lx_chat_render(const char *tmpl, const lx_chat_msg *msgs, int n_msgs,
                            int add_generation_prompt, const char *bos, const char *eos, char **out,
                            lexie_error *err) {
    if (out) *out = NULL;
    if (!out) return lx_fail(err, LEXIE_E_INVALID, "chat template: bad arguments");
    lx_chat_out o;
    lexie_status st =
        lx_chat_render_ex(tmpl, msgs, n_msgs, add_generation_prompt, bos, eos, NULL, &o, err);
    if (st == LEXIE_OK) {
        *out = o.text;
        free(o.user);
    }
    return st;
}
