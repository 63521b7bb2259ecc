/* pdediff train: train a conditional score network on (x, y) pairs from an HDF5 file and write
 * the model file that sampling loads (libcore/model.h).
 *
 *   mpirun -n 4 pdediff train -train_data data.h5 -model model.h5 -sde_type vp -train_epochs 10000
 *
 * Pipeline: read this rank's shard of x (N x n_x) and y (N x n_y) -> measurement model (meas.h):
 * -mask_copies copies of every pair, each with noise of -noise_level (a fraction of the clean
 * training range) and, with -mask_prob > 0, a random sensor mask (5.2.1) -> min-max normalisation
 * with training-set extrema (of the noisy y; -meas_resample redraws noise and masks every epoch
 * through the trainer's epoch hook) -> (resume from the checkpoint if asked) -> data-parallel Adam on the DSM
 * loss (48) with checkpoints every -train_checkpoint_interval seconds and on SIGTERM/SIGUSR1 ->
 * model file (written as MODEL.partial and renamed, so a failed run never replaces a model).
 * A signal stops training after the current step; the run writes its checkpoint and exits with
 * status PDEDIFF_EXIT_INTERRUPTED (3); rerunning with -train_restart continues exactly. */
#include "commands.h"
#include "model.h"
#include "sampler.h"
#include "train.h"
#include <math.h>

typedef struct {
  char      data[PETSC_MAX_PATH_LEN], xname[128], yname[128];
  char      model[PETSC_MAX_PATH_LEN], ckpt[PETSC_MAX_PATH_LEN];
  PetscInt  rows;        /* use the first rows of the file (0: all) */
  PetscInt  layers, width, init_seed;
  ModelNorm norm;
  PetscBool restart;
  Sched     sch;
  AdamOpts  ao;
  TrainOpts to;
  Meas      meas;
  PetscBool help;
} TrainCtx;

