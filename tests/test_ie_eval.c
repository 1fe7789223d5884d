/*
** test_ie_eval.c -- the extraction evaluation's data side (src/eval/
** ie_data.h): each reader on tiny hand-written fixtures under
** tests/data/ie/ (offsets in code points and bytes, non-ASCII text, what
** is skipped and counted, malformed input failing with file:line), each
** scorer on hand-computed cases (the expected numbers and why are in the
** comments), the conversions from lexie_extraction, and the real data sets
** when present under $LEXIE_DATA (counts from their SOURCE.md).
*/
#include "alloc_fail.h"
#include "eval/ie_data.h"
#include "lx_test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *fx(char *buf, size_t n, const char *name) {
    const char *d = getenv("LEXIE_TEST_DATA");
    snprintf(buf, n, "%s/ie/%s", d && *d ? d : "tests/data", name);
    return buf;
}

static int has_ent(const lx_ie_doc *d, const char *type, const char *text, int s, int e, long bs,
                   long be) {
    for (int i = 0; i < d->n_ents; i++) {
        const lexie_mention *m = &d->ents[i];
        if (!strcmp(m->type, type) && !strcmp(m->text, text) && m->start == s && m->end == e &&
            m->byte_start == bs && m->byte_end == be && m->match == LEXIE_MATCH_EXACT)
            return 1;
    }
    return 0;
}

/* ==== Readers ==== */

static void test_iob_reader(lx_t *t) {
    char p[512];
    lx_ie_set s = {0};
    lexie_error e;
    LX_REQUIRE(t, lx_ie_read_iob(fx(p, sizeof p, "mini.iob"), &s, &e) == LEXIE_OK);
    LX_REQUIRE(t, s.n == 2); /* -DOCSTART- and the double blank line make no sentence */
    const lx_ie_doc *d = &s.docs[0];
    LX_CHECK(t, strcmp(d->id, "0") == 0 && d->line == 3);
    LX_CHECK(t, strcmp(d->text, "Anna M\xc3\xbcller visited ACME Corp and Berlin Paris .") == 0);
    LX_CHECK_INT(t, d->n_ents, 4);
    /* u-umlaut is 2 bytes: byte offsets run one ahead of code points after it. */
    LX_CHECK(t, has_ent(d, "person", "Anna M\xc3\xbcller", 0, 11, 0, 12));
    /* I-organisation without a B- starts a span (conlleval), CoNLL's
    ** "organisation" is asked for as "organization". */
    LX_CHECK(t, has_ent(d, "organization", "ACME Corp", 20, 29, 21, 30));
    /* B- after B- of the same type: two entities. */
    LX_CHECK(t, has_ent(d, "location", "Berlin", 34, 40, 35, 41));
    LX_CHECK(t, has_ent(d, "location", "Paris", 41, 46, 42, 47));
    d = &s.docs[1];
    LX_CHECK(t, strcmp(d->id, "1") == 0 && d->line == 14);
    /* The emoji is one code point and 4 bytes, e-acute 2 bytes. */
    LX_CHECK(t, d->n_ents == 1 &&
                    has_ent(d, "miscellaneous", "\xf0\x9f\x98\x80 Caf\xc3\xa9", 4, 10, 4, 14));
    LX_CHECK_INT(t, s.skipped.n, 0);
    lx_ie_set_free(&s);
    LX_REQUIRE(t, lx_ie_read_iob(fx(p, sizeof p, "mini_bio.iob"), &s, &e) == LEXIE_OK);
    LX_CHECK(t, s.n == 1 && s.docs[0].n_ents == 2);
    LX_CHECK(t, has_ent(&s.docs[0], "chemical", "Aspirin", 0, 7, 0, 7));
    LX_CHECK(t, has_ent(&s.docs[0], "disease", "hepatic failure", 15, 30, 15, 30));
    lx_ie_set_free(&s);
    LX_CHECK(t, lx_ie_type_name("PER") && !strcmp(lx_ie_type_name("PER"), "person"));
    LX_CHECK(t, lx_ie_type_name("animal") == NULL);
}

static void test_iob_errors(lx_t *t) {
    char p[512];
    lx_ie_set s = {0};
    lexie_error e;
    LX_CHECK(t, lx_ie_read_iob(fx(p, sizeof p, "bad_tag.iob"), &s, &e) == LEXIE_E_FORMAT);
    LX_CHECK_MSG(t, strstr(e.message, "bad_tag.iob:2:") && strstr(e.message, "B-animal"), "%s",
                 e.message);
    lx_ie_set_free(&s);
    LX_CHECK(t, lx_ie_read_iob(fx(p, sizeof p, "bad_tab.iob"), &s, &e) == LEXIE_E_FORMAT);
    LX_CHECK_MSG(t, strstr(e.message, "bad_tab.iob:2:"), "%s", e.message);
    lx_ie_set_free(&s);
    LX_CHECK(t, lx_ie_read_iob(fx(p, sizeof p, "missing.iob"), &s, &e) == LEXIE_E_IO);
    lx_ie_set_free(&s);
}

