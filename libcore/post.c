#include "post.h"
#include <math.h>

PetscReal post_crps_sorted(PetscInt n, const PetscReal v_sorted[], PetscReal v)
{
  PetscReal a = 0, b = 0;

  for (PetscInt i = 0; i < n; i++) {
    a += PetscAbsReal(v_sorted[i] - v);
    b += (PetscReal)(2 * (i + 1) - n - 1) * v_sorted[i];
  }
  return a / n - b / ((PetscReal)n * n);
}

PetscErrorCode PostSummarize(PetscInt ns, PetscInt dim, const PetscReal x[], const PetscReal truth[], PetscReal mean[], PetscReal std[], PetscReal crps[], PetscReal in1[], PetscReal in2[], PetscReal work[])
{
  PetscFunctionBeginUser;
  PetscCheck(ns >= 2, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "A posterior summary needs at least 2 samples, got %" PetscInt_FMT, ns);
  for (PetscInt j = 0; j < dim; j++) {
    PetscReal s = 0, q = 0;
    for (PetscInt i = 0; i < ns; i++) s += x[(size_t)i * dim + j];
    mean[j] = s / ns;
    for (PetscInt i = 0; i < ns; i++) {
      const PetscReal d = x[(size_t)i * dim + j] - mean[j];
      q += d * d;
    }
    std[j] = PetscSqrtReal(q / (ns - 1));
    if (!truth) continue;
    for (PetscInt i = 0; i < ns; i++) work[i] = x[(size_t)i * dim + j];
    PetscCall(PetscSortReal(ns, work));
    crps[j] = post_crps_sorted(ns, work, truth[j]);
    in1[j]  = PetscAbsReal(truth[j] - mean[j]) <= std[j] ? 1 : 0;
    in2[j]  = PetscAbsReal(truth[j] - mean[j]) <= 2 * std[j] ? 1 : 0;
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PostGaussian(SlpkGrid *g, PetscInt ny, PetscInt nx, const PetscReal H[], const PetscReal K[], const PetscReal mu0[], PetscReal s2, PetscInt ncases, const PetscReal Y[], PetscReal Mu[], PetscReal Sigma[])
{
  const PetscInt nrhs = nx + ncases;
  PetscReal     *HK, *S, *R;
  PetscInt       info;

  PetscFunctionBeginUser;
  PetscCheck(s2 > 0, g->comm, PETSC_ERR_ARG_OUTOFRANGE, "The exact posterior needs a noise variance > 0 (got %.6g): at zero noise it is degenerate on the null space of H", (double)s2);
  PetscCall(PetscMalloc3((size_t)ny * nx, &HK, (size_t)ny * ny, &S, (size_t)ny * nrhs, &R));
  for (PetscInt i = 0; i < ny; i++) /* HK = H K */
    for (PetscInt j = 0; j < nx; j++) {
      PetscReal a = 0;
      for (PetscInt k = 0; k < nx; k++) a += H[(size_t)i * nx + k] * K[(size_t)k * nx + j];
      HK[(size_t)i * nx + j] = a;
    }
  for (PetscInt i = 0; i < ny; i++) /* S = HK H^T + s2 I */
    for (PetscInt j = 0; j < ny; j++) {
      PetscReal a = 0;
      for (PetscInt k = 0; k < nx; k++) a += HK[(size_t)i * nx + k] * H[(size_t)j * nx + k];
      S[(size_t)i * ny + j] = a + (i == j ? s2 : 0);
    }
  for (PetscInt i = 0; i < ny; i++) { /* R = [H K | (Y - H mu0)^T] */
    PetscReal hm = 0;
    for (PetscInt k = 0; k < nx; k++) hm += H[(size_t)i * nx + k] * mu0[k];
    for (PetscInt j = 0; j < nx; j++) R[(size_t)i * nrhs + j] = HK[(size_t)i * nx + j];
    for (PetscInt c = 0; c < ncases; c++) R[(size_t)i * nrhs + nx + c] = Y[(size_t)c * ny + i] - hm;
  }
  PetscCall(SlpkCholeskyReplicated(g, ny, 32, S, &info));
  PetscCheck(info == 0, g->comm, PETSC_ERR_USER_INPUT, "Exact posterior: H K H^T + s^2 I is not positive definite (leading minor %" PetscInt_FMT "); the noise variance %.6g is too small for this H and K", info, (double)s2);
  PetscCall(SlpkCholeskySolveReplicated(g, ny, nrhs, 32, S, R));
  for (PetscInt i = 0; i < nx; i++) /* Sigma = K - (HK)^T S^{-1} HK */
    for (PetscInt j = 0; j < nx; j++) {
      PetscReal a = 0;
      for (PetscInt k = 0; k < ny; k++) a += HK[(size_t)k * nx + i] * R[(size_t)k * nrhs + j];
      Sigma[(size_t)i * nx + j] = K[(size_t)i * nx + j] - a;
    }
  for (PetscInt i = 0; i < nx; i++) /* symmetrise the rounding */
    for (PetscInt j = 0; j < i; j++) Sigma[(size_t)i * nx + j] = Sigma[(size_t)j * nx + i] = 0.5 * (Sigma[(size_t)i * nx + j] + Sigma[(size_t)j * nx + i]);
  for (PetscInt c = 0; c < ncases; c++) /* Mu = mu0 + (HK)^T S^{-1} (y - H mu0) */
    for (PetscInt i = 0; i < nx; i++) {
      PetscReal a = 0;
      for (PetscInt k = 0; k < ny; k++) a += HK[(size_t)k * nx + i] * R[(size_t)k * nrhs + nx + c];
      Mu[(size_t)c * nx + i] = mu0[i] + a;
    }
  PetscCall(PetscFree3(HK, S, R));
  PetscFunctionReturn(0);
}
