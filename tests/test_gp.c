/* test_gp: the ScaLAPACK wrapper (libcore/slpk.h) and the GP flux prior (libcore/gp.h).
 *   - SlpkCholeskyReplicated against a plain C Cholesky on random SPD matrices, n = 1, 7, 30, 100,
 *     block sizes 4 and 32 (n < nb, more process columns than blocks), L L^T = A, the factor
 *     bit-identical on every rank, and the same on a sub-communicator grid;
 *   - SlpkCholeskySolveReplicated recovers a known solution;
 *   - a matrix whose k-th leading minor is indefinite returns info = k (not an error);
 *   - the 30-point prior of DESIGN.md factors with the default -gp_jitter, K - L L^T is small, and
 *     the jitter dominates the factorisation's rounding;
 *   - 20,000 unclipped draws have mean 2 and covariance K (5 standard errors), clipped draws are
 *     max(0, mean + z), and a draw is the same on every rank and for every number of ranks;
 *   - bad parameters and an unfactorable covariance are errors naming the option to change. */
#include "blascore.h"
#include "gp.h"
#include "slpk.h"
#include "testutil.h"
#include <math.h>
#include <string.h>

extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work, const int *lwork, int *info, size_t jobz_len, size_t uplo_len);

/* Plain lower Cholesky of the row-major SPD A into L (upper part 0); returns k > 0 if the
   leading minor of order k is not positive definite. */
static PetscInt RefCholesky(PetscInt n, const PetscReal A[], PetscReal L[])
{
  for (PetscInt i = 0; i < n * n; i++) L[i] = 0;
  for (PetscInt j = 0; j < n; j++) {
    PetscReal d = A[j * n + j];
    for (PetscInt k = 0; k < j; k++) d -= L[j * n + k] * L[j * n + k];
    if (!(d > 0)) return j + 1;
    L[j * n + j] = sqrt(d);
    for (PetscInt i = j + 1; i < n; i++) {
      PetscReal s = A[i * n + j];
      for (PetscInt k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      L[i * n + j] = s / L[j * n + j];
    }
  }
  return 0;
}

/* A random SPD matrix A = B B^T / n + 0.1 I from stream (seed, RNG_PURPOSE_TEST, n): the same on
   every rank. */
static PetscErrorCode RandomSpd(PetscInt n, uint64_t seed, PetscReal A[])
{
  PetscReal *B;
  RngStream  s;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(n * n, &B));
  rng_stream_init(&s, seed, RNG_PURPOSE_TEST, (uint64_t)n);
  rng_normal_fill(&s, (size_t)(n * n), B);
  for (PetscInt i = 0; i < n; i++)
    for (PetscInt j = 0; j < n; j++) {
      PetscReal v = 0;
      for (PetscInt k = 0; k < n; k++) v += B[i * n + k] * B[j * n + k];
      A[i * n + j] = v / n + (i == j ? 0.1 : 0);
    }
  PetscCall(PetscFree(B));
  PetscFunctionReturn(0);
}

/* max |L L^T - A| / max |A| */
static PetscReal ResidualLLt(PetscInt n, const PetscReal L[], const PetscReal A[])
{
  PetscReal r = 0, a = 0;
  for (PetscInt i = 0; i < n; i++)
    for (PetscInt j = 0; j < n; j++) {
      PetscReal v = 0;
      for (PetscInt k = 0; k <= PetscMin(i, j); k++) v += L[i * n + k] * L[j * n + k];
      r = PetscMax(r, PetscAbsReal(v - A[i * n + j]));
      a = PetscMax(a, PetscAbsReal(A[i * n + j]));
    }
  return r / a;
}

/* Whether arr[m] is bit-identical on every rank of comm. */
static PetscErrorCode SameOnAllRanks(MPI_Comm comm, PetscInt m, const PetscReal arr[], PetscBool *same)
{
  PetscReal *mx, *mn;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(m, &mx, m, &mn));
  PetscCallMPI(MPI_Allreduce(arr, mx, m, MPIU_REAL, MPIU_MAX, comm));
  PetscCallMPI(MPI_Allreduce(arr, mn, m, MPIU_REAL, MPIU_MIN, comm));
  *same = PETSC_TRUE;
  for (PetscInt i = 0; i < m; i++)
    if (mx[i] != arr[i] || mn[i] != arr[i]) *same = PETSC_FALSE;
  PetscCall(PetscFree2(mx, mn));
  PetscFunctionReturn(0);
}