static void test_carb_reader(lx_t *t) {
    char p[512], q[512];
    lx_ie_set s = {0};
    lexie_error e;
    LX_REQUIRE(t, lx_ie_read_carb(fx(p, sizeof p, "carb_sentences.txt"),
                                  fx(q, sizeof q, "carb_gold.tsv"), &s, &e) == LEXIE_OK);
    LX_REQUIRE(t, s.n == 2);
    /* Line 1's sentence has a trailing space: CaRB's key ignores spaces. */
    LX_REQUIRE(t, s.docs[0].n_tuples == 2);
    const lx_gold_tuple *g = &s.docs[0].tuples[0];
    LX_CHECK(t, !strcmp(g->rel, "likes") && g->n_args == 2 && !strcmp(g->args[1], "tea"));
    /* The "C: context" argument is dropped (counted). */
    g = &s.docs[0].tuples[1];
    LX_CHECK(t, !strcmp(g->rel, "said") && g->n_args == 2 && !strcmp(g->args[1], "he likes tea"));
    /* "(-LRB- sic)" and "( -LRB- sic )" have one key; the trailing empty
    ** argument goes with line.strip(), as in CaRB's GoldReader. */
    LX_REQUIRE(t, s.docs[1].n_tuples == 1);
    LX_CHECK(t, s.docs[1].tuples[0].n_args == 1 && !strcmp(s.docs[1].tuples[0].args[0], "The cat"));
    /* Skipped: the context argument and the tuple of an unknown sentence. */
    LX_CHECK_INT(t, s.skipped.n, 2);
    LX_CHECK_MSG(t, strstr(s.skipped.first, "carb_gold.tsv:2:"), "%s", s.skipped.first);
    lx_ie_set_free(&s);
    LX_CHECK(t, lx_ie_read_carb(fx(p, sizeof p, "carb_sentences.txt"),
                                fx(q, sizeof q, "carb_bad.tsv"), &s, &e) == LEXIE_E_FORMAT);
    LX_CHECK_MSG(t, strstr(e.message, "carb_bad.tsv:1:"), "%s", e.message);
    lx_ie_set_free(&s);
    lx_jbuf k = {0};
    lx_carb_sentence_key("The cat ( -LRB- sic ) sat .", &k);
    LX_CHECK_MSG(t, k.data && !strcmp(k.data, "Thecatsicsat"), "%s", k.data);
    lx_jbuf_free(&k);
}

static const lexie_mention *find_arg(const lexie_event *ev, const char *role, int nth) {
    for (int i = 0; i < ev->n_args; i++)
        if (!strcmp(ev->args[i].type, role) && nth-- == 0) return &ev->args[i];
    return NULL;
}

static void test_phee_reader(lx_t *t) {
    char p[512];
    lx_ie_set s = {0};
    lexie_error e;
    LX_REQUIRE(t, lx_ie_read_phee(fx(p, sizeof p, "phee.jsonl"), &s, &e) == LEXIE_OK);
    LX_REQUIRE(t, s.n == 2 && s.docs[0].n_events == 1 && s.docs[1].n_events == 2);
    const lexie_event *ev = &s.docs[0].events[0];
    LX_CHECK(t, !strcmp(ev->trigger.type, "Adverse_event") && !strcmp(ev->trigger.text, "after"));
    /* O-umlaut: code point 10 is byte 11. */
    LX_CHECK(t, ev->trigger.start == 10 && ev->trigger.end == 15 && ev->trigger.byte_start == 11);
    LX_CHECK_INT(t, ev->n_args, 3); /* two Effect pieces, one Treatment */
    const lexie_mention *a = find_arg(ev, "Effect", 0), *b = find_arg(ev, "Effect", 1);
    LX_CHECK(t, a && a->start == 0 && a->end == 9 && a->byte_end == 10);
    LX_CHECK(t, b && !strcmp(b->text, "fever") && b->start == 24 && b->byte_start == 25);
    LX_CHECK(t, find_arg(ev, "Treatment", 0) && !find_arg(ev, "Drug", 0));
    /* Drug (sub-argument) and Severity (attribute) are not loaded. */
    LX_CHECK_INT(t, s.n_unused, 2);
    ev = &s.docs[1].events[1];
    LX_CHECK(t, !strcmp(ev->trigger.text, "events") && find_arg(ev, "Subject", 0));
    /* Skipped: the blank line 2 and the trigger's second piece. */
    LX_CHECK_INT(t, s.skipped.n, 2);
    LX_CHECK(t, !strcmp(s.docs[1].id, "2_1") && s.docs[1].line == 3);
    lx_ie_set_free(&s);
    LX_CHECK(t, lx_ie_read_phee(fx(p, sizeof p, "phee_bad.jsonl"), &s, &e) == LEXIE_E_FORMAT);
    LX_CHECK_MSG(t, strstr(e.message, "phee_bad.jsonl:2:") && strstr(e.message, "does not match"),
                 "%s", e.message);
    lx_ie_set_free(&s);
}

