/* test_sampler: the reverse-process samplers on data laws with exact scores.
 *
 * (a) x | c ~ N(mu0 + A c, diag(s^2)) in 30 dimensions, two conditions (10,000 samples each);
 * (b) the 1-D mixture 0.3 N(-1.5, 0.3^2) + 0.7 N(1, 0.5^2) (20,000 samples).
 * Formulations VE, VP, xi p = 1, xi p = 4; samplers ODE (rtol = atol = 1e-5), SDE alpha = 1 and 0.5
 * (d tau = 0.002).
 *
 * Tolerances. For Gaussian data the law of each sampler's output is known exactly:
 *   SDE: Euler-Maruyama with a linear score is an affine Gaussian recursion; propagating its mean
 *        and variance from the starting law N(0, sigma(T)^2) gives the exact law of the discrete
 *        sampler, terminal mismatch and discretisation error included.
 *   ODE: the probability flow preserves z = (x - m mu)/sqrt(m^2 s^2 + sigma^2); mapping the start
 *        law through it gives the exact law of the ideal ODE sampler; the integration error of
 *        each particle is measured against the exact flow map of its own starting point.
 * The checks are (all deterministic: streams are keyed by seed and particle index):
 *   1. sample moments vs the sampler's exact law: |diff| < 5 standard errors (+ measured ODE
 *      integration error); 5 SE keeps the family-wise false-alarm rate over the ~2,000 compared
 *      moments below 1e-3;
 *   2. the method error (exact law vs data law) is stated and below 0.02 data std;
 *   3. so the samples reproduce the data law: |sample - data| < 5 SE + method error.
 * The tests use schedules long enough that the terminal law matches N(0, sigma(T)^2): VE with
 * sigma_max = 1000 and beta_max = 30 for VP/xi. With the paper's Table A1 values (sigma_max = 5,
 * beta_max = 5) m(T)/sigma(T) is 0.37 (VE) and 0.30 (VP family), a terminal mismatch that biases
 * the mean by up to 0.3 data std whatever the integrator; test 4 checks the ODE integration
 * accuracy there and prints that bias.
 * Mixture: component weight (mean responsibility) within 5 SE, W1 to the exact law below
 * 1.2 x the largest W1 of 20 sets of N exact samples + 0.005, per-particle ODE flow error on the
 * probability scale against the exact 1-D flow, which preserves the CDF value.
 * 5. rank- and chunk-independence (bitwise), evaluation counts, monitor trajectories.
 * 6. invalid sampler options are rejected.
 * 7. -sampler_start mean at the paper's Table A1 values (VE sigma_max 5, VP beta_max 5): for
 *    1-D Gaussian data N(3, 0.5^2) with its exact score, the probability-flow map is affine and
 *    sends N(m(T) mu, sigma(T)^2) to a law with mean exactly mu, so the ODE mean is within 5 SE
 *    of mu (plus 1e-3 for the integration), while the paper's start N(0, sigma(T)^2) leaves a
 *    bias of more than 20 SE; without a mean to start from, SamplerRun refuses.
 * 8. -sampler_start tweedie at the same values: data x | c ~ N(c, 0.5^2), half the particles with
 *    c = -2 and half with c = 3, exact conditional score. The start estimates E[x | c] from the
 *    score at T; after its 2 iterations the ODE mean of each group is within 5 SE (+ 1e-3) of its
 *    c, where the zero start is biased by more than 20 SE and the training-set-mean start (0.5)
 *    by more than 20 SE in both groups; the start costs 2 x 32 score evaluations per run of
 *    particles with one condition (here every particle, the conditions alternate).
 * 8b. -sampler_start tweedie in 30 dimensions with a score that is wrong near the terminal mean,
 *    where no diffused sample lies (a network's extrapolation), particles of a condition in runs
 *    (a test case's samples): the estimate from the probe points gives an ODE mean within 5 SE
 *    of c (read at the centre it would be 5 off); one call and the same particles split into two
 *    calls inside a run give bitwise the same samples (ranks and batches do not matter).
 * 9. -sampler_grid_power at the paper's VE (sigma_max 5, d tau 0.002, alpha 1) on narrow data
 *    N(0, 0.05^2), the width of a low-noise posterior in normalised units, exact score. The
 *    discrete sampler's variance follows from the affine recursion of each step; the sample
 *    std agrees with it within 5 SE on both grids. On the uniform grid the law is more than 15%
 *    too wide (each step near t = 0 adds variance 0.002, near the data's 0.0025); with rho = 3
 *    and the same number of steps it is within 2% of 0.05.
 * 10. -sampler_denoise on data N(0, 0.05^2) narrower than the blur sigma(eps) ~ 0.1 of VE with eps
 *    0.01, exact score: without it the ODE and the graded-grid SDE end at std sqrt(s^2 + sigma^2),
 *    with it at s^2 / sqrt(s^2 + sigma^2) (Tweedie's E[x0 | x_eps] of a Gaussian), each within
 *    5 SE + 1%; the step costs one score evaluation per particle. */
#include "blascore.h"
#include "exact.h"
#include "rng.h"
#include "sampler.h"
#include "stats.h"
#include "testutil.h"
#include <math.h>

typedef struct {
  const char *name;
  SchedType   type;
  PetscReal   p, smax, bmax;
} Form;

typedef struct {
  const char *name;
  SamplerType type;
  PetscReal   alpha;
} Samp;

static PetscErrorCode MakeSched(const Form *f, Sched *s)
{
  PetscFunctionBeginUser;
  PetscCall(SchedSetDefaults(s));
  s->type      = f->type;
  s->p         = f->p;
  s->sigma_max = f->smax;
  s->beta_max  = f->bmax;
  PetscCall(SchedValidate(s));
  PetscFunctionReturn(0);
}

