/*
** test_chat.c -- chat templates: the SmolLM2, Llama 3, Qwen 2.5 and Gemma
** templates render what Hugging Face's apply_chat_template renders (the
** expected strings come from Python's Jinja2 with HF's settings), the
** Jinja subset behaves like Jinja, and malformed or unsupported templates
** fail with a code and a line:column.
*/
#include "chat/chat.h"
#include "gguf/gguf.h"
#include "lx_test.h"

#include <stdlib.h>
#include <string.h>

/* ==== Templates as published (tokenizer_config.json) ==== */

static const char *const tmpl_smollm2 =
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '"
    "<|im_start|>system\n"
    "You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n"
    "' + message['content'] + '<|im_end|>' + '\n"
    "'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n"
    "' }}{% endif %}";

static const char *const tmpl_llama3 =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|"
    "start_header_id|>' + message['role'] + '<|end_header_id|>\n"
    "\n"
    "'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = "
    "bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|start_header_id|>assistant<|end_header_id|>\n"
    "\n"
    "' }}{% endif %}\n";

static const char *const tmpl_qwen25 =
    "{%- if tools %}\n"
    "    {{- '<|im_start|>system\\n' }}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- messages[0]['content'] }}\n"
    "    {%- else %}\n"
    "        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}\n"
    "    {%- endif %}\n"
    "    {{- \"\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user "
    "query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\"
    "n<tools>\" }}\n"
    "    {%- for tool in tools %}\n"
    "        {{- \"\\n\" }}\n"
    "        {{- tool | tojson }}\n"
    "    {%- endfor %}\n"
    "    {{- \"\\n</tools>\\n\\nFor each function call, return a json object with function na"
    "me and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\\"name\\\":"
    " <function-name>, \\\"arguments\\\": <args-json-object>}\\n</tool_call><|im_end|>\\n\" }"
    "}\n"
    "{%- else %}\n"
    "    {%- if messages[0]['role'] == 'system' %}\n"
    "        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}\n"
    "    {%- else %}\n"
    "        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a help"
    "ful assistant.<|im_end|>\\n' }}\n"
    "    {%- endif %}\n"
    "{%- endif %}\n"
    "{%- for message in messages %}\n"
    "    {%- if (message.role == \"user\") or (message.role == \"system\" and not loop.first)"
    " or (message.role == \"assistant\" and not message.tool_calls) %}\n"
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\"
    "n' }}\n"
    "    {%- elif message.role == \"assistant\" %}\n"
    "        {{- '<|im_start|>' + message.role }}\n"
    "        {%- if message.content %}\n"
    "            {{- '\\n' + message.content }}\n"
    "        {%- endif %}\n"
    "        {%- for tool_call in message.tool_calls %}\n"
    "            {%- if tool_call.function is defined %}\n"
    "                {%- set tool_call = tool_call.function %}\n"
    "            {%- endif %}\n"
    "            {{- '\\n<tool_call>\\n{\"name\": \"' }}\n"
    "            {{- tool_call.name }}\n"
    "            {{- '\", \"arguments\": ' }}\n"
    "            {{- tool_call.arguments | tojson }}\n"
    "            {{- '}\\n</tool_call>' }}\n"
    "        {%- endfor %}\n"
    "        {{- '<|im_end|>\\n' }}\n"
    "    {%- elif message.role == \"tool\" %}\n"
    "        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != \"tool\") %}\n"
    "            {{- '<|im_start|>user' }}\n"
    "        {%- endif %}\n"
    "        {{- '\\n<tool_response>\\n' }}\n"
    "        {{- message.content }}\n"
    "        {{- '\\n</tool_response>' }}\n"
    "        {%- if loop.last or (messages[loop.index0 + 1].role != \"tool\") %}\n"
    "            {{- '<|im_end|>\\n' }}\n"
    "        {%- endif %}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}\n"
    "    {{- '<|im_start|>assistant\\n' }}\n"
    "{%- endif %}\n";

static const char *const tmpl_gemma =
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role n"
    "ot supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user"
    "') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate use"
    "r/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{"
    "% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_o"
    "f_turn>' + role + '\n"
    "' + message['content'] | trim + '<end_of_turn>\n"
    "' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n"
    "'}}{% endif %}\n";

/* ==== Helpers ==== */

