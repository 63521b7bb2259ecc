/* adam: the Adam optimiser (Kingma & Ba 2015) over one flat float parameter buffer, with the
 * moment buffers m and v laid out like the parameters (llm.c style), so a data-parallel step is
 * one MPI_Allreduce of the gradient followed by the same AdamStep on every rank.
 * Update (as PyTorch's torch.optim.Adam, bias-corrected):
 *   m = b1 m + (1-b1) g,  v = b2 v + (1-b2) g^2,
 *   p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)  [- lr * wd * p, decoupled (AdamW)]
 * Defaults: lr 1e-3 (Appendix A), betas (0.9, 0.999), eps 1e-8, weight decay 0 (off). */
#ifndef PDEDIFF_ADAM_H
#define PDEDIFF_ADAM_H
#include <petscsys.h>

typedef struct {
  PetscReal lr, beta1, beta2, eps, weight_decay;
} AdamOpts;

typedef struct {
  AdamOpts   o;
  PetscInt   n;    /* number of parameters */
  PetscInt64 step; /* steps taken (t in the bias correction) */
  float     *m, *v;
} Adam;

PetscErrorCode AdamOptsSetDefaults(AdamOpts *o);
/* -adam_lr, -adam_beta1, -adam_beta2, -adam_eps, -adam_weight_decay; validated. */
PetscErrorCode AdamOptsSetFromOptions(MPI_Comm comm, const char prefix[], AdamOpts *o);
PetscErrorCode AdamOptsValidate(const AdamOpts *o);
PetscErrorCode AdamCreate(const AdamOpts *o, PetscInt n, Adam *a);
PetscErrorCode AdamDestroy(Adam *a);
/* One update of params (n) from the gradient grad (n). */
PetscErrorCode AdamStep(Adam *a, float params[], const float grad[]);

#endif
