/* model: a trained conditional score network as one self-describing object, and its file.
 *
 * A Model is what sampling needs and all of it: the MLP architecture and weights, the data
 * dimensions (n_x, n_y, whether the sensor mask m is a network input, 5.2.1), the forward
 * process it was trained for (Sched: VE, VP or xi^p with its parameters), and the min-max
 * normalisation of x and y computed on the training set (DESIGN.md section 5), so that
 * sampling works in the same coordinates as training:
 *   x_n = (x - x_lo) / (x_hi - x_lo),  y_n = (y - y_lo) / (y_hi - y_lo)   (per component)
 * A component whose training range is empty (hi = lo) is only shifted (scale 1).
 * With normalisation "none" lo = 0 and hi = 1.
 *
 * Network condition row c = [y_n (n_y) | m (n_y, only with the mask)]; the network input row is
 * [x_n | c | f(t)] (dsm.h) and its output is the score of the normalised variable, or with
 * -net_output noise the noise z of x_t (s = -out / sigma(t), dsm.h).
 *
 * File (format "pdediff-model", format_version 1): root attributes format, format_version,
 * architecture, time_embed (and time_embed_id; absent = paper), net_output (and net_output_id;
 * absent = score), n_x, n_y, mask, normalization, sde_type (string and int), sde_T, sde_eps,
 * sde_sigma_max, sde_beta_min, sde_beta_max, sde_p, the measurement model (meas.h); datasets layer_widths, params (float32),
 * x_lo, x_hi (n_x), y_lo, y_hi (n_y); plus provenance (h5io.h). A training checkpoint holds all
 * of this too, so a checkpoint can be sampled like a model. */
#ifndef PDEDIFF_MODEL_H
#define PDEDIFF_MODEL_H
#include "dsm.h"
#include "h5io.h"
#include "meas.h"
#include "mlp.h"
#include "sampler.h"
#include "schedule.h"

typedef enum { MODEL_NORM_NONE = 0, MODEL_NORM_MINMAX = 1 } ModelNorm;
extern const char *const ModelNorms[];

typedef struct {
  PetscInt   nx, ny;
  PetscBool  mask;   /* the sensor mask is a network input (ncond = 2 ny) */
  PetscInt   ncond;  /* network condition width: ny or 2 ny */
  ModelNorm  norm;
  PetscReal *x_lo, *x_hi, *y_lo, *y_hi;
  PetscReal *x_mean;     /* training-set mean of the normalised x (nx): -sampler_start mean */
  PetscBool  has_x_mean; /* false for model files written before it was recorded */
  Sched      sch;
  MlpArch    arch;
  DsmParam   par;    /* time embedding and output of the network (dsm.h); files without them: the paper's */
  float     *params; /* arch.nparams, owned */
  Meas       meas;   /* the measurement model it was trained for (noise level, range, masks) */
  PetscInt64 train_pairs; /* a saved model's n_train: the pairs it trained on (rows x -mask_copies); -1: not recorded */
} Model;

/* A model for n_x-dimensional x conditioned on n_y-dimensional y (n_y may be 0), with
   hidden_layers hidden layers of hidden_width units; weights initialised from init_seed
   (PyTorch's default), normalisation identity until ModelSetNormalization; the paper's
   parametrisation ((A.1), score output) until the caller sets m->par. */
PetscErrorCode ModelCreate(PetscInt nx, PetscInt ny, PetscBool mask, PetscInt hidden_layers, PetscInt hidden_width, const Sched *sch, PetscInt init_seed, Model *m);
PetscErrorCode ModelDestroy(Model *m);

/* Collective. Training-set extrema over all ranks' rows (x: nlocal x nx, y: nlocal x ny, float)
   for the given normalisation, and the mean of the normalised x. */
