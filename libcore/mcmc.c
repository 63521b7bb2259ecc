#include "mcmc.h"
#include "rng.h"
#include <math.h>

#define MCMC_MAXN 256

typedef struct { /* the current reference N(mu, L L^T) and whether it is the unclipped posterior */
  PetscReal mu[MCMC_MAXN], L[MCMC_MAXN * MCMC_MAXN];
  PetscBool linear;
  PetscInt  n;
} Ref;

/* x = m + L_K w (clipped or not) */
static void Flux(const McmcProblem *p, const PetscReal w[], PetscReal xl[], PetscReal xc[], PetscBool *any)
{
  *any = PETSC_FALSE;
  for (PetscInt i = 0; i < p->nx; i++) {
    PetscReal a = p->mean;
    for (PetscInt k = 0; k <= i; k++) a += p->L_K[(size_t)i * p->nx + k] * w[k];
    xl[i] = a;
    xc[i] = (p->clip && a < 0) ? 0 : a;
    *any |= (PetscBool)(xc[i] != xl[i]);
  }
}

static PetscReal Misfit(const McmcProblem *p, const PetscReal y[], const PetscReal x[])
{
  PetscReal a = 0;
  for (PetscInt i = 0; i < p->ny; i++) {
    PetscReal r = y[i];
    for (PetscInt j = 0; j < p->nx; j++) r -= p->H[(size_t)i * p->nx + j] * x[j];
    a += r * r;
  }
  return a / (2 * p->s2);
}

/* l(w): log target - log reference (up to a constant) */
static PetscReal LogRatio(const McmcProblem *p, const Ref *r, const PetscReal y[], const PetscReal w[])
{
  PetscReal xl[MCMC_MAXN], xc[MCMC_MAXN], v[MCMC_MAXN], a = 0, q = 0;
  PetscBool any;

  Flux(p, w, xl, xc, &any);
  if (r->linear) return any ? -(Misfit(p, y, xc) - Misfit(p, y, xl)) : 0;
  for (PetscInt i = 0; i < p->nx; i++) { /* v = L^{-1} (w - mu) */
    PetscReal s = w[i] - r->mu[i];
    for (PetscInt k = 0; k < i; k++) s -= r->L[(size_t)i * p->nx + k] * v[k];
    v[i] = s / r->L[(size_t)i * p->nx + i];
    a += w[i] * w[i];
    q += v[i] * v[i];
  }
  return -0.5 * a - Misfit(p, y, xc) + 0.5 * q;
}

static PetscErrorCode RefitInto(PetscInt nx, PetscInt n, const PetscReal w[], Ref *r, PetscBool *ok);

/* Refit the reference to rows w[0..n-1] (nx each): sample mean and covariance, Cholesky. If the
   covariance is not numerically positive definite, *ok = PETSC_FALSE and r is left as it was
   (any fixed reference gives a valid chain; no per-chain error, so no rank is left waiting). */
static PetscErrorCode Refit(PetscInt nx, PetscInt n, const PetscReal w[], Ref *r, PetscBool *ok)
{
  Ref *t;

  PetscFunctionBeginUser;
  *ok = PETSC_FALSE;
  PetscCall(PetscNew(&t));
  *t = *r;
  PetscCall(RefitInto(nx, n, w, t, ok));
  if (*ok) *r = *t;
  PetscCall(PetscFree(t));
  PetscFunctionReturn(0);
}