static void test_adelie_reader(lx_t *t) {
    char p[512];
    lx_ie_set s = {0};
    lexie_error e;
    LX_REQUIRE(t, lx_ie_read_adelie(fx(p, sizeof p, "adelie.jsonl"), &s, &e) == LEXIE_OK);
    LX_REQUIRE(t, s.n == 2);
    LX_CHECK(t, !strcmp(s.docs[0].id, "0") && s.docs[0].n_turns == 1);
    LX_CHECK(t, !strcmp(s.docs[0].gold_answer, "(dolphin; Whole and Component; tail)\n"));
    LX_CHECK(t, !strcmp(s.docs[1].id, "q7") && s.docs[1].n_turns == 2);
    LX_CHECK(t, !strcmp(s.docs[1].turns[0].role, "system") &&
                    !strcmp(s.docs[1].turns[1].content, "List drugs."));
    lx_ie_set_free(&s);
    LX_CHECK(t, lx_ie_read_adelie(fx(p, sizeof p, "adelie_bad.jsonl"), &s, &e) == LEXIE_E_FORMAT);
    LX_CHECK_MSG(t, strstr(e.message, "adelie_bad.jsonl:2:"), "%s", e.message);
    lx_ie_set_free(&s);
}

/* ==== Entity F1 ==== */

static lexie_mention ment(const char *type, int s, int e, const char *model_text) {
    lexie_mention m;
    memset(&m, 0, sizeof m);
    m.type = (char *)type;
    m.start = s;
    m.end = e;
    m.byte_start = s;
    m.byte_end = e;
    m.match = model_text ? LEXIE_MATCH_NONE : LEXIE_MATCH_EXACT;
    m.model_text = (char *)model_text;
    if (model_text) m.start = m.end = -1;
    return m;
}

static void test_entity_f1(lx_t *t) {
    lexie_mention gold[] = {ment("person", 0, 4, NULL), ment("location", 10, 16, NULL)};
    lexie_mention pred[] = {
        ment("person", 0, 4, NULL),         ment("person", 0, 4, NULL),    /* twice: one */
        ment("location", 10, 15, NULL),                                    /* span off by one */
        ment("organization", 10, 16, NULL),                                /* wrong type */
        ment("person", -1, -1, "Bob"),      ment("person", -1, -1, "Bob"), /* ungrounded, once */
    };
    lx_prf m = {0};
    lexie_error e;
    LX_REQUIRE(t, lx_ie_score_entities(pred, 6, gold, 2, &m, &e) == LEXIE_OK);
    /* 4 distinct predictions, 1 correct, 2 gold: P 1/4, R 1/2, F1 1/3. */
    LX_CHECK(t, m.tp == 1 && m.pred == 4 && m.gold == 2);
    lx_prf_finish(&m);
    LX_CHECK_CLOSE(t, m.f1, 1.0 / 3, 1e-12);
    /* Counts add across documents. */
    LX_REQUIRE(t, lx_ie_score_entities(gold, 2, gold, 2, &m, &e) == LEXIE_OK);
    LX_CHECK(t, m.tp == 3 && m.pred == 6 && m.gold == 4);
}

/* ==== PHEE ==== */

static lexie_event event(lexie_mention trig, lexie_mention *args, int n) {
    lexie_event ev;
    memset(&ev, 0, sizeof ev);
    ev.trigger = trig;
    ev.args = args;
    ev.n_args = n;
    return ev;
}