PetscErrorCode ModelSetNormalization(MPI_Comm comm, Model *m, ModelNorm norm, PetscInt nlocal, const float x[], const float y[]);
/* In place, n rows. */
void ModelNormalizeX(const Model *m, PetscInt n, float x[]);
void ModelNormalizeY(const Model *m, PetscInt n, PetscInt ld, float y[]); /* ld: row stride */
void ModelNormalizeYReal(const Model *m, PetscInt n, PetscReal y[]);
void ModelDenormalizeXReal(const Model *m, PetscInt n, PetscReal x[]);

/* The network condition row of one measurement: cond[ncond] = [y_n | m] with y_n the normalised
   y (physical units in) and, for a mask model, off sensors (mask[j] = 0) set to -1 (5.2.1).
   mask may be NULL (every sensor on). */
/* Point the sampler options at the model's x_mean when -sampler_start mean; an error naming the
   model file and the fix if the model has none. Collective only in that the message is. */
PetscErrorCode ModelSamplerStart(MPI_Comm comm, const Model *m, const char path[], SamplerOpts *o);
void model_condition(const Model *m, const PetscReal y[], const PetscReal mask[], PetscReal cond[]);

/* Write the model's attributes and datasets into an open file (collective); params may differ
   from m->params (a trainer's live weights). */
PetscErrorCode ModelWriteH5(H5io *io, const Model *m, const float params[]);
/* Read a model from an open file (a model or a checkpoint); errors name the file. */
PetscErrorCode ModelReadH5(H5io *io, Model *m);
/* The network's parametrisation (time embedding, output) as root attributes of an open file;
   ModelWriteH5/ModelReadH5 and checkpoints without a model use them. Absent = the paper's. */
PetscErrorCode ModelWriteParamH5(H5io *io, DsmParam par);
PetscErrorCode ModelReadParamH5(H5io *io, DsmParam *par);
/* Whether two models were built for the same data, architecture, network parametrisation
   (time embedding, output), process and normalisation; if not, why[] says what differs. */
PetscErrorCode ModelCompatible(const Model *a, const Model *b, PetscBool *same, char why[], size_t len);

/* Collective. Whole files: written crash-safe (PATH.partial, renamed); the training summary
   (epochs, steps, final loss, seconds) is recorded as attributes when given (summary != NULL). */
typedef struct {
  PetscInt64 epochs, steps;
  PetscReal  final_loss, seconds; /* seconds: wall time of the training steps, over every resumed run */
  PetscInt64 seconds_steps;        /* the steps seconds covers: steps, fewer after a checkpoint that kept no time */
  PetscInt   train_seed, n_train;
  PetscReal  ema_decay; /* -train_ema: params are the moving average of the weights when > 0 */
  PetscReal  t_power;   /* -train_t_power: the law of the training times (1: uniform) */
  PetscInt   density_case; /* pdediff density: the Table 1 case (DensityCase) trained on; -1: none */
} ModelTrainSummary;
PetscErrorCode ModelSave(MPI_Comm comm, const Model *m, const ModelTrainSummary *summary, const char path[]);
PetscErrorCode ModelLoad(MPI_Comm comm, const char path[], Model *m);

/* The network as a sampler score (ScoreFn of sampler.h): x and cond in normalised units,
   evaluated in single precision in chunks of up to maxB rows. */
typedef struct {
  const Model *m;
  PetscInt     maxB;
  float       *in, *out;
  MlpWork_f    w;
} ModelScoreCtx;
PetscErrorCode ModelScoreCtxCreate(const Model *m, PetscInt maxB, ModelScoreCtx *ctx);
PetscErrorCode ModelScoreCtxDestroy(ModelScoreCtx *ctx);
PetscErrorCode ModelScore(void *ctx, PetscInt n, const PetscReal t[], const PetscReal x[], const PetscReal cond[], PetscReal score[]);
/* A ScoreModel (sampler.h) that evaluates ctx's network. */
void ModelScoreModel(ModelScoreCtx *ctx, ScoreModel *sm);

#endif