/* Monitor that keeps each particle's starting state (t = T) and counts its records. */
typedef struct {
  PetscInt64 first;
  PetscInt   dim;
  PetscReal *x0;
  PetscInt  *count;
  PetscReal *tlast;
  PetscBool  monotone;
  PetscReal  T;
} Rec;

static PetscErrorCode RecMonitor(void *ctx, PetscInt n, const PetscInt64 gidx[], const PetscReal t[], const PetscReal x[])
{
  Rec *r = (Rec *)ctx;
  PetscFunctionBeginUser;
  for (PetscInt a = 0; a < n; a++) {
    const PetscInt i = (PetscInt)(gidx[a] - r->first);
    if (t[a] == r->T && r->count[i] == 0) PetscCall(PetscArraycpy(r->x0 + (size_t)i * r->dim, x + (size_t)a * r->dim, r->dim));
    else if (!(t[a] < r->tlast[i])) r->monotone = PETSC_FALSE;
    r->tlast[i] = t[a];
    r->count[i]++;
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode RecCreate(PetscInt n, PetscInt dim, PetscInt64 first, PetscReal T, Rec *r)
{
  PetscFunctionBeginUser;
  r->first    = first;
  r->dim      = dim;
  r->monotone = PETSC_TRUE;
  r->T        = T;
  PetscCall(PetscCalloc3((size_t)PetscMax(n, 1) * dim, &r->x0, PetscMax(n, 1), &r->count, PetscMax(n, 1), &r->tlast));
  PetscFunctionReturn(0);
}

static PetscErrorCode RecDestroy(Rec *r)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree3(r->x0, r->count, r->tlast));
  PetscFunctionReturn(0);
}

static PetscReal MaxAll(MPI_Comm comm, PetscReal v)
{
  PetscReal g = v;
  MPI_Allreduce(&v, &g, 1, MPIU_REAL, MPI_MAX, comm);
  return g;
}

/* (a) 30-D conditional Gaussian. */
static PetscErrorCode TestGauss(MPI_Comm comm, const Form *f, const Samp *sp, PetscInt N, PetscBool reproduce)
{
  const PetscInt dim = 30, cd = 2;
  const PetscReal conds[2][2] = {{0.5, -0.5}, {-1.0, 1.0}};
  Sched        sch;
  SamplerOpts  o;
  ExactGauss   g;
  ScoreModel   sm;
  SamplerStats st, gst;
  PetscInt     nlocal, ng[2] = {0, 0};
  PetscInt64   first;
  PetscReal   *x, *cond, *xg[2], mean[30], sd[30], mu[30], flow_err = 0;
  Rec          rec;

  PetscFunctionBeginUser;
  PetscCall(MakeSched(f, &sch));
  PetscCall(SamplerOptsSetDefaults(&o));
  o.type  = sp->type;
  o.alpha = sp->alpha;
  o.seed  = 7;
  PetscCall(ExactGaussCreate(&sch, dim, cd, &g));
  sm = (ScoreModel){ExactGaussScore, &g, dim, cd};
  PetscCall(SamplerPartition(comm, N, &nlocal, &first));
  PetscCall(PetscMalloc4((size_t)nlocal * dim + 1, &x, (size_t)nlocal * cd + 1, &cond, (size_t)nlocal * dim + 1, &xg[0], (size_t)nlocal * dim + 1, &xg[1]));
  for (PetscInt i = 0; i < nlocal; i++) {
    const int grp = (first + i) < N / 2 ? 0 : 1;
    cond[i * cd] = conds[grp][0];
    cond[i * cd + 1] = conds[grp][1];
  }
  PetscCall(RecCreate(nlocal, dim, first, sch.T, &rec));
  PetscCall(SamplerRun(&sch, &o, &sm, nlocal, first, cond, x, &st, RecMonitor, &rec));
  PetscCall(SamplerStatsReduce(comm, &st, &gst));

  /* per-particle ODE integration error against the exact flow map of its own start */
  if (o.type == SAMPLER_ODE) {
    for (PetscInt i = 0; i < nlocal; i++) {
      exact_gauss_flow(&g, cond + i * cd, sch.T, rec.x0 + i * dim, sch.eps, mu);
      for (PetscInt d = 0; d < dim; d++) flow_err = PetscMax(flow_err, PetscAbsReal(x[i * dim + d] - mu[d]) / g.s[d]);
    }
    flow_err = MaxAll(comm, flow_err);
  }

  for (PetscInt i = 0; i < nlocal; i++) {
    const int grp = (first + i) < N / 2 ? 0 : 1;
    PetscCall(PetscArraycpy(xg[grp] + (size_t)ng[grp]++ * dim, x + (size_t)i * dim, dim));
  }
  PetscReal zmax = 0, zsmax = 0, bias_m = 0, bias_s = 0, rep_m = 0, rep_s = 0;
  for (int grp = 0; grp < 2; grp++) {
    const PetscReal Ng = (grp == 0) ? N / 2 : N - N / 2;
    PetscCall(StatsMoments(comm, ng[grp], dim, xg[grp], mean, sd));
    exact_gauss_mean(&g, conds[grp], mu);
    for (PetscInt d = 0; d < dim; d++) {
      PetscReal pm, pv;
      exact_gauss_sampler_law(&sch, &o, mu[d], g.s[d], &pm, &pv);
      const PetscReal se = sqrt(pv / Ng), ses = sqrt(pv / (2 * (Ng - 1)));
      zmax   = PetscMax(zmax, (PetscAbsReal(mean[d] - pm) - flow_err * g.s[d]) / se);
      zsmax  = PetscMax(zsmax, (PetscAbsReal(sd[d] - sqrt(pv)) - flow_err * g.s[d]) / ses);
      bias_m = PetscMax(bias_m, PetscAbsReal(pm - mu[d]) / g.s[d]);
      bias_s = PetscMax(bias_s, PetscAbsReal(sqrt(pv) / g.s[d] - 1));
      /* data reproduction margin: |sample - data| - method error, in standard errors */
      rep_m = PetscMax(rep_m, (PetscAbsReal(mean[d] - mu[d]) - PetscAbsReal(pm - mu[d]) - flow_err * g.s[d]) / (g.s[d] / sqrt(Ng)));
      rep_s = PetscMax(rep_s, (PetscAbsReal(sd[d] - g.s[d]) - PetscAbsReal(sqrt(pv) - g.s[d]) - flow_err * g.s[d]) / (g.s[d] / sqrt(2 * (Ng - 1))));
    }
  }
  char desc[128];
  PetscCall(SchedDescribe(&sch, desc, sizeof(desc)));
  CHECK(zmax < 5 && zsmax < 5, "gauss30 %s %s: samples vs exact sampler law: max |mean diff| %.2f SE, max |std diff| %.2f SE (bound 5); %.1f score evals/sample", desc, sp->name, (double)zmax, (double)zsmax, (double)gst.score_evals / N);
  if (o.type == SAMPLER_ODE) CHECK(flow_err < 2e-3, "gauss30 %s ode: max per-particle integration error vs exact flow map %.2e data std (bound 2e-3 at rtol = atol = 1e-5)", desc, (double)flow_err);
  if (reproduce) {
    CHECK(bias_m < 0.02 && bias_s < 0.02, "gauss30 %s %s: method error (terminal + discretisation) mean %.4f, std %.4f data std (bound 0.02)", desc, sp->name, (double)bias_m, (double)bias_s);
    CHECK(rep_m < 5 && rep_s < 5, "gauss30 %s %s: reproduces the data law: |mean - mu| <= %.2f SE + method error, |std - s| <= %.2f SE + method error (bound 5 SE)", desc, sp->name, (double)rep_m, (double)rep_s);
  } else {
    PetscCall(PetscPrintf(comm, "info gauss30 %s %s: terminal-mismatch method error at these parameters: mean %.4f, std %.4f data std\n", desc, sp->name, (double)bias_m, (double)bias_s));
  }
  /* evaluation counts and monitor */
  {
    PetscInt64 expect = (o.type == SAMPLER_SDE) ? (PetscInt64)N * (PetscInt64)ceil((sch.T - sch.eps) / o.dtau - 1e-9) : 2 * (PetscInt64)N + 6 * (gst.steps + gst.rejected);
    PetscInt   bad = 0;
    for (PetscInt i = 0; i < nlocal; i++) bad += PetscAbsReal(rec.tlast[i] - sch.eps) > 1e-12;
    PetscInt64 badg = bad, b2;
    MPI_Allreduce(&badg, &b2, 1, MPIU_INT64, MPI_SUM, comm);
    PetscInt mono = rec.monotone, mono_all;
    MPI_Allreduce(&mono, &mono_all, 1, MPIU_INT, MPI_MIN, comm);
    CHECK(gst.score_evals == expect && b2 == 0 && mono_all, "gauss30 %s %s: score evals %lld (expected %lld), monitor: times decrease and end at eps for all particles (%lld not)", desc, sp->name, (long long)gst.score_evals, (long long)expect, (long long)b2);
  }
  PetscCall(RecDestroy(&rec));
  PetscCall(PetscFree4(x, cond, xg[0], xg[1]));
  PetscCall(ExactGaussDestroy(&g));
  PetscFunctionReturn(0);
}

