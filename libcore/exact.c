#include "exact.h"
#include <math.h>

PetscErrorCode ExactGaussCreate(const Sched *sch, PetscInt dim, PetscInt cond_dim, ExactGauss *g)
{
  PetscFunctionBeginUser;
  PetscCheck(dim > 0 && cond_dim >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "ExactGauss: need dim > 0 and cond_dim >= 0");
  g->sch      = sch;
  g->dim      = dim;
  g->cond_dim = cond_dim;
  PetscCall(PetscMalloc3(dim, &g->mu0, dim, &g->s, (size_t)dim * PetscMax(cond_dim, 1), &g->A));
  for (PetscInt d = 0; d < dim; d++) {
    const PetscReal u = dim > 1 ? (PetscReal)d / (dim - 1) : 0.5;
    g->mu0[d]         = -1.0 + 2.0 * u;
    g->s[d]           = 0.3 + 0.7 * (1.0 - u);
    /* A: smooth, O(0.5) shifts so that different conditions give clearly different means */
    for (PetscInt j = 0; j < cond_dim; j++) g->A[d * cond_dim + j] = 0.5 * cos(PETSC_PI * (j + 1) * (d + 0.5) / dim);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode ExactGaussDestroy(ExactGauss *g)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree3(g->mu0, g->s, g->A));
  PetscFunctionReturn(0);
}

void exact_gauss_mean(const ExactGauss *g, const PetscReal c[], PetscReal out[])
{
  for (PetscInt d = 0; d < g->dim; d++) {
    PetscReal v = g->mu0[d];
    for (PetscInt j = 0; j < g->cond_dim; j++) v += g->A[d * g->cond_dim + j] * c[j];
    out[d] = v;
  }
}

/* p_t(x|c) = N(m mu_c, m^2 s^2 + sigma^2): score = -(x - m mu_c) / (m^2 s^2 + sigma^2). */
PetscErrorCode ExactGaussScore(void *ctx, PetscInt n, const PetscReal t[], const PetscReal x[], const PetscReal cond[], PetscReal score[])
{
  const ExactGauss *g   = (const ExactGauss *)ctx;
  const PetscInt    dim = g->dim;

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < n; i++) {
    SchedCoef c;
    sched_coef(g->sch, t[i], &c);
    for (PetscInt d = 0; d < dim; d++) {
      PetscReal mu = g->mu0[d];
      for (PetscInt j = 0; j < g->cond_dim; j++) mu += g->A[d * g->cond_dim + j] * cond[(size_t)i * g->cond_dim + j];
      const PetscReal v = c.m * c.m * g->s[d] * g->s[d] + c.sigma * c.sigma;
      score[(size_t)i * dim + d] = -(x[(size_t)i * dim + d] - c.m * mu) / v;
    }
  }
  PetscFunctionReturn(0);
}

PetscErrorCode ExactMixtureSetDefault(const Sched *sch, ExactMixture *mx)
{
  PetscFunctionBeginUser;
  mx->sch   = sch;
  mx->K     = 2;
  mx->w[0]  = 0.3;
  mx->mu[0] = -1.5;
  mx->s[0]  = 0.3;
  mx->w[1]  = 0.7;
  mx->mu[1] = 1.0;
  mx->s[1]  = 0.5;
  PetscFunctionReturn(0);
}

/* Mixture score = sum_k r_k(x) * (-(x - m mu_k)/v_k), responsibilities computed with a
   log-sum-exp shift so far tails do not underflow to 0/0. */
PetscErrorCode ExactMixtureScore(void *ctx, PetscInt n, const PetscReal t[], const PetscReal x[], const PetscReal cond[], PetscReal score[])
{
  const ExactMixture *mx = (const ExactMixture *)ctx;

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < n; i++) {
    SchedCoef c;
    PetscReal lw[EXACT_MIX_MAX], v[EXACT_MIX_MAX], lmax = -PETSC_MAX_REAL, z = 0, s = 0;
    sched_coef(mx->sch, t[i], &c);
    for (PetscInt k = 0; k < mx->K; k++) {
      const PetscReal r = x[i] - c.m * mx->mu[k];
      v[k]              = c.m * c.m * mx->s[k] * mx->s[k] + c.sigma * c.sigma;
      lw[k]             = log(mx->w[k]) - 0.5 * log(v[k]) - 0.5 * r * r / v[k];
      lmax              = PetscMax(lmax, lw[k]);
    }
    for (PetscInt k = 0; k < mx->K; k++) {
      const PetscReal e = exp(lw[k] - lmax);
      z += e;
      s += e * (-(x[i] - c.m * mx->mu[k]) / v[k]);
    }
    score[i] = s / z;
  }
  PetscFunctionReturn(0);
}

/* lower = PETSC_TRUE: P(X <= x); otherwise the survival function P(X > x), each from erfc
   so that its own tail is accurate. */
static PetscReal MixtureTail(const ExactMixture *mx, PetscReal t, PetscReal x, PetscBool lower)
{
  SchedCoef c;
  PetscReal F = 0;
  sched_coef(mx->sch, t, &c);
  for (PetscInt k = 0; k < mx->K; k++) {
    const PetscReal sd = sqrt(c.m * c.m * mx->s[k] * mx->s[k] + c.sigma * c.sigma);
    const PetscReal z  = (x - c.m * mx->mu[k]) / (sd * PETSC_SQRT2);
    F += mx->w[k] * 0.5 * erfc(lower ? -z : z);
  }
  return F;
}