static PetscErrorCode ProcessOptions(MPI_Comm comm, TrainCtx *c)
{
  PetscBool has_ckpt;

  PetscFunctionBeginUser;
  c->data[0] = 0;
  PetscCall(PetscStrncpy(c->xname, "x", sizeof(c->xname)));
  PetscCall(PetscStrncpy(c->yname, "y", sizeof(c->yname)));
  PetscCall(PetscStrncpy(c->model, "model.h5", sizeof(c->model)));
  c->ckpt[0]   = 0;
  c->rows      = 0;
  c->layers    = 2;
  c->width     = 128;
  c->init_seed = 0;
  c->norm      = MODEL_NORM_MINMAX;
  c->restart   = PETSC_FALSE;
  PetscCall(SchedSetDefaults(&c->sch));
  PetscCall(AdamOptsSetDefaults(&c->ao));
  PetscCall(TrainOptsSetDefaults(&c->to));
  PetscCall(PetscOptionsHasHelp(NULL, &c->help));

  PetscOptionsBegin(comm, NULL, "pdediff train: train a conditional score network (Sec. 4.2, Appendix A)", "train");
  PetscCall(PetscOptionsString("-train_data", "HDF5 file with the training pairs (required)", "train", c->data, c->data, sizeof(c->data), NULL));
  PetscCall(PetscOptionsString("-train_x", "Dataset of x in the training file (N x n_x)", "train", c->xname, c->xname, sizeof(c->xname), NULL));
  PetscCall(PetscOptionsString("-train_y", "Dataset of the condition y (N x n_y); empty: unconditional", "train", c->yname, c->yname, sizeof(c->yname), NULL));
  PetscCall(PetscOptionsInt("-train_rows", "Train on the first rows of the file only (0: all)", "train", c->rows, &c->rows, NULL));
  PetscCall(PetscOptionsInt("-net_layers", "Hidden layers (paper: 2 in Sec. 5.1, 4 in Sec. 5.2)", "train", c->layers, &c->layers, NULL));
  PetscCall(PetscOptionsInt("-net_width", "Units per hidden layer (not given in the paper: 128 for 5.1, 256 for 5.2)", "train", c->width, &c->width, NULL));
  PetscCall(PetscOptionsInt("-net_seed", "Seed of the weight initialisation", "train", c->init_seed, &c->init_seed, NULL));
  PetscCall(PetscOptionsEnum("-train_normalize", "Normalisation of x and y (minmax: to [0,1] with training-set extrema)", "train", ModelNorms, (PetscEnum)c->norm, (PetscEnum *)&c->norm, NULL));
  PetscCall(PetscOptionsString("-model", "Output model file (written as FILE.partial, renamed when complete)", "train", c->model, c->model, sizeof(c->model), NULL));
  PetscCall(PetscOptionsString("-train_checkpoint", "Checkpoint file (default: MODEL with .ckpt.h5)", "train", c->ckpt, c->ckpt, sizeof(c->ckpt), &has_ckpt));
  PetscCall(PetscOptionsBool("-train_restart", "Continue from the checkpoint if it exists (start fresh if it does not)", "train", c->restart, &c->restart, NULL));
  PetscOptionsEnd();
  PetscCall(SchedSetFromOptions(comm, NULL, &c->sch));
  PetscCall(AdamOptsSetFromOptions(comm, NULL, &c->ao));
  PetscCall(TrainOptsSetFromOptions(comm, NULL, &c->to));
  PetscCall(MeasSetDefaults(&c->meas));
  PetscCall(MeasSetFromOptions(comm, &c->meas, NULL));
  if (c->help) PetscFunctionReturn(0);
  PetscCheck(c->data[0], comm, PETSC_ERR_ARG_WRONG, "No training data: give -train_data FILE (an HDF5 file with datasets -train_x and -train_y)");
  PetscCheck(c->model[0], comm, PETSC_ERR_ARG_WRONG, "-model is empty: give the output model file");
  PetscCheck(c->rows >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-train_rows %" PetscInt_FMT ": must be >= 0 (0 = all rows)", c->rows);
  PetscCheck(c->layers >= 1 && c->layers < MLP_MAX_LAYERS, comm, PETSC_ERR_ARG_OUTOFRANGE, "-net_layers %" PetscInt_FMT ": must be in [1, %d]", c->layers, MLP_MAX_LAYERS - 1);
  PetscCheck(c->width >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-net_width %" PetscInt_FMT ": must be >= 1", c->width);
  if (!c->ckpt[0]) { /* MODEL.h5 -> MODEL.ckpt.h5 */
    size_t n;
    PetscCall(PetscStrncpy(c->ckpt, c->model, sizeof(c->ckpt)));
    PetscCall(PetscStrlen(c->ckpt, &n));
    if (n > 3 && !strcmp(c->ckpt + n - 3, ".h5")) c->ckpt[n - 3] = 0;
    PetscCall(PetscStrlcat(c->ckpt, ".ckpt.h5", sizeof(c->ckpt)));
  }
  PetscCheck(c->yname[0] || (c->meas.level == 0 && c->meas.mask_prob == 0 && c->meas.copies == 1), comm, PETSC_ERR_ARG_INCOMP, "-noise_level, -mask_prob and -mask_copies need a condition y (-train_y)");
  PetscCheck(!c->meas.resample || (c->yname[0] && (c->meas.level > 0 || c->meas.mask_prob > 0)), comm, PETSC_ERR_ARG_INCOMP, "-meas_resample redraws the measurement noise and masks, but this run has neither (-noise_level 0, -mask_prob 0): drop -meas_resample");
  /* -meas_resample's stream copy indices (meas_epoch_copy) must stay below 2^32 */
  PetscCheck(!c->meas.resample || MEAS_MAX_COPIES + 1 + (PetscInt64)c->to.epochs * c->meas.copies < ((PetscInt64)1 << 32), comm, PETSC_ERR_ARG_OUTOFRANGE, "-meas_resample with -train_epochs %" PetscInt_FMT " and -mask_copies %" PetscInt_FMT " needs more than 2^32 measurement streams: lower -train_epochs or -mask_copies", c->to.epochs, c->meas.copies);
  PetscCheck(strcmp(c->ckpt, c->model), comm, PETSC_ERR_ARG_WRONG, "-train_checkpoint and -model are the same file %s: give them different names", c->model);
  PetscFunctionReturn(0);
}

/* Read this rank's shard from an open training file; the caller closes it on success and error. */
static PetscErrorCode ReadShard(MPI_Comm comm, const TrainCtx *c, H5io *io, TrainData *d, float **x, float **y)
{
  PetscInt64 xrows, yrows = 0, first;
  PetscInt   xcols, ycols = 0, nlocal;

  PetscFunctionBeginUser;
  PetscCall(H5ioDatasetShape(io, c->xname, &xrows, &xcols));
  if (c->yname[0]) PetscCall(H5ioDatasetShape(io, c->yname, &yrows, &ycols));
  PetscCheck(!c->yname[0] || xrows == yrows, comm, PETSC_ERR_FILE_UNEXPECTED, "Training file %s: dataset %s has %lld rows but %s has %lld: every x needs its y", c->data, c->xname, (long long)xrows, c->yname, (long long)yrows);
  d->N = c->rows ? c->rows : xrows;
  PetscCheck(d->N >= 1 && d->N <= xrows, comm, PETSC_ERR_ARG_OUTOFRANGE, "-train_rows %" PetscInt_FMT ": the training file %s has %lld rows", c->rows, c->data, (long long)xrows);
  PetscCall(SamplerPartition(comm, d->N, &nlocal, &first));
  d->first  = first;
  d->nlocal = nlocal;
  d->nx     = xcols ? xcols : 1; /* a 1-D dataset is one component per row */
  d->ncond  = c->yname[0] ? (ycols ? ycols : 1) : 0;
  PetscCall(PetscMalloc2((size_t)PetscMax(nlocal, 1) * d->nx, x, (size_t)PetscMax(nlocal, 1) * PetscMax(d->ncond, 1), y));
  PetscCall(H5ioReadRowsFloat(io, c->xname, xcols, first, nlocal, *x));
  if (d->ncond) PetscCall(H5ioReadRowsFloat(io, c->yname, ycols, first, nlocal, *y));
  PetscFunctionReturn(0);
}

/* This rank's rows of x and y (float) with the global count; every value must be finite. */
static PetscErrorCode ReadTrainingData(MPI_Comm comm, const TrainCtx *c, TrainData *d, float **x, float **y)
{
  H5io           io;
  PetscErrorCode ierr;
  PetscInt64     bad = PETSC_MAX_INT, gbad;

  PetscFunctionBeginUser;
  *x = *y = NULL;
  PetscCall(H5ioOpen(comm, c->data, &io));
  ierr = ReadShard(comm, c, &io, d, x, y);
  PetscCall(H5ioClose(&io));
  PetscCall(ierr);
  for (PetscInt i = 0; i < d->nlocal && bad == PETSC_MAX_INT; i++) {
    for (PetscInt j = 0; j < d->nx; j++)
      if (!isfinite((*x)[(size_t)i * d->nx + j])) bad = d->first + i;
    for (PetscInt j = 0; j < d->ncond; j++)
      if (!isfinite((*y)[(size_t)i * d->ncond + j])) bad = d->first + i;
  }
  PetscCallMPI(MPI_Allreduce(&bad, &gbad, 1, MPIU_INT64, MPI_MIN, comm));
  PetscCheck(gbad == PETSC_MAX_INT, comm, PETSC_ERR_FILE_UNEXPECTED, "Training file %s: row %lld holds a NaN or Inf; clean the data or use -train_rows to stop before it", c->data, (long long)gbad);
  PetscFunctionReturn(0);
}

/* What drawing the network's conditions needs: this rank's clean measurements and where the
   conditions go. Filled once for epoch 0; with -meas_resample the trainer's epoch hook redraws
   them in place for every epoch (meas_epoch_copy), same normalisation. */
typedef struct {
  const Meas  *meas;
  const Model *model;
  PetscInt64   row0;  /* data-set row of this rank's first pair */
  PetscInt     nrows, ny;
  const float *yc;    /* nrows x ny clean measurements */
  float       *ce;    /* nrows copies x ncond conditions [y_n | m] */
} CondSet;

/* Conditions of every copy of this rank's rows in `epoch`; the noisy values are rounded to float,
   as those the normalisation's extrema came from. */
static PetscErrorCode CondSetFill(void *ctx, PetscInt64 epoch)
{
  const CondSet *s = (const CondSet *)ctx;
  const PetscInt C = s->meas->copies, ny = s->ny, nc = s->model->ncond;
  PetscReal     *yr, *yn, *mk, *cr;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc4(PetscMax(ny, 1), &yr, PetscMax(ny, 1), &yn, PetscMax(ny, 1), &mk, PetscMax(nc, 1), &cr));
  for (PetscInt i = 0; i < s->nrows; i++)
    for (PetscInt k = 0; k < C; k++) {
      const size_t     e = (size_t)i * C + k;
      const PetscInt64 copy = meas_epoch_copy(s->meas, epoch, k);
      for (PetscInt j = 0; j < ny; j++) yr[j] = s->yc[(size_t)i * ny + j];
      meas_noisy(s->meas, s->row0 + i, copy, ny, yr, yn);
      for (PetscInt j = 0; j < ny; j++) yn[j] = (float)yn[j];
      (void)meas_mask(s->meas, s->row0 + i, copy, ny, mk);
      model_condition(s->model, yn, mk, cr);
      for (PetscInt j = 0; j < nc; j++) s->ce[e * nc + j] = (float)cr[j];
    }
  PetscCall(PetscFree4(yr, yn, mk, cr));
  PetscFunctionReturn(0);
}

/* The training set the network sees: meas.copies copies of every pair (global order row-major:
   copy k of row r is pair r C + k, so every rank's pairs stay contiguous), each with its noisy
   measurement and mask (meas.h). Sets the model's measurement model and normalisation (extrema of
   the noisy y) and returns the normalised x and condition rows [y_n | m] (float). */
static PetscErrorCode BuildTrainingSet(MPI_Comm comm, TrainCtx *c, Model *model, TrainData *d, const float xc[], const float yc[], float **xe, float **ce, CondSet *cs)
{
  const PetscInt C = c->meas.copies, nx = d->nx, ny = d->ncond, nl = d->nlocal * C;
  float         *ye;
  PetscReal     *yr, *yn;

  PetscFunctionBeginUser;
  if (ny) PetscCall(MeasSetRange(comm, &c->meas, d->nlocal, ny, yc));
  PetscCall(ModelCreate(nx, ny, (PetscBool)(c->meas.mask_prob > 0), c->layers, c->width, &c->sch, c->init_seed, model));
  model->meas  = c->meas;
  model->par   = c->to.par;
  PetscCall(PetscMalloc2((size_t)PetscMax(nl, 1) * nx, xe, (size_t)PetscMax(nl, 1) * PetscMax(model->ncond, 1), ce));
  PetscCall(PetscMalloc1((size_t)PetscMax(nl, 1) * PetscMax(ny, 1), &ye));
  PetscCall(PetscMalloc2(PetscMax(ny, 1), &yr, PetscMax(ny, 1), &yn));
  for (PetscInt i = 0; i < d->nlocal; i++)
    for (PetscInt k = 0; k < C; k++) {
      const size_t e = (size_t)i * C + k;
      for (PetscInt j = 0; j < nx; j++) (*xe)[e * nx + j] = xc[(size_t)i * nx + j];
      for (PetscInt j = 0; j < ny; j++) yr[j] = yc[(size_t)i * ny + j];
      meas_noisy(&c->meas, d->first + i, k, ny, yr, yn);
      for (PetscInt j = 0; j < ny; j++) ye[e * ny + j] = (float)yn[j];
    }
  PetscCall(ModelSetNormalization(comm, model, c->norm, nl, *xe, ye));
  ModelNormalizeX(model, nl, *xe);
  if (c->to.par.output == DSM_OUTPUT_EDM) { /* the preconditioning's scales from the normalised x */
    PetscCall(DsmParamSetDataScale(comm, &c->to.par, nl, nx, *xe));
    model->par = c->to.par;
    PetscCall(PetscPrintf(comm, "train: -net_output edm with sigma_data %.6g, sigma_skip %.6g, centre %.6g (normalised x)\n", (double)c->to.par.sigma_data, (double)c->to.par.sigma_skip, (double)c->to.par.centre));
  }
  cs->meas  = &c->meas;
  cs->model = model;
  cs->row0  = d->first;
  cs->nrows = d->nlocal;
  cs->ny    = ny;
  cs->yc    = yc;
  cs->ce    = *ce;
  if (model->ncond) PetscCall(CondSetFill(cs, 0));
  d->N *= C;
  d->first *= C;
  d->nlocal = nl;
  d->ncond  = model->ncond;
  d->x      = *xe;
  d->c      = d->ncond ? *ce : NULL;
  PetscCall(PetscFree(ye));
  PetscCall(PetscFree2(yr, yn));
  PetscFunctionReturn(0);
}

/* An existing checkpoint: resume from it (-train_restart) or refuse to overwrite it. */
static PetscErrorCode MaybeRestart(MPI_Comm comm, const TrainCtx *c, Trainer *tr)
{
  PetscBool exists;

  PetscFunctionBeginUser;
  PetscCall(PetscTestFile(c->ckpt, 'r', &exists));
  if (!exists) {
    if (c->restart) PetscCall(PetscPrintf(comm, "train: no checkpoint %s yet: starting from scratch\n", c->ckpt));
    PetscFunctionReturn(0);
  }
  PetscCheck(c->restart, comm, PETSC_ERR_FILE_OPEN, "Checkpoint %s exists: pass -train_restart to continue from it, or remove it (or choose -train_checkpoint) to start over", c->ckpt);
  PetscCall(TrainerLoadCheckpoint(tr, &c->to, c->ckpt));
  PetscCall(PetscPrintf(comm, "train: resumed from %s at step %" PetscInt64_FMT "\n", c->ckpt, tr->step));
  PetscFunctionReturn(0);
}

PetscErrorCode CmdTrain(MPI_Comm comm, int nargs, char **args, int *status)
{
  TrainCtx          c;
  TrainData         d;
  Model             model;
  Trainer           tr;
  float            *x, *y, *xe, *ce;
  char              arch[256], sde[128];
  PetscLogDouble    t0, t1;
  PetscInt64        total, start;
  ModelTrainSummary sum;
  CondSet           cs;

  PetscFunctionBeginUser;
  PetscCall(TrainSignalsCatch());
  PetscCall(ProcessOptions(comm, &c));
  if (c.help) PetscFunctionReturn(0);
  PetscCall(ReadTrainingData(comm, &c, &d, &x, &y));

  PetscCall(BuildTrainingSet(comm, &c, &model, &d, x, y, &xe, &ce, &cs));

  PetscCall(TrainerCreate(comm, &model.arch, c.init_seed, &c.ao, &d, &c.to, &tr));
  PetscCall(TrainerSetCheckpoint(&tr, &model, c.ckpt));
  if (c.meas.resample && model.ncond) PetscCall(TrainerSetEpochHook(&tr, CondSetFill, &cs));
  PetscCall(MaybeRestart(comm, &c, &tr));
  total = c.to.epochs * train_steps_per_epoch(&d, &c.to);
  start = tr.step;
  PetscCall(MlpArchView(&model.arch, arch, sizeof(arch)));
  PetscCall(SchedDescribe(&c.sch, sde, sizeof(sde)));
  PetscCall(PetscPrintf(comm, "train: %lld pairs (n_x %" PetscInt_FMT ", condition %" PetscInt_FMT ") from %s", (long long)d.N, d.nx, d.ncond, c.data));
  if (model.ny) PetscCall(PetscPrintf(comm, "; noise level %.6g (sigma %.6g = level x range %.6g)", (double)c.meas.level, (double)c.meas.sigma, (double)c.meas.range));
  if (c.meas.copies > 1) PetscCall(PetscPrintf(comm, "; %" PetscInt_FMT " copies of each pair", c.meas.copies));
  if (c.meas.mask_prob > 0) PetscCall(PetscPrintf(comm, "; random sensor masks (each on with probability %.6g)", (double)c.meas.mask_prob));
  if (c.meas.resample) PetscCall(PetscPrintf(comm, "; noise%s drawn afresh every epoch", c.meas.mask_prob > 0 ? " and masks" : ""));
  PetscCall(PetscPrintf(comm, "\ntrain: %s normalisation; network %s; %s; %" PetscInt_FMT " epochs x %lld steps of batch %" PetscInt_FMT "; Adam lr %.6g", ModelNorms[c.norm], arch, sde, c.to.epochs, (long long)train_steps_per_epoch(&d, &c.to), c.to.batch, (double)c.ao.lr));
  if (c.ao.schedule == ADAM_SCHEDULE_COSINE) PetscCall(PetscPrintf(comm, " (cosine to %.6g at step %lld)", (double)c.ao.lr_min, (long long)total));
  if (c.ao.schedule == ADAM_SCHEDULE_STEP) PetscCall(PetscPrintf(comm, " (step to %.6g after step %lld of %lld)", (double)c.ao.lr_min, (long long)AdamStepBoundary(&tr.adam.o), (long long)total));
  if (c.to.ema_decay > 0) PetscCall(PetscPrintf(comm, "; the model keeps the moving average of the weights (decay %.6g)", (double)c.to.ema_decay));
  if (c.to.t_power != 1) PetscCall(PetscPrintf(comm, "; times t = eps + (T - eps) u^%.6g", (double)c.to.t_power));
  PetscCall(PetscPrintf(comm, "\n"));
  PetscCheck(start <= total, comm, PETSC_ERR_ARG_INCOMP, "Checkpoint %s is at step %lld, beyond the %lld steps of -train_epochs %" PetscInt_FMT ": raise -train_epochs", c.ckpt, (long long)start, (long long)total, c.to.epochs);

  PetscCall(PetscTime(&t0));
  PetscCall(TrainerSteps(&tr, &c.sch, &d, &c.to, total - start, NULL));
  PetscCall(PetscTime(&t1));
  if (tr.state == TRAIN_INTERRUPTED) {
    PetscCall(PetscPrintf(comm, "train: interrupted by SIGTERM/SIGUSR1 at step %lld of %lld; checkpoint %s; rerun with -train_restart to continue (exit status %d)\n", (long long)tr.step, (long long)total, c.ckpt, PDEDIFF_EXIT_INTERRUPTED));
    *status = PDEDIFF_EXIT_INTERRUPTED;
  } else {
    /* the final checkpoint lets a later run extend training (-train_restart, more epochs) */
    PetscCall(TrainerSaveCheckpoint(&tr, &c.to, c.ckpt));
    PetscCall(PetscArraycpy(model.params, TrainerWeights(&tr), model.arch.nparams));
    sum.epochs     = c.to.epochs;
    sum.steps      = tr.step;
    sum.final_loss = tr.epoch_loss;
    sum.seconds    = tr.seconds; /* with the earlier runs' time when resumed */
    sum.seconds_steps = tr.steps_timed;
    sum.train_seed = c.to.seed;
    sum.n_train    = (PetscInt)d.N;
    sum.ema_decay  = c.to.ema_decay;
    sum.t_power    = c.to.t_power;
    sum.density_case = -1;
    PetscCall(ModelSave(comm, &model, &sum, c.model));
    {
      const double flops = (double)(MlpFlopsForward(&model.arch, 1) + MlpFlopsBackward(&model.arch, 1)) * (double)(total - start) * (double)c.to.batch;
      int          size;
      PetscCallMPI(MPI_Comm_size(comm, &size));
      PetscCall(PetscPrintf(comm, "train: done: %lld steps (%" PetscInt_FMT " epochs) in %.1f s on %d rank(s), %.0f samples/s, %.2f GFLOP/s in the network; mean loss of the last epoch %.5f; %" PetscInt_FMT " checkpoints\n", (long long)(total - start), c.to.epochs, t1 - t0, size, (double)(total - start) * c.to.batch / PetscMax(t1 - t0, 1e-9), 1e-9 * flops / PetscMax(t1 - t0, 1e-9), (double)tr.epoch_loss, tr.nckpt));
      if (start > 0) PetscCall(PetscPrintf(comm, "train: with the runs before the restart: %lld steps in %.1f s of training, %.0f samples/s%s\n", (long long)tr.steps_timed, (double)tr.seconds, (double)tr.steps_timed * c.to.batch / PetscMax(tr.seconds, 1e-9), tr.steps_timed < tr.step ? " (the first checkpoint kept no time)" : ""));
      PetscCall(PetscPrintf(comm, "train: wrote model %s (checkpoint %s)\n", c.model, c.ckpt));
    }
  }
  PetscCall(TrainerDestroy(&tr));
  PetscCall(ModelDestroy(&model));
  PetscCall(PetscFree2(xe, ce));
  PetscCall(PetscFree2(x, y));
  PetscFunctionReturn(0);
}