/* (b) 1-D two-component mixture. */
static PetscErrorCode TestMixture(MPI_Comm comm, const Form *f, const Samp *sp, PetscInt N)
{
  Sched        sch;
  SamplerOpts  o;
  ExactMixture mx;
  ScoreModel   sm;
  PetscInt     nlocal;
  PetscInt64   first;
  PetscReal   *x, w1, wl = 0, w0, rl = 0, r2 = 0, flow_err = 0, rms_x = 0;
  PetscReal       w1_ref = 0, w1_bound;
  Rec          rec;
  char         desc[128];

  PetscFunctionBeginUser;
  PetscCall(MakeSched(f, &sch));
  PetscCall(SamplerOptsSetDefaults(&o));
  o.type  = sp->type;
  o.alpha = sp->alpha;
  o.seed  = 11;
  PetscCall(ExactMixtureSetDefault(&sch, &mx));
  sm = (ScoreModel){ExactMixtureScore, &mx, 1, 0};
  PetscCall(SamplerPartition(comm, N, &nlocal, &first));
  PetscCall(PetscMalloc1(nlocal + 1, &x));
  PetscCall(RecCreate(nlocal, 1, first, sch.T, &rec));
  PetscCall(SamplerRun(&sch, &o, &sm, nlocal, first, NULL, x, NULL, RecMonitor, &rec));
  for (PetscInt i = 0; i < nlocal; i++) {
    const PetscReal r = exact_mixture_resp(&mx, 0, x[i]);
    rl += r;
    r2 += r * r;
  }
  PetscCallMPI(MPI_Allreduce(&rl, &w0, 1, MPIU_REAL, MPI_SUM, comm));
  PetscCallMPI(MPI_Allreduce(&r2, &wl, 1, MPIU_REAL, MPI_SUM, comm));
  w0 /= N;
  const PetscReal se_w = sqrt((wl / N - w0 * w0) / N);
  PetscCall(StatsW1Quantile(comm, nlocal, x, exact_mixture_quantile0, &mx, &w1));
  /* Statistical floor: the largest W1 of 20 sets of N exact samples (drawn on the same
     partition). For a bimodal law it is dominated by the fluctuation of the weights times the
     distance between the modes. Bound = 1.2 x that floor + 0.005 for discretisation. */
  {
    PetscReal *xe;
    PetscCall(PetscMalloc1(nlocal + 1, &xe));
    for (int rep = 0; rep < 20; rep++) {
      for (PetscInt i = 0; i < nlocal; i++) {
        RngStream r;
        rng_stream_init(&r, 1000 + rep, RNG_PURPOSE_TEST, (uint64_t)(first + i));
        const int k = rng_uniform(&r) < mx.w[0] ? 0 : 1;
        xe[i]       = mx.mu[k] + mx.s[k] * rng_normal(&r);
      }
      PetscReal we;
      PetscCall(StatsW1Quantile(comm, nlocal, xe, exact_mixture_quantile0, &mx, &we));
      w1_ref = PetscMax(w1_ref, we);
    }
    PetscCall(PetscFree(xe));
    w1_bound = 1.2 * w1_ref + 0.005;
  }
  if (o.type == SAMPLER_ODE) {
    /* The exact flow preserves the CDF value. Its error is measured on the probability scale,
       |F_eps(x) - F_T(x_T)|, because in the valley between the modes the map x_T -> x_eps has a
       large slope p_T/p_eps, which amplifies any integration error in x but not in F. */
    for (PetscInt i = 0; i < nlocal; i++) {
      const PetscReal x0 = rec.x0[i], FT = exact_mixture_cdf(&mx, sch.T, x0), Fe = exact_mixture_cdf(&mx, sch.eps, x[i]);
      flow_err = PetscMax(flow_err, PetscAbsReal(Fe - FT));
      rms_x += PetscSqr(x[i] - exact_mixture_flow(&mx, sch.T, x0, sch.eps));
    }
    flow_err = MaxAll(comm, flow_err);
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &rms_x, 1, MPIU_REAL, MPI_SUM, comm));
    rms_x = sqrt(rms_x / N);
  }
  PetscCall(SchedDescribe(&sch, desc, sizeof(desc)));
  CHECK(PetscAbsReal(w0 - mx.w[0]) < 5 * se_w && w1 < w1_bound, "mixture %s %s: weight of component 0 = %.4f (exact 0.3, SE %.4f, bound 5 SE), W1 to the exact law %.4f (bound %.4f = 1.2 x max W1 of 20 exact sample sets + 0.005)", desc, sp->name, (double)w0, (double)se_w, (double)w1, (double)w1_bound);
  if (o.type == SAMPLER_ODE) CHECK(flow_err < 5e-4, "mixture %s ode: per-particle error vs the exact flow map: max |F_eps(x) - F_T(x_T)| %.2e (bound 5e-4), RMS |x - Q_eps(F_T(x_T))| %.2e", desc, (double)flow_err, (double)rms_x);
  PetscCall(RecDestroy(&rec));
  PetscCall(PetscFree(x));
  PetscFunctionReturn(0);
}

