/* Checks shared by the JSON readers (bank.json in src/select/bank.c, experts.json in
 * src/experts/bank.c): a number from an untrusted file is range-checked before any
 * conversion, because converting a double outside the target type's range is undefined
 * behaviour in C (C11 6.3.1.4, 6.3.1.5). Private to the library. */
#ifndef XFER_JSON_INT_H
#define XFER_JSON_INT_H
#include <cJSON.h>

/* Bounds of a model's input normalisation (x - mean) / std, pixels in [0, 1]: |mean| and
 * std at most 1e6, std at least 1e-6 (real ones: 0.5, 0.229, 58.4 on a 0-255 scale), so
 * the float conversion and the normalised pixels stay finite. */
#define XF_JSON_NORM_MAX 1e6
#define XF_JSON_STD_MIN 1e-6

/* 1 if v is a JSON number holding an integer in [lo, hi] */
int xf_json_int_in(const cJSON *v, double lo, double hi);
/* 1 if v is a JSON number that is finite and in [lo, hi] */
int xf_json_num_in(const cJSON *v, double lo, double hi);

#endif
