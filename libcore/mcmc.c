#include "mcmc.h"
#include "rng.h"
#include <math.h>

#define MCMC_MAXN 256

/* log L(z) - log L_lin(z) (the slice sampler's log-likelihood against the Gaussian reference) */
static PetscReal LogRatio(const McmcProblem *p, const PetscReal y[], const PetscReal z[])
{
  PetscReal xc[MCMC_MAXN], xl[MCMC_MAXN], a = 0, b = 0;
  PetscBool any = PETSC_FALSE;

  for (PetscInt j = 0; j < p->nx; j++) {
    xl[j] = p->mean + z[j];
    xc[j] = (p->clip && xl[j] < 0) ? 0 : xl[j];
    any |= (PetscBool)(xc[j] != xl[j]);
  }
  if (!any) return 0; /* no clipping active: the two likelihoods agree exactly */
  for (PetscInt i = 0; i < p->ny; i++) {
    PetscReal rc = y[i], rl = y[i];
    for (PetscInt j = 0; j < p->nx; j++) {
      rc -= p->H[(size_t)i * p->nx + j] * xc[j];
      rl -= p->H[(size_t)i * p->nx + j] * xl[j];
    }
    a += rc * rc;
    b += rl * rl;
  }
  return -(a - b) / (2 * p->s2);
}

PetscReal mcmc_iat(PetscInt n, PetscInt ld, const PetscReal v[])
{
  PetscReal mean = 0, c0 = 0, tau = 1;

  for (PetscInt i = 0; i < n; i++) mean += v[(size_t)i * ld];
  mean /= n;
  for (PetscInt i = 0; i < n; i++) c0 += PetscSqr(v[(size_t)i * ld] - mean);
  if (c0 <= 0) return 1;
  for (PetscInt k = 1; k < n / 2; k++) {
    PetscReal ck = 0;
    for (PetscInt i = 0; i + k < n; i++) ck += (v[(size_t)i * ld] - mean) * (v[(size_t)(i + k) * ld] - mean);
    tau += 2 * ck / c0;
    if (k >= 5 * tau) break; /* Sokal's window: stop at the first k >= c tau */
  }
  return PetscMax(tau, 1e-3);
}

PetscErrorCode McmcRun(const McmcProblem *p, const McmcOpts *o, PetscInt64 chain, const PetscReal y[], PetscReal mean[], PetscReal std[], McmcStats *st, PetscReal work[])
{
  const PetscInt nx = p->nx;
  PetscReal      z[MCMC_MAXN] = {0}, d[MCMC_MAXN] = {0}, nu[MCMC_MAXN], w[MCMC_MAXN], zp[MCMC_MAXN], ll;
  RngStream      s;
  PetscInt64     evals = 0;

  PetscFunctionBeginUser;
  PetscCheck(nx <= MCMC_MAXN, PETSC_COMM_SELF, PETSC_ERR_SUP, "MCMC supports up to %d unknowns", MCMC_MAXN);
  PetscCheck(p->s2 > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "The MCMC reference needs a noise variance > 0");
  PetscCheck(o->n_iter >= 10 && o->n_burn >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "MCMC: need at least 10 steps after burn-in");
  rng_stream_init(&s, (uint64_t)o->seed, RNG_PURPOSE_MCMC, (uint64_t)chain);
  /* start at the reference mean; d = z - mu_g is what the ellipse rotates */
  for (PetscInt j = 0; j < nx; j++) d[j] = 0, z[j] = p->mu_g[j];
  ll = LogRatio(p, y, z); /* the starting value is not counted in the evaluations per step */
  st->repeated = 0;
  for (PetscInt it = 0; it < o->n_burn + o->n_iter; it++) {
    PetscReal theta, lo, hi, thresh;
    PetscBool same = PETSC_TRUE;
    for (PetscInt j = 0; j < nx; j++) w[j] = rng_normal(&s);
    for (PetscInt i = 0; i < nx; i++) { /* nu ~ N(0, Sigma_G) */
      PetscReal a = 0;
      for (PetscInt k = 0; k <= i; k++) a += p->L_g[(size_t)i * nx + k] * w[k];
      nu[i] = a;
    }
    thresh = ll + log(rng_uniform(&s));
    theta  = 2 * PETSC_PI * rng_uniform(&s);
    lo     = theta - 2 * PETSC_PI;
    hi     = theta;
    while (1) {
      PetscReal lp;
      for (PetscInt j = 0; j < nx; j++) zp[j] = p->mu_g[j] + d[j] * cos(theta) + nu[j] * sin(theta);
      lp = LogRatio(p, y, zp);
      evals++;
      if (lp > thresh) {
        ll = lp;
        break;
      }
      if (theta < 0) lo = theta;
      else hi = theta;
      theta = lo + (hi - lo) * rng_uniform(&s);
      if (hi - lo < 1e-12) { /* collapsed bracket: keep the current state */
        for (PetscInt j = 0; j < nx; j++) zp[j] = z[j];
        break;
      }
    }
    for (PetscInt j = 0; j < nx; j++) {
      same &= (PetscBool)(zp[j] == z[j]);
      z[j] = zp[j];
      d[j] = z[j] - p->mu_g[j];
    }
    st->repeated += same;
    if (it >= o->n_burn)
      for (PetscInt j = 0; j < nx; j++) {
        const PetscReal x = p->mean + z[j];
        work[(size_t)(it - o->n_burn) * nx + j] = (p->clip && x < 0) ? 0 : x;
      }
  }
  st->evals_per_step = (PetscReal)evals / (o->n_burn + o->n_iter);
  st->iat_max        = 0;
  for (PetscInt j = 0; j < nx; j++) {
    PetscReal m = 0, q = 0;
    for (PetscInt i = 0; i < o->n_iter; i++) m += work[(size_t)i * nx + j];
    m /= o->n_iter;
    for (PetscInt i = 0; i < o->n_iter; i++) q += PetscSqr(work[(size_t)i * nx + j] - m);
    mean[j]     = m;
    std[j]      = PetscSqrtReal(q / (o->n_iter - 1));
    st->iat_max = PetscMax(st->iat_max, mcmc_iat(o->n_iter, nx, work + j));
  }
  st->ess_min = o->n_iter / st->iat_max;
  PetscFunctionReturn(0);
}
