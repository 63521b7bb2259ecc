#include "adam.h"
#include <math.h>

const char *const AdamSchedules[] = {"constant", "cosine", "step", "AdamSchedule", "ADAM_SCHEDULE_", NULL};

PetscErrorCode AdamOptsSetDefaults(AdamOpts *o)
{
  PetscFunctionBeginUser;
  o->lr           = 1e-3;
  o->beta1        = 0.9;
  o->beta2        = 0.999;
  o->eps          = 1e-8;
  o->weight_decay = 0.0;
  o->schedule     = ADAM_SCHEDULE_CONSTANT;
  o->lr_min       = 1e-5;
  o->step_frac    = 10000.0 / 12000.0; /* the paper's 10,000 epochs, then 2,000 at lr_min */
  o->tail_epochs  = 0;
  o->total_steps  = 0;
  PetscFunctionReturn(0);
}

PetscErrorCode AdamOptsValidate(const AdamOpts *o)
{
  PetscFunctionBeginUser;
  PetscCheck(o->lr > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-adam_lr %.6g: the learning rate must be > 0 (paper: 1e-3)", (double)o->lr);
  PetscCheck(o->beta1 >= 0 && o->beta1 < 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-adam_beta1 %.6g: must lie in [0, 1)", (double)o->beta1);
  PetscCheck(o->beta2 >= 0 && o->beta2 < 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-adam_beta2 %.6g: must lie in [0, 1)", (double)o->beta2);
  PetscCheck(o->eps > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-adam_eps %.6g: must be > 0", (double)o->eps);
  PetscCheck(o->weight_decay >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-adam_weight_decay %.6g: must be >= 0 (0 = off)", (double)o->weight_decay);
  PetscCheck(o->schedule == ADAM_SCHEDULE_CONSTANT || (o->lr_min > 0 && o->lr_min <= o->lr), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-adam_lr_min %.6g: the final learning rate of the %s schedule must lie in (0, -adam_lr = %.6g]", (double)o->lr_min, AdamSchedules[o->schedule], (double)o->lr);
  PetscCheck(o->schedule != ADAM_SCHEDULE_STEP || (o->step_frac > 0 && o->step_frac < 1), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-adam_step_frac %.6g: the fraction of training before the step schedule drops to -adam_lr_min must lie in (0, 1) (e.g. 0.8333 for 10,000 of 12,000 epochs)", (double)o->step_frac);
  PetscCheck(o->tail_epochs >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-adam_tail_epochs %" PetscInt_FMT ": the number of final epochs at -adam_lr_min must be >= 0 (0 = use -adam_step_frac)", o->tail_epochs);
  PetscCheck(o->tail_epochs == 0 || o->schedule == ADAM_SCHEDULE_STEP, PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP, "-adam_tail_epochs %" PetscInt_FMT " sets the low-rate tail of the step schedule, but -adam_schedule is %s: add -adam_schedule step", o->tail_epochs, AdamSchedules[o->schedule]);
  PetscFunctionReturn(0);
}

PetscErrorCode AdamOptsSetLength(AdamOpts *o, PetscInt64 epochs, PetscInt64 steps_per_epoch)
{
  PetscFunctionBeginUser;
  PetscCheck(epochs > 0 && steps_per_epoch > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Adam schedule of %lld epochs of %lld steps: both must be > 0", (long long)epochs, (long long)steps_per_epoch);
  o->total_steps = epochs * steps_per_epoch;
  if (o->tail_epochs > 0) {
    PetscCheck(o->tail_epochs < epochs, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-adam_tail_epochs %" PetscInt_FMT " leaves no epochs at -adam_lr: it must be below -train_epochs %lld (e.g. -train_epochs 14000 -adam_tail_epochs 4000 for the paper's 10,000 then 4,000 at -adam_lr_min)", o->tail_epochs, (long long)epochs);
    o->step_frac = (PetscReal)(epochs - o->tail_epochs) / (PetscReal)epochs;
  }
  PetscCall(AdamOptsValidate(o));
  PetscFunctionReturn(0);
}

PetscErrorCode AdamOptsSetFromOptions(MPI_Comm comm, const char prefix[], AdamOpts *o)
{
  PetscBool frac_set = PETSC_FALSE, tail_set = PETSC_FALSE;

  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "Adam optimiser (Appendix A)", "adam");
  PetscCall(PetscOptionsReal("-adam_lr", "Learning rate > 0", "adam", o->lr, &o->lr, NULL));
  PetscCall(PetscOptionsReal("-adam_beta1", "First-moment decay in [0, 1)", "adam", o->beta1, &o->beta1, NULL));
  PetscCall(PetscOptionsReal("-adam_beta2", "Second-moment decay in [0, 1)", "adam", o->beta2, &o->beta2, NULL));
  PetscCall(PetscOptionsReal("-adam_eps", "Denominator guard > 0", "adam", o->eps, &o->eps, NULL));
  PetscCall(PetscOptionsReal("-adam_weight_decay", "Decoupled (AdamW) weight decay >= 0; 0 = off", "adam", o->weight_decay, &o->weight_decay, NULL));
  PetscCall(PetscOptionsEnum("-adam_schedule", "Learning rate over training: constant (the paper), cosine decay to -adam_lr_min at the last step, or step down to -adam_lr_min after -adam_step_frac of the steps", "adam", AdamSchedules, (PetscEnum)o->schedule, (PetscEnum *)&o->schedule, NULL));
  PetscCall(PetscOptionsReal("-adam_lr_min", "Cosine schedule: the learning rate at the last step; step schedule: the rate after the drop", "adam", o->lr_min, &o->lr_min, NULL));
  PetscCall(PetscOptionsReal("-adam_step_frac", "Step schedule: fraction of the steps taken at -adam_lr", "adam", o->step_frac, &o->step_frac, &frac_set));
  PetscCall(PetscOptionsInt("-adam_tail_epochs", "Step schedule: the last this many epochs at -adam_lr_min (instead of -adam_step_frac; 0 = off)", "adam", o->tail_epochs, &o->tail_epochs, &tail_set));
  PetscOptionsEnd();
  PetscCheck(!(frac_set && tail_set && o->tail_epochs > 0), comm, PETSC_ERR_ARG_INCOMP, "-adam_step_frac and -adam_tail_epochs both place the step schedule's drop: give one of them");
  PetscCall(AdamOptsValidate(o));
  PetscFunctionReturn(0);
}

PetscErrorCode AdamCreate(const AdamOpts *o, PetscInt n, Adam *a)
{
  PetscFunctionBeginUser;
  PetscCall(AdamOptsValidate(o));
  PetscCheck(n > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Adam needs at least one parameter, got %" PetscInt_FMT, n);
  a->o    = *o;
  a->n    = n;
  a->step = 0;
  PetscCall(PetscCalloc2(n, &a->m, n, &a->v));
  PetscFunctionReturn(0);
}

PetscErrorCode AdamDestroy(Adam *a)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree2(a->m, a->v));
  PetscFunctionReturn(0);
}

PetscInt64 AdamStepBoundary(const AdamOpts *o)
{
  return (PetscInt64)llround(o->step_frac * (double)o->total_steps);
}

PetscReal AdamLearningRate(const AdamOpts *o, PetscInt64 step)
{
  if (o->schedule == ADAM_SCHEDULE_CONSTANT || o->total_steps <= 0) return o->lr;
  if (o->schedule == ADAM_SCHEDULE_STEP) return step < AdamStepBoundary(o) ? o->lr : o->lr_min;
  const double f = step >= o->total_steps ? 1.0 : (double)step / (double)o->total_steps;
  return o->lr_min + 0.5 * (o->lr - o->lr_min) * (1.0 + cos(M_PI * f));
}

PetscErrorCode AdamStep(Adam *a, float p[], const float g[])
{
  PetscFunctionBeginUser;
  const double lr = AdamLearningRate(&a->o, a->step);
  a->step++;
  /* scalars in double: the bias corrections 1 - b^t underflow badly in float for small t */
  const double b1 = a->o.beta1, b2 = a->o.beta2;
  const double c1 = 1.0 - pow(b1, (double)a->step), c2 = 1.0 - pow(b2, (double)a->step);
  const float  lr_c = (float)(lr / c1), isc2 = (float)(1.0 / sqrt(c2)), eps = (float)a->o.eps;
  /* 1 - b in double before rounding: 1 - (float)0.999 is off by 1.3e-5 relative */
  const float  fb1 = (float)b1, fb2 = (float)b2, omb1 = (float)(1.0 - b1), omb2 = (float)(1.0 - b2);
  const float  wd = (float)(lr * a->o.weight_decay);
  float       *m = a->m, *v = a->v;
  for (PetscInt i = 0; i < a->n; i++) {
    const float gi = g[i];
    m[i]           = fb1 * m[i] + omb1 * gi;
    v[i]           = fb2 * v[i] + omb2 * gi * gi;
    p[i] -= lr_c * m[i] / (sqrtf(v[i]) * isc2 + eps) + wd * p[i];
  }
  PetscFunctionReturn(0);
}
