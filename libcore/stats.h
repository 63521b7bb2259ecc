/* stats: distributed sample statistics used to check samplers and report results. */
#ifndef PDEDIFF_STATS_H
#define PDEDIFF_STATS_H
#include <petscsys.h>

/* Per-component mean and (unbiased) standard deviation of the rows x[nlocal*dim] held across
   comm (two passes, each one MPI_Allreduce). Collective. */
PetscErrorCode StatsMoments(MPI_Comm comm, PetscInt nlocal, PetscInt dim, const PetscReal x[], PetscReal mean[], PetscReal std[]);

/* 1-D Wasserstein-1 distance between the empirical law of the scalars x (held across comm)
   and an exact law given by its quantile function: (1/N) sum_i |x_(i) - Q((i - 1/2)/N)|.
   Gathers to rank 0 to sort; result on every rank. Collective. */
PetscErrorCode StatsW1Quantile(MPI_Comm comm, PetscInt nlocal, const PetscReal x[], PetscReal (*Q)(void *, PetscReal), void *qctx, PetscReal *w1);

#endif