static void test_phee_score(lx_t *t) {
    lexie_mention ga[] = {ment("Effect", 0, 9, NULL), ment("Effect", 24, 29, NULL),
                          ment("Treatment", 16, 22, NULL)};
    lexie_event gold[] = {event(ment("Adverse_event", 10, 15, NULL), ga, 3)};
    lexie_mention pa[] = {ment("Effect", 0, 9, NULL),          /* right */
                          ment("Effect", 24, 28, NULL),        /* span off */
                          ment("subject", 0, 3, NULL),         /* no such gold; role case-blind */
                          ment("Treatment", -1, -1, "niacin"), /* ungrounded */
                          ment("Drug", 16, 22, NULL)};         /* not a main argument: ignored */
    lexie_mention pb[] = {ment("Treatment", 16, 22, NULL)};
    lexie_event pred[] = {event(ment("Adverse_event", 10, 15, NULL), pa, 5),
                          /* same trigger span, wrong event type: its trigger and its
                          ** Treatment (right span, other type) are both wrong */
                          event(ment("Potential_therapeutic_event", 10, 15, NULL), pb, 1)};
    lx_phee_counts c;
    memset(&c, 0, sizeof c);
    lexie_error e;
    LX_REQUIRE(t, lx_phee_score(pred, 2, gold, 1, LX_PHEE_SPAN, &c, &e) == LEXIE_OK);
    LX_CHECK(t, c.trigger.tp == 1 && c.trigger.pred == 2 && c.trigger.gold == 1);
    LX_CHECK(t, c.effect.tp == 1 && c.effect.pred == 2 && c.effect.gold == 2);
    LX_CHECK(t, c.treatment.tp == 0 && c.treatment.pred == 2 && c.treatment.gold == 1);
    LX_CHECK(t, c.subject.tp == 0 && c.subject.pred == 1 && c.subject.gold == 0);
    LX_CHECK(t, c.args.tp == 1 && c.args.pred == 5 && c.args.gold == 3);
    lx_phee_counts_finish(&c);
    LX_CHECK_CLOSE(t, c.trigger.f1, 2.0 / 3, 1e-12); /* P 1/2, R 1 */
    LX_CHECK_CLOSE(t, c.args.f1, 0.25, 1e-12);       /* P 1/5, R 1/3 */

    /* TEXT mode (phee_metric.py): strings after _normalize_answer, so the
    ** ungrounded "niacin" matches the gold Treatment by its text. */
    lexie_mention gt[] = {ment("Treatment", 16, 22, NULL)};
    gt[0].text = "niacin";
    lexie_event g2[] = {event(ment("Adverse_event", 10, 15, NULL), gt, 1)};
    g2[0].trigger.text = "after";
    lexie_mention pt[] = {ment("Treatment", -1, -1, "Niacin.")};
    lexie_event p2[] = {event(ment("Adverse_event", -1, -1, "AFTER"), pt, 1)};
    memset(&c, 0, sizeof c);
    LX_REQUIRE(t, lx_phee_score(p2, 1, g2, 1, LX_PHEE_TEXT, &c, &e) == LEXIE_OK);
    LX_CHECK(t, c.treatment.tp == 1 && c.trigger.tp == 1);
    memset(&c, 0, sizeof c);
    LX_REQUIRE(t, lx_phee_score(p2, 1, g2, 1, LX_PHEE_SPAN, &c, &e) == LEXIE_OK);
    LX_CHECK(t, c.treatment.tp == 0 && c.treatment.pred == 1 && c.trigger.tp == 0);

    lx_jbuf b = {0};
    /* lower (O-umlaut too), split at punctuation, articles out. */
    lx_phee_normalize("An \xc3\x96lig-Rash, the  end.", &b);
    LX_CHECK_MSG(t, b.data && !strcmp(b.data, "\xc3\xb6lig rash end"), "%s", b.data);
    lx_jbuf_free(&b);
}

/* ==== CaRB ==== */

static lx_gold_tuple tup(const char *rel, const char **args, int n, double conf) {
    lx_gold_tuple g;
    g.rel = (char *)rel;
    g.args = (char **)args;
    g.n_args = n;
    g.confidence = conf;
    return g;
}

static void test_carb_match(lx_t *t) {
    double p, r;
    const char *ga[] = {"he", "tea"}, *pa[] = {"he", "green tea"};
    lx_gold_tuple g = tup("likes", ga, 2, 1), q = tup("likes", pa, 2, 1);
    /* rel 1/1, arg1 1/1, arg2: 1 of 2 predicted words, 1 of 1 gold word:
    ** precision 3/4, recall 3/3. */
    lx_carb_match(&g, &q, &p, &r);
    LX_CHECK(t, p == 0.75 && r == 1.0);
    /* "be" left over in the prediction matches the gold's "is". */
    const char *ba[] = {"Bob", "cat"};
    g = tup("is a", ba, 2, 1);
    q = tup("be a", ba, 2, 1);
    lx_carb_match(&g, &q, &p, &r);
    LX_CHECK(t, p == 1.0 && r == 1.0);
    /* No relation word in common: (0, 0) whatever the arguments. */
    q = tup("hates", ba, 2, 1);
    lx_carb_match(&g, &q, &p, &r);
    LX_CHECK(t, p == 0 && r == 0);
    /* A missing second argument: (0, 0). */
    q = tup("is a", ba, 1, 1);
    lx_carb_match(&g, &q, &p, &r);
    LX_CHECK(t, p == 0 && r == 0);
    /* Case counts: "Cat" is not "cat" (rel 2/2, Bob 1/1, cat 0/1). */
    const char *ca[] = {"Bob", "Cat"};
    q = tup("is a", ca, 2, 1);
    lx_carb_match(&g, &q, &p, &r);
    LX_CHECK(t, p == 0.75 && r == 0.75);
    /* Said-type relations also try the prediction's arguments swapped:
    ** straight (0.2, 0.2), swapped (1, 1). */
    const char *sa[] = {"Bob", "he likes tea"}, *sb[] = {"he likes tea", "Bob"};
    g = tup("said", sa, 2, 1);
    q = tup("said", sb, 2, 1);
    lx_carb_match(&g, &q, &p, &r);
    LX_CHECK(t, p == 1.0 && r == 1.0);
    /* Binarised: [Bob, "tea at noon"] on both sides. */
    const char *na[] = {"Bob", "tea", "at noon"}, *nb[] = {"Bob", "tea at noon"};
    g = tup("drinks", na, 3, 1);
    q = tup("drinks", nb, 2, 1);
    lx_carb_match(&g, &q, &p, &r);
    LX_CHECK(t, p == 1.0 && r == 1.0);
}

