/* slpk: ScaLAPACK/BLACS wrapper (see slpk.h). */
#include "slpk.h"
#include <math.h>

/* BLACS C interface and ScaLAPACK (Fortran) prototypes: Debian's scalapack-openmpi has no
   headers. Fortran routines take every argument by reference; a CHARACTER argument is followed
   by a hidden length (size_t with gfortran) appended at the end of the argument list, passed
   here explicitly so that the calls match the callee's ABI. */
extern int  Csys2blacs_handle(MPI_Comm comm);
extern void Cfree_blacs_system_handle(int handle);
extern void Cblacs_pinfo(int *mypnum, int *nprocs);
extern void Cblacs_gridinit(int *ctxt, const char *order, int nprow, int npcol);
extern void Cblacs_gridinfo(int ctxt, int *nprow, int *npcol, int *myrow, int *mycol);
extern void Cblacs_gridexit(int ctxt);
extern int  numroc_(const int *n, const int *nb, const int *iproc, const int *isrcproc, const int *nprocs);
extern void descinit_(int desc[9], const int *m, const int *n, const int *mb, const int *nb, const int *irsrc, const int *icsrc, const int *ictxt, const int *lld, int *info);
extern void pdpotrf_(const char *uplo, const int *n, double *a, const int *ia, const int *ja, const int desca[9], int *info, size_t uplo_len);
extern void pdpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *ia, const int *ja, const int desca[9], double *b, const int *ib, const int *jb, const int descb[9], int *info, size_t uplo_len);

PetscErrorCode SlpkGridCreate(MPI_Comm comm, SlpkGrid *g)
{
  PetscMPIInt size, rank;
  int         handle, pnum, nprocs, nprow;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  for (nprow = (int)sqrt((double)size); nprow > 1 && size % nprow; nprow--) { }
  if (nprow < 1) nprow = 1;
  g->comm  = comm;
  g->nprow = nprow;
  g->npcol = size / nprow;
  Cblacs_pinfo(&pnum, &nprocs); /* initialises BLACS on MPI_COMM_WORLD if not yet done */
  handle = Csys2blacs_handle(comm);
  g->ctxt = handle;
  Cblacs_gridinit(&g->ctxt, "Row", g->nprow, g->npcol);
  Cfree_blacs_system_handle(handle); /* the grid has its own communicators now */
  Cblacs_gridinfo(g->ctxt, &nprow, &g->npcol, &g->myrow, &g->mycol);
  PetscCheck(g->myrow >= 0 && g->mycol >= 0 && nprow == g->nprow && g->myrow * g->npcol + g->mycol == rank, PETSC_COMM_SELF, PETSC_ERR_LIB,
             "BLACS grid %d x %d: rank %d got position (%d, %d) instead of (%d, %d): is ScaLAPACK built against the same MPI as pdediff?", g->nprow, g->npcol, (int)rank, g->myrow, g->mycol, (int)rank / g->npcol, (int)rank % g->npcol);
  PetscFunctionReturn(0);
}

PetscErrorCode SlpkGridDestroy(SlpkGrid *g)
{
  PetscFunctionBeginUser;
  if (g->ctxt >= 0) Cblacs_gridexit(g->ctxt);
  g->ctxt  = -1;
  g->myrow = g->mycol = -1;
  PetscFunctionReturn(0);
}

/* A block-cyclic m x n matrix with mb = nb-sized square blocks, source process (0, 0). */
typedef struct {
  int        desc[9];
  int        m, n, nb, mloc, nloc, lld;
  PetscReal *a; /* local part, column-major, lld x nloc */
} SlpkMat;

static PetscErrorCode SlpkMatCreate(const SlpkGrid *g, PetscInt m, PetscInt n, PetscInt nb, SlpkMat *A)
{
  const int zero = 0;
  int       info;

  PetscFunctionBeginUser;
  PetscCall(PetscBLASIntCast(m, &A->m));
  PetscCall(PetscBLASIntCast(n, &A->n));
  PetscCall(PetscBLASIntCast(nb, &A->nb));
  A->mloc = numroc_(&A->m, &A->nb, &g->myrow, &zero, &g->nprow);
  A->nloc = numroc_(&A->n, &A->nb, &g->mycol, &zero, &g->npcol);
  A->lld  = PetscMax(1, A->mloc);
  descinit_(A->desc, &A->m, &A->n, &A->nb, &A->nb, &zero, &zero, &g->ctxt, &A->lld, &info);
  PetscCallSLPK("descinit_", info);
  PetscCall(PetscCalloc1((size_t)A->lld * PetscMax(1, A->nloc), &A->a));
  PetscFunctionReturn(0);
}

static PetscErrorCode SlpkMatDestroy(SlpkMat *A)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(A->a));
  PetscFunctionReturn(0);
}

/* Global index of local index l (0-based) along a dimension split over np processes, this
   process being p (source process 0). */
static inline PetscInt SlpkGlobal(int l, int nb, int p, int np) { return ((PetscInt)(l / nb) * np + p) * nb + l % nb; }

/* Copy this rank's blocks of the replicated row-major m x n matrix R into A (no communication). */
static void SlpkMatFromReplicated(const SlpkGrid *g, const PetscReal R[], SlpkMat *A)
{
  for (int lj = 0; lj < A->nloc; lj++) {
    const PetscInt gj = SlpkGlobal(lj, A->nb, g->mycol, g->npcol);
    for (int li = 0; li < A->mloc; li++) A->a[li + (size_t)lj * A->lld] = R[SlpkGlobal(li, A->nb, g->myrow, g->nprow) * A->n + gj];
  }
}

