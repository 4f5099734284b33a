/* Range checks for numbers read from JSON files (jsonInt.h). */
#include <math.h>

#include "jsonInt.h"

int xf_json_num_in(const cJSON *v, double lo, double hi) {
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= lo && v->valuedouble <= hi;
}

int xf_json_int_in(const cJSON *v, double lo, double hi) {
    return xf_json_num_in(v, lo, hi) && v->valuedouble == floor(v->valuedouble);
}
