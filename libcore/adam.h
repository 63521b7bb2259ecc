/* adam: the Adam optimiser (Kingma & Ba 2015) over one flat float parameter buffer, with the
 * moment buffers m and v laid out like the parameters (llm.c style), so a data-parallel step is
 * one MPI_Allreduce of the gradient followed by the same AdamStep on every rank.
 * Update (as PyTorch's torch.optim.Adam, bias-corrected):
 *   m = b1 m + (1-b1) g,  v = b2 v + (1-b2) g^2,
 *   p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)  [- lr * wd * p, decoupled (AdamW)]
 * Defaults: lr 1e-3 (Appendix A), betas (0.9, 0.999), eps 1e-8, weight decay 0 (off).
 * Learning-rate schedule (beyond the paper, which keeps lr constant): cosine decay from lr at step
 * 0 to lr_min at step total_steps (the trainer sets it: epochs x steps per epoch), a function of
 * the step alone, so a restarted run follows the same schedule bitwise; or a step: lr until step
 * round(step_frac x total_steps), lr_min after (the paper's constant rate with a low-rate tail,
 * the same updates as a constant-rate run resumed from its checkpoint at lr_min). */
#ifndef PDEDIFF_ADAM_H
#define PDEDIFF_ADAM_H
#include <petscsys.h>

typedef enum {
  ADAM_SCHEDULE_CONSTANT,
  ADAM_SCHEDULE_COSINE,
  ADAM_SCHEDULE_STEP
} AdamSchedule;
extern const char *const AdamSchedules[];

typedef struct {
  PetscReal    lr, beta1, beta2, eps, weight_decay;
  AdamSchedule schedule;
  PetscReal    lr_min;      /* cosine: the learning rate at total_steps; step: after the drop */
  PetscReal    step_frac;   /* step: the drop comes after this fraction of total_steps, in (0, 1) */
  PetscInt     tail_epochs; /* step: > 0 sets step_frac from the run's length (AdamOptsSetLength) */
  PetscInt64   total_steps; /* cosine, step: length of the schedule (0: not set, constant lr) */
} AdamOpts;

typedef struct {
  AdamOpts   o;
  PetscInt   n;    /* number of parameters */
  PetscInt64 step; /* steps taken (t in the bias correction) */
  float     *m, *v;
} Adam;

PetscErrorCode AdamOptsSetDefaults(AdamOpts *o);
/* -adam_lr, -adam_beta1, -adam_beta2, -adam_eps, -adam_weight_decay, -adam_schedule, -adam_lr_min,
 * -adam_step_frac or -adam_tail_epochs (not both); validated. */
PetscErrorCode AdamOptsSetFromOptions(MPI_Comm comm, const char prefix[], AdamOpts *o);
PetscErrorCode AdamOptsValidate(const AdamOpts *o);
/* The schedule's length: total_steps = epochs x steps_per_epoch and, with tail_epochs > 0, the
 * drop after epochs - tail_epochs epochs (step_frac from the epoch counts, so users need not
 * work out 10,000/14,000 themselves). */
PetscErrorCode AdamOptsSetLength(AdamOpts *o, PetscInt64 epochs, PetscInt64 steps_per_epoch);
PetscErrorCode AdamCreate(const AdamOpts *o, PetscInt n, Adam *a);
PetscErrorCode AdamDestroy(Adam *a);
/* Step schedule: the first update taken at lr_min is number AdamStepBoundary + 1. */
PetscInt64 AdamStepBoundary(const AdamOpts *o);
/* The learning rate of update number step + 1 (step updates already taken). */
PetscReal AdamLearningRate(const AdamOpts *o, PetscInt64 step);
/* One update of params (n) from the gradient grad (n). */
PetscErrorCode AdamStep(Adam *a, float params[], const float grad[]);

#endif
