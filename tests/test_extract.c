/*
** test_extract.c -- the extraction tasks without a real model: the lexie
** schema file and its errors, the answer schemas (they compile, accept a
** well-formed answer, refuse an undeclared type), reading answers back
** (grounded offsets, flagged spans, entity sharing, confidence as the
** lowest token probability of an item), the output line, tables; then on
** the tiny random-weight fixture model: batched generation gives each
** answer exactly as alone, and whatever the model writes, every output
** line parses and every span is grounded or flagged.
*/
#include "base/base.h"
#include "base/json.h"
#include "ie/extract/extract.h"
#include "lexie.h"
#include "lx_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char SCHEMA[] =
    "{\"name\": \"news\",\n"
    " \"entities\": [\"person\", {\"type\": \"organization\", \"description\": \"firms\"}, "
    "\"location\"],\n"
    " \"relations\": [{\"label\": \"works_for\", \"template\": \"{subj} works for {obj}\",\n"
    "                \"types\": [[\"person\", \"organization\"]]}],\n"
    " \"events\": [{\"type\": \"Travel\", \"roles\": [\"Traveler\", {\"role\": \"Destination\", "
    "\"description\": \"where\"}]},\n"
    "            {\"type\": \"Hire\"}]}";

static lx_ie_schema *parse(const char *json, lexie_error *e) {
    return lx_ie_schema_parse(json, strlen(json), "s.json", e);
}

static void test_extract_schema(lx_t *t) {
    lexie_error e;
    lx_ie_schema *s = parse(SCHEMA, &e);
    LX_REQUIRE(t, s != NULL);
    LX_CHECK_INT(t, s->n_entities, 3);
    LX_CHECK(t, strcmp(s->entities[1].name, "organization") == 0);
    LX_CHECK(t, strcmp(s->entities[1].description, "firms") == 0);
    LX_CHECK(t, s->entities[0].description == NULL);
    LX_CHECK_INT(t, s->n_events, 2);
    LX_CHECK_INT(t, s->events[0].n_roles, 2);
    LX_CHECK(t, strcmp(s->events[0].roles[1].description, "where") == 0);
    LX_CHECK_INT(t, s->events[1].n_roles, 0);
    LX_REQUIRE(t, s->rel != NULL);
    LX_CHECK_INT(t, s->rel->n_rels, 1);
    LX_CHECK_INT(t, lexie_ie_schema_n_entity_types(s), 3);
    LX_CHECK(t, strcmp(lexie_ie_schema_event_type(s, 1), "Hire") == 0);
    LX_CHECK(t, lexie_ie_schema_event_type(s, 2) == NULL);
    LX_CHECK_INT(t, strlen(lexie_ie_schema_sha256(s)), 64);
    lx_ie_schema_free(s);

    /* Each fault is named with its path. */
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"entities\": [\"a\", \"a\"]}", "entities[1]: duplicate type \"a\""},
        {"{\"entities\": \"a\"}", "entities must be an array"},
        {"{\"entities\": [\"\"]}", "entities[0]: the type is empty"},
        {"{\"entities\": [{\"name\": \"x\"}]}", "entities[0] lacks \"type\""},
        {"{\"entities\": [3]}", "entities[0] must be a string or an object"},
        {"{\"name\": \"x\"}", "none of \"entities\", \"relations\", \"events\""},
        {"[1]", "must be a JSON object"},
        {"{\"events\": [{\"type\": \"E\", \"roles\": \"r\"}]}", "events[0].roles must be an array"},
        {"{\"events\": [{\"type\": \"E\", \"roles\": [\"r\", \"r\"]}]}",
         "events[0].roles[1]: duplicate role \"r\""},
        {"{\"events\": [{\"type\": \"E\"}, {\"type\": \"E\"}]}", "events[1]: duplicate type"},
        {"{\"events\": [\"E\"]}", "events[0] must be an object"},
        {"{\"entities\": [\"person\"], \"relations\": [{\"label\": \"r\", \"types\": [[\"person\", "
         "\"city\"]]}]}",
         "relations[0].types[0]: unknown type \"city\" (not among entities)"},
        {"{\"entities\": [\"a\"], \"relations\": [{\"label\": \"r\", \"template\": \"{subj}\"}]}",
         "lacks the {obj} placeholder"},
        {"{\"entities\": [\"a\"", "line 1"},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(bad); i++) {
        s = parse(bad[i].json, &e);
        LX_CHECK_MSG(t, !s && e.code == LEXIE_E_FORMAT && strstr(e.message, bad[i].want),
                     "%s -> %s", bad[i].json, s ? "accepted" : e.message);
        lx_ie_schema_free(s);
    }
    /* --types */
    const char *types[] = {"drug", "dose"};
    s = lx_ie_schema_from_types(types, 2, &e);
    LX_CHECK(t, s && s->n_entities == 2 && strcmp(s->entities[1].name, "dose") == 0);
    lx_ie_schema_free(s);
    const char *dup[] = {"drug", "drug"};
    s = lx_ie_schema_from_types(dup, 2, &e);
    LX_CHECK(t, !s && strstr(e.message, "--types"));
    LX_CHECK(t, lexie_ie_schema_load("/nonexistent/s.json", &e) == NULL && e.code == LEXIE_E_IO);
}

