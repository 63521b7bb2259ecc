/* Counter-based random numbers: Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random
   numbers: as easy as 1, 2, 3", SC'11; the Random123 generator).

   A stream is named by (seed, purpose, index):
     key     = { seed & 0xffffffff, seed >> 32 }
     counter = { block, purpose, index & 0xffffffff, index >> 32 }
   and is consumed sequentially by advancing the block counter (block = 0, 1, 2, ...), each block
   giving four 32-bit words, used in the order out[0], out[1], out[2], out[3]. Nothing depends on
   the MPI rank or on the number of ranks: the draws for item `index` are the same whichever rank
   computes them. A stream yields 2^32 blocks (2^34 words) before the block counter wraps.

   Consumption per call (fixed, so draw counts are predictable):
     rng_u32       1 word
     rng_uniform   2 words
     rng_normal    Box-Muller: 2 uniforms per pair of normals; the second one is cached (spare)
     rng_gamma     rejection (Marsaglia-Tsang): a variable number of normals and uniforms
     rng_bernoulli 1 uniform

   State save/restore: RngStream is a plain struct of fixed-width fields without pointers, so it
   can be copied by struct assignment or memcpy(dst, src, sizeof(RngStream)) and continues
   identically (the copy includes the buffered words and the cached spare normal). A checkpoint may
   write its bytes (sizeof(RngStream) == 56, no padding: checked in rng.c) and read them back on
   the same kind of machine; the byte image is in native byte order, so for a portable file write
   the fields (key, ctr, buf, nbuf, has_spare, spare) individually. */
#ifndef PDEDIFF_RNG_H
#define PDEDIFF_RNG_H
#include <stddef.h>
#include <stdint.h>

/* Purposes keep the streams of different uses of the same (seed, index) apart. The values are
   part of the stream definition: keep them; new purposes get new values. */
typedef enum {
  RNG_PURPOSE_PRIOR     = 1,
  RNG_PURPOSE_SDE_NOISE = 2,
  RNG_PURPOSE_DATA      = 3,
  RNG_PURPOSE_TRAIN_T   = 4,
  RNG_PURPOSE_TRAIN_Z   = 5,
  RNG_PURPOSE_MLP_INIT  = 6,
  RNG_PURPOSE_TRAIN_PERM = 7,
  RNG_PURPOSE_REFERENCE  = 8,  /* fresh joint samples for a reference set (Table 1's band) */
  RNG_PURPOSE_CONDITIONAL = 9, /* exact conditional samples */
  RNG_PURPOSE_FLUX      = 10, /* GP prior draws of the wall-flux vector (data generation) */
  RNG_PURPOSE_NOISE     = 11, /* measurement noise added to the clean sensor values (meas.h) */
  RNG_PURPOSE_MASK      = 12, /* random sensor masks of the multiple-operator model (meas.h) */
  RNG_PURPOSE_MCMC      = 13, /* reference MCMC chains of the inverse problem */
  RNG_PURPOSE_TWEEDIE   = 14, /* probe points of the sampler's tweedie start (sampler.h) */
  RNG_PURPOSE_TEST      = 100
} RngPurpose;

typedef struct {
  uint32_t key[2];   /* seed (low, high) */
  uint32_t ctr[4];   /* next block to generate: {block, purpose, index low, index high} */
  uint32_t buf[4];   /* last generated block */
  int      nbuf;     /* words of buf not yet used (the next word is buf[4 - nbuf]) */
  int      has_spare;/* 1 if spare holds the second normal of the last Box-Muller pair */
  double   spare;
} RngStream;

/* Raw Philox4x32-10 block function (for known-answer tests). */
void rng_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Start the stream (seed, purpose, index) at block 0. */
void rng_stream_init(RngStream *s, uint64_t seed, uint32_t purpose, uint64_t index);

/* Next 32-bit word. */
uint32_t rng_u32(RngStream *s);

/* Uniform in the open interval (0,1): k * 2^-53 with k the 53 high bits of two words
   (27 from the first, 26 from the second); k = 0 is returned as 2^-54. Never 0, never 1. */
double rng_uniform(RngStream *s);

/* Standard normal (Box-Muller; the second value of each pair is cached in the stream). */
double rng_normal(RngStream *s);

/* out[0..n-1] = n successive rng_normal(s). */
void rng_normal_fill(RngStream *s, size_t n, double *out);

/* Gamma(shape, scale) (mean shape*scale): Marsaglia-Tsang for shape >= 1, and for shape < 1
   Gamma(shape+1) * U^(1/shape). Needs shape > 0 and scale > 0; otherwise returns NaN. */
double rng_gamma(RngStream *s, double shape, double scale);

/* 1 with probability p (0 for p <= 0, 1 for p >= 1). */
int rng_bernoulli(RngStream *s, double p);

#endif
