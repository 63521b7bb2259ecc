/* pdediff posterior: sample the posterior of the wall flux for every test measurement with a
 * trained conditional score network, and measure it (paper Sec. 5.2, DESIGN.md section 5).
 *
 *   mpirun -n 2 pdediff posterior -posterior_model ve_0.01.h5 -posterior_data dataset.h5 \
 *       -posterior_output post_ve_0.01.h5
 *
 * Pipeline (PetscLogStages, so -log_view shows where the time goes):
 *   1. test set: the truth x and the clean sensor values of rows first .. first+ntest-1 of the data
 *      set (default: the test rows after n_train), measurements with the model's noise level
 *      (meas.h: the stream of each data-set row, so every model at a level sees the same test
 *      measurements) and, for a mask model, a random mask per case; or measurements from a text
 *      file (-posterior_measurements: no truth, no metrics);
 *   2. sample: the test cases are split over the ranks; -posterior_nsamples samples per case with
 *      each sampler of -posterior_samplers (ODE and SDE), -posterior_case_batch cases per sampler
 *      call; per case the mean, standard deviation, CRPS and 1/2-sigma coverage per segment;
 *   3. exact: with an unclipped (Gaussian) prior and noise > 0, the exact posterior
 *      N(mu_post, Sigma_post) by ScaLAPACK (post.h), and the diffusion posterior measured against it;
 *      for a mask model each case's posterior conditions on its sensors that are on (H's rows of
 *      the mask), so Sigma_post differs between masks (beyond the paper: it checks that one
 *      network serves every operator, Sec. 5.2.1);
 *   3b. MCMC reference (beyond the paper): with the paper's clipped prior and noise > 0, elliptical
 *      slice sampling on the GP latent (mcmc.h) for the first -posterior_mcmc test cases (split over
 *      the ranks) gives reference posterior means and stds to measure the diffusion posterior with;
 *      for a mask model each chain's likelihood is that of its case's sensors that are on;
 *   With -posterior_checkpoint FILE the sampling stage can be stopped and resumed (post_ckpt.h):
 *   every -posterior_checkpoint_interval seconds and on SIGTERM/SIGUSR1 (SLURM's warning before
 *   a time limit, scancel) the finished cases go to FILE; a stopped run exits with status 3 and
 *   the same command continues where it stopped, at any rank count, to the same results.
 *   4. one HDF5 file (FILE.partial, renamed when complete): per case the truth, measurement, mask,
 *      posterior mean and std per sampler; all samples of the -posterior_keep_cases; the per-segment
 *      metrics of Figures 7-10, 13, 14 and the calibration scores as datasets and attributes. */
#include "commands.h"
#include "jobsig.h"
#include "mcmc.h"
#include "meas.h"
#include "model.h"
#include "post.h"
#include "post_ckpt.h"
#include "sampler.h"
#include "stats.h"
#include <math.h>

#define POST_MAX_KEEP 16
#define POST_MAX_NY   1024

typedef enum { EXACT_AUTO = 0, EXACT_YES = 1, EXACT_NO = 2 } ExactMode;
static const char *const ExactModes[] = {"auto", "yes", "no", "ExactMode", "EXACT_", NULL};

typedef struct {
  char        model[PETSC_MAX_PATH_LEN], data[PETSC_MAX_PATH_LEN], meas_file[PETSC_MAX_PATH_LEN], output[PETSC_MAX_PATH_LEN];
  PetscInt    first, ntest, nsamples, case_batch;
  PetscReal   log_interval; /* seconds between progress lines of the sampling stage (0: none) */
  PetscInt    keep[POST_MAX_KEEP], nkeep;
  PetscBool   keep_given; /* -posterior_keep_cases given (else the first 3 cases, fewer if fewer) */
  SamplerType samplers[2];
  PetscInt    nsamplers;
  PetscReal   fixed_mask[POST_MAX_NY];
  PetscInt    nfixed_mask;
  ExactMode   exact;
  PetscInt    n_mcmc;    /* test cases with an MCMC reference (clipped prior) */
  McmcOpts    mo;
  SamplerOpts so;
  Meas        meas;      /* the model's, with -noise_level/-noise_seed/-mask_seed overrides */
  PetscBool   level_set;
  char        ckpt[PETSC_MAX_PATH_LEN]; /* -posterior_checkpoint ("": none) */
  PetscReal   ckpt_interval;
  PetscReal   sync_interval; /* seconds between the ranks' agreements on signals and checkpoints */
  PetscInt    test_signal_batch;
  PetscBool   help;
} PostCtx;

typedef struct { /* the test cases, replicated on every rank */
  PetscInt   ntest, nx, ny;
  PetscInt64 first;      /* data-set row of case 0 (-1: measurements from a file) */
  PetscReal *truth;      /* ntest x nx, NULL without a data set */
  PetscReal *y_clean;    /* ntest x ny, NULL without a data set */
  PetscReal *y;          /* ntest x ny measurements (physical units) */
  PetscReal *mask;       /* ntest x ny (all 1 for a model without mask input) */
  PetscReal *prior_mean, *prior_std; /* nx: over the training rows of the data set */
  PetscReal  mean_flux;  /* mean of the truth over all cases and segments (the paper's normaliser) */
  /* for the exact posterior */
  PetscReal *H, *K;      /* ny x nx, nx x nx */
  PetscReal  gp_mean;
  PetscBool  gp_clip, have_prior;
} TestSet;

typedef struct { /* the exact Gaussian posterior of every case, replicated */
  PetscBool  on;
  PetscReal *mu;     /* ntest x nx */
  PetscReal *sigma;  /* nx x nx: the covariance shared by every case (NULL when it depends on the mask) */
  PetscReal *sd;     /* nx (ld = 0, shared) or ntest x nx (ld = nx, one per mask) */
  PetscInt   ld;
  PetscReal  cov1, cov2; /* its own coverage of the truth */
} ExactRef;

typedef struct { /* one sampler's results: this rank's cases, then the global metrics */
  SamplerType type;
  PetscReal  *mean, *std, *crps, *in1, *in2; /* nlocal x nx */
  PetscReal  *done;                          /* nlocal: 1 once sampled (here or by a checkpointed run) */
  PetscReal  *kept;                          /* nkeep x ns x nx (replicated after the reduction) */
  PetscReal  *seg_err, *seg_std, *seg_crps, *seg_cov1, *seg_cov2; /* nx each */
  PetscReal   err, cov1, cov2, crps_mean, std_ratio_prior;
  PetscReal   ex_err, ex_ratio_mean, ex_ratio_min, ex_ratio_max; /* against the exact posterior */
  PetscReal   mc_err, mc_ratio_mean, mc_ratio_min, mc_ratio_max; /* against the MCMC reference */
  SamplerStats st_run; /* this rank's counts for the cases it sampled in this run */
  SamplerStats st;     /* global counts of every case (this run's and a checkpoint's) */
} PostResult;