static void test_carb_curve(lx_t *t) {
    const char *a1[] = {"he", "tea"}, *a2[] = {"Bob", "he likes tea"}, *a3[] = {"Bob", "he"};
    const char *a4[] = {"The cat"};
    lx_gold_tuple gold[] = {tup("likes", a1, 2, 1), tup("said", a2, 2, 1)};
    /* P1 = G1 exactly (conf 0.9); P2 = (said; Bob; he) at 0.5, against G2:
    ** precision 3/3, recall 3/5. */
    lx_gold_tuple pred[] = {tup("likes", a1, 2, 0.9), tup("said", a3, 2, 0.5)};
    lx_gold_tuple g3[] = {tup("sat", a4, 1, 1)};
    lx_carb_acc a;
    memset(&a, 0, sizeof a);
    lx_carb_score s;
    lexie_error e;
    LX_REQUIRE(t, lx_carb_add(&a, gold, 2, pred, 2, &e) == LEXIE_OK);
    LX_REQUIRE(t, lx_carb_finish(&a, &s, &e) == LEXIE_OK);
    /* At 0.9: P 1/1, R (1 + 0)/2, F1 2/3.  At 0.5: P (1 + 1)/2, R (1 +
    ** 0.6)/2 = 0.8, F1 8/9: the best.  AUC over (0.8,1) (0.5,1) (0,1): 0.8. */
    LX_CHECK_INT(t, s.n_points, 2);
    LX_CHECK_CLOSE(t, s.p, 1.0, 1e-12);
    LX_CHECK_CLOSE(t, s.r, 0.8, 1e-12);
    LX_CHECK_CLOSE(t, s.f1, 8.0 / 9, 1e-12);
    LX_CHECK_CLOSE(t, s.threshold, 0.5, 0);
    LX_CHECK_CLOSE(t, s.auc, 0.8, 1e-12);
    /* A sentence without gold adds nothing; one without predictions adds
    ** its gold to recall: R at 0.5 = 1.6/3, at 0.9 = 1/3; AUC 1.6/3. */
    LX_REQUIRE(t, lx_carb_add(&a, NULL, 0, pred, 2, &e) == LEXIE_OK);
    LX_REQUIRE(t, lx_carb_add(&a, g3, 1, NULL, 0, &e) == LEXIE_OK);
    LX_CHECK(t, a.n_gold == 3 && a.n_pred == 2 && a.n_sent == 2);
    LX_REQUIRE(t, lx_carb_finish(&a, &s, &e) == LEXIE_OK);
    LX_CHECK_CLOSE(t, s.r, 1.6 / 3, 1e-12);
    LX_CHECK_CLOSE(t, s.auc, 1.6 / 3, 1e-12);
    lx_carb_acc_free(&a);
    /* No prediction at all: zeros, as carb.py returns. */
    LX_REQUIRE(t, lx_carb_add(&a, gold, 2, NULL, 0, &e) == LEXIE_OK);
    LX_REQUIRE(t, lx_carb_finish(&a, &s, &e) == LEXIE_OK);
    LX_CHECK(t, s.f1 == 0 && s.auc == 0 && s.n_points == 0);
    lx_carb_acc_free(&a);
}

/* ==== ADELIE ==== */

static void test_adelie_semeval(lx_t *t) {
    const char *g = "(dolphin; Whole and Component; tail)\n";
    lx_prf m = {0};
    lexie_error e;
    /* Exact after lower-casing, text after "[Answer]:": tp 1, pred 1, gold 1. */
    LX_CHECK(t, lx_adelie_semeval_score("[Answer]: (dolphin; whole and component; tail)", g, &m,
                                        &e) == LEXIE_OK);
    /* Reversed with the reversed relation: tp 1; pred 1 (its (tail, head)
    ** is gold's (head, tail) reversed); gold 1. */
    lx_adelie_semeval_score("(tail; Component and Whole; dolphin)", g, &m, &e);
    /* Other entities: not counted as predicted, and (the script's quirk)
    ** the gold is then left out of recall: 0, 0, 0. */
    lx_adelie_semeval_score("(fish; Whole and Component; fin)", g, &m, &e);
    /* A relation outside the 18: 0, 0, 0 likewise. */
    lx_adelie_semeval_score("(dolphin; part of; tail)", g, &m, &e);
    /* Empty gold (Other): "Not related" gives no triple: 0, 0, 0; a triple
    ** with a known relation is a false positive: 0, 1, 0. */
    lx_adelie_semeval_score("Not related", "", &m, &e);
    lx_adelie_semeval_score("(a; cause and effect; b)", "", &m, &e);
    LX_CHECK(t, m.tp == 2 && m.pred == 3 && m.gold == 2);
    /* The regex's greedy groups run to the last "; " of the line: two
    ** triples on one line are one wrong triple; on two lines both count. */
    memset(&m, 0, sizeof m);
    lx_adelie_semeval_score("(dolphin; whole and component; tail) (x; y; z)", g, &m, &e);
    LX_CHECK(t, m.tp == 0);
    lx_adelie_semeval_score("(dolphin; whole and component; tail)\n(x; y; z)", g, &m, &e);
    LX_CHECK(t, m.tp == 1 && m.gold == 1);
    LX_CHECK(t, lx_adelie_semeval_score("x", "garbage", &m, &e) == LEXIE_E_FORMAT);
    /* lexie's label on (dolphin, tail) in the answer shape scores as gold. */
    lx_jbuf b = {0};
    lx_semeval_answer("dolphin", "tail", "Component-Whole(e2,e1)", &b);
    LX_CHECK_MSG(t, b.data && !strcmp(b.data, "(dolphin; whole and component; tail)"), "%s",
                 b.data);
    memset(&m, 0, sizeof m);
    lx_adelie_semeval_score(b.data, g, &m, &e);
    LX_CHECK(t, m.tp == 1 && m.pred == 1 && m.gold == 1);
    lx_jbuf_reset(&b);
    lx_semeval_answer("a", "b", "Other", &b);
    LX_CHECK(t, b.data && b.len == 0);
    lx_jbuf_free(&b);
}