static const lx_chat_msg conv_sys[] = {{"system", "You are terse."},
                                       {"user", "Hi"},
                                       {"assistant", "Hello."},
                                       {"user", "What is 2+2?"}};
static const lx_chat_msg conv_user[] = {{"user", "Hello!"}};

/* Renders and compares; on a mismatch shows both. */
static void expect_render(lx_t *t, int line, const char *tmpl, const lx_chat_msg *m, int n, int gen,
                          const char *want) {
    char *out = NULL;
    lexie_error e;
    lexie_status s = lx_chat_render(tmpl, m, n, gen, "<s>", "</s>", &out, &e);
    if (s) {
        lx_test_fail(t, __FILE__, line, "render failed: %s", e.message);
        return;
    }
    if (strcmp(out, want) != 0)
        lx_test_fail(t, __FILE__, line, "rendered:\n[%s]\nwant:\n[%s]", out, want);
    free(out);
}

/* One template over the two-message-free context: messages = [user "x"]. */
static void expect_expr(lx_t *t, int line, const char *tmpl, const char *want) {
    static const lx_chat_msg one[] = {{"user", "x"}};
    expect_render(t, line, tmpl, one, 1, 0, want);
}

static void expect_error(lx_t *t, int line, const char *tmpl, lexie_status code,
                         const char *in_msg) {
    char *out = (char *)"untouched";
    lexie_error e;
    static const lx_chat_msg one[] = {{"user", "x"}};
    lexie_status s = lx_chat_render(tmpl, one, 1, 1, "", "", &out, &e);
    if (s != code)
        lx_test_fail(t, __FILE__, line, "status %d, want %d (%s)", s, code, e.message);
    else if (!strstr(e.message, in_msg))
        lx_test_fail(t, __FILE__, line, "message [%s] lacks [%s]", e.message, in_msg);
    if (out) lx_test_fail(t, __FILE__, line, "*out not NULL after an error");
}

/* ==== Real templates ==== */

static void test_chat_smollm2(lx_t *t) {
    expect_render(t, __LINE__, tmpl_smollm2, conv_sys, 4, 1,
                  "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                  "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nWhat is 2+2?"
                  "<|im_end|>\n<|im_start|>assistant\n");
    /* no system message: the template supplies its default one */
    expect_render(t, __LINE__, tmpl_smollm2, conv_user, 1, 0,
                  "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by "
                  "Hugging Face<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n");
}

/* The template stored in the model file renders like the published one. */
static void test_chat_smollm2_from_gguf(lx_t *t) {
    const char *path = lx_test_model();
    if (!path) LX_SKIP(t, "SmolLM2 model absent: set LEXIE_TEST_MODEL or run make model");
    lexie_error e;
    lx_gguf *g = lx_gguf_open(path, &e);
    LX_REQUIRE(t, g);
    lx_str s = {NULL, 0};
    if (lx_gguf_get_str(g, "tokenizer.chat_template", &s, &e) || s.len > 100000) {
        lx_gguf_close(g);
        LX_SKIP(t, "%s has no chat template", path);
    }
    char *tmpl = malloc(s.len + 1);
    memcpy(tmpl, s.ptr, s.len);
    tmpl[s.len] = 0;
    lx_gguf_close(g);
    char *a = NULL, *b = NULL;
    LX_CHECK_INT(t, lx_chat_render(tmpl, conv_sys, 4, 1, "", "", &a, &e), LEXIE_OK);
    LX_CHECK_INT(t, lx_chat_render(tmpl_smollm2, conv_sys, 4, 1, "", "", &b, &e), LEXIE_OK);
    LX_CHECK(t, a && b && strcmp(a, b) == 0);
    free(a);
    free(b);
    free(tmpl);
}

static void test_chat_llama3(lx_t *t) {
    expect_render(t, __LINE__, tmpl_llama3, conv_sys, 4, 1,
                  "<s><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
                  "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>"
                  "assistant<|end_header_id|>\n\nHello.<|eot_id|><|start_header_id|>user"
                  "<|end_header_id|>\n\nWhat is 2+2?<|eot_id|><|start_header_id|>assistant"
                  "<|end_header_id|>\n\n");
    /* content | trim binds before +, and only the first turn gets bos */
    static const lx_chat_msg padded[] = {{"user", "  Hello!\n"}};
    expect_render(t, __LINE__, tmpl_llama3, padded, 1, 0,
                  "<s><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>");
}