/* 1 when the answer's bytes are a sentence of the task's answer grammar. */
static int grammar_accepts(lx_t *t, const char *schema, const char *answer) {
    lexie_error e;
    lexie_grammar *g = lexie_grammar_from_json_schema(schema, strlen(schema), NULL, &e);
    if (!g) {
        lx_test_fail(t, __FILE__, __LINE__, "answer schema: %s\n%s", e.message, schema);
        return 0;
    }
    const char *pieces[2] = {"a", "b"};
    int lens[2] = {1, 1}, eog = 1;
    lexie_grammar_vocab *v = lexie_grammar_vocab_from_pieces(2, pieces, lens, &eog, 1, &e);
    lexie_matcher *m = v ? lexie_matcher_new(g, v, &e) : NULL;
    int ok =
        m && lexie_matcher_accept_bytes(m, answer, strlen(answer)) && lexie_matcher_is_accepting(m);
    lexie_matcher_free(m);
    lexie_grammar_vocab_free(v);
    lexie_grammar_free(g);
    return ok;
}

static void test_extract_answer_schemas(lx_t *t) {
    lexie_error e;
    lx_ie_schema *s = parse(SCHEMA, &e);
    LX_REQUIRE(t, s != NULL);
    static const struct {
        lexie_task task;
        int gen;
        const char *good, *bad;
    } cases[] = {
        {LEXIE_TASK_NER, 0, "{\"entities\": [{\"text\": \"Ann\", \"type\": \"person\"}]}",
         "{\"entities\": [{\"text\": \"Ann\", \"type\": \"city\"}]}"},
        {LEXIE_TASK_NER, 0, "{\"entities\": []}",
         "{\"entities\": [{\"text\": \"\", \"type\": "
         "\"person\"}]}"},
        {LEXIE_TASK_RE, 1,
         "{\"relations\": [{\"head\": \"Ann\", \"head_type\": \"person\", \"relation\": "
         "\"works_for\", \"tail\": \"Acme\", \"tail_type\": \"organization\"}]}",
         /* works_for admits only (person, organization) */
         "{\"relations\": [{\"head\": \"Ann\", \"head_type\": \"person\", \"relation\": "
         "\"works_for\", \"tail\": \"Rome\", \"tail_type\": \"location\"}]}"},
        {LEXIE_TASK_EVENTS, 0,
         "{\"events\": [{\"type\": \"Travel\", \"trigger\": \"flew\", \"arguments\": [{\"role\": "
         "\"Destination\", \"text\": \"Rome\"}]}, {\"type\": \"Hire\", \"trigger\": \"hired\", "
         "\"arguments\": []}]}",
         /* Hire has no roles */
         "{\"events\": [{\"type\": \"Hire\", \"trigger\": \"hired\", \"arguments\": [{\"role\": "
         "\"Traveler\", \"text\": \"Ann\"}]}]}"},
        {LEXIE_TASK_OPENIE, 0,
         "{\"triples\": [{\"subject\": \"Ann\", \"relation\": \"flew to\", \"object\": \"Rome\", "
         "\"time\": \"in May\"}]}",
         "{\"triples\": [{\"subject\": \"Ann\", \"object\": \"Rome\"}]}"},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        lexie_extract_params p = lexie_extract_default_params();
        p.task = cases[i].task;
        p.re_generate = cases[i].gen;
        char *js = NULL, *ins = NULL;
        LX_REQUIRE(t, lx_extract_answer_schema(s, &p, &js, &e) == LEXIE_OK);
        LX_REQUIRE(t, lx_extract_instruction(s, &p, &ins, &e) == LEXIE_OK);
        LX_CHECK_MSG(t, grammar_accepts(t, js, cases[i].good), "case %zu refuses good", i);
        LX_CHECK_MSG(t, !grammar_accepts(t, js, cases[i].bad), "case %zu accepts bad", i);
        /* The instruction names the schema's words. */
        if (cases[i].task == LEXIE_TASK_EVENTS)
            LX_CHECK(t, strstr(ins, "Destination (where)") && strstr(ins, "Hire"));
        if (cases[i].task == LEXIE_TASK_NER) LX_CHECK(t, strstr(ins, "- organization: firms\n"));
        if (cases[i].gen) LX_CHECK(t, strstr(ins, "- works_for: HEAD works for TAIL\n"));
        free(js);
        free(ins);
    }
    /* A user's instruction with {types}. */
    lexie_extract_params p = lexie_extract_default_params();
    p.instruction = "Find [{types}] now.";
    char *ins = NULL;
    LX_REQUIRE(t, lx_extract_instruction(s, &p, &ins, &e) == LEXIE_OK);
    LX_CHECK_MSG(t, strcmp(ins, "Find [- person\n- organization: firms\n- location] now.") == 0,
                 "%s", ins);
    free(ins);
    char *turn = lx_extract_user_turn("Do it.", "Some text.", &e);
    LX_CHECK(t, turn && strcmp(turn, "Do it.\n\nText: Some text.") == 0);
    free(turn);
    lx_ie_schema_free(s);
}

/* Written, read back and written again, a result is byte-identical. */
static void roundtrip(lx_t *t, const lexie_extraction *x) {
    char *a = NULL, *b = NULL;
    lexie_error e;
    lexie_extraction y;
    LX_REQUIRE(t, lexie_extraction_json(x, &a, &e) == LEXIE_OK);
    lx_json_doc *d = lx_json_parse(a, strlen(a), NULL, &e);
    LX_REQUIRE(t, d != NULL);
    LX_REQUIRE(t, lx_extraction_from_json(lx_json_root(d), &y, &e) == LEXIE_OK);
    LX_REQUIRE(t, lexie_extraction_json(&y, &b, &e) == LEXIE_OK);
    LX_CHECK_MSG(t, strcmp(a, b) == 0, "%s\nvs\n%s", a, b);
    lexie_extraction_clear(&y);
    lx_json_doc_free(d);
    lexie_free(a);
    lexie_free(b);
}

