/* mcmc: reference posterior of the clipped-prior inverse problem (beyond the paper), by an
 * asymptotically exact MCMC on the GP latent z.
 *
 * Model: x = max(0, m + z), z ~ N(0, K); y = H x + e, e ~ N(0, s^2 I). The posterior over z has a
 * Gaussian prior and the explicit likelihood L(z) = N(y; H max(0, m + z), s^2 I).
 *
 * Kernel: elliptical slice sampling (Murray, Adams, MacKay 2010) with the Gaussian reference
 * N(mu_G, Sigma_G), the exact posterior of the UNclipped model y = H (m + z) + e (post.h). The
 * target is written as  N(z; mu_G, Sigma_G) * exp(log L(z) - log L_lin(z)),  L_lin the likelihood
 * without the clipping: the two agree wherever m + z >= 0, so the slice sampler's "likelihood" is 1
 * except where clipping is active, and every state with no clipped component is accepted on the
 * first proposal. (With the GP prior itself as reference the likelihood is so peaked at the paper's
 * noise levels that the slice shrinks dozens of times per step.) Every step accepts a new state
 * by construction; `repeated` counts states equal to the previous one (a collapsed bracket), and
 * the cost is in likelihood evaluations per step.
 *
 * Chains are keyed by (seed, RNG_PURPOSE_MCMC, chain index), so the result does not depend on the
 * ranks. The integrated autocorrelation time of each component of x is estimated by Sokal's
 * automatic window (c = 5) on the chain after burn-in. */
#ifndef PDEDIFF_MCMC_H
#define PDEDIFF_MCMC_H
#include <petscsys.h>

typedef struct {
  PetscInt         nx, ny;
  const PetscReal *H;      /* ny x nx */
  PetscReal        mean;   /* prior mean m of x before clipping */
  PetscReal        s2;     /* noise variance > 0 */
  PetscBool        clip;
  const PetscReal *mu_g;   /* reference mean (nx) for this measurement */
  const PetscReal *L_g;    /* lower Cholesky factor of the reference covariance (nx x nx, row-major) */
} McmcProblem;

typedef struct {
  PetscInt n_iter;  /* steps after burn-in */
  PetscInt n_burn;  /* steps discarded */
  PetscInt seed;
} McmcOpts;

typedef struct {
  PetscReal evals_per_step;  /* likelihood evaluations per step (1 = no shrinkage) */
  PetscInt  repeated;        /* steps whose state equals the previous one */
  PetscReal iat_max;         /* largest integrated autocorrelation time over the components of x */
  PetscReal ess_min;         /* n_iter / (iat_max): effective sample size of the worst component */
} McmcStats;

/* Run one chain for measurement y (ny) and write the posterior mean and std of x (nx).
   work: (n_iter) x nx reals for the chain of x (the IAT needs it). */
PetscErrorCode McmcRun(const McmcProblem *p, const McmcOpts *o, PetscInt64 chain, const PetscReal y[], PetscReal mean[], PetscReal std[], McmcStats *st, PetscReal work[]);

/* Integrated autocorrelation time of the series v[0..n-1] (stride ld) by Sokal's windowing (c = 5). */
PetscReal mcmc_iat(PetscInt n, PetscInt ld, const PetscReal v[]);

#endif