static PetscErrorCode ProcessOptions(MPI_Comm comm, PostCtx *c)
{
  PetscInt  nsamp = 2, nmask = POST_MAX_NY, nkeep = POST_MAX_KEEP;
  PetscBool set_s, set_m, set_k;

  PetscFunctionBeginUser;
  c->model[0] = c->data[0] = c->meas_file[0] = 0;
  PetscCall(PetscStrncpy(c->output, "posterior.h5", sizeof(c->output)));
  c->first      = -1;
  c->ntest      = 0;
  c->nsamples   = 1000;
  c->case_batch = 16;
  c->log_interval = 60;
  c->ckpt[0]       = 0;
  c->ckpt_interval = 600;
  c->sync_interval = 30;
  c->test_signal_batch = -1;
  c->nkeep      = 3;
  for (PetscInt k = 0; k < POST_MAX_KEEP; k++) c->keep[k] = k;
  c->samplers[0] = SAMPLER_ODE;
  c->samplers[1] = SAMPLER_SDE;
  c->nsamplers   = 2;
  c->nfixed_mask = 0;
  c->exact       = EXACT_AUTO;
  c->n_mcmc      = 50;
  c->mo.n_iter   = 50000;
  c->mo.n_burn   = 5000;
  c->mo.seed     = 13;
  c->mo.refit    = PETSC_TRUE;
  c->mo.min_ess  = 400;     /* reference mean within ~0.05 posterior std, std within ~4% (1/sqrt(2 ESS)) */
  c->mo.max_iter = 2000000; /* ~20 s per chain here */
  PetscCall(SamplerOptsSetDefaults(&c->so));
  PetscCall(PetscOptionsHasHelp(NULL, &c->help));

  PetscOptionsBegin(comm, NULL, "pdediff posterior: posterior sampling of the wall flux for test measurements (Sec. 5.2)", "posterior");
  PetscCall(PetscOptionsString("-posterior_model", "Trained model (pdediff train) (required)", "posterior", c->model, c->model, sizeof(c->model), NULL));
  PetscCall(PetscOptionsString("-posterior_data", "Data set (pdediff generate): truth and clean sensor values of the test cases", "posterior", c->data, c->data, sizeof(c->data), NULL));
  PetscCall(PetscOptionsString("-posterior_measurements", "Instead of a data set: a text file of measurements, one case per line (n_y numbers, physical units)", "posterior", c->meas_file, c->meas_file, sizeof(c->meas_file), NULL));
  PetscCall(PetscOptionsInt("-posterior_first", "First data-set row of the test cases (default: the data set's n_train)", "posterior", c->first, &c->first, NULL));
  PetscCall(PetscOptionsInt("-posterior_ntest", "Number of test cases (0: every row from -posterior_first on)", "posterior", c->ntest, &c->ntest, NULL));
  PetscCall(PetscOptionsInt("-posterior_nsamples", "Posterior samples per test case (paper: 1000)", "posterior", c->nsamples, &c->nsamples, NULL));
  PetscCall(PetscOptionsInt("-posterior_case_batch", "Test cases per sampler call (memory only: results do not depend on it)", "posterior", c->case_batch, &c->case_batch, NULL));
  PetscCall(PetscOptionsReal("-posterior_log_interval", "Seconds between progress lines while sampling (cases done on rank 0, samples/s, time to go; 0: none)", "posterior", c->log_interval, &c->log_interval, NULL));
  PetscCall(PetscOptionsEnumArray("-posterior_samplers", "Samplers to run (comma separated)", "posterior", SamplerTypes, (PetscEnum *)c->samplers, &nsamp, &set_s));
  PetscCall(PetscOptionsIntArray("-posterior_keep_cases", "Test cases (0-based) whose samples are all written (Figures 6, 12)", "posterior", c->keep, &nkeep, &set_k));
  PetscCall(PetscOptionsRealArray("-posterior_mask", "Mask model: one mask (n_y values 0/1) for every case instead of random masks", "posterior", c->fixed_mask, &nmask, &set_m));
  PetscCall(PetscOptionsEnum("-posterior_exact", "Compare with the exact Gaussian posterior (auto: when the data set's prior is unclipped and the noise > 0)", "posterior", ExactModes, (PetscEnum)c->exact, (PetscEnum *)&c->exact, NULL));
  PetscCall(PetscOptionsInt("-posterior_mcmc", "Clipped prior, noise > 0: test cases (the first ones) with an MCMC reference posterior (0: none)", "posterior", c->n_mcmc, &c->n_mcmc, NULL));
  PetscCall(PetscOptionsInt("-mcmc_iter", "MCMC steps per chain after burn-in", "posterior", c->mo.n_iter, &c->mo.n_iter, NULL));
  PetscCall(PetscOptionsInt("-mcmc_burn", "MCMC burn-in steps", "posterior", c->mo.n_burn, &c->mo.n_burn, NULL));
  PetscCall(PetscOptionsInt("-mcmc_seed", "Seed of the MCMC chains", "posterior", c->mo.seed, &c->mo.seed, NULL));
  PetscCall(PetscOptionsReal("-mcmc_min_ess", "Extend each chain until the effective sample size of its worst segment reaches this (0: -mcmc_iter steps exactly)", "posterior", c->mo.min_ess, &c->mo.min_ess, NULL));
  PetscCall(PetscOptionsInt("-mcmc_max_iter", "Cap on the steps after burn-in of an extended chain", "posterior", c->mo.max_iter, &c->mo.max_iter, NULL));
  PetscCall(PetscOptionsBool("-mcmc_refit", "Refit the slice sampler's Gaussian reference to the burn-in (else: the unclipped posterior throughout)", "posterior", c->mo.refit, &c->mo.refit, NULL));
  PetscCall(PetscOptionsString("-posterior_output", "Output HDF5 file (written as FILE.partial, renamed when complete)", "posterior", c->output, c->output, sizeof(c->output), NULL));
  PetscCall(PetscOptionsString("-posterior_checkpoint", "Restart file of the sampling stage: finished cases are saved there every -posterior_checkpoint_interval s and on SIGTERM/SIGUSR1 (then exit status 3); rerunning the same command resumes from it; removed when the output is written (default: none)", "posterior", c->ckpt, c->ckpt, sizeof(c->ckpt), NULL));
  PetscCall(PetscOptionsReal("-posterior_checkpoint_interval", "Seconds between checkpoints (0: only on SIGTERM/SIGUSR1)", "posterior", c->ckpt_interval, &c->ckpt_interval, NULL));
  PetscCall(PetscOptionsReal("-posterior_sync_interval", "With a checkpoint: seconds between the ranks' agreements on signals and due checkpoints (how late a signal is acted on; 0: after every batch)", "posterior", c->sync_interval, &c->sync_interval, NULL));
  PetscCall(PetscOptionsInt("-posterior_test_signal_batch", "Testing: the last rank raises SIGUSR1 after this many case batches of the run (-1: never)", "posterior", c->test_signal_batch, &c->test_signal_batch, NULL));
  PetscOptionsEnd();
  if (set_s) c->nsamplers = nsamp;
  if (set_k) c->nkeep = nkeep;
  c->keep_given = set_k;
  if (set_m) c->nfixed_mask = nmask;
  PetscCall(SamplerOptsSetFromOptions(comm, NULL, &c->so));
  if (c->help) {
    PetscCall(MeasSetDefaults(&c->meas));
    PetscCall(MeasSetFromOptions(comm, &c->meas, NULL));
    PetscFunctionReturn(0);
  }
  PetscCheck(c->model[0], comm, PETSC_ERR_ARG_WRONG, "No model: give -posterior_model FILE (written by pdediff train)");
  PetscCheck(!c->data[0] != !c->meas_file[0], comm, PETSC_ERR_ARG_WRONG, "Give exactly one of -posterior_data (a data set from pdediff generate) and -posterior_measurements (a text file of measurements)");
  PetscCheck(c->nsamples >= 2, comm, PETSC_ERR_ARG_OUTOFRANGE, "-posterior_nsamples %" PetscInt_FMT ": need at least 2 samples per case", c->nsamples);
  PetscCheck(c->ntest >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-posterior_ntest %" PetscInt_FMT ": must be >= 0 (0: all test rows)", c->ntest);
  PetscCheck(c->n_mcmc >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-posterior_mcmc %" PetscInt_FMT ": must be >= 0 (0: no MCMC reference)", c->n_mcmc);
  PetscCheck(c->mo.min_ess >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-mcmc_min_ess %g: must be >= 0 (0: every chain runs -mcmc_iter steps)", (double)c->mo.min_ess);
  PetscCheck(c->mo.min_ess == 0 || c->mo.max_iter <= PETSC_MAX_INT - c->mo.n_burn, comm, PETSC_ERR_ARG_OUTOFRANGE, "-mcmc_max_iter %" PetscInt_FMT " + -mcmc_burn %" PetscInt_FMT " exceeds the 32-bit step counter: lower -mcmc_max_iter", c->mo.max_iter, c->mo.n_burn);
  PetscCheck(c->mo.min_ess == 0 || c->mo.max_iter >= c->mo.n_iter, comm, PETSC_ERR_ARG_OUTOFRANGE, "-mcmc_max_iter %" PetscInt_FMT " is below -mcmc_iter %" PetscInt_FMT ": the cap on extended chains must be at least the base length", c->mo.max_iter, c->mo.n_iter);
  PetscCheck(c->mo.n_iter >= 10 && c->mo.n_burn >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-mcmc_iter %" PetscInt_FMT " / -mcmc_burn %" PetscInt_FMT ": need at least 10 steps and a burn-in >= 0", c->mo.n_iter, c->mo.n_burn);
  PetscCheck(c->log_interval >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-posterior_log_interval %g: must be >= 0 seconds (0: no progress lines)", (double)c->log_interval);
  PetscCheck(c->case_batch >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-posterior_case_batch %" PetscInt_FMT ": must be >= 1", c->case_batch);
  PetscCheck(c->nsamplers >= 1, comm, PETSC_ERR_ARG_WRONG, "-posterior_samplers: name at least one of ode, sde");
  PetscCheck(c->nsamplers == 1 || c->samplers[0] != c->samplers[1], comm, PETSC_ERR_ARG_WRONG, "-posterior_samplers names %s twice", SamplerTypes[c->samplers[0]]);
  PetscCall(H5ioCheckWritable(comm, c->output, "-posterior_output"));
  PetscCheck(c->sync_interval >= 0 && c->sync_interval <= 90, comm, PETSC_ERR_ARG_OUTOFRANGE, "-posterior_sync_interval %g: must be within 0 .. 90 seconds (a signal is acted on that late; SLURM's warning comes 120 s before the limit with --signal=B:USR1@120)", (double)c->sync_interval);
  PetscCheck(c->ckpt_interval >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-posterior_checkpoint_interval %g: must be >= 0 seconds (0: only on SIGTERM/SIGUSR1)", (double)c->ckpt_interval);
  if (c->ckpt[0]) {
    PetscBool same;
    PetscCall(PetscStrcmp(c->ckpt, c->output, &same));
    PetscCheck(!same, comm, PETSC_ERR_ARG_WRONG, "-posterior_checkpoint %s is also the -posterior_output: give the checkpoint its own name (e.g. %s.ckpt)", c->ckpt, c->output);
    PetscCall(H5ioCheckWritable(comm, c->ckpt, "-posterior_checkpoint"));
  }
  PetscFunctionReturn(0);
}

/* The model's measurement model with the command line's overrides; a different noise level is
   allowed (a robustness study) but said loudly. */
static PetscErrorCode SetMeasurementModel(MPI_Comm comm, PostCtx *c, const Model *m)
{
  const PetscReal trained = m->meas.level;

  PetscFunctionBeginUser;
  c->meas = m->meas;
  PetscCall(MeasSetFromOptions(comm, &c->meas, &c->level_set));
  c->meas.sigma = c->meas.level * c->meas.range;
  if (c->level_set && PetscAbsReal(c->meas.level - trained) > 1e-12 * PetscMax(1, trained))
    PetscCall(PetscPrintf(comm, "posterior: WARNING: the model %s was trained at noise level %.6g (sigma %.6g); -noise_level %.6g gives test measurements it was not trained for (use the model trained at %.6g for the paper's setting)\n", c->model, (double)trained, (double)m->meas.sigma, (double)c->meas.level, (double)c->meas.level));
  PetscCheck(c->meas.level == 0 || c->meas.range > 0 || c->meas_file[0], comm, PETSC_ERR_ARG_INCOMP, "Model %s records no concentration range, so -noise_level %.6g has no physical scale: retrain it with this pdediff train", c->model, (double)c->meas.level);
  PetscFunctionReturn(0);
}

/* Case masks: a fixed -posterior_mask, the model's random masks, or every sensor on. */
static PetscErrorCode SetMasks(MPI_Comm comm, const PostCtx *c, const Model *m, TestSet *ts)
{
  PetscFunctionBeginUser;
  PetscCheck(!c->nfixed_mask || m->mask, comm, PETSC_ERR_ARG_INCOMP, "-posterior_mask given but the model %s takes no mask input (train it with -mask_prob > 0)", c->model);
  PetscCheck(!c->nfixed_mask || c->nfixed_mask == m->ny, comm, PETSC_ERR_ARG_SIZ, "-posterior_mask has %" PetscInt_FMT " values but the model %s has n_y = %" PetscInt_FMT " sensors", c->nfixed_mask, c->model, m->ny);
  if (c->nfixed_mask) {
    PetscInt on = 0;
    for (PetscInt j = 0; j < m->ny; j++) {
      PetscCheck(c->fixed_mask[j] == 0 || c->fixed_mask[j] == 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-posterior_mask value %" PetscInt_FMT " is %.6g: use 0 (off) or 1 (on)", j, (double)c->fixed_mask[j]);
      on += (PetscInt)c->fixed_mask[j];
    }
    PetscCheck(on > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-posterior_mask has no sensor on: there is nothing to condition on; switch at least one sensor on");
  }
  for (PetscInt i = 0; i < ts->ntest; i++) {
    PetscReal *mk = ts->mask + (size_t)i * ts->ny;
    if (c->nfixed_mask) PetscCall(PetscArraycpy(mk, c->fixed_mask, ts->ny));
    else if (m->mask) {
      /* data-set rows use their own stream; file cases (first = -1) a copy index no training pair uses */
      const PetscInt on = ts->first >= 0 ? meas_mask(&c->meas, ts->first + i, 0, ts->ny, mk) : meas_mask(&c->meas, i, MEAS_MAX_COPIES, ts->ny, mk);
      PetscCheck(on > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "The random mask of test case %" PetscInt_FMT " has no sensor on: change -mask_seed", i);
    } else
      for (PetscInt j = 0; j < ts->ny; j++) mk[j] = 1;
  }
  PetscFunctionReturn(0);
}

/* Test cases from the data set: truth, clean values, noisy measurements; the prior's moments
   over the training rows; H and K for the exact posterior. Errors name the file. */
static PetscErrorCode ReadDataSet(MPI_Comm comm, PostCtx *c, const Model *m, TestSet *ts)
{
  H5io       io;
  PetscInt64 n, ntrain, mtrain, clip, rows;
  PetscInt   cols;
  PetscReal *x = NULL, *yc = NULL;

  PetscFunctionBeginUser;
  PetscCall(H5ioOpen(comm, c->data, &io));
  PetscCall(H5ioDatasetShape(&io, "x", &n, &cols));
  PetscCheck(cols == m->nx, comm, PETSC_ERR_ARG_SIZ, "Data set %s: x has %" PetscInt_FMT " components per row but the model %s has n_x = %" PetscInt_FMT ": use the data set the model was trained on", c->data, cols, c->model, m->nx);
  PetscCall(H5ioDatasetShape(&io, "y_clean", &rows, &cols));
  PetscCheck(rows == n && cols == m->ny, comm, PETSC_ERR_ARG_SIZ, "Data set %s: y_clean is %lld x %" PetscInt_FMT " but the model %s expects measurements of n_y = %" PetscInt_FMT " sensors (and x has %lld rows): use the data set the model was trained on", c->data, (long long)rows, cols, c->model, m->ny, (long long)n);
  PetscCall(H5ioReadAttrInt(&io, "/", "n_train", &ntrain));
  if (c->first < 0) c->first = (PetscInt)ntrain;
  PetscCheck(c->first < n, comm, PETSC_ERR_ARG_OUTOFRANGE, "-posterior_first %" PetscInt_FMT ": the data set %s has %lld rows", c->first, c->data, (long long)n);
  ts->ntest = c->ntest ? c->ntest : (PetscInt)(n - c->first);
  /* the rows the model trained on, the first mtrain of its data set: n_train counts pairs, rows x -mask_copies */
  mtrain = m->train_pairs >= 0 ? m->train_pairs / PetscMax(m->meas.copies, 1) : ntrain;
  if (c->first < mtrain) PetscCall(PetscPrintf(comm, "posterior: WARNING: -posterior_first %" PetscInt_FMT " < %lld, the rows the model trained on: some test cases were training pairs\n", c->first, (long long)mtrain));
  else if (c->first < ntrain) PetscCall(PetscPrintf(comm, "posterior: cases from row %" PetscInt_FMT ": rows %" PetscInt_FMT "-%lld of the training split that the model did not train on (it trained on the first %lld, -train_rows), a validation set\n", c->first, c->first, (long long)PetscMin(ntrain, c->first + ts->ntest) - 1, (long long)mtrain));
  PetscCheck(c->first + ts->ntest <= n, comm, PETSC_ERR_ARG_OUTOFRANGE, "-posterior_first %" PetscInt_FMT " + -posterior_ntest %" PetscInt_FMT " exceeds the %lld rows of %s", c->first, ts->ntest, (long long)n, c->data);
  ts->first = c->first;
  PetscCall(PetscMalloc2((size_t)n * m->nx, &x, (size_t)n * m->ny, &yc));
  PetscCall(H5ioReadReal(&io, "x", n, m->nx, x));
  PetscCall(H5ioReadReal(&io, "y_clean", n, m->ny, yc));
  PetscCall(PetscMalloc6((size_t)ts->ntest * m->nx, &ts->truth, (size_t)ts->ntest * m->ny, &ts->y_clean, (size_t)ts->ntest * m->ny, &ts->y, (size_t)ts->ntest * m->ny, &ts->mask, (size_t)m->nx * m->ny, &ts->H, (size_t)m->nx * m->nx, &ts->K));
  PetscCall(PetscArraycpy(ts->truth, x + (size_t)c->first * m->nx, (size_t)ts->ntest * m->nx));
  PetscCall(PetscArraycpy(ts->y_clean, yc + (size_t)c->first * m->ny, (size_t)ts->ntest * m->ny));
  for (PetscInt j = 0; j < m->nx; j++) { /* the prior's moments over the training rows */
    PetscReal s = 0, q = 0;
    const PetscInt64 nt = PetscMax(ntrain, 2);
    for (PetscInt64 i = 0; i < nt; i++) s += x[(size_t)i * m->nx + j];
    ts->prior_mean[j] = s / nt;
    for (PetscInt64 i = 0; i < nt; i++) q += PetscSqr(x[(size_t)i * m->nx + j] - ts->prior_mean[j]);
    ts->prior_std[j] = PetscSqrtReal(q / (nt - 1));
  }
  ts->have_prior = PETSC_FALSE;
  {
    PetscBool has;
    PetscCall(H5ioHasAttr(&io, "/", "gp_clip", &has)); /* written by pdediff generate with H and K */
    if (has) {
      PetscCall(H5ioReadAttrInt(&io, "/", "gp_clip", &clip));
      PetscCall(H5ioReadAttrReal(&io, "/", "gp_mean", &ts->gp_mean));
      PetscCall(H5ioReadReal(&io, "H", m->ny, m->nx, ts->H));
      PetscCall(H5ioReadReal(&io, "prior_covariance", m->nx, m->nx, ts->K));
      ts->gp_clip    = clip ? PETSC_TRUE : PETSC_FALSE;
      ts->have_prior = PETSC_TRUE;
    }
  }
  PetscCall(H5ioClose(&io));
  PetscCall(PetscFree2(x, yc));
  ts->mean_flux = 0;
  for (size_t k = 0; k < (size_t)ts->ntest * m->nx; k++) ts->mean_flux += ts->truth[k];
  ts->mean_flux /= (PetscReal)ts->ntest * m->nx;
  PetscCall(SetMasks(comm, c, m, ts));
  for (PetscInt i = 0; i < ts->ntest; i++) meas_noisy(&c->meas, ts->first + i, 0, m->ny, ts->y_clean + (size_t)i * m->ny, ts->y + (size_t)i * m->ny);
  PetscFunctionReturn(0);
}

/* Measurements from a text file: one case per line, n_y numbers; read on rank 0. */
static PetscErrorCode ReadMeasurementFile(MPI_Comm comm, PostCtx *c, const Model *m, TestSet *ts)
{
  PetscMPIInt rank;
  PetscInt    n = 0, bad_line = -1, bad_count = 0;
  PetscReal  *buf = NULL;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank) {
    FILE  *f = fopen(c->meas_file, "r");
    char   line[1 << 16];
    size_t cap = 0;
    if (f) {
      while (fgets(line, sizeof(line), f)) {
        char     *p = line, *e;
        PetscInt  k = 0;
        PetscReal v[POST_MAX_NY + 1];
        while (k <= POST_MAX_NY) {
          double d = strtod(p, &e);
          if (e == p) break;
          v[k++] = d;
          p      = e;
        }
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
        if (k == 0 && !*p) continue; /* blank line */
        if (k != m->ny || *p) {
          bad_line  = n + 1;
          bad_count = *p ? -1 : k;
          break;
        }
        if ((size_t)(n + 1) * m->ny > cap) {
          PetscReal *nb;
          cap = PetscMax(2 * cap, (size_t)(n + 1) * m->ny);
          PetscCall(PetscMalloc1(cap, &nb));
          if (buf) PetscCall(PetscArraycpy(nb, buf, (size_t)n * m->ny));
          PetscCall(PetscFree(buf));
          buf = nb;
        }
        PetscCall(PetscArraycpy(buf + (size_t)n * m->ny, v, m->ny));
        n++;
      }
      fclose(f);
    } else bad_line = -2;
  }
  {
    PetscInt info[3] = {n, bad_line, bad_count};
    PetscCallMPI(MPI_Bcast(info, 3, MPIU_INT, 0, comm));
    n = info[0], bad_line = info[1], bad_count = info[2];
  }
  PetscCheck(bad_line != -2, comm, PETSC_ERR_FILE_OPEN, "-posterior_measurements %s: cannot open the file", c->meas_file);
  PetscCheck(bad_line < 0 || bad_count >= 0, comm, PETSC_ERR_FILE_UNEXPECTED, "-posterior_measurements %s, line %" PetscInt_FMT ": not a list of numbers", c->meas_file, bad_line);
  PetscCheck(bad_line < 0, comm, PETSC_ERR_ARG_SIZ, "-posterior_measurements %s, line %" PetscInt_FMT ": %" PetscInt_FMT " values, but the model %s takes measurements of n_y = %" PetscInt_FMT " sensors: one measurement of %" PetscInt_FMT " numbers per line", c->meas_file, bad_line, bad_count, c->model, m->ny, m->ny);
  PetscCheck(n > 0, comm, PETSC_ERR_FILE_UNEXPECTED, "-posterior_measurements %s holds no measurement", c->meas_file);
  ts->ntest = n;
  ts->first = -1;
  PetscCall(PetscMalloc2((size_t)n * m->ny, &ts->y, (size_t)n * m->ny, &ts->mask));
  if (!rank) PetscCall(PetscArraycpy(ts->y, buf, (size_t)n * m->ny));
  PetscCall(PetscFree(buf));
  PetscCallMPI(MPI_Bcast(ts->y, (PetscMPIInt)(n * m->ny), MPIU_REAL, 0, comm));
  for (PetscInt j = 0; j < m->nx; j++) ts->prior_mean[j] = ts->prior_std[j] = 0;
  PetscCall(SetMasks(comm, c, m, ts));
  PetscFunctionReturn(0);
}

/* Sample this rank's cases that are not done with one sampler; per-case summaries and the kept
   cases' samples (this rank's; CmdPosterior sums them over the ranks when every sampler is done).
   With a checkpoint (ck != NULL) the ranks agree, in one small Allreduce, on whether a signal came
   (then all save and *stopped is set) or a checkpoint is due: after the first batch, then about
   every -posterior_sync_interval seconds. The loop runs in slots of one batch each (a rank whose
   cases are done idles through its slots), and every rank agrees after the same slot; the
   number of slots to the next agreement comes from the slowest rank's time per slot. Why not
   after every batch: the ranks then wait for the slowest at every batch, and the ODE's cases
   differ in cost (measured, with other jobs beside: 7% of the ODE's rate with batches of 2 cases). */
static PetscErrorCode SampleCases(MPI_Comm comm, const PostCtx *c, const Model *m, const TestSet *ts, PetscInt nloc, PetscInt c0, PostResult *r, const PostCkpt *ck, PetscBool *stopped)
{
  const PetscInt ns = c->nsamples, nx = m->nx, nc = m->ncond;
  SamplerOpts    so = c->so;
  ModelScoreCtx  sc;
  ScoreModel     sm;
  PetscReal     *x, *cond, *work;
  SamplerStats   st;
  PetscLogDouble t0, tlast, tckpt, tsync, tnow;
  PetscInt       left = 0, nrun = 0, nbatch = 0, l = 0, slot = 0, next_sync = 1, last_sync = 0;
  PetscMPIInt    rank, size;

  PetscFunctionBeginUser;
  *stopped = PETSC_FALSE;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  so.type = r->type;
  PetscCall(PetscTime(&t0));
  tlast = tckpt = tsync = t0;
  for (PetscInt i = 0; i < nloc; i++) left += !(r->done[i] > 0);
  PetscCall(ModelScoreCtxCreate(m, so.chunk, &sc));
  ModelScoreModel(&sc, &sm);
  PetscCall(PetscMalloc3((size_t)c->case_batch * ns * nx, &x, (size_t)c->case_batch * ns * nc, &cond, ns, &work));
  for (;;) {
    PetscInt b0, nb = 0;
    /* the next run of up to case_batch consecutive cases not yet done */
    while (l < nloc && r->done[l] > 0) l++;
    b0 = l;
    while (l < nloc && nb < c->case_batch && !(r->done[l] > 0)) l++, nb++;
    if (nb) {
      for (PetscInt i = 0; i < nb; i++) {
        const PetscInt g = c0 + b0 + i;
        model_condition(m, ts->y + (size_t)g * m->ny, ts->mask + (size_t)g * m->ny, cond + (size_t)i * ns * nc);
        for (PetscInt s = 1; s < ns; s++) PetscCall(PetscArraycpy(cond + ((size_t)i * ns + s) * nc, cond + (size_t)i * ns * nc, nc));
      }
      /* particle index = case x ns + sample: the same draws at any rank count and batch size */
      PetscCall(SamplerRun(&m->sch, &so, &sm, nb * ns, (PetscInt64)(c0 + b0) * ns, cond, x, &st, NULL, NULL));
      r->st_run.score_evals += st.score_evals;
      r->st_run.score_calls += st.score_calls;
      r->st_run.steps += st.steps;
      r->st_run.rejected += st.rejected;
      r->st_run.max_particle_steps = PetscMax(r->st_run.max_particle_steps, st.max_particle_steps);
      r->st_run.time += st.time;
      ModelDenormalizeXReal(m, nb * ns, x);
      for (PetscInt i = 0; i < nb; i++) {
        const PetscInt   li = b0 + i, g = c0 + li;
        const PetscReal *xi = x + (size_t)i * ns * nx;
        PetscCall(PostSummarize(ns, nx, xi, ts->truth ? ts->truth + (size_t)g * nx : NULL, r->mean + (size_t)li * nx, r->std + (size_t)li * nx, r->crps + (size_t)li * nx, r->in1 + (size_t)li * nx, r->in2 + (size_t)li * nx, work));
        for (PetscInt k = 0; k < c->nkeep; k++)
          if (c->keep[k] == g) PetscCall(PetscArraycpy(r->kept + (size_t)k * ns * nx, xi, (size_t)ns * nx));
        r->done[li] = 1;
      }
      left -= nb;
      nrun += nb;
      nbatch++;
      /* progress of a long job (1,000 cases x 1,000 samples is an hour per sampler on a few ranks):
         rank 0's own share, printed by rank 0 alone, so no rank waits for another */
      PetscCall(PetscTime(&tnow));
      if (c->log_interval > 0 && tnow - tlast >= c->log_interval && left > 0) {
        const double rate = (double)nrun / (tnow - t0); /* cases per second in this run */
        PetscCall(PetscPrintf(comm, "posterior %s: %" PetscInt_FMT " of %" PetscInt_FMT " cases on rank 0 in %.0f s, %.1f samples/s per rank, ETA %.0f s\n", SamplerTypes[r->type], nloc - left, nloc, tnow - t0, rate * ns, left / rate));
        tlast = tnow;
      }
      if (ck && c->test_signal_batch == nbatch && rank == size - 1) raise(SIGUSR1);
    }
    if (!ck) {
      if (!nb) break;
      continue;
    }
    if (++slot < next_sync) continue;
    {
      double flags[4], g[4]; /* signal, checkpoint due (rank 0's clock), cases left, seconds per slot */
      PetscCall(PetscTime(&tnow));
      flags[0] = JobSignalPending() != 0;
      flags[1] = !rank && c->ckpt_interval > 0 && tnow - tckpt >= c->ckpt_interval;
      flags[2] = left > 0;
      flags[3] = (tnow - tsync) / (slot - last_sync);
      PetscCallMPI(MPI_Allreduce(flags, g, 4, MPI_DOUBLE, MPI_MAX, comm));
      if (g[0] > 0 || g[1] > 0) {
        PetscCall(PostCkptWrite(comm, ck));
        PetscCall(PetscTime(&tnow));
        tckpt = tnow;
      }
      if (g[0] > 0) {
        *stopped = PETSC_TRUE;
        break;
      }
      if (!(g[2] > 0)) break;
      last_sync = slot;
      tsync     = tnow;
      next_sync = slot + (PetscInt)PetscMax(1.0, PetscMin(1e6, c->sync_interval / PetscMax(g[3], 1e-6)));
    }
  }
  PetscCall(PetscFree3(x, cond, work));
  PetscCall(ModelScoreCtxDestroy(&sc));
  PetscFunctionReturn(0);
}

/* Per-segment metrics over all cases (Figures 7-10): sums over this rank's cases, one Allreduce. */
static PetscErrorCode Metrics(MPI_Comm comm, const TestSet *ts, PetscInt nloc, PetscInt c0, const ExactRef *ex, PostResult *r)
{
  const PetscInt nx = ts->nx;
  PetscReal     *acc; /* 9 x nx: err, std, crps, cov1, cov2, exact err, exact std ratio, std/prior */

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1(8 * (size_t)nx, &acc));
  for (PetscInt l = 0; l < nloc; l++) {
    const PetscInt g = c0 + l;
    for (PetscInt j = 0; j < nx; j++) {
      const size_t k = (size_t)l * nx + j, kg = (size_t)g * nx + j;
      acc[0 * nx + j] += PetscAbsReal(r->mean[k] - ts->truth[kg]);
      acc[1 * nx + j] += r->std[k];
      acc[2 * nx + j] += r->crps[k];
      acc[3 * nx + j] += r->in1[k];
      acc[4 * nx + j] += r->in2[k];
      if (ex->on) {
        acc[5 * nx + j] += PetscAbsReal(r->mean[k] - ex->mu[kg]) / PetscSqrtReal(ts->K[(size_t)j * nx + j]);
        acc[6 * nx + j] += r->std[k] / ex->sd[(size_t)g * ex->ld + j];
      }
    }
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, acc, (PetscMPIInt)(8 * nx), MPIU_REAL, MPI_SUM, comm));
  r->err = r->cov1 = r->cov2 = r->crps_mean = r->std_ratio_prior = r->ex_err = r->ex_ratio_mean = 0;
  r->ex_ratio_min = PETSC_MAX_REAL;
  r->ex_ratio_max = 0;
  for (PetscInt j = 0; j < nx; j++) {
    r->seg_err[j]  = acc[0 * nx + j] / ts->ntest / ts->mean_flux;
    r->seg_std[j]  = acc[1 * nx + j] / ts->ntest;
    r->seg_crps[j] = acc[2 * nx + j] / ts->ntest;
    r->seg_cov1[j] = acc[3 * nx + j] / ts->ntest;
    r->seg_cov2[j] = acc[4 * nx + j] / ts->ntest;
    r->err += r->seg_err[j] / nx;
    r->cov1 += r->seg_cov1[j] / nx;
    r->cov2 += r->seg_cov2[j] / nx;
    r->crps_mean += r->seg_crps[j] / nx;
    r->std_ratio_prior += r->seg_std[j] / ts->prior_std[j] / nx;
    if (ex->on) {
      const PetscReal ratio = acc[6 * nx + j] / ts->ntest;
      r->ex_err += acc[5 * nx + j] / ts->ntest / nx;
      r->ex_ratio_mean += ratio / nx;
      r->ex_ratio_min = PetscMin(r->ex_ratio_min, ratio);
      r->ex_ratio_max = PetscMax(r->ex_ratio_max, ratio);
    }
  }
  PetscCall(PetscFree(acc));
  PetscFunctionReturn(0);
}

/* Fraction of the n x nx true values within mean +- sd and mean +- 2 sd; sd has row stride
   ld_sd (0: one sd per component shared by every case). */
static void Coverage(PetscInt n, PetscInt nx, const PetscReal truth[], const PetscReal mean[], const PetscReal sd[], PetscInt ld_sd, PetscReal *cov1, PetscReal *cov2)
{
  PetscInt n1 = 0, n2 = 0;

  for (PetscInt i = 0; i < n; i++)
    for (PetscInt j = 0; j < nx; j++) {
      const PetscReal d = PetscAbsReal(truth[(size_t)i * nx + j] - mean[(size_t)i * nx + j]), s = sd[(size_t)i * ld_sd + j];
      n1 += d <= s;
      n2 += d <= 2 * s;
    }
  *cov1 = (PetscReal)n1 / ((PetscReal)n * nx);
  *cov2 = (PetscReal)n2 / ((PetscReal)n * nx);
}

/* The run of cases i0 .. *i1 - 1 (of the first n) that share case i0's mask, and the sensors
   its likelihood uses: on[0 .. *non - 1], those that are on (every sensor without a mask model).
   The exact and MCMC references solve once per run. */
static PetscErrorCode MaskRun(const TestSet *ts, PetscBool masked, PetscInt i0, PetscInt n, PetscInt *i1, PetscInt on[], PetscInt *non)
{
  const PetscInt   ny = ts->ny;
  const PetscReal *mk = ts->mask + (size_t)i0 * ny;

  PetscFunctionBeginUser;
  for (*i1 = i0 + 1; *i1 < n; (*i1)++) {
    PetscBool same = PETSC_TRUE;
    if (masked) PetscCall(PetscArraycmp(mk, ts->mask + (size_t)*i1 * ny, ny, &same));
    if (!same) break;
  }
  *non = 0;
  for (PetscInt k = 0; k < ny; k++)
    if (!masked || mk[k] != 0) on[(*non)++] = k;
  PetscFunctionReturn(0);
}

/* The exact Gaussian posterior of every case (replicated) and its own calibration against the
   truth: a check of the data, the noise model and the linear algebra, independent of the network.
   Cases that see the same sensors share one solve (all of them without masks, or with a fixed
   -posterior_mask); a case with its own mask conditions on H's rows of the sensors that are on. */
static PetscErrorCode ExactPosterior(MPI_Comm comm, const PostCtx *c, const TestSet *ts, PetscBool masked, ExactRef *ex)
{
  const PetscInt nx = ts->nx, ny = ts->ny;
  SlpkGrid       g;
  PetscReal      mu0[POST_MAX_NY], *Hm, *Ym, *Sig;
  PetscInt      *on;

  PetscFunctionBeginUser;
  for (PetscInt j = 0; j < nx; j++) mu0[j] = ts->gp_mean;
  ex->on = PETSC_TRUE;
  ex->ld = masked ? nx : 0;
  PetscCall(PetscMalloc2((size_t)ts->ntest * nx, &ex->mu, (size_t)(masked ? ts->ntest : 1) * nx, &ex->sd));
  PetscCall(PetscMalloc1((size_t)nx * nx, &Sig));
  PetscCall(PetscMalloc3((size_t)ny * nx, &Hm, (size_t)ts->ntest * ny, &Ym, ny, &on));
  PetscCall(SlpkGridCreate(comm, &g));
  for (PetscInt i0 = 0, i1, non; i0 < ts->ntest; i0 = i1) {
    PetscCall(MaskRun(ts, masked, i0, ts->ntest, &i1, on, &non));
    for (PetscInt r = 0; r < non; r++) PetscCall(PetscArraycpy(Hm + (size_t)r * nx, ts->H + (size_t)on[r] * nx, nx));
    for (PetscInt i = i0; i < i1; i++)
      for (PetscInt r = 0; r < non; r++) Ym[(size_t)(i - i0) * non + r] = ts->y[(size_t)i * ny + on[r]];
    PetscCall(PostGaussian(&g, non, nx, Hm, ts->K, mu0, PetscSqr(c->meas.sigma), i1 - i0, Ym, ex->mu + (size_t)i0 * nx, Sig));
    for (PetscInt j = 0; j < nx; j++) PetscCheck(Sig[(size_t)j * nx + j] > 0, comm, PETSC_ERR_FP, "Exact posterior variance of segment %" PetscInt_FMT " (case %" PetscInt_FMT ") is %.6g <= 0 (rounding at a tiny noise level?)", j, i0, (double)Sig[(size_t)j * nx + j]);
    for (PetscInt i = masked ? i0 : 0; i < (masked ? i1 : 1); i++)
      for (PetscInt j = 0; j < nx; j++) ex->sd[(size_t)i * nx + j] = PetscSqrtReal(Sig[(size_t)j * nx + j]);
  }
  PetscCall(SlpkGridDestroy(&g));
  PetscCall(PetscFree3(Hm, Ym, on));
  if (masked) PetscCall(PetscFree(Sig)); /* it differs between masks: only the stds are kept */
  ex->sigma = Sig;
  Coverage(ts->ntest, nx, ts->truth, ex->mu, ex->sd, ex->ld, &ex->cov1, &ex->cov2);
  PetscFunctionReturn(0);
}

static PetscErrorCode ExactRefDestroy(ExactRef *ex)
{
  PetscFunctionBeginUser;
  if (!ex->on) PetscFunctionReturn(0);
  PetscCall(PetscFree2(ex->mu, ex->sd));
  PetscCall(PetscFree(ex->sigma));
  ex->on = PETSC_FALSE;
  PetscFunctionReturn(0);
}

typedef struct { /* the MCMC reference of the first n test cases, replicated */
  PetscInt   n;
  PetscReal *mean, *std; /* n x nx */
  PetscReal  evals_per_step, iat_max, iat_mean, ess_min, cov1, cov2, seconds;
  PetscInt   repeated, steps_max, capped;
  PetscReal  steps_mean;
} McmcRef;

/* Elliptical slice sampling (mcmc.h) for the first ref->n test cases, the chains split over the
   ranks. The latent is whitened, z = L_K w; the burn-in reference is the exact posterior of w for
   the unclipped model (post.h with H L_K and an identity prior). For a mask model each case's
   likelihood and reference use H's rows of its sensors that are on (as ExactPosterior): one
   reference per run of cases with one mask, so a fixed mask (or none) is one solve. */
static PetscErrorCode McmcReference(MPI_Comm comm, const PostCtx *c, const TestSet *ts, PetscBool masked, McmcRef *ref)
{
  const PetscInt nx = ts->nx, ny = ts->ny;
  SlpkGrid       g;
  PetscReal      zero[POST_MAX_NY], *Mu, *Sig, *LK, *HL, *HLm, *Id, *Yc, *Ym, *Hc, *yc, *work, red[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  PetscInt       nloc, info, nref = 0, *slot, *on;
  PetscInt64     first;
  PetscLogDouble t0, t1;
  McmcProblem    p;

  PetscFunctionBeginUser;
  {
    char why[256];
    PetscCall(mcmc_check(nx, &c->mo, why, sizeof(why))); /* the same on every rank: checked before any chain runs */
    PetscCheck(!why[0], comm, PETSC_ERR_ARG_OUTOFRANGE, "%s", why);
  }
  PetscCall(PetscTime(&t0));
  ref->n = PetscMin(c->n_mcmc, ts->ntest);
  for (PetscInt j = 0; j < nx; j++) zero[j] = 0;
  /* Sig: one whitened reference factor per mask run (at most one per case) */
  PetscCall(PetscMalloc6((size_t)ref->n * nx, &Mu, (size_t)ref->n * nx * nx, &Sig, (size_t)nx * nx, &LK, (size_t)ny * nx, &HL, (size_t)nx * nx, &Id, (size_t)ref->n * ny, &Yc));
  PetscCall(PetscMalloc6((size_t)ny * nx, &HLm, (size_t)ref->n * ny, &Ym, (size_t)ny * nx, &Hc, ny, &yc, ref->n, &slot, ny, &on));
  PetscCall(PetscMalloc1((size_t)(PetscMax(c->mo.n_iter, c->mo.n_burn) + 1) * nx, &work));
  PetscCall(PetscCalloc2((size_t)ref->n * nx, &ref->mean, (size_t)ref->n * nx, &ref->std));
  PetscCall(PetscArraycpy(LK, ts->K, (size_t)nx * nx));
  PetscCall(SlpkGridCreate(comm, &g));
  PetscCall(SlpkCholeskyReplicated(&g, nx, 32, LK, &info));
  PetscCheck(info == 0, comm, PETSC_ERR_USER_INPUT, "MCMC reference: the data set's prior covariance is not positive definite (minor %" PetscInt_FMT "); regenerate it with a larger -gp_jitter", info);
  for (PetscInt i = 0; i < ny; i++) /* HL = H L_K; the measurements without the prior mean's response */
    for (PetscInt j = 0; j < nx; j++) {
      PetscReal a = 0;
      for (PetscInt k = j; k < nx; k++) a += ts->H[(size_t)i * nx + k] * LK[(size_t)k * nx + j];
      HL[(size_t)i * nx + j] = a;
    }
  for (PetscInt i = 0; i < nx * nx; i++) Id[i] = (i % (nx + 1)) ? 0 : 1;
  for (PetscInt c2 = 0; c2 < ref->n; c2++)
    for (PetscInt i = 0; i < ny; i++) {
      PetscReal hm = 0;
      for (PetscInt k = 0; k < nx; k++) hm += ts->H[(size_t)i * nx + k] * ts->gp_mean;
      Yc[(size_t)c2 * ny + i] = ts->y[(size_t)c2 * ny + i] - hm;
    }
  for (PetscInt i0 = 0, i1, non; i0 < ref->n; i0 = i1, nref++) {
    PetscReal *Sr = Sig + (size_t)nref * nx * nx;
    PetscCall(MaskRun(ts, masked, i0, ref->n, &i1, on, &non));
    for (PetscInt r = 0; r < non; r++) PetscCall(PetscArraycpy(HLm + (size_t)r * nx, HL + (size_t)on[r] * nx, nx));
    for (PetscInt i = i0; i < i1; i++) {
      slot[i] = nref;
      for (PetscInt r = 0; r < non; r++) Ym[(size_t)(i - i0) * non + r] = Yc[(size_t)i * ny + on[r]];
    }
    PetscCall(PostGaussian(&g, non, nx, HLm, Id, zero, PetscSqr(c->meas.sigma), i1 - i0, Ym, Mu + (size_t)i0 * nx, Sr));
    PetscCall(SlpkCholeskyReplicated(&g, nx, 32, Sr, &info));
    PetscCheck(info == 0, comm, PETSC_ERR_USER_INPUT, "MCMC reference: the whitened Gaussian reference covariance of case %" PetscInt_FMT " is not positive definite (minor %" PetscInt_FMT ")", i0, info);
  }
  PetscCall(SlpkGridDestroy(&g));
  PetscCall(SamplerPartition(comm, ref->n, &nloc, &first));
  for (PetscInt l = 0; l < nloc; l++) {
    const PetscInt i = (PetscInt)first + l;
    PetscInt       i1, non;
    McmcStats      st;
    PetscCall(MaskRun(ts, masked, i, i + 1, &i1, on, &non)); /* the likelihood of this case's sensors */
    for (PetscInt r = 0; r < non; r++) {
      PetscCall(PetscArraycpy(Hc + (size_t)r * nx, ts->H + (size_t)on[r] * nx, nx));
      yc[r] = ts->y[(size_t)i * ny + on[r]];
    }
    p = (McmcProblem){nx, non, Hc, LK, ts->gp_mean, PetscSqr(c->meas.sigma), ts->gp_clip, Mu + (size_t)i * nx, Sig + (size_t)slot[i] * nx * nx};
    PetscCall(McmcRun(&p, &c->mo, i, yc, ref->mean + (size_t)i * nx, ref->std + (size_t)i * nx, &st, work));
    red[0] += st.evals_per_step;
    red[1] = PetscMax(red[1], st.iat_max);
    red[2] += st.repeated;
    red[3] = l ? PetscMin(red[3], st.ess_min) : st.ess_min;
    red[4] += st.iat_max;
    red[5] += st.steps;
    red[6] = PetscMax(red[6], st.steps);
    red[7] += st.capped;
  }
  if (!nloc) red[3] = PETSC_MAX_REAL;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, ref->mean, (PetscMPIInt)(ref->n * nx), MPIU_REAL, MPI_SUM, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, ref->std, (PetscMPIInt)(ref->n * nx), MPIU_REAL, MPI_SUM, comm));
  {
    PetscReal sum[5] = {red[0], red[2], red[4], red[5], red[7]}, mx[2] = {red[1], red[6]}, mn = red[3];
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, sum, 5, MPIU_REAL, MPI_SUM, comm));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, mx, 2, MPIU_REAL, MPI_MAX, comm));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &mn, 1, MPIU_REAL, MPI_MIN, comm));
    ref->evals_per_step = sum[0] / ref->n;
    ref->repeated       = (PetscInt)sum[1];
    ref->iat_mean       = sum[2] / ref->n;
    ref->iat_max        = mx[0];
    ref->ess_min        = mn;
    ref->steps_mean     = sum[3] / ref->n;
    ref->steps_max      = (PetscInt)mx[1];
    ref->capped         = (PetscInt)sum[4];
  }
  Coverage(ref->n, nx, ts->truth, ref->mean, ref->std, nx, &ref->cov1, &ref->cov2);
  PetscCall(PetscFree6(Mu, Sig, LK, HL, Id, Yc));
  PetscCall(PetscFree6(HLm, Ym, Hc, yc, slot, on));
  PetscCall(PetscFree(work));
  PetscCall(PetscTime(&t1));
  ref->seconds = t1 - t0;
  PetscFunctionReturn(0);
}

