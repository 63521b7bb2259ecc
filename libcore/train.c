#include "train.h"
#include "jobsig.h"
#include "rng.h"
#include <math.h>
#include <string.h>

/* SIGTERM/SIGUSR1 are read once per step through jobsig's flag (a signal caught early by
   TrainSignalsCatch is kept: training stops after its first step). */
PetscErrorCode TrainSignalsCatch(void)
{
  PetscFunctionBeginUser;
  PetscCall(JobSignalsCatch(NULL));
  PetscFunctionReturn(0);
}

static PetscLogEvent TRAIN_STEP_EVENT, TRAIN_ALLREDUCE_EVENT;

static PetscErrorCode TrainRegisterEvents(void)
{
  static PetscBool done = PETSC_FALSE;
  PetscClassId     cls;

  PetscFunctionBeginUser;
  if (done) PetscFunctionReturn(0);
  PetscCall(PetscClassIdRegister("pdediff train", &cls));
  PetscCall(PetscLogEventRegister("TrainStep", cls, &TRAIN_STEP_EVENT));
  PetscCall(PetscLogEventRegister("TrainAllreduce", cls, &TRAIN_ALLREDUCE_EVENT));
  done = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode TrainOptsSetDefaults(TrainOpts *o)
{
  PetscFunctionBeginUser;
  o->epochs       = 10000;
  o->batch        = 1000;
  o->seed         = 0;
  o->log_interval = 10.0;
  o->ckpt_interval = 0;
  o->test_signal_step = -1;
  o->ema_decay    = 0;
  o->t_power      = 1;
  o->par          = dsm_param_paper();
  PetscFunctionReturn(0);
}

PetscErrorCode TrainOptsSetFromOptions(MPI_Comm comm, const char prefix[], TrainOpts *o)
{
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "Training (Appendix A: 10,000 epochs, batch 1000)", "train");
  PetscCall(PetscOptionsInt("-train_epochs", "Epochs (passes over the training set)", "train", o->epochs, &o->epochs, NULL));
  PetscCall(PetscOptionsInt("-train_batch", "Global batch size (split over the ranks)", "train", o->batch, &o->batch, NULL));
  PetscCall(PetscOptionsInt("-train_seed", "Seed of the batch permutations, diffusion times and noises", "train", o->seed, &o->seed, NULL));
  PetscCall(PetscOptionsReal("-train_log_interval", "Seconds between progress lines", "train", o->log_interval, &o->log_interval, NULL));
  PetscCall(PetscOptionsReal("-train_checkpoint_interval", "Seconds between checkpoints (0: only at the end and on SIGTERM/SIGUSR1)", "train", o->ckpt_interval, &o->ckpt_interval, NULL));
  {
    PetscInt ts = (PetscInt)o->test_signal_step;
    PetscCall(PetscOptionsInt("-train_test_signal_step", "Testing: the last rank raises SIGUSR1 at this step (-1: never)", "train", ts, &ts, NULL));
    o->test_signal_step = ts;
  }
  PetscCall(PetscOptionsReal("-train_ema", "Decay of the moving average of the weights that sampling uses (0: off, the paper; e.g. 0.999)", "train", o->ema_decay, &o->ema_decay, NULL));
  PetscCall(PetscOptionsReal("-train_t_power", "Draw t = eps + (T - eps) u^p, u ~ U(0, 1): 1 = the paper's U(eps, T); p > 1 trains more on small t", "train", o->t_power, &o->t_power, NULL));
  PetscCall(PetscOptionsEnum("-net_time_embed", "Time embedding of the network input: paper = (A.1); logsigma = its first entry ln(sigma(t))/4 (resolves small t)", "train", DsmEmbeds, (PetscEnum)o->par.embed, (PetscEnum *)&o->par.embed, NULL));
  PetscCall(PetscOptionsEnum("-net_output", "What the network outputs: score = the score (the paper); noise = the noise z of x_t, score = -output/sigma(t) (unit scale at every t); edm = EDM's preconditioned denoiser, x0 above -net_sigma_skip, the noise below", "train", DsmOutputs, (PetscEnum)o->par.output, (PetscEnum *)&o->par.output, NULL));
  PetscCall(PetscOptionsReal("-net_sigma_data", "-net_output edm: the data's std in normalised units (0: the training set's)", "train", o->par.sigma_data, &o->par.sigma_data, NULL));
  PetscCall(PetscOptionsReal("-net_sigma_skip", "-net_output edm: the noise std s^ = sigma/m below which the network predicts the noise and above which x0 (0: -net_sigma_data, EDM's)", "train", o->par.sigma_skip, &o->par.sigma_skip, NULL));
  PetscOptionsEnd();
  PetscCheck(o->par.sigma_data >= 0 && o->par.sigma_skip >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-net_sigma_data %g, -net_sigma_skip %g: must be >= 0 (0: from the training set)", (double)o->par.sigma_data, (double)o->par.sigma_skip);
  PetscCheck(o->par.output == DSM_OUTPUT_EDM || (o->par.sigma_data == 0 && o->par.sigma_skip == 0), comm, PETSC_ERR_ARG_INCOMP, "-net_sigma_data / -net_sigma_skip are the scales of -net_output edm, but the output is %s: add -net_output edm or drop them", DsmOutputs[o->par.output]);
  PetscCheck(o->t_power >= 1 && o->t_power <= 10, comm, PETSC_ERR_ARG_OUTOFRANGE, "-train_t_power %.6g: must be in [1, 10] (1 is the paper's uniform t; 2 or 3 put a quarter or a third of the loss below t = 0.05)", (double)o->t_power);
  PetscCheck(o->ema_decay >= 0 && o->ema_decay < 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-train_ema %g: the decay of the moving average must be in [0, 1) (0 turns it off; 0.999 averages over about 1000 steps)", (double)o->ema_decay);
  PetscCheck(o->epochs > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-train_epochs %" PetscInt_FMT ": must be > 0", o->epochs);
  PetscCheck(o->batch > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-train_batch %" PetscInt_FMT ": must be > 0", o->batch);
  PetscCheck(o->seed >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-train_seed %" PetscInt_FMT ": must be >= 0", o->seed);
  PetscCheck(o->log_interval >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-train_log_interval %g: must be >= 0", (double)o->log_interval);
  PetscCheck(o->ckpt_interval >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-train_checkpoint_interval %g: must be >= 0 seconds", (double)o->ckpt_interval);
  PetscFunctionReturn(0);
}

PetscReal train_draw_t(const Sched *sch, PetscReal p, double u)
{
  return sch->eps + (sch->T - sch->eps) * (p == 1 ? u : pow(u, (double)p));
}

PetscInt64 train_steps_per_epoch(const TrainData *d, const TrainOpts *o)
{
  return (d->N + o->batch - 1) / o->batch;
}

PetscErrorCode TrainerCreate(MPI_Comm comm, const MlpArch *a, PetscInt init_seed, const AdamOpts *ao, const TrainData *d, const TrainOpts *o, Trainer *tr)
{
  PetscInt64 Ng;
  PetscInt64 nl = d->nlocal;

  PetscFunctionBeginUser;
  PetscCall(TrainRegisterEvents());
  PetscCallMPI(MPI_Allreduce(&nl, &Ng, 1, MPIU_INT64, MPI_SUM, comm));
  PetscCheck(Ng == d->N, comm, PETSC_ERR_ARG_SIZ, "Training shards hold %" PetscInt64_FMT " rows in all but the data set has %" PetscInt64_FMT, Ng, d->N);
  PetscCheck(d->N <= PETSC_MAX_INT, comm, PETSC_ERR_ARG_OUTOFRANGE, "Training set of %" PetscInt64_FMT " pairs exceeds the 32-bit index range", d->N);
  tr->comm       = comm;
  tr->arch       = *a;
  tr->step       = 0;
  tr->seconds    = 0;
  tr->steps_timed = 0;
  tr->last_loss  = NAN;
  tr->epoch_loss = NAN;
  tr->epoch_loss_sum = 0;
  tr->epoch_loss_n   = 0;
  tr->state      = TRAIN_RUNNING;
  tr->signal     = 0;
  tr->meta       = NULL;
  tr->ckpt_path[0] = 0;
  tr->nckpt      = 0;
  tr->perm_epoch = -1;
  tr->epoch_hook = NULL;
  tr->epoch_ctx  = NULL;
  PetscCall(PetscMalloc1(a->nparams, &tr->params));
  PetscCall(MlpInitParams_f(a, (uint64_t)init_seed, tr->params));
  tr->ema       = NULL;
  tr->ema_decay = o->ema_decay;
  if (o->ema_decay > 0) {
    PetscCall(PetscMalloc1(a->nparams, &tr->ema));
    PetscCall(PetscArraycpy(tr->ema, tr->params, a->nparams));
  }
  PetscCall(AdamCreate(ao, a->nparams, &tr->adam));
  PetscCall(AdamOptsSetLength(&tr->adam.o, o->epochs, train_steps_per_epoch(d, o))); /* length of a cosine or step schedule */
  const PetscInt B = (PetscInt)PetscMin((PetscInt64)o->batch, d->N); /* most rows one rank can get */
  PetscCall(DsmWorkCreate(a, d->nx, d->ncond, o->par, PetscMax(B, 1), &tr->dw));
  PetscCall(PetscMalloc1(a->nparams + 3, &tr->gbuf));
  PetscCall(PetscMalloc5((size_t)B * d->nx, &tr->bx, (size_t)B * PetscMax(d->ncond, 1), &tr->bc, (size_t)B * d->nx, &tr->bz, B, &tr->bt, d->N, &tr->perm));
  PetscFunctionReturn(0);
}

PetscErrorCode TrainerDestroy(Trainer *tr)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(tr->params));
  PetscCall(PetscFree(tr->ema));
  PetscCall(AdamDestroy(&tr->adam));
  PetscCall(DsmWorkDestroy(&tr->dw));
  PetscCall(PetscFree(tr->gbuf));
  PetscCall(PetscFree5(tr->bx, tr->bc, tr->bz, tr->bt, tr->perm));
  PetscFunctionReturn(0);
}

const float *TrainerWeights(const Trainer *tr)
{
  return tr->ema ? tr->ema : tr->params;
}

/* The moving average after Adam step s (1, 2, ...): see TrainerWeights in train.h. */
static void EmaUpdate(Trainer *tr, PetscInt64 s)
{
  const double d = PetscMin((double)tr->ema_decay, (1.0 + (double)s) / (10.0 + (double)s)), e = 1.0 - d;
  for (PetscInt64 i = 0; i < tr->arch.nparams; i++) tr->ema[i] = (float)(d * tr->ema[i] + e * tr->params[i]);
}

/* Fisher-Yates shuffle keyed by (seed, epoch): the same on every rank. */
static void EpochPermutation(PetscInt64 N, PetscInt seed, PetscInt64 epoch, PetscInt perm[])
{
  RngStream s;
  rng_stream_init(&s, (uint64_t)seed, RNG_PURPOSE_TRAIN_PERM, (uint64_t)epoch);
  for (PetscInt64 i = 0; i < N; i++) perm[i] = (PetscInt)i;
  for (PetscInt64 i = N - 1; i > 0; i--) {
    const PetscInt64 j = (PetscInt64)(rng_uniform(&s) * (double)(i + 1)); /* uniform in 0..i */
    const PetscInt   tmp = perm[i];
    perm[i]              = perm[j];
    perm[j]              = tmp;
  }
}

PetscErrorCode TrainerSetEpochHook(Trainer *tr, PetscErrorCode (*hook)(void *ctx, PetscInt64 epoch), void *ctx)
{
  PetscFunctionBeginUser;
  tr->epoch_hook = hook;
  tr->epoch_ctx  = ctx;
  tr->perm_epoch = -1; /* the hook runs for the epoch of the next step */
  PetscFunctionReturn(0);
}

PetscErrorCode TrainerSetCheckpoint(Trainer *tr, const Model *meta, const char path[])
{
  PetscFunctionBeginUser;
  if (meta) PetscCheck(meta->arch.nparams == tr->arch.nparams, tr->comm, PETSC_ERR_ARG_INCOMP, "TrainerSetCheckpoint: the model description is for another architecture");
  if (meta) PetscCheck(meta->par.embed == tr->dw.par.embed && meta->par.output == tr->dw.par.output, tr->comm, PETSC_ERR_ARG_INCOMP, "TrainerSetCheckpoint: the model records time embedding %s and output %s but the trainer uses %s and %s (set Model.par from TrainOpts.par)", DsmEmbeds[meta->par.embed], DsmOutputs[meta->par.output], DsmEmbeds[tr->dw.par.embed], DsmOutputs[tr->dw.par.output]);
  tr->meta = meta;
  PetscCall(PetscStrncpy(tr->ckpt_path, path ? path : "", sizeof(tr->ckpt_path)));
  PetscFunctionReturn(0);
}

/* Every entry finite? Every step checks all of the reduced gradient (221,726 entries for the
   4 x 256 network): first one pass that vectorises (an entry is Inf or NaN when its exponent bits
   are all ones; no early exit, which would keep GCC from vectorising it), then the search for the
   first bad one only when there is one. */
PetscInt64 train_first_nonfinite(PetscInt64 n, const float v[])
{
  uint32_t any = 0;
  for (PetscInt64 i = 0; i < n; i++) {
    uint32_t u;
    memcpy(&u, &v[i], sizeof u);
    any |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
  }
  if (!any) return -1;
  for (PetscInt64 i = 0; i < n; i++)
    if (!isfinite(v[i])) return i;
  return -1;
}

static PetscErrorCode TrainerStepsInner(Trainer *tr, const Sched *sch, const TrainData *d, const TrainOpts *o, PetscInt64 nsteps, PetscReal loss[])
{
  const PetscInt64 spe = train_steps_per_epoch(d, o), np = tr->arch.nparams;
  const PetscInt   nx = d->nx, nc = d->ncond;
  PetscLogDouble   t0, tlast, tnow, tckpt;
  PetscMPIInt      rank, size;
  PetscInt64       nlog = 0;
  PetscReal        logsum = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(tr->comm, &rank));
  PetscCallMPI(MPI_Comm_size(tr->comm, &size));
  PetscCall(PetscTime(&t0));
  tlast = tckpt = t0;
  /* the time and steps of the earlier runs (from the checkpoint), to which this run's are added
     before every checkpoint and at the end, so a resumed model records its whole training */
  const PetscReal  sec0 = tr->seconds;
  const PetscInt64 timed0 = tr->steps_timed;
  for (PetscInt64 k = 0; k < nsteps; k++) {
    const PetscInt64 epoch = tr->step / spe, j = tr->step % spe;
    const PetscInt64 b0 = j * o->batch, b1 = PetscMin(b0 + o->batch, d->N);
    PetscInt         nb = 0;
    PetscReal        lsum = 0;

    PetscCall(PetscLogEventBegin(TRAIN_STEP_EVENT, 0, 0, 0, 0));
    if (epoch != tr->perm_epoch) {
      EpochPermutation(d->N, o->seed, epoch, tr->perm);
      tr->perm_epoch = epoch;
      if (tr->epoch_hook) PetscCall(tr->epoch_hook(tr->epoch_ctx, epoch));
    }
    /* this rank's members of the global batch, with their times and noises */
    for (PetscInt64 q = b0; q < b1; q++) {
      const PetscInt64 gi = tr->perm[q];
      if (gi < d->first || gi >= d->first + d->nlocal) continue;
      const PetscInt64 li = gi - d->first;
      RngStream        st, sz;
      rng_stream_init(&st, (uint64_t)o->seed, RNG_PURPOSE_TRAIN_T, (uint64_t)(tr->step * d->N + gi));
      rng_stream_init(&sz, (uint64_t)o->seed, RNG_PURPOSE_TRAIN_Z, (uint64_t)(tr->step * d->N + gi));
      tr->bt[nb] = train_draw_t(sch, o->t_power, rng_uniform(&st));
      for (PetscInt e = 0; e < nx; e++) {
        tr->bx[(size_t)nb * nx + e] = d->x[(size_t)li * nx + e];
        tr->bz[(size_t)nb * nx + e] = (float)rng_normal(&sz);
      }
      for (PetscInt e = 0; e < nc; e++) tr->bc[(size_t)nb * nc + e] = d->c[(size_t)li * nc + e];
      nb++;
    }
    PetscCall(PetscArrayzero(tr->gbuf, np + 3));
    if (nb) PetscCall(DsmLossGrad(sch, &tr->arch, tr->params, nb, tr->bx, nc ? tr->bc : NULL, tr->bt, tr->bz, 1.0 / (PetscReal)(b1 - b0), tr->gbuf, &lsum, &tr->dw));
    if (o->test_signal_step == tr->step && rank == size - 1) raise(SIGUSR1);
    tr->gbuf[np]     = (float)lsum;
    tr->gbuf[np + 1] = (float)JobSignalPending(); /* a signal seen on any rank stops every rank */
    if (!rank && tr->ckpt_path[0] && o->ckpt_interval > 0) {
      PetscCall(PetscTime(&tnow));
      tr->gbuf[np + 2] = (float)(tnow - tckpt >= o->ckpt_interval); /* rank 0's clock decides for all */
    }
    /* one collective per step: gradient, loss and the two flags together */
    PetscCall(PetscLogEventBegin(TRAIN_ALLREDUCE_EVENT, 0, 0, 0, 0));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, tr->gbuf, (PetscMPIInt)(np + 3), MPI_FLOAT, MPI_SUM, tr->comm));
    PetscCall(PetscLogEventEnd(TRAIN_ALLREDUCE_EVENT, 0, 0, 0, 0));
    tr->last_loss = tr->gbuf[np] / (PetscReal)(b1 - b0);
    PetscCheck(isfinite(tr->last_loss), tr->comm, PETSC_ERR_FP, "Training diverged: the loss is %g at step %" PetscInt64_FMT " (epoch %" PetscInt64_FMT "); the weights were not updated and the last checkpoint is intact. Lower -adam_lr or check the training data", (double)tr->last_loss, tr->step, epoch);
    {
      const PetscInt64 bad = train_first_nonfinite(np, tr->gbuf);
      PetscCheck(bad < 0, tr->comm, PETSC_ERR_FP, "Training diverged: gradient entry %" PetscInt64_FMT " is %g at step %" PetscInt64_FMT " (epoch %" PetscInt64_FMT "); the weights were not updated and the last checkpoint is intact. Lower -adam_lr or check the training data", bad, (double)tr->gbuf[bad >= 0 ? bad : 0], tr->step, epoch);
    }
    PetscCall(AdamStep(&tr->adam, tr->params, tr->gbuf));
    if (tr->ema) EmaUpdate(tr, tr->adam.step);
    if (loss) loss[k] = tr->last_loss;
    tr->step++;
    tr->epoch_loss_sum += tr->last_loss;
    tr->epoch_loss_n++;
    if (tr->step % spe == 0) { /* an epoch completed */
      tr->epoch_loss     = tr->epoch_loss_sum / (PetscReal)tr->epoch_loss_n;
      tr->epoch_loss_sum = 0;
      tr->epoch_loss_n   = 0;
    }
    logsum += tr->last_loss;
    nlog++;
    PetscCall(PetscLogEventEnd(TRAIN_STEP_EVENT, 0, 0, 0, 0));
    PetscCall(PetscTime(&tnow));
    tr->seconds     = sec0 + (tnow - t0);
    tr->steps_timed = timed0 + k + 1;
    if (o->log_interval > 0 && tnow - tlast >= o->log_interval) {
      const double rate = (double)((k + 1) * o->batch) / (tnow - t0);
      PetscCall(PetscPrintf(tr->comm, "train: step %" PetscInt64_FMT " epoch %" PetscInt64_FMT " loss %.5f (mean of %" PetscInt64_FMT " steps)  %.0f samples/s  ETA %.0f s\n", tr->step, epoch, (double)(logsum / nlog), nlog, rate, (nsteps - k - 1) * (double)o->batch / rate));
      tlast  = tnow;
      logsum = 0;
      nlog   = 0;
    }
    if (tr->gbuf[np + 1] > 0) { /* SIGTERM/SIGUSR1: checkpoint and stop */
      tr->state  = TRAIN_INTERRUPTED;
      tr->signal = (PetscInt)JobSignalPending(); /* 0 on ranks that only heard of it */
      JobSignalClear();                          /* handled: a later TrainerSteps call starts clean */
      PetscCall(PetscPrintf(tr->comm, "train: signal received; stopping after step %" PetscInt64_FMT "%s%s\n", tr->step, tr->ckpt_path[0] ? ", checkpoint " : " (no checkpoint file set)", tr->ckpt_path));
      if (tr->ckpt_path[0]) PetscCall(TrainerSaveCheckpoint(tr, o, tr->ckpt_path));
      PetscFunctionReturn(0);
    }
    if (tr->gbuf[np + 2] > 0) {
      PetscCall(TrainerSaveCheckpoint(tr, o, tr->ckpt_path));
      PetscCall(PetscTime(&tckpt));
    }
  }
  tr->state = TRAIN_DONE;
  PetscFunctionReturn(0);
}

PetscErrorCode TrainerSteps(Trainer *tr, const Sched *sch, const TrainData *d, const TrainOpts *o, PetscInt64 nsteps, PetscReal loss[])
{
  JobSignalSave  save;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  tr->state = TRAIN_RUNNING;
  PetscCall(JobSignalsCatch(&save));
  ierr = TrainerStepsInner(tr, sch, d, o, nsteps, loss);
  PetscCall(JobSignalsRestore(&save));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

#define CKPT_MAGIC   "pdediff-checkpoint"
#define CKPT_VERSION 2

PetscErrorCode TrainerSaveCheckpoint(Trainer *tr, const TrainOpts *o, const char path[])
{
  H5io      io;
  PetscReal widths[MLP_MAX_LAYERS + 1];
  char      arch[256];

  PetscFunctionBeginUser;
  for (PetscInt l = 0; l <= tr->arch.nlayers; l++) widths[l] = (PetscReal)tr->arch.width[l];
  PetscCall(MlpArchView(&tr->arch, arch, sizeof(arch)));
  PetscCall(H5ioCreate(tr->comm, path, &io));
  PetscCall(H5ioWriteProvenance(&io, "pdediff checkpoint"));
  PetscCall(H5ioAttrString(&io, "/", "format", CKPT_MAGIC));
  PetscCall(H5ioAttrInt(&io, "/", "format_version", CKPT_VERSION));
  PetscCall(H5ioAttrInt(&io, "/", "step", tr->step));
  PetscCall(H5ioAttrReal(&io, "/", "train_seconds", tr->seconds));
  PetscCall(H5ioAttrInt(&io, "/", "train_seconds_steps", tr->steps_timed));
  PetscCall(H5ioAttrInt(&io, "/", "train_seed", o->seed));
  PetscCall(H5ioAttrInt(&io, "/", "train_batch", o->batch));
  PetscCall(H5ioAttrInt(&io, "/", "adam_step", tr->adam.step));
  PetscCall(H5ioAttrReal(&io, "/", "adam_lr", tr->adam.o.lr));
  PetscCall(H5ioAttrReal(&io, "/", "adam_beta1", tr->adam.o.beta1));
  PetscCall(H5ioAttrReal(&io, "/", "adam_beta2", tr->adam.o.beta2));
  PetscCall(H5ioAttrReal(&io, "/", "adam_eps", tr->adam.o.eps));
  PetscCall(H5ioAttrReal(&io, "/", "adam_weight_decay", tr->adam.o.weight_decay));
  PetscCall(H5ioAttrString(&io, "/", "adam_schedule", AdamSchedules[tr->adam.o.schedule]));
  PetscCall(H5ioAttrInt(&io, "/", "adam_schedule_id", tr->adam.o.schedule));
  PetscCall(H5ioAttrReal(&io, "/", "adam_lr_min", tr->adam.o.lr_min));
  PetscCall(H5ioAttrReal(&io, "/", "adam_step_frac", tr->adam.o.step_frac));
  PetscCall(H5ioAttrInt(&io, "/", "adam_tail_epochs", tr->adam.o.tail_epochs));
  PetscCall(H5ioAttrInt(&io, "/", "adam_total_steps", tr->adam.o.total_steps));
  PetscCall(H5ioAttrReal(&io, "/", "last_loss", tr->last_loss));
  PetscCall(H5ioAttrReal(&io, "/", "epoch_loss", tr->epoch_loss));
  PetscCall(H5ioAttrReal(&io, "/", "epoch_loss_sum", tr->epoch_loss_sum));
  PetscCall(H5ioAttrInt(&io, "/", "epoch_loss_n", tr->epoch_loss_n));
  PetscCall(H5ioAttrReal(&io, "/", "train_ema", tr->ema_decay));
  PetscCall(H5ioAttrReal(&io, "/", "train_t_power", o->t_power));
  if (tr->meta) PetscCall(ModelWriteH5(&io, tr->meta, TrainerWeights(tr))); /* a checkpoint is also a model */
  else {
    PetscCall(H5ioAttrString(&io, "/", "architecture", arch));
    PetscCall(H5ioWriteReplicated(&io, "layer_widths", tr->arch.nlayers + 1, 0, widths, "layer", "units", "MLP widths: inputs, hidden layers, outputs"));
    PetscCall(H5ioWriteReplicatedFloat(&io, "params", tr->arch.nparams, 0, TrainerWeights(tr), "parameter", "dimensionless", "flat MLP parameters W_0, b_0, W_1, b_1, ... (W_l row-major, out x in)"));
    PetscCall(ModelWriteParamH5(&io, tr->dw.par)); /* ModelWriteH5 writes it with a model */
  }
  if (tr->ema) PetscCall(H5ioWriteReplicatedFloat(&io, "train_params", tr->arch.nparams, 0, tr->params, "parameter", "dimensionless", "the weights Adam updates (params holds their moving average, what sampling uses)"));
  PetscCall(H5ioWriteReplicatedFloat(&io, "adam_m", tr->arch.nparams, 0, tr->adam.m, "parameter", "dimensionless", "Adam first moments"));
  PetscCall(H5ioWriteReplicatedFloat(&io, "adam_v", tr->arch.nparams, 0, tr->adam.v, "parameter", "dimensionless", "Adam second moments"));
  PetscCall(H5ioCommit(&io));
  tr->nckpt++;
  PetscFunctionReturn(0);
}

/* Read and check an open checkpoint; the caller closes the file on success and failure alike. */
static PetscErrorCode CheckpointRead(Trainer *tr, const TrainOpts *o, const char path[], H5io *iop)
{
  H5io       io = *iop;
  PetscInt64 v, nl;
  PetscReal  widths[MLP_MAX_LAYERS + 1];
  char       mine[256];

  PetscFunctionBeginUser;
  PetscCall(H5ioReadAttrInt(&io, "/", "format_version", &v));
  PetscCheck(v == CKPT_VERSION, tr->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: checkpoint format version %lld, this build reads %d", path, (long long)v, CKPT_VERSION);
  {
    PetscInt nc;
    PetscCall(H5ioDatasetShape(&io, "layer_widths", &nl, &nc));
  }
  PetscCall(MlpArchView(&tr->arch, mine, sizeof(mine)));
  PetscCheck(nl >= 2 && nl <= MLP_MAX_LAYERS + 1, tr->comm, PETSC_ERR_FILE_UNEXPECTED, "%s: layer_widths has %lld entries", path, (long long)nl);
  PetscCall(H5ioReadReal(&io, "layer_widths", nl, 0, widths));
  PetscBool same = (PetscBool)(nl == tr->arch.nlayers + 1);
  for (PetscInt l = 0; same && l < nl; l++) same = (PetscBool)((PetscInt)widths[l] == tr->arch.width[l]);
  if (!same) {
    char theirs[256] = "";
    for (PetscInt l = 0; l < nl; l++) {
      char w[32];
      PetscCall(PetscSNPrintf(w, sizeof(w), l ? "-%d" : "%d", (int)widths[l]));
      PetscCall(PetscStrlcat(theirs, w, sizeof(theirs)));
    }
    SETERRQ(tr->comm, PETSC_ERR_ARG_INCOMP, "Checkpoint %s was trained for a different problem: network %s (checkpoint) / %s (this run): check -net_layers/-net_width and the data dimensions, or remove the checkpoint to start over", path, theirs, mine);
  }
  if (tr->meta) {
    Model          ck;
    PetscBool      same;
    char           why[512];
    PetscErrorCode ierr = ModelReadH5(&io, &ck);
    PetscCheck(!ierr, tr->comm, PETSC_ERR_FILE_UNEXPECTED, "Checkpoint %s holds no model description (written without one?)", path);
    ierr = ModelCompatible(tr->meta, &ck, &same, why, sizeof(why));
    PetscCall(ModelDestroy(&ck));
    PetscCall(ierr);
    PetscCheck(same, tr->comm, PETSC_ERR_ARG_INCOMP, "Checkpoint %s was trained for a different problem: %s (this run / checkpoint). Restart with the same data and options, or remove the checkpoint", path, why);
  } else { /* no model description (ModelCompatible compares it with one): the network's parametrisation alone (absent: the paper's) */
    DsmParam par;
    PetscCall(ModelReadParamH5(&io, &par));
    PetscCheck(par.embed == tr->dw.par.embed && par.output == tr->dw.par.output && par.sigma_data == tr->dw.par.sigma_data && par.sigma_skip == tr->dw.par.sigma_skip && par.centre == tr->dw.par.centre, tr->comm, PETSC_ERR_ARG_INCOMP, "Checkpoint %s was trained with -net_time_embed %s -net_output %s (edm scales %g %g %g) but this run has %s %s (%g %g %g): resume with the checkpoint's (or remove it to start afresh)", path, DsmEmbeds[par.embed], DsmOutputs[par.output], (double)par.sigma_data, (double)par.sigma_skip, (double)par.centre, DsmEmbeds[tr->dw.par.embed], DsmOutputs[tr->dw.par.output], (double)tr->dw.par.sigma_data, (double)tr->dw.par.sigma_skip, (double)tr->dw.par.centre);
  }
  PetscCall(H5ioReadAttrInt(&io, "/", "train_seed", &v));
  PetscCheck(v == o->seed, tr->comm, PETSC_ERR_ARG_INCOMP, "Checkpoint %s was trained with -train_seed %lld but this run has %" PetscInt_FMT ": the restart would not continue the same random streams", path, (long long)v, o->seed);
  {
    PetscBool has;
    PetscReal p = 1; /* checkpoints written before -train_t_power drew t uniformly */
    PetscCall(H5ioHasAttr(&io, "/", "train_t_power", &has));
    if (has) PetscCall(H5ioReadAttrReal(&io, "/", "train_t_power", &p));
    PetscCheck(p == o->t_power, tr->comm, PETSC_ERR_ARG_INCOMP, "Checkpoint %s was trained with -train_t_power %.6g but this run has %.6g: resume with -train_t_power %.6g (or remove the checkpoint to start afresh)", path, (double)p, (double)o->t_power, (double)p);
  }
  PetscCall(H5ioReadAttrInt(&io, "/", "train_batch", &v));
  PetscCheck(v == o->batch, tr->comm, PETSC_ERR_ARG_INCOMP, "Checkpoint %s was trained with -train_batch %lld but this run has %" PetscInt_FMT, path, (long long)v, o->batch);
  if (tr->adam.o.schedule != ADAM_SCHEDULE_CONSTANT) { /* a cosine or step run resumes on its own curve only */
    PetscBool has;
    PetscCall(H5ioHasAttr(&io, "/", "adam_schedule_id", &has));
    if (has) PetscCall(H5ioReadAttrInt(&io, "/", "adam_schedule_id", &v));
    if (has && v == tr->adam.o.schedule) {
      PetscInt64 tot;
      PetscReal  lr, lr_min, frac = tr->adam.o.step_frac;
      PetscBool  has_frac;
      PetscCall(H5ioReadAttrInt(&io, "/", "adam_total_steps", &tot));
      PetscCall(H5ioReadAttrReal(&io, "/", "adam_lr", &lr));
      PetscCall(H5ioReadAttrReal(&io, "/", "adam_lr_min", &lr_min));
      PetscCall(H5ioHasAttr(&io, "/", "adam_step_frac", &has_frac));
      if (has_frac && tr->adam.o.schedule == ADAM_SCHEDULE_STEP) PetscCall(H5ioReadAttrReal(&io, "/", "adam_step_frac", &frac));
      PetscCheck(tot == tr->adam.o.total_steps && lr == tr->adam.o.lr && lr_min == tr->adam.o.lr_min && frac == tr->adam.o.step_frac, tr->comm, PETSC_ERR_ARG_INCOMP,
                 "Checkpoint %s follows a %s schedule from -adam_lr %.6g to -adam_lr_min %.6g over %lld steps (-adam_step_frac %.6g), this run one from %.6g to %.6g over %lld steps (%.6g): resume with the same -adam_lr, -adam_lr_min, -adam_step_frac (or -adam_tail_epochs) and -train_epochs (or -adam_schedule constant to go on at a fixed rate)",
                 path, AdamSchedules[tr->adam.o.schedule], (double)lr, (double)lr_min, (long long)tot, (double)frac, (double)tr->adam.o.lr, (double)tr->adam.o.lr_min, (long long)tr->adam.o.total_steps, (double)tr->adam.o.step_frac);
    }
  }
  {
    PetscBool has_ema, has_d;
    PetscReal d = 0;
    PetscCall(H5ioHasDataset(&io, "train_params", &has_ema));
    PetscCall(H5ioHasAttr(&io, "/", "train_ema", &has_d));
    if (has_d) PetscCall(H5ioReadAttrReal(&io, "/", "train_ema", &d));
    if (has_ema && tr->ema && d != tr->ema_decay) PetscCall(PetscPrintf(tr->comm, "train: checkpoint %s averaged the weights with decay %.6g; this run goes on with -train_ema %.6g\n", path, (double)d, (double)tr->ema_decay));
    if (has_ema && !tr->ema) PetscCall(PetscPrintf(tr->comm, "train: checkpoint %s holds a moving average of the weights (decay %.6g); without -train_ema this run continues from the trained weights and the model will hold them, not an average\n", path, (double)d));
    /* with an average in the file, params holds it and train_params the trained weights */
    PetscCall(H5ioReadFloat(&io, has_ema ? "train_params" : "params", tr->arch.nparams, 0, tr->params));
    if (tr->ema && has_ema) PetscCall(H5ioReadFloat(&io, "params", tr->arch.nparams, 0, tr->ema));
    else if (tr->ema) {
      PetscCall(PetscArraycpy(tr->ema, tr->params, tr->arch.nparams));
      PetscCall(PetscPrintf(tr->comm, "train: checkpoint %s has no moving average of the weights: -train_ema %.6g starts averaging at its weights\n", path, (double)tr->ema_decay));
    }
  }
  PetscCall(H5ioReadFloat(&io, "adam_m", tr->arch.nparams, 0, tr->adam.m));
  PetscCall(H5ioReadFloat(&io, "adam_v", tr->arch.nparams, 0, tr->adam.v));
  PetscCall(H5ioReadAttrInt(&io, "/", "step", &tr->step));
  {
    PetscBool has;
    PetscCall(H5ioHasAttr(&io, "/", "train_seconds", &has));
    tr->seconds     = 0; /* checkpoints written before the time was kept: this run's time only */
    tr->steps_timed = 0;
    if (has) {
      PetscCall(H5ioReadAttrReal(&io, "/", "train_seconds", &tr->seconds));
      PetscCall(H5ioReadAttrInt(&io, "/", "train_seconds_steps", &tr->steps_timed));
    } else PetscCall(PetscPrintf(tr->comm, "train: checkpoint %s does not keep the time of its %" PetscInt64_FMT " steps: the model's train_seconds will count this run's steps only (train_seconds_steps says how many)\n", path, tr->step));
  }
  PetscCall(H5ioReadAttrInt(&io, "/", "adam_step", &tr->adam.step));
  PetscCall(H5ioReadAttrReal(&io, "/", "last_loss", &tr->last_loss));
  PetscCall(H5ioReadAttrReal(&io, "/", "epoch_loss", &tr->epoch_loss));
  PetscCall(H5ioReadAttrReal(&io, "/", "epoch_loss_sum", &tr->epoch_loss_sum));
  PetscCall(H5ioReadAttrInt(&io, "/", "epoch_loss_n", &tr->epoch_loss_n));
  tr->perm_epoch = -1;
  PetscFunctionReturn(0);
}

PetscErrorCode TrainerLoadCheckpoint(Trainer *tr, const TrainOpts *o, const char path[])
{
  H5io           io;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(H5ioOpen(tr->comm, path, &io));
  ierr = CheckpointRead(tr, o, path, &io);
  PetscCall(H5ioClose(&io));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}
