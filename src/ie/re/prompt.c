/*
** prompt.c -- the words of the two relation-extraction prompts, and the
** code-point spans they quote.
**
** QA4RE (multiple choice):
**   Decide which option follows from the sentence.
**
**   Sentence: The [company] fabricates plastic [chairs].
**   Options:
**   A. [chairs] is made by [company]
**   ...
**   S. [company] and [chairs] are not related in any of these ways
**
**   Which option follows from the sentence? Answer with the letter.
**   Option:
**
** Vanilla (the label list is offered as is):
**   Classify the relationship between two entities of a sentence. The
**   possible relationships are:
**   - Cause-Effect(e1,e2)
**   ...
**
**   Sentence: ...
**   Entity 1: company
**   Entity 2: chairs
**   Relationship:
**
** Compact (for a model tuned on the labels; no list):
**   Classify the relationship between the two entities.
**
**   Sentence: ...
**   Entity 1: company
**   Entity 2: chairs
**   Relationship:
**
** The wording is lexie's own.  Everything that does not depend on the
** example (the instruction, the label list) comes first, so that prompts
** share a prefix the engine computes once.
*/
#include "re.h"

#include <stdlib.h>
#include <string.h>

static const char QA4RE_INSTRUCTION[] = "Decide which option follows from the sentence.\n\n";
static const char QA4RE_QUESTION[] =
    "\nWhich option follows from the sentence? Answer with the letter.\nOption:";
static const char VANILLA_INSTRUCTION[] =
    "Classify the relationship between two entities of a sentence. "
    "The possible relationships are:\n";
static const char COMPACT_INSTRUCTION[] = "Classify the relationship between the two entities.\n";

void lx_re_letter(int i, char *buf) {
    /* Bijective base 26: 0 -> A, 25 -> Z, 26 -> AA, 701 -> ZZ, 702 -> AAA. */
    char tmp[8];
    int n = 0;
    if (i < 0) i = 0;
    unsigned v = (unsigned)i + 1;
    while (v > 0 && n < 7) {
        v--;
        tmp[n++] = (char)('A' + v % 26);
        v /= 26;
    }
    for (int k = 0; k < n; k++) buf[k] = tmp[n - 1 - k];
    buf[n] = 0;
}

/* Byte offset of code point cp in text[0..len), or -1 past the end. */
static long cp_to_byte(const char *text, size_t len, int cp) {
    if (cp < 0) return -1;
    size_t i = 0;
    for (int k = 0; k < cp; k++) {
        if (i >= len) return -1;
        i += (size_t)lx_utf8_len((unsigned char)text[i]);
    }
    return i <= len ? (long)i : -1;
}

char *lx_re_span(const char *text, int start, int end, lexie_error *err) {
    size_t len = strlen(text), bad;
    if (!lx_utf8_valid(text, len, &bad)) {
        lx_fail(err, LEXIE_E_UTF8, "text: invalid UTF-8 at byte %zu", bad);
        return NULL;
    }
    long b0 = cp_to_byte(text, len, start), b1 = cp_to_byte(text, len, end);
    if (b0 < 0 || b1 < 0 || end <= start) {
        lx_fail(err, LEXIE_E_INVALID, "span [%d, %d) is empty or outside the text", start, end);
        return NULL;
    }
    return lx_strndup(text + b0, (size_t)(b1 - b0), err);
}

/* Checks both spans and returns the mentions (malloc'd). */
static lexie_status mentions(const lx_re_input *in, char **subj, char **obj, lexie_error *err) {
    *subj = *obj = NULL;
    if (!in->text) return lx_fail(err, LEXIE_E_INVALID, "example has no text");
    if (!(*subj = lx_re_span(in->text, in->head_start, in->head_end, err))) {
        return lx_fail_prefix(err, "head: ");
    }
    if (!(*obj = lx_re_span(in->text, in->tail_start, in->tail_end, err))) {
        free(*subj);
        *subj = NULL;
        return lx_fail_prefix(err, "tail: ");
    }
    return LEXIE_OK;
}

typedef struct {
    long at; /* byte offset */
    char c;
} mark_ins;