/* The diffusion posterior of the cases that have an MCMC reference (this rank's share). */
static PetscErrorCode CompareMcmc(MPI_Comm comm, const TestSet *ts, PetscInt nloc, PetscInt c0, const McmcRef *ref, PostResult *r)
{
  const PetscInt nx = ts->nx;
  PetscReal     *acc;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1(3 * (size_t)nx, &acc));
  for (PetscInt l = 0; l < nloc; l++) {
    const PetscInt g = c0 + l;
    if (g >= ref->n) continue;
    for (PetscInt j = 0; j < nx; j++) {
      const size_t k = (size_t)l * nx + j, kg = (size_t)g * nx + j;
      acc[j] += PetscAbsReal(r->mean[k] - ref->mean[kg]) / ts->prior_std[j];
      if (ref->std[kg] > 0) { /* a segment clipped to 0 in every MCMC state has no std to compare with */
        acc[nx + j] += r->std[k] / ref->std[kg];
        acc[2 * nx + j] += 1;
      }
    }
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, acc, (PetscMPIInt)(3 * nx), MPIU_REAL, MPI_SUM, comm));
  r->mc_err = r->mc_ratio_mean = 0;
  r->mc_ratio_min = PETSC_MAX_REAL;
  r->mc_ratio_max = 0;
  for (PetscInt j = 0; j < nx; j++) {
    const PetscReal ratio = acc[2 * nx + j] > 0 ? acc[nx + j] / acc[2 * nx + j] : 1;
    r->mc_err += acc[j] / ref->n / nx;
    r->mc_ratio_mean += ratio / nx;
    r->mc_ratio_min = PetscMin(r->mc_ratio_min, ratio);
    r->mc_ratio_max = PetscMax(r->mc_ratio_max, ratio);
  }
  PetscCall(PetscFree(acc));
  PetscFunctionReturn(0);
}

