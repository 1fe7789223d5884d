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
    jsb out;
    int brk; /* 1 break, 2 continue: unwinding to the innermost loop */
    long steps;
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

static jv eval_call(ev *e, const jnode *x) {
    jv args[64];
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

static jv eval(ev *e, const jnode *x) {
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
    case JN_CALL: return eval_call(e, x);
    case JN_FILTER: {
        jv args[64];
        eval_args(e, x, args);
        return lx_chat_filter(c, x, eval(e, x->a), x->n_args, args, x->kw);
    }
    case JN_TEST: {
        jv args[64];
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
            lx_chat_dict_set(c, d, k.u.s.p, k.u.s.n, eval(e, x->args[i + 1]));
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
    jlist *items = lx_chat_list_new(c);
    if (it.t == JV_LIST) {
        for (size_t i = 0; i < it.u.l->n; i++) lx_chat_list_push(c, items, it.u.l->v[i]);
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
        for (size_t i = 0; i < items->n; i++) {
            lx_chat_dict_set(c, sc.vars, x->args[0]->name, x->args[0]->name_len, items->v[i]);
            if (lx_chat_truthy(eval(e, x->c))) lx_chat_list_push(c, kept, items->v[i]);
        }
        items = kept;
    }
    size_t n = items->n;
    for (size_t i = 0; i < n; i++) {
        if (++e->steps > JX_MAX_STEPS)
            lx_chat_fail(c, x->pos, LEXIE_E_RANGE, "more than %d loop iterations", JX_MAX_STEPS);
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
        jdict *loop = lx_chat_dict_new(c);
        lx_chat_dict_set(c, loop, "index", 5, lx_chat_val_int((int64_t)i + 1));
        lx_chat_dict_set(c, loop, "index0", 6, lx_chat_val_int((int64_t)i));
        lx_chat_dict_set(c, loop, "revindex", 8, lx_chat_val_int((int64_t)(n - i)));
        lx_chat_dict_set(c, loop, "revindex0", 9, lx_chat_val_int((int64_t)(n - i - 1)));
        lx_chat_dict_set(c, loop, "first", 5, lx_chat_val_bool(i == 0));
        lx_chat_dict_set(c, loop, "last", 4, lx_chat_val_bool(i + 1 == n));
        lx_chat_dict_set(c, loop, "length", 6, lx_chat_val_int((int64_t)n));
        lx_chat_dict_set(c, loop, "previtem", 8, i ? items->v[i - 1] : (jv){.t = JV_UNDEF});
        lx_chat_dict_set(c, loop, "nextitem", 8, i + 1 < n ? items->v[i + 1] : (jv){.t = JV_UNDEF});
        lx_chat_dict_set(c, sc.vars, "loop", 4, (jv){.t = JV_DICT, .u.d = loop});
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
        jsb saved = e->out;
        lx_chat_sb_init(&e->out, c);
        exec(e, x->b);
        v = lx_chat_sb_value(&e->out);
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

static void exec(ev *e, const jnode *x) {
    for (; x && !e->brk; x = x->next) {
        switch (x->kind) {
        case JN_TEXT: lx_chat_sb_put(&e->out, x->name, x->name_len); break;
        case JN_OUTPUT: {
            jv v = lx_chat_to_str(e->c, eval(e, x->a));
            lx_chat_sb_put(&e->out, v.u.s.p, v.u.s.n);
            break;
        }
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
        if (e->out.n > JX_MAX_OUTPUT)
            lx_chat_fail(e->c, x->pos, LEXIE_E_RANGE, "output exceeds %u bytes", JX_MAX_OUTPUT);
    }
}

/* ==== Entry point ==== */

lexie_status lx_chat_render(const char *tmpl, const lx_chat_msg *msgs, int n_msgs,
                            int add_generation_prompt, const char *bos, const char *eos, char **out,
                            lexie_error *err) {
    if (out) *out = NULL;
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
    lexie_status st = LEXIE_OK;
    if (setjmp(c->fail)) {
        st = c->status;
    } else {
        jnode *root = lx_chat_parse(c, tmpl, tn);
        e->c = c;
        lx_chat_sb_init(&e->out, c);
        scope top = {NULL, lx_chat_dict_new(c)};
        e->sc = &top;
        jlist *ml = lx_chat_list_new(c);
        for (int i = 0; i < n_msgs; i++) {
            jdict *m = lx_chat_dict_new(c);
            lx_chat_dict_set(c, m, "role", 4, val_cstr(msgs[i].role));
            lx_chat_dict_set(c, m, "content", 7, val_cstr(msgs[i].content));
            lx_chat_list_push(c, ml, (jv){.t = JV_DICT, .u.d = m});
        }
        lx_chat_dict_set(c, top.vars, "messages", 8, (jv){.t = JV_LIST, .u.l = ml});
        lx_chat_dict_set(c, top.vars, "add_generation_prompt", 21,
                         lx_chat_val_bool(add_generation_prompt));
        lx_chat_dict_set(c, top.vars, "bos_token", 9, val_cstr(bos ? bos : ""));
        lx_chat_dict_set(c, top.vars, "eos_token", 9, val_cstr(eos ? eos : ""));
        exec(e, root);
        *out = malloc(e->out.n + 1);
        if (!*out) {
            st = lx_fail(err, LEXIE_E_NOMEM, "chat template: out of memory");
        } else {
            if (e->out.n) memcpy(*out, e->out.p, e->out.n);
            (*out)[e->out.n] = 0;
        }
    }
    lx_chat_arena_free(c);
    free(c);
    free(e);
    return st;
}
