/* Philox4x32-10 counter-based generator and the distributions built on it (see rng.h). */
#include "rng.h"

#include <math.h>

/* The byte image is used in checkpoints: no padding bytes (which would be indeterminate). */
_Static_assert(sizeof(RngStream) == 2 * 4 + 4 * 4 + 4 * 4 + 2 * sizeof(int) + sizeof(double),
               "RngStream must have no padding");

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u /* golden ratio */
#define PHILOX_W1 0xBB67AE85u /* sqrt(3) - 1 */

void rng_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
  uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
  uint32_t k0 = key[0], k1 = key[1];
  for (int r = 0; r < 10; r++) {
    if (r) { /* the key is bumped before every round but the first */
      k0 += PHILOX_W0;
      k1 += PHILOX_W1;
    }
    const uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
    const uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    const uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

void rng_stream_init(RngStream *s, uint64_t seed, uint32_t purpose, uint64_t index)
{
  s->key[0] = (uint32_t)seed;
  s->key[1] = (uint32_t)(seed >> 32);
  s->ctr[0] = 0;
  s->ctr[1] = purpose;
  s->ctr[2] = (uint32_t)index;
  s->ctr[3] = (uint32_t)(index >> 32);
  for (int i = 0; i < 4; i++) s->buf[i] = 0;
  s->nbuf      = 0;
  s->has_spare = 0;
  s->spare     = 0.0;
}

uint32_t rng_u32(RngStream *s)
{
  if (s->nbuf == 0) {
    rng_philox4x32_10(s->ctr, s->key, s->buf);
    s->ctr[0]++;
    s->nbuf = 4;
  }
  return s->buf[4 - s->nbuf--];
}

double rng_uniform(RngStream *s)
{
  const uint64_t a = rng_u32(s) >> 5, b = rng_u32(s) >> 6; /* 27 + 26 = 53 bits */
  const uint64_t k = (a << 26) | b;
  /* k * 2^-53 is exact and at most 1 - 2^-53; only k = 0 needs moving off 0 (probability 2^-53). */
  return k ? (double)k * 0x1p-53 : 0x1p-54;
}

double rng_normal(RngStream *s)
{
  if (s->has_spare) {
    s->has_spare = 0;
    return s->spare;
  }
  /* Box-Muller rather than the polar method: a fixed two uniforms per pair, and u1 in (0,1) keeps
     the logarithm finite. */
  const double u1 = rng_uniform(s), u2 = rng_uniform(s);
  const double r = sqrt(-2.0 * log(u1)), th = 6.283185307179586476925286766559 * u2;
  s->spare     = r * sin(th);
  s->has_spare = 1;
  return r * cos(th);
}

void rng_normal_fill(RngStream *s, size_t n, double *out)
{
  for (size_t i = 0; i < n; i++) out[i] = rng_normal(s);
}

/* Marsaglia & Tsang (2000), "A simple method for generating gamma variables", shape >= 1. */
static double gamma_mt(RngStream *s, double shape)
{
  const double d = shape - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
  for (;;) {
    const double x = rng_normal(s);
    double       v = 1.0 + c * x;
    if (v <= 0.0) continue;
    v = v * v * v;
    const double u = rng_uniform(s), x2 = x * x;
    if (u < 1.0 - 0.0331 * x2 * x2) return d * v; /* squeeze: avoids the logs almost always */
    if (log(u) < 0.5 * x2 + d * (1.0 - v + log(v))) return d * v;
  }
}

double rng_gamma(RngStream *s, double shape, double scale)
{
  if (!(shape > 0.0) || !(scale > 0.0)) return NAN;
  if (shape >= 1.0) return scale * gamma_mt(s, shape);
  /* Gamma(a) = Gamma(a+1) * U^(1/a) for a < 1; via exp/log so that tiny a underflows gracefully. */
  const double g = gamma_mt(s, shape + 1.0);
  const double u = rng_uniform(s);
  return scale * g * exp(log(u) / shape);
}

int rng_bernoulli(RngStream *s, double p)
{
  return rng_uniform(s) < p; /* u in (0,1): p <= 0 gives 0, p >= 1 gives 1 */
}