static PetscErrorCode WriteResult(H5io *io, const PostCtx *c, const TestSet *ts, PetscInt nloc, PetscInt c0, const PostResult *r, PetscBool exact, PetscBool mcmc)
{
  const char *grp = SamplerTypes[r->type];
  const PetscInt nx = ts->nx;
  char        name[64];
  int         size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(io->comm, &size));
  PetscCall(H5ioGroup(io, grp));
#define PATH(s) (snprintf(name, sizeof(name), "%s/%s", grp, s), name)
  PetscCall(H5ioWriteRows(io, PATH("posterior_mean"), ts->ntest, nx, c0, nloc, r->mean, "case,segment", "flux", "posterior mean of the wall flux per test case"));
  PetscCall(H5ioWriteRows(io, PATH("posterior_std"), ts->ntest, nx, c0, nloc, r->std, "case,segment", "flux", "posterior standard deviation per test case"));
  if (ts->truth) PetscCall(H5ioWriteRows(io, PATH("crps"), ts->ntest, nx, c0, nloc, r->crps, "case,segment", "flux", "continuous ranked probability score of the samples against the truth"));
  if (c->nkeep) PetscCall(H5ioWriteReplicated(io, PATH("samples"), (PetscInt64)c->nkeep * c->nsamples, nx, r->kept, "kept_case x sample,segment", "flux", "all samples of the kept cases (root dataset kept_cases), case after case"));
  if (ts->truth) {
    PetscCall(H5ioWriteReplicated(io, PATH("segment_error"), nx, 0, r->seg_err, "segment", "1", "mean over cases of |posterior mean - truth| / mean flux (Figures 7, 8, 13)"));
    PetscCall(H5ioWriteReplicated(io, PATH("segment_std"), nx, 0, r->seg_std, "segment", "flux", "mean over cases of the posterior std (Figures 9, 10, 14)"));
    PetscCall(H5ioWriteReplicated(io, PATH("segment_crps"), nx, 0, r->seg_crps, "segment", "flux", "mean CRPS per segment"));
    PetscCall(H5ioWriteReplicated(io, PATH("segment_coverage1"), nx, 0, r->seg_cov1, "segment", "1", "fraction of cases with the truth within posterior mean +- 1 std"));
    PetscCall(H5ioWriteReplicated(io, PATH("segment_coverage2"), nx, 0, r->seg_cov2, "segment", "1", "fraction of cases with the truth within posterior mean +- 2 std"));
    PetscCall(H5ioAttrReal(io, grp, "mean_error", r->err));
    PetscCall(H5ioAttrReal(io, grp, "coverage1", r->cov1));
    PetscCall(H5ioAttrReal(io, grp, "coverage2", r->cov2));
    PetscCall(H5ioAttrReal(io, grp, "crps", r->crps_mean));
    PetscCall(H5ioAttrReal(io, grp, "std_over_prior_std", r->std_ratio_prior));
  }
  if (exact) {
    PetscCall(H5ioAttrReal(io, grp, "exact_mean_error", r->ex_err));
    PetscCall(H5ioAttrReal(io, grp, "exact_std_ratio_mean", r->ex_ratio_mean));
    PetscCall(H5ioAttrReal(io, grp, "exact_std_ratio_min", r->ex_ratio_min));
    PetscCall(H5ioAttrReal(io, grp, "exact_std_ratio_max", r->ex_ratio_max));
  }
  if (mcmc) {
    PetscCall(H5ioAttrReal(io, grp, "mcmc_mean_error", r->mc_err));
    PetscCall(H5ioAttrReal(io, grp, "mcmc_std_ratio_mean", r->mc_ratio_mean));
    PetscCall(H5ioAttrReal(io, grp, "mcmc_std_ratio_min", r->mc_ratio_min));
    PetscCall(H5ioAttrReal(io, grp, "mcmc_std_ratio_max", r->mc_ratio_max));
  }
  PetscCall(H5ioAttrInt(io, grp, "score_evaluations", r->st.score_evals));
  PetscCall(H5ioAttrReal(io, grp, "score_evaluations_per_sample", (double)r->st.score_evals / ((double)ts->ntest * c->nsamples)));
  PetscCall(H5ioAttrReal(io, grp, "wall_seconds", r->st.time));
  PetscCall(H5ioAttrReal(io, grp, "samples_per_second_per_rank", (double)ts->ntest * c->nsamples / PetscMax(r->st.time, 1e-9) / size));