/* 5. The same seed gives bitwise the same samples at any rank count and chunk size. */
static PetscErrorCode TestRankIndependence(MPI_Comm comm, SamplerType type)
{
  const PetscInt N = 50, dim = 30, cd = 2;
  Sched          sch;
  SamplerOpts    o;
  ExactGauss     g;
  ScoreModel     sm;
  PetscInt       nlocal;
  PetscInt64     first;
  PetscReal     *full, *loc, *gath, *cond;
  PetscMPIInt    size, *counts, *displs, nl;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(SchedSetDefaults(&sch));
  sch.type = SCHED_VP;
  PetscCall(SamplerOptsSetDefaults(&o));
  o.type = type;
  o.seed = 3;
  PetscCall(ExactGaussCreate(&sch, dim, cd, &g));
  sm = (ScoreModel){ExactGaussScore, &g, dim, cd};
  PetscCall(PetscMalloc4(N * dim, &full, N * dim, &loc, N * dim, &gath, N * cd, &cond));
  for (PetscInt i = 0; i < N * cd; i++) cond[i] = 0.1 * (i % 7) - 0.3;
  o.chunk = 7; /* the whole set on every rank, in chunks of 7 */
  PetscCall(SamplerRun(&sch, &o, &sm, N, 0, cond, full, NULL, NULL, NULL));
  o.chunk = 4096; /* distributed, one chunk per rank */
  PetscCall(SamplerPartition(comm, N, &nlocal, &first));
  PetscCall(SamplerRun(&sch, &o, &sm, nlocal, first, cond + first * cd, loc, NULL, NULL, NULL));
  PetscCall(PetscMalloc2(size, &counts, size, &displs));
  nl = nlocal * dim;
  PetscCallMPI(MPI_Allgather(&nl, 1, MPI_INT, counts, 1, MPI_INT, comm));
  displs[0] = 0;
  for (PetscMPIInt r = 1; r < size; r++) displs[r] = displs[r - 1] + counts[r - 1];
  PetscCallMPI(MPI_Allgatherv(loc, nl, MPIU_REAL, gath, counts, displs, MPIU_REAL, comm));
  PetscInt diff = 0;
  for (PetscInt i = 0; i < N * dim; i++) diff += full[i] != gath[i];
  CHECK(diff == 0, "%s sampler: %d ranks x 1 chunk vs 1 rank x chunks of 7: %d of %d values differ (bitwise)", SamplerTypes[type], size, (int)diff, (int)(N * dim));
  PetscCall(PetscFree2(counts, displs));
  PetscCall(PetscFree4(full, loc, gath, cond));
  PetscCall(ExactGaussDestroy(&g));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestBadOptions(void)
{
  SamplerOpts o;
  PetscFunctionBeginUser;
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  struct {
    const char *what;
    int         field;
    PetscReal   v;
  } bad[] = {{"alpha = -0.1", 0, -0.1}, {"dtau = 0", 1, 0}, {"dtau = -1", 1, -1}, {"rtol = 0", 2, 0}, {"atol = -1e-6", 3, -1e-6}, {"chunk = 0", 4, 0}, {"max_steps = 0", 5, 0}, {"grid_power = 0.5", 6, 0.5}};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    PetscCall(SamplerOptsSetDefaults(&o));
    switch (bad[i].field) {
    case 0: o.alpha = bad[i].v; break;
    case 1: o.dtau = bad[i].v; break;
    case 2: o.rtol = bad[i].v; break;
    case 3: o.atol = bad[i].v; break;
    case 4: o.chunk = (PetscInt)bad[i].v; break;
    case 5: o.max_steps = (PetscInt)bad[i].v; break;
    case 6: o.grid_power = bad[i].v; break;
    }
    PetscErrorCode ierr = SamplerOptsValidate(&o);
    CHECK(ierr != 0, "SamplerOptsValidate rejects %s", bad[i].what);
  }
  PetscCall(PetscPopErrorHandler());
  PetscFunctionReturn(0);
}