static void test_adelie_fewnerd(lx_t *t) {
    const char *g = "Ceux de Falesa: art_writtenart; Robert Louis Stevenson: person_artist/author; "
                    "Paris: location_GPE; ";
    const char *o = "[Answer]: robert louis stevenson: person_artist/author; Ceux de Falesa: "
                    "art_film; paris: location_GPE; extra: product_car.; a: b: person_actor";
    lx_prf m = {0};
    lexie_error e;
    /* Gold: 2 (GPE never counts: ADELIE's list says "location_GPE", answers
    ** are lower-cased).  Answer: robert, ceux (wrong type), extra ('.'
    ** dropped), "a: b: ..." has two colons and is dropped: 3.  Correct: 1. */
    LX_REQUIRE(t, lx_adelie_fewnerd_score(o, g, 0, &m, &e) == LEXIE_OK);
    LX_CHECK(t, m.tp == 1 && m.pred == 3 && m.gold == 2);
    memset(&m, 0, sizeof m);
    LX_REQUIRE(t, lx_adelie_fewnerd_score(o, g, LX_FEWNERD_KEEP_GPE, &m, &e) == LEXIE_OK);
    LX_CHECK(t, m.tp == 2 && m.pred == 4 && m.gold == 3);
}

static void test_adelie_ondemand(lx_t *t) {
    const char *g = "[Answer]: | Drug | Dose |\n| --- | --- |\n| aspirin | 1 g |";
    const char *o = "Here:\n| Drug name | Route |\n|---|---|\n| aspirin | oral |";
    lx_odie_counts c;
    memset(&c, 0, sizeof c);
    lexie_error e;
    LX_REQUIRE(t, lx_adelie_ondemand_score(o, g, &c, &e) == LEXIE_OK);
    /* Headers: sim("drug", "drug name") = token F1 2/3, all others 0:
    ** P = (2/3 + 0)/2, R = (2/3 + 0)/2, F1 = 1/3. */
    lx_odie_score s;
    lx_odie_finish(&c, &s);
    LX_CHECK_CLOSE(t, s.header_f1, 1.0 / 3, 1e-12);
    /* Content, ROUGE-Lsum: gold lines [drug dose] [] [aspirin 1 g], answer
    ** [drug name route] [] [aspirin oral]: union-LCS hits drug, aspirin:
    ** 2/5 both ways, F 0.4 (rouge_score gives 0.4000000000000001). */
    LX_CHECK_CLOSE(t, s.rouge_lsum, 0.4, 1e-12);
    /* The same table scores 1 everywhere; counts add. */
    LX_REQUIRE(t, lx_adelie_ondemand_score(g + 10, g, &c, &e) == LEXIE_OK);
    LX_CHECK_INT(t, c.n, 2);
    lx_odie_finish(&c, &s);
    LX_CHECK_CLOSE(t, s.rouge_lsum, 0.7, 1e-12);
    /* Double counting is prevented: the answer's second copy adds no hit. */
    LX_CHECK_CLOSE(t, lx_rouge_lsum("a b\na b", "a b"), 2.0 / 3, 1e-12);
}

static void test_md_table(lx_t *t) {
    lx_md_table tb;
    lexie_error e;
    LX_REQUIRE(t, lx_md_table_parse("intro\n| A | B |\n|---|:-:|\n| 1 | 2 |\n| 3 |\nafter | x", &tb,
                                    &e) == LEXIE_OK);
    LX_CHECK(t, tb.n_cols == 2 && !strcmp(tb.header[0], "A") && !strcmp(tb.header[1], "B"));
    LX_CHECK(t, tb.n_rows == 2 && tb.n_cells[0] == 2 && !strcmp(tb.rows[0][1], "2"));
    LX_CHECK(t, tb.n_cells[1] == 1 && !strcmp(tb.rows[1][0], "3"));
    lx_md_table_free(&tb);
    LX_CHECK(t, lx_md_table_parse("no table here", &tb, &e) == LEXIE_E_FORMAT);
}