/* Replicate A into the row-major m x n array R on every rank: each rank writes its blocks into
   a zeroed R, then one MPI_Allreduce sums (each entry is summed with zeros only: exact, so R is
   bit-identical on every rank). lower: keep only the lower triangle (the rest stays 0). */
static PetscErrorCode SlpkMatToReplicated(const SlpkGrid *g, const SlpkMat *A, PetscBool lower, PetscReal R[])
{
  PetscMPIInt count;

  PetscFunctionBeginUser;
  PetscCheck((PetscInt64)A->m * A->n <= PETSC_MPI_INT_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP, "slpk: replicating a %d x %d matrix exceeds one MPI message; use a distributed interface", A->m, A->n);
  count = (PetscMPIInt)((PetscInt64)A->m * A->n);
  PetscCall(PetscArrayzero(R, (size_t)count));
  for (int lj = 0; lj < A->nloc; lj++) {
    const PetscInt gj = SlpkGlobal(lj, A->nb, g->mycol, g->npcol);
    for (int li = 0; li < A->mloc; li++) {
      const PetscInt gi = SlpkGlobal(li, A->nb, g->myrow, g->nprow);
      if (!lower || gi >= gj) R[gi * A->n + gj] = A->a[li + (size_t)lj * A->lld];
    }
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, R, count, MPIU_REAL, MPIU_SUM, g->comm));
  PetscFunctionReturn(0);
}

/* The same value of a ScaLAPACK info on every rank: an error if any rank has info < 0, else the
   largest info. */
static PetscErrorCode SlpkInfoAgree(const SlpkGrid *g, const char routine[], int *info)
{
  int v[2] = {-*info, *info};

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_INT, MPI_MAX, g->comm));
  PetscCallSLPK(routine, -v[0]); /* v is the same on every rank: collective error */
  *info = v[1];
  PetscFunctionReturn(0);
}

PetscErrorCode SlpkCholeskyReplicated(SlpkGrid *g, PetscInt n, PetscInt nb, PetscReal A[], PetscInt *info)
{
  const int one = 1;
  SlpkMat   M;
  int       inf = 0;

  PetscFunctionBeginUser;
  PetscCheck(n >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "SlpkCholeskyReplicated: matrix order %" PetscInt_FMT " must be >= 0", n);
  PetscCheck(nb >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "SlpkCholeskyReplicated: block size %" PetscInt_FMT " must be >= 1 (32 is a good default)", nb);
  *info = 0;
  if (!n) PetscFunctionReturn(0);
  PetscCall(SlpkMatCreate(g, n, n, nb, &M));
  SlpkMatFromReplicated(g, A, &M); /* A symmetric: row-major A is also its column-major self */
  pdpotrf_("L", &M.n, M.a, &one, &one, M.desc, &inf, 1);
  PetscCall(SlpkInfoAgree(g, "pdpotrf_", &inf));
  *info = inf;
  if (!inf) PetscCall(SlpkMatToReplicated(g, &M, PETSC_TRUE, A));
  PetscCall(SlpkMatDestroy(&M));
  PetscFunctionReturn(0);
}

PetscErrorCode SlpkCholeskySolveReplicated(SlpkGrid *g, PetscInt n, PetscInt nrhs, PetscInt nb, const PetscReal L[], PetscReal B[])
{
  const int one = 1;
  SlpkMat   ML, MB;
  int       inf = 0;

  PetscFunctionBeginUser;
  PetscCheck(n >= 0 && nrhs >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "SlpkCholeskySolveReplicated: sizes n = %" PetscInt_FMT ", nrhs = %" PetscInt_FMT " must be >= 0", n, nrhs);
  PetscCheck(nb >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "SlpkCholeskySolveReplicated: block size %" PetscInt_FMT " must be >= 1 (32 is a good default)", nb);
  if (!n || !nrhs) PetscFunctionReturn(0);
  PetscCall(SlpkMatCreate(g, n, n, nb, &ML));
  PetscCall(SlpkMatCreate(g, n, nrhs, nb, &MB));
  /* The lower triangle of L into the local column-major blocks (its upper triangle is zero). */
  for (int lj = 0; lj < ML.nloc; lj++) {
    const PetscInt gj = SlpkGlobal(lj, ML.nb, g->mycol, g->npcol);
    for (int li = 0; li < ML.mloc; li++) {
      const PetscInt gi                    = SlpkGlobal(li, ML.nb, g->myrow, g->nprow);
      ML.a[li + (size_t)lj * ML.lld] = gi >= gj ? L[gi * n + gj] : 0;
    }
  }
  SlpkMatFromReplicated(g, B, &MB);
  pdpotrs_("L", &ML.n, &MB.n, ML.a, &one, &one, ML.desc, MB.a, &one, &one, MB.desc, &inf, 1);
  PetscCall(SlpkInfoAgree(g, "pdpotrs_", &inf));
  PetscCheck(inf == 0, g->comm, PETSC_ERR_LIB, "ScaLAPACK pdpotrs_ returned info = %d (documented only for illegal arguments)", inf);
  PetscCall(SlpkMatToReplicated(g, &MB, PETSC_FALSE, B));
  PetscCall(SlpkMatDestroy(&MB));
  PetscCall(SlpkMatDestroy(&ML));
  PetscFunctionReturn(0);
}