typedef struct {
  const Sched *sch;
  PetscReal    mu, s;
} Gauss1;

/* exact score of N(mu, s^2) diffused: -(x - m mu) / (m^2 s^2 + sigma^2) */
static PetscErrorCode Gauss1Score(void *ctx, PetscInt n, const PetscReal t[], const PetscReal x[], const PetscReal cond[], PetscReal score[])
{
  const Gauss1 *g = (const Gauss1 *)ctx;
  (void)cond;
  for (PetscInt i = 0; i < n; i++) {
    SchedCoef c;
    sched_coef(g->sch, t[i], &c);
    score[i] = -(x[i] - c.m * g->mu) / (c.m * c.m * g->s * g->s + c.sigma * c.sigma);
  }
  return 0;
}

/* exact score of N(c, s^2) diffused, with c the particle's condition */
static PetscErrorCode Gauss1CondScore(void *ctx, PetscInt n, const PetscReal t[], const PetscReal x[], const PetscReal cond[], PetscReal score[])
{
  const Gauss1 *g = (const Gauss1 *)ctx;
  for (PetscInt i = 0; i < n; i++) {
    SchedCoef c;
    sched_coef(g->sch, t[i], &c);
    score[i] = -(x[i] - c.m * cond[i]) / (c.m * c.m * g->s * g->s + c.sigma * c.sigma);
  }
  return 0;
}

static PetscErrorCode TestStartTweedie(MPI_Comm comm)
{
  const PetscInt  N = 4000;
  const PetscReal cv[2] = {-2, 3}, xbar = 0.5;
  PetscFunctionBeginUser;
  for (int f = 0; f < 2; f++) {
    Sched        sch;
    SamplerOpts  o;
    SamplerStats st, gst;
    Gauss1       g;
    ScoreModel   sm;
    PetscReal   *x, *c, *xg, mean[3][2], sd[3][2];
    PetscInt     nl, ng[2] = {0, 0};
    PetscInt64   first, evals[3];
    PetscCall(SchedSetDefaults(&sch));
    sch.type = f ? SCHED_VP : SCHED_VE;
    g        = (Gauss1){&sch, 0, 0.5};
    sm       = (ScoreModel){Gauss1CondScore, &g, 1, 1};
    PetscCall(SamplerOptsSetDefaults(&o));
    PetscCall(SamplerPartition(comm, N, &nl, &first));
    PetscCall(PetscMalloc3(PetscMax(nl, 1), &x, PetscMax(nl, 1), &c, PetscMax(nl, 1), &xg));
    for (PetscInt i = 0; i < nl; i++) c[i] = cv[(first + i) % 2];
    for (int k = 0; k < 3; k++) { /* zero, mean (the training-set mean 0.5), tweedie */
      o.start      = k == 0 ? SAMPLER_START_ZERO : k == 1 ? SAMPLER_START_MEAN : SAMPLER_START_TWEEDIE;
      o.start_mean = k == 1 ? &xbar : NULL;
      PetscCall(SamplerRun(&sch, &o, &sm, nl, first, c, x, &st, NULL, NULL));
      PetscCall(SamplerStatsReduce(comm, &st, &gst));
      for (int q = 0; q < 2; q++) {
        ng[q] = 0;
        for (PetscInt i = 0; i < nl; i++)
          if (c[i] == cv[q]) xg[ng[q]++] = x[i];
        PetscCall(StatsMoments(comm, ng[q], 1, xg, &mean[k][q], &sd[k][q]));
      }
    }
    for (int q = 0; q < 2; q++) {
      const PetscReal se = sd[2][q] / PetscSqrtReal(N / 2), e[3] = {PetscAbsReal(mean[0][q] - cv[q]) / se, PetscAbsReal(mean[1][q] - cv[q]) / se, PetscAbsReal(mean[2][q] - cv[q]) / se};
      CHECK(PetscAbsReal(mean[2][q] - cv[q]) < 5 * se + 1e-3 && e[0] > 20 && e[1] > 20, "%s, Table A1 values, data x | c ~ N(c, 0.5^2), exact score, ODE, c = %g: -sampler_start tweedie gives mean %.4f (%.2f SE), zero %.4f (%.1f SE), mean (0.5) %.4f (%.1f SE)", f ? "VP" : "VE", (double)cv[q], (double)mean[2][q], (double)e[2], (double)mean[0][q], (double)e[0], (double)mean[1][q], (double)e[1]);
    }
    o.type = SAMPLER_SDE; /* fixed steps: the evaluation counts differ by the start alone */
    o.dtau = 0.1;
    for (int k = 0; k < 3; k += 2) {
      o.start = k ? SAMPLER_START_TWEEDIE : SAMPLER_START_ZERO;
      PetscCall(SamplerRun(&sch, &o, &sm, nl, first, c, x, &st, NULL, NULL));
      PetscCall(SamplerStatsReduce(comm, &st, &gst));
      evals[k] = gst.score_evals;
    }
    CHECK(evals[2] - evals[0] == SAMPLER_TWEEDIE_ITERS * SAMPLER_TWEEDIE_PROBES * N, "%s: the tweedie start costs %d x %d score evaluations per run of one condition (%lld extra for %d particles, the conditions alternating)", f ? "VP" : "VE", SAMPLER_TWEEDIE_ITERS, SAMPLER_TWEEDIE_PROBES, (long long)(evals[2] - evals[0]), (int)N);
    PetscCall(PetscFree3(x, c, xg));
  }
  PetscFunctionReturn(0);
}