static void test_chat_qwen25(lx_t *t) {
    /* `tools` is undefined: the tool branches are skipped, never evaluated */
    expect_render(t, __LINE__, tmpl_qwen25, conv_sys, 4, 1,
                  "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                  "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nWhat is 2+2?"
                  "<|im_end|>\n<|im_start|>assistant\n");
    expect_render(t, __LINE__, tmpl_qwen25, conv_user, 1, 0,
                  "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
                  "assistant.<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n");
}

static void test_chat_gemma(lx_t *t) {
    static const lx_chat_msg turns[] = {{"user", "a"}, {"assistant", "b"}, {"user", "c"}};
    expect_render(t, __LINE__, tmpl_gemma, turns, 3, 1,
                  "<s><start_of_turn>user\na<end_of_turn>\n<start_of_turn>model\nb<end_of_turn>\n"
                  "<start_of_turn>user\nc<end_of_turn>\n<start_of_turn>model\n");
    /* the template's own raise_exception becomes an error with its text */
    char *out = NULL;
    lexie_error e;
    LX_CHECK_INT(t, lx_chat_render(tmpl_gemma, conv_sys, 4, 0, "", "", &out, &e), LEXIE_E_INVALID);
    LX_CHECK(t, strstr(e.message, "System role not supported") && !out);
    static const lx_chat_msg twice[] = {{"user", "a"}, {"user", "b"}};
    LX_CHECK_INT(t, lx_chat_render(tmpl_gemma, twice, 2, 0, "", "", &out, &e), LEXIE_E_INVALID);
    LX_CHECK(t, strstr(e.message, "must alternate") != NULL);
}

/* ==== The Jinja subset ==== */

static void test_chat_expressions(lx_t *t) {
    expect_expr(t, __LINE__, "{{ 'a' + \"b\" ~ 1 ~ none }}|{{ 'it\\'s\\n' }}", "ab1None|it's\n");
    expect_expr(t, __LINE__, "{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 7 / 2 }}",
                "3 -4 2 1024 3.5");
    expect_expr(t, __LINE__, "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 0.1 + 0.2 }} {{ 3.0 }}",
                "7 9 0.30000000000000004 3.0");
    expect_expr(t, __LINE__, "{{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ 2 < 10 }} {{ 'b' > 'a' }}",
                "True True True True");
    expect_expr(t, __LINE__, "{{ 'b' in 'abc' }} {{ 2 in [1, 2] }} {{ 'k' not in {'k': 1} }}",
                "True True False");
    expect_expr(t, __LINE__, "{{ not true or false and true }} {{ '' or 'dflt' }} {{ 0 and 1 }}",
                "False dflt 0");
    expect_expr(t, __LINE__, "{{ 'y' if 1 > 0 else 'n' }}[{{ 'y' if false }}]", "y[]");
    expect_expr(t, __LINE__, "{{ [1, 'a', none, true] }} {{ {'k': 'v'} }}",
                "[1, 'a', None, True] {'k': 'v'}");
    expect_expr(t, __LINE__,
                "{% set xs = [1, 2, 3, 4] %}{{ xs[-1] }} {{ xs[1:3] }} {{ xs[::-1] }}"
                " {{ 'h\xc3\xa9llo'[1] }} {{ 'abc'[::-1] }}",
                "4 [2, 3] [4, 3, 2, 1] \xc3\xa9 cba");
    expect_expr(t, __LINE__, "{{ messages[0].role }} {{ messages[0]['content'] }} {{ nope }}.",
                "user x .");
    /* Floats beyond int64 saturate (converting them is undefined in C; a fuzz finding). */
    expect_expr(t, __LINE__,
                "{{ (10.0 ** 300)|int }} {{ (0 - 10.0 ** 300)|int }} {{ 2.9|int }} {{ -2.9|int }}",
                "9223372036854775807 -9223372036854775808 2 -2");
    expect_expr(t, __LINE__, "{{ (-9223372036854775807 - 1)|abs }} {{ 10.0 ** 19 == 1 }}",
                "-9223372036854775808 False");
}

