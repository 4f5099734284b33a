/* Private helpers shared by glyph.c and corpus.c. */
#ifndef XFER_CORPUS_INT_H
#define XFER_CORPUS_INT_H
#include "xfer/corpus.h"

#define XF_CORPUS_FNV_OFFSET 0xcbf29ce484222325ULL
/* FNV-1a 64 over n bytes, continuing from h. */
uint64_t xf_corpus_fnv1a(uint64_t h, const void *p, size_t n);
/* Scans dir like xf_fonts_open without opening any font: the hash of every font file's
 * relative path and size in scan order (the corpus's reuse check), and their count. */
xf_status xf_fonts_list_hash(xf_ctx_t *ctx, const char *dir, uint64_t *hash, int *nfiles);
/* The same hash for an opened font set. */
uint64_t xf_fonts_hash(const xf_fonts_t *f);
#endif