/* The score of data x | c ~ N(c 1, s^2 I) in dim dimensions, exact except at t = T inside the ball
   of radius sigma(T) sqrt(dim) / 2 around the terminal mean m(T) c 1, where it is that of mean
   c + 5: a network that never saw a point so close to the centre (a diffused sample lies at
   distance ~sigma(T) sqrt(dim) from it) and answers there at random. */
typedef struct {
  const Sched *sch;
  PetscInt     dim;
  PetscReal    s;
} GaussShell;
static PetscErrorCode GaussShellScore(void *ctx, PetscInt n, const PetscReal t[], const PetscReal x[], const PetscReal cond[], PetscReal score[])
{
  const GaussShell *g = (const GaussShell *)ctx;
  for (PetscInt i = 0; i < n; i++) {
    const PetscReal *xi = x + (size_t)i * g->dim;
    PetscReal        r2 = 0, mu = cond[i];
    SchedCoef        c;
    sched_coef(g->sch, t[i], &c);
    for (PetscInt d = 0; d < g->dim; d++) r2 += PetscSqr(xi[d] - c.m * cond[i]);
    if (t[i] >= g->sch->T && r2 < 0.25 * c.sigma * c.sigma * g->dim) mu += 5;
    for (PetscInt d = 0; d < g->dim; d++) score[(size_t)i * g->dim + d] = -(xi[d] - c.m * mu) / (c.m * c.m * g->s * g->s + c.sigma * c.sigma);
  }
  return 0;
}

/* -sampler_start tweedie in 30 dimensions with a score that is wrong near the terminal mean
   (GaussShellScore), c = -2 and 3 in runs of 100 particles (a test case's samples): the estimate
   from the probe points gives each group's ODE mean within 5 SE (+ 1e-3) of c (read at the
   centre m(T) c it would be 5 off, hundreds of SE); the same particles in two calls split
   inside a run (as ranks or batches split them) start and end bitwise where one call does. */
static PetscErrorCode TestStartTweedieShell(MPI_Comm comm)
{
  const PetscInt  N = 2000, D = 30, R = 100;
  const PetscReal cv[2] = {-2, 3};
  PetscFunctionBeginUser;
  for (int f = 0; f < 2; f++) {
    Sched        sch;
    SamplerOpts  o;
    SamplerStats st;
    GaussShell   g;
    ScoreModel   sm;
    PetscReal   *x, *x2, *c, *xg, mean, sd;
    PetscInt     nl, ng, h, nbad = 0, gbad;
    PetscInt64   first;
    PetscCall(SchedSetDefaults(&sch));
    sch.type = f ? SCHED_VP : SCHED_VE;
    g        = (GaussShell){&sch, D, 0.5};
    sm       = (ScoreModel){GaussShellScore, &g, D, 1};
    PetscCall(SamplerOptsSetDefaults(&o));
    o.start = SAMPLER_START_TWEEDIE;
    PetscCall(SamplerPartition(comm, N, &nl, &first));
    PetscCall(PetscMalloc4((size_t)PetscMax(nl, 1) * D, &x, (size_t)PetscMax(nl, 1) * D, &x2, PetscMax(nl, 1), &c, (size_t)PetscMax(nl, 1) * D, &xg));
    for (PetscInt i = 0; i < nl; i++) c[i] = cv[((first + i) / R) % 2];
    PetscCall(SamplerRun(&sch, &o, &sm, nl, first, c, x, &st, NULL, NULL));
    h = PetscMin(nl / 2 + 7, nl);
    PetscCall(SamplerRun(&sch, &o, &sm, h, first, c, x2, &st, NULL, NULL));
    PetscCall(SamplerRun(&sch, &o, &sm, nl - h, first + h, c + h, x2 + (size_t)h * D, &st, NULL, NULL));
    for (size_t k = 0; k < (size_t)nl * D; k++) nbad += x[k] != x2[k];
    PetscCallMPI(MPI_Allreduce(&nbad, &gbad, 1, MPIU_INT, MPI_SUM, comm));
    CHECK(gbad == 0, "%s, tweedie start: %d particles in one call and split into two inside a run: %d of %d values differ (want bitwise equal)", f ? "VP" : "VE", (int)N, (int)gbad, (int)(N * D));
    for (int q = 0; q < 2; q++) {
      PetscReal se, e;
      ng = 0;
      for (PetscInt i = 0; i < nl; i++)
        if (c[i] == cv[q]) PetscCall(PetscArraycpy(xg + (size_t)ng++ * D, x + (size_t)i * D, D));
      PetscCall(StatsMoments(comm, ng * D, 1, xg, &mean, &sd)); /* every coordinate is one draw of N(c, s^2) */
      se = sd / PetscSqrtReal((PetscReal)N / 2 * D);
      e  = PetscAbsReal(mean - cv[q]) / se;
      CHECK(e < 5 + 1e-3 / se, "%s, %d dims, data x | c ~ N(c 1, 0.5^2 I), score wrong at t = T inside half the shell radius, ODE, c = %g, runs of %d particles: -sampler_start tweedie gives mean %.4f (%.2f SE; read at the centre it would be off by 5)", f ? "VP" : "VE", (int)D, (double)cv[q], (int)R, (double)mean, (double)e);
    }
    PetscCall(PetscFree4(x, x2, c, xg));
  }
  PetscFunctionReturn(0);
}

