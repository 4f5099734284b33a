/* Private core state: the context struct. Only src/core includes this. */
#ifndef XFER_CORE_INT_H
#define XFER_CORE_INT_H
#include "xfer/core.h"

#define XF_ERRMSG_MAX 1024

struct xf_ctx {
    xf_status status;
    char msg[XF_ERRMSG_MAX];
    char loc[128];
    xf_allocator alloc;
    int has_alloc;
    int64_t alloc_count;   /* allocations made since creation */
    int64_t fail_at;       /* alloc_count value at which failures begin; 0 = never */
    int threads;
    uint64_t seed;
    xf_log_fn log_fn;
    void *log_user;
    xf_log_level log_min;
    xf_progress_fn prog_fn;
    void *prog_user;
    struct xf_outgroup *out; /* output group state (files.c); NULL when none */
};
#endif