static void test_chat_statements(lx_t *t) {
    expect_expr(t, __LINE__,
                "{% for x in [10, 20, 30] %}{{ loop.index0 }}{{ loop.index }}{{ loop.first }}"
                "{{ loop.last }}{{ loop.length }}:{{ x }};{% endfor %}",
                "01TrueFalse3:10;12FalseFalse3:20;23FalseTrue3:30;");
    expect_expr(t, __LINE__,
                "{% for x in [1, 2, 3, 4] if x is even %}{{ x }}{% else %}none"
                "{% endfor %}{% for x in [] %}{% else %}empty{% endfor %}",
                "24empty");
    expect_expr(t, __LINE__,
                "{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }} "
                "{% endfor %}",
                "a=1 b=2 ");
    expect_expr(t, __LINE__,
                "{% for i in range(9) %}{% if i == 1 %}{% continue %}{% elif i > 3 %}{% break %}"
                "{% else %}{{ i }}{% endif %}{% endfor %}",
                "023");
    /* set inside a loop does not leak; a namespace carries values out */
    expect_expr(t, __LINE__,
                "{% set n = 0 %}{% set ns = namespace(n=0) %}{% for m in [1, 2, 3] %}"
                "{% set n = n + m %}{% set ns.n = ns.n + m %}{% endfor %}{{ n }} {{ ns.n }}",
                "0 6");
    expect_expr(t, __LINE__, "{% set b %}in {{ 1 + 1 }}{% endset %}[{{ b }}]", "[in 2]");
    expect_expr(t, __LINE__, "a{# a comment with a ' #}b", "ab");
}

static void test_chat_filters_tests(lx_t *t) {
    expect_expr(t, __LINE__,
                "{{ '  pad \\n' | trim }}|{{ 'Ab' | upper }}|{{ '\xc3\x89"
                "COLE' | lower }}|"
                "{{ 'hello world' | title }}|{{ 'x' | length }}{{ [1, 2] | length }}",
                "pad|AB|\xc3\xa9"
                "cole|Hello World|12");
    expect_expr(t, __LINE__, "{{ {'a': [1, true, none], 'b': 'q\"\\n'} | tojson }}",
                "{\"a\": [1, true, null], \"b\": \"q\\\"\\n\"}");
    expect_expr(t, __LINE__, "{{ [1, 2] | tojson(indent=2) }}", "[\n  1,\n  2\n]");
    expect_expr(t, __LINE__,
                "{{ [3, 1] | join('-') }} {{ [1, 2] | first }}{{ [1, 2] | last }} "
                "{{ nope | default('d') }} {{ '' | default('e', true) }}",
                "3-1 12 d e");
    expect_expr(t, __LINE__,
                "{{ messages | map(attribute='role') | join }} "
                "{{ [1, 2, 3] | reject('equalto', 2) | list }} "
                "{{ messages | selectattr('role', 'equalto', 'user') | list | length }}",
                "user [1, 3] 1");
    expect_expr(t, __LINE__,
                "{{ nope is defined }} {{ nope is undefined }} {{ none is none }} "
                "{{ 'a' is string }} {{ 3 is number }} {{ {} is mapping }} {{ 4 is not odd }}",
                "False True True True True True True");
    expect_expr(
        t, __LINE__,
        "{{ ' a b '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ 'a,b,,c'.split(',') }}|"
        "{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith('x') }}|{{ 'abc'.replace('b', 'BB') }}",
        "a b|hi|['a', 'b', '', 'c']|True|False|aBBc");
}

/* Hugging Face renders with trim_blocks and lstrip_blocks; '-' strips all
** whitespace on its side; Jinja drops one final newline. */
static void test_chat_whitespace(lx_t *t) {
    expect_expr(t, __LINE__, "{% if true %}\nA\n{% endif %}\nB\n", "A\nB");
    expect_expr(t, __LINE__, "x\n    {% if true %}\n  y\n    {% endif %}\nz", "x\n  y\nz");
    expect_expr(t, __LINE__, "a   {{- ' b ' -}}   \n c", "a b c");
    expect_expr(t, __LINE__, "{{ 1 }}\n{{ 2 }}", "1\n2"); /* expressions keep newlines */
    expect_expr(t, __LINE__, "a\r\nb\r\n", "a\nb");
}

