/* Shared by bank.c (reading, loading, verifying) and bank_init.c (writing bank.json). */
#ifndef XFER_BANK_INT_H
#define XFER_BANK_INT_H
#include <cJSON.h>

#include "xfer/bank.h"

/* Checks the keys of models[idx] that are present (types, ranges, digests, paths); with
 * strict every standard key must be present. where names bank.json in messages. */
xf_status xf_bank_check_entry(xf_ctx_t *ctx, const char *where, int idx, const cJSON *e, int strict);
/* Checks the top level: format, version, models (present in strict mode). */
xf_status xf_bank_check_root(xf_ctx_t *ctx, const char *where, const cJSON *root, int strict);
/* Reads a whole file into a NUL-terminated xf_malloc'd buffer. */
xf_status xf_bank_read_text(xf_ctx_t *ctx, const char *path, char **text, size_t *len);
/* A file name relative to the bank folder that stays inside it (no "..", not absolute). */
int xf_bank_file_ok(const char *file);
/* "main_graph" and other exporters' default graph names say nothing about the model. */
const char *xf_bank_arch_from_graph(const xf_graph *g);
#endif
