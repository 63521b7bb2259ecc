/* bench_samplers: cost and accuracy of the samplers with an exact score (a benchmark, not a
 * test: it prints figures and asserts nothing about speed).
 *
 * For each formulation (the long schedules of test_sampler, where the terminal law is right)
 * and each setting - ODE at rtol = atol in {1e-3, 1e-4, 1e-5, 1e-6}, SDE alpha = 1 at
 * d tau in {0.01, 0.005, 0.002, 0.001} - on the 30-D conditional Gaussian it prints score
 * evaluations and wall seconds per 1,000 samples and the error reached:
 *   ODE: the largest per-particle distance to the exact flow map of its own start (data std);
 *   SDE: the method error of the exact law of the discrete sampler (mean and std vs the data
 *        law, worst component, data std) - deterministic, no sampling noise.
 * Wall time includes the exact score (cheap next to a network: with a network the score
 * evaluations count is what matters). Run: mpirun -n 2 bench_samplers [-n 2000]. */
#include "blascore.h"
#include "exact.h"
#include "sampler.h"
#include <math.h>

typedef struct {
  PetscReal *x0;
  PetscInt64 first;
  PetscInt   dim;
  PetscReal  T;
} Start;

static PetscErrorCode KeepStart(void *ctx, PetscInt n, const PetscInt64 gidx[], const PetscReal t[], const PetscReal x[])
{
  Start *s = (Start *)ctx;
  PetscFunctionBeginUser;
  for (PetscInt a = 0; a < n; a++)
    if (t[a] == s->T) PetscCall(PetscArraycpy(s->x0 + (gidx[a] - s->first) * s->dim, x + (size_t)a * s->dim, s->dim));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  struct {
    const char *name;
    SchedType   type;
    PetscReal   p, smax, bmax;
  } forms[] = {{"VE", SCHED_VE, 2, 1000, 5}, {"VP", SCHED_VP, 2, 5, 30}, {"xi p=1", SCHED_XI, 1, 5, 30}, {"xi p=4", SCHED_XI, 4, 5, 30}};
  const PetscReal tols[]  = {1e-3, 1e-4, 1e-5, 1e-6};
  const PetscReal dtaus[] = {0.01, 0.005, 0.002, 0.001};
  const PetscInt  dim = 30, cd = 2;
  PetscInt        N = 2000, nlocal;
  PetscInt64      first;
  MPI_Comm        comm;
  PetscMPIInt     size;

  BlasCoreReexec(argc, argv); /* before anything starts: OpenBLAS kernels for this CPU (blascore.h) */
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  comm = PETSC_COMM_WORLD;
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-n", &N, NULL));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(SamplerPartition(comm, N, &nlocal, &first));
  PetscCall(PetscPrintf(comm, "bench_samplers: 30-D conditional Gaussian, exact score, %" PetscInt_FMT " samples on %d ranks\n", N, size));
  PetscCall(PetscPrintf(comm, "%-8s %-4s %-10s %14s %14s %12s %12s\n", "form", "kind", "setting", "evals/sample", "s/1000 smpl", "err mean", "err std"));
  for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++) {
    Sched       sch;
    ExactGauss  g;
    ScoreModel  sm;
    PetscReal  *x, *cond, *x0, mu[30], xe[30];
    const PetscReal c[2] = {0.5, -0.5};
    PetscCall(SchedSetDefaults(&sch));
    sch.type      = forms[f].type;
    sch.p         = forms[f].p;
    sch.sigma_max = forms[f].smax;
    sch.beta_max  = forms[f].bmax;
    PetscCall(ExactGaussCreate(&sch, dim, cd, &g));
    sm = (ScoreModel){ExactGaussScore, &g, dim, cd};
    PetscCall(PetscMalloc3((size_t)(nlocal + 1) * dim, &x, (size_t)(nlocal + 1) * cd, &cond, (size_t)(nlocal + 1) * dim, &x0));
    for (PetscInt i = 0; i < nlocal; i++) PetscCall(PetscArraycpy(cond + i * cd, c, cd));
    exact_gauss_mean(&g, c, mu);
    for (int kind = 0; kind < 2; kind++)
      for (int k = 0; k < 4; k++) {
        SamplerOpts  o;
        SamplerStats st, gst;
        Start        s0 = {x0, first, dim, sch.T};
        PetscReal    em = 0, es = 0;
        char         setting[32];
        PetscCall(SamplerOptsSetDefaults(&o));
        o.seed = 5;
        if (kind == 0) {
          o.type = SAMPLER_ODE;
          o.rtol = o.atol = tols[k];
          PetscCall(PetscSNPrintf(setting, sizeof(setting), "tol=%g", (double)tols[k]));
        } else {
          o.type  = SAMPLER_SDE;
          o.alpha = 1;
          o.dtau  = dtaus[k];
          PetscCall(PetscSNPrintf(setting, sizeof(setting), "dtau=%g", (double)dtaus[k]));
        }
        PetscCall(SamplerRun(&sch, &o, &sm, nlocal, first, cond, x, &st, kind == 0 ? KeepStart : NULL, &s0));
        PetscCall(SamplerStatsReduce(comm, &st, &gst));
        if (kind == 0) {
          for (PetscInt i = 0; i < nlocal; i++) {
            exact_gauss_flow(&g, c, sch.T, x0 + i * dim, sch.eps, xe);
            for (PetscInt d = 0; d < dim; d++) em = PetscMax(em, PetscAbsReal(x[i * dim + d] - xe[d]) / g.s[d]);
          }
          PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &em, 1, MPIU_REAL, MPI_MAX, comm));
          es = em;
        } else {
          for (PetscInt d = 0; d < dim; d++) {
            PetscReal m, v;
            exact_gauss_sampler_law(&sch, &o, mu[d], g.s[d], &m, &v);
            em = PetscMax(em, PetscAbsReal(m - mu[d]) / g.s[d]);
            es = PetscMax(es, PetscAbsReal(sqrt(v) / g.s[d] - 1));
          }
        }
        PetscCall(PetscPrintf(comm, "%-8s %-4s %-10s %14.1f %14.4f %12.2e %12.2e\n", forms[f].name, kind ? "sde" : "ode", setting, (double)gst.score_evals / N, gst.time * 1000.0 / N * size, (double)em, (double)es));
      }
    PetscCall(PetscFree3(x, cond, x0));
    PetscCall(ExactGaussDestroy(&g));
  }
  PetscCall(PetscPrintf(comm, "err (ode): max per-particle |x - exact flow map| / data std (both columns); err (sde): exact discrete-law bias of mean / std, worst component\n"
                              "s/1000 smpl: wall seconds per 1,000 samples per rank (slowest rank time x ranks / samples)\n"));
  PetscCall(PetscFinalize());
  return 0;
}