/* Numbers a result file may carry that no C type holds, or that mean
** nothing (a fractional offset, a confidence of 2): a format error naming
** the key, never a conversion (CI's fuzzer found a byte_end of 4e93). */
static void test_extract_result_numbers(lx_t *t) {
    static const struct {
        const char *json, *key; /* key: the error must name it; NULL: accepted */
    } cases[] = {
        {"{\"entities\": [{\"text\": \"a\", \"byte_end\": 4.44e93}]}", "byte_end"},
        {"{\"entities\": [{\"text\": \"a\", \"start\": -1e300}]}", "start"},
        {"{\"entities\": [{\"text\": \"a\", \"end\": 2.5}]}", "end"},
        {"{\"entities\": [{\"text\": \"a\", \"byte_start\": \"3\"}]}", "byte_start"},
        {"{\"entities\": [{\"text\": \"a\", \"confidence\": 2}]}", "confidence"},
        {"{\"entities\": [{\"text\": \"a\", \"match_score\": 1e40}]}", "match_score"},
        {"{\"entities\": [{\"text\": \"a\"}], \"relations\": [{\"head\": 1e19, \"tail\": 0}]}",
         "head"},
        {"{\"chunks\": 1e12}", "chunks"},
        {"{\"chunks\": 0}", "chunks"},
        {"{\"entities\": [{\"text\": \"a\", \"start\": null, \"end\": 3, \"confidence\": 0.5}], "
         "\"chunks\": 2}",
         NULL},
    };
    for (size_t i = 0; i < LX_ARRAY_LEN(cases); i++) {
        lexie_error e;
        lexie_extraction x;
        lx_json_doc *d = lx_json_parse(cases[i].json, strlen(cases[i].json), NULL, &e);
        LX_REQUIRE(t, d != NULL);
        const lexie_status st = lx_extraction_from_json(lx_json_root(d), &x, &e);
        if (cases[i].key)
            LX_CHECK_MSG(t, st == LEXIE_E_FORMAT && strstr(e.message, cases[i].key),
                         "case %zu: %d %s", i, st, st ? e.message : "");
        else
            LX_CHECK_MSG(t,
                         st == LEXIE_OK && x.n_entities == 1 && x.entities[0].start == -1 &&
                             x.entities[0].end == 3 && x.n_chunks == 2,
                         "case %zu: %s", i, st ? e.message : "");
        if (st == LEXIE_OK) lexie_extraction_clear(&x);
        lx_json_doc_free(d);
    }
}

/* A fake answer: text cut into tokens at the given byte ends, with the
** given probabilities. */
static lx_gen_answer fake(const char *text, const int *ends, const float *probs, int n) {
    lx_gen_answer a = {0};
    a.text = strdup(text);
    a.end = malloc((size_t)n * sizeof *a.end);
    a.prob = malloc((size_t)n * sizeof *a.prob);
    memcpy(a.end, ends, (size_t)n * sizeof *ends);
    memcpy(a.prob, probs, (size_t)n * sizeof *probs);
    a.n_tok = n;
    a.why = LEXIE_GEN_EOG;
    return a;
}

static void test_extract_read_entities(lx_t *t) {
    /* "Ann" twice, an accented and a CJK name, a span the text lacks. */
    const char *text = "Ann met José in 東京. Ann left.";
    const char *ans = "{\"entities\": [{\"text\": \"Ann\", \"type\": \"person\"}, {\"text\": "
                      "\"josé\", \"type\": \"person\"}, {\"text\": \"東京\", \"type\": "
                      "\"location\"}, {\"text\": \"Ann\", \"type\": \"person\"}, {\"text\": "
                      "\"Paris\", \"type\": \"location\"}]}";
    /* Token ends: item 0 is bytes 14..47; one token inside it has p 0.3. */
    const char *i0 = strstr(ans, "{\"text\": \"Ann\"");
    int b0 = (int)(i0 - ans);
    int ends[] = {b0 + 1, b0 + 10, b0 + 20, (int)strlen(ans)};
    float probs[] = {0.9f, 0.3f, 0.8f, 0.6f};
    lx_gen_answer a = fake(ans, ends, probs, 4);
    lx_answer_ctx ac = {text, strlen(text), 100, 50, 0.0f};
    lexie_extraction x = {0};
    lexie_error e;
    LX_REQUIRE(t, lx_extract_read_answer(&ac, &a, &x, &e) == LEXIE_OK);
    LX_REQUIRE(t, x.n_entities == 5);
    lexie_mention *m = x.entities;
    /* Offsets are shifted by the piece's place in the document (50 cp, 100 bytes). */
    LX_CHECK(t, m[0].match == LEXIE_MATCH_EXACT && m[0].start == 50 && m[0].end == 53);
    LX_CHECK(t, m[0].byte_start == 100 && m[0].byte_end == 103);
    LX_CHECK_CLOSE(t, m[0].confidence, 0.3, 1e-6);
    LX_CHECK(t, strcmp(m[1].text, "José") == 0 && strcmp(m[1].model_text, "josé") == 0);
    LX_CHECK(t, m[1].match == LEXIE_MATCH_NORMALIZED && m[1].start == 58 && m[1].end == 62);
    LX_CHECK(t, m[1].byte_start == 108 && m[1].byte_end == 113);
    LX_CHECK(t, m[2].start == 66 && m[2].end == 68 && m[2].byte_start == 117);
    LX_CHECK(t, m[2].byte_end == 123 && strcmp(m[2].type, "location") == 0);
    /* The second "Ann" is the second occurrence. */
    LX_CHECK(t, m[3].start == 70 && m[3].end == 73 && m[3].match == LEXIE_MATCH_EXACT);
    /* Not in the text: flagged, kept, no offsets. */
    LX_CHECK(t, m[4].match == LEXIE_MATCH_NONE && m[4].start == -1 && !m[4].text);
    LX_CHECK(t, strcmp(m[4].model_text, "Paris") == 0);
    LX_CHECK_CLOSE(t, m[4].confidence, 0.6, 1e-6);

    /* The output line. */
    lx_jbuf b = {0};
    x.n_entities = 1;
    lx_extraction_json(&b, "\"d1\"", &x, LX_PART_ENTITIES | LX_PART_RELATIONS);
    LX_CHECK_MSG(t,
                 strcmp(b.data,
                        "{\"id\":\"d1\",\"entities\":[{\"type\":\"person\",\"text\":\"Ann\","
                        "\"start\":50,\"end\":53,\"byte_start\":100,\"byte_end\":103,"
                        "\"match\":\"exact\",\"confidence\":0.3000}],\"relations\":[]}") == 0,
                 "%s", b.data);
    x.n_entities = 5;
    roundtrip(t, &x);
    lx_jbuf_free(&b);
    lexie_extraction_clear(&x);
    LX_CHECK(t, x.entities == NULL && x.n_entities == 0);
    lx_gen_answer_clear(&a);

    /* An answer cut before it closed is an error, not a result. */
    a = fake("{\"entities\": [", (int[]){14}, (float[]){1.0f}, 1);
    a.why = LEXIE_GEN_GRAMMAR_CUT;
    LX_CHECK(t, lx_extract_read_answer(&ac, &a, &x, &e) == LEXIE_E_RANGE);
    lx_gen_answer_clear(&a);
}