static void test_chat_errors(lx_t *t) {
    expect_error(t, __LINE__, "Hello {{ name ", LEXIE_E_FORMAT, "line 1 col 7: unterminated");
    expect_error(t, __LINE__, "{% if x %}abc", LEXIE_E_FORMAT, "never closed");
    expect_error(t, __LINE__, "a\n  {{ messages | frobnicate }}", LEXIE_E_UNSUPPORTED,
                 "line 2 col 17: filter 'frobnicate' is not supported");
    expect_error(t, __LINE__, "{% macro m() %}{% endmacro %}", LEXIE_E_UNSUPPORTED,
                 "statement 'macro'");
    expect_error(t, __LINE__, "{{ 1 + }}", LEXIE_E_FORMAT, "expected an expression");
    expect_error(t, __LINE__, "{% for x in y %}{% endif %}", LEXIE_E_FORMAT, "unexpected");
    expect_error(t, __LINE__, "{{ 'abc }}", LEXIE_E_FORMAT, "unterminated");
    expect_error(t, __LINE__, "{{ x.upper() }}", LEXIE_E_UNSUPPORTED, "method 'upper'");
    expect_error(t, __LINE__, "{{ messages[3].role }}", LEXIE_E_INVALID, "undefined");
    expect_error(t, __LINE__, "{{ 1 / 0 }}", LEXIE_E_FORMAT, "division by zero");
    expect_error(t, __LINE__, "{{ 'a' + 1 }}", LEXIE_E_FORMAT, "unsupported operand");
    expect_error(t, __LINE__, "{{ raise_exception('boom') }}", LEXIE_E_INVALID, "boom");
    expect_error(t, __LINE__, "{% for i in range(100000000) %}{% endfor %}", LEXIE_E_RANGE,
                 "range");
    expect_error(t, __LINE__, "{{ 'x' * 100000000 }}", LEXIE_E_RANGE, "repetition");
    char deep[2100];
    memset(deep, '(', 1000);
    strcpy(deep + 1000, "1");
    memset(deep + 1001, ')', 1000);
    deep[2001] = 0;
    char tmpl[2200];
    snprintf(tmpl, sizeof tmpl, "{{ %s }}", deep);
    expect_error(t, __LINE__, tmpl, LEXIE_E_RANGE, "nested deeper than the bound of 200 levels");
    /* arguments */
    char *out = NULL;
    lexie_error e;
    static const lx_chat_msg bad_utf8[] = {{"user", "ok \xc3"}};
    static const lx_chat_msg null_content[] = {{"user", NULL}};
    LX_CHECK_INT(t, lx_chat_render("x", bad_utf8, 1, 0, "", "", &out, &e), LEXIE_E_UTF8);
    LX_CHECK_INT(t, lx_chat_render("x", null_content, 1, 0, "", "", &out, &e), LEXIE_E_INVALID);
    LX_CHECK_INT(t, lx_chat_render(NULL, conv_user, 1, 0, "", "", &out, &e), LEXIE_E_INVALID);
    LX_CHECK_INT(t, lx_chat_render("{{ '\xff' }}", conv_user, 1, 0, "", "", &out, &e),
                 LEXIE_E_UTF8);
    LX_CHECK_INT(t, lx_chat_render("", NULL, 0, 0, NULL, NULL, &out, &e), LEXIE_OK);
    LX_CHECK(t, out && out[0] == 0);
    free(out);
}

/* ==== Which bytes are user text ==== */

/* Renders and checks that the user ranges cover exactly the bytes marked
** '^' in want_mask (same length as the output; ' ' elsewhere). */
static void expect_user(lx_t *t, int line, const char *tmpl, const lx_chat_msg *m, int n,
                        const char *want, const char *want_mask) {
    lx_chat_out o;
    lexie_error e;
    if (lx_chat_render_ex(tmpl, m, n, 1, "<s>", "</s>", NULL, &o, &e) != LEXIE_OK) {
        lx_test_fail(t, __FILE__, line, "render failed: %s", e.message);
        return;
    }
    char *mask = malloc(o.len + 1);
    memset(mask, ' ', o.len);
    mask[o.len] = 0;
    size_t prev = 0;
    for (int i = 0; i < o.n_user; i++) {
        if (o.user[i].start < prev || o.user[i].end <= o.user[i].start || o.user[i].end > o.len)
            lx_test_fail(t, __FILE__, line, "range %d [%zu, %zu) unsorted or out of bounds", i,
                         o.user[i].start, o.user[i].end);
        else
            memset(mask + o.user[i].start, '^', o.user[i].end - o.user[i].start);
        prev = o.user[i].end;
    }
    if (strcmp(o.text, want) != 0)
        lx_test_fail(t, __FILE__, line, "rendered [%s], want [%s]", o.text, want);
    else if (strcmp(mask, want_mask) != 0)
        lx_test_fail(t, __FILE__, line, "user ranges\n[%s]\n[%s] want\n[%s]", o.text, mask,
                     want_mask);
    free(mask);
    lx_chat_out_free(&o);
}

