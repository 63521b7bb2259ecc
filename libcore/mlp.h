/* mlp: the score network's multilayer perceptron (paper Appendix A).
 *
 * A fully connected network of L = nlayers affine layers, ReLU after every layer but the last:
 *   x_0 = in                              B x n_0
 *   z_l = x_l W_l^T + b_l                 B x n_{l+1},   l = 0 .. L-1
 *   x_{l+1} = relu(z_l)                   B x n_{l+1},   l = 0 .. L-2
 *   out = z_{L-1}                         B x n_L        (linear output layer)
 * with n_l = width[l], all batches row-major (one sample per row), W_l n_{l+1} x n_l row-major
 * (PyTorch nn.Linear layout: row j of W_l holds the input weights of unit j), b_l n_{l+1}.
 *
 * Parameters live in ONE flat buffer (llm.c style) so that an optimiser, a checkpoint or an
 * MPI_Allreduce of the gradient treats them as a single array; MlpArch holds the offsets
 * (views) W_l = params + woff[l], b_l = params + boff[l], in the order W_0, b_0, W_1, b_1, ...
 * The gradient buffer has the same layout.
 *
 * Forward and backward are written per layer over the whole batch with BLAS GEMMs (OpenBLAS
 * cblas_?gemm). Single precision (_f) is the production precision: the network is trained with
 * Adam, and float halves the memory traffic and doubles the GEMM throughput. The double build
 * (_d) is the SAME code (libcore/mlp_impl.h compiled twice) and exists for the finite-difference
 * gradient test and for reference computations.
 *
 * ReLU'(0) is taken as 0 (as PyTorch does).
 * Events "MlpForward" and "MlpBackward" (both precisions) appear in -log_view with their flops.
 */
#ifndef PDEDIFF_MLP_H
#define PDEDIFF_MLP_H
#include <petscsys.h>
#include <stdint.h>

#define MLP_MAX_LAYERS 16

typedef struct {
  PetscInt nlayers;                                    /* affine layers = hidden layers + 1 */
  PetscInt width[MLP_MAX_LAYERS + 1];                  /* width[0] = inputs, width[nlayers] = outputs */
  PetscInt woff[MLP_MAX_LAYERS], boff[MLP_MAX_LAYERS]; /* offsets of W_l (width[l+1] x width[l], row-major,
                                                          so y = x W^T + b for row-major batches) and b_l */
  PetscInt nparams;                                    /* length of the flat parameter (and gradient) buffer */
} MlpArch;

/* n_in inputs, n_hidden_layers hidden layers of hidden_width units each, n_out outputs.
   All must be > 0 and n_hidden_layers <= MLP_MAX_LAYERS - 1. */
PetscErrorCode MlpArchCreate(PetscInt n_in, PetscInt n_hidden_layers, PetscInt hidden_width, PetscInt n_out, MlpArch *a);

/* One-line description, e.g. "64-256-256-256-256-30 (ReLU), 221,726 parameters".
   Errors if buf (len bytes) is too short. */
PetscErrorCode MlpArchView(const MlpArch *a, char buf[], size_t len);

/* PyTorch nn.Linear default initialisation: every entry of W_l and b_l ~ U(-k, k) with
   k = 1/sqrt(fan_in) = 1/sqrt(width[l]). Drawn from the counter-based stream
   (seed, RNG_PURPOSE_MLP_INIT, index = l): first W_l row by row, then b_l, one rng_uniform per
   entry (drawn in double, then rounded to the storage type, so _f and _d agree to rounding).
   The values do not depend on the rank. */
PetscErrorCode MlpInitParams_f(const MlpArch *a, uint64_t seed, float *params);
PetscErrorCode MlpInitParams_d(const MlpArch *a, uint64_t seed, double *params);

/* Work space for a batch of up to maxB rows. Forward keeps here what Backward needs: a copy of
   the input, the pre-activations and activations of every hidden layer. The fields are public
   for tests and benchmarks (read-only outside mlp.c). Create one per (architecture, maxB);
   a work space is tied to the architecture it was created for (checked). */
typedef struct {
  PetscInt nlayers;                 /* architecture it was created for (checked by Forward/Backward) */
  PetscInt width[MLP_MAX_LAYERS + 1];
  PetscInt maxB;                    /* rows the buffers hold */
  PetscInt B;                       /* rows of the last Forward; -1 before any */
  float   *x[MLP_MAX_LAYERS];       /* x[l], l < L: input of layer l, B x width[l]; x[0] is a copy
                                       of in, x[l] = relu(z[l-1]) for l >= 1 */
  float   *z[MLP_MAX_LAYERS];       /* z[l], l < L-1: pre-activation of hidden layer l, B x width[l+1]
                                       (z[L-1] is out, not kept: Backward does not need it) */
  float   *g[2];                    /* Backward scratch: dL/dx_l, then dL/dz_{l-1} in place, alternating
                                       between the two; maxB x (largest hidden width) each */
  float   *mem;                     /* the one allocation behind all of the above */
} MlpWork_f;

typedef struct { /* the same fields as MlpWork_f, in double */
  PetscInt nlayers;
  PetscInt width[MLP_MAX_LAYERS + 1];
  PetscInt maxB;
  PetscInt B;
  double  *x[MLP_MAX_LAYERS];
  double  *z[MLP_MAX_LAYERS];
  double  *g[2];
  double  *mem;
} MlpWork_d;

PetscErrorCode MlpWorkCreate_f(const MlpArch *a, PetscInt maxB, MlpWork_f *w);
PetscErrorCode MlpWorkDestroy_f(MlpWork_f *w);
PetscErrorCode MlpWorkCreate_d(const MlpArch *a, PetscInt maxB, MlpWork_d *w);
PetscErrorCode MlpWorkDestroy_d(MlpWork_d *w);

/* out (B x width[L]) = network(in (B x width[0])), 0 <= B <= w->maxB. Keeps in w what Backward
   needs (in may be overwritten by the caller afterwards). */
PetscErrorCode MlpForward_f(const MlpArch *a, const float *params, PetscInt B, const float *in, float *out, MlpWork_f *w);
PetscErrorCode MlpForward_d(const MlpArch *a, const double *params, PetscInt B, const double *in, double *out, MlpWork_d *w);

/* Backward of the last Forward on w (same B, same params): given dL/dout (B x width[L])
   accumulate (+=) dL/dparams into grad (nparams, layout of params) and, if din != NULL, write
   dL/din (B x width[0]). Backward writes only w's scratch g, not the state kept by Forward, so it
   may be called again (another dout) for the same Forward. With din == NULL the first layer's dX GEMM is skipped (training). */
PetscErrorCode MlpBackward_f(const MlpArch *a, const float *params, PetscInt B, const float *dout, float *grad, float *din, MlpWork_f *w);
PetscErrorCode MlpBackward_d(const MlpArch *a, const double *params, PetscInt B, const double *dout, double *grad, double *din, MlpWork_d *w);

/* Floating-point operations counted (and logged with PetscLogFlops), per layer l with
   n = width[l], m = width[l+1]:
     Forward:  2 B n m (GEMM) + B m (bias add).  ReLU (a comparison) is not counted.
     Backward: 2 B n m (dW GEMM) + B m (db sum) + 2 B n m (dX GEMM) for every layer but the
               first. MlpFlopsBackward is the training case din == NULL; Backward with din != NULL
               performs (and logs) another 2 B width[0] width[1]. */
PetscLogDouble MlpFlopsForward(const MlpArch *a, PetscInt B);
PetscLogDouble MlpFlopsBackward(const MlpArch *a, PetscInt B);

#endif