/* ==== From lexie_extraction ==== */

static void test_conversions(lx_t *t) {
    lexie_mention ents[] = {ment("location", 0, 5, NULL), ment("person", -1, -1, "Bob")};
    ents[0].text = "Paris";
    lexie_mention when = ment("time", 20, 25, NULL);
    when.text = "today";
    lexie_triple tr;
    memset(&tr, 0, sizeof tr);
    tr.subject = ment(NULL, 0, 3, NULL);
    tr.subject.text = "Bob";
    tr.relation = ment(NULL, -1, -1, "likes");
    tr.object = ment(NULL, 10, 13, NULL);
    tr.object.text = "tea";
    tr.time = &when;
    tr.confidence = 0.5f;
    lexie_extraction x;
    memset(&x, 0, sizeof x);
    x.entities = ents;
    x.n_entities = 2;
    x.triples = &tr;
    x.n_triples = 1;
    lx_jbuf b = {0};
    lx_fewnerd_answer(&x, &b);
    LX_CHECK_MSG(t, b.data && !strcmp(b.data, "Paris: location; Bob: person; "), "%s", b.data);
    lx_jbuf_free(&b);
    lx_gold_tuple *tu;
    int n;
    lexie_error e;
    LX_REQUIRE(t, lx_carb_from_extraction(&x, &tu, &n, &e) == LEXIE_OK && n == 1);
    LX_CHECK(t, !strcmp(tu[0].rel, "likes") && tu[0].n_args == 3);
    LX_CHECK(t, !strcmp(tu[0].args[0], "Bob") && !strcmp(tu[0].args[2], "today"));
    LX_CHECK_CLOSE(t, tu[0].confidence, 0.5, 0);
    lx_gold_tuple_clear(&tu[0]);
    free(tu);
}

/* ==== The real data sets (skipped when absent) ==== */

static void test_real_sets(lx_t *t) {
    static const struct {
        const char *rel;
        int docs, ents;
    } iob[] = {{"conll2003/test.txt", 3453, 5628},
               {"ncbi_disease_iob/test.tsv", 940, 960},
               {"bc5cdr_iob/test.tsv", 4797, 9809}};
    char p[1024], q[1024];
    lx_ie_set s = {0};
    lexie_error e;
    if (access(lx_test_data_path(p, sizeof p, iob[0].rel), R_OK) != 0)
        LX_SKIP(t, "no data under %s", lx_test_data());
    for (size_t i = 0; i < 3; i++) {
        LX_REQUIRE(t, lx_ie_read_iob(lx_test_data_path(p, sizeof p, iob[i].rel), &s, &e) == 0);
        long n = 0;
        for (int k = 0; k < s.n; k++) n += s.docs[k].n_ents;
        LX_CHECK_INT(t, s.n, iob[i].docs);
        LX_CHECK_INT(t, n, iob[i].ents);
        lx_ie_set_free(&s);
    }
    LX_REQUIRE(t, lx_ie_read_carb(lx_test_data_path(p, sizeof p, "carb/dev_sentences.txt"),
                                  lx_test_data_path(q, sizeof q, "carb/dev.tsv"), &s, &e) == 0);
    long nt = 0;
    for (int k = 0; k < s.n; k++) nt += s.docs[k].n_tuples;
    LX_CHECK(t, s.n == 641 && nt == 2548); /* every gold tuple found its sentence */
    lx_carb_acc a = {0};
    for (int k = 0; k < s.n; k++)
        lx_carb_add(&a, s.docs[k].tuples, s.docs[k].n_tuples, s.docs[k].tuples, s.docs[k].n_tuples,
                    &e);
    lx_carb_score cs;
    LX_CHECK(t, lx_carb_finish(&a, &cs, &e) == 0 && cs.f1 == 1.0);
    lx_carb_acc_free(&a);
    lx_ie_set_free(&s);
    LX_REQUIRE(t, lx_ie_read_phee(lx_test_data_path(p, sizeof p, "phee/test.jsonl"), &s, &e) == 0);
    long ne = 0;
    for (int k = 0; k < s.n; k++) ne += s.docs[k].n_events;
    LX_CHECK(t, s.n == 968 && ne == 1010);
    lx_ie_set_free(&s);
    static const struct {
        const char *rel;
        int n;
    } ad[] = {{"semeval", 1000}, {"few-nerd-supervised", 1000}, {"ondemand", 150}};
    for (size_t i = 0; i < 3; i++) {
        char r[128];
        snprintf(r, sizeof r, "adelie_testsets/zeroshot/%s.jsonl", ad[i].rel);
        LX_REQUIRE(t, lx_ie_read_adelie(lx_test_data_path(p, sizeof p, r), &s, &e) == 0);
        LX_CHECK_INT(t, s.n, ad[i].n);
        lx_ie_set_free(&s);
    }
}

