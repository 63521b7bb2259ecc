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

PetscErrorCode McmcRun(const McmcProblem *p, const McmcOpts *o, PetscInt64 chain, const PetscReal y[], PetscReal mean[], PetscReal std[], McmcStats *st, PetscReal work[])
{
  const PetscInt nx = p->nx, half = o->n_burn / 2;
  PetscReal      w[MCMC_MAXN] = {0}, nu[MCMC_MAXN], e[MCMC_MAXN], wp[MCMC_MAXN], ll;
  Ref           *r;
  RngStream      s;
  PetscInt64     evals = 0;

  PetscFunctionBeginUser;
  PetscCheck(nx <= MCMC_MAXN, PETSC_COMM_SELF, PETSC_ERR_SUP, "MCMC supports up to %d unknowns", MCMC_MAXN);
  PetscCheck(p->s2 > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "The MCMC reference needs a noise variance > 0");
  PetscCheck(o->n_iter >= 10 && o->n_burn >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "MCMC: need at least 10 steps after burn-in");
  PetscCheck(!o->refit || o->n_burn - half >= 2 * nx + 2, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "MCMC: -mcmc_burn %" PetscInt_FMT " is too short to refit the reference: need >= %" PetscInt_FMT, o->n_burn, 4 * nx + 4);
  PetscCall(PetscNew(&r));
  r->linear    = PETSC_TRUE;
  st->refitted = PETSC_FALSE;
  for (PetscInt j = 0; j < nx; j++) r->mu[j] = p->mu_w[j], w[j] = p->mu_w[j];
  for (size_t k = 0; k < (size_t)nx * nx; k++) r->L[k] = p->L_w[k];
  rng_stream_init(&s, (uint64_t)o->seed, RNG_PURPOSE_MCMC, (uint64_t)chain);
  ll          = LogRatio(p, r, y, w);
  st->repeated = 0;
  for (PetscInt it = 0; it < o->n_burn + o->n_iter; it++) {
    PetscReal theta, lo, hi, thresh;
    PetscBool same = PETSC_TRUE;
    if (it == o->n_burn && o->refit) { /* the second half of the burn-in, stored in work */
      PetscBool ok;
      PetscCall(Refit(nx, o->n_burn - half, work, r, &ok));
      st->refitted = ok;
      ll = LogRatio(p, r, y, w);
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
      PetscReal xl[MCMC_MAXN];
      PetscBool any;
      Flux(p, w, xl, work + (size_t)(it - o->n_burn) * nx, &any);
    }
  }
  st->evals_per_step = (PetscReal)evals / o->n_iter;
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
  PetscCall(PetscFree(r));
  PetscFunctionReturn(0);
}