/* -sampler_denoise on data N(0, s^2) narrower than the blur sigma(eps) of the last time: VE with
   eps raised to 0.01 (sigma(eps) ~ 0.1, s = 0.05). With the exact score both samplers end near
   N(0, s^2 + sigma(eps)^2); the Tweedie step maps that to N(0, s^4 / (s^2 + sigma(eps)^2)).
   Bound: 5 SE of a sample std plus 1% for the samplers' own error. */
static PetscErrorCode TestDenoise(MPI_Comm comm)
{
  const PetscInt  N = 8000;
  const PetscReal s = 0.05;
  PetscFunctionBeginUser;
  for (int ty = 0; ty < 2; ty++) {
    Sched        sch;
    SamplerOpts  o;
    SamplerStats st, gst;
    Gauss1       g;
    ScoreModel   sm;
    SchedCoef    ce;
    PetscReal   *x, mean[2], sd[2], v, b2, want[2];
    PetscInt     nl;
    PetscInt64   first, evals[2];
    PetscCall(SchedSetDefaults(&sch));
    sch.eps = 0.01;
    sched_coef(&sch, sch.eps, &ce);
    v  = s * s;
    b2 = ce.sigma * ce.sigma;
    want[0] = PetscSqrtReal(v + b2);
    want[1] = v / PetscSqrtReal(v + b2);
    g  = (Gauss1){&sch, 0, s};
    sm = (ScoreModel){Gauss1Score, &g, 1, 0};
    PetscCall(SamplerOptsSetDefaults(&o));
    o.type       = ty ? SAMPLER_SDE : SAMPLER_ODE;
    o.grid_power = 3; /* SDE: the graded grid keeps Euler-Maruyama's error near t = eps below 1% (TestGridPower) */
    PetscCall(SamplerPartition(comm, N, &nl, &first));
    PetscCall(PetscMalloc1(PetscMax(nl, 1), &x));
    for (int k = 0; k < 2; k++) {
      o.denoise = (PetscBool)k;
      PetscCall(SamplerRun(&sch, &o, &sm, nl, first, NULL, x, &st, NULL, NULL));
      PetscCall(SamplerStatsReduce(comm, &st, &gst));
      evals[k] = gst.score_evals;
      PetscCall(StatsMoments(comm, nl, 1, x, &mean[k], &sd[k]));
    }
    for (int k = 0; k < 2; k++) {
      const PetscReal se = want[k] / PetscSqrtReal(2.0 * (N - 1));
      CHECK(PetscAbsReal(sd[k] - want[k]) < 5 * se + 0.01 * want[k] && PetscAbsReal(mean[k]) < 5 * want[k] / PetscSqrtReal(N),
            "VE eps 0.01 (sigma(eps) %.4f), data N(0, %.2f^2), exact score, %s%s: std %.4f, expected %.4f (|diff| %.1f SE), mean %.4f", (double)ce.sigma, (double)s, ty ? "SDE" : "ODE", k ? ", -sampler_denoise" : "", (double)sd[k], (double)want[k], (double)(PetscAbsReal(sd[k] - want[k]) / se), (double)mean[k]);
    }
    CHECK(evals[1] - evals[0] == N, "%s: -sampler_denoise costs one score evaluation per particle (%lld extra for %d particles)", ty ? "SDE" : "ODE", (long long)(evals[1] - evals[0]), (int)N);
    PetscCall(PetscFree(x));
  }
  PetscFunctionReturn(0);
}

static PetscErrorCode TestStartMean(MPI_Comm comm)
{
  const PetscInt N = 4000;
  PetscFunctionBeginUser;
  for (int f = 0; f < 2; f++) {
    Sched       sch;
    SamplerOpts o;
    Gauss1      g;
    ScoreModel  sm;
    PetscReal  *x, mean[2], sd = 0, mu = 3;
    PetscInt    nl;
    PetscInt64  first;
    PetscCall(SchedSetDefaults(&sch));
    sch.type = f ? SCHED_VP : SCHED_VE;
    g        = (Gauss1){&sch, mu, 0.5};
    sm       = (ScoreModel){Gauss1Score, &g, 1, 0};
    PetscCall(SamplerOptsSetDefaults(&o));
    PetscCall(SamplerPartition(comm, N, &nl, &first));
    PetscCall(PetscMalloc1(PetscMax(nl, 1), &x));
    for (int st = 0; st < 2; st++) {
      o.start      = st ? SAMPLER_START_MEAN : SAMPLER_START_ZERO;
      o.start_mean = st ? &mu : NULL;
      PetscCall(SamplerRun(&sch, &o, &sm, nl, first, NULL, x, NULL, NULL, NULL));
      PetscCall(StatsMoments(comm, nl, 1, x, &mean[st], &sd));
    }
    const PetscReal se = sd / PetscSqrtReal(N);
    CHECK(PetscAbsReal(mean[1] - mu) < 5 * se + 1e-3 && PetscAbsReal(mean[0] - mu) > 20 * se, "%s, paper's Table A1 values, data N(3, 0.5^2), exact score, ODE: -sampler_start mean gives mean %.4f (%.2f SE from 3), the paper's zero start %.4f (%.1f SE)", f ? "VP" : "VE", (double)mean[1], (double)(PetscAbsReal(mean[1] - mu) / se), (double)mean[0], (double)(PetscAbsReal(mean[0] - mu) / se));
    o.start      = SAMPLER_START_MEAN;
    o.start_mean = NULL;
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    PetscErrorCode e = SamplerRun(&sch, &o, &sm, nl, first, NULL, x, NULL, NULL, NULL);
    PetscCall(PetscPopErrorHandler());
    CHECK(e != 0, "%s: -sampler_start mean without a mean to start from is refused", f ? "VP" : "VE");
    PetscCall(PetscFree(x));
  }
  PetscFunctionReturn(0);
}

