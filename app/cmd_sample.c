/* pdediff sample: run a reverse-process sampler on a problem with an exact score and write
 * the samples, with their provenance and sampler statistics, to one HDF5 file.
 * Until the score network exists (issue 2) this is the end-to-end check of the diffusion core:
 * the printed errors say how well the samples reproduce the known data law. */
#include "commands.h"
#include "exact.h"
#include "h5io.h"
#include "model.h"
#include "sampler.h"
#include "stats.h"
#include <math.h>

typedef enum { PROBLEM_GAUSS = 0, PROBLEM_MIXTURE = 1 } ProblemType;
static const char *const ProblemTypes[] = {"gauss", "mixture", "ProblemType", "PROBLEM_", NULL};

typedef struct {
  ProblemType problem;
  PetscInt    n_samples, dim, cond_dim;
  PetscReal   cond[1024];
  PetscInt    ncond_given;
  char        output[PETSC_MAX_PATH_LEN];
  char        model[PETSC_MAX_PATH_LEN];
  Sched       sch;
  SamplerOpts so;
  PetscBool   help;
} SampleCtx;

static PetscErrorCode ProcessOptions(MPI_Comm comm, SampleCtx *c)
{
  PetscInt  ncond = 1024;
  PetscBool set   = PETSC_FALSE;

  PetscFunctionBeginUser;
  c->problem   = PROBLEM_GAUSS;
  c->n_samples = 20000;
  c->dim       = 30;
  c->cond_dim  = 2;
  for (PetscInt j = 0; j < 1024; j++) c->cond[j] = (j % 2) ? -0.5 : 0.5;
  c->model[0] = 0;
  PetscCall(PetscStrncpy(c->output, "samples.h5", sizeof(c->output)));
  PetscCall(SchedSetDefaults(&c->sch));
  PetscCall(SamplerOptsSetDefaults(&c->so));
  PetscCall(PetscOptionsHasHelp(NULL, &c->help));

  PetscOptionsBegin(comm, NULL, "pdediff sample: reverse-process sampling of an exact-score problem", "sample");
  PetscCall(PetscOptionsEnum("-problem", "Data law with a closed-form score: gauss (dim-D Gaussian shifted by a condition vector) or mixture (1-D two-component)", "sample", ProblemTypes, (PetscEnum)c->problem, (PetscEnum *)&c->problem, NULL));
  PetscCall(PetscOptionsInt("-n_samples", "Number of samples (split over the ranks)", "sample", c->n_samples, &c->n_samples, NULL));
  PetscCall(PetscOptionsInt("-dim", "gauss: dimension of x", "sample", c->dim, &c->dim, NULL));
  PetscCall(PetscOptionsInt("-cond_dim", "gauss: dimension of the conditioning vector (<= 16)", "sample", c->cond_dim, &c->cond_dim, NULL));
  PetscCall(PetscOptionsString("-model", "Sample this trained model (from pdediff train) instead of an exact-score -problem", "sample", c->model, c->model, sizeof(c->model), NULL));
  PetscCall(PetscOptionsRealArray("-cond", "The conditioning vector (comma separated): y for -model (n_y values, data units), c for gauss", "sample", c->cond, &ncond, &set));
  PetscCall(PetscOptionsString("-output", "HDF5 file for the samples (written as FILE.partial, renamed when complete)", "sample", c->output, c->output, sizeof(c->output), NULL));
  PetscOptionsEnd();
  c->ncond_given = set ? ncond : 0;
  PetscCall(SchedSetFromOptions(comm, NULL, &c->sch));
  PetscCall(SamplerOptsSetFromOptions(comm, NULL, &c->so));
  if (c->help) PetscFunctionReturn(0);
  PetscCheck(c->n_samples > 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-n_samples %" PetscInt_FMT ": need at least 2", c->n_samples);
  PetscCheck(c->dim > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-dim %" PetscInt_FMT ": must be > 0", c->dim);
  PetscCheck(c->cond_dim >= 0 && c->cond_dim <= 16, comm, PETSC_ERR_ARG_OUTOFRANGE, "-cond_dim %" PetscInt_FMT ": must be in [0, 16]", c->cond_dim);
  if (c->problem == PROBLEM_MIXTURE) {
    c->dim      = 1;
    c->cond_dim = 0;
  }
  PetscFunctionReturn(0);
}

/* Sample a trained model at one condition y: the sampler runs in the model's normalised
   coordinates (the ones it was trained in), the samples are written in data units. */
static PetscErrorCode SampleModel(MPI_Comm comm, SampleCtx *c)
{
  Model         m;
  ModelScoreCtx sc;
  ScoreModel    sm;
  SamplerStats  st, gst;
  PetscInt      nlocal;
  PetscInt64    first;
  PetscReal    *x, *cond, *mean, *sd;
  char          desc[256];
  H5io          io;

  PetscFunctionBeginUser;
  PetscCall(ModelLoad(comm, c->model, &m));
  PetscCall(ModelSamplerStart(comm, &m, c->model, &c->so));
  PetscCheck(m.mask == PETSC_FALSE, comm, PETSC_ERR_SUP, "%s takes a sensor mask; 'pdediff sample -model' samples models without one", c->model);
  PetscCheck(c->ncond_given == m.ny, comm, PETSC_ERR_ARG_SIZ, "-cond has %" PetscInt_FMT " values but the model %s is conditioned on n_y = %" PetscInt_FMT ": give -cond y_1,...,y_%" PetscInt_FMT, c->ncond_given, c->model, m.ny, m.ny);
  PetscCall(SamplerPartition(comm, c->n_samples, &nlocal, &first));
  PetscCall(PetscMalloc4((size_t)PetscMax(nlocal, 1) * m.nx, &x, (size_t)PetscMax(nlocal, 1) * PetscMax(m.ny, 1), &cond, m.nx, &mean, m.nx, &sd));
  for (PetscInt i = 0; i < nlocal; i++)
    for (PetscInt j = 0; j < m.ny; j++) cond[(size_t)i * m.ny + j] = c->cond[j];
  ModelNormalizeYReal(&m, nlocal, cond);
  PetscCall(ModelScoreCtxCreate(&m, c->so.chunk, &sc));
  ModelScoreModel(&sc, &sm);
  PetscCall(SamplerRun(&m.sch, &c->so, &sm, nlocal, first, m.ny ? cond : NULL, x, &st, NULL, NULL));
  PetscCall(SamplerStatsReduce(comm, &st, &gst));
  ModelDenormalizeXReal(&m, nlocal, x);
  PetscCall(StatsMoments(comm, nlocal, m.nx, x, mean, sd));
  PetscCall(SchedDescribe(&m.sch, desc, sizeof(desc)));
  PetscCall(PetscPrintf(comm, "pdediff sample: model %s (%s), %s sampler, %" PetscInt_FMT " samples\n", c->model, desc, SamplerTypes[c->so.type], c->n_samples));
  PetscCall(PetscPrintf(comm, "  score evaluations %" PetscInt64_FMT " (%.1f per sample), wall %.3f s\n", gst.score_evals, (double)gst.score_evals / c->n_samples, gst.time));
  for (PetscInt j = 0; j < PetscMin(m.nx, 8); j++) PetscCall(PetscPrintf(comm, "  x[%" PetscInt_FMT "]: mean %.6g std %.6g\n", j, mean[j], sd[j]));
  if (c->output[0]) {
    PetscCall(H5ioCreate(comm, c->output, &io));
    PetscCall(H5ioWriteProvenance(&io, "pdediff sample"));
    PetscCall(H5ioAttrString(&io, "/", "model", c->model));
    PetscCall(H5ioAttrString(&io, "/", "formulation", desc));
    PetscCall(H5ioAttrString(&io, "/", "sampler", SamplerTypes[c->so.type]));
    PetscCall(H5ioAttrReal(&io, "/", "sampler_alpha", c->so.type == SAMPLER_SDE ? c->so.alpha : 0.0));
    PetscCall(H5ioAttrInt(&io, "/", "sampler_seed", c->so.seed));
    PetscCall(H5ioAttrInt(&io, "/", "score_evaluations", gst.score_evals));
    PetscCall(H5ioAttrReal(&io, "/", "sampling_wall_seconds", gst.time));
    PetscCall(H5ioWriteRows(&io, "samples", c->n_samples, m.nx, first, nlocal, x, "sample,component", "as the training x", "samples of x | y at t = eps, in data units, one row per sample"));
    if (m.ny) PetscCall(H5ioWriteReplicated(&io, "condition", m.ny, 0, c->cond, "condition_component", "as the training y", "the condition y all samples share"));
    PetscCall(H5ioWriteReplicated(&io, "sample_mean", m.nx, 0, mean, "component", "as the training x", "mean over all samples"));
    PetscCall(H5ioWriteReplicated(&io, "sample_std", m.nx, 0, sd, "component", "as the training x", "standard deviation over all samples"));
    PetscCall(H5ioCommit(&io));
    PetscCall(PetscPrintf(comm, "  wrote %s\n", c->output));
  }
  PetscCall(ModelScoreCtxDestroy(&sc));
  PetscCall(PetscFree4(x, cond, mean, sd));
  PetscCall(ModelDestroy(&m));
  PetscFunctionReturn(0);
}

PetscErrorCode CmdSample(MPI_Comm comm, int nargs, char **args, int *status)
{
  SampleCtx    c;
  ExactGauss   g;
  ExactMixture mx;
  ScoreModel   sm;
  SamplerStats st, gst;
  PetscInt     nlocal;
  PetscInt64   first;
  PetscReal   *x, *cond = NULL, *mean, *sd;
  char         desc[256];
  H5io         io;

  PetscFunctionBeginUser;
  PetscCall(ProcessOptions(comm, &c));
  if (c.help) PetscFunctionReturn(0);
  if (c.model[0]) {
    PetscCall(SampleModel(comm, &c));
    PetscFunctionReturn(0);
  }
  PetscCall(SamplerPartition(comm, c.n_samples, &nlocal, &first));
  PetscCall(PetscMalloc3((size_t)PetscMax(nlocal, 1) * c.dim, &x, c.dim, &mean, c.dim, &sd));
  if (c.problem == PROBLEM_GAUSS) {
    PetscCall(ExactGaussCreate(&c.sch, c.dim, c.cond_dim, &g));
    PetscCall(PetscMalloc1((size_t)PetscMax(nlocal, 1) * PetscMax(c.cond_dim, 1), &cond));
    for (PetscInt i = 0; i < nlocal; i++)
      for (PetscInt j = 0; j < c.cond_dim; j++) cond[(size_t)i * c.cond_dim + j] = c.cond[j];
    sm = (ScoreModel){ExactGaussScore, &g, c.dim, c.cond_dim};
  } else {
    PetscCall(ExactMixtureSetDefault(&c.sch, &mx));
    sm = (ScoreModel){ExactMixtureScore, &mx, 1, 0};
  }

  PetscCheck(c.so.start != SAMPLER_START_MEAN, comm, PETSC_ERR_ARG_INCOMP, "-sampler_start mean starts from a trained model's data mean: use it with -model (the built-in problems start from zero or tweedie)");
  PetscCall(SamplerRun(&c.sch, &c.so, &sm, nlocal, first, c.cond_dim ? cond : NULL, x, &st, NULL, NULL));
  PetscCall(SamplerStatsReduce(comm, &st, &gst));
  PetscCall(StatsMoments(comm, nlocal, c.dim, x, mean, sd));
  PetscCall(SchedDescribe(&c.sch, desc, sizeof(desc)));
  PetscCall(PetscPrintf(comm, "pdediff sample: %s, %s sampler, %" PetscInt_FMT " samples, %s\n", ProblemTypes[c.problem], SamplerTypes[c.so.type], c.n_samples, desc));
  PetscCall(PetscPrintf(comm, "  score evaluations %" PetscInt64_FMT " (%.1f per sample, %" PetscInt64_FMT " batched calls), steps per sample max %" PetscInt64_FMT ", rejected %" PetscInt64_FMT ", wall %.3f s\n", gst.score_evals, (double)gst.score_evals / c.n_samples, gst.score_calls, gst.max_particle_steps, gst.rejected, gst.time));
  if (c.problem == PROBLEM_GAUSS) {
    PetscReal *mu, emax = 0, smax = 0, pmax = 0, psmax = 0;
    PetscCall(PetscMalloc1(c.dim, &mu));
    exact_gauss_mean(&g, c.cond, mu);
    for (PetscInt d = 0; d < c.dim; d++) {
      PetscReal pm, pv;
      exact_gauss_sampler_law(&c.sch, &c.so, mu[d], g.s[d], &pm, &pv);
      emax  = PetscMax(emax, PetscAbsReal(mean[d] - mu[d]) / g.s[d]);
      smax  = PetscMax(smax, PetscAbsReal(sd[d] / g.s[d] - 1));
      pmax  = PetscMax(pmax, PetscAbsReal(pm - mu[d]) / g.s[d]);
      psmax = PetscMax(psmax, PetscAbsReal(sqrt(pv) / g.s[d] - 1));
    }
    PetscCall(PetscPrintf(comm, "  max over components |mean - exact|/std %.4f (standard error %.4f), max |std/exact - 1| %.4f (standard error %.4f)\n", emax, 1 / sqrt((double)c.n_samples), smax, 1 / sqrt(2.0 * c.n_samples)));
    PetscCall(PetscPrintf(comm, "  predicted by the sampler's exact law (terminal mismatch + discretisation): %.4f and %.4f\n", pmax, psmax));
    PetscCall(PetscFree(mu));
  } else {
    PetscReal w1, wloc = 0, w0;
    for (PetscInt i = 0; i < nlocal; i++) wloc += exact_mixture_resp(&mx, 0, x[i]);
    PetscCallMPI(MPI_Allreduce(&wloc, &w0, 1, MPIU_REAL, MPI_SUM, comm));
    PetscCall(StatsW1Quantile(comm, nlocal, x, exact_mixture_quantile0, &mx, &w1));
    PetscCall(PetscPrintf(comm, "  weight of component 0: %.4f (exact %.4f), W1 to the exact law %.4f\n", w0 / c.n_samples, mx.w[0], w1));
  }

  if (c.output[0]) {
    PetscCall(H5ioCreate(comm, c.output, &io));
    PetscCall(H5ioWriteProvenance(&io, "pdediff sample"));
    PetscCall(H5ioAttrString(&io, "/", "problem", ProblemTypes[c.problem]));
    PetscCall(H5ioAttrString(&io, "/", "formulation", desc));
    PetscCall(H5ioAttrString(&io, "/", "sampler", SamplerTypes[c.so.type]));
    PetscCall(H5ioAttrReal(&io, "/", "sampler_alpha", c.so.type == SAMPLER_SDE ? c.so.alpha : 0.0));
    PetscCall(H5ioAttrReal(&io, "/", "sampler_dtau", c.so.dtau));
    PetscCall(H5ioAttrReal(&io, "/", "sampler_grid_power", c.so.grid_power));
    PetscCall(H5ioAttrInt(&io, "/", "sampler_denoise", c.so.denoise));
    PetscCall(H5ioAttrReal(&io, "/", "sampler_rtol", c.so.rtol));
    PetscCall(H5ioAttrReal(&io, "/", "sampler_atol", c.so.atol));
    PetscCall(H5ioAttrInt(&io, "/", "sampler_seed", c.so.seed));
    PetscCall(H5ioAttrInt(&io, "/", "score_evaluations", gst.score_evals));
    PetscCall(H5ioAttrReal(&io, "/", "sampling_wall_seconds", gst.time));
    PetscCall(H5ioWriteRows(&io, "samples", c.n_samples, c.dim, first, nlocal, x, "sample,component", "dimensionless", "posterior/data samples at t = eps, one row per sample"));
    if (c.cond_dim) PetscCall(H5ioWriteRows(&io, "condition", c.n_samples, c.cond_dim, first, nlocal, cond, "sample,condition_component", "dimensionless", "conditioning vector of each sample"));
    PetscCall(H5ioWriteReplicated(&io, "sample_mean", c.dim, 0, mean, "component", "dimensionless", "mean over all samples"));
    PetscCall(H5ioWriteReplicated(&io, "sample_std", c.dim, 0, sd, "component", "dimensionless", "standard deviation over all samples"));
    PetscCall(H5ioCommit(&io));
    PetscCall(PetscPrintf(comm, "  wrote %s\n", c.output));
  }
  if (c.problem == PROBLEM_GAUSS) {
    PetscCall(ExactGaussDestroy(&g));
    PetscCall(PetscFree(cond));
  }
  PetscCall(PetscFree3(x, mean, sd));
  PetscFunctionReturn(0);
}
