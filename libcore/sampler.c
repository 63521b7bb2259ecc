#include "sampler.h"
#include "rng.h"
#include <math.h>

const char *const SamplerTypes[] = {"ode", "sde", "SamplerType", "SAMPLER_", NULL};
const char *const SamplerStarts[] = {"zero", "mean", "tweedie", "SamplerStart", "SAMPLER_START_", NULL};

static PetscLogEvent SAMPLER_SDE_EVENT, SAMPLER_ODE_EVENT, SAMPLER_SCORE_EVENT;

static PetscErrorCode SamplerRegisterEvents(void)
{
  static PetscBool done = PETSC_FALSE;
  PetscClassId     cls;

  PetscFunctionBeginUser;
  if (done) PetscFunctionReturn(0);
  PetscCall(PetscClassIdRegister("pdediff sampler", &cls));
  PetscCall(PetscLogEventRegister("SamplerSDE", cls, &SAMPLER_SDE_EVENT));
  PetscCall(PetscLogEventRegister("SamplerODE", cls, &SAMPLER_ODE_EVENT));
  PetscCall(PetscLogEventRegister("SamplerScore", cls, &SAMPLER_SCORE_EVENT));
  done = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode SamplerOptsSetDefaults(SamplerOpts *o)
{
  PetscFunctionBeginUser;
  o->type      = SAMPLER_ODE;
  o->alpha     = 1.0;
  o->dtau      = 0.002;
  o->grid_power = 1.0;
  o->rtol      = 1e-5;
  o->atol      = 1e-5;
  o->hmax      = 0.1;
  o->max_steps = 100000;
  o->chunk     = 4096;
  o->seed      = 0;
  o->start     = SAMPLER_START_ZERO;
  o->start_mean = NULL;
  o->denoise    = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode SamplerOptsValidate(const SamplerOpts *o)
{
  PetscFunctionBeginUser;
  PetscCheck(o->type == SAMPLER_ODE || o->type == SAMPLER_SDE, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-sampler_type: unknown sampler %d; use ode or sde", (int)o->type);
  PetscCheck(o->alpha >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-sampler_alpha %g: must be >= 0 (1 = the paper's reverse SDE, 0 = probability flow)", (double)o->alpha);
  PetscCheck(o->dtau > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-sampler_dtau %g: the Euler-Maruyama step must be > 0 (paper: 0.002)", (double)o->dtau);
  PetscCheck(o->grid_power >= 1 && o->grid_power <= 10, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-sampler_grid_power %g: the SDE grid's grading must lie in [1, 10] (1 = uniform, the paper; 3 puts the same steps closer together near t = 0)", (double)o->grid_power);
  PetscCheck(o->rtol > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-sampler_rtol %g: the ODE relative tolerance must be > 0", (double)o->rtol);
  PetscCheck(o->atol > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-sampler_atol %g: the ODE absolute tolerance must be > 0", (double)o->atol);
  PetscCheck(o->hmax > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-sampler_hmax %g: the largest ODE step must be > 0", (double)o->hmax);
  PetscCheck(o->max_steps > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-sampler_max_steps %" PetscInt_FMT ": must be > 0", o->max_steps);
  PetscCheck(o->chunk > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-sampler_chunk %" PetscInt_FMT ": must be > 0", o->chunk);
  PetscCheck(o->seed >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-sampler_seed %" PetscInt_FMT ": must be >= 0", o->seed);
  PetscFunctionReturn(0);
}

PetscErrorCode SamplerOptsSetFromOptions(MPI_Comm comm, const char prefix[], SamplerOpts *o)
{
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "Reverse-process sampler (paper (42) and (44))", "sampler");
  PetscCall(PetscOptionsEnum("-sampler_type", "ode: probability flow (44) by adaptive Dormand-Prince RK5(4); sde: Euler-Maruyama on (42)", "sampler", SamplerTypes, (PetscEnum)o->type, (PetscEnum *)&o->type, NULL));
  PetscCall(PetscOptionsReal("-sampler_alpha", "SDE: alpha >= 0 of the reverse family (42)", "sampler", o->alpha, &o->alpha, NULL));
  PetscCall(PetscOptionsReal("-sampler_dtau", "SDE: Euler-Maruyama step d tau > 0", "sampler", o->dtau, &o->dtau, NULL));
  PetscCall(PetscOptionsReal("-sampler_grid_power", "SDE: grading rho >= 1 of the time grid, t_k = eps + (T - eps)(1 - k/N)^rho (1 = uniform, the paper)", "sampler", o->grid_power, &o->grid_power, NULL));
  PetscCall(PetscOptionsReal("-sampler_rtol", "ODE: relative tolerance > 0", "sampler", o->rtol, &o->rtol, NULL));
  PetscCall(PetscOptionsReal("-sampler_atol", "ODE: absolute tolerance > 0", "sampler", o->atol, &o->atol, NULL));
  PetscCall(PetscOptionsReal("-sampler_hmax", "ODE: largest step in tau", "sampler", o->hmax, &o->hmax, NULL));
  PetscCall(PetscOptionsInt("-sampler_max_steps", "ODE: maximum steps per particle", "sampler", o->max_steps, &o->max_steps, NULL));
  PetscCall(PetscOptionsInt("-sampler_chunk", "Particles per batched score evaluation (memory only; results do not depend on it)", "sampler", o->chunk, &o->chunk, NULL));
  PetscCall(PetscOptionsInt("-sampler_seed", "Seed of the prior draw and the SDE noise", "sampler", o->seed, &o->seed, NULL));
  PetscCall(PetscOptionsEnum("-sampler_start", "Start of the reverse process: zero = N(0, sigma(T)^2) (the paper), mean = N(m(T) x_mean, sigma(T)^2) with the training-set mean of x, tweedie = N(m(T) E[x|c], sigma(T)^2) with the conditional mean from the score at T", "sampler", SamplerStarts, (PetscEnum)o->start, (PetscEnum *)&o->start, NULL));
  PetscCall(PetscOptionsBool("-sampler_denoise", "End with one Tweedie step x0 = (x + sigma(eps)^2 s) / m(eps), removing the N(0, sigma(eps)^2) blur of t = eps (beyond the paper)", "sampler", o->denoise, &o->denoise, NULL));
  PetscOptionsEnd();
  PetscCall(SamplerOptsValidate(o));
  PetscFunctionReturn(0);
}

PetscErrorCode SamplerPartition(MPI_Comm comm, PetscInt64 N, PetscInt *nlocal, PetscInt64 *first)
{
  PetscMPIInt rank, size;
  PetscInt64  base, rem;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  base    = N / size;
  rem     = N % size;
  *nlocal = (PetscInt)(base + (rank < rem ? 1 : 0));
  *first  = rank * base + PetscMin((PetscInt64)rank, rem);
  PetscFunctionReturn(0);
}

PetscErrorCode SamplerStatsReduce(MPI_Comm comm, const SamplerStats *l, SamplerStats *g)
{
  PetscInt64 sums[4] = {l->score_evals, l->score_calls, l->steps, l->rejected}, gs[4], mx;
  double     t;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Allreduce(sums, gs, 4, MPIU_INT64, MPI_SUM, comm));
  PetscCallMPI(MPI_Allreduce(&l->max_particle_steps, &mx, 1, MPIU_INT64, MPI_MAX, comm));
  PetscCallMPI(MPI_Allreduce(&l->time, &t, 1, MPI_DOUBLE, MPI_MAX, comm));
  g->score_evals        = gs[0];
  g->score_calls        = gs[1];
  g->steps              = gs[2];
  g->rejected           = gs[3];
  g->max_particle_steps = mx;
  g->time               = t;
  PetscFunctionReturn(0);
}

/* Draw the starting points x ~ N(0, sigma(T)^2 I), one stream per global particle index
   (ShiftStart then centres them for -sampler_start mean|tweedie). */
static void DrawPrior(const Sched *sch, const SamplerOpts *o, PetscInt dim, PetscInt n, PetscInt64 first, PetscReal x[])
{
  const PetscReal sT = sched_prior_std(sch);
  for (PetscInt i = 0; i < n; i++) {
    RngStream s;
    rng_stream_init(&s, (uint64_t)o->seed, RNG_PURPOSE_PRIOR, (uint64_t)(first + i));
    for (PetscInt d = 0; d < dim; d++) x[i * dim + d] = sT * rng_normal(&s);
  }
}

static PetscErrorCode CallScore(const ScoreModel *sm, PetscInt n, const PetscReal t[], const PetscReal x[], const PetscReal cond[], PetscReal s[], SamplerStats *st)
{
  PetscFunctionBeginUser;
  if (n == 0) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(SAMPLER_SCORE_EVENT, 0, 0, 0, 0));
  PetscCall(sm->fn(sm->ctx, n, t, x, cond, s));
  PetscCall(PetscLogEventEnd(SAMPLER_SCORE_EVENT, 0, 0, 0, 0));
  st->score_evals += n;
  st->score_calls++;
  PetscFunctionReturn(0);
}

/* -sampler_start mean|tweedie: add m(T) mu to the starting points x (drawn around 0), with mu the
   given start_mean (mean) or the Tweedie estimate of E[x0 | c] from the score at t = T (tweedie;
   sampler.h): for each run of consecutive particles with one condition (a test case's samples),
   the mean of E[x0 | x_T] over SAMPLER_TWEEDIE_PROBES probe points x_T = z_j + m(T) mu, the z_j
   drawn from N(0, sigma(T)^2 I) by streams keyed by the seed and j alone, so the estimate is a
   function of the condition: the same on every rank and in every batch. */
static PetscErrorCode ShiftStart(const Sched *sch, const SamplerOpts *o, const ScoreModel *sm, PetscInt nlocal, const PetscReal cond[], PetscReal x[], SamplerStats *st)
{
  const PetscInt  dim = sm->dim, cd = sm->cond_dim, np = SAMPLER_TWEEDIE_PROBES;
  const PetscReal sT  = sched_prior_std(sch);
  PetscReal      *z, *mu, *xs, *s, *t, *cp = NULL;
  SchedCoef       cT;

  PetscFunctionBeginUser;
  sched_coef(sch, sch->T, &cT);
  if (o->start == SAMPLER_START_ZERO) PetscFunctionReturn(0);
  if (o->start == SAMPLER_START_MEAN) {
    for (PetscInt i = 0; i < nlocal; i++)
      for (PetscInt d = 0; d < dim; d++) x[(size_t)i * dim + d] += cT.m * o->start_mean[d];
    PetscFunctionReturn(0);
  }
  if (nlocal == 0) PetscFunctionReturn(0);
  PetscCall(PetscMalloc5((size_t)np * dim, &z, dim, &mu, (size_t)np * dim, &xs, (size_t)np * dim, &s, np, &t));
  if (cd) PetscCall(PetscMalloc1((size_t)np * cd, &cp));
  for (PetscInt j = 0; j < np; j++) {
    RngStream rs;
    rng_stream_init(&rs, (uint64_t)o->seed, RNG_PURPOSE_TWEEDIE, (uint64_t)j);
    for (PetscInt d = 0; d < dim; d++) z[(size_t)j * dim + d] = sT * rng_normal(&rs);
    t[j] = sch->T;
  }
  for (PetscInt r0 = 0, r1; r0 < nlocal; r0 = r1) {
    const PetscReal *c0 = cd ? cond + (size_t)r0 * cd : NULL;
    for (r1 = r0 + 1; r1 < nlocal; r1++) { /* the run of r0's condition */
      PetscBool same = PETSC_TRUE;
      if (cd) PetscCall(PetscArraycmp(cond + (size_t)r1 * cd, c0, cd, &same));
      if (!same) break;
    }
    if (cd)
      for (PetscInt j = 0; j < np; j++) PetscCall(PetscArraycpy(cp + (size_t)j * cd, c0, cd));
    PetscCall(PetscArrayzero(mu, dim));
    for (PetscInt it = 0; it < SAMPLER_TWEEDIE_ITERS; it++) {
      for (PetscInt j = 0; j < np; j++)
        for (PetscInt d = 0; d < dim; d++) xs[(size_t)j * dim + d] = z[(size_t)j * dim + d] + cT.m * mu[d];
      PetscCall(CallScore(sm, np, t, xs, cp, s, st));
      for (PetscInt d = 0; d < dim; d++) {
        PetscReal sum = 0;
        for (PetscInt j = 0; j < np; j++) sum += xs[(size_t)j * dim + d] + cT.sigma * cT.sigma * s[(size_t)j * dim + d];
        mu[d] = sum / (np * cT.m);
      }
    }
    for (PetscInt p = r0; p < r1; p++)
      for (PetscInt d = 0; d < dim; d++) x[(size_t)p * dim + d] += cT.m * mu[d];
  }
  PetscCall(PetscFree5(z, mu, xs, s, t));
  PetscCall(PetscFree(cp));
  PetscFunctionReturn(0);
}

/* -sampler_denoise: x <- E[x0 | x_eps] = (x + sigma(eps)^2 s(x, c, eps)) / m(eps), chunk by chunk
   (sampler.h). */
static PetscErrorCode Denoise(const Sched *sch, const SamplerOpts *o, const ScoreModel *sm, PetscInt nlocal, const PetscReal cond[], PetscReal x[], SamplerStats *st)
{
  const PetscInt dim = sm->dim, cd = sm->cond_dim, chunk = PetscMin(o->chunk, PetscMax(nlocal, 1));
  PetscReal     *s, *t;
  SchedCoef      ce;

  PetscFunctionBeginUser;
  if (!o->denoise) PetscFunctionReturn(0);
  sched_coef(sch, sch->eps, &ce);
  PetscCall(PetscMalloc2((size_t)chunk * dim, &s, chunk, &t));
  for (PetscInt i = 0; i < chunk; i++) t[i] = sch->eps;
  for (PetscInt c0 = 0; c0 < nlocal; c0 += chunk) {
    const PetscInt n  = PetscMin(chunk, nlocal - c0);
    PetscReal     *xc = x + (size_t)c0 * dim;
    PetscCall(CallScore(sm, n, t, xc, cd ? cond + (size_t)c0 * cd : NULL, s, st));
    for (size_t k = 0; k < (size_t)n * dim; k++) xc[k] = (xc[k] + ce.sigma * ce.sigma * s[k]) / ce.m;
  }
  PetscCall(PetscFree2(s, t));
  PetscFunctionReturn(0);
}

/* Euler-Maruyama on (42), chunk of n particles starting at global index first. */
static PetscErrorCode RunSDEChunk(const Sched *sch, const SamplerOpts *o, const ScoreModel *sm, PetscInt n, PetscInt64 first, const PetscReal cond[], PetscReal x[], PetscReal tbuf[], PetscReal sbuf[], PetscInt64 gidx[], RngStream rs[], SamplerStats *st, SamplerMonitor mon, void *mctx)
{
  const PetscInt  dim    = sm->dim;
  const PetscReal span   = sch->T - sch->eps;
  const PetscInt  nsteps = (PetscInt)PetscMax(1, ceil(span / o->dtau - 1e-9));
  const PetscReal dt     = span / nsteps;

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < n; i++) {
    rng_stream_init(&rs[i], (uint64_t)o->seed, RNG_PURPOSE_SDE_NOISE, (uint64_t)(first + i));
    gidx[i] = first + i;
  }
  if (mon) {
    for (PetscInt i = 0; i < n; i++) tbuf[i] = sch->T;
    PetscCall(mon(mctx, n, gidx, tbuf, x));
  }
  for (PetscInt k = 0; k < nsteps; k++) {
    PetscReal t = sch->T - k * dt, h = dt; /* uniform: the paper's grid, bitwise as before */
    SchedCoef c;
    if (o->grid_power != 1) {
      t = sch->eps + span * pow(1.0 - (double)k / nsteps, o->grid_power);
      h = t - (sch->eps + span * pow(1.0 - (double)(k + 1) / nsteps, o->grid_power));
    }
    sched_coef(sch, t, &c);
    const PetscReal fx = 0.5 * c.b * h, fs = 0.5 * (1.0 + o->alpha) * c.g * h, fz = sqrt(o->alpha * c.g * h);
    for (PetscInt i = 0; i < n; i++) tbuf[i] = t;
    PetscCall(CallScore(sm, n, tbuf, x, cond, sbuf, st));
    for (PetscInt i = 0; i < n; i++) {
      PetscReal *xi = x + (size_t)i * dim;
      const PetscReal *si = sbuf + (size_t)i * dim;
      if (fz > 0) {
        for (PetscInt d = 0; d < dim; d++) xi[d] += fx * xi[d] + fs * si[d] + fz * rng_normal(&rs[i]);
      } else {
        for (PetscInt d = 0; d < dim; d++) xi[d] += fx * xi[d] + fs * si[d];
      }
    }
    if (mon) {
      for (PetscInt i = 0; i < n; i++) tbuf[i] = t - h;
      PetscCall(mon(mctx, n, gidx, tbuf, x));
    }
  }
  st->steps += (PetscInt64)nsteps * n;
  st->max_particle_steps = PetscMax(st->max_particle_steps, (PetscInt64)nsteps);
  PetscFunctionReturn(0);
}

/* Dormand-Prince 5(4) tableau (Dormand & Prince 1980), FSAL. */
static const PetscReal DP_C[7]    = {0, 1. / 5, 3. / 10, 4. / 5, 8. / 9, 1, 1};
static const PetscReal DP_A[7][6] = {
  {0},
  {1. / 5},
  {3. / 40, 9. / 40},
  {44. / 45, -56. / 15, 32. / 9},
  {19372. / 6561, -25360. / 2187, 64448. / 6561, -212. / 729},
  {9017. / 3168, -355. / 33, 46732. / 5247, 49. / 176, -5103. / 18656},
  {35. / 384, 0, 500. / 1113, 125. / 192, -2187. / 6784, 11. / 84},
};
/* e = b5 - b4: the embedded error estimate is h * sum_j e_j k_j. */
static const PetscReal DP_E[7] = {71. / 57600, 0, -71. / 16695, 71. / 1920, -17253. / 339200, 22. / 525, -1. / 40};

typedef struct {
  const Sched      *sch;
  const ScoreModel *sm;
  const PetscReal  *cond; /* chunk's conditioning rows */
  PetscReal        *tw, *cw; /* gathered forward times and conditioning rows */
  SamplerStats     *st;
} DriftCtx;

/* Probability-flow velocity f(tau, x) = b/2 x + g/2 s(x, c, T - tau) (44) for the particles
   list[0..na) whose stage states are the rows of xs; result rows in out. */
static PetscErrorCode Drift(DriftCtx *dc, PetscInt na, const PetscInt list[], const PetscReal tau[], const PetscReal xs[], PetscReal out[])
{
  const PetscInt dim = dc->sm->dim, cd = dc->sm->cond_dim;

  PetscFunctionBeginUser;
  for (PetscInt a = 0; a < na; a++) {
    dc->tw[a] = dc->sch->T - tau[a];
    if (cd) PetscCall(PetscArraycpy(dc->cw + (size_t)a * cd, dc->cond + (size_t)list[a] * cd, cd));
  }
  PetscCall(CallScore(dc->sm, na, dc->tw, xs, cd ? dc->cw : NULL, out, dc->st));
  for (PetscInt a = 0; a < na; a++) {
    SchedCoef c;
    sched_coef(dc->sch, dc->tw[a], &c);
    for (PetscInt d = 0; d < dim; d++) out[(size_t)a * dim + d] = 0.5 * c.b * xs[(size_t)a * dim + d] + 0.5 * c.g * out[(size_t)a * dim + d];
  }
  PetscFunctionReturn(0);
}

/* RMS norm of v scaled by atol + rtol*max(|x|,|y|), as in SciPy's solve_ivp. */
static inline PetscReal ScaledRMS(PetscInt dim, const PetscReal v[], const PetscReal x[], const PetscReal y[], PetscReal rtol, PetscReal atol)
{
  PetscReal s = 0;
  for (PetscInt d = 0; d < dim; d++) {
    const PetscReal sc = atol + rtol * PetscMax(PetscAbsReal(x[d]), PetscAbsReal(y ? y[d] : x[d]));
    const PetscReal r  = v[d] / sc;
    s += r * r;
  }
  return sqrt(s / dim);
}

typedef struct {
  PetscReal *k1;            /* FSAL slope per particle (n x dim) */
  PetscReal *ks[7];         /* stage slopes of the active set (compacted) */
  PetscReal *xs, *x5;       /* stage state and 5th-order solution (compacted) */
  PetscReal *tau, *h, *taus;/* per particle time, step; compacted stage times */
  PetscInt  *list, *nst;    /* compacted active list; steps per particle */
  PetscBool *rejected_last;
} OdeWork;

/* Adaptive Dormand-Prince on (44) for a chunk of n particles, each with its own step size. */
static PetscErrorCode RunODEChunk(const Sched *sch, const SamplerOpts *o, const ScoreModel *sm, PetscInt n, PetscInt64 first, const PetscReal cond[], PetscReal x[], OdeWork *w, DriftCtx *dc, PetscInt64 gidx[], SamplerStats *st, SamplerMonitor mon, void *mctx)
{
  const PetscInt  dim    = sm->dim;
  const PetscReal tauEnd = sch->T - sch->eps;
  const PetscReal hmin   = 1e-14 * tauEnd;

  PetscFunctionBeginUser;
  dc->cond = cond;
  for (PetscInt i = 0; i < n; i++) {
    w->tau[i]           = 0;
    w->nst[i]           = 0;
    w->list[i]          = i;
    w->rejected_last[i] = PETSC_FALSE;
    gidx[i]             = first + i;
  }
  if (mon) {
    for (PetscInt i = 0; i < n; i++) w->taus[i] = sch->T;
    PetscCall(mon(mctx, n, gidx, w->taus, x));
  }
  /* Initial slope and initial step (Hairer, Norsett & Wanner II.4, as SciPy's select_initial_step). */
  PetscCall(Drift(dc, n, w->list, w->tau, x, w->k1));
  for (PetscInt i = 0; i < n; i++) {
    const PetscReal *xi = x + (size_t)i * dim, *fi = w->k1 + (size_t)i * dim;
    const PetscReal  d0 = ScaledRMS(dim, xi, xi, NULL, o->rtol, o->atol);
    const PetscReal  d1 = ScaledRMS(dim, fi, xi, NULL, o->rtol, o->atol);
    const PetscReal  h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
    w->h[i]             = PetscMin(PetscMin(h0, tauEnd), o->hmax);
    for (PetscInt d = 0; d < dim; d++) w->xs[(size_t)i * dim + d] = xi[d] + w->h[i] * fi[d];
    w->taus[i] = w->h[i];
  }
  PetscCall(Drift(dc, n, w->list, w->taus, w->xs, w->ks[1]));
  for (PetscInt i = 0; i < n; i++) {
    const PetscReal *xi = x + (size_t)i * dim, *fi = w->k1 + (size_t)i * dim, *f1 = w->ks[1] + (size_t)i * dim;
    const PetscReal  h0 = w->h[i];
    PetscReal        d1 = ScaledRMS(dim, fi, xi, NULL, o->rtol, o->atol), d2 = 0, sc, r, h1;
    for (PetscInt d = 0; d < dim; d++) {
      sc = o->atol + o->rtol * PetscAbsReal(xi[d]);
      r  = (f1[d] - fi[d]) / sc;
      d2 += r * r;
    }
    d2 = sqrt(d2 / dim) / h0;
    h1 = (PetscMax(d1, d2) <= 1e-15) ? PetscMax(1e-6, 1e-3 * h0) : pow(0.01 / PetscMax(d1, d2), 0.2);
    w->h[i] = PetscMin(PetscMin(PetscMin(100 * h0, h1), tauEnd), o->hmax);
  }

  PetscInt na = n;
  while (na > 0) {
    /* stage states and slopes of every active particle */
    for (PetscInt s = 1; s < 7; s++) {
      for (PetscInt a = 0; a < na; a++) {
        const PetscInt   i  = w->list[a];
        const PetscReal  h  = w->h[i];
        const PetscReal *xi = x + (size_t)i * dim;
        PetscReal       *xa = w->xs + (size_t)a * dim;
        for (PetscInt d = 0; d < dim; d++) {
          PetscReal acc = DP_A[s][0] * w->k1[(size_t)i * dim + d];
          for (PetscInt j = 1; j < s; j++) acc += DP_A[s][j] * w->ks[j][(size_t)a * dim + d];
          xa[d] = xi[d] + h * acc;
        }
        w->taus[a] = w->tau[i] + DP_C[s] * h;
        if (s == 6) PetscCall(PetscArraycpy(w->x5 + (size_t)a * dim, xa, dim)); /* row 7 of A = b5 */
      }
      PetscCall(Drift(dc, na, w->list, w->taus, w->xs, w->ks[s]));
    }
    /* error control, accept or reject, particle by particle */
    PetscInt nacc = 0, nleft = 0;
    for (PetscInt a = 0; a < na; a++) {
      const PetscInt   i  = w->list[a];
      const PetscReal  h  = w->h[i];
      PetscReal       *xi = x + (size_t)i * dim, *x5 = w->x5 + (size_t)a * dim;
      PetscReal        err = 0;
      for (PetscInt d = 0; d < dim; d++) {
        PetscReal e = DP_E[0] * w->k1[(size_t)i * dim + d];
        for (PetscInt j = 1; j < 7; j++) e += DP_E[j] * w->ks[j][(size_t)a * dim + d];
        e *= h;
        const PetscReal sc = o->atol + o->rtol * PetscMax(PetscAbsReal(xi[d]), PetscAbsReal(x5[d]));
        err += (e / sc) * (e / sc);
      }
      err = sqrt(err / dim);
      w->nst[i]++;
      PetscCheck(w->nst[i] <= o->max_steps, PETSC_COMM_SELF, PETSC_ERR_NOT_CONVERGED, "ODE sampler: particle %" PetscInt64_FMT " needed more than -sampler_max_steps %" PetscInt_FMT " steps (t = %g); raise the limit or loosen -sampler_rtol/-sampler_atol", first + i, o->max_steps, (double)(sch->T - w->tau[i]));
      PetscCheck(PetscIsNormalReal(err) || err == 0, PETSC_COMM_SELF, PETSC_ERR_FP, "ODE sampler: non-finite error estimate for particle %" PetscInt64_FMT " at t = %g: the score returned NaN/Inf", first + i, (double)(sch->T - w->tau[i]));
      if (err <= 1.0) {
        PetscReal fac = (err == 0) ? 10.0 : PetscMin(10.0, 0.9 * pow(err, -0.2));
        if (w->rejected_last[i]) fac = PetscMin(1.0, fac);
        PetscCall(PetscArraycpy(xi, x5, dim));
        PetscCall(PetscArraycpy(w->k1 + (size_t)i * dim, w->ks[6] + (size_t)a * dim, dim)); /* FSAL */
        w->tau[i] += h;
        if (tauEnd - w->tau[i] <= 1e-12 * tauEnd) w->tau[i] = tauEnd;
        w->h[i]             = PetscMin(h * fac, o->hmax);
        w->rejected_last[i] = PETSC_FALSE;
        st->steps++;
        w->taus[nacc]      = sch->T - w->tau[i]; /* reuse as the monitor's time list */
        gidx[nacc++]       = first + i;
      } else {
        w->h[i]             = h * PetscMax(0.2, 0.9 * pow(err, -0.2));
        w->rejected_last[i] = PETSC_TRUE;
        st->rejected++;
        PetscCheck(w->h[i] > hmin, PETSC_COMM_SELF, PETSC_ERR_NOT_CONVERGED, "ODE sampler: step size underflow for particle %" PetscInt64_FMT " at t = %g; the score may be discontinuous or the tolerances (-sampler_rtol/-sampler_atol) too tight", first + i, (double)(sch->T - w->tau[i]));
      }
    }
    if (mon && nacc) {
      /* gather the accepted states (their rows of x) in accepted order */
      PetscInt q = 0;
      for (PetscInt a = 0; a < na; a++) {
        const PetscInt i = w->list[a];
        if (q < nacc && gidx[q] == first + i) PetscCall(PetscArraycpy(w->xs + (size_t)q++ * dim, x + (size_t)i * dim, dim));
      }
      PetscCall(mon(mctx, nacc, gidx, w->taus, w->xs));
    }
    for (PetscInt a = 0; a < na; a++) {
      const PetscInt i = w->list[a];
      if (w->tau[i] < tauEnd) {
        w->h[i]          = PetscMin(w->h[i], tauEnd - w->tau[i]);
        w->list[nleft++] = i;
      }
    }
    na = nleft;
  }
  for (PetscInt i = 0; i < n; i++) st->max_particle_steps = PetscMax(st->max_particle_steps, (PetscInt64)w->nst[i]);
  PetscFunctionReturn(0);
}

PetscErrorCode SamplerRun(const Sched *sch, const SamplerOpts *o, const ScoreModel *sm, PetscInt nlocal, PetscInt64 first, const PetscReal cond[], PetscReal x[], SamplerStats *stats, SamplerMonitor mon, void *mctx)
{
  SamplerStats   st_local = {0};
  SamplerStats  *st       = stats ? stats : &st_local;
  const PetscInt dim = sm->dim, cd = sm->cond_dim, chunk = PetscMin(o->chunk, PetscMax(nlocal, 1));
  PetscLogDouble t0, t1;
  PetscInt64    *gidx;

  PetscFunctionBeginUser;
  PetscCall(SamplerRegisterEvents());
  PetscCall(SchedValidate(sch));
  PetscCall(SamplerOptsValidate(o));
  PetscCheck(dim > 0 && cd >= 0 && sm->fn, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "ScoreModel needs dim > 0, cond_dim >= 0 and a score function");
  PetscCheck(cd == 0 || cond, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "ScoreModel has cond_dim %" PetscInt_FMT " but no conditioning rows were given", cd);
  PetscCheck(o->start != SAMPLER_START_MEAN || o->start_mean, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "-sampler_start mean needs the training-set mean of x, which this run does not have (a model trained before the model file recorded x_mean): retrain, or use -sampler_start zero");
  PetscCall(PetscMemzero(st, sizeof(*st)));
  PetscCall(PetscTime(&t0));
  DrawPrior(sch, o, dim, nlocal, first, x);
  PetscCall(ShiftStart(sch, o, sm, nlocal, cond, x, st));
  PetscCall(PetscMalloc1(chunk, &gidx));
  if (o->type == SAMPLER_SDE) {
    PetscReal *tbuf, *sbuf;
    RngStream *rs;
    PetscCall(PetscLogEventBegin(SAMPLER_SDE_EVENT, 0, 0, 0, 0));
    PetscCall(PetscMalloc3(chunk, &tbuf, (size_t)chunk * dim, &sbuf, chunk, &rs));
    for (PetscInt c0 = 0; c0 < nlocal; c0 += chunk) {
      const PetscInt n = PetscMin(chunk, nlocal - c0);
      PetscCall(RunSDEChunk(sch, o, sm, n, first + c0, cd ? cond + (size_t)c0 * cd : NULL, x + (size_t)c0 * dim, tbuf, sbuf, gidx, rs, st, mon, mctx));
    }
    PetscCall(PetscFree3(tbuf, sbuf, rs));
    PetscCall(PetscLogEventEnd(SAMPLER_SDE_EVENT, 0, 0, 0, 0));
  } else {
    OdeWork  w;
    DriftCtx dc = {sch, sm, NULL, NULL, NULL, st};
    const size_t nd = (size_t)chunk * dim;
    PetscCall(PetscLogEventBegin(SAMPLER_ODE_EVENT, 0, 0, 0, 0));
    PetscCall(PetscMalloc4(nd, &w.k1, nd, &w.xs, nd, &w.x5, chunk, &w.tau));
    PetscCall(PetscMalloc4(chunk, &w.h, chunk, &w.taus, chunk, &w.list, chunk, &w.nst));
    PetscCall(PetscMalloc3(chunk, &w.rejected_last, chunk, &dc.tw, (size_t)chunk * PetscMax(cd, 1), &dc.cw));
    w.ks[0] = NULL;
    for (PetscInt s = 1; s < 7; s++) PetscCall(PetscMalloc1(nd, &w.ks[s]));
    for (PetscInt c0 = 0; c0 < nlocal; c0 += chunk) {
      const PetscInt n = PetscMin(chunk, nlocal - c0);
      PetscCall(RunODEChunk(sch, o, sm, n, first + c0, cd ? cond + (size_t)c0 * cd : NULL, x + (size_t)c0 * dim, &w, &dc, gidx, st, mon, mctx));
    }
    for (PetscInt s = 1; s < 7; s++) PetscCall(PetscFree(w.ks[s]));
    PetscCall(PetscFree3(w.rejected_last, dc.tw, dc.cw));
    PetscCall(PetscFree4(w.h, w.taus, w.list, w.nst));
    PetscCall(PetscFree4(w.k1, w.xs, w.x5, w.tau));
    PetscCall(PetscLogEventEnd(SAMPLER_ODE_EVENT, 0, 0, 0, 0));
  }
  PetscCall(PetscFree(gidx));
  PetscCall(Denoise(sch, o, sm, nlocal, cond, x, st));
  PetscCall(PetscTime(&t1));
  st->time = t1 - t0;
  PetscFunctionReturn(0);
}