static PetscErrorCode TestCholesky(void)
{
  const PetscInt ns[] = {1, 7, 30, 100}, nbs[] = {4, 32}, nrhs = 3;
  SlpkGrid       grid;
  PetscMPIInt    size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(SlpkGridCreate(PETSC_COMM_WORLD, &grid));
  CHECK(grid.nprow * grid.npcol == size && grid.nprow <= grid.npcol, "BLACS grid %d x %d over %d ranks (this rank at (%d, %d))", grid.nprow, grid.npcol, (int)size, grid.myrow, grid.mycol);
  for (size_t a = 0; a < PETSC_STATIC_ARRAY_LENGTH(ns); a++) {
    const PetscInt n = ns[a];
    PetscReal     *A, *L, *Lref, *X, *B;
    for (size_t b = 0; b < PETSC_STATIC_ARRAY_LENGTH(nbs); b++) {
      const PetscInt nb = nbs[b];
      PetscReal      err = 0, lmax = 0, xerr = 0, xmax = 0;
      PetscInt       info, rinfo;
      PetscBool      same;
      RngStream      s;

      PetscCall(PetscMalloc5(n * n, &A, n * n, &L, n * n, &Lref, n * nrhs, &X, n * nrhs, &B));
      PetscCall(RandomSpd(n, 7, A));
      rinfo = RefCholesky(n, A, Lref);
      PetscCall(PetscArraycpy(L, A, n * n));
      PetscCall(SlpkCholeskyReplicated(&grid, n, nb, L, &info));
      for (PetscInt i = 0; i < n * n; i++) {
        err  = PetscMax(err, PetscAbsReal(L[i] - Lref[i]));
        lmax = PetscMax(lmax, PetscAbsReal(Lref[i]));
      }
      CHECK(info == 0 && rinfo == 0 && err / lmax < 1e-12, "Cholesky n = %" PetscInt_FMT ", nb = %" PetscInt_FMT ": info %" PetscInt_FMT ", max |L - L_ref| / max |L_ref| = %.2e (< 1e-12)", n, nb, info, (double)(err / lmax));
      CHECK(ResidualLLt(n, L, A) < 1e-14, "Cholesky n = %" PetscInt_FMT ", nb = %" PetscInt_FMT ": max |L L^T - A| / max |A| = %.2e (< 1e-14)", n, nb, (double)ResidualLLt(n, L, A));
      PetscCall(SameOnAllRanks(PETSC_COMM_WORLD, n * n, L, &same));
      CHECK(same, "Cholesky n = %" PetscInt_FMT ", nb = %" PetscInt_FMT ": L bit-identical on every rank", n, nb);

      /* solve A X = B for a known X */
      rng_stream_init(&s, 8, RNG_PURPOSE_TEST, (uint64_t)n);
      rng_normal_fill(&s, (size_t)(n * nrhs), X);
      for (PetscInt i = 0; i < n; i++)
        for (PetscInt c = 0; c < nrhs; c++) {
          PetscReal v = 0;
          for (PetscInt k = 0; k < n; k++) v += A[i * n + k] * X[k * nrhs + c];
          B[i * nrhs + c] = v;
        }
      PetscCall(SlpkCholeskySolveReplicated(&grid, n, nrhs, nb, L, B));
      for (PetscInt i = 0; i < n * nrhs; i++) {
        xerr = PetscMax(xerr, PetscAbsReal(B[i] - X[i]));
        xmax = PetscMax(xmax, PetscAbsReal(X[i]));
      }
      PetscCall(SameOnAllRanks(PETSC_COMM_WORLD, n * nrhs, B, &same));
      CHECK(xerr / xmax < 1e-11 && same, "solve n = %" PetscInt_FMT ", nrhs = %" PetscInt_FMT ", nb = %" PetscInt_FMT ": max |X - X_true| / max |X_true| = %.2e (< 1e-11), identical on every rank: %s", n, nrhs, nb, (double)(xerr / xmax), same ? "yes" : "NO");

      /* make the leading minor of order k indefinite (Schur pivot -1), the minors before it
         unchanged: subtract (its pivot L_kk^2 + 1) from A_kk */
      {
        const PetscInt ks[] = {1, (n + 1) / 2, n};
        PetscReal     *piv;
        PetscCall(PetscMalloc1(n, &piv));
        for (PetscInt i = 0; i < n; i++) piv[i] = Lref[i * n + i] * Lref[i * n + i];
        for (size_t q = 0; q < PETSC_STATIC_ARRAY_LENGTH(ks); q++) {
          const PetscInt k = ks[q];
          PetscCall(PetscArraycpy(L, A, n * n));
          L[(k - 1) * n + (k - 1)] -= piv[k - 1] + 1;
          rinfo = RefCholesky(n, L, Lref); /* Lref is scratch now */
          PetscCall(SlpkCholeskyReplicated(&grid, n, nb, L, &info));
          CHECK(info == k && rinfo == k, "not SPD at minor %" PetscInt_FMT " (n = %" PetscInt_FMT ", nb = %" PetscInt_FMT "): pdpotrf info = %" PetscInt_FMT ", reference %" PetscInt_FMT, k, n, nb, info, rinfo);
        }
        PetscCall(PetscFree(piv));
      }
      PetscCall(PetscFree5(A, L, Lref, X, B));
    }
  }
  PetscCall(SlpkGridDestroy(&grid));

  { /* a grid on each half of the ranks (sub-communicators) */
    const PetscInt n = 30, nb = 4;
    PetscMPIInt    rank;
    MPI_Comm       sub;
    PetscReal     *A, *L, *Lref, err = 0, gerr;
    PetscInt       info, ginfo;

    PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
    PetscCallMPI(MPI_Comm_split(PETSC_COMM_WORLD, rank % 2, rank, &sub));
    PetscCall(SlpkGridCreate(sub, &grid));
    PetscCall(PetscMalloc3(n * n, &A, n * n, &L, n * n, &Lref));
    PetscCall(RandomSpd(n, 9, A));
    PetscCall(PetscArraycpy(L, A, n * n));
    PetscCall(SlpkCholeskyReplicated(&grid, n, nb, L, &info));
    PetscCheck(!RefCholesky(n, A, Lref), PETSC_COMM_SELF, PETSC_ERR_PLIB, "reference Cholesky failed on an SPD matrix");
    for (PetscInt i = 0; i < n * n; i++) err = PetscMax(err, PetscAbsReal(L[i] - Lref[i]));
    PetscCallMPI(MPI_Allreduce(&err, &gerr, 1, MPIU_REAL, MPIU_MAX, PETSC_COMM_WORLD));
    PetscCallMPI(MPI_Allreduce(&info, &ginfo, 1, MPIU_INT, MPI_MAX, PETSC_COMM_WORLD));
    CHECK(ginfo == 0 && gerr < 1e-12, "Cholesky on grids over sub-communicators (ranks split by parity; grid %d x %d on rank 0): max |L - L_ref| = %.2e", grid.nprow, grid.npcol, (double)gerr);
    PetscCall(PetscFree3(A, L, Lref));
    PetscCall(SlpkGridDestroy(&grid));
    PetscCallMPI(MPI_Comm_free(&sub));
  }
  PetscFunctionReturn(0);
}

