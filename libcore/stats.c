#include "stats.h"
#include <math.h>

PetscErrorCode StatsMoments(MPI_Comm comm, PetscInt nlocal, PetscInt dim, const PetscReal x[], PetscReal mean[], PetscReal std[])
{
  PetscReal *acc;
  PetscInt64 nl = nlocal, N;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1(dim, &acc));
  PetscCallMPI(MPI_Allreduce(&nl, &N, 1, MPIU_INT64, MPI_SUM, comm));
  PetscCheck(N > 1, comm, PETSC_ERR_ARG_SIZ, "StatsMoments needs at least 2 samples, got %" PetscInt64_FMT, N);
  for (PetscInt i = 0; i < nlocal; i++)
    for (PetscInt d = 0; d < dim; d++) acc[d] += x[(size_t)i * dim + d];
  PetscCallMPI(MPI_Allreduce(acc, mean, dim, MPIU_REAL, MPI_SUM, comm));
  for (PetscInt d = 0; d < dim; d++) {
    mean[d] /= (PetscReal)N;
    acc[d] = 0;
  }
  for (PetscInt i = 0; i < nlocal; i++)
    for (PetscInt d = 0; d < dim; d++) {
      const PetscReal r = x[(size_t)i * dim + d] - mean[d];
      acc[d] += r * r;
    }
  PetscCallMPI(MPI_Allreduce(acc, std, dim, MPIU_REAL, MPI_SUM, comm));
  for (PetscInt d = 0; d < dim; d++) std[d] = sqrt(std[d] / (PetscReal)(N - 1));
  PetscCall(PetscFree(acc));
  PetscFunctionReturn(0);
}

static int CmpReal(const void *a, const void *b)
{
  const PetscReal x = *(const PetscReal *)a, y = *(const PetscReal *)b;
  return (x > y) - (x < y);
}

PetscErrorCode StatsW1Quantile(MPI_Comm comm, PetscInt nlocal, const PetscReal x[], PetscReal (*Q)(void *, PetscReal), void *qctx, PetscReal *w1)
{
  PetscMPIInt rank, size, nl = (PetscMPIInt)nlocal, *counts = NULL, *displs = NULL;
  PetscReal  *all = NULL, w = 0;
  PetscInt64  N   = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  if (!rank) PetscCall(PetscMalloc2(size, &counts, size, &displs));
  PetscCallMPI(MPI_Gather(&nl, 1, MPI_INT, counts, 1, MPI_INT, 0, comm));
  if (!rank) {
    for (PetscMPIInt r = 0; r < size; r++) {
      displs[r] = (PetscMPIInt)N;
      N += counts[r];
    }
    PetscCall(PetscMalloc1(N, &all));
  }
  PetscCallMPI(MPI_Gatherv(x, nl, MPIU_REAL, all, counts, displs, MPIU_REAL, 0, comm));
  if (!rank) {
    qsort(all, (size_t)N, sizeof(PetscReal), CmpReal);
    for (PetscInt64 i = 0; i < N; i++) w += PetscAbsReal(all[i] - Q(qctx, (i + 0.5) / (PetscReal)N));
    w /= (PetscReal)N;
    PetscCall(PetscFree(all));
    PetscCall(PetscFree2(counts, displs));
  }
  PetscCallMPI(MPI_Bcast(&w, 1, MPIU_REAL, 0, comm));
  *w1 = w;
  PetscFunctionReturn(0);
}
