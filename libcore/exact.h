/* exact: data laws whose time-marginal score is known in closed form, used to verify the
 * samplers without a network (and by `pdediff sample -score exact`).
 *
 * Under the forward kernel p_t(x|x') = N(m x', sigma^2 I) a Gaussian data law N(mu, s^2)
 * stays Gaussian: p_t = N(m mu, m^2 s^2 + sigma^2), and a Gaussian mixture stays a mixture.
 *
 *   gauss:   x | c ~ N(mu0 + A c, diag(s^2)) in dim dimensions, c in R^cond_dim.
 *   mixture: 1-D sum_k w_k N(mu_k, s_k^2) (no conditioning).
 */
#ifndef PDEDIFF_EXACT_H
#define PDEDIFF_EXACT_H
#include "sampler.h"

typedef struct {
  const Sched *sch;
  PetscInt     dim, cond_dim;
  PetscReal   *mu0; /* dim */
  PetscReal   *s;   /* dim, standard deviations */
  PetscReal   *A;   /* dim x cond_dim, row-major */
} ExactGauss;

#define EXACT_MIX_MAX 8
typedef struct {
  const Sched *sch;
  PetscInt     K;
  PetscReal    w[EXACT_MIX_MAX], mu[EXACT_MIX_MAX], s[EXACT_MIX_MAX];
} ExactMixture;

/* The test problems: dim-dimensional Gaussian whose means span [-1, 1] and standard deviations
   [0.3, 1], shifted by a fixed cond_dim-column matrix A; and the two-component mixture
   0.3 N(-1.5, 0.3^2) + 0.7 N(1, 0.5^2). */
PetscErrorCode ExactGaussCreate(const Sched *sch, PetscInt dim, PetscInt cond_dim, ExactGauss *g);
PetscErrorCode ExactGaussDestroy(ExactGauss *g);
PetscErrorCode ExactMixtureSetDefault(const Sched *sch, ExactMixture *mx);

/* Mean of x | c at t = 0: out[d] = mu0[d] + (A c)[d]. */
void exact_gauss_mean(const ExactGauss *g, const PetscReal c[], PetscReal out[]);

/* Exact law N(mean, var) of one component of a sampler's output (options o) for data N(mu, s^2),
   starting from N(0, sigma(T)^2): for the SDE the Euler-Maruyama recursion with the exact
   (linear) score is affine, so its mean and variance propagate exactly (terminal mismatch and
   discretisation error included); for the ODE the probability flow preserves
   z = (x - m mu)/sqrt(m^2 s^2 + sigma^2), which maps the start law to the output law at t = eps. */
void exact_gauss_sampler_law(const Sched *sch, const SamplerOpts *o, PetscReal mu, PetscReal s, PetscReal *mean, PetscReal *var);

/* Exact probability-flow map of the Gaussian from a state x0 at t0 to t1 (row of dim, condition c). */
void exact_gauss_flow(const ExactGauss *g, const PetscReal c[], PetscReal t0, const PetscReal x0[], PetscReal t1, PetscReal x1[]);

/* ScoreFn-compatible callbacks (ctx = ExactGauss* / ExactMixture*). */
PetscErrorCode ExactGaussScore(void *ctx, PetscInt n, const PetscReal t[], const PetscReal x[], const PetscReal cond[], PetscReal score[]);
PetscErrorCode ExactMixtureScore(void *ctx, PetscInt n, const PetscReal t[], const PetscReal x[], const PetscReal cond[], PetscReal score[]);

/* CDF of the mixture's time-t marginal, and its inverse (bisection to round-off). */
PetscReal exact_mixture_cdf(const ExactMixture *mx, PetscReal t, PetscReal x);
PetscReal exact_mixture_quantile(const ExactMixture *mx, PetscReal t, PetscReal u);
/* Exact probability-flow map of the mixture from time t0 to t1 (1-D flows preserve the CDF):
   x1 = Q_t1(F_t0(x0)), evaluated on the upper tail through the survival function so that
   points far out in either tail keep full relative precision. */
PetscReal exact_mixture_flow(const ExactMixture *mx, PetscReal t0, PetscReal x0, PetscReal t1);
/* Quantile of the t = 0 law, in the callback form StatsW1Quantile takes (ctx = ExactMixture*). */
PetscReal exact_mixture_quantile0(void *ctx, PetscReal u);
/* Posterior probability of component k at t = 0 for a point x. */
PetscReal exact_mixture_resp(const ExactMixture *mx, PetscInt k, PetscReal x);

#endif
