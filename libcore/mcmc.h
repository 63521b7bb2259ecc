/* mcmc: reference posterior of the clipped-prior inverse problem (beyond the paper), by an
 * asymptotically exact MCMC on the whitened GP latent.
 *
 * Model: x = max(0, m + z), z = L_K w, w ~ N(0, I) (K = L_K L_K^T the GP covariance);
 * y = H x + e, e ~ N(0, s^2 I). The posterior over w has the prior N(0, I) and the explicit
 * likelihood L(w) = N(y; H max(0, m + L_K w), s^2 I). Working in w keeps every matrix well
 * conditioned (K itself has eigenvalues down to its 1e-10 jitter).
 *
 * Kernel: elliptical slice sampling (Murray, Adams, MacKay 2010) with a Gaussian reference
 * N(mu_r, Sigma_r): the target is written N(w; mu_r, Sigma_r) x exp(l(w)) with
 *   l(w) = -|w|^2/2 + log L(w) + (w - mu_r)^T Sigma_r^{-1} (w - mu_r)/2,
 * and the ellipse runs through the current state around mu_r. Two stages:
 *   burn-in: the reference is the exact posterior of the UNclipped model (the caller's mu_w,
 *     L_w), for which l(w) = log L(w) - log L_lin(w) is exactly 0 wherever no component is
 *     clipped (every such state accepted on the first proposal);
 *   sampling: the reference is refitted to the mean and covariance of the second half of the
 *     burn-in (fixed from then on, so the chain after burn-in is an exact MCMC for the target):
 *     where clipping is active the unclipped posterior is a poor match (a clipped component's latent
 *     is only bounded by its prior), and the refitted reference follows the actual posterior.
 * Every step moves to a new state by construction (the slice shrinks towards the current one);
 * `repeated` counts states equal to the previous one (a collapsed bracket), and the cost is in
 * likelihood evaluations per step.
 *
 * Chains are keyed by (seed, RNG_PURPOSE_MCMC, chain index), so the result does not depend on the
 * ranks. The integrated autocorrelation time of each component of x is estimated by Sokal's
 * automatic window (c = 5) on the chain after burn-in.
 *
 * Run length: n_iter steps, then, while the effective sample size of the worst component is below
 * min_ess, the chain goes on (to ~1.2 n min_ess / ESS steps at a time, at least 1.5 n) up to
 * max_iter steps. Why: at noise 0.02 a fixed 50,000 steps left one case of 50 with IAT 1,932
 * (ESS 26, so its reference std was uncertain by ~14%); a target ESS bounds the reference's own
 * error for every case at the cost of the slow ones only. Memory stays at the caller's work
 * buffer: when it is full, pairs of stored rows are averaged and from then on each row is the
 * mean of a batch of thin consecutive states (thin doubles each time). The mean and std use every
 * state (Welford); the IAT comes from the batch means (see IatMax in mcmc.c), so it stays an
 * estimate of the chain's IAT however long the chain, and the ESS is not bounded by the storage.
 * A chain that reaches max_iter short of min_ess reports it (capped). */
#ifndef PDEDIFF_MCMC_H
#define PDEDIFF_MCMC_H
#include <petscsys.h>

typedef struct {
  PetscInt         nx, ny;
  const PetscReal *H;      /* ny x nx */
  const PetscReal *L_K;    /* lower Cholesky factor of the prior covariance of z (nx x nx, row-major) */
  PetscReal        mean;   /* prior mean m of x before clipping */
  PetscReal        s2;     /* noise variance > 0 */
  PetscBool        clip;
  const PetscReal *mu_w;   /* burn-in reference: exact posterior mean of w for the unclipped model */
  const PetscReal *L_w;    /* and the lower Cholesky factor of its covariance */
} McmcProblem;

typedef struct {
  PetscInt  n_iter;  /* steps after burn-in */
  PetscInt  n_burn;  /* steps discarded (>= 2 nx + 2 to refit the reference) */
  PetscInt  seed;
  PetscBool refit;   /* refit the reference after burn-in (default; PETSC_FALSE keeps the first) */
  PetscReal min_ess; /* extend the chain until the worst component's ESS reaches this (0: n_iter steps) */
  PetscInt  max_iter;/* cap on the steps after burn-in when extending */
} McmcOpts;

typedef struct {
  PetscReal evals_per_step;  /* likelihood evaluations per step after burn-in (1 = no shrinkage) */
  PetscInt  repeated;        /* steps whose state equals the previous one */
  PetscReal iat_max;         /* largest integrated autocorrelation time over the components of x */
  PetscReal ess_min;         /* steps / iat_max: effective sample size of the worst component */
  PetscInt  steps;           /* steps after burn-in (n_iter, or more when extended to reach min_ess) */
  PetscInt  thin;            /* the stored rows are means of batches of thin states (1: every state) */
  PetscBool capped;          /* stopped at max_iter with ess_min < min_ess */
  PetscBool refitted;        /* the reference was refitted (false: refit off, or its covariance was not
                                positive definite and the unclipped posterior was kept) */
} McmcStats;

/* Run one chain for measurement y (ny) and write the posterior mean and std of x (nx).
   work: (max(n_iter, n_burn) + 1) x nx reals (also when the chain is extended: its rows become
   batch means). The IAT is at least 1 (so the ESS never exceeds the steps). The argument checks below are the same on every rank
   (callers running chains on several ranks check them collectively first: mcmc_check). */
/* Collective-friendly validation of the options for nx unknowns: 0 or an error message in why. */
PetscErrorCode mcmc_check(PetscInt nx, const McmcOpts *o, char why[], size_t len);
PetscErrorCode McmcRun(const McmcProblem *p, const McmcOpts *o, PetscInt64 chain, const PetscReal y[], PetscReal mean[], PetscReal std[], McmcStats *st, PetscReal work[]);

/* Integrated autocorrelation time of the series v[0..n-1] (stride ld) by Sokal's windowing (c = 5). */
PetscReal mcmc_iat(PetscInt n, PetscInt ld, const PetscReal v[]);
/* The IAT of a chain from nb means Y (stride ld) of consecutive batches of b states, var1 the
   variance of single states: the variance of the chain's mean is var(Y) tau_Y / nb and also
   var1 tau / (nb b), so tau = b var(Y) tau_Y / var1. For b = 1 it is mcmc_iat; for b >> tau the
   batch means are nearly independent (tau_Y ~ 1) and var(Y) carries tau; in between, Sokal's
   window on Y resolves the rest. So the estimate does not degrade as batches grow, unlike
   keeping every b-th state (whose IAT x b tends to b once b > tau). */
PetscReal mcmc_iat_batched(PetscInt nb, PetscInt ld, const PetscReal Y[], PetscInt b, PetscReal var1);

#endif
