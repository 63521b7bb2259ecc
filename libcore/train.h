/* train: data-parallel training of the score network on the DSM loss (48) (paper Sec. 4.2).
 *
 * Every rank holds a contiguous shard of the N training pairs. Step k of epoch e takes the
 * global batch perm_e[j B .. (j+1) B) of a permutation of 0..N-1 keyed by (seed, epoch); each rank
 * computes the gradient of the members that lie in its shard, with t ~ U(eps, T) and z ~ N(0, I)
 * drawn from streams keyed by (seed, step, global sample index), scaled by 1/|batch|. One
 * MPI_Allreduce on one flat buffer (the gradient plus the loss sum in its last slot) gives every
 * rank the global-batch gradient, and every rank applies the same Adam update: the weights stay
 * bitwise identical on all ranks, and the batches, times and noises do not depend on the number
 * of ranks (only the floating-point summation order does). */
#ifndef PDEDIFF_TRAIN_H
#define PDEDIFF_TRAIN_H
#include "adam.h"
#include "dsm.h"
#include "h5io.h"
#include "model.h"

#include "jobsig.h" /* PDEDIFF_EXIT_INTERRUPTED */

typedef struct {
  PetscInt  epochs;       /* passes over the training set (paper: 10,000) */
  PetscInt  batch;        /* global batch size (paper: 1000) */
  PetscInt  seed;         /* keys the permutations, times and noises */
  PetscReal log_interval; /* seconds between progress lines (0 = every epoch) */
  PetscReal ckpt_interval;/* seconds between checkpoints (0: only at the end and on a signal) */
  PetscInt64 test_signal_step; /* testing: the last rank raises SIGUSR1 at this step (-1: never) */
  PetscReal ema_decay;    /* exponential moving average of the weights (0: off), beyond the paper */
  PetscReal t_power;      /* t = eps + (T - eps) u^p, u ~ U(0, 1): 1 is the paper's U(eps, T) */
  DsmParam  par;          /* -net_time_embed, -net_output: the network's parametrisation (dsm.h);
                             the caller records it in the Model it saves (Model.par) */
} TrainOpts;

typedef enum { TRAIN_RUNNING = 0, TRAIN_DONE = 1, TRAIN_INTERRUPTED = 2 } TrainState;

typedef struct {
  PetscInt64   N;      /* global number of pairs */
  PetscInt64   first;  /* global index of this rank's first row */
  PetscInt     nlocal; /* rows held here */
  PetscInt     nx, ncond;
  const float *x;      /* nlocal x nx clean samples */
  const float *c;      /* nlocal x ncond conditions (NULL if ncond = 0) */
} TrainData;

typedef struct {
  MPI_Comm   comm;
  MlpArch    arch;
  float     *params;  /* the weights Adam updates */
  float     *ema;     /* their exponential moving average (NULL when ema_decay = 0) */
  PetscReal  ema_decay;
  Adam       adam;
  PetscInt64 step;  /* optimisation steps taken */
  PetscReal  seconds;     /* wall seconds of those steps, summed over every run resumed from a checkpoint */
  PetscInt64 steps_timed; /* the steps seconds covers: step, unless a resumed checkpoint kept no time */
  PetscReal  last_loss;
  PetscReal  epoch_loss;      /* mean loss over the last complete epoch (NaN before one) */
  PetscReal  epoch_loss_sum;  /* running sum over the current epoch */
  PetscInt64 epoch_loss_n;
  TrainState state;           /* TRAIN_INTERRUPTED after a signal stopped TrainerSteps */
  PetscInt   signal;          /* the signal this rank received (0 if another rank got it) */
  /* checkpointing (TrainerSetCheckpoint) */
  const Model *meta;          /* data dims, process, normalisation written with the weights */
  char       ckpt_path[PETSC_MAX_PATH_LEN];
  PetscInt   nckpt;           /* checkpoints written by this trainer */
  /* work */
  DsmWork    dw;
  float     *gbuf;  /* nparams + 3: gradient, loss sum, signal flag, checkpoint-due flag */
  float     *bx, *bc, *bz;
  PetscReal *bt;
  PetscInt  *perm;  /* permutation of the current epoch */
  PetscInt   perm_epoch;
  /* called at the first step of every epoch (and of a resumed run) before its batches are drawn */
  PetscErrorCode (*epoch_hook)(void *ctx, PetscInt64 epoch);
  void *epoch_ctx;
} Trainer;

PetscErrorCode TrainOptsSetDefaults(TrainOpts *o);
/* -train_epochs, -train_batch, -train_seed, -train_log_interval, -train_checkpoint_interval,
   -train_ema, -train_t_power, -net_time_embed, -net_output; validated. */
PetscErrorCode TrainOptsSetFromOptions(MPI_Comm comm, const char prefix[], TrainOpts *o);