/* The paper's 30 points: 15 segments of 16/34 per wall, walls y = 0 and y = 4. */
#define NX 30
static void DesignPoints(PetscReal pts[]) { gp_segment_midpoints(15, 16, 4, 16.0 / 34, pts); }

static PetscErrorCode TestPrior(void)
{
  PetscReal   pts[2 * NX];
  GPPrior     gp, gpu;
  PetscMPIInt rank, size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  DesignPoints(pts);
  CHECK(PetscAbsReal(pts[0] - 8.0 / 34) < 1e-15 && pts[1] == 0 && PetscAbsReal(pts[2 * 14] - 14.5 * 16 / 34) < 1e-14 && pts[2 * 14 + 1] == 0 && PetscAbsReal(pts[2 * 15] - 8.0 / 34) < 1e-15 && pts[2 * 15 + 1] == 4 && PetscAbsReal(pts[2 * 29] - 14.5 * 16 / 34) < 1e-14 && pts[2 * 29 + 1] == 4,
        "segment midpoints: x[0] = (%.4f, %g), x[14] = (%.4f, %g), x[15] = (%.4f, %g), x[29] = (%.4f, %g)", (double)pts[0], (double)pts[1], (double)pts[28], (double)pts[29], (double)pts[30], (double)pts[31], (double)pts[58], (double)pts[59]);

  PetscCall(GPPriorSetFromOptions(PETSC_COMM_WORLD, NX, pts, &gp)); /* the defaults */
  CHECK(gp.length == 2 && gp.std == 1 && gp.mean == 2 && gp.jitter == 1e-10 && gp.clip, "defaults: -gp_length %g -gp_std %g -gp_mean %g -gp_jitter %g -gp_clip %d", (double)gp.length, (double)gp.std, (double)gp.mean, (double)gp.jitter, (int)gp.clip);
  CHECK(ResidualLLt(NX, gp.L, gp.K) < 1e-14 && gp.min_pivot > 0, "30-point prior factors with the default jitter: max |K - L L^T| / max |K| = %.2e, smallest pivot L_ii^2 = %.3e", (double)ResidualLLt(NX, gp.L, gp.K), (double)gp.min_pivot);
  { /* Why 1e-10: the eigenvalues of the kernel without jitter, and the rounding of the factorisation */
    PetscReal K0[NX * NX], w[NX], work[10 * NX];
    const int n = NX, lwork = 10 * NX;
    int       info;
    for (PetscInt i = 0; i < NX * NX; i++) K0[i] = gp.K[i] - (i % (NX + 1) == 0 ? gp.jitter * gp.std * gp.std : 0);
    dsyev_("N", "L", &n, K0, &n, w, work, &lwork, &info, 1, 1);
    PetscCheck(info == 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "dsyev_ info %d", info);
    CHECK(gp.jitter * gp.std * gp.std > 100 * NX * PETSC_MACHINE_EPSILON * w[NX - 1], "jitter %g std^2 exceeds 100 n eps lambda_max = %.2e (Cholesky rounding); kernel eigenvalues without jitter: min %.2e, 2nd %.2e, 5th %.2e, max %.3f", (double)gp.jitter, (double)(100 * NX * PETSC_MACHINE_EPSILON * w[NX - 1]), (double)w[0], (double)w[1], (double)w[4], (double)w[NX - 1]);
  }
  { /* jitter sweep (informational, rank 0): smallest pivot, or the failing minor */
    const PetscReal jits[] = {0, 1e-16, 1e-14, 1e-12, 1e-10, 1e-8};
    for (size_t q = 0; q < PETSC_STATIC_ARRAY_LENGTH(jits); q++) {
      GPPrior        t;
      PetscErrorCode ierr;
      PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
      ierr = GPPriorCreate(PETSC_COMM_WORLD, NX, pts, 2, 1, 2, jits[q], PETSC_TRUE, &t);
      PetscCall(PetscPopErrorHandler());
      if (ierr) PetscCall(PetscPrintf(PETSC_COMM_WORLD, "info jitter %g: not positive definite (error %d)\n", (double)jits[q], (int)ierr));
      else {
        PetscCall(PetscPrintf(PETSC_COMM_WORLD, "info jitter %g: smallest pivot %.3e, max |K - L L^T| / max |K| = %.2e\n", (double)jits[q], (double)t.min_pivot, (double)ResidualLLt(NX, t.L, t.K)));
        PetscCall(GPPriorDestroy(&t));
      }
    }
  }
  { /* with n = 30 < nb = 32 the factor is the same on a 1 x 1 grid: same for every number of ranks */
    GPPrior   self;
    PetscReal d = 0;
    PetscCall(GPPriorCreate(PETSC_COMM_SELF, NX, pts, gp.length, gp.std, gp.mean, gp.jitter, gp.clip, &self));
    for (PetscInt i = 0; i < NX * NX; i++) d = PetscMax(d, PetscAbsReal(self.L[i] - gp.L[i]));
    CHECK(d == 0, "prior factor on %d ranks equals the one-rank factor bit for bit (max diff %.1e)", (int)size, (double)d);
    PetscCall(GPPriorDestroy(&self));
  }

  { /* moments of 20,000 unclipped draws, shared among the ranks */
    const PetscInt N = 20000;
    PetscReal     *sum, *sum2, x[NX], worst_m = 0, worst_c = 0;
    PetscCall(GPPriorCreate(PETSC_COMM_WORLD, NX, pts, 2, 1, 2, gp.jitter, PETSC_FALSE, &gpu));
    PetscCall(PetscCalloc2(NX, &sum, NX * NX, &sum2));
    for (PetscInt k = rank; k < N; k += size) {
      GPPriorSample(&gpu, 3, (uint64_t)k, x, NULL);
      for (PetscInt i = 0; i < NX; i++) {
        sum[i] += x[i];
        for (PetscInt j = 0; j < NX; j++) sum2[i * NX + j] += (x[i] - 2) * (x[j] - 2);
      }
    }
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, sum, NX, MPIU_REAL, MPIU_SUM, PETSC_COMM_WORLD));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, sum2, NX * NX, MPIU_REAL, MPIU_SUM, PETSC_COMM_WORLD));
    for (PetscInt i = 0; i < NX; i++) {
      worst_m = PetscMax(worst_m, PetscAbsReal(sum[i] / N - 2) / sqrt(gpu.K[i * NX + i] / N));
      for (PetscInt j = 0; j < NX; j++) {
        const PetscReal Kij = gpu.K[i * NX + j], se = sqrt((gpu.K[i * NX + i] * gpu.K[j * NX + j] + Kij * Kij) / N);
        worst_c = PetscMax(worst_c, PetscAbsReal(sum2[i * NX + j] / N - Kij) / se);
      }
    }
    CHECK(worst_m < 5, "20000 unclipped draws: largest |mean_i - 2| = %.2f standard errors (< 5)", (double)worst_m);
    CHECK(worst_c < 5, "20000 unclipped draws: largest |Cov_ij - K_ij| = %.2f standard errors (< 5)", (double)worst_c);
    PetscCall(PetscFree2(sum, sum2));
  }
  { /* clipping; the same draw on every rank */
    PetscReal x[NX], z[NX], xu[NX], zu[NX], all[100 * NX];
    PetscInt  nclip = 0, bad = 0;
    PetscBool same;
    for (PetscInt k = 0; k < 2000; k++) {
      GPPriorSample(&gp, 5, (uint64_t)k, x, z);
      GPPriorSample(&gpu, 5, (uint64_t)k, xu, zu);
      for (PetscInt i = 0; i < NX; i++) {
        if (x[i] < 0 || x[i] != PetscMax(0, 2 + z[i]) || z[i] != zu[i] || xu[i] != 2 + zu[i]) bad++;
        if (2 + z[i] < 0) nclip++;
      }
      if (k < 100) PetscCall(PetscArraycpy(all + k * NX, x, NX));
    }
    CHECK(bad == 0 && nclip > 0, "clipped draws: x >= 0 and x = max(0, 2 + z) exactly, z the unclipped latent (%" PetscInt_FMT " of %d values clipped, %" PetscInt_FMT " mismatches)", nclip, 2000 * NX, bad);
    PetscCall(SameOnAllRanks(PETSC_COMM_WORLD, 100 * NX, all, &same));
    CHECK(same, "draws (seed 5, index 0..99) bit-identical on every rank");
    {
      PetscReal cs = 0;
      for (PetscInt i = 0; i < 100 * NX; i++) cs += all[i] * (1 + i % 7);
      PetscCall(PetscPrintf(PETSC_COMM_WORLD, "info checksum of draws 0..99 (seed 5): %.17g (must not depend on the number of ranks)\n", (double)cs));
    }
  }
  PetscCall(GPPriorDestroy(&gpu));
  PetscCall(GPPriorDestroy(&gp));

  { /* errors that name the option to change */
    struct {
      PetscReal   length, std, jitter;
      const char *pattern;
      int         code;
    } bad[] = {
      {50, 1, 0,     "increase -gp_jitter", PETSC_ERR_USER_INPUT},
      {0,  1, 1e-10, "-gp_length",          PETSC_ERR_USER_INPUT},
      {2,  0, 1e-10, "-gp_std",             PETSC_ERR_USER_INPUT},
      {2,  1, -1,    "-gp_jitter",          PETSC_ERR_USER_INPUT},
    };
    for (size_t q = 0; q < PETSC_STATIC_ARRAY_LENGTH(bad); q++) {
      GPPrior        t;
      PetscErrorCode ierr;
      const char    *text;
      char          *msg = NULL;
      PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
      ierr = GPPriorCreate(PETSC_COMM_WORLD, NX, pts, bad[q].length, bad[q].std, 2, bad[q].jitter, PETSC_TRUE, &t);
      PetscCall(PetscPopErrorHandler());
      if (!ierr) PetscCall(GPPriorDestroy(&t));
      else PetscCall(PetscErrorMessage(ierr, &text, &msg));
      CHECK(ierr == bad[q].code && msg && strstr(msg, bad[q].pattern), "length %g, std %g, jitter %g: error %d, message \"%s\" contains \"%s\"", (double)bad[q].length, (double)bad[q].std, (double)bad[q].jitter, (int)ierr, msg ? msg : "(none)", bad[q].pattern);
    }
  }
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  BlasCoreReexec(argc, argv); /* before anything starts: OpenBLAS kernels for this CPU (blascore.h) */
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(TestCholesky());
  PetscCall(TestPrior());
  {
    const int status = TestFinish("test_gp");
    PetscCall(PetscFinalize());
    return status;
  }
}