PetscReal exact_mixture_cdf(const ExactMixture *mx, PetscReal t, PetscReal x)
{
  return MixtureTail(mx, t, x, PETSC_TRUE);
}

/* Solve MixtureTail(t, x, lower) = u by bisection on a bracket of +-40 std around the means. */
static PetscReal MixtureInvert(const ExactMixture *mx, PetscReal t, PetscReal u, PetscBool lower)
{
  SchedCoef c;
  PetscReal lo = PETSC_MAX_REAL, hi = -PETSC_MAX_REAL;
  sched_coef(mx->sch, t, &c);
  for (PetscInt k = 0; k < mx->K; k++) {
    const PetscReal sd = sqrt(c.m * c.m * mx->s[k] * mx->s[k] + c.sigma * c.sigma);
    lo                 = PetscMin(lo, c.m * mx->mu[k] - 40 * sd);
    hi                 = PetscMax(hi, c.m * mx->mu[k] + 40 * sd);
  }
  for (int it = 0; it < 200 && hi - lo > 1e-15 * (1 + PetscAbsReal(lo) + PetscAbsReal(hi)); it++) {
    const PetscReal mid = 0.5 * (lo + hi);
    const PetscReal v   = MixtureTail(mx, t, mid, lower);
    if (lower ? (v < u) : (v > u)) lo = mid;
    else hi = mid;
  }
  return 0.5 * (lo + hi);
}

PetscReal exact_mixture_flow(const ExactMixture *mx, PetscReal t0, PetscReal x0, PetscReal t1)
{
  const PetscReal F = MixtureTail(mx, t0, x0, PETSC_TRUE);
  if (F <= 0.5) return MixtureInvert(mx, t1, F, PETSC_TRUE);
  return MixtureInvert(mx, t1, MixtureTail(mx, t0, x0, PETSC_FALSE), PETSC_FALSE);
}

PetscReal exact_mixture_quantile(const ExactMixture *mx, PetscReal t, PetscReal u)
{
  return MixtureInvert(mx, t, u, PETSC_TRUE);
}

PetscReal exact_mixture_resp(const ExactMixture *mx, PetscInt k, PetscReal x)
{
  PetscReal num = 0, den = 0;
  for (PetscInt j = 0; j < mx->K; j++) {
    const PetscReal r = (x - mx->mu[j]) / mx->s[j];
    const PetscReal p = mx->w[j] / mx->s[j] * exp(-0.5 * r * r);
    den += p;
    if (j == k) num = p;
  }
  return den > 0 ? num / den : (x < mx->mu[0] ? (k == 0) : (k == mx->K - 1));
}

void exact_gauss_sampler_law(const Sched *sch, const SamplerOpts *o, PetscReal mu, PetscReal s, PetscReal *mean, PetscReal *var)
{
  SchedCoef       c;
  const PetscReal sT = sched_prior_std(sch);
  if (o->type == SAMPLER_SDE) {
    /* mirrors RunSDEChunk step by step */
    const PetscReal span = sch->T - sch->eps;
    const PetscInt  n    = (PetscInt)PetscMax(1, ceil(span / o->dtau - 1e-9));
    const PetscReal dt   = span / n;
    PetscReal       M = 0, V = sT * sT;
    for (PetscInt k = 0; k < n; k++) {
      sched_coef(sch, sch->T - k * dt, &c);
      const PetscReal v = c.m * c.m * s * s + c.sigma * c.sigma;
      const PetscReal A = 1 + 0.5 * c.b * dt - 0.5 * (1 + o->alpha) * c.g * dt / v;
      const PetscReal B = 0.5 * (1 + o->alpha) * c.g * dt * c.m * mu / v;
      M = A * M + B;
      V = A * A * V + o->alpha * c.g * dt;
    }
    *mean = M;
    *var  = V;
  } else {
    sched_coef(sch, sch->T, &c);
    const PetscReal vT = c.m * c.m * s * s + c.sigma * c.sigma, zm = -c.m * mu / sqrt(vT), zv = sT * sT / vT;
    sched_coef(sch, sch->eps, &c);
    const PetscReal ve = c.m * c.m * s * s + c.sigma * c.sigma;
    *mean = c.m * mu + sqrt(ve) * zm;
    *var  = ve * zv;
  }
}

void exact_gauss_flow(const ExactGauss *g, const PetscReal c[], PetscReal t0, const PetscReal x0[], PetscReal t1, PetscReal x1[])
{
  SchedCoef a, b;
  sched_coef(g->sch, t0, &a);
  sched_coef(g->sch, t1, &b);
  for (PetscInt d = 0; d < g->dim; d++) {
    PetscReal mu = g->mu0[d];
    for (PetscInt j = 0; j < g->cond_dim; j++) mu += g->A[d * g->cond_dim + j] * c[j];
    const PetscReal s2 = g->s[d] * g->s[d];
    const PetscReal z  = (x0[d] - a.m * mu) / sqrt(a.m * a.m * s2 + a.sigma * a.sigma);
    x1[d]              = b.m * mu + sqrt(b.m * b.m * s2 + b.sigma * b.sigma) * z;
  }
}

PetscReal exact_mixture_quantile0(void *ctx, PetscReal u)
{
  return exact_mixture_quantile((const ExactMixture *)ctx, 0.0, u);
}