static void test_extract_read_structures(lx_t *t) {
    const char *text = "Ann works for Acme. Acme hired Bob in Rome.";
    lexie_error e;
    lexie_extraction x = {0};
    lx_answer_ctx ac = {text, strlen(text), 0, 0, 0.0f};
    /* Generated relations: "Acme" named twice is one entity. */
    const char *rel = "{\"relations\": [{\"head\": \"Ann\", \"head_type\": \"person\", "
                      "\"relation\": \"works_for\", \"tail\": \"Acme\", \"tail_type\": "
                      "\"organization\"}, {\"head\": \"Bob\", \"head_type\": \"person\", "
                      "\"relation\": \"works_for\", \"tail\": \"Acme\", \"tail_type\": "
                      "\"organization\"}]}";
    lx_gen_answer a = fake(rel, (int[]){(int)strlen(rel)}, (float[]){0.5f}, 1);
    LX_REQUIRE(t, lx_extract_read_answer(&ac, &a, &x, &e) == LEXIE_OK);
    LX_CHECK_INT(t, x.n_entities, 3);
    LX_CHECK_INT(t, x.n_relations, 2);
    LX_CHECK(t, x.relations[0].tail == x.relations[1].tail);
    LX_CHECK(t, strcmp(x.entities[x.relations[1].head].text, "Bob") == 0);
    LX_CHECK(t, x.entities[x.relations[0].tail].start == 14);
    roundtrip(t, &x);
    lexie_extraction_clear(&x);
    lx_gen_answer_clear(&a);

    /* Events: arguments with their roles; the argument's own tokens set
    ** its confidence. */
    const char *ev = "{\"events\": [{\"type\": \"Hire\", \"trigger\": \"hired\", \"arguments\": "
                     "[{\"role\": \"Employer\", \"text\": \"Acme\"}, {\"role\": \"Place\", "
                     "\"text\": \"Rome\"}]}]}";
    int place = (int)(strstr(ev, "{\"role\": \"Place\"") - ev);
    a = fake(ev, (int[]){place, place + 5, (int)strlen(ev)}, (float[]){0.9f, 0.2f, 0.7f}, 3);
    LX_REQUIRE(t, lx_extract_read_answer(&ac, &a, &x, &e) == LEXIE_OK);
    LX_REQUIRE(t, x.n_events == 1 && x.events[0].n_args == 2);
    lexie_event *v = &x.events[0];
    LX_CHECK(t, strcmp(v->trigger.type, "Hire") == 0 && v->trigger.start == 25);
    LX_CHECK(t, strcmp(v->args[1].type, "Place") == 0 && v->args[1].start == 38);
    /* Acme: the first occurrence not claimed in this answer. */
    LX_CHECK(t, v->args[0].start == 14);
    LX_CHECK_CLOSE(t, v->args[0].confidence, 0.9, 1e-6);
    LX_CHECK_CLOSE(t, v->args[1].confidence, 0.2, 1e-6);
    LX_CHECK_CLOSE(t, v->confidence, 0.2, 1e-6);
    roundtrip(t, &x);
    lexie_extraction_clear(&x);
    lx_gen_answer_clear(&a);

    /* Triples: optional time and place. */
    const char *tr = "{\"triples\": [{\"subject\": \"Acme\", \"relation\": \"hired\", "
                     "\"object\": \"Bob\", \"place\": \"in Rome\"}]}";
    a = fake(tr, (int[]){(int)strlen(tr)}, (float[]){0.4f}, 1);
    LX_REQUIRE(t, lx_extract_read_answer(&ac, &a, &x, &e) == LEXIE_OK);
    LX_REQUIRE(t, x.n_triples == 1);
    LX_CHECK(t, x.triples[0].time == NULL && x.triples[0].place != NULL);
    LX_CHECK(t, x.triples[0].place->start == 35 && x.triples[0].object.start == 31);
    lx_jbuf b = {0};
    lx_extraction_json(&b, "7", &x, LX_PART_TRIPLES);
    LX_CHECK_MSG(t, strstr(b.data, "\"place\":{\"text\":\"in Rome\",\"start\":35") != NULL, "%s",
                 b.data);
    lx_jbuf_free(&b);
    char *all = NULL;
    static const char PREFIX[] = "{\"entities\":[],\"relations\":[],\"events\":[],\"triples\":[{";
    LX_REQUIRE(t, lexie_extraction_json(&x, &all, &e) == LEXIE_OK);
    LX_CHECK_MSG(t, strncmp(all, PREFIX, strlen(PREFIX)) == 0, "%s", all);
    lexie_free(all);
    roundtrip(t, &x);
    lexie_extraction_clear(&x);
    lx_gen_answer_clear(&a);
}