/* Appends the sentence with [ ] around both spans.  Where marks meet at
** one position, closing ones go first so "[a][b]" stays readable. */
static void add_marked(lx_jbuf *b, const lx_re_input *in, int mark) {
    const char *t = in->text;
    size_t len = strlen(t);
    if (!mark) {
        lx_jbuf_add(b, t, len);
        return;
    }
    mark_ins ins[4] = {{cp_to_byte(t, len, in->head_end), ']'},
                       {cp_to_byte(t, len, in->tail_end), ']'},
                       {cp_to_byte(t, len, in->head_start), '['},
                       {cp_to_byte(t, len, in->tail_start), '['}};
    /* Insertion sort by position, stable, so ']' precede '[' at a tie. */
    for (int i = 1; i < 4; i++)
        for (int j = i; j > 0 && ins[j].at < ins[j - 1].at; j--) {
            mark_ins x = ins[j];
            ins[j] = ins[j - 1];
            ins[j - 1] = x;
        }
    size_t pos = 0;
    for (int i = 0; i < 4; i++) {
        lx_jbuf_add(b, t + pos, (size_t)ins[i].at - pos);
        lx_jbuf_putc(b, ins[i].c);
        pos = (size_t)ins[i].at;
    }
    lx_jbuf_add(b, t + pos, len - pos);
}

static void fill_template(lx_jbuf *b, const char *tmpl, const char *subj, const char *obj,
                          int mark) {
    const char *p = tmpl;
    for (;;) {
        const char *q = strchr(p, '{');
        if (!q) break;
        int is_subj = strncmp(q, "{subj}", 6) == 0, is_obj = strncmp(q, "{obj}", 5) == 0;
        if (!is_subj && !is_obj) {
            lx_jbuf_add(b, p, (size_t)(q - p) + 1);
            p = q + 1;
            continue;
        }
        lx_jbuf_add(b, p, (size_t)(q - p));
        if (mark) lx_jbuf_putc(b, '[');
        lx_jbuf_puts(b, is_subj ? subj : obj);
        if (mark) lx_jbuf_putc(b, ']');
        p = q + (is_subj ? 6 : 5);
    }
    lx_jbuf_puts(b, p);
}

lexie_status lx_re_render_option(const lx_re_schema *s, int label, const char *subj,
                                 const char *obj, int mark, char **out, lexie_error *err) {
    if (label < 0 || label > s->n_rels)
        return lx_fail(err, LEXIE_E_INVALID, "option: label %d out of range", label);
    const char *tmpl = label == s->n_rels ? s->none_template : s->rels[label].templates[0];
    lx_jbuf b = {0};
    fill_template(&b, tmpl, subj, obj, mark);
    if (b.oom || !b.data) {
        lx_jbuf_free(&b);
        return lx_fail(err, LEXIE_E_NOMEM, "option: out of memory");
    }
    *out = b.data;
    return LEXIE_OK;
}

lexie_status lx_re_render_turn(const lx_re_schema *s, lx_re_method m, const lx_re_input *in,
                               const int *opts, int n_opts, int mark, char **out,
                               lexie_error *err) {
    char *subj, *obj;
    *out = NULL;
    lexie_status st = mentions(in, &subj, &obj, err);
    if (st != LEXIE_OK) return st;
    lx_jbuf b = {0};
    if (m == LX_RE_QA4RE) {
        lx_jbuf_puts(&b, QA4RE_INSTRUCTION);
        lx_jbuf_puts(&b, "Sentence: ");
        add_marked(&b, in, mark);
        lx_jbuf_puts(&b, "\nOptions:\n");
        for (int i = 0; i < n_opts; i++) {
            char letter[8];
            if (opts[i] < 0 || opts[i] > s->n_rels) {
                st = lx_fail(err, LEXIE_E_INVALID, "option %d: label %d out of range", i, opts[i]);
                break;
            }
            lx_re_letter(i, letter);
            lx_jbuf_printf(&b, "%s. ", letter);
            fill_template(&b,
                          opts[i] == s->n_rels ? s->none_template : s->rels[opts[i]].templates[0],
                          subj, obj, mark);
            lx_jbuf_putc(&b, '\n');
        }
        lx_jbuf_puts(&b, QA4RE_QUESTION);
    } else {
        if (m == LX_RE_COMPACT) {
            lx_jbuf_puts(&b, COMPACT_INSTRUCTION);
        } else {
            lx_jbuf_puts(&b, VANILLA_INSTRUCTION);
            for (int i = 0; i <= s->n_rels; i++)
                lx_jbuf_printf(&b, "- %s\n", lx_re_schema_label(s, i));
        }
        lx_jbuf_puts(&b, "\nSentence: ");
        add_marked(&b, in, mark);
        lx_jbuf_printf(&b, "\nEntity 1: %s\nEntity 2: %s\nRelationship:", subj, obj);
    }
    free(subj);
    free(obj);
    if (st == LEXIE_OK && (b.oom || !b.data))
        st = lx_fail(err, LEXIE_E_NOMEM, "prompt: out of memory");
    if (st != LEXIE_OK) {
        lx_jbuf_free(&b);
        return st;
    }
    *out = b.data;
    return LEXIE_OK;
}
