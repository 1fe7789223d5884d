/*
** report.c -- evaluation reports: one JSON object with provenance, every
** metric, per-label scores and the confusion matrix; and the same as a
** readable text table.
*/
#include "eval.h"

#include <string.h>

static void prf_json(lx_jbuf *b, const lx_prf *m) {
    lx_jbuf_printf(b, "{\"p\":%.4f,\"r\":%.4f,\"f1\":%.4f,\"tp\":%lld,\"pred\":%lld,\"gold\":%lld}",
                   m->p, m->r, m->f1, (long long)m->tp, (long long)m->pred, (long long)m->gold);
}

static void kv_str(lx_jbuf *b, const char *k, const char *v) {
    lx_jbuf_printf(b, "\"%s\":", k);
    lx_jbuf_cstr(b, v);
    lx_jbuf_putc(b, ',');
}

/* What a full evaluation adds: the oracle none threshold, the other
** decision rule's scores, and the mean probability of each label. */
static void extra_json(lx_jbuf *b, const lx_re_report_extra *x, const lx_re_counts *c) {
    lx_jbuf_printf(b,
                   ",\"threshold_tuning\":{\"best_threshold\":%.6g,\"micro_f1\":%.4f,"
                   "\"note\":\"oracle on this split: tune on dev, apply on test\"}",
                   x->best_threshold, x->best_f1);
    lx_jbuf_puts(b, ",");
    lx_jbuf_cstr(b, x->alt_key);
    lx_jbuf_printf(b, ":{\"micro\":{\"p\":%.4f,\"r\":%.4f,\"f1\":%.4f},\"semeval_macro_f1\":",
                   x->alt_micro.p, x->alt_micro.r, x->alt_micro.f1);
    if (x->alt_has_semeval)
        lx_jbuf_printf(b, "%.4f}", x->alt_semeval_f1);
    else
        lx_jbuf_puts(b, "null}");
    /* The model's prior over the answers: its position bias, in QA4RE. */
    lx_jbuf_puts(b, ",\"mean_probability\":{");
    for (int l = 0; l < c->n_labels; l++) {
        if (l) lx_jbuf_putc(b, ',');
        lx_jbuf_cstr(b, c->labels[l]);
        lx_jbuf_printf(b, ":%.4g", x->mean_probability[l]);
    }
    lx_jbuf_putc(b, '}');
}