static void test_extract_table_output(lx_t *t) {
    char *h[] = {strdup("drug"), strdup("dose")};
    char *c[] = {strdup("aspirin"), strdup("100 | 200 mg"), strdup("ibuprofen"), strdup("")};
    lexie_table tb = {malloc(sizeof h), 2, malloc(sizeof c), 2, 0};
    memcpy(tb.header, h, sizeof h);
    memcpy(tb.cells, c, sizeof c);
    char *md = NULL, *js = NULL;
    lexie_error e;
    LX_REQUIRE(t, lexie_table_markdown(&tb, &md, &e) == LEXIE_OK);
    LX_CHECK_MSG(t,
                 strcmp(md, "| drug | dose |\n| --- | --- |\n| aspirin | 100 \\| 200 mg |\n"
                            "| ibuprofen |  |\n") == 0,
                 "%s", md);
    LX_REQUIRE(t, lexie_table_json(&tb, &js, &e) == LEXIE_OK);
    LX_CHECK_MSG(t,
                 strcmp(js, "{\"header\":[\"drug\",\"dose\"],\"rows\":[[\"aspirin\",\"100 | 200 "
                            "mg\"],[\"ibuprofen\",\"\"]]}") == 0,
                 "%s", js);
    lexie_free(md);
    lexie_free(js);
    lexie_table_clear(&tb);
    LX_CHECK(t, tb.n_cols == 0 && tb.header == NULL);
}

/* ==== On the fixture model ==== */

static const char CHATML[] =
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

static lexie_model *fixture_model(lx_t *t) {
    char path[512];
    snprintf(path, sizeof path, "%s/llama_q.gguf", lx_test_fixtures());
    lexie_model_params mp = lexie_model_default_params();
    mp.chat_template = CHATML;
    lexie_error e;
    lexie_model *m = lexie_model_load(path, &mp, &e);
    if (!m) lx_test_skip(t, "fixture %s: %s (run make test)", path, e.message);
    return m;
}

static lexie_ctx *fixture_ctx(lexie_model *m, int n_seq, int n_ctx) {
    lexie_ctx_params cp = lexie_ctx_default_params();
    cp.n_ctx = n_ctx;
    cp.n_seq_max = n_seq;
    cp.n_threads = 1;
    lexie_error e;
    return lexie_ctx_new(m, &cp, &e);
}

/* Answers in a batch equal the answers made one at a time, bit for bit
** (text, per-token probabilities), and the first equals lexie_generate's. */
static void test_extract_batch_invariance(lx_t *t) {
    lexie_model *m = fixture_model(t);
    if (!m) return;
    lexie_ctx *cb = fixture_ctx(m, 4, 512), *c1 = fixture_ctx(m, 1, 512);
    lexie_error e;
    const char *js =
        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\",\"maxItems\":4,"
        "\"items\":{\"type\":\"string\",\"maxLength\":8}}},\"required\":[\"a\"]}";
    lexie_grammar *g = lexie_grammar_from_json_schema(js, strlen(js), NULL, &e);
    LX_REQUIRE(t, cb && c1 && g);
    static const lexie_token p0[] = {5, 17, 33, 2, 40, 41, 7}, p1[] = {5, 17, 33, 2, 9},
                             p2[] = {5, 17, 33, 2, 40, 12, 13, 14};
    const lexie_token *prompts[] = {p0, p1, p2};
    int np[] = {7, 5, 8};
    lexie_gen_params gp = lexie_gen_default_params();
    gp.grammar = g;
    gp.max_tokens = 40;
    lx_gen_answer ab[3] = {{0}}, a1[3] = {{0}};
    LX_REQUIRE(t, lx_generate_batch(cb, prompts, np, 3, &gp, ab, &e) == LEXIE_OK);
    LX_REQUIRE(t, lx_generate_batch(c1, prompts, np, 3, &gp, a1, &e) == LEXIE_OK);
    for (int i = 0; i < 3; i++) {
        LX_CHECK_MSG(t, strcmp(ab[i].text, a1[i].text) == 0, "%d: %s vs %s", i, ab[i].text,
                     a1[i].text);
        LX_CHECK(t, ab[i].n_tok == a1[i].n_tok && ab[i].why == a1[i].why);
        LX_CHECK(t, ab[i].n_tok > 0 &&
                        memcmp(ab[i].prob, a1[i].prob, (size_t)ab[i].n_tok * sizeof(float)) == 0);
        LX_CHECK(t, ab[i].end[ab[i].n_tok - 1] == (int)strlen(ab[i].text));
        for (int k = 0; k < ab[i].n_tok; k++)
            LX_CHECK(t, ab[i].prob[k] > 0.0f && ab[i].prob[k] <= 1.0f);
        lx_json_doc *d = lx_json_parse(ab[i].text, strlen(ab[i].text), NULL, &e);
        LX_CHECK_MSG(t, d != NULL || ab[i].why == LEXIE_GEN_GRAMMAR_CUT, "%s", ab[i].text);
        lx_json_doc_free(d);
    }
    char *solo = NULL;
    lexie_kv_clear(c1);
    LX_REQUIRE(t, lexie_generate(c1, p0, 7, &gp, NULL, NULL, &solo, NULL, &e) == LEXIE_OK);
    LX_CHECK_MSG(t, strcmp(solo, ab[0].text) == 0, "%s vs %s", solo, ab[0].text);
    lexie_free(solo);
    for (int i = 0; i < 3; i++) {
        lx_gen_answer_clear(&ab[i]);
        lx_gen_answer_clear(&a1[i]);
    }
    lexie_grammar_free(g);
    lexie_ctx_free(cb);
    lexie_ctx_free(c1);
    lexie_model_free(m);
}