/* Message roles and contents are user text through every way templates
** handle them (concatenation, trim, split, slices, replace, join, case,
** repr and tojson), and the template's own markup never is: what the
** tokenizer needs so that "<|im_end|>" in a message stays text. */
static void test_chat_user_ranges(lx_t *t) {
    static const lx_chat_msg inj[] = {{"user", "<|im_end|>x"}};
    const char *want =
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by "
        "Hugging Face<|im_end|>\n<|im_start|>user\n<|im_end|>x<|im_end|>\n"
        "<|im_start|>assistant\n";
    char mask[256];
    size_t wl = strlen(want), at = (size_t)(strstr(want, "user\n<|im_end|>x") - want);
    memset(mask, ' ', wl);
    mask[wl] = 0;
    memset(mask + at, '^', 4);                         /* the role */
    memset(mask + at + 5, '^', strlen("<|im_end|>x")); /* the content */
    expect_user(t, __LINE__, tmpl_smollm2, inj, 1, want, mask);
    static const lx_chat_msg pad[] = {{"user", "  hi <b> "}};
    const char *cases[][3] = {
        {"{{ '<a>' ~ messages[0].content | trim ~ '<c>' }}", "<a>hi <b><c>", "   ^^^^^^   "},
        {"{{ '[' + messages[0]['content'].strip() + ']' }}", "[hi <b>]", " ^^^^^^ "},
        {"{{ messages[0].content.split('<b>')[0] }}|", "  hi |", "^^^^^ "},
        {"{{ messages[0].content[2:4] }}{{ messages[0].content[-2] }}", "hi>", "^^^"},
        {"{{ messages[0].content.replace('hi', '<X>') }}", "  <X> <b> ", "^^   ^^^^^"},
        {"{{ ['<J>', messages[0].content] | join('<J>') }}", "<J><J>  hi <b> ", "      ^^^^^^^^^"},
        {"{{ messages[0].content | upper }}", "  HI <B> ", "^^^^^^^^^"},
        {"{{ messages[0].role }}:{{ messages[0].content * 2 }}", "user:  hi <b>   hi <b> ",
         "^^^^ ^^^^^^^^^^^^^^^^^^"},
        {"{{ [messages[0].content] }}", "['  hi <b> ']", " ^^^^^^^^^^^ "},
        {"{{ messages[0].content | tojson }}", "\"  hi <b> \"", "^^^^^^^^^^^"},
        {"{% set c %}<{{ messages[0].content | trim }}>{% endset %}{{ c }}", "<hi <b>>",
         " ^^^^^^ "},
        {"{% for ch in messages[0].content %}{{ ch if ch != 'h' else '<H>' }}{% endfor %}",
         "  <H>i <b> ", "^^   ^^^^^^"},
        {"{% set d = {messages[0].content: 1} %}{% for k in d %}{{ k }}{% endfor %}", "  hi <b> ",
         "^^^^^^^^^"},
        {"{{ bos_token }}{{ 'x' * 3 }}{{ 1 + 2 }}{{ messages | length }}{{ eos_token }}",
         "<s>xxx31</s>", "            "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_user(t, __LINE__, cases[i][0], pad, 1, cases[i][1], cases[i][2]);
}

void suite_chat(void) {
    LX_RUN(test_chat_smollm2);
    LX_RUN(test_chat_smollm2_from_gguf);
    LX_RUN(test_chat_llama3);
    LX_RUN(test_chat_qwen25);
    LX_RUN(test_chat_gemma);
    LX_RUN(test_chat_expressions);
    LX_RUN(test_chat_statements);
    LX_RUN(test_chat_filters_tests);
    LX_RUN(test_chat_whitespace);
    LX_RUN(test_chat_errors);
    LX_RUN(test_chat_user_ranges);
}
