/*
** pubmedqa.c -- BioInstruct's QA and generation categories on PubMedQA:
** the prompt lexie asks with, and the scores (decision accuracy and
** macro-F1, conclusion ROUGE-L).  The reader is in ie_readers.c.
**
** Why a grammar for the decision: a small model asked "yes, no or maybe"
** often answers with a sentence; under lx_pubmedqa_gbnf every answer is
** one of the three words, so the score measures the choice, not the
** phrasing.  The conclusion is free text (greedy), scored by ROUGE-L.
*/
#include "ie_data.h"

#include <string.h>

const char lx_pubmedqa_gbnf[] = "root ::= \"yes\" | \"no\" | \"maybe\"\n";

static const char *const DECISIONS[3] = {"yes", "no", "maybe"};

char *lx_pubmedqa_prompt(const lx_ie_doc *d, int conclusion, lexie_error *err) {
    lx_jbuf b = {0};
    lx_jbuf_puts(&b, conclusion ? "Read the abstract and write its conclusion: one to three "
                                  "sentences that answer the research question.\n\n"
                                : "Read the abstract and answer the research question with yes, "
                                  "no or maybe.\n\n");
    lx_jbuf_printf(&b, "Abstract:\n%s\n\nQuestion: %s\n%s", d->text, d->question,
                   conclusion ? "Conclusion:" : "Answer (yes, no or maybe):");
    if (lx_jbuf_status(&b, err) != LEXIE_OK) {
        lx_jbuf_free(&b);
        return NULL;
    }
    return b.data;
}

/* The class of a decision (0 yes, 1 no, 2 maybe), 3 for anything else;
** surrounding whitespace and case do not count. */
static int decision(const char *s) {
    while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
    for (int k = 0; k < 3; k++) {
        size_t m = strlen(DECISIONS[k]), i = 0;
        if (m != n) continue;
        while (i < n && (s[i] | 0x20) == DECISIONS[k][i]) i++;
        if (i == n) return k;
    }
    return 3;
}

lexie_status lx_pqa_add(lx_pqa_counts *c, int conclusion, const char *answer, const char *gold,
                        lexie_error *err) {
    if (conclusion) {
        double r = lexie_text_similarity(LEXIE_TEXT_ROUGE_L, answer, gold);
        if (r < 0) return lx_fail(err, LEXIE_E_NOMEM, "out of memory");
        c->rouge_l += r;
        c->n_long++;
        return LEXIE_OK;
    }
    int g = decision(gold);
    if (g == 3)
        return lx_fail(err, LEXIE_E_FORMAT, "gold decision \"%.20s\" is not yes, no or maybe",
                       gold);
    c->conf[g][decision(answer)]++;
    return LEXIE_OK;
}

void lx_pqa_finish(const lx_pqa_counts *c, lx_pqa_score *out) {
    memset(out, 0, sizeof *out);
    int64_t right = 0;
    for (int g = 0; g < 3; g++)
        for (int a = 0; a < 4; a++) out->n += c->conf[g][a];
    for (int k = 0; k < 3; k++) {
        int64_t tp = c->conf[k][k], pred = 0, gold = 0;
        for (int i = 0; i < 3; i++) pred += c->conf[i][k];
        for (int a = 0; a < 4; a++) gold += c->conf[k][a];
        right += tp;
        /* scikit-learn: F1 = 2tp / (pred + gold), 0 when both are 0 */
        out->f1[k] = pred + gold ? 2.0 * (double)tp / (double)(pred + gold) : 0.0;
        out->macro_f1 += out->f1[k] / 3;
    }
    out->accuracy = out->n ? (double)right / (double)out->n : 0.0;
    if (c->n_long) {
        out->rouge_l = c->rouge_l / (double)c->n_long;
        out->n = c->n_long;
    }
}