#undef PATH
  PetscFunctionReturn(0);
}

static PetscErrorCode Report(MPI_Comm comm, const PostCtx *c, const TestSet *ts, const PostResult *r, PetscBool exact, const McmcRef *ref)
{
  int size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscPrintf(comm, "posterior %s: %" PetscInt_FMT " cases x %" PetscInt_FMT " samples in %.1f s on %d rank(s): %.1f samples/s per rank, %.1f score evaluations per sample\n", SamplerTypes[r->type], ts->ntest, c->nsamples, r->st.time, size, (double)ts->ntest * c->nsamples / PetscMax(r->st.time, 1e-9) / size, (double)r->st.score_evals / ((double)ts->ntest * c->nsamples)));
  if (ts->truth) {
    PetscReal lo = PETSC_MAX_REAL, hi = 0;
    for (PetscInt j = 0; j < ts->nx; j++) lo = PetscMin(lo, r->seg_err[j]), hi = PetscMax(hi, r->seg_err[j]);
    PetscCall(PetscPrintf(comm, "posterior %s: mean |error| / mean flux %.2f%% (segments %.2f%% .. %.2f%%; paper at zero noise 5.9%%), posterior std / prior std %.3f, coverage 1-sigma %.3f 2-sigma %.3f, CRPS %.4f (%.2f%% of the mean flux)\n", SamplerTypes[r->type], 100 * r->err, 100 * lo, 100 * hi, r->std_ratio_prior, r->cov1, r->cov2, r->crps_mean, 100 * r->crps_mean / ts->mean_flux));
  }
  if (ref->n) PetscCall(PetscPrintf(comm, "posterior %s vs MCMC (%" PetscInt_FMT " cases): mean |mean - MCMC mean| %.4f prior std; std / MCMC std %.3f (segments %.3f .. %.3f)\n", SamplerTypes[r->type], ref->n, r->mc_err, r->mc_ratio_mean, r->mc_ratio_min, r->mc_ratio_max));
  if (exact) PetscCall(PetscPrintf(comm, "posterior %s vs exact: mean |mean - mu_post| %.4f prior std; std / exact std %.3f (segments %.3f .. %.3f)\n", SamplerTypes[r->type], r->ex_err, r->ex_ratio_mean, r->ex_ratio_min, r->ex_ratio_max));
  PetscFunctionReturn(0);
}

