build/tools/lexie/main.o: tools/lexie/main.c include/lexie.h
include/lexie.h:
