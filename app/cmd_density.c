/* pdediff density: one cell of Table 1 (paper Section 5.1, DESIGN.md section 4).
 *
 *   mpirun -n 2 pdediff density -options_file inputs/density_paper.opts -density_case tanh -sde_type vp
 *
 * Pipeline (main steps are PetscLogStages, so -log_view shows where the time goes):
 *   1. reference: a fresh set of -density_n_ref joint samples; for every Y value the band
 *      |Y - y| <= -density_band (the paper's "true" conditional), and, beyond the paper, exact
 *      samples of X | Y = y (libcore/density.h);
 *   2. train: a conditional score network on -density_n_train joint samples (data-parallel);
 *   3. sample: -density_n_gen samples of X | Y = y per Y value with the ODE and the SDE sampler;
 *   4. distances: Sinkhorn OT (libcore/ot.h) of the generated samples to the band, and the
 *      metric's floor: the distance between the band and an independent exact sample of the same
 *      size. Euclidean cost (Table 1's) and squared cost. Beyond that, the distance of the
 *      generated samples to an exact conditional sample of their own size, beside the distance
 *      between two independent exact samples of that size (the finite-sample floor of that one);
 *   5. one HDF5 file per cell (written as FILE.partial, renamed) and the trained model.
 * The reference is built first, so a Y value with an empty or thin band fails in seconds,
 * before any training. `pdediff table1` collects the cells into Table 1. */
#include "commands.h"
#include "density.h"
#include "model.h"
#include "ot.h"
#include "sampler.h"
#include "train.h"
#include <math.h>

#define DENS_MAX_Y 16

/* the distance columns (density.h) also computed with the squared cost */
static const int DistSquared[DENSITY_D_N] = {1, 1, 1, 0, 0, 0};

typedef struct {
  DensityCase dcase;
  PetscInt    n_train, n_gen, n_ref, min_band, ny;
  PetscReal   band, yv[DENS_MAX_Y];
  PetscInt    data_seed;
  PetscBool   sqcost;
  PetscReal   sq_tol;
  char        dir[PETSC_MAX_PATH_LEN], output[PETSC_MAX_PATH_LEN], model[PETSC_MAX_PATH_LEN], key[32];
  char        model_in[PETSC_MAX_PATH_LEN]; /* -density_model_in: sample this model, no training */
  PetscInt    layers, width, init_seed;
  ModelNorm   norm;
  Sched       sch;
  AdamOpts    ao;
  TrainOpts   to;
  SamplerOpts so;
  OtOpts      oo;
  PetscBool   help;
} DensityCtx;

typedef struct { /* this rank's rows of the training joint (also written to the cell file) */
  PetscInt   nlocal;
  PetscInt64 first;
  PetscReal *x, *y;
} DensityTrainSet;

typedef struct { /* everything about one Y value, identical on every rank */
  PetscInt   nband;
  PetscReal *band, *exact_floor, *exact_ref, *exact_ref2, *gen[2];
  PetscReal  accept;
  PetscReal  d[2][DENSITY_D_N];  /* [cost][kind] */
  PetscInt   it[2][DENSITY_D_N]; /* Sinkhorn iterations */
} DensityY;

/* "ve", "vp", "xi1", "xi4": the formulation's short name in file names and Table 1 */
static PetscErrorCode DensityFormulationKey(const Sched *s, char key[], size_t len)
{
  PetscFunctionBeginUser;
  if (s->type == SCHED_XI) { /* C's %g: PetscSNPrintf's prints 1 as "1.", and the sweep and table1 look for CASE_xi1.h5 */
    int k = snprintf(key, len, "xi%g", (double)s->p);
    PetscCheck(k > 0 && (size_t)k < len, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "formulation key xi%g too long", (double)s->p);
  }
  else PetscCall(PetscStrncpy(key, SchedTypes[s->type], len));
  PetscFunctionReturn(0);
}

static PetscErrorCode ProcessOptions(MPI_Comm comm, DensityCtx *c)
{
  PetscInt  ny = DENS_MAX_Y;
  PetscBool set;

  PetscFunctionBeginUser;
  c->dcase     = DENSITY_TANH;
  c->n_train   = 10000;
  c->n_gen     = 10000;
  c->n_ref     = 100000;
  c->band      = 0.05;
  c->min_band  = 100;
  c->ny        = 4;
  c->yv[0]     = -0.5;
  c->yv[1]     = 0;
  c->yv[2]     = 0.5;
  c->yv[3]     = 1;
  c->data_seed = 1;
  c->sqcost    = PETSC_TRUE;
  c->sq_tol    = 1e-6;
  c->layers    = 2;
  c->width     = 128;
  c->init_seed = 0;
  c->norm      = MODEL_NORM_NONE;
  c->output[0] = c->model[0] = c->model_in[0] = 0;
  PetscCall(PetscStrncpy(c->dir, "runs/density", sizeof(c->dir)));
  PetscCall(SchedSetDefaults(&c->sch));
  PetscCall(AdamOptsSetDefaults(&c->ao));
  PetscCall(TrainOptsSetDefaults(&c->to));
  PetscCall(SamplerOptsSetDefaults(&c->so));
  PetscCall(OtOptsSetDefaults(&c->oo));
  c->oo.tol = 1e-7; /* the 10,000-point sets stall near 1e-9 in double precision; 1e-7 moves the cost by < 1e-6 */
  PetscCall(PetscOptionsHasHelp(NULL, &c->help));

  PetscOptionsBegin(comm, NULL, "pdediff density: one cell of Table 1 (Sec. 5.1): train, sample at the Y values, Sinkhorn distances to the band and exact references", "density");
  PetscCall(PetscOptionsEnum("-density_case", "Joint distribution (49)-(51)", "density", DensityCases, (PetscEnum)c->dcase, (PetscEnum *)&c->dcase, NULL));
  PetscCall(PetscOptionsInt("-density_n_train", "Joint samples to train on (paper: 10,000)", "density", c->n_train, &c->n_train, NULL));
  PetscCall(PetscOptionsInt("-density_n_gen", "Samples of X generated per Y value and sampler (paper: 10,000)", "density", c->n_gen, &c->n_gen, NULL));
  PetscCall(PetscOptionsInt("-density_n_ref", "Size of the fresh reference set the bands are cut from (paper: 100,000)", "density", c->n_ref, &c->n_ref, NULL));
  PetscCall(PetscOptionsReal("-density_band", "Half-width of the reference band |Y - y| <= band (paper: 0.05)", "density", c->band, &c->band, NULL));
  PetscCall(PetscOptionsInt("-density_min_band", "Fewest reference points a band may hold", "density", c->min_band, &c->min_band, NULL));
  PetscCall(PetscOptionsRealArray("-density_y", "The Y values (comma separated, at most 16; paper: -0.5,0,0.5,1)", "density", c->yv, &ny, &set));
  PetscCall(PetscOptionsInt("-density_seed", "Seed of the training, reference and exact-conditional sets", "density", c->data_seed, &c->data_seed, NULL));
  PetscCall(PetscOptionsBool("-density_sqcost", "Also report the squared-cost distances to the band", "density", c->sqcost, &c->sqcost, NULL));
  PetscCall(PetscOptionsReal("-density_sq_tol", "Marginal tolerance of the squared-cost Sinkhorn solves", "density", c->sq_tol, &c->sq_tol, NULL));
  PetscCall(PetscOptionsString("-density_dir", "Directory of the cell files CASE_FORMULATION.h5 (and models)", "density", c->dir, c->dir, sizeof(c->dir), NULL));
  PetscCall(PetscOptionsString("-density_output", "Cell file (default DIR/CASE_FORMULATION.h5)", "density", c->output, c->output, sizeof(c->output), NULL));
  PetscCall(PetscOptionsString("-model", "Where to write the trained model (default DIR/CASE_FORMULATION.model.h5)", "density", c->model, c->model, sizeof(c->model), NULL));
  PetscCall(PetscOptionsString("-density_model_in", "Sample this trained model of the same case and formulation instead of training (e.g. to try other sampler options on a finished cell)", "density", c->model_in, c->model_in, sizeof(c->model_in), NULL));
  PetscCall(PetscOptionsInt("-net_layers", "Hidden layers (paper Sec. 5.1: 2)", "density", c->layers, &c->layers, NULL));
  PetscCall(PetscOptionsInt("-net_width", "Units per hidden layer", "density", c->width, &c->width, NULL));
  PetscCall(PetscOptionsInt("-net_seed", "Seed of the weight initialisation", "density", c->init_seed, &c->init_seed, NULL));
  PetscCall(PetscOptionsEnum("-train_normalize", "Normalisation of x and y (none: the paper's 5.1 set-up)", "density", ModelNorms, (PetscEnum)c->norm, (PetscEnum *)&c->norm, NULL));
  PetscOptionsEnd();
  if (set) c->ny = ny;
  PetscCall(SchedSetFromOptions(comm, NULL, &c->sch));
  PetscCall(AdamOptsSetFromOptions(comm, NULL, &c->ao));
  PetscCall(TrainOptsSetFromOptions(comm, NULL, &c->to));
  PetscCall(SamplerOptsSetFromOptions(comm, NULL, &c->so));
  PetscCall(OtOptsSetFromOptions(comm, NULL, &c->oo));
  if (c->help) PetscFunctionReturn(0);
  PetscCheck(!set || ny >= 1, comm, PETSC_ERR_ARG_WRONG, "-density_y is empty: give the Y values, e.g. -density_y -0.5,0,0.5,1");
  PetscCheck(c->n_train >= 2 && c->n_gen >= 2 && c->n_ref >= 2, comm, PETSC_ERR_ARG_OUTOFRANGE, "-density_n_train, -density_n_gen and -density_n_ref must each be >= 2");
  PetscCheck(c->band > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-density_band %g: must be > 0", (double)c->band);
  PetscCheck(c->min_band >= 2, comm, PETSC_ERR_ARG_OUTOFRANGE, "-density_min_band %" PetscInt_FMT ": must be >= 2", c->min_band);
  PetscCheck(c->sq_tol > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-density_sq_tol %g: must be > 0", (double)c->sq_tol);
  PetscCheck(c->layers >= 1 && c->layers < MLP_MAX_LAYERS, comm, PETSC_ERR_ARG_OUTOFRANGE, "-net_layers %" PetscInt_FMT ": must be in [1, %d]", c->layers, MLP_MAX_LAYERS - 1);
  PetscCheck(c->width >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-net_width %" PetscInt_FMT ": must be >= 1", c->width);
  PetscCall(DensityFormulationKey(&c->sch, c->key, sizeof(c->key)));
  if (!c->output[0]) PetscCall(PetscSNPrintf(c->output, sizeof(c->output), "%s/%s_%s.h5", c->dir, DensityCases[c->dcase], c->key));
  if (!c->model[0]) PetscCall(PetscSNPrintf(c->model, sizeof(c->model), "%s/%s_%s.model.h5", c->dir, DensityCases[c->dcase], c->key));
  PetscCheck(strcmp(c->output, c->model), comm, PETSC_ERR_ARG_WRONG, "-density_output and -model are the same file %s: give them different names", c->model);
  PetscCheck(!c->model_in[0] || strcmp(c->output, c->model_in), comm, PETSC_ERR_ARG_WRONG, "-density_output and -density_model_in are the same file %s: the cell file would replace the model it samples", c->model_in);
  PetscFunctionReturn(0);
}

/* Create -density_dir (with its parents) when a default path puts a file there; the output and
   model directories must then be writable. */
static PetscErrorCode PrepareOutput(MPI_Comm comm, const DensityCtx *c)
{
  size_t n;

  PetscFunctionBeginUser;
  PetscCall(PetscStrlen(c->dir, &n));
  if (!strncmp(c->output, c->dir, n) || (!c->model_in[0] && !strncmp(c->model, c->dir, n))) PetscCall(H5ioMakeDirs(comm, c->dir));
  PetscCall(H5ioCheckWritable(comm, c->output, "-density_output"));
  if (!c->model_in[0]) PetscCall(H5ioCheckWritable(comm, c->model, "-model"));
  PetscFunctionReturn(0);
}

/* Every rank contributes nlocal values; every rank receives all of them in rank order. */
static PetscErrorCode GatherAll(MPI_Comm comm, PetscInt nlocal, const PetscReal local[], PetscInt *n, PetscReal **all)
{
  PetscMPIInt size, *counts, *displs, cnt = (PetscMPIInt)nlocal;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMalloc2(size, &counts, size, &displs));
  PetscCallMPI(MPI_Allgather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, comm));
  *n = 0;
  for (PetscMPIInt r = 0; r < size; r++) {
    displs[r] = (PetscMPIInt)*n;
    *n += counts[r];
  }
  PetscCall(PetscMalloc1(PetscMax(*n, 1), all));
  PetscCallMPI(MPI_Allgatherv(local, cnt, MPIU_REAL, *all, counts, displs, MPIU_REAL, comm));
  PetscCall(PetscFree2(counts, displs));
  PetscFunctionReturn(0);
}

/* Step 1: the bands of a fresh reference set and the exact conditional samples. An empty band is
   a valid result (no point of the reference set has Y that close to y) but leaves nothing to
   compare with: it is an error that says whether y is outside the support of Y. */
static PetscErrorCode BuildReference(MPI_Comm comm, const DensityCtx *c, DensityY yc[])
{
  PetscInt   nlocal, *cnt;
  PetscInt64 first;
  PetscReal *x, *y, **loc, lo, hi;

  PetscFunctionBeginUser;
  PetscCall(SamplerPartition(comm, c->n_ref, &nlocal, &first));
  PetscCall(PetscMalloc3(PetscMax(nlocal, 1), &x, PetscMax(nlocal, 1), &y, c->ny, &loc));
  PetscCall(PetscCalloc1(c->ny, &cnt));
  density_joint_rows(c->dcase, (uint64_t)c->data_seed, RNG_PURPOSE_REFERENCE, (uint64_t)first, nlocal, x, y);
  for (PetscInt k = 0; k < c->ny; k++) {
    PetscCall(PetscMalloc1(PetscMax(nlocal, 1), &loc[k]));
    for (PetscInt i = 0; i < nlocal; i++)
      if (PetscAbsReal(y[i] - c->yv[k]) <= c->band) loc[k][cnt[k]++] = x[i];
    PetscCall(GatherAll(comm, cnt[k], loc[k], &yc[k].nband, &yc[k].band));
    PetscCall(PetscFree(loc[k]));
  }
  density_y_support(c->dcase, &lo, &hi);
  for (PetscInt k = 0; k < c->ny; k++) {
    const PetscReal yk = c->yv[k];
    PetscCheck(yc[k].nband > 0 || (yk >= lo && yk <= hi), comm, PETSC_ERR_ARG_OUTOFRANGE, "-density_y %g lies outside the support [%g, %g] of Y for the %s joint: its band |Y - %g| <= %g is valid but empty (none of the %" PetscInt_FMT " reference points falls in it), so there is no reference to compare with; choose Y values inside the support", (double)yk, (double)lo, (double)hi, DensityCases[c->dcase], (double)yk, (double)c->band, c->n_ref);
    PetscCheck(yc[k].nband > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-density_y %g: its band |Y - %g| <= %g is valid but empty: none of the %" PetscInt_FMT " reference points of the %s joint has Y that close (Y = %g is in the far tail); choose a Y value where the joint has mass, or raise -density_n_ref or -density_band", (double)yk, (double)yk, (double)c->band, c->n_ref, DensityCases[c->dcase], (double)yk);
    PetscCheck(yc[k].nband >= c->min_band, comm, PETSC_ERR_ARG_OUTOFRANGE, "-density_y %g: its band |Y - %g| <= %g holds only %" PetscInt_FMT " of the %" PetscInt_FMT " reference points, fewer than -density_min_band %" PetscInt_FMT ": the distance to so few points says little; raise -density_n_ref or -density_band (or lower -density_min_band)", (double)yk, (double)yk, (double)c->band, yc[k].nband, c->n_ref, c->min_band);
  }
  /* exact conditionals: each set from its own stretch of the (seed, CONDITIONAL) streams */
  for (PetscInt k = 0; k < c->ny; k++) {
    const uint64_t base = (uint64_t)k << 40;
    PetscReal      a;
    PetscCall(PetscMalloc3(yc[k].nband, &yc[k].exact_floor, c->n_gen, &yc[k].exact_ref, c->n_gen, &yc[k].exact_ref2));
    PetscCall(DensityConditional(c->dcase, c->yv[k], (uint64_t)c->data_seed, base, yc[k].nband, yc[k].exact_floor, &a));
    PetscCall(DensityConditional(c->dcase, c->yv[k], (uint64_t)c->data_seed, base + (1ull << 32), c->n_gen, yc[k].exact_ref, &yc[k].accept));
    PetscCall(DensityConditional(c->dcase, c->yv[k], (uint64_t)c->data_seed, base + (2ull << 32), c->n_gen, yc[k].exact_ref2, &a));
  }
  PetscCall(PetscFree3(x, y, loc));
  PetscCall(PetscFree(cnt));
  PetscFunctionReturn(0);
}

/* This rank's rows of the training joint (keyed by sample index: the same set at any rank count). */
static PetscErrorCode BuildTrainSet(MPI_Comm comm, const DensityCtx *c, DensityTrainSet *ts)
{
  PetscFunctionBeginUser;
  PetscCall(SamplerPartition(comm, c->n_train, &ts->nlocal, &ts->first));
  PetscCall(PetscMalloc2(PetscMax(ts->nlocal, 1), &ts->x, PetscMax(ts->nlocal, 1), &ts->y));
  density_joint_rows(c->dcase, (uint64_t)c->data_seed, RNG_PURPOSE_DATA, (uint64_t)ts->first, ts->nlocal, ts->x, ts->y);
  PetscFunctionReturn(0);
}

/* The model this cell trains, before training: network, forward process and normalisation from
   the options and the training rows; *x, *y (freed by the caller) are the rows in float. */
static PetscErrorCode FreshCellModel(MPI_Comm comm, const DensityCtx *c, const DensityTrainSet *ts, Model *model, float **x, float **y)
{
  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(PetscMax(ts->nlocal, 1), x, PetscMax(ts->nlocal, 1), y));
  for (PetscInt i = 0; i < ts->nlocal; i++) {
    (*x)[i] = (float)ts->x[i];
    (*y)[i] = (float)ts->y[i];
  }
  PetscCall(ModelCreate(1, 1, PETSC_FALSE, c->layers, c->width, &c->sch, c->init_seed, model));
  PetscCheck(c->to.par.output != DSM_OUTPUT_EDM, comm, PETSC_ERR_SUP, "-net_output edm is built for pdediff train (the inverse problem); the density cells take -net_output score or noise");
  model->par = c->to.par;
  PetscCall(ModelSetNormalization(comm, model, c->norm, ts->nlocal, *x, *y));
  PetscFunctionReturn(0);
}

/* Step 2 with -density_model_in: load a finished cell's model instead of training. It must have
   this run's network, forward process and normalisation (ModelCompatible against the model this
   run would train) and the case recorded in it, when it has one; its training summary is kept. */
static PetscErrorCode LoadCellModel(MPI_Comm comm, const DensityCtx *c, DensityTrainSet *ts, Model *model, ModelTrainSummary *sum)
{
  Model     expect;
  H5io      io;
  PetscBool same, has;
  PetscInt64 v;
  char      why[512];
  float     *x, *y;

  PetscFunctionBeginUser;
  PetscCall(BuildTrainSet(comm, c, ts));
  PetscCall(FreshCellModel(comm, c, ts, &expect, &x, &y));
  PetscCall(PetscFree2(x, y));
  PetscCall(H5ioOpen(comm, c->model_in, &io));
  PetscCall(ModelReadH5(&io, model));
  PetscCall(ModelCompatible(&expect, model, &same, why, sizeof(why)));
  PetscCall(ModelDestroy(&expect));
  PetscCheck(same, comm, PETSC_ERR_ARG_INCOMP, "-density_model_in %s is not a model of this cell: %s (this run / the file). Give the same -sde_type, -net_layers, -net_width, -net_time_embed, -net_output and -train_normalize as the run that trained it", c->model_in, why);
  *sum = (ModelTrainSummary){.epochs = 0, .steps = 0, .final_loss = NAN, .seconds = 0, .train_seed = c->to.seed, .n_train = c->n_train};
  PetscCall(H5ioHasAttr(&io, "/", "density_case_id", &has));
  if (has) {
    PetscCall(H5ioReadAttrInt(&io, "/", "density_case_id", &v));
    PetscCheck(v == (PetscInt64)c->dcase, comm, PETSC_ERR_ARG_INCOMP, "-density_model_in %s was trained on the %s case, this run is -density_case %s: give that case's model", c->model_in, v >= DENSITY_TANH && v <= DENSITY_SPIRAL ? DensityCases[v] : "unknown", DensityCases[c->dcase]);
  } else PetscCall(PetscPrintf(comm, "density: WARNING: %s does not record its case (trained before models did): make sure it is the %s model\n", c->model_in, DensityCases[c->dcase]));
  PetscCall(H5ioHasAttr(&io, "/", "train_epochs", &has));
  if (has) {
    PetscCall(H5ioReadAttrInt(&io, "/", "train_epochs", &sum->epochs));
    PetscCall(H5ioReadAttrInt(&io, "/", "train_steps", &sum->steps));
    PetscCall(H5ioReadAttrReal(&io, "/", "train_final_loss", &sum->final_loss));
  }
  PetscCall(H5ioClose(&io));
  PetscFunctionReturn(0);
}

/* Step 2: train on this rank's share of the training set. *interrupted: a signal stopped it. */
static PetscErrorCode TrainCell(MPI_Comm comm, const DensityCtx *c, DensityTrainSet *ts, Model *model, ModelTrainSummary *sum, PetscBool *interrupted)
{
  TrainData      d;
  Trainer        tr;
  PetscInt       nlocal;
  PetscInt64     first;
  float         *x, *y;

  PetscFunctionBeginUser;
  PetscCall(BuildTrainSet(comm, c, ts));
  nlocal = ts->nlocal;
  first  = ts->first;
  PetscCall(FreshCellModel(comm, c, ts, model, &x, &y));
  ModelNormalizeX(model, nlocal, x);
  ModelNormalizeY(model, nlocal, 1, y);
  d = (TrainData){.N = c->n_train, .first = first, .nlocal = nlocal, .nx = 1, .ncond = 1, .x = x, .c = y};
  PetscCall(TrainerCreate(comm, &model->arch, c->init_seed, &c->ao, &d, &c->to, &tr));
  PetscCall(TrainerSetCheckpoint(&tr, model, ""));
  PetscCall(TrainerSteps(&tr, &c->sch, &d, &c->to, c->to.epochs * train_steps_per_epoch(&d, &c->to), NULL));
  *interrupted = (PetscBool)(tr.state == TRAIN_INTERRUPTED);
  PetscCall(PetscArraycpy(model->params, TrainerWeights(&tr), model->arch.nparams));
  *sum = (ModelTrainSummary){.epochs = c->to.epochs, .steps = tr.step, .final_loss = tr.epoch_loss, .seconds = tr.seconds, .seconds_steps = tr.steps_timed, .train_seed = c->to.seed, .n_train = c->n_train, .ema_decay = c->to.ema_decay, .t_power = c->to.t_power, .density_case = (PetscInt)c->dcase};
  PetscCall(TrainerDestroy(&tr));
  PetscCall(PetscFree2(x, y));
  PetscFunctionReturn(0);
}

/* Step 3: n_gen samples of X | Y = y_k per Y value and sampler, the particles split over the
   ranks; particle indices never repeat across Y values and samplers, so every set is independent. */
static PetscErrorCode SampleCell(MPI_Comm comm, const DensityCtx *c, const Model *model, DensityY yc[], PetscInt64 evals[2], PetscReal *seconds)
{
  ModelScoreCtx  sc;
  ScoreModel     sm;
  PetscInt       nlocal, n;
  PetscInt64     first;
  PetscReal     *x, *cond;
  PetscLogDouble t0, t1;

  PetscFunctionBeginUser;
  PetscCall(PetscTime(&t0));
  PetscCall(SamplerPartition(comm, c->n_gen, &nlocal, &first));
  PetscCall(PetscMalloc2(PetscMax(nlocal, 1), &x, PetscMax(nlocal, 1), &cond));
  PetscCall(ModelScoreCtxCreate(model, c->so.chunk, &sc));
  ModelScoreModel(&sc, &sm);
  for (int s = 0; s < 2; s++) {
    SamplerOpts  so = c->so;
    SamplerStats st, gst;
    so.type  = s ? SAMPLER_SDE : SAMPLER_ODE;
    PetscCall(ModelSamplerStart(comm, model, "(this cell's)", &so));
    evals[s] = 0;
    for (PetscInt k = 0; k < c->ny; k++) {
      for (PetscInt i = 0; i < nlocal; i++) cond[i] = c->yv[k];
      ModelNormalizeYReal(model, nlocal, cond);
      PetscCall(SamplerRun(&model->sch, &so, &sm, nlocal, (PetscInt64)(s * c->ny + k) * c->n_gen + first, cond, x, &st, NULL, NULL));
      PetscCall(SamplerStatsReduce(comm, &st, &gst));
      evals[s] += gst.score_evals;
      ModelDenormalizeXReal(model, nlocal, x);
      PetscCall(GatherAll(comm, nlocal, x, &n, &yc[k].gen[s]));
    }
  }
  PetscCall(ModelScoreCtxDestroy(&sc));
  PetscCall(PetscFree2(x, cond));
  PetscCall(PetscTime(&t1));
  *seconds = t1 - t0;
  PetscFunctionReturn(0);
}

/* Step 4: the Sinkhorn distances of one Y value. */
static PetscErrorCode DistancesY(MPI_Comm comm, const DensityCtx *c, DensityY *y)
{
  PetscFunctionBeginUser;
  for (int q = 0; q < 2; q++) {
    OtOpts o = c->oo;
    o.cost   = q ? OT_COST_SQEUCLIDEAN : OT_COST_EUCLIDEAN;
    if (q) o.tol = c->sq_tol;
    for (int k = 0; k < DENSITY_D_N; k++) {
      const PetscReal *a = NULL, *b = NULL;
      PetscInt         na = c->n_gen, nb = c->n_gen;
      OtResult         r;
      y->d[q][k]  = NAN;
      y->it[q][k] = 0;
      if (q && (!c->sqcost || !DistSquared[k])) continue;
      switch ((DensityDist)k) {
      case DENSITY_D_ODE_BAND: a = y->gen[0], b = y->band, nb = y->nband; break;
      case DENSITY_D_SDE_BAND: a = y->gen[1], b = y->band, nb = y->nband; break;
      case DENSITY_D_FLOOR: a = y->exact_floor, na = y->nband, b = y->band, nb = y->nband; break;
      case DENSITY_D_ODE_EXACT: a = y->gen[0], b = y->exact_ref; break;
      case DENSITY_D_SDE_EXACT: a = y->gen[1], b = y->exact_ref; break;
      case DENSITY_D_EXACT_FLOOR: a = y->exact_ref2, b = y->exact_ref; break;
      case DENSITY_D_N: break;
      }
      PetscCall(OtSinkhorn1D(comm, &o, na, a, nb, b, &r));
      if (!r.converged) PetscCall(PetscPrintf(comm, "density: warning: Sinkhorn (%s cost) did not reach -ot_tol in %" PetscInt_FMT " iterations (marginal error %.2e); the distance is approximate\n", OtCosts[o.cost], r.iterations, (double)r.marginal_error));
      y->d[q][k]  = r.cost;
      y->it[q][k] = r.iterations;
    }
  }
  PetscFunctionReturn(0);
}

/* Step 5: the cell file. */
static PetscErrorCode WriteCell(MPI_Comm comm, const DensityCtx *c, const DensityY yc[], const DensityTrainSet *ts, const ModelTrainSummary *sum, const PetscReal times[3], const PetscInt64 evals[2], const PetscReal avg[2][DENSITY_D_N])
{
  H5io       io;
  char       desc[256];
  PetscInt   nb = 0, npdf = 400;
  PetscReal *buf, *off, *cnt, *acc, *ycopy, *dist, *its, *px, *pd;

  PetscFunctionBeginUser;
  for (PetscInt k = 0; k < c->ny; k++) nb += yc[k].nband;
  PetscCall(PetscMalloc4((size_t)c->ny * c->n_gen, &buf, c->ny + 1, &off, c->ny, &cnt, c->ny, &acc));
  PetscCall(PetscMalloc5(c->ny, &ycopy, (size_t)c->ny * 2 * DENSITY_D_N, &dist, (size_t)c->ny * 2 * DENSITY_D_N, &its, (size_t)c->ny * npdf, &px, (size_t)c->ny * npdf, &pd));
  PetscCall(SchedDescribe(&c->sch, desc, sizeof(desc)));
  PetscCall(H5ioCreate(comm, c->output, &io));
  PetscCall(H5ioWriteProvenance(&io, "pdediff density"));
  PetscCall(H5ioAttrString(&io, "/", "case", DensityCases[c->dcase]));
  PetscCall(H5ioAttrString(&io, "/", "formulation", c->key));
  PetscCall(H5ioAttrString(&io, "/", "formulation_description", desc));
  PetscCall(H5ioAttrString(&io, "/", "model", c->model_in[0] ? c->model_in : c->model));
  PetscCall(H5ioAttrInt(&io, "/", "model_reused", c->model_in[0] ? 1 : 0)); /* 1: -density_model_in, train_seconds 0 */
  PetscCall(H5ioAttrString(&io, "/", "sampler_start", SamplerStarts[c->so.start]));
  PetscCall(H5ioAttrInt(&io, "/", "n_train", c->n_train));
  PetscCall(H5ioAttrInt(&io, "/", "n_gen", c->n_gen));
  PetscCall(H5ioAttrInt(&io, "/", "n_ref", c->n_ref));
  PetscCall(H5ioAttrReal(&io, "/", "band_halfwidth", c->band));
  PetscCall(H5ioAttrInt(&io, "/", "data_seed", c->data_seed));
  if (!c->model_in[0]) { /* trained here; a reused model's seeds are in the cell file that trained it */
    PetscCall(H5ioAttrInt(&io, "/", "net_seed", c->init_seed));
    PetscCall(H5ioAttrInt(&io, "/", "train_seed", c->to.seed));
  }
  PetscCall(H5ioAttrInt(&io, "/", "train_epochs", sum->epochs));
  PetscCall(H5ioAttrInt(&io, "/", "train_steps", sum->steps));
  PetscCall(H5ioAttrReal(&io, "/", "train_final_loss", sum->final_loss));
  PetscCall(H5ioAttrReal(&io, "/", "train_seconds", times[0]));
  PetscCall(H5ioAttrReal(&io, "/", "sample_seconds", times[1]));
  PetscCall(H5ioAttrReal(&io, "/", "ot_seconds", times[2]));
  PetscCall(H5ioAttrInt(&io, "/", "score_evaluations_ode", evals[0]));
  PetscCall(H5ioAttrInt(&io, "/", "score_evaluations_sde", evals[1]));
  PetscCall(H5ioAttrReal(&io, "/", "sampler_sde_alpha", c->so.alpha));
  PetscCall(H5ioAttrReal(&io, "/", "sampler_sde_dtau", c->so.dtau));
  PetscCall(H5ioAttrReal(&io, "/", "sampler_sde_grid_power", c->so.grid_power));
  PetscCall(H5ioAttrInt(&io, "/", "sampler_denoise", c->so.denoise));
  PetscCall(H5ioAttrReal(&io, "/", "sampler_ode_rtol", c->so.rtol));
  PetscCall(H5ioAttrReal(&io, "/", "sampler_ode_atol", c->so.atol));
  PetscCall(H5ioAttrReal(&io, "/", "ot_reg", c->oo.reg));
  PetscCall(H5ioAttrReal(&io, "/", "ot_tol_euclidean", c->oo.tol));
  PetscCall(H5ioAttrReal(&io, "/", "ot_tol_sqeuclidean", c->sq_tol));
  PetscCall(H5ioAttrReal(&io, "/", "paper_table1_value", density_paper_value(c->dcase, c->key)));
  PetscCall(H5ioAttrString(&io, "/", "distance_columns", DensityDistNames));

  for (PetscInt k = 0; k < c->ny; k++) {
    ycopy[k] = c->yv[k];
    cnt[k]   = (PetscReal)yc[k].nband;
    acc[k]   = yc[k].accept;
    for (int q = 0; q < 2; q++)
      for (int j = 0; j < DENSITY_D_N; j++) {
        dist[((size_t)q * c->ny + k) * DENSITY_D_N + j] = yc[k].d[q][j];
        its[((size_t)q * c->ny + k) * DENSITY_D_N + j]  = (PetscReal)yc[k].it[q][j];
      }
  }
  PetscCall(H5ioWriteReplicated(&io, "y_values", c->ny, 0, ycopy, "y", "as Y", "the conditioning values Y = y"));
  PetscCall(H5ioWriteReplicated(&io, "band_count", c->ny, 0, cnt, "y", "points", "reference points with |Y - y| <= band_halfwidth"));
  PetscCall(H5ioWriteReplicated(&io, "exact_acceptance", c->ny, 0, acc, "y", "1", "acceptance rate of the exact conditional sampler (rejection for the spiral; 1 otherwise)"));
  PetscCall(H5ioWriteReplicated(&io, "ot_euclidean", c->ny, DENSITY_D_N, dist, "y,distance", "as X", "Sinkhorn transport cost <P,C>, C = |x - x'|, reg ot_reg; columns: distance_columns"));
  PetscCall(H5ioWriteReplicated(&io, "ot_sqeuclidean", c->ny, DENSITY_D_N, dist + (size_t)c->ny * DENSITY_D_N, "y,distance", "as X^2", "Sinkhorn transport cost <P,C>, C = (x - x')^2 (NaN: not computed); columns: distance_columns"));
  PetscCall(H5ioWriteReplicated(&io, "ot_iterations", 2 * c->ny, DENSITY_D_N, its, "cost*y,distance", "iterations", "Sinkhorn iterations: rows 0..ny-1 euclidean, ny..2ny-1 squared"));
  PetscCall(H5ioWriteReplicated(&io, "cell_euclidean", DENSITY_D_N, 0, avg[0], "distance", "as X", "average over the Y values of ot_euclidean: one Table 1 cell per column"));
  PetscCall(H5ioWriteReplicated(&io, "cell_sqeuclidean", DENSITY_D_N, 0, avg[1], "distance", "as X^2", "average over the Y values of ot_sqeuclidean"));
  for (int s = 0; s < 3; s++) {
    static const char *names[3] = {"samples_ode", "samples_sde", "exact_conditional"};
    static const char *descs[3] = {"generated samples of X | Y = y, probability-flow ODE sampler", "generated samples of X | Y = y, reverse SDE sampler (alpha sampler_sde_alpha)", "exact samples of X | Y = y (density.h)"};
    for (PetscInt k = 0; k < c->ny; k++) PetscCall(PetscArraycpy(buf + (size_t)k * c->n_gen, s < 2 ? yc[k].gen[s] : yc[k].exact_ref, c->n_gen));
    PetscCall(H5ioWriteReplicated(&io, names[s], c->ny, c->n_gen, buf, "y,sample", "as X", descs[s]));
  }
  { /* the bands, concatenated; band k is band[band_offset[k] .. band_offset[k+1]) */
    PetscReal *all;
    PetscCall(PetscMalloc1(PetscMax(nb, 1), &all));
    off[0] = 0;
    for (PetscInt k = 0; k < c->ny; k++) {
      PetscCall(PetscArraycpy(all + (PetscInt)off[k], yc[k].band, yc[k].nband));
      off[k + 1] = off[k] + yc[k].nband;
    }
    PetscCall(H5ioWriteReplicated(&io, "band", nb, 0, all, "point", "as X", "X of the reference points in the bands, band after band"));
    PetscCall(H5ioWriteReplicated(&io, "band_offset", c->ny + 1, 0, off, "y+1", "index", "band k is band[band_offset[k]:band_offset[k+1]]"));
    PetscCall(PetscFree(all));
  }
  for (PetscInt k = 0; k < c->ny; k++) { /* the exact conditional density on a grid over the samples' range */
    PetscReal lo = PETSC_MAX_REAL, hi = PETSC_MIN_REAL;
    for (PetscInt i = 0; i < c->n_gen; i++) {
      lo = PetscMin(lo, yc[k].exact_ref[i]);
      hi = PetscMax(hi, yc[k].exact_ref[i]);
    }
    lo -= 0.1 * (hi - lo);
    hi += 0.1 * (hi - lo);
    for (PetscInt i = 0; i < npdf; i++) {
      px[(size_t)k * npdf + i] = lo + (hi - lo) * i / (npdf - 1);
      pd[(size_t)k * npdf + i] = density_conditional_pdf(c->dcase, c->yv[k], px[(size_t)k * npdf + i], 4000);
    }
  }
  PetscCall(H5ioWriteReplicated(&io, "pdf_x", c->ny, npdf, px, "y,point", "as X", "grid for the exact conditional density"));
  PetscCall(H5ioWriteReplicated(&io, "pdf", c->ny, npdf, pd, "y,point", "1/X", "exact conditional density p(x | Y = y) on pdf_x"));
  /* the training joint (Figure 1) */
  PetscCall(H5ioWriteRows(&io, "train_x", c->n_train, 0, ts->first, ts->nlocal, ts->x, "sample", "as X", "X of the training joint samples"));
  PetscCall(H5ioWriteRows(&io, "train_y", c->n_train, 0, ts->first, ts->nlocal, ts->y, "sample", "as Y", "Y of the training joint samples"));
  PetscCall(H5ioCommit(&io));
  PetscCall(PetscFree4(buf, off, cnt, acc));
  PetscCall(PetscFree5(ycopy, dist, its, px, pd));
  PetscFunctionReturn(0);
}

static PetscErrorCode DestroyY(PetscInt ny, DensityY yc[])
{
  PetscFunctionBeginUser;
  for (PetscInt k = 0; k < ny; k++) {
    PetscCall(PetscFree(yc[k].band));
    PetscCall(PetscFree3(yc[k].exact_floor, yc[k].exact_ref, yc[k].exact_ref2));
    PetscCall(PetscFree(yc[k].gen[0]));
    PetscCall(PetscFree(yc[k].gen[1]));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode CmdDensity(MPI_Comm comm, int nargs, char **args, int *status)
{
  DensityCtx        c;
  DensityY          yc[DENS_MAX_Y];
  DensityTrainSet   ts;
  Model             model;
  ModelTrainSummary sum;
  PetscBool         interrupted = PETSC_FALSE;
  PetscInt64        evals[2];
  PetscReal         times[3] = {0, 0, 0}, avg[2][DENSITY_D_N] = {{0}}, paper;
  PetscLogDouble    t0, t1, tstart;
  PetscLogStage     st_ref, st_train, st_sample, st_ot;
  char              desc[256], pbuf[64];
  int               size;

  PetscFunctionBeginUser;
  PetscCall(ProcessOptions(comm, &c));
  if (c.help) PetscFunctionReturn(0);
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMemzero(yc, sizeof(yc)));
  PetscCall(PetscLogStageRegister("Density reference", &st_ref));
  PetscCall(PetscLogStageRegister("Density train", &st_train));
  PetscCall(PetscLogStageRegister("Density sample", &st_sample));
  PetscCall(PetscLogStageRegister("Density OT", &st_ot));
  PetscCall(SchedDescribe(&c.sch, desc, sizeof(desc)));
  PetscCall(PetscPrintf(comm, "density: case %s, formulation %s (%s), %" PetscInt_FMT " training samples, %" PetscInt_FMT " generated per Y and sampler, band +-%g of %" PetscInt_FMT " reference points, %d rank(s)\n", DensityCases[c.dcase], c.key, desc, c.n_train, c.n_gen, (double)c.band, c.n_ref, size));
  PetscCall(PetscTime(&tstart));
  PetscCall(PrepareOutput(comm, &c));

  PetscCall(PetscLogStagePush(st_ref));
  PetscCall(BuildReference(comm, &c, yc));
  PetscCall(PetscLogStagePop());
  for (PetscInt k = 0; k < c.ny; k++) PetscCall(PetscPrintf(comm, "density: Y = %g: %" PetscInt_FMT " band points, exact conditional acceptance %.3f\n", (double)c.yv[k], yc[k].nband, (double)yc[k].accept));

  PetscCall(PetscLogStagePush(st_train));
  if (c.model_in[0]) PetscCall(LoadCellModel(comm, &c, &ts, &model, &sum));
  else PetscCall(TrainCell(comm, &c, &ts, &model, &sum, &interrupted));
  PetscCall(PetscLogStagePop());
  times[0] = sum.seconds;
  if (interrupted) {
    PetscCall(PetscPrintf(comm, "density: interrupted by a signal during training at step %lld: nothing written (rerun the cell; exit status %d)\n", (long long)sum.steps, PDEDIFF_EXIT_INTERRUPTED));
    *status = PDEDIFF_EXIT_INTERRUPTED;
    PetscCall(PetscFree2(ts.x, ts.y));
    PetscCall(ModelDestroy(&model));
    PetscCall(DestroyY(c.ny, yc));
    PetscFunctionReturn(0);
  }
  if (c.model_in[0]) PetscCall(PetscPrintf(comm, "density: sampling %s (trained %lld steps, mean loss of the last epoch %.5f); no training\n", c.model_in, (long long)sum.steps, (double)sum.final_loss));
  else {
    PetscCall(PetscPrintf(comm, "density: trained %lld steps in %.1f s, mean loss of the last epoch %.5f\n", (long long)sum.steps, (double)sum.seconds, (double)sum.final_loss));
    PetscCall(ModelSave(comm, &model, &sum, c.model));
  }

  PetscCall(PetscLogStagePush(st_sample));
  PetscCall(SampleCell(comm, &c, &model, yc, evals, &times[1]));
  PetscCall(PetscLogStagePop());
  PetscCall(PetscPrintf(comm, "density: sampled in %.1f s: %.1f (ODE) and %.1f (SDE) score evaluations per sample\n", (double)times[1], (double)evals[0] / (c.ny * c.n_gen), (double)evals[1] / (c.ny * c.n_gen)));

  PetscCall(PetscLogStagePush(st_ot));
  PetscCall(PetscTime(&t0));
  PetscCall(PetscPrintf(comm, "density: Sinkhorn distances (reg %g); floor = band vs an exact sample of its size; exact = vs %" PetscInt_FMT " exact samples\n", (double)c.oo.reg, c.n_gen));
  PetscCall(PetscPrintf(comm, "  %8s %6s | %-35s | %-26s | %s\n", "Y", "band", "|x-x'|: ODE     SDE     floor", "vs exact: ODE SDE floor", "(x-x')^2: ODE SDE floor"));
  for (PetscInt k = 0; k < c.ny; k++) {
    PetscCall(DistancesY(comm, &c, &yc[k]));
    PetscCall(PetscPrintf(comm, "  %8g %6" PetscInt_FMT " | %.5f %.5f %.5f (ODE %.2fx) | %.5f %.5f %.5f | %.5f %.5f %.5f\n", (double)c.yv[k], yc[k].nband, (double)yc[k].d[0][DENSITY_D_ODE_BAND], (double)yc[k].d[0][DENSITY_D_SDE_BAND], (double)yc[k].d[0][DENSITY_D_FLOOR], (double)(yc[k].d[0][DENSITY_D_ODE_BAND] / yc[k].d[0][DENSITY_D_FLOOR]), (double)yc[k].d[0][DENSITY_D_ODE_EXACT], (double)yc[k].d[0][DENSITY_D_SDE_EXACT], (double)yc[k].d[0][DENSITY_D_EXACT_FLOOR], (double)yc[k].d[1][DENSITY_D_ODE_BAND], (double)yc[k].d[1][DENSITY_D_SDE_BAND], (double)yc[k].d[1][DENSITY_D_FLOOR]));
    for (int q = 0; q < 2; q++)
      for (int j = 0; j < DENSITY_D_N; j++) avg[q][j] += yc[k].d[q][j] / c.ny;
  }
  PetscCall(PetscTime(&t1));
  PetscCall(PetscLogStagePop());
  times[2] = t1 - t0;
  paper    = density_paper_value(c.dcase, c.key);
  if (PetscIsNanReal(paper)) PetscCall(PetscStrncpy(pbuf, "none (new formulation)", sizeof(pbuf)));
  else PetscCall(PetscSNPrintf(pbuf, sizeof(pbuf), "%.3f", (double)paper));
  PetscCall(PetscPrintf(comm, "density: cell %s %s, |x-x'| averaged over Y: ODE %.5f, SDE %.5f, floor %.5f (ODE %.2fx floor); paper %s\n", DensityCases[c.dcase], c.key, (double)avg[0][DENSITY_D_ODE_BAND], (double)avg[0][DENSITY_D_SDE_BAND], (double)avg[0][DENSITY_D_FLOOR], (double)(avg[0][DENSITY_D_ODE_BAND] / avg[0][DENSITY_D_FLOOR]), pbuf));
  PetscCall(PetscPrintf(comm, "density: cell %s %s, vs exact samples: ODE %.5f, SDE %.5f, floor %.5f; (x-x')^2 vs band: ODE %.5f, SDE %.5f, floor %.5f\n", DensityCases[c.dcase], c.key, (double)avg[0][DENSITY_D_ODE_EXACT], (double)avg[0][DENSITY_D_SDE_EXACT], (double)avg[0][DENSITY_D_EXACT_FLOOR], (double)avg[1][DENSITY_D_ODE_BAND], (double)avg[1][DENSITY_D_SDE_BAND], (double)avg[1][DENSITY_D_FLOOR]));

  PetscCall(WriteCell(comm, &c, yc, &ts, &sum, times, evals, avg));
  PetscCall(PetscTime(&t1));
  PetscCall(PetscPrintf(comm, "density: wrote %s and %s%s; wall %.1f s (train %.1f, sample %.1f, OT %.1f) on %d rank(s)\n", c.output, c.model_in[0] ? "sampled " : "", c.model_in[0] ? c.model_in : c.model, t1 - tstart, (double)times[0], (double)times[1], (double)times[2], size));
  PetscCall(PetscFree2(ts.x, ts.y));
  PetscCall(ModelDestroy(&model));
  PetscCall(DestroyY(c.ny, yc));
  PetscFunctionReturn(0);
}
