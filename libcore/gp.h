/* gp: the Gaussian-process prior on the wall-flux vector x (DESIGN.md section 5, "Prior on x").
 *
 *   x = clip(mean + z),  z ~ N(0, K),  clip(v) = max(v, 0) componentwise (or the identity when
 *                                       clipping is off: a purely Gaussian prior N(mean, K)),
 *   K_ij = std^2 exp(-|p_i - p_j|^2 / (2 length^2)) + jitter std^2 delta_ij
 *
 * on the n points p_i (the segment midpoints, gp_segment_midpoints). The jitter is RELATIVE to
 * the marginal variance std^2: the RBF covariance of 30 closely spaced points is numerically
 * singular (smallest eigenvalues ~1e-15 std^2), so it is factored as K = L L^T only after adding
 * jitter std^2 to its diagonal. The factorisation is ScaLAPACK's pdpotrf on a BLACS grid over
 * the given communicator (slpk.h); L is replicated and bit-identical on every rank.
 *
 * Sample `index` draws w ~ N(0, I_n) from the stream (seed, RNG_PURPOSE_FLUX, index) (rng.h):
 * n successive rng_normal values, so a data set does not depend on the number of ranks. */
#ifndef PDEDIFF_GP_H
#define PDEDIFF_GP_H
#include "rng.h"
#include <petscsys.h>

typedef struct {
  PetscInt   n;         /* number of points (flux values) */
  PetscReal *pts;       /* n x 2 point coordinates (a copy) */
  PetscReal  length;    /* RBF length scale (-gp_length) */
  PetscReal  std;       /* marginal standard deviation (-gp_std) */
  PetscReal  mean;      /* constant prior mean (-gp_mean) */
  PetscReal  jitter;    /* diagonal jitter relative to std^2 (-gp_jitter) */
  PetscBool  clip;      /* clip negative values to 0 (-gp_clip) */
  PetscReal *K;         /* n x n covariance including the jitter, row-major */
  PetscReal *L;         /* n x n lower Cholesky factor of K, row-major (upper part 0), replicated */
  PetscReal  min_pivot; /* min_i L_ii^2: the smallest Cholesky pivot, i.e. the smallest
                           conditional variance of z_i given z_0..z_{i-1} (units of x^2) */
} GPPrior;

/* Collective on comm. Build K on the n points pts (n x 2, row-major) and factor it.
   Errors: length <= 0 (-gp_length), std <= 0 (-gp_std), jitter < 0 (-gp_jitter), and a K that
   is not numerically positive definite (PETSC_ERR_USER_INPUT: increase -gp_jitter). */
PetscErrorCode GPPriorCreate(MPI_Comm comm, PetscInt n, const PetscReal pts[], PetscReal length, PetscReal std, PetscReal mean, PetscReal jitter, PetscBool clip, GPPrior *gp);

/* Collective on comm. Read -gp_length (2), -gp_std (1), -gp_mean (2), -gp_jitter (1e-10) and
   -gp_clip (true) from the options database (listed by -help), then GPPriorCreate. */
PetscErrorCode GPPriorSetFromOptions(MPI_Comm comm, PetscInt n, const PetscReal pts[], GPPrior *gp);

/* Sample `index` of the prior: w ~ N(0, I) from stream (seed, RNG_PURPOSE_FLUX, index),
   z = L w (the zero-mean Gaussian latent), x = mean + z, then x = max(x, 0) if clip.
   x[n]; z[n] may be NULL. Deterministic: the same (seed, index) gives the same x on every rank. */
void GPPriorSample(const GPPrior *gp, uint64_t seed, uint64_t index, PetscReal x[], PetscReal z[]);

PetscErrorCode GPPriorDestroy(GPPrior *gp);

/* The 2 nseg_per_wall points of DESIGN.md section 5, in the order of x: the bottom-wall
   midpoints (x_c, 0) for k = 0 .. nseg_per_wall-1 left to right, then the top-wall ones
   (x_c, height), x_c = (k + 0.5) seg_len. The paper's geometry: nseg_per_wall 15,
   length_x 16, height 4, seg_len 16/34. pts has 2 nseg_per_wall rows of 2. length_x (the domain
   length) is not used: the caller checks nseg_per_wall seg_len <= length_x. */
void gp_segment_midpoints(PetscInt nseg_per_wall, PetscReal length_x, PetscReal height, PetscReal seg_len, PetscReal pts[]);

#endif
