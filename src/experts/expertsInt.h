/* Shared between the expert builder (build.c), the built bank's reader (bank.c) and the
 * proxies (proxies.c): file names and the record experts.json (docs/FORMATS.md). */
#ifndef XFER_EXPERTS_INT_H
#define XFER_EXPERTS_INT_H
#include "xfer/experts.h"

#define EXPERTS_RECORD "experts.json"
#define EXPERTS_FORMAT "xfer-experts"
#define EXPERTS_VERSION 1
#define EXPERTS_GENERALIST "generalist.onnx"
#define EXPERTS_STORE "adapters.xfad"
#define EXPERTS_EPN "epn/epn.onnx"
#define EXPERTS_PRIORS "priors"
#define EXPERTS_EXPORTS "adapters"
#define EXPERTS_SOURCE "xfer-corpus-upstream"
/* pixels in [0, 1] -> [-1, 1], as the paper maps them (App. D) */
#define EXPERTS_MEAN 0.5f
#define EXPERTS_STD 0.5f

/* dst = "<dir>/<a><b>", snprintf-style; returns 0 if it fit */
int xf_experts_path(char *dst, size_t cap, const char *dir, const char *a, const char *b);
/* a file-name-safe copy of a node name: bytes outside [A-Za-z0-9._-] become '_' */
void xf_experts_safe_name(char *dst, size_t cap, const char *name);
/* mkdir -p */
xf_status xf_experts_mkdirs(xf_ctx_t *ctx, const char *dir);
/* whole file into memory (NUL-terminated); *len may be NULL */
xf_status xf_experts_slurp(xf_ctx_t *ctx, const char *path, char **out, size_t *len);
/* text to path through a temporary file renamed into place */
xf_status xf_experts_write_text(xf_ctx_t *ctx, const char *path, const char *text);

/* bank.c: what the proxies read from an opened bank */
const double *xf_experts_prior(const xf_experts_t *ex, int i); /* (Z) P_e of expert i */
int64_t xf_experts_classes(const xf_experts_t *ex);            /* Z */
const char *xf_experts_epn_path(const xf_experts_t *ex);       /* NULL: no EPN */
int xf_experts_epn_classes(const xf_experts_t *ex);

#endif
