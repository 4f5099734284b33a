/* Shared by the bench programs: is name one of the comma-separated names of list?
 * A NULL list selects every name (the option was not given). */
#ifndef XFER_BENCH_NAME_LIST_H
#define XFER_BENCH_NAME_LIST_H
#include <string.h>

static inline int listed(const char *list, const char *name) {
    if (!list) return 1;
    size_t n = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ',') && (p[n] == 0 || p[n] == ',')) return 1;
    return 0;
}
#endif