/* ==== Allocation failures ==== */

/* Reader i on its fixture; the set is freed. */
static lexie_status read_one(int i) {
    char p[512], q[512];
    static const char *const iob[] = {"mini.iob", "mini_bio.iob"};
    lx_ie_set s = {0};
    lexie_error e;
    lexie_status rc;
    if (i < 2)
        rc = lx_ie_read_iob(fx(p, sizeof p, iob[i]), &s, &e);
    else if (i == 2)
        rc = lx_ie_read_carb(fx(p, sizeof p, "carb_sentences.txt"),
                             fx(q, sizeof q, "carb_gold.tsv"), &s, &e);
    else if (i == 3)
        rc = lx_ie_read_phee(fx(p, sizeof p, "phee.jsonl"), &s, &e);
    else
        rc = lx_ie_read_adelie(fx(p, sizeof p, "adelie.jsonl"), &s, &e);
    lx_ie_set_free(&s);
    return rc;
}

/* Every scorer once, on small inputs. */
static void score_all(void) {
    lexie_error e;
    lx_prf m = {0};
    lx_adelie_semeval_score("(tail; Component and Whole; dolphin)",
                            "(dolphin; Whole and Component; tail)", &m, &e);
    lx_adelie_fewnerd_score("[Answer]: a: art_film; b: other_god", "a: art_film; ", 0, &m, &e);
    lx_odie_counts oc = {0};
    lx_adelie_ondemand_score("| A b | C |\n|---|---|\n| x | |", "| a | c |\n| x | y |", &oc, &e);
    lx_md_table tb;
    if (lx_md_table_parse("| A | B |\n|---|---|\n| 1 | 2 |", &tb, &e) == LEXIE_OK)
        lx_md_table_free(&tb);
    const char *a1[] = {"he", "tea"}, *a2[] = {"Bob", "he likes tea"};
    lx_gold_tuple g[] = {tup("likes", a1, 2, 1), tup("said", a2, 2, 1)};
    lx_gold_tuple pr[] = {tup("likes", a1, 2, 0.9), tup("said", a2, 2, 0.5)};
    lx_carb_acc a = {0};
    lx_carb_score cs;
    if (lx_carb_add(&a, g, 2, pr, 2, &e) == LEXIE_OK) lx_carb_finish(&a, &cs, &e);
    lx_carb_acc_free(&a);
    lexie_mention ga[] = {ment("Effect", 0, 9, NULL)};
    lexie_event ev[] = {event(ment("Adverse_event", 10, 15, NULL), ga, 1)};
    lx_phee_counts pc = {0};
    lx_phee_score(ev, 1, ev, 1, LX_PHEE_TEXT, &pc, &e);
    lexie_mention en[] = {ment("person", 0, 4, NULL), ment("person", -1, -1, "Bob")};
    lx_ie_score_entities(en, 2, en, 2, &m, &e);
}

/* Each reader with its k-th allocation failing, for every k until a run
** needs fewer: it must fail (never return a partial set as complete) and
** leave nothing allocated.  The scorers likewise must leave nothing. */
static void test_alloc_failures(lx_t *t) {
    for (int i = 0; i < 5; i++) {
        long n = 0;
        int failed = 1, k;
        for (k = 1; failed && k < 100000; k++) {
            lx_alloc_begin(k, 0);
            lexie_status rc = read_one(i);
            long live = lx_alloc_end(&n, &failed);
            LX_CHECK_MSG(t, live == 0, "reader %d, allocation %d: %ld blocks left", i, k, live);
            LX_CHECK_MSG(t, !failed || rc != LEXIE_OK, "reader %d, allocation %d failed unseen", i,
                         k);
            if (live || (failed && rc == LEXIE_OK)) break;
        }
        LX_CHECK_MSG(t, n > 3 && k > 3, "reader %d: %ld allocations", i, n);
    }
    long n = 0;
    int failed = 1;
    for (int k = 1; failed && k < 100000; k++) {
        lx_alloc_begin(k, 0);
        score_all();
        long live = lx_alloc_end(&n, &failed);
        LX_CHECK_MSG(t, live == 0, "scorers, allocation %d: %ld blocks left", k, live);
        if (live) break;
    }
    LX_CHECK(t, n > 50);
}

void suite_ie_eval(void) {
    LX_RUN(test_iob_reader);
    LX_RUN(test_iob_errors);
    LX_RUN(test_carb_reader);
    LX_RUN(test_phee_reader);
    LX_RUN(test_adelie_reader);
    LX_RUN(test_entity_f1);
    LX_RUN(test_phee_score);
    LX_RUN(test_carb_match);
    LX_RUN(test_carb_curve);
    LX_RUN(test_adelie_semeval);
    LX_RUN(test_adelie_fewnerd);
    LX_RUN(test_adelie_ondemand);
    LX_RUN(test_md_table);
    LX_RUN(test_conversions);
    LX_RUN(test_real_sets);
    LX_RUN(test_alloc_failures);
}
