/* slpk: a small ScaLAPACK/BLACS wrapper (DESIGN.md section 6: dense linear algebra that grows
 * with the problem runs on a BLACS grid).
 *
 * Debian's scalapack-openmpi ships no C headers, so the prototypes of the few BLACS and
 * ScaLAPACK routines used are declared in slpk.c. The matrices the callers hold are small and
 * replicated (the same row-major array on every rank); the *Replicated routines move them into a
 * 2-D block-cyclic distribution (each rank copies its own blocks: no communication), call
 * ScaLAPACK, and replicate the result again with one MPI_Allreduce. Every rank ends with a
 * bit-identical result (each entry is summed with zeros only).
 *
 * One error idiom: PetscCallSLPK(routine, info) turns a negative ScaLAPACK `info` (an illegal
 * argument: a bug here) into a PETSc error naming the routine and the argument. A positive info
 * (e.g. pdpotrf_: the matrix is not positive definite) is a property of the data and is returned
 * to the caller, which knows which option to blame. */
#ifndef PDEDIFF_SLPK_H
#define PDEDIFF_SLPK_H
#include <petscsys.h>

/* A negative info from ScaLAPACK routine `routine` becomes a PETSc error. */
#define PetscCallSLPK(routine, info) \
  PetscCheck((info) >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "ScaLAPACK %s: argument %d had an illegal value (info = %d): a bug in the caller of slpk", routine, (int)-(info), (int)(info))

/* A BLACS process grid over every rank of comm (nprow x npcol = size of comm). */
typedef struct {
  MPI_Comm comm;   /* the communicator the grid covers (not duplicated: the caller keeps it alive) */
  int      ctxt;   /* BLACS context */
  int      nprow, npcol, myrow, mycol;
} SlpkGrid;

/* Collective on comm. A near-square grid: nprow is the largest divisor of the size that is
   <= sqrt(size) (3 ranks: 1 x 3), row-major rank order. The context comes from
   Csys2blacs_handle(comm), so comm may be any (sub-)communicator; the system handle is freed
   once the grid exists (the grid holds its own communicators). */
PetscErrorCode SlpkGridCreate(MPI_Comm comm, SlpkGrid *g);
/* Collective. Release the BLACS context (MPI stays initialised). */
PetscErrorCode SlpkGridDestroy(SlpkGrid *g);

/* Collective. Cholesky factorisation of the n x n symmetric positive definite A (row-major,
   identical on every rank; only its lower triangle is read) on the grid with nb x nb blocks
   (32 is a good default; n < nb and more ranks than blocks are fine). On return A holds the
   lower factor L (A = L L^T, upper triangle zeroed), identical on every rank, and *info = 0.
   If the leading minor of order k is not positive definite, *info = k > 0 and A is
   unspecified: the caller raises the error. */
PetscErrorCode SlpkCholeskyReplicated(SlpkGrid *g, PetscInt n, PetscInt nb, PetscReal A[], PetscInt *info);

/* Collective. Solve A X = B with A = L L^T from SlpkCholeskyReplicated: L is n x n lower
   (row-major, replicated; its upper triangle is not read), B is n x nrhs row-major and
   replicated, overwritten by A^{-1} B, identical on every rank. */
PetscErrorCode SlpkCholeskySolveReplicated(SlpkGrid *g, PetscInt n, PetscInt nrhs, PetscInt nb, const PetscReal L[], PetscReal B[]);

#endif
