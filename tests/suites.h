/* The test suites, one line each: SUITE(name) runs suite_name() from
** tests/test_name.c. */
SUITE(base)
SUITE(kernels)
SUITE(gguf)
SUITE(model_ref)
SUITE(hub)
SUITE(parity)
SUITE(cli)
SUITE(json)
SUITE(tokenizer)
SUITE(chat)
SUITE(re)
