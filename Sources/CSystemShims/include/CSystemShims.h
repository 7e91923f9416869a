#ifndef CSYSTEMSHIMS_H
#define CSYSTEMSHIMS_H
/* prctl(2) is variadic, so Swift cannot import it; these fixed-arity wrappers can be. */
int csystem_set_dumpable(int dumpable);
int csystem_get_dumpable(void);
#endif
