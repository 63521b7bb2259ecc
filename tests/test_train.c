/* test_train: data-parallel training (run at 1 and 2 ranks).
 * Data: N = 3000 pairs, c ~ U(-1, 1), x = (c + 0.3 z1, -c + 0.2 z2), keyed by sample index.
 * 1. After 60 steps (global batch 256, a partial batch at every epoch end) the weights are
 *    bitwise identical on all ranks (one Allreduce, the same Adam update everywhere).
 * 2. The loss curve of the sharded run agrees with a single-rank run on the full data set (done
 *    redundantly on every rank with PETSC_COMM_SELF): bitwise at 1 rank; at 2 ranks only the
 *    float summation order of the gradient differs, bound 1e-5 relative over 60 steps
 *    (measured 1.2e-7).
 * 3. 30 + 30 steps equal 60 steps bitwise (batches, times and noises are keyed by the step).
 * 4. The loss decreases (mean of the last 10 steps < 0.9 x mean of the first 10).
 * 5. Checkpoint restart: 30 steps, checkpoint to HDF5, a fresh trainer loads it and takes 30 more:
 *    weights bitwise equal to 60 straight steps at the same rank count. Loading it into a
 *    different architecture or with another seed is an error.
 * 6. The same with the cosine learning-rate schedule (decay over this run's epochs): restart is
 *    bitwise exact, differs from the constant-rate run, and resuming with another length of the
 *    schedule (-train_epochs) is an error.
 * 6b. The step schedule (-adam_schedule step) dropping to lr_min after step 30 of 60: bitwise the
 *    run of 30 constant-rate steps, checkpointed and resumed at the constant rate lr_min (how the
 *    low-rate tail of the README was first measured); resuming it with another -adam_step_frac is
 *    an error.
 * 7. Moving average of the weights (-train_ema 0.9): after each step the average equals the
 *    recursion ema = d_s ema + (1 - d_s) params, d_s = min(0.9, (1 + s)/(10 + s)), evaluated
 *    independently in double (bound 1e-6 absolute; float rounding of the stored average), the
 *    trained weights are those of the run without it (bitwise: the average never feeds back),
 *    TrainerWeights gives the average; checkpoint + restart + 30 steps equals 60 straight steps
 *    bitwise for both buffers; the checkpoint's model part (params) is the average; a checkpoint
 *    without an average restored with one starts it at the restored weights; one with an average
 *    restored without one continues from the trained weights (train_params), bitwise equal to
 *    the run without an average.
 * 8. Training times (-train_t_power p): train_draw_t with p = 1 is eps + (T - eps) u exactly; with
 *    p = 3, 200,000 draws from the counter RNG pass a Kolmogorov-Smirnov test against the law
 *    P(t <= s) = ((s - eps)/(T - eps))^(1/3) (statistic below 1.63/sqrt(n), the 1% level), and
 *    their fraction below t = 0.05 is 0.05^(1/3) = 0.368 within 4 SE. In the trainer, the last
 *    batch's times are exactly train_draw_t(u) of its members' streams; a p = 3 restart is bitwise;
 *    resuming a p = 3 checkpoint with p = 1 is an error. */
#include "blascore.h"
#include "train.h"
#include "rng.h"
#include "sampler.h"
#include "testutil.h"
#include <float.h>
#include <math.h>

#define NSTEPS 60

static PetscErrorCode MakeData(MPI_Comm comm, PetscInt64 N, TrainData *d, float **x, float **c)
{
  PetscInt   nl;
  PetscInt64 first;

  PetscFunctionBeginUser;
  PetscCall(SamplerPartition(comm, N, &nl, &first));
  PetscCall(PetscMalloc2((size_t)nl * 2 + 1, x, nl + 1, c));
  for (PetscInt i = 0; i < nl; i++) {
    RngStream s;
    rng_stream_init(&s, 77, RNG_PURPOSE_DATA, (uint64_t)(first + i));
    const double cc  = -1 + 2 * rng_uniform(&s);
    (*c)[i]          = (float)cc;
    (*x)[2 * i]      = (float)(cc + 0.3 * rng_normal(&s));
    (*x)[2 * i + 1]  = (float)(-cc + 0.2 * rng_normal(&s));
  }
  *d = (TrainData){N, first, nl, 2, 1, *x, *c};
  PetscFunctionReturn(0);
}