/* Whatever a random model writes: each document gets a result, every
** span is grounded (its text is the document's slice) or flagged, and a
** document the context cannot hold whole is refused with no_chunk and
** split without it. */
static void test_extract_fixture(lx_t *t) {
    lexie_model *m = fixture_model(t);
    if (!m) return;
    lexie_ctx *c = fixture_ctx(m, 4, 1024);
    lexie_error e, de[3];
    lx_ie_schema *s = parse(SCHEMA, &e);
    LX_REQUIRE(t, c && s);
    lexie_extract_params p = lexie_extract_default_params();
    p.max_tokens = 48;
    static const lexie_task tasks[] = {LEXIE_TASK_NER, LEXIE_TASK_EVENTS, LEXIE_TASK_OPENIE,
                                       LEXIE_TASK_RE};
    char long_text[6000];
    long_text[0] = 0;
    for (int i = 0; i < 60; i++) strcat(long_text, "Ann met Bob in Rome. Acme hired Cy. ");
    const char *texts[3] = {"Ann met Bob in Rome.", "Über 東京 😀 and Ann.", long_text};
    for (size_t k = 0; k < LX_ARRAY_LEN(tasks); k++) {
        p.task = tasks[k];
        lexie_extractor *x = lexie_extractor_new(c, s, &p, &e);
        LX_REQUIRE(t, x != NULL);
        lexie_extraction out[3];
        memset(out, 0, sizeof out);
        LX_REQUIRE(t, lexie_extract(x, texts, 3, out, de, &e) == LEXIE_OK);
        for (int d = 0; d < 3; d++) {
            LX_CHECK_MSG(t, de[d].code == LEXIE_OK, "task %zu doc %d: %s", k, d, de[d].message);
            for (int i = 0; i < out[d].n_entities; i++) {
                const lexie_mention *mm = &out[d].entities[i];
                if (mm->match == LEXIE_MATCH_NONE) {
                    LX_CHECK(t, mm->model_text && !mm->text && mm->start < 0);
                    continue;
                }
                LX_CHECK(t, strncmp(texts[d] + mm->byte_start, mm->text,
                                    (size_t)(mm->byte_end - mm->byte_start)) == 0);
                LX_CHECK(t, (long)strlen(mm->text) == mm->byte_end - mm->byte_start);
            }
        }
        LX_CHECK_MSG(t, out[2].n_chunks > 1, "long document in %d piece(s)", out[2].n_chunks);
        for (int d = 0; d < 3; d++) lexie_extraction_clear(&out[d]);
        lexie_extractor_free(x);
    }
    /* No chunking: the long document alone fails. */
    p.task = LEXIE_TASK_NER;
    p.no_chunk = 1;
    lexie_extractor *x = lexie_extractor_new(c, s, &p, &e);
    LX_REQUIRE(t, x != NULL);
    lexie_extraction out[3];
    memset(out, 0, sizeof out);
    LX_REQUIRE(t, lexie_extract(x, texts, 3, out, de, &e) == LEXIE_OK);
    LX_CHECK(t, de[0].code == LEXIE_OK && de[1].code == LEXIE_OK);
    LX_CHECK_MSG(t, de[2].code == LEXIE_E_RANGE && strstr(de[2].message, "chunking is off"), "%s",
                 de[2].message);
    for (int d = 0; d < 3; d++) lexie_extraction_clear(&out[d]);
    /* Invalid UTF-8 fails its document only. */
    const char *bad[2] = {"ok text", "bad \xff text"};
    LX_REQUIRE(t, lexie_extract(x, bad, 2, out, de, &e) == LEXIE_OK);
    LX_CHECK(t, de[0].code == LEXIE_OK && de[1].code == LEXIE_E_UTF8);
    lexie_extraction_clear(&out[0]);
    lexie_extractor_free(x);
    /* A task the schema cannot serve. */
    const char *types[] = {"drug"};
    lx_ie_schema *only = lx_ie_schema_from_types(types, 1, &e);
    p.task = LEXIE_TASK_EVENTS;
    LX_CHECK(t, lexie_extractor_new(c, only, &p, &e) == NULL && e.code == LEXIE_E_INVALID);
    lx_ie_schema_free(only);
    lx_ie_schema_free(s);
    lexie_ctx_free(c);
    lexie_model_free(m);
}