/* Everything the output file holds (the caller creates it, and commits or aborts it). */
static PetscErrorCode WriteContents(H5io *io, const PostCtx *c, const Model *m, const TestSet *ts, const char desc[], PetscInt nloc, PetscInt c0, const PostResult res[], const ExactRef *ex, const McmcRef *ref)
{
  PetscFunctionBeginUser;
  PetscCall(H5ioWriteProvenance(io, "pdediff posterior"));
  PetscCall(MeasWriteH5(io, &c->meas));
  PetscCall(H5ioAttrString(io, "/", "model", c->model));
  PetscCall(H5ioAttrString(io, "/", "data", c->data[0] ? c->data : c->meas_file));
  PetscCall(H5ioAttrString(io, "/", "formulation", desc));
  PetscCall(H5ioAttrString(io, "/", "sde_type", SchedTypes[m->sch.type]));
  PetscCall(H5ioAttrReal(io, "/", "trained_noise_level", m->meas.level));
  PetscCall(H5ioAttrInt(io, "/", "mask_input", m->mask));
  PetscCall(H5ioAttrInt(io, "/", "n_test", ts->ntest));
  PetscCall(H5ioAttrInt(io, "/", "first_row", ts->first));
  PetscCall(H5ioAttrInt(io, "/", "n_samples", c->nsamples));
  PetscCall(H5ioAttrInt(io, "/", "sampler_seed", c->so.seed));
  PetscCall(H5ioAttrString(io, "/", "sampler_start", SamplerStarts[c->so.start]));
  PetscCall(H5ioAttrReal(io, "/", "sampler_alpha", c->so.alpha));
  PetscCall(H5ioAttrReal(io, "/", "sampler_dtau", c->so.dtau));
  PetscCall(H5ioAttrReal(io, "/", "sampler_grid_power", c->so.grid_power));
  PetscCall(H5ioAttrInt(io, "/", "sampler_denoise", c->so.denoise));
  PetscCall(H5ioAttrReal(io, "/", "sampler_rtol", c->so.rtol));
  PetscCall(H5ioAttrReal(io, "/", "sampler_atol", c->so.atol));
  {
    PetscReal kc[POST_MAX_KEEP];
    for (PetscInt k = 0; k < c->nkeep; k++) kc[k] = (PetscReal)c->keep[k];
    if (c->nkeep) PetscCall(H5ioWriteReplicated(io, "kept_cases", c->nkeep, 0, kc, "kept_case", "1", "test cases (0-based) whose samples are all written (SAMPLER/samples)"));
  }
  PetscCall(H5ioWriteReplicated(io, "measurement", ts->ntest, ts->ny, ts->y, "case,sensor", "concentration", "the measurements conditioned on (physical units, noise included)"));
  if (m->mask) PetscCall(H5ioWriteReplicated(io, "mask", ts->ntest, ts->ny, ts->mask, "case,sensor", "1", "sensor masks (1 on, 0 off)"));
  if (ts->truth) {
    PetscCall(H5ioAttrReal(io, "/", "mean_flux", ts->mean_flux));
    if (ts->have_prior) PetscCall(H5ioAttrInt(io, "/", "prior_clipped", ts->gp_clip));
    PetscCall(H5ioWriteReplicated(io, "truth", ts->ntest, ts->nx, ts->truth, "case,segment", "flux", "the true wall flux of each test case"));
    PetscCall(H5ioWriteReplicated(io, "y_clean", ts->ntest, ts->ny, ts->y_clean, "case,sensor", "concentration", "noise-free sensor values"));
    PetscCall(H5ioWriteReplicated(io, "prior_mean", ts->nx, 0, ts->prior_mean, "segment", "flux", "prior mean over the training rows of the data set"));
    PetscCall(H5ioWriteReplicated(io, "prior_std", ts->nx, 0, ts->prior_std, "segment", "flux", "prior standard deviation over the training rows (Figures 9, 10, 14)"));
  }
  if (ex->on) {
    PetscCall(H5ioGroup(io, "exact"));
    PetscCall(H5ioWriteReplicated(io, "exact/mean", ts->ntest, ts->nx, ex->mu, "case,segment", "flux", "exact Gaussian posterior mean (unclipped prior, linear forward map)"));
    if (ex->sigma) PetscCall(H5ioWriteReplicated(io, "exact/covariance", ts->nx, ts->nx, ex->sigma, "segment,segment", "flux^2", "exact posterior covariance (the same for every case)"));
    if (ex->ld) PetscCall(H5ioWriteReplicated(io, "exact/std", ts->ntest, ts->nx, ex->sd, "case,segment", "flux", "exact posterior standard deviation of each case (its mask's sensors)"));
    else PetscCall(H5ioWriteReplicated(io, "exact/std", ts->nx, 0, ex->sd, "segment", "flux", "exact posterior standard deviation"));
    {
      PetscReal kd[POST_MAX_NY];
      for (PetscInt j = 0; j < ts->nx; j++) kd[j] = PetscSqrtReal(ts->K[(size_t)j * ts->nx + j]);
      PetscCall(H5ioWriteReplicated(io, "exact/prior_std", ts->nx, 0, kd, "segment", "flux", "sqrt of the prior covariance's diagonal (the unit of exact_mean_error)"));
    }
    PetscCall(H5ioAttrReal(io, "exact", "coverage1", ex->cov1));
    PetscCall(H5ioAttrReal(io, "exact", "coverage2", ex->cov2));
  }
  if (ref->n) {
    PetscCall(H5ioGroup(io, "mcmc"));
    PetscCall(H5ioWriteReplicated(io, "mcmc/mean", ref->n, ts->nx, ref->mean, "case,segment", "flux", "MCMC reference posterior mean of the first test cases (clipped prior)"));
    PetscCall(H5ioWriteReplicated(io, "mcmc/std", ref->n, ts->nx, ref->std, "case,segment", "flux", "MCMC reference posterior std"));
    PetscCall(H5ioAttrInt(io, "mcmc", "n_cases", ref->n));
    PetscCall(H5ioAttrInt(io, "mcmc", "n_iter", c->mo.n_iter));
    PetscCall(H5ioAttrInt(io, "mcmc", "n_burn", c->mo.n_burn));
    PetscCall(H5ioAttrInt(io, "mcmc", "seed", c->mo.seed));
    PetscCall(H5ioAttrReal(io, "mcmc", "evaluations_per_step", ref->evals_per_step));
    PetscCall(H5ioAttrReal(io, "mcmc", "iat_max", ref->iat_max));
    PetscCall(H5ioAttrReal(io, "mcmc", "iat_mean", ref->iat_mean));
    PetscCall(H5ioAttrReal(io, "mcmc", "ess_min", ref->ess_min));
    PetscCall(H5ioAttrInt(io, "mcmc", "repeated_states", ref->repeated));
    PetscCall(H5ioAttrReal(io, "mcmc", "min_ess", c->mo.min_ess));
    PetscCall(H5ioAttrInt(io, "mcmc", "max_iter", c->mo.max_iter));
    PetscCall(H5ioAttrReal(io, "mcmc", "steps_mean", ref->steps_mean));
    PetscCall(H5ioAttrInt(io, "mcmc", "steps_max", ref->steps_max));
    PetscCall(H5ioAttrInt(io, "mcmc", "capped_chains", ref->capped));
    PetscCall(H5ioAttrReal(io, "mcmc", "coverage1", ref->cov1));
    PetscCall(H5ioAttrReal(io, "mcmc", "coverage2", ref->cov2));
    PetscCall(H5ioAttrReal(io, "mcmc", "wall_seconds", ref->seconds));
  }
  for (PetscInt s = 0; s < c->nsamplers; s++) PetscCall(WriteResult(io, c, ts, nloc, c0, &res[s], ex->on, (PetscBool)(ref->n > 0)));
  PetscFunctionReturn(0);
}