/* Tests 5-7: NSTEPS/2 steps, checkpoint to ckpt, a fresh trainer (another init, so the load must
   overwrite it) restores it and takes the remaining steps. loss (may be NULL) gets all NSTEPS. */
static PetscErrorCode HalfAndRestart(const MlpArch *a, const AdamOpts *ao, const TrainData *d, const TrainOpts *o, const Sched *sch, const char ckpt[], PetscReal loss[], Trainer *tb)
{
  Trainer ta;

  PetscFunctionBeginUser;
  PetscCall(TrainerCreate(PETSC_COMM_WORLD, a, 1, ao, d, o, &ta));
  PetscCall(TrainerSteps(&ta, sch, d, o, NSTEPS / 2, loss));
  PetscCall(TrainerSaveCheckpoint(&ta, o, ckpt));
  PetscCall(TrainerDestroy(&ta));
  PetscCall(TrainerCreate(PETSC_COMM_WORLD, a, 99, ao, d, o, tb));
  PetscCall(TrainerLoadCheckpoint(tb, o, ckpt));
  PetscCall(TrainerSteps(tb, sch, d, o, NSTEPS - NSTEPS / 2, loss ? loss + NSTEPS / 2 : NULL));
  PetscFunctionReturn(0);
}

/* Whether a fresh trainer (architecture a, Adam ao, options o) refuses to resume from ckpt; the
   error comes back as a value instead of aborting the test. */
static PetscErrorCode ResumeRefused(const MlpArch *a, const AdamOpts *ao, const TrainData *d, const TrainOpts *o, const char ckpt[], PetscBool *refused)
{
  Trainer        tc;
  PetscErrorCode e;

  PetscFunctionBeginUser;
  PetscCall(TrainerCreate(PETSC_COMM_WORLD, a, 1, ao, d, o, &tc));
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  e = TrainerLoadCheckpoint(&tc, o, ckpt);
  PetscCall(PetscPopErrorHandler());
  PetscCall(TrainerDestroy(&tc));
  *refused = (PetscBool)(e != 0);
  PetscFunctionReturn(0);
}

