/*
** test_calibrate.c -- decisions from per-label probabilities: argmax and
** none threshold, batch calibration on a hand-made batch, and a prior
** read back from an evaluation report (good and bad reports).
*/
#include "ie/ie.h"
#include "re_fixture.h"

#include <stdlib.h>
#include <string.h>

/* Batch calibration on a hand-made batch: the model says label 0 to
** everything, most strongly where 0 is wrong; dividing by the mean profile
** recovers the examples where another label stands out. */
static void test_calibration(lx_t *t) {
    static const float p0[3] = {0.6f, 0.3f, 0.1f}, p1[3] = {0.6f, 0.1f, 0.3f},
                       p2[3] = {0.8f, 0.1f, 0.1f}, p3[3] = {0.0f, 0.0f, 1.0f};
    const float *probs[4] = {p0, p1, p2, p3};
    double prior[3];
    lx_re_prior(probs, 3, 3, prior);
    LX_CHECK_CLOSE(t, prior[0], 2.0 / 3, 1e-6);
    LX_CHECK_CLOSE(t, prior[1], 0.5 / 3, 1e-6);
    LX_CHECK_CLOSE(t, prior[2], 0.5 / 3, 1e-6);
    /* 0.3 / (1/6) = 1.8 beats 0.6 / (2/3) = 0.9. */
    LX_CHECK_INT(t, lx_re_decide_calibrated(p0, prior, 3), 1);
    LX_CHECK_INT(t, lx_re_decide_calibrated(p1, prior, 3), 2);
    /* 0.8 / (2/3) = 1.2 against 0.1 / (1/6) = 0.6: the strong 0 stays. */
    LX_CHECK_INT(t, lx_re_decide_calibrated(p2, prior, 3), 0);
    /* A label never offered in the batch (prior 0) is never chosen, nor one
    ** with probability 0 here; nothing left: the none label. */
    double zero[3] = {0.5, 0.5, 0.0};
    LX_CHECK_INT(t, lx_re_decide_calibrated(p3, zero, 3), 2);
    LX_CHECK_INT(t, lx_re_decide_calibrated(p3, prior, 3), 2);
    double none_only[3] = {0.0, 0.0, 0.0};
    LX_CHECK_INT(t, lx_re_decide_calibrated(p0, none_only, 3), 2);
    lx_re_prior(probs, 0, 3, prior); /* an empty batch: zeros, no division */
    LX_CHECK(t, prior[0] == 0.0 && prior[2] == 0.0);
}

/* A prior from another run's report: every label once, in any order; what
** is missing, foreign or out of range is an error that names it. */
static void prior_case(lx_t *t, const lx_re_schema *s, const char *json, const char *want_err) {
    char *path = write_tmp(json);
    LX_REQUIRE(t, path);
    double prior[4];
    lexie_error e;
    lexie_status st = lx_re_prior_load(path, s, prior, &e);
    if (!want_err) {
        LX_CHECK(t, st == LEXIE_OK);
        LX_CHECK_CLOSE(t, prior[0], 0.5, 1e-12);  /* lives_in */
        LX_CHECK_CLOSE(t, prior[1], 0.25, 1e-12); /* works_for */
        LX_CHECK_CLOSE(t, prior[2], 0.0, 1e-12);  /* born_in */
        LX_CHECK_CLOSE(t, prior[3], 0.25, 1e-12); /* none */
    } else {
        LX_CHECK(t, st != LEXIE_OK);
        LX_CHECK(t, strstr(e.message, want_err) != NULL);
        if (!strstr(e.message, want_err)) fprintf(stderr, "    got: %s\n", e.message);
    }
    remove(path);
    free(path);
}

static void test_prior_load(lx_t *t) {
    lx_re_schema *s = toy(t);
    LX_REQUIRE(t, s);
    prior_case(t, s,
               "{\"micro\": {}, \"mean_probability\": {\"none\": 0.25, \"born_in\": 0, "
               "\"works_for\": 0.25, \"lives_in\": 0.5}}",
               NULL);
    prior_case(t, s, "{\"mean_probability\": {\"none\": 0.25, \"lives_in\": 0.5}}",
               "no mean_probability for label \"works_for\"");
    prior_case(t, s,
               "{\"mean_probability\": {\"none\": 0.2, \"born_in\": 0, \"works_for\": 0.2, "
               "\"lives_in\": 0.5, \"Other\": 0.1}}",
               "label \"Other\" is not in schema toy");
    prior_case(t, s, "{\"mean_probability\": {\"none\": 1.5}}",
               "mean_probability of \"none\" must be a number in [0, 1]");
    prior_case(t, s, "{\"mean_probability\": [0.5]}", "no \"mean_probability\" object");
    prior_case(t, s, "{\"mean_probability\": ", "line 1");
    lx_re_schema_free(s);
}

/* The decision rules through the public API, on four labels (none last). */
static void test_decide(lx_t *t) {
    lx_re_schema *s = toy(t);
    LX_REQUIRE(t, s);
    float p[4] = {0.2f, 0.3f, 0.1f, 0.4f}, tie[4] = {0.3f, 0.3f, 0.1f, 0.3f};
    float only_none[4] = {0, 0, 0, 0.2f};
    LX_CHECK_INT(t, lexie_re_decide(s, p, 0), 3);            /* argmax: none */
    LX_CHECK_INT(t, lexie_re_decide(s, p, 0.5f), 1);         /* none under the threshold */
    LX_CHECK_INT(t, lexie_re_decide(s, p, 0.4f), 3);         /* at it: none */
    LX_CHECK_INT(t, lexie_re_decide(s, tie, 0), 0);          /* ties to the earlier label */
    LX_CHECK_INT(t, lexie_re_decide(s, only_none, 0.5f), 3); /* no relation has mass */
    LX_CHECK_INT(t, lexie_re_decide(NULL, p, 0), -1);
    const float *rows[2] = {p, tie};
    double prior[4];
    lexie_re_prior(rows, 2, 4, prior);
    LX_CHECK_CLOSE(t, prior[0], 0.25, 1e-6);
    LX_CHECK_CLOSE(t, prior[3], 0.35, 1e-6);
    /* p / prior = 0.8, 1, 1, 1.14: none; tie / prior = 1.2, 1, 1, 0.86: label 0. */
    LX_CHECK_INT(t, lexie_re_decide_calibrated(p, prior, 4), 3);
    LX_CHECK_INT(t, lexie_re_decide_calibrated(tie, prior, 4), 0);
    lexie_re_prior(rows, 0, 4, prior); /* no examples: no prior, so none */
    LX_CHECK(t, prior[0] == 0 && prior[3] == 0);
    LX_CHECK_INT(t, lexie_re_decide_calibrated(p, prior, 4), 3);
    lexie_error e;
    LX_CHECK(t, lexie_re_prior_load(NULL, s, prior, &e) == LEXIE_E_INVALID);
    LX_CHECK(t, lexie_re_prior_load("/nonexistent/r.json", s, prior, &e) == LEXIE_E_IO);
    lx_re_schema_free(s);
}

void suite_calibrate(void) {
    LX_RUN(test_calibration);
    LX_RUN(test_prior_load);
    LX_RUN(test_decide);
}