/* The diffusion time of one loss term from a uniform u in [0, 1): t = eps + (T - eps) u^p.
   p = 1 is the paper's t ~ U(eps, T) (bitwise: u is not raised to a power). p > 1 has density
   proportional to (t - eps)^(1/p - 1): with p = 3, 37% of the terms have t < 0.05 instead of 5%.
   Why (beyond the paper): at small measurement noise the posterior is narrow, and its width is
   set by the score at sigma(t) of the order of the posterior std, i.e. small t, which U(eps, T)
   visits rarely. The minimiser of (48) is the true score for every p; p only moves the finite
   network's accuracy towards small t. */
PetscReal train_draw_t(const Sched *sch, PetscReal p, double u);

/* Collective. A network with the given architecture initialised from init_seed (same on all ranks). */
PetscErrorCode TrainerCreate(MPI_Comm comm, const MlpArch *a, PetscInt init_seed, const AdamOpts *ao, const TrainData *d, const TrainOpts *o, Trainer *tr);
PetscErrorCode TrainerDestroy(Trainer *tr);
/* The weights a sampler should use: the moving average when -train_ema is on, else the trained
   weights. Why an average (Polyak; score_sde keeps one at 0.999-0.9999): with the paper's
   constant learning rate the last iterate carries the SGD noise of its last few hundred steps,
   which widens narrow posteriors; the average over ~1/(1 - decay) steps removes most of it at no
   training cost. Update after Adam step s (s = 1, 2, ...):
     ema = d_s ema + (1 - d_s) params,  d_s = min(decay, (1 + s)/(10 + s)),
   the warm-up (TensorFlow's num_updates rule) so that the average forgets the random
   initialisation within the first steps. */
const float *TrainerWeights(const Trainer *tr);
/* Where (and with which model description) checkpoints go: at every ckpt_interval seconds and
   when a signal stops training. path "" disables checkpoints. meta (may be NULL) supplies the
   data dimensions, forward process and normalisation, making a checkpoint loadable as a model. */
PetscErrorCode TrainerSetCheckpoint(Trainer *tr, const Model *meta, const char path[]);
/* hook(ctx, epoch) runs on every rank when training enters an epoch, and again for the epoch a
   resumed run starts in, so it must depend on the epoch alone (e.g. redraw the training set's
   measurement noise and masks in place, keyed by epoch: restarts stay bitwise exact). */
PetscErrorCode TrainerSetEpochHook(Trainer *tr, PetscErrorCode (*hook)(void *ctx, PetscInt64 epoch), void *ctx);
/* Collective. Take nsteps steps (continuing from tr->step); loss[k] (if not NULL) receives the
   global-batch mean loss of each step. Progress lines on rank 0 every log_interval seconds.
   SIGTERM and SIGUSR1 (what SLURM sends before a time limit) are caught while it runs: the flag
   travels in the gradient MPI_Allreduce, so every rank stops after the same step; the trainer
   writes its checkpoint, sets tr->state = TRAIN_INTERRUPTED and returns (the caller exits with
   PDEDIFF_EXIT_INTERRUPTED). A non-finite loss or gradient is an error naming the step, raised
   before the update, so no checkpoint with it is ever written. */
PetscErrorCode TrainerSteps(Trainer *tr, const Sched *sch, const TrainData *d, const TrainOpts *o, PetscInt64 nsteps, PetscReal loss[]);
/* From now on SIGTERM/SIGUSR1 only set the flag TrainerSteps reads (instead of PETSc's abort): a
   program that trains calls it first, so a signal during start-up or data loading (a job started
   close to its time limit) stops training after the first step with a checkpoint, not a crash. */
PetscErrorCode TrainSignalsCatch(void);
/* Collective. Write a restartable checkpoint: weights, Adam moments and step, the training step,
   the seed (with the step it is the whole random state: every draw is keyed by (seed, step,
   sample)), the architecture and provenance. With a moving average, the model part of the file
   (params) holds the weights a sampler should use (TrainerWeights) and the trained weights go
   to train_params, so a checkpoint samples like the final model. Written to PATH.partial and
   renamed, so the previous checkpoint under PATH survives any failure. */
PetscErrorCode TrainerSaveCheckpoint(Trainer *tr, const TrainOpts *o, const char path[]);
/* Collective. Restore a trainer created with the same architecture and seed; a checkpoint of a
   different architecture or seed is an error that names both. A checkpoint without a moving
   average restored into a trainer with one starts the average at the restored weights (said on
   stdout); one with an average restored into a trainer without one drops it. */
PetscErrorCode TrainerLoadCheckpoint(Trainer *tr, const TrainOpts *o, const char path[]);

/* Steps in one epoch: ceil(N / batch). */
PetscInt64 train_steps_per_epoch(const TrainData *d, const TrainOpts *o);

/* Index of the first Inf or NaN of v[0..n-1], -1 if none: the trainer's check of every step's
   summed gradient before the weights are updated. */
PetscInt64 train_first_nonfinite(PetscInt64 n, const float v[]);

#endif