/* Relations by QA4RE on entities the answer schema pins to the text's own
** strings: every relation joins two grounded entities of types its label
** admits, and a second run gives the same line. */
static void test_extract_re_pairs(lx_t *t) {
    lexie_model *m = fixture_model(t);
    if (!m) return;
    lexie_ctx *c = fixture_ctx(m, 4, 2048);
    lexie_error e;
    lx_ie_schema *s = parse(SCHEMA, &e);
    LX_REQUIRE(t, c && s);
    lexie_extract_params p = lexie_extract_default_params();
    p.task = LEXIE_TASK_RE;
    p.max_tokens = 400;
    /* The first three entities are fixed; a fourth is the model's choice. */
#define ENT(x, y)                                                                                  \
    "{\"type\":\"object\",\"properties\":{\"text\":{\"const\":\"" x "\"},\"type\":{\"const\":\"" y \
    "\"}},\"required\":[\"text\",\"type\"],\"additionalProperties\":false}"
    p.json_schema =
        "{\"type\":\"object\",\"properties\":{\"entities\":{\"type\":\"array\","
        "\"minItems\":3,\"maxItems\":4,\"prefixItems\":[" ENT("Ann", "person") "," ENT(
            "Acme",
            "organization") "," ENT("Rome",
                                    "location") "],\"items\":" ENT("Bob",
                                                                   "person") "}},"
                                                                             "\"required\":["
                                                                             "\"entities\"],"
                                                                             "\"additionalPropertie"
                                                                             "s\":false}";
#undef ENT
    const char *texts[1] = {"Ann works for Acme in Rome, and Bob works for Acme too."};
    char *lines[2] = {NULL, NULL};
    lexie_re *re = lexie_re_new(c, s->rel, NULL, &e);
    LX_REQUIRE(t, re != NULL);
    lexie_re_example ex = {texts[0], 0, 3, 14, 18, "person", "organization"};
    lexie_re_result direct = {0};
    LX_REQUIRE(t, lexie_re_classify(re, &ex, 1, &direct, &e) == LEXIE_OK);
    lexie_re_free(re);
    for (int run = 0; run < 2; run++) {
        lexie_extractor *x = lexie_extractor_new(c, s, &p, &e);
        LX_REQUIRE(t, x != NULL);
        lexie_extraction out = {0};
        lexie_status st = lexie_extract(x, texts, 1, &out, NULL, &e);
        LX_CHECK_MSG(t, st == LEXIE_OK, "%s", e.message);
        LX_REQUIRE(t, st == LEXIE_OK);
        LX_CHECK(t, out.n_entities >= 3);
        /* Ann -> Acme agrees with QA4RE asked directly (offsets 0-3, 14-18). */
        int found = -1;
        for (int i = 0; i < out.n_relations; i++)
            if (out.relations[i].head == 0 && out.relations[i].tail == 1) found = i;
        LX_CHECK_MSG(t, (found >= 0) == (direct.label == 0), "extractor %d, direct label %d", found,
                     direct.label);
        if (found >= 0) LX_CHECK(t, out.relations[found].confidence == direct.probs[0]);
        for (int i = 0; i < out.n_relations; i++) {
            const lexie_relation *r = &out.relations[i];
            LX_REQUIRE(t, r->head >= 0 && r->head < out.n_entities && r->tail >= 0 &&
                              r->tail < out.n_entities && r->head != r->tail);
            LX_CHECK(t, strcmp(r->label, "works_for") == 0);
            LX_CHECK(t, strcmp(out.entities[r->head].type, "person") == 0);
            LX_CHECK(t, strcmp(out.entities[r->tail].type, "organization") == 0);
            LX_CHECK(t, r->confidence > 0 && r->confidence <= 1);
        }
        LX_REQUIRE(t, lexie_extraction_json(&out, &lines[run], &e) == LEXIE_OK);
        lexie_extraction_clear(&out);
        lexie_extractor_free(x);
    }
    LX_CHECK_MSG(t, strcmp(lines[0], lines[1]) == 0, "%s\nvs\n%s", lines[0], lines[1]);
    lexie_re_result_clear(&direct);
    lexie_free(lines[0]);
    lexie_free(lines[1]);
    lx_ie_schema_free(s);
    lexie_ctx_free(c);
    lexie_model_free(m);
}