/* Entries of u and v (n each) that differ, summed over the ranks. */
static PetscErrorCode GlobalDiff(PetscInt n, const float u[], const float v[], PetscInt *ndiff)
{
  PetscInt d = 0;

  PetscFunctionBeginUser;
  for (PetscInt k = 0; k < n; k++) d += u[k] != v[k];
  PetscCallMPI(MPI_Allreduce(&d, ndiff, 1, MPIU_INT, MPI_SUM, PETSC_COMM_WORLD));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  const PetscInt64 N = 3000;
  Sched            sch;
  MlpArch          a;
  AdamOpts         ao;
  TrainOpts        to;
  TrainData        dw, ds;
  Trainer          tw, ts, t2;
  float           *xw, *cw, *xs, *cs;
  PetscReal        lw[NSTEPS], ls[NSTEPS], l2[NSTEPS];
  int              status;

  BlasCoreReexec(argc, argv); /* before anything starts: OpenBLAS kernels for this CPU (blascore.h) */
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(SchedSetDefaults(&sch));
  sch.type = SCHED_VP;
  PetscCall(MlpArchCreate(2 + 1 + DSM_TIME_EMBED, 2, 64, 2, &a));
  PetscCall(AdamOptsSetDefaults(&ao));
  PetscCall(TrainOptsSetDefaults(&to));
  to.batch        = 256;
  to.seed         = 5;
  to.log_interval = 0;
  PetscCall(MakeData(PETSC_COMM_WORLD, N, &dw, &xw, &cw));
  PetscCall(MakeData(PETSC_COMM_SELF, N, &ds, &xs, &cs));

  PetscCall(TrainerCreate(PETSC_COMM_WORLD, &a, 1, &ao, &dw, &to, &tw));
  PetscCall(TrainerSteps(&tw, &sch, &dw, &to, NSTEPS, lw));
  PetscCall(TrainerCreate(PETSC_COMM_SELF, &a, 1, &ao, &ds, &to, &ts));
  PetscCall(TrainerSteps(&ts, &sch, &ds, &to, NSTEPS, ls));
  PetscCall(TrainerCreate(PETSC_COMM_SELF, &a, 1, &ao, &ds, &to, &t2));
  PetscCall(TrainerSteps(&t2, &sch, &ds, &to, NSTEPS / 2, l2));
  PetscCall(TrainerSteps(&t2, &sch, &ds, &to, NSTEPS - NSTEPS / 2, l2 + NSTEPS / 2));

  /* 1 */
  {
    float      *p0;
    PetscInt    diff = 0, gd;
    PetscMPIInt size;
    PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
    PetscCall(PetscMalloc1(a.nparams, &p0));
    PetscCall(PetscArraycpy(p0, tw.params, a.nparams));
    PetscCallMPI(MPI_Bcast(p0, (PetscMPIInt)a.nparams, MPI_FLOAT, 0, PETSC_COMM_WORLD));
    for (PetscInt k = 0; k < a.nparams; k++) diff += p0[k] != tw.params[k];
    PetscCallMPI(MPI_Allreduce(&diff, &gd, 1, MPIU_INT, MPI_SUM, PETSC_COMM_WORLD));
    CHECK(gd == 0, "weights after %d steps identical on all %d ranks: %d of %d parameters differ from rank 0's", NSTEPS, size, (int)gd, (int)a.nparams);
    PetscCall(PetscFree(p0));
  }
  /* 2, 3, 4 */
  {
    PetscReal rel = 0, first = 0, last = 0;
    PetscInt  same = 1;
    for (int k = 0; k < NSTEPS; k++) {
      rel = PetscMax(rel, PetscAbsReal(lw[k] - ls[k]) / ls[k]);
      same &= (l2[k] == ls[k]);
    }
    for (int k = 0; k < 10; k++) {
      first += ls[k] / 10;
      last += ls[NSTEPS - 10 + k] / 10;
    }
    CHECK(rel < 1e-5, "loss curve sharded vs single-rank full data over %d steps: max relative difference %.2e (bound 1e-5)", NSTEPS, (double)rel);
    PetscInt pdiff = 0;
    for (PetscInt k = 0; k < a.nparams; k++) pdiff += t2.params[k] != ts.params[k];
    CHECK(same && pdiff == 0, "30 + 30 steps vs 60 steps: losses %s, %d parameters differ (bitwise)", same ? "identical" : "differ", (int)pdiff);
    CHECK(last < 0.9 * first, "loss falls: mean of first 10 steps %.4f, of last 10 steps %.4f", (double)first, (double)last);
  }
  /* 5 */
  {
    Trainer   tb;
    PetscReal la[NSTEPS];
    MlpArch   other;
    TrainOpts o2 = to;
    PetscInt  gd;
    PetscMPIInt size;
    char      ckpt[64];
    PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
    PetscCall(PetscSNPrintf(ckpt, sizeof(ckpt), "test_train_ckpt_np%d.h5", size)); /* np1 and np2 may run at once */
    PetscCall(HalfAndRestart(&a, &ao, &dw, &to, &sch, ckpt, la, &tb));
    PetscCall(GlobalDiff(a.nparams, tb.params, tw.params, &gd));
    CHECK(gd == 0 && tb.step == NSTEPS && la[NSTEPS - 1] == lw[NSTEPS - 1], "30 steps + checkpoint + restart + 30 steps vs 60 straight: %d parameters differ (bitwise), step %lld, final loss %.9g vs %.9g", (int)gd, (long long)tb.step, (double)la[NSTEPS - 1], (double)lw[NSTEPS - 1]);
    PetscCall(TrainerDestroy(&tb));
    PetscCall(MlpArchCreate(2 + 1 + DSM_TIME_EMBED, 2, 32, 2, &other));
    PetscBool e1, e2, e3;
    PetscCall(ResumeRefused(&other, &ao, &dw, &to, ckpt, &e1));
    o2.seed = to.seed + 1;
    PetscCall(ResumeRefused(&a, &ao, &dw, &o2, ckpt, &e2));
    PetscCall(ResumeRefused(&a, &ao, &dw, &to, "no_such_checkpoint.h5", &e3));
    CHECK(e1 && e2 && e3, "checkpoint of another architecture (%d), another seed (%d), a missing file (%d) are errors", (int)e1, (int)e2, (int)e3);
  }
  /* 6 */
  {
    Trainer   tcs, tb;
    AdamOpts  aoc = ao;
    TrainOpts toc = to, tol = to;
    PetscInt  gd, gc;
    PetscMPIInt size;
    char      ckpt[64];
    aoc.schedule = ADAM_SCHEDULE_COSINE;
    aoc.lr_min   = 1e-5;
    toc.epochs   = 15; /* a schedule longer than the 60 steps: the rate changes at every step */
    tol.epochs   = 16;
    PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
    PetscCall(PetscSNPrintf(ckpt, sizeof(ckpt), "test_train_cos_np%d.h5", size));
    PetscCall(TrainerCreate(PETSC_COMM_WORLD, &a, 1, &aoc, &dw, &toc, &tcs));
    PetscCall(TrainerSteps(&tcs, &sch, &dw, &toc, NSTEPS, NULL));
    PetscCall(HalfAndRestart(&a, &aoc, &dw, &toc, &sch, ckpt, NULL, &tb));
    PetscCall(GlobalDiff(a.nparams, tb.params, tcs.params, &gd));
    PetscCall(GlobalDiff(a.nparams, tcs.params, tw.params, &gc));
    CHECK(gd == 0 && gc > 0, "cosine schedule over %lld steps: 30 + restart + 30 vs 60 straight: %d parameters differ (bitwise); %d differ from the constant-rate run", (long long)tcs.adam.o.total_steps, (int)gd, (int)gc);
    PetscCall(TrainerDestroy(&tb));
    PetscBool e1;
    PetscCall(ResumeRefused(&a, &aoc, &dw, &tol, ckpt, &e1));
    CHECK(e1, "resuming a cosine run with another schedule length (%lld vs %lld steps) is an error", (long long)(tol.epochs * train_steps_per_epoch(&dw, &tol)), (long long)tcs.adam.o.total_steps);
    PetscCall(TrainerDestroy(&tcs));
  }
  /* 6b */
  {
    Trainer   ts, ta, tb;
    AdamOpts  aos = ao, aok = ao;
    TrainOpts tos = to;
    PetscInt  gd, gc;
    PetscMPIInt size;
    char      ckpt[64];
    tos.epochs    = 15;
    aos.schedule  = ADAM_SCHEDULE_STEP;
    aos.lr_min    = ao.lr / 10;
    aos.step_frac = (double)(NSTEPS / 2) / (double)(tos.epochs * train_steps_per_epoch(&dw, &tos));
    aok.lr        = aos.lr_min;
    PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
    PetscCall(PetscSNPrintf(ckpt, sizeof(ckpt), "test_train_step_np%d.h5", size));
    PetscCall(TrainerCreate(PETSC_COMM_WORLD, &a, 1, &aos, &dw, &tos, &ts));
    PetscCall(TrainerSteps(&ts, &sch, &dw, &tos, NSTEPS, NULL));
    PetscCall(TrainerCreate(PETSC_COMM_WORLD, &a, 1, &ao, &dw, &tos, &ta));
    PetscCall(TrainerSteps(&ta, &sch, &dw, &tos, NSTEPS / 2, NULL));
    PetscCall(TrainerSaveCheckpoint(&ta, &tos, ckpt));
    PetscCall(TrainerDestroy(&ta));
    PetscCall(TrainerCreate(PETSC_COMM_WORLD, &a, 99, &aok, &dw, &tos, &tb));
    PetscCall(TrainerLoadCheckpoint(&tb, &tos, ckpt));
    PetscCall(TrainerSteps(&tb, &sch, &dw, &tos, NSTEPS - NSTEPS / 2, NULL));
    PetscCall(GlobalDiff(a.nparams, tb.params, ts.params, &gd));
    PetscCall(GlobalDiff(a.nparams, ts.params, tw.params, &gc));
    CHECK(AdamStepBoundary(&ts.adam.o) == NSTEPS / 2 && gd == 0 && gc > 0, "step schedule dropping to lr/10 after step %lld of %lld: %d parameters differ from 30 constant steps + restart at lr/10 + 30 (bitwise); %d differ from the constant-rate run", (long long)AdamStepBoundary(&ts.adam.o), (long long)ts.adam.o.total_steps, (int)gd, (int)gc);
    PetscCall(TrainerDestroy(&tb));
    /* a step-schedule checkpoint resumed with another drop point */
    PetscCall(TrainerSaveCheckpoint(&ts, &tos, ckpt));
    aos.step_frac *= 2;
    PetscBool e1;
    PetscCall(ResumeRefused(&a, &aos, &dw, &tos, ckpt, &e1));
    CHECK(e1, "resuming a step-schedule run with another -adam_step_frac is an error");
    PetscCall(TrainerDestroy(&ts));
  }
  /* 7 */
  {
    Trainer     te, ta, tb, tn;
    TrainOpts   toe = to;
    double     *ref;
    double      err = 0;
    PetscInt    same = 1, gd[2];
    PetscMPIInt size;
    char        ckpt[64];
    toe.ema_decay = 0.9;
    PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
    PetscCall(PetscSNPrintf(ckpt, sizeof(ckpt), "test_train_ema_np%d.h5", size));
    PetscCall(PetscMalloc1(a.nparams, &ref));
    PetscCall(TrainerCreate(PETSC_COMM_WORLD, &a, 1, &ao, &dw, &toe, &te));
    for (PetscInt k = 0; k < a.nparams; k++) ref[k] = te.params[k];
    for (PetscInt64 s = 1; s <= NSTEPS; s++) {
      PetscCall(TrainerSteps(&te, &sch, &dw, &toe, 1, NULL));
      const double d = PetscMin(0.9, (1.0 + (double)s) / (10.0 + (double)s));
      for (PetscInt k = 0; k < a.nparams; k++) {
        ref[k] = d * ref[k] + (1 - d) * te.params[k];
        err    = PetscMax(err, PetscAbsReal(ref[k] - te.ema[k]) / PetscMax(1, PetscAbsReal(ref[k])));
      }
    }
    for (PetscInt k = 0; k < a.nparams; k++) same &= te.params[k] == tw.params[k];
    /* each float update rounds by <= 2^-24 relative and the error decays by d <= 0.9 per step:
       at most 2^-24 / (1 - 0.9) = 6e-7 relative in all */
    CHECK(err < 1e-6 && same && TrainerWeights(&te) == te.ema && TrainerWeights(&tw) == tw.params, "moving average over %d steps: max |ema - recursion| / max(1, |ema|) %.2e (bound 1e-6); trained weights %s the run without it; TrainerWeights picks the average", NSTEPS, err, same ? "equal" : "DIFFER FROM");
    /* restart, bitwise */
    PetscCall(HalfAndRestart(&a, &ao, &dw, &toe, &sch, ckpt, NULL, &tb));
    PetscCall(GlobalDiff(a.nparams, tb.params, te.params, &gd[0]));
    PetscCall(GlobalDiff(a.nparams, tb.ema, te.ema, &gd[1]));
    CHECK(gd[0] == 0 && gd[1] == 0, "moving average: 30 + checkpoint + restart + 30 vs 60 straight: %d weights and %d averaged weights differ (bitwise)", (int)gd[0], (int)gd[1]);
    PetscCall(TrainerDestroy(&tb));
    /* the checkpoint's params are the average (what a sampler reads) */
    {
      H5io   io;
      float *p;
      PetscInt nd = 0;
      PetscCall(TrainerCreate(PETSC_COMM_WORLD, &a, 1, &ao, &dw, &toe, &ta));
      PetscCall(TrainerSteps(&ta, &sch, &dw, &toe, NSTEPS / 2, NULL));
      PetscCall(PetscMalloc1(a.nparams, &p));
      PetscCall(H5ioOpen(PETSC_COMM_WORLD, ckpt, &io));
      PetscCall(H5ioReadFloat(&io, "params", a.nparams, 0, p));
      PetscCall(H5ioClose(&io));
      for (PetscInt k = 0; k < a.nparams; k++) nd += p[k] != ta.ema[k];
      CHECK(nd == 0, "checkpoint's params dataset is the moving average: %d of %d entries differ", (int)nd, (int)a.nparams);
      PetscCall(PetscFree(p));
      PetscCall(TrainerDestroy(&ta));
    }
    /* a checkpoint with an average restored without one: the trained weights go on, and 30 more
       steps equal 60 straight steps of the run without an average (tw) */
    {
      Trainer  to_;
      PetscInt gnd;
      PetscCall(TrainerCreate(PETSC_COMM_WORLD, &a, 99, &ao, &dw, &to, &to_));
      PetscCall(TrainerLoadCheckpoint(&to_, &to, ckpt));
      PetscCall(TrainerSteps(&to_, &sch, &dw, &to, NSTEPS - NSTEPS / 2, NULL));
      PetscCall(GlobalDiff(a.nparams, to_.params, tw.params, &gnd));
      CHECK(gnd == 0 && to_.ema == NULL, "checkpoint with an average restored without -train_ema: 30 + 30 steps equal 60 steps without an average (%d weights differ)", (int)gnd);
      PetscCall(TrainerDestroy(&to_));
    }
    /* a checkpoint without an average (test 5's) restored with one: average = restored weights */
    {
      char ck5[64];
      PetscInt nd = 0;
      PetscCall(PetscSNPrintf(ck5, sizeof(ck5), "test_train_ckpt_np%d.h5", size));
      PetscCall(TrainerCreate(PETSC_COMM_WORLD, &a, 99, &ao, &dw, &toe, &tn));
      PetscCall(TrainerLoadCheckpoint(&tn, &toe, ck5));
      for (PetscInt k = 0; k < a.nparams; k++) nd += tn.ema[k] != tn.params[k];
      CHECK(tn.step == NSTEPS / 2 && nd == 0, "checkpoint without an average restored with -train_ema: step %lld, %d averaged weights differ from the restored ones", (long long)tn.step, (int)nd);
      PetscCall(TrainerDestroy(&tn));
    }
    PetscCall(TrainerDestroy(&te));
    PetscCall(PetscFree(ref));
  }
  /* 8 */
  {
    const PetscInt n = 200000;
    const PetscReal p = 3, span = sch.T - sch.eps;
    PetscReal  *tv, ks = 0, below = 0, frac, se;
    PetscInt    exact1 = 1, gd, nb = 0, nbad = 0, gbad;
    Trainer     tp, tq;
    TrainOpts   top = to;
    PetscMPIInt size;
    char        ckpt[64];
    PetscCall(PetscMalloc1(n, &tv));
    for (PetscInt i = 0; i < n; i++) {
      RngStream st;
      rng_stream_init(&st, 11, RNG_PURPOSE_TRAIN_T, (uint64_t)i);
      const double u = rng_uniform(&st);
      exact1 &= train_draw_t(&sch, 1, u) == sch.eps + span * u;
      tv[i] = train_draw_t(&sch, p, u);
      below += tv[i] < 0.05;
    }
    PetscCall(PetscSortReal(n, tv));
    for (PetscInt i = 0; i < n; i++) {
      const PetscReal F = pow((tv[i] - sch.eps) / span, 1 / p);
      ks = PetscMax(ks, PetscMax(PetscAbsReal(F - (PetscReal)i / n), PetscAbsReal(F - (PetscReal)(i + 1) / n)));
    }
    frac = below / n;
    se   = PetscSqrtReal(frac * (1 - frac) / n);
    CHECK(exact1, "-train_t_power 1 draws t = eps + (T - eps) u exactly (the paper's U(eps, T))");
    CHECK(ks < 1.63 / PetscSqrtReal((PetscReal)n) && PetscAbsReal(frac - pow((0.05 - sch.eps) / span, 1 / p)) < 4 * se,
          "-train_t_power 3: KS statistic %.2e against ((t - eps)/(T - eps))^(1/3) (bound %.2e); fraction below t = 0.05: %.4f, law %.4f, SE %.1e", (double)ks, 1.63 / PetscSqrtReal((PetscReal)n), (double)frac, pow((0.05 - sch.eps) / span, 1 / p), (double)se);
    PetscCall(PetscFree(tv));

    top.t_power = p;
    PetscCall(TrainerCreate(PETSC_COMM_WORLD, &a, 1, &ao, &dw, &top, &tp));
    PetscCall(TrainerSteps(&tp, &sch, &dw, &top, NSTEPS, NULL));
    { /* recompute the times of the last step's members on this rank, in the trainer's order */
      const PetscInt64 step = tp.step - 1, spe = train_steps_per_epoch(&dw, &top), j = step % spe;
      for (PetscInt64 q = j * top.batch; q < PetscMin((j + 1) * top.batch, dw.N); q++) {
        const PetscInt64 gi = tp.perm[q];
        RngStream        st;
        if (gi < dw.first || gi >= dw.first + dw.nlocal) continue;
        rng_stream_init(&st, (uint64_t)top.seed, RNG_PURPOSE_TRAIN_T, (uint64_t)(step * dw.N + gi));
        nbad += tp.bt[nb++] != train_draw_t(&sch, p, rng_uniform(&st));
      }
    }
    PetscCallMPI(MPI_Allreduce(&nbad, &gbad, 1, MPIU_INT, MPI_SUM, PETSC_COMM_WORLD));
    CHECK(nb > 0 && gbad == 0, "-train_t_power 3 in the trainer: %d of the last batch's times (%d on this rank) differ from train_draw_t of their streams", (int)gbad, (int)nb);
    PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
    PetscCall(PetscSNPrintf(ckpt, sizeof(ckpt), "test_train_tpow_np%d.h5", size));
    PetscCall(HalfAndRestart(&a, &ao, &dw, &top, &sch, ckpt, NULL, &tq));
    PetscCall(GlobalDiff(a.nparams, tq.params, tp.params, &gd));
    CHECK(gd == 0, "-train_t_power 3: 30 + restart + 30 steps vs 60 straight: %d parameters differ (bitwise)", (int)gd);
    PetscBool e1, e2;
    PetscCall(ResumeRefused(&a, &ao, &dw, &to, ckpt, &e1));
    CHECK(e1, "resuming a -train_t_power 3 checkpoint with -train_t_power 1 is an error");
    TrainOpts ton = top; /* a checkpoint without a model description still records the network's parametrisation */
    ton.par.output = DSM_OUTPUT_NOISE;
    PetscCall(ResumeRefused(&a, &ao, &dw, &ton, ckpt, &e2));
    CHECK(e2, "resuming a score-output checkpoint (written without a model description) with -net_output noise is an error");
    PetscCall(TrainerDestroy(&tq));
    PetscCall(TrainerDestroy(&tp));
  }
  { /* the step's divergence check over the summed gradient: Inf and NaN of either sign found
       at the first position, anywhere in the vectorised body or its tail; the largest finite
       float, subnormals and -0 are not flagged */
    const PetscInt64 n = 1003; /* not a multiple of any vector width: the tail is checked too */
    float           *g;
    PetscInt         nok = 0, ntry = 0;
    const float      bad[4] = {INFINITY, -INFINITY, NAN, -NAN};
    const PetscInt64 where[5] = {0, 1, 500, n - 2, n - 1};
    PetscCall(PetscMalloc1(n, &g));
    for (PetscInt64 i = 0; i < n; i++) g[i] = (i % 3 == 0) ? FLT_MAX : (i % 3 == 1 ? -FLT_MIN / 8 : -0.0f);
    ntry++;
    nok += train_first_nonfinite(n, g) == -1;
    for (int b = 0; b < 4; b++)
      for (int k = 0; k < 5; k++) {
        const float keep = g[where[k]], keep_last = g[where[4]];
        g[where[k]] = bad[b];
        if (k < 4) g[where[4]] = bad[(b + 1) % 4]; /* a later bad entry: the first is reported */
        ntry++;
        nok += train_first_nonfinite(n, g) == where[k];
        g[where[4]] = keep_last;
        g[where[k]] = keep;
      }
    CHECK(nok == ntry, "divergence check of the summed gradient: %d of %d cases right (first Inf/NaN found at positions 0, 1, 500, n-2, n-1 of n = 1003; FLT_MAX, subnormals, -0 accepted)", (int)nok, (int)ntry);
    PetscCall(PetscFree(g));
  }
  PetscCall(TrainerDestroy(&tw));
  PetscCall(TrainerDestroy(&ts));
  PetscCall(TrainerDestroy(&t2));
  PetscCall(PetscFree2(xw, cw));
  PetscCall(PetscFree2(xs, cs));
  status = TestFinish("test_train");
  PetscCall(PetscFinalize());
  return status;
}
