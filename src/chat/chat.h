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

/* Renders msgs through a chat template given as Jinja text (the GGUF's
** tokenizer.chat_template or a user override).  Supports the Jinja subset
** real templates use; an unsupported construct is refused with
** LEXIE_E_UNSUPPORTED naming it.  bos/eos are the token strings exposed to
** the template as bos_token and eos_token (may be ""). *out is malloc'd;
** free with free(). */
lexie_status lx_chat_render(const char *tmpl, const lx_chat_msg *msgs, int n_msgs,
                            int add_generation_prompt, const char *bos, const char *eos, char **out,
                            lexie_error *err);

#endif /* LX_CHAT_H */