void lx_re_report_json(lx_jbuf *b, const lx_re_run_info *in, const lx_re_counts *c) {
    lx_jbuf_putc(b, '{');
    kv_str(b, "lexie_version", lexie_version());
    kv_str(b, "command", in->command);
    kv_str(b, "dataset", in->dataset);
    kv_str(b, "split", in->split);
    kv_str(b, "method", in->method);
    lx_jbuf_printf(b, "\"shots\":%d,\"seed\":%llu,\"n_permute\":%d,\"free_gen\":%s,", in->shots,
                   (unsigned long long)in->seed, in->n_permute, in->free_gen ? "true" : "false");
    kv_str(b, "model", in->model_name);
    kv_str(b, "model_sha256", in->model_sha256);
    kv_str(b, "schema", in->schema_name);
    kv_str(b, "schema_sha256", in->schema_sha256);
    kv_str(b, "config_hash", in->config_hash);
    kv_str(b, "predictions", in->predictions);
    lx_jbuf_puts(b, "\"none_threshold\":");
    if (in->threshold > 0)
        lx_jbuf_num(b, in->threshold);
    else
        lx_jbuf_puts(b, "null");
    lx_jbuf_printf(b,
                   ",\"batch_calibrated\":%s,\"prior_from\":", in->calibrated ? "true" : "false");
    if (in->calibrated && in->prior_from)
        lx_jbuf_cstr(b, in->prior_from);
    else
        lx_jbuf_puts(b, "null");
    lx_jbuf_printf(b, ",\"n_examples\":%lld,\"n_scored\":%lld,\"n_computed_this_run\":%lld,",
                   (long long)in->n_examples, (long long)c->n, (long long)in->n_computed);
    lx_jbuf_puts(b, "\"seconds_this_run\":");
    lx_jbuf_num(b, in->seconds);
    lx_jbuf_puts(b, ",\"examples_per_second\":");
    lx_jbuf_num(b, in->examples_per_s);
    lx_jbuf_printf(b, ",\"invalid\":%lld,\"invalid_rate\":", (long long)c->n_invalid);
    lx_jbuf_num(b, c->n ? (double)c->n_invalid / (double)c->n : 0.0);
    lx_jbuf_puts(b, ",\"accuracy\":");
    lx_jbuf_num(b, lx_re_accuracy(c));
    lx_jbuf_puts(b, ",\"micro\":");
    lx_prf mi = lx_re_micro(c);
    prf_json(b, &mi);
    lx_semeval_score sv;
    if (lx_semeval_official(c, &sv)) {
        lx_jbuf_printf(b,
                       ",\"semeval_official\":{\"macro_p\":%.4f,\"macro_r\":%.4f,\"macro_f1\":%.4f,"
                       "\"relations\":[",
                       sv.macro_p, sv.macro_r, sv.macro_f1);
        for (int i = 0; i < sv.n_rels; i++) {
            lx_jbuf_printf(b, "%s{\"relation\":", i ? "," : "");
            lx_jbuf_cstr(b, sv.rels[i].name);
            lx_jbuf_printf(
                b, ",\"wrong_direction\":%lld,\"scores\":", (long long)sv.rels[i].wrong_dir);
            prf_json(b, &sv.rels[i].prf);
            lx_jbuf_putc(b, '}');
        }
        lx_jbuf_puts(b, "]}");
    }
    lx_jbuf_puts(b, ",\"per_label\":[");
    for (int l = 0; l < c->n_labels; l++) {
        lx_prf m = lx_re_label_prf(c, l);
        lx_jbuf_printf(b, "%s{\"label\":", l ? "," : "");
        lx_jbuf_cstr(b, c->labels[l]);
        lx_jbuf_puts(b, ",\"scores\":");
        prf_json(b, &m);
        lx_jbuf_putc(b, '}');
    }
    lx_jbuf_puts(b, "],\"confusion\":{\"rows\":\"gold\",\"columns\":\"predicted\",\"labels\":[");
    for (int l = 0; l < c->n_labels; l++) {
        if (l) lx_jbuf_putc(b, ',');
        lx_jbuf_cstr(b, c->labels[l]);
    }
    lx_jbuf_puts(b, "],\"matrix\":[");
    for (int g = 0; g < c->n_labels; g++) {
        lx_jbuf_puts(b, g ? ",[" : "[");
        for (int p = 0; p < c->n_labels; p++)
            lx_jbuf_printf(b, "%s%lld", p ? "," : "",
                           (long long)c->conf[(size_t)g * c->n_labels + p]);
        lx_jbuf_putc(b, ']');
    }
    lx_jbuf_puts(b, "]}");
    if (in->extra) extra_json(b, in->extra, c);
    lx_jbuf_puts(b, "}\n");
}

