/*
** chat.h -- chat templates: rendering a conversation through the Jinja
** text a GGUF carries as tokenizer.chat_template.
**
** What the rest of the library calls; the engine's own parts (arena,
** values, syntax tree, lexer, parser, filters) are in chat_impl.h.  Needs
** nothing from the vocabulary: bos/eos arrive as strings.
*/
#ifndef LX_CHAT_H
#define LX_CHAT_H

#include "base/base.h"

typedef struct lx_chat_msg {
    const char *role; /* "system", "user", "assistant" */
    const char *content;
} lx_chat_msg;

/* The bounds one render runs under, counted (never timed), so a hostile
** template fails with LEXIE_E_RANGE and a message naming the bound instead
** of exhausting memory or stack.  A field 0 takes its default. */
typedef struct lx_chat_limits {
    size_t max_bytes;  /* the render's values, strings and syntax tree: 64 MiB */
    size_t max_output; /* rendered text: 64 MiB */
    int64_t max_steps; /* loop iterations over the whole render: 1 million */
    int max_depth;     /* nesting of blocks and expressions (parse), of
                       ** expressions, statements and values (render): 200 */
} lx_chat_limits;

#define LX_CHAT_MAX_BYTES ((size_t)64 << 20)
#define LX_CHAT_MAX_OUTPUT ((size_t)64 << 20)
#define LX_CHAT_MAX_STEPS 1000000
#define LX_CHAT_MAX_DEPTH 200
#define LX_CHAT_MAX_ITEMS 1000000 /* elements of one range() or repetition */

/* A render's result: the text (malloc'd, NUL-terminated, len bytes) and
** the byte ranges of it that came from message roles and contents (user
** text; malloc'd, sorted, disjoint; NULL when n_user is 0).  Everything
** else is the template's own markup. */
typedef struct lx_chat_out {
    char *text;
    size_t len;
    lexie_span *user;
    int n_user;
} lx_chat_out;

/* Renders msgs through a chat template given as Jinja text (the GGUF's
** tokenizer.chat_template or a user override).  Supports the Jinja subset
** real templates use; an unsupported construct is refused with
** LEXIE_E_UNSUPPORTED naming it.  bos/eos are the token strings exposed to
** the template as bos_token and eos_token (may be ""); they count as
** markup.  lim may be NULL for the defaults.  On failure out is zeroed. */
lexie_status lx_chat_render_ex(const char *tmpl, const lx_chat_msg *msgs, int n_msgs,
                               int add_generation_prompt, const char *bos, const char *eos,
                               const lx_chat_limits *lim, lx_chat_out *out, lexie_error *err);
/* lx_chat_render_ex with the default bounds, keeping only the text: *out
** is malloc'd; free with free(). */
lexie_status lx_chat_render(const char *tmpl, const lx_chat_msg *msgs, int n_msgs,
                            int add_generation_prompt, const char *bos, const char *eos, char **out,
                            lexie_error *err);
/* Frees what out holds and zeroes it. */
void lx_chat_out_free(lx_chat_out *out);

#endif /* LX_CHAT_H */
