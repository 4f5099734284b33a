/* Seeded RNG: xoshiro256** (Blackman & Vigna 2018), state filled by splitmix64 so that
 * any 64-bit seed, including 0, gives a good stream. Same seed, same numbers, on every
 * platform: no libc rand(). */
#include <math.h>

#include "xfer/core.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void xf_rng_seed(xf_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t xf_rng_u64(xf_rng *r) {
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
}

double xf_rng_uniform(xf_rng *r) { return (double)(xf_rng_u64(r) >> 11) * 0x1.0p-53; }

double xf_rng_normal(xf_rng *r) {
    double u1 = xf_rng_uniform(r), u2 = xf_rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Lemire's nearly-divisionless method would be faster; rejection on the top range keeps
 * this simple and unbiased. */
uint64_t xf_rng_below(xf_rng *r, uint64_t n) {
    if (n <= 1) return 0;
    uint64_t lim = UINT64_MAX - (UINT64_MAX % n);
    uint64_t x;
    do x = xf_rng_u64(r);
    while (x >= lim);
    return x % n;
}

void xf_rng_shuffle_i64(xf_rng *r, int64_t *a, int64_t n) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)xf_rng_below(r, (uint64_t)i + 1);
        int64_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}
