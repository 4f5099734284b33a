/* Checks shared by the JSON readers (bank.json in src/select/bank.c, experts.json in
 * src/experts/bank.c): a number from an untrusted file is range-checked before any
 * conversion, because converting a double outside the target type's range is undefined
 * behaviour in C (C11 6.3.1.4, 6.3.1.5). Private to the library. */
#ifndef XFER_JSON_INT_H
#define XFER_JSON_INT_H
#include <cJSON.h>

/* 1 if v is a JSON number holding an integer in [lo, hi] */
int xf_json_int_in(const cJSON *v, double lo, double hi);
/* 1 if v is a JSON number that is finite and in [lo, hi] */
int xf_json_num_in(const cJSON *v, double lo, double hi);

#endif