static PetscErrorCode RefitInto(PetscInt nx, PetscInt n, const PetscReal w[], Ref *r, PetscBool *ok)
{
  PetscFunctionBeginUser;
  for (PetscInt j = 0; j < nx; j++) {
    PetscReal s = 0;
    for (PetscInt i = 0; i < n; i++) s += w[(size_t)i * nx + j];
    r->mu[j] = s / n;
  }
  for (PetscInt a = 0; a < nx; a++)
    for (PetscInt b = 0; b <= a; b++) {
      PetscReal s = 0;
      for (PetscInt i = 0; i < n; i++) s += (w[(size_t)i * nx + a] - r->mu[a]) * (w[(size_t)i * nx + b] - r->mu[b]);
      r->L[(size_t)a * nx + b] = s / (n - 1) + (a == b ? 1e-8 : 0); /* lower triangle of the covariance */
    }
  for (PetscInt j = 0; j < nx; j++) { /* in-place Cholesky of the lower triangle */
    PetscReal d = r->L[(size_t)j * nx + j];
    for (PetscInt k = 0; k < j; k++) d -= r->L[(size_t)j * nx + k] * r->L[(size_t)j * nx + k];
    if (!(d > 0)) PetscFunctionReturn(0); /* *ok stays false */
    r->L[(size_t)j * nx + j] = PetscSqrtReal(d);
    for (PetscInt i = j + 1; i < nx; i++) {
      PetscReal s = r->L[(size_t)i * nx + j];
      for (PetscInt k = 0; k < j; k++) s -= r->L[(size_t)i * nx + k] * r->L[(size_t)j * nx + k];
      r->L[(size_t)i * nx + j] = s / r->L[(size_t)j * nx + j];
    }
    for (PetscInt k = j + 1; k < nx; k++) r->L[(size_t)j * nx + k] = 0;
  }
  r->linear = PETSC_FALSE;
  *ok       = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode mcmc_check(PetscInt nx, const McmcOpts *o, char why[], size_t len)
{
  PetscFunctionBeginUser;
  why[0] = 0;
  if (nx > MCMC_MAXN) PetscCall(PetscSNPrintf(why, len, "MCMC supports up to %d unknowns, not %" PetscInt_FMT, MCMC_MAXN, nx));
  else if (o->n_iter < 10 || o->n_burn < 0) PetscCall(PetscSNPrintf(why, len, "-mcmc_iter %" PetscInt_FMT " / -mcmc_burn %" PetscInt_FMT ": need at least 10 steps and a burn-in >= 0", o->n_iter, o->n_burn));
  else if (!(o->min_ess >= 0)) PetscCall(PetscSNPrintf(why, len, "-mcmc_min_ess %g: must be >= 0 (0: every chain runs -mcmc_iter steps)", (double)o->min_ess));
  else if (o->min_ess > 0 && o->max_iter > PETSC_MAX_INT - o->n_burn) PetscCall(PetscSNPrintf(why, len, "-mcmc_max_iter %" PetscInt_FMT " + -mcmc_burn %" PetscInt_FMT " exceeds the 32-bit step counter: lower -mcmc_max_iter", o->max_iter, o->n_burn));
  else if (o->min_ess > 0 && o->max_iter < o->n_iter) PetscCall(PetscSNPrintf(why, len, "-mcmc_max_iter %" PetscInt_FMT " is below -mcmc_iter %" PetscInt_FMT ": the cap on extended chains must be at least the base length", o->max_iter, o->n_iter));
  else if (o->refit && o->n_burn - o->n_burn / 2 < 2 * nx + 2) PetscCall(PetscSNPrintf(why, len, "-mcmc_burn %" PetscInt_FMT " is too short to refit the reference for %" PetscInt_FMT " unknowns: give at least %" PetscInt_FMT " (or -mcmc_refit false)", o->n_burn, nx, 4 * nx + 4));
  PetscFunctionReturn(0);
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

PetscReal mcmc_iat_batched(PetscInt nb, PetscInt ld, const PetscReal Y[], PetscInt b, PetscReal var1)
{
  PetscReal mu = 0, q = 0;
  if (b == 1) return mcmc_iat(nb, ld, Y);
  if (!(var1 > 0) || nb < 2) return 1;
  for (PetscInt i = 0; i < nb; i++) mu += Y[(size_t)i * ld];
  mu /= nb;
  for (PetscInt i = 0; i < nb; i++) q += PetscSqr(Y[(size_t)i * ld] - mu);
  return b * (q / (nb - 1)) / var1 * mcmc_iat(nb, ld, Y);
}

/* The largest IAT over the components of x from the stored rows (batch means of thin states). */
static PetscReal IatMax(PetscInt nx, PetscInt stored, PetscInt thin, const PetscReal work[], PetscInt64 n, const PetscReal sumsq[])
{
  PetscReal m = 1;
  for (PetscInt j = 0; j < nx; j++)
    if (sumsq[j] > 0) m = PetscMax(m, mcmc_iat_batched(stored, nx, work + j, thin, sumsq[j] / (PetscReal)(n - 1))); /* else: never moved */
  return m;
}

PetscErrorCode McmcRun(const McmcProblem *p, const McmcOpts *o, PetscInt64 chain, const PetscReal y[], PetscReal mean[], PetscReal std[], McmcStats *st, PetscReal work[])
{
  const PetscInt nx = p->nx, half = o->n_burn / 2, cap = (PetscMax(o->n_iter, o->n_burn) + 1) / 2 * 2; /* even, so rows pair up, and >= n_iter: a chain that is not extended stores every state */
  const PetscInt max_iter = o->min_ess > 0 ? PetscMax(o->max_iter, o->n_iter) : o->n_iter;
  PetscReal      w[MCMC_MAXN] = {0}, nu[MCMC_MAXN], e[MCMC_MAXN], wp[MCMC_MAXN], ll;
  PetscReal      wm[MCMC_MAXN] = {0}, wq[MCMC_MAXN] = {0}; /* Welford: running mean and sum of squares */
  PetscReal      acc[MCMC_MAXN] = {0};                      /* the batch being summed */
  Ref           *r;
  RngStream      s;
  PetscInt64     evals = 0;
  PetscInt       n_target = o->n_iter, n_done = 0, stored = 0, thin = 1, acc_n = 0;

  PetscFunctionBeginUser;
  PetscCheck(nx <= MCMC_MAXN, PETSC_COMM_SELF, PETSC_ERR_SUP, "MCMC supports up to %d unknowns", MCMC_MAXN);
  PetscCheck(p->s2 > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "The MCMC reference needs a noise variance > 0");
  PetscCheck(o->n_iter >= 10 && o->n_burn >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "MCMC: need at least 10 steps after burn-in");
  PetscCheck(!o->refit || o->n_burn - half >= 2 * nx + 2, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "MCMC: -mcmc_burn %" PetscInt_FMT " is too short to refit the reference: need >= %" PetscInt_FMT, o->n_burn, 4 * nx + 4);
  PetscCall(PetscNew(&r));
  r->linear    = PETSC_TRUE;
  st->refitted = PETSC_FALSE;
  st->capped   = PETSC_FALSE;
  st->iat_max  = 1;
  for (PetscInt j = 0; j < nx; j++) r->mu[j] = p->mu_w[j], w[j] = p->mu_w[j];
  for (size_t k = 0; k < (size_t)nx * nx; k++) r->L[k] = p->L_w[k];
  rng_stream_init(&s, (uint64_t)o->seed, RNG_PURPOSE_MCMC, (uint64_t)chain);
  ll          = LogRatio(p, r, y, w);
  st->repeated = 0;
  for (PetscInt it = 0;; it++) {
    PetscReal theta, lo, hi, thresh;
    PetscBool same = PETSC_TRUE;
    if (it == o->n_burn && o->refit) { /* the second half of the burn-in, stored in work */
      PetscBool ok;
      PetscCall(Refit(nx, o->n_burn - half, work, r, &ok));
      st->refitted = ok;
      ll = LogRatio(p, r, y, w);
    }
    if (it >= o->n_burn && n_done == n_target) { /* enough steps, or extend to reach min_ess */
      st->iat_max = IatMax(nx, stored, thin, work, n_done, wq);
      if (!(o->min_ess > 0) || (PetscReal)n_done / st->iat_max >= o->min_ess) break;
      if (n_done >= max_iter) {
        st->capped = PETSC_TRUE;
        break;
      }
      const PetscReal want = 1.2 * o->min_ess * st->iat_max; /* ESS = n / IAT, with a margin */
      n_target = (PetscInt)PetscMin((PetscReal)max_iter, PetscMax(1.5 * n_done, want));
    }
    for (PetscInt j = 0; j < nx; j++) e[j] = rng_normal(&s);
    for (PetscInt i = 0; i < nx; i++) { /* nu ~ N(0, L L^T) */
      PetscReal a = 0;
      for (PetscInt k = 0; k <= i; k++) a += r->L[(size_t)i * nx + k] * e[k];
      nu[i] = a;
    }
    thresh = ll + log(rng_uniform(&s));
    theta  = 2 * PETSC_PI * rng_uniform(&s);
    lo     = theta - 2 * PETSC_PI;
    hi     = theta;
    while (1) {
      PetscReal lp;
      for (PetscInt j = 0; j < nx; j++) wp[j] = r->mu[j] + (w[j] - r->mu[j]) * cos(theta) + nu[j] * sin(theta);
      lp = LogRatio(p, r, y, wp);
      if (it >= o->n_burn) evals++;
      if (lp > thresh) {
        ll = lp;
        break;
      }
      if (theta < 0) lo = theta;
      else hi = theta;
      theta = lo + (hi - lo) * rng_uniform(&s);
      if (hi - lo < 1e-12) { /* collapsed bracket: keep the current state */
        for (PetscInt j = 0; j < nx; j++) wp[j] = w[j];
        break;
      }
    }
    for (PetscInt j = 0; j < nx; j++) {
      same &= (PetscBool)(wp[j] == w[j]);
      w[j] = wp[j];
    }
    if (it >= o->n_burn) st->repeated += same;
    if (it >= half && it < o->n_burn)
      for (PetscInt j = 0; j < nx; j++) work[(size_t)(it - half) * nx + j] = w[j];
    if (it >= o->n_burn) {
      PetscReal xl[MCMC_MAXN], xc[MCMC_MAXN];
      PetscBool any;
      Flux(p, w, xl, xc, &any);
      n_done++;
      for (PetscInt j = 0; j < nx; j++) {
        const PetscReal d = xc[j] - wm[j];
        wm[j] += d / n_done;
        wq[j] += d * (xc[j] - wm[j]);
      }
      for (PetscInt j = 0; j < nx; j++) acc[j] += xc[j];
      if (++acc_n == thin) {
        if (stored == cap) { /* full: average pairs of rows into batches of twice the size */
          for (PetscInt i = 0; i < stored / 2; i++)
            for (PetscInt j = 0; j < nx; j++) work[(size_t)i * nx + j] = 0.5 * (work[(size_t)(2 * i) * nx + j] + work[(size_t)(2 * i + 1) * nx + j]);
          stored /= 2;
          thin *= 2; /* the batch being summed goes on to the new size */
        } else {
          for (PetscInt j = 0; j < nx; j++) {
            work[(size_t)stored * nx + j] = acc[j] / thin;
            acc[j]                        = 0;
          }
          stored++;
          acc_n = 0;
        }
      }
    }
  }
  st->steps          = n_done;
  st->thin           = thin;
  st->evals_per_step = (PetscReal)evals / n_done;
  for (PetscInt j = 0; j < nx; j++) {
    mean[j] = wm[j];
    std[j]  = PetscSqrtReal(wq[j] / (n_done - 1));
  }
  st->ess_min = n_done / st->iat_max;
  PetscCall(PetscFree(r));
  PetscFunctionReturn(0);
}