static PetscErrorCode ResultCreate(const PostCtx *c, const Model *m, PetscInt nloc, SamplerType type, PostResult *r)
{
  const size_t n = (size_t)PetscMax(nloc, 1) * m->nx;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(r, sizeof(*r)));
  r->type = type;
  PetscCall(PetscMalloc5(n, &r->mean, n, &r->std, n, &r->crps, n, &r->in1, n, &r->in2));
  PetscCall(PetscCalloc1((size_t)PetscMax(nloc, 1), &r->done));
  PetscCall(PetscCalloc1((size_t)PetscMax(c->nkeep, 1) * c->nsamples * m->nx, &r->kept));
  PetscCall(PetscMalloc5(m->nx, &r->seg_err, m->nx, &r->seg_std, m->nx, &r->seg_crps, m->nx, &r->seg_cov1, m->nx, &r->seg_cov2));
  PetscFunctionReturn(0);
}

static PetscErrorCode ResultDestroy(PostResult *r)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree5(r->mean, r->std, r->crps, r->in1, r->in2));
  PetscCall(PetscFree(r->done));
  PetscCall(PetscFree(r->kept));
  PetscCall(PetscFree5(r->seg_err, r->seg_std, r->seg_crps, r->seg_cov1, r->seg_cov2));
  PetscFunctionReturn(0);
}

/* Fingerprint of everything the samples depend on: the network (weights, normalisation, forward
   process, parametrisation), the test measurements and masks (data set, rows, noise level and
   seeds), samples per case, the samplers and their options; and the kept cases. */
static uint64_t RunKey(const PostCtx *c, const Model *m, const TestSet *ts)
{
  const SamplerOpts *o = &c->so;
  const PetscReal    sch[6] = {m->sch.T, m->sch.eps, m->sch.sigma_max, m->sch.beta_min, m->sch.beta_max, m->sch.p};
  const PetscReal    so[6]  = {o->alpha, o->dtau, o->grid_power, o->rtol, o->atol, o->hmax};
  const PetscInt64   ints[16] = {m->nx, m->ny, m->ncond, m->norm, m->sch.type, m->par.embed, m->par.output, m->arch.nparams, ts->ntest, ts->first, c->nsamples, o->max_steps, o->seed, o->start, o->denoise, c->nsamplers};
  uint64_t           h;

  PostCkptKeyInit(&h);
  PostCkptKeyAdd(&h, ints, sizeof(ints));
  PostCkptKeyAdd(&h, sch, sizeof(sch));
  PostCkptKeyAdd(&h, so, sizeof(so));
  for (PetscInt s = 0; s < c->nsamplers; s++) {
    const PetscInt64 t = c->samplers[s];
    PostCkptKeyAdd(&h, &t, sizeof(t));
  }
  for (PetscInt k = 0; k < c->nkeep; k++) { /* the kept rows of the file are these cases' */
    const PetscInt64 q = c->keep[k];
    PostCkptKeyAdd(&h, &q, sizeof(q));
  }
  PostCkptKeyAdd(&h, m->params, sizeof(float) * (size_t)m->arch.nparams);
  PostCkptKeyAdd(&h, m->x_lo, sizeof(PetscReal) * (size_t)m->nx);
  PostCkptKeyAdd(&h, m->x_hi, sizeof(PetscReal) * (size_t)m->nx);
  PostCkptKeyAdd(&h, m->y_lo, sizeof(PetscReal) * (size_t)m->ny);
  PostCkptKeyAdd(&h, m->y_hi, sizeof(PetscReal) * (size_t)m->ny);
  if (o->start == SAMPLER_START_MEAN) PostCkptKeyAdd(&h, o->start_mean, sizeof(PetscReal) * (size_t)m->nx);
  PostCkptKeyAdd(&h, ts->y, sizeof(PetscReal) * (size_t)ts->ntest * ts->ny);
  PostCkptKeyAdd(&h, ts->mask, sizeof(PetscReal) * (size_t)ts->ntest * ts->ny);
  return h;
}

/* Global count of the done cases of each sampler into done[]. */
static PetscErrorCode CountDone(MPI_Comm comm, const PostCkpt *ck, PetscInt64 done[2])
{
  PetscFunctionBeginUser;
  for (PetscInt s = 0; s < ck->nsamplers; s++) {
    done[s] = 0;
    for (PetscInt l = 0; l < ck->nloc; l++) done[s] += ck->s[s].done[l] > 0;
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, done, (PetscMPIInt)ck->nsamplers, MPIU_INT64, MPI_SUM, comm));
  PetscFunctionReturn(0);
}

/* Point the checkpoint at the results and read it if it exists (a resumed run). */
static PetscErrorCode CheckpointResume(MPI_Comm comm, const PostCtx *c, const Model *m, const TestSet *ts, PetscInt nloc, PetscInt c0, PostResult res[], PostCkpt *ck)
{
  PetscBool  resumed;
  PetscInt64 done[2];

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(ck, sizeof(*ck)));
  PetscCall(PetscStrncpy(ck->path, c->ckpt, sizeof(ck->path)));
  ck->key       = RunKey(c, m, ts);
  ck->ntest     = ts->ntest;
  ck->c0        = c0;
  ck->nloc      = nloc;
  ck->nx        = m->nx;
  ck->ns        = c->nsamples;
  ck->nkeep     = c->nkeep;
  ck->keep      = c->keep;
  ck->nsamplers = c->nsamplers;
  for (PetscInt s = 0; s < c->nsamplers; s++) {
    PostCkptSampler *k = &ck->s[s];
    PostResult      *r = &res[s];
    k->type = r->type;
    k->mean = r->mean, k->std = r->std, k->crps = r->crps, k->in1 = r->in1, k->in2 = r->in2;
    k->done = r->done;
    k->kept = r->kept;
    k->st   = &r->st_run;
  }
  PetscCall(PostCkptRead(comm, ck, &resumed));
  if (!resumed) PetscFunctionReturn(0);
  PetscCall(CountDone(comm, ck, done));
  PetscCall(PetscPrintf(comm, "posterior: resuming from the checkpoint %s:", ck->path));
  for (PetscInt s = 0; s < ck->nsamplers; s++) PetscCall(PetscPrintf(comm, " %s %" PetscInt64_FMT " of %" PetscInt64_FMT " cases done%s", SamplerTypes[ck->s[s].type], done[s], ck->ntest, s + 1 < ck->nsamplers ? "," : "\n"));
  PetscFunctionReturn(0);
}