/* Std of the Euler-Maruyama sampler's output for data N(0, s^2) with the exact score: every step
 * is x <- a x + fz z with a = 1 + fx - fs / (m^2 s^2 + sigma^2), so var <- a^2 var + fz^2 from
 * the start's sigma(T)^2; the grid is the sampler's own (uniform, or graded with rho). */
static PetscReal EMStd(const Sched *sch, const SamplerOpts *o, PetscReal s)
{
  const PetscReal span = sch->T - sch->eps;
  const PetscInt  N    = (PetscInt)PetscMax(1, ceil(span / o->dtau - 1e-9));
  SchedCoef       c;
  sched_coef(sch, sch->T, &c);
  PetscReal v = c.sigma * c.sigma;
  for (PetscInt k = 0; k < N; k++) {
    PetscReal t = sch->T - k * (span / N), h = span / N;
    if (o->grid_power != 1) {
      t = sch->eps + span * pow(1.0 - (double)k / N, o->grid_power);
      h = t - (sch->eps + span * pow(1.0 - (double)(k + 1) / N, o->grid_power));
    }
    sched_coef(sch, t, &c);
    const PetscReal a = 1 + 0.5 * c.b * h - 0.5 * (1 + o->alpha) * c.g * h / (c.m * c.m * s * s + c.sigma * c.sigma);
    v = a * a * v + o->alpha * c.g * h;
  }
  return PetscSqrtReal(v);
}

static PetscErrorCode TestGridPower(MPI_Comm comm)
{
  const PetscInt  N = 20000;
  const PetscReal s = 0.05;
  Sched           sch;
  SamplerOpts     o;
  Gauss1          g;
  ScoreModel      sm;
  PetscReal      *x, mean, sd[2], ex[2];
  PetscInt        nl;
  PetscInt64      first;
  SamplerStats    st[2];

  PetscFunctionBeginUser;
  PetscCall(SchedSetDefaults(&sch)); /* VE, sigma_max 5: Table A1 */
  g  = (Gauss1){&sch, 0, s};
  sm = (ScoreModel){Gauss1Score, &g, 1, 0};
  PetscCall(SamplerOptsSetDefaults(&o));
  o.type = SAMPLER_SDE;
  PetscCall(SamplerPartition(comm, N, &nl, &first));
  PetscCall(PetscMalloc1(PetscMax(nl, 1), &x));
  for (int r = 0; r < 2; r++) {
    o.grid_power = r ? 3 : 1;
    PetscCall(SamplerRun(&sch, &o, &sm, nl, first, NULL, x, &st[r], NULL, NULL));
    PetscCall(StatsMoments(comm, nl, 1, x, &mean, &sd[r]));
    ex[r] = EMStd(&sch, &o, s);
    const PetscReal se = ex[r] / PetscSqrtReal(2.0 * (N - 1)); /* SE of a Gaussian sample std */
    CHECK(PetscAbsReal(sd[r] - ex[r]) < 5 * se, "VE SDE, data N(0, 0.05^2), grid power %g: sample std %.5f, the discrete sampler's exact std %.5f (%.2f SE)", (double)o.grid_power, (double)sd[r], (double)ex[r], (double)(PetscAbsReal(sd[r] - ex[r]) / se));
  }
  CHECK(ex[0] > 1.15 * s && PetscAbsReal(ex[1] / s - 1) < 0.02 && st[0].score_evals == st[1].score_evals,
        "VE SDE, data std 0.05, d tau 0.002: uniform grid std ratio %.3f, graded (rho 3) %.4f with the same %lld score evaluations", (double)(ex[0] / s), (double)(ex[1] / s), (long long)st[1].score_evals);
  PetscCall(PetscFree(x));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const Form long_forms[] = {
    {"VE", SCHED_VE, 2, 1000, 5},
    {"VP", SCHED_VP, 2, 5, 30},
    {"xi p=1", SCHED_XI, 1, 5, 30},
    {"xi p=4", SCHED_XI, 4, 5, 30},
  };
  const Form paper_forms[] = {
    {"VE", SCHED_VE, 2, 5, 5},
    {"VP", SCHED_VP, 2, 5, 5},
    {"xi p=1", SCHED_XI, 1, 5, 5},
    {"xi p=4", SCHED_XI, 4, 5, 5},
  };
  const Samp samps[] = {{"ode", SAMPLER_ODE, 0}, {"sde alpha=1", SAMPLER_SDE, 1}, {"sde alpha=0.5", SAMPLER_SDE, 0.5}};
  PetscInt   N       = 20000;
  MPI_Comm   comm;
  int        status;

  BlasCoreReexec(argc, argv); /* before anything starts: OpenBLAS kernels for this CPU (blascore.h) */
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  comm = PETSC_COMM_WORLD;
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-n", &N, NULL));
  for (int f = 0; f < 4; f++)
    for (int s = 0; s < 3; s++) {
      PetscCall(TestGauss(comm, &long_forms[f], &samps[s], N, PETSC_TRUE));
      PetscCall(TestMixture(comm, &long_forms[f], &samps[s], N));
    }
  for (int f = 0; f < 4; f++) PetscCall(TestGauss(comm, &paper_forms[f], &samps[0], N / 4, PETSC_FALSE));
  PetscCall(TestRankIndependence(comm, SAMPLER_ODE));
  PetscCall(TestRankIndependence(comm, SAMPLER_SDE));
  PetscCall(TestBadOptions());
  PetscCall(TestStartMean(comm));
  PetscCall(TestStartTweedie(comm));
  PetscCall(TestStartTweedieShell(comm));
  PetscCall(TestGridPower(comm));
  PetscCall(TestDenoise(comm));
  status = TestFinish("test_sampler");
  PetscCall(PetscFinalize());
  return status;
}