/* A short column name for the confusion matrix: initials of the words
** plus the direction, e.g. "Cause-Effect(e2,e1)" -> "CE21". */
static void short_name(const char *l, char *out, size_t n) {
    size_t o = 0;
    int start = 1;
    for (const char *p = l; *p && o + 1 < n; p++) {
        if (*p == '(') {
            if (p[1] == 'e' && p[2] && p[3] == ',' && p[4] == 'e' && p[5] && o + 3 < n) {
                out[o++] = p[2];
                out[o++] = p[5];
            }
            break;
        }
        int alpha =
            (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9');
        if (alpha && start) out[o++] = *p >= 'a' && *p <= 'z' ? (char)(*p - 32) : *p;
        start = !alpha;
    }
    if (o == 0 && o + 1 < n) out[o++] = '?';
    out[o] = 0;
}

void lx_re_report_table(lx_jbuf *b, const lx_re_run_info *in, const lx_re_counts *c) {
    lx_prf mi = lx_re_micro(c);
    lx_jbuf_printf(b, "lexie %s  %s/%s  method=%s shots=%d seed=%llu permute=%d%s\n",
                   lexie_version(), in->dataset, in->split, in->method, in->shots,
                   (unsigned long long)in->seed, in->n_permute,
                   in->free_gen ? " free-generation" : "");
    lx_jbuf_printf(b, "model %s (sha256 %.12s)  schema %s (sha256 %.12s)  config %s\n",
                   in->model_name, in->model_sha256 ? in->model_sha256 : "?", in->schema_name,
                   in->schema_sha256 ? in->schema_sha256 : "?",
                   in->config_hash ? in->config_hash : "?");
    if (in->command) lx_jbuf_printf(b, "command: %s\n", in->command);
    lx_jbuf_printf(
        b, "examples %lld scored of %lld selected; %lld computed in this run, %.2f examples/s\n",
        (long long)c->n, (long long)in->n_examples, (long long)in->n_computed, in->examples_per_s);
    if (in->threshold > 0) lx_jbuf_printf(b, "none threshold %.3f\n", in->threshold);
    if (in->calibrated && in->prior_from)
        lx_jbuf_printf(b, "decisions calibrated: probabilities divided by the mean ones of %s\n",
                       in->prior_from);
    else if (in->calibrated)
        lx_jbuf_puts(b, "decisions batch-calibrated: probabilities divided by their mean over "
                        "these examples\n");
    lx_jbuf_printf(b,
                   "\nmicro (positive labels)  P %6.2f  R %6.2f  F1 %6.2f   (%lld correct / %lld "
                   "predicted / %lld gold)\n",
                   100 * mi.p, 100 * mi.r, 100 * mi.f1, (long long)mi.tp, (long long)mi.pred,
                   (long long)mi.gold);
    lx_jbuf_printf(b, "accuracy %6.2f   invalid answers %lld (%.2f%%)\n", 100 * lx_re_accuracy(c),
                   (long long)c->n_invalid, c->n ? 100.0 * c->n_invalid / c->n : 0.0);
    lx_semeval_score sv;
    if (lx_semeval_official(c, &sv)) {
        lx_jbuf_printf(
            b, "SemEval official (9+1)-way, direction-aware: macro P %6.2f  R %6.2f  F1 %6.2f\n",
            100 * sv.macro_p, 100 * sv.macro_r, 100 * sv.macro_f1);
        for (int i = 0; i < sv.n_rels; i++)
            lx_jbuf_printf(b, "  %-20s P %6.2f  R %6.2f  F1 %6.2f  (wrong direction %lld)\n",
                           sv.rels[i].name, 100 * sv.rels[i].prf.p, 100 * sv.rels[i].prf.r,
                           100 * sv.rels[i].prf.f1, (long long)sv.rels[i].wrong_dir);
    }
    lx_jbuf_puts(b, "\nper label                          P       R      F1    gold  pred\n");
    for (int l = 0; l < c->n_labels; l++) {
        lx_prf m = lx_re_label_prf(c, l);
        lx_jbuf_printf(b, "  %-30.30s %6.2f  %6.2f  %6.2f  %6lld %5lld%s\n", c->labels[l],
                       100 * m.p, 100 * m.r, 100 * m.f1, (long long)m.gold, (long long)m.pred,
                       l == c->none ? "  (none)" : "");
    }
    lx_jbuf_puts(b, "\nconfusion (rows gold, columns predicted)\n       ");
    char sn[16];
    for (int p = 0; p < c->n_labels; p++) {
        short_name(c->labels[p], sn, sizeof sn);
        lx_jbuf_printf(b, " %5.5s", sn);
    }
    lx_jbuf_putc(b, '\n');
    for (int g = 0; g < c->n_labels; g++) {
        short_name(c->labels[g], sn, sizeof sn);
        lx_jbuf_printf(b, "  %5.5s", sn);
        for (int p = 0; p < c->n_labels; p++)
            lx_jbuf_printf(b, " %5lld", (long long)c->conf[(size_t)g * c->n_labels + p]);
        lx_jbuf_putc(b, '\n');
    }
}