static PetscErrorCode CheckpointStopped(MPI_Comm comm, const PostCtx *c, const PostCkpt *ck)
{
  PetscInt64 done[2];

  PetscFunctionBeginUser;
  PetscCall(CountDone(comm, ck, done));
  PetscCall(PetscPrintf(comm, "posterior: interrupted by SIGTERM/SIGUSR1; checkpoint %s holds", ck->path));
  for (PetscInt s = 0; s < ck->nsamplers; s++) PetscCall(PetscPrintf(comm, " %s %" PetscInt64_FMT " of %" PetscInt64_FMT " cases%s", SamplerTypes[ck->s[s].type], done[s], ck->ntest, s + 1 < ck->nsamplers ? "," : ""));
  PetscCall(PetscPrintf(comm, "; %s not written: rerun the same command to continue (exit status %d)\n", c->output, PDEDIFF_EXIT_INTERRUPTED));
  PetscFunctionReturn(0);
}

PetscErrorCode CmdPosterior(MPI_Comm comm, int nargs, char **args, int *status)
{
  PetscErrorCode ierr;
  PostCtx       c;
  Model         m;
  TestSet       ts;
  PostResult    res[2];
  PetscInt      nloc, c0;
  PetscInt64    first64;
  ExactRef      ex = {0};
  McmcRef       ref;
  PetscLogStage st_data, st_sample, st_exact, st_write;
  H5io          io;
  char          desc[256];
  PostCkpt      ck;
  PetscBool     stopped = PETSC_FALSE;

  PetscFunctionBeginUser;
  PetscCall(ProcessOptions(comm, &c));
  if (c.help) PetscFunctionReturn(0);
  /* a signal from here on (a job started close to its limit) stops sampling after its first batch
     with a checkpoint, instead of PETSc's abort */
  if (c.ckpt[0]) PetscCall(JobSignalsCatch(NULL));
  PetscCall(PetscLogStageRegister("Posterior data", &st_data));
  PetscCall(PetscLogStageRegister("Posterior sample", &st_sample));
  PetscCall(PetscLogStageRegister("Posterior exact", &st_exact));
  PetscCall(PetscLogStageRegister("Posterior write", &st_write));

  PetscCall(PetscLogStagePush(st_data));
  PetscCall(ModelLoad(comm, c.model, &m));
  PetscCall(ModelSamplerStart(comm, &m, c.model, &c.so));
  PetscCheck(m.ny > 0 && m.ny <= POST_MAX_NY && m.nx <= POST_MAX_NY, comm, PETSC_ERR_ARG_INCOMP, "Model %s: n_y = %" PetscInt_FMT ", n_x = %" PetscInt_FMT ": posterior sampling needs a conditional model with 1 .. %d sensors and segments", c.model, m.ny, m.nx, POST_MAX_NY);
  PetscCall(SetMeasurementModel(comm, &c, &m));
  PetscCall(PetscMemzero(&ts, sizeof(ts)));
  ts.nx = m.nx;
  ts.ny = m.ny;
  PetscCall(PetscMalloc2(m.nx, &ts.prior_mean, m.nx, &ts.prior_std));
  if (c.data[0]) PetscCall(ReadDataSet(comm, &c, &m, &ts));
  else PetscCall(ReadMeasurementFile(comm, &c, &m, &ts));
  if (!c.keep_given) c.nkeep = PetscMin(c.nkeep, ts.ntest); /* the default: the first cases there are */
  for (PetscInt k = 0; k < c.nkeep; k++) PetscCheck(c.keep[k] >= 0 && c.keep[k] < ts.ntest, comm, PETSC_ERR_ARG_OUTOFRANGE, "-posterior_keep_cases: case %" PetscInt_FMT " is not among the %" PetscInt_FMT " test cases (0-based)", c.keep[k], ts.ntest);
  PetscCall(SamplerPartition(comm, ts.ntest, &nloc, &first64));
  c0 = (PetscInt)first64;
  PetscCall(SchedDescribe(&m.sch, desc, sizeof(desc)));
  PetscCall(PetscPrintf(comm, "posterior: model %s (%s, %s); %" PetscInt_FMT " test cases%s%s, noise level %.6g (sigma %.6g), %" PetscInt_FMT " samples per case\n", c.model, desc, m.mask ? "mask input" : "all sensors", ts.ntest, c.data[0] ? " from " : " from the file ", c.data[0] ? c.data : c.meas_file, (double)c.meas.level, (double)c.meas.sigma, c.nsamples));
  for (PetscInt s = 0; s < c.nsamplers; s++) PetscCall(ResultCreate(&c, &m, nloc, c.samplers[s], &res[s]));
  if (c.ckpt[0]) PetscCall(CheckpointResume(comm, &c, &m, &ts, nloc, c0, res, &ck));
  PetscCall(PetscLogStagePop());

  /* exact posterior first: a refusal costs nothing */
  PetscCall(PetscLogStagePush(st_exact));
  if (c.exact != EXACT_NO) {
    const PetscBool can = (PetscBool)(ts.truth && ts.have_prior && !ts.gp_clip && c.meas.sigma > 0);
    PetscCheck(can || c.exact != EXACT_YES, comm, PETSC_ERR_ARG_INCOMP, "-posterior_exact yes needs a data set with the unclipped Gaussian prior (pdediff generate -gp_clip false) and -noise_level > 0 (here: %s, noise level %.6g)", !ts.truth ? "no data set" : (!ts.have_prior ? "no prior in the data set" : (ts.gp_clip ? "clipped prior" : "unclipped prior")), (double)c.meas.level);
    if (can) {
      PetscCall(ExactPosterior(comm, &c, &ts, m.mask, &ex));
      PetscCall(PetscPrintf(comm, "posterior exact: Gaussian posterior by ScaLAPACK%s; its coverage of the truth 1-sigma %.3f 2-sigma %.3f (Gaussian law: 0.683, 0.954)\n", m.mask ? " on each case's sensors" : "", ex.cov1, ex.cov2));
    }
  }
  ref.n = 0;
  if (c.n_mcmc > 0 && ts.truth && ts.have_prior && ts.gp_clip && c.meas.sigma > 0) {
    PetscCall(McmcReference(comm, &c, &ts, m.mask, &ref));
    PetscCall(PetscPrintf(comm, "posterior MCMC%s: %" PetscInt_FMT " cases x %s%" PetscInt_FMT " steps (burn-in %" PetscInt_FMT ") of elliptical slice sampling in %.1f s: %.2f likelihood evaluations per step, IAT (worst component of a case) mean %.1f largest %.1f, smallest ESS %.0f, %" PetscInt_FMT " repeated states; coverage of the truth 1-sigma %.3f 2-sigma %.3f\n", m.mask ? " (each case on its sensors)" : "", ref.n, c.mo.min_ess > 0 ? "at least " : "", c.mo.n_iter, c.mo.n_burn, ref.seconds, ref.evals_per_step, ref.iat_mean, ref.iat_max, ref.ess_min, ref.repeated, ref.cov1, ref.cov2));
    if (c.mo.min_ess > 0) PetscCall(PetscPrintf(comm, "posterior MCMC: chains extended to an ESS of %.6g on every segment: %.0f steps per chain on average, longest %" PetscInt_FMT "%s\n", (double)c.mo.min_ess, ref.steps_mean, ref.steps_max, ref.capped ? "" : " (none capped)"));
    if (ref.capped) PetscCall(PetscPrintf(comm, "posterior MCMC: WARNING: %" PetscInt_FMT " of %" PetscInt_FMT " chains stopped at -mcmc_max_iter %" PetscInt_FMT " short of -mcmc_min_ess %.6g (smallest ESS %.0f): raise -mcmc_max_iter for a reference of that accuracy\n", ref.capped, ref.n, c.mo.max_iter, (double)c.mo.min_ess, ref.ess_min));
  } else if (c.n_mcmc > 0 && ts.truth && ts.gp_clip && c.meas.sigma == 0) PetscCall(PetscPrintf(comm, "posterior MCMC: none at zero noise (the likelihood is degenerate)\n"));
  PetscCall(PetscLogStagePop());

  PetscCall(PetscLogStagePush(st_sample));
  for (PetscInt s = 0; s < c.nsamplers && !stopped; s++) {
    PostResult *r = &res[s];
    PetscCall(SampleCases(comm, &c, &m, &ts, nloc, c0, r, c.ckpt[0] ? &ck : NULL, &stopped));
    if (stopped) break;
    if (c.ckpt[0]) {
      PetscCall(PostCkptWrite(comm, &ck)); /* this sampler is safe before the next one starts */
      PetscCall(PostCkptStatsTotal(comm, &ck.s[s], &r->st));
    } else PetscCall(SamplerStatsReduce(comm, &r->st_run, &r->st));
    if (ts.truth) PetscCall(Metrics(comm, &ts, nloc, c0, &ex, r));
    if (ref.n) PetscCall(CompareMcmc(comm, &ts, nloc, c0, &ref, r));
    PetscCall(Report(comm, &c, &ts, r, ex.on, &ref));
  }
  PetscCall(PetscLogStagePop());

  if (stopped) {
    PetscCall(CheckpointStopped(comm, &c, &ck));
    *status = PDEDIFF_EXIT_INTERRUPTED;
  } else {
    /* the kept cases' samples were sampled on the ranks that own them: replicate them */
    for (PetscInt s = 0; s < c.nsamplers; s++) PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, res[s].kept, (PetscMPIInt)((size_t)c.nkeep * c.nsamples * m.nx), MPIU_REAL, MPI_SUM, comm));

    PetscCall(PetscLogStagePush(st_write));
    PetscCall(H5ioCreate(comm, c.output, &io));
    ierr = WriteContents(&io, &c, &m, &ts, desc, nloc, c0, res, &ex, &ref);
    if (ierr) { /* no half-written file under any name (a checkpoint stays) */
      PetscCall(H5ioAbort(&io));
      PetscCall(ierr);
    }
    PetscCall(H5ioCommit(&io));
    PetscCall(PetscPrintf(comm, "posterior: wrote %s\n", c.output));
    if (c.ckpt[0]) PetscCall(PostCkptRemove(comm, &ck)); /* only now: the output holds everything it had */
    PetscCall(PetscLogStagePop());
  }

  for (PetscInt s = 0; s < c.nsamplers; s++) PetscCall(ResultDestroy(&res[s]));
  PetscCall(ExactRefDestroy(&ex));
  if (ref.n) PetscCall(PetscFree2(ref.mean, ref.std));
  if (ts.truth) PetscCall(PetscFree6(ts.truth, ts.y_clean, ts.y, ts.mask, ts.H, ts.K));
  else PetscCall(PetscFree2(ts.y, ts.mask));
  PetscCall(PetscFree2(ts.prior_mean, ts.prior_std));
  PetscCall(ModelDestroy(&m));
  PetscFunctionReturn(0);
}