/* Few-shot demonstrations: shown as earlier turns in the grammar's own
** JSON form, checked against the answer schema, removable, and refused
** when they leave the context no room. */
static void test_extract_demos(lx_t *t) {
    lexie_model *m = fixture_model(t);
    if (!m) return;
    lexie_ctx *c = fixture_ctx(m, 2, 1024);
    lexie_error e;
    lx_ie_schema *s = parse(SCHEMA, &e);
    LX_REQUIRE(t, c && s);
    lexie_extract_params p = lexie_extract_default_params();
    p.max_tokens = 48;
    lexie_extractor *x = lexie_extractor_new(c, s, &p, &e);
    LX_REQUIRE(t, x != NULL);
    const char *texts[2] = {"Ann met Bob.", "Acme hired Cy."};
    const char *answers[2] = {"{\"entities\":[{\"text\":\"Ann\",\"type\":\"person\"}]}",
                              "{ \"entities\" : [ ] }"};
    LX_REQUIRE(t, lexie_extractor_set_demos(x, texts, answers, 2, &e) == LEXIE_OK);
    char *pr = NULL;
    LX_REQUIRE(t, lexie_extractor_prompt(x, "Zed left.", &pr, &e) == LEXIE_OK);
    const char *a0 =
        strstr(pr, "Text: Ann met Bob.<|im_end|>\n<|im_start|>assistant\n"
                   "{\"entities\": [{\"text\": \"Ann\", \"type\": \"person\"}]}<|im_end|>");
    const char *a1 =
        strstr(pr, "Text: Acme hired Cy.<|im_end|>\n<|im_start|>assistant\n{\"entities\": []}");
    const char *doc = strstr(pr, "Text: Zed left.<|im_end|>\n<|im_start|>assistant\n");
    LX_CHECK_MSG(t, a0 && a1 && doc && a0 < a1 && a1 < doc, "%s", pr);
    lexie_free(pr);
    const char *texts1[1] = {"Zed left."};
    lexie_extraction out = {0};
    LX_CHECK(t, lexie_extract(x, texts1, 1, &out, NULL, &e) == LEXIE_OK);
    lexie_extraction_clear(&out);
    /* Training data: exactly the prompt's chat, then the answer in the
    ** grammar's form; an answer outside the schema is refused. */
    char *line = NULL;
    LX_REQUIRE(t, lexie_extractor_sft_line(
                      x, "Zed left.", "{ \"entities\" : [{\"text\":\"Zed\",\"type\":\"person\"}] }",
                      &line, &e) == LEXIE_OK);
    lx_json_doc *jd = lx_json_parse(line, strlen(line), NULL, &e);
    const lx_json *ms = jd ? lx_json_get(lx_json_root(jd), "messages") : NULL;
    LX_REQUIRE(t, ms && ms->n == 6);
    lexie_chat_msg cm[6];
    for (int i = 0; i < 6; i++)
        cm[i] = (lexie_chat_msg){lx_json_string(lx_json_get(ms->items[i], "role")),
                                 lx_json_string(lx_json_get(ms->items[i], "content"))};
    char *chat = NULL;
    LX_REQUIRE(t, lexie_extractor_prompt(x, "Zed left.", &pr, &e) == LEXIE_OK);
    LX_REQUIRE(t, lexie_chat_apply(m, cm, 5, 1, &chat, &e) == LEXIE_OK);
    LX_CHECK_MSG(t, strcmp(chat, pr) == 0, "%s\nvs\n%s", chat, pr);
    LX_CHECK(t, strcmp(cm[5].role, "assistant") == 0 &&
                    strcmp(cm[5].content,
                           "{\"entities\": [{\"text\": \"Zed\", \"type\": \"person\"}]}") == 0);
    lexie_free(chat);
    lexie_free(pr);
    lexie_free(line);
    lx_json_doc_free(jd);
    LX_CHECK(t, lexie_extractor_sft_line(x, "Zed left.",
                                         "{\"entities\": [{\"text\": \"Zed\", "
                                         "\"type\": \"city\"}]}",
                                         &line, &e) == LEXIE_E_INVALID &&
                    line == NULL && strstr(e.message, "training line"));
    LX_CHECK(t, lexie_extractor_sft_line(x, "Zed left.", "Zed", &line, &e) == LEXIE_E_INVALID);
    /* Answers outside the schema, or not JSON, name the demonstration. */
    const char *bad[2] = {"{\"entities\": []}",
                          "{\"entities\": [{\"text\": \"Ann\", \"type\": \"city\"}]}"};
    LX_CHECK(t, lexie_extractor_set_demos(x, texts, bad, 2, &e) == LEXIE_E_INVALID &&
                    strstr(e.message, "demonstration 1") && strstr(e.message, "schema"));
    const char *notjson[1] = {"entities: Ann"};
    LX_CHECK(t, lexie_extractor_set_demos(x, texts, notjson, 1, &e) == LEXIE_E_INVALID &&
                    strstr(e.message, "demonstration 0: the answer is not JSON"));
    /* The refused sets left the good ones in place; n = 0 removes them. */
    LX_REQUIRE(t, lexie_extractor_prompt(x, "Zed left.", &pr, &e) == LEXIE_OK);
    LX_CHECK(t, strstr(pr, "Ann met Bob.") != NULL);
    lexie_free(pr);
    LX_REQUIRE(t, lexie_extractor_set_demos(x, NULL, NULL, 0, &e) == LEXIE_OK);
    LX_REQUIRE(t, lexie_extractor_prompt(x, "Zed left.", &pr, &e) == LEXIE_OK);
    LX_CHECK(t, strstr(pr, "Ann met Bob.") == NULL);
    lexie_free(pr);
    /* Demonstrations longer than the context: refused, and none remain. */
    static char big[6000];
    memset(big, 0, sizeof big);
    for (int i = 0; i < 300; i++) strcat(big, "Ann met Bob. ");
    const char *bt[1] = {big}, *ba[1] = {"{\"entities\": []}"};
    LX_CHECK(t, lexie_extractor_set_demos(x, bt, ba, 1, &e) == LEXIE_E_RANGE);
    LX_REQUIRE(t, lexie_extractor_prompt(x, "Zed left.", &pr, &e) == LEXIE_OK);
    LX_CHECK(t, strstr(pr, "Ann met Bob.") == NULL);
    lexie_free(pr);
    /* From a JSONL file; a bad line is named. */
    char path[] = "/tmp/lexie-demos-XXXXXX";
    int fd = mkstemp(path);
    LX_REQUIRE(t, fd >= 0);
    const char *good = "{\"text\": \"Ann met Bob.\", \"answer\": {\"entities\": []}}\n\n";
    LX_REQUIRE(t, write(fd, good, strlen(good)) == (ssize_t)strlen(good));
    LX_CHECK(t, lexie_extractor_load_demos(x, path, &e) == LEXIE_OK);
    LX_REQUIRE(t, lexie_extractor_prompt(x, "Zed left.", &pr, &e) == LEXIE_OK);
    LX_CHECK(t, strstr(pr, "Text: Ann met Bob.<|im_end|>") != NULL);
    lexie_free(pr);
    const char *badl = "{\"text\": \"x\", \"answer\": \"no\"}\n";
    LX_REQUIRE(t, write(fd, badl, strlen(badl)) == (ssize_t)strlen(badl));
    close(fd);
    LX_CHECK_MSG(
        t, lexie_extractor_load_demos(x, path, &e) == LEXIE_E_FORMAT && strstr(e.message, ":3:"),
        "%s", e.message);
    LX_CHECK(t, lexie_extractor_load_demos(x, "/nonexistent/d.jsonl", &e) == LEXIE_E_IO);
    remove(path);
    lexie_extractor_free(x);
    lx_ie_schema_free(s);
    lexie_ctx_free(c);
    lexie_model_free(m);
}

void suite_extract(void) {
    LX_RUN(test_extract_schema);
    LX_RUN(test_extract_answer_schemas);
    LX_RUN(test_extract_result_numbers);
    LX_RUN(test_extract_read_entities);
    LX_RUN(test_extract_read_structures);
    LX_RUN(test_extract_table_output);
    LX_RUN(test_extract_batch_invariance);
    LX_RUN(test_extract_fixture);
    LX_RUN(test_extract_re_pairs);
    LX_RUN(test_extract_demos);
}
