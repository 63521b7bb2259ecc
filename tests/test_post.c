/* test_post: posterior summaries and the exact linear-Gaussian posterior (libcore/post.h).
 *   - the sorted-ensemble CRPS formula equals the O(n^2) definition E|X - v| - E|X - X'|/2, and
 *     for 40,000 normal draws the closed-form CRPS of N(0, 1);
 *   - PostSummarize: mean, unbiased std, 1/2-sigma flags against direct formulas;
 *   - PostGaussian (ScaLAPACK Cholesky on the BLACS grid of all ranks) against the information
 *     form (K^-1 + H^T H / s^2)^-1, mu = Sigma (K^-1 mu0 + H^T y / s^2), computed here by
 *     Gauss-Jordan, for a full-rank and a rank-deficient H; identical on every rank;
 *   - its meaning: for 4,000 (x, y) drawn from prior and likelihood, the truth falls within
 *     mu_post +- sigma_post (+-2 sigma) at the Gaussian rates 0.683 (0.954), to 4 standard errors. */
#include "blascore.h"
#include "post.h"
#include "rng.h"
#include "testutil.h"
#include <math.h>

static PetscReal BruteCrps(PetscInt n, const PetscReal x[], PetscReal v)
{
  PetscReal a = 0, b = 0;
  for (PetscInt i = 0; i < n; i++) {
    a += PetscAbsReal(x[i] - v);
    for (PetscInt j = 0; j < n; j++) b += PetscAbsReal(x[i] - x[j]);
  }
  return a / n - 0.5 * b / ((PetscReal)n * n);
}

/* In-place inverse of the n x n row-major A by Gauss-Jordan with partial pivoting. */
static void Invert(PetscInt n, PetscReal A[])
{
  PetscReal M[64 * 128];
  for (PetscInt i = 0; i < n; i++)
    for (PetscInt j = 0; j < 2 * n; j++) M[i * 2 * n + j] = j < n ? A[i * n + j] : (j - n == i);
  for (PetscInt c = 0; c < n; c++) {
    PetscInt p = c;
    for (PetscInt r = c + 1; r < n; r++)
      if (PetscAbsReal(M[r * 2 * n + c]) > PetscAbsReal(M[p * 2 * n + c])) p = r;
    for (PetscInt j = 0; j < 2 * n; j++) {
      const PetscReal t = M[c * 2 * n + j];
      M[c * 2 * n + j]  = M[p * 2 * n + j];
      M[p * 2 * n + j]  = t;
    }
    const PetscReal d = M[c * 2 * n + c];
    for (PetscInt j = 0; j < 2 * n; j++) M[c * 2 * n + j] /= d;
    for (PetscInt r = 0; r < n; r++)
      if (r != c) {
        const PetscReal f = M[r * 2 * n + c];
        for (PetscInt j = 0; j < 2 * n; j++) M[r * 2 * n + j] -= f * M[c * 2 * n + j];
      }
  }
  for (PetscInt i = 0; i < n; i++)
    for (PetscInt j = 0; j < n; j++) A[i * n + j] = M[i * 2 * n + n + j];
}

/* Random problem (same on every rank): K = B B^T / n + 0.1 I, H (ny x nx) with rows of H
   repeated when rank_deficient, mu0. */
static void Problem(PetscInt nx, PetscInt ny, PetscBool rank_deficient, PetscReal K[], PetscReal H[], PetscReal mu0[])
{
  RngStream s;
  PetscReal B[64 * 64];
  rng_stream_init(&s, 11, RNG_PURPOSE_TEST, (uint64_t)(nx * 100 + ny + (rank_deficient ? 50 : 0)));
  for (PetscInt i = 0; i < nx * nx; i++) B[i] = rng_normal(&s);
  for (PetscInt i = 0; i < nx; i++)
    for (PetscInt j = 0; j < nx; j++) {
      PetscReal a = 0;
      for (PetscInt k = 0; k < nx; k++) a += B[i * nx + k] * B[j * nx + k];
      K[i * nx + j] = a / nx + (i == j ? 0.1 : 0);
    }
  for (PetscInt i = 0; i < ny * nx; i++) H[i] = rng_normal(&s);
  if (rank_deficient)
    for (PetscInt i = ny / 2; i < ny; i++)
      for (PetscInt j = 0; j < nx; j++) H[i * nx + j] = H[(i - ny / 2) * nx + j]; /* rank ny/2 */
  for (PetscInt i = 0; i < nx; i++) mu0[i] = 2 + 0.1 * i;
}

static PetscErrorCode CheckAgainstInformationForm(SlpkGrid *g, PetscInt nx, PetscInt ny, PetscBool rd)
{
  PetscReal K[64], H[64], mu0[8], Y[3 * 8], Mu[3 * 8], Sig[64], P[64], Ki[64], b[8], s2 = 0.3, e_sig = 0, e_mu = 0, gl[2];
  PetscFunctionBeginUser;
  Problem(nx, ny, rd, K, H, mu0);
  for (PetscInt c = 0; c < 3; c++)
    for (PetscInt i = 0; i < ny; i++) Y[c * ny + i] = 1.0 + 0.5 * c - 0.2 * i;
  PetscCall(PostGaussian(g, ny, nx, H, K, mu0, s2, 3, Y, Mu, Sig));
  for (PetscInt i = 0; i < nx * nx; i++) Ki[i] = K[i];
  Invert(nx, Ki);
  for (PetscInt i = 0; i < nx; i++) /* P = K^-1 + H^T H / s2 */
    for (PetscInt j = 0; j < nx; j++) {
      PetscReal a = 0;
      for (PetscInt k = 0; k < ny; k++) a += H[k * nx + i] * H[k * nx + j];
      P[i * nx + j] = Ki[i * nx + j] + a / s2;
    }
  Invert(nx, P);
  for (PetscInt i = 0; i < nx * nx; i++) e_sig = PetscMax(e_sig, PetscAbsReal(P[i] - Sig[i]));
  for (PetscInt c = 0; c < 3; c++) {
    for (PetscInt i = 0; i < nx; i++) {
      PetscReal a = 0;
      for (PetscInt k = 0; k < nx; k++) a += Ki[i * nx + k] * mu0[k];
      for (PetscInt k = 0; k < ny; k++) a += H[k * nx + i] * Y[c * ny + k] / s2;
      b[i] = a;
    }
    for (PetscInt i = 0; i < nx; i++) {
      PetscReal a = 0;
      for (PetscInt k = 0; k < nx; k++) a += P[i * nx + k] * b[k];
      e_mu = PetscMax(e_mu, PetscAbsReal(a - Mu[c * nx + i]));
    }
  }
  CHECK(e_sig < 1e-10 && e_mu < 1e-10, "exact posterior, n_x %d, n_y %d%s: Sigma vs information form %.1e, mu %.1e (< 1e-10)", (int)nx, (int)ny, rd ? " (H of rank n_y/2)" : "", (double)e_sig, (double)e_mu);
  gl[0] = Sig[1];
  gl[1] = Mu[2];
  PetscCallMPI(MPI_Bcast(gl, 2, MPIU_REAL, 0, PETSC_COMM_WORLD));
  {
    PetscInt same = gl[0] == Sig[1] && gl[1] == Mu[2], all;
    PetscCallMPI(MPI_Allreduce(&same, &all, 1, MPIU_INT, MPI_MIN, PETSC_COMM_WORLD));
    CHECK(all, "exact posterior bit-identical on every rank");
  }
  PetscFunctionReturn(0);
}

/* Draw (x, y) from N(mu0, K) and y = Hx + N(0, s2 I); the truth's coverage by the exact posterior. */
static PetscErrorCode CheckCoverage(SlpkGrid *g)
{
  const PetscInt nx = 6, ny = 4, N = 4000;
  PetscReal      K[36], H[24], mu0[6], L[36], Sig[36], s2 = 0.5, *X, *Y, *Mu;
  PetscInt       n1 = 0, n2 = 0;
  PetscFunctionBeginUser;
  Problem(nx, ny, PETSC_FALSE, K, H, mu0);
  for (PetscInt i = 0; i < 36; i++) L[i] = 0; /* Cholesky of K for the draws */
  for (PetscInt j = 0; j < nx; j++) {
    PetscReal d = K[j * nx + j];
    for (PetscInt k = 0; k < j; k++) d -= L[j * nx + k] * L[j * nx + k];
    L[j * nx + j] = PetscSqrtReal(d);
    for (PetscInt i = j + 1; i < nx; i++) {
      PetscReal a = K[i * nx + j];
      for (PetscInt k = 0; k < j; k++) a -= L[i * nx + k] * L[j * nx + k];
      L[i * nx + j] = a / L[j * nx + j];
    }
  }
  PetscCall(PetscMalloc3(N * nx, &X, N * ny, &Y, N * nx, &Mu));
  for (PetscInt c = 0; c < N; c++) {
    RngStream s;
    PetscReal w[6];
    rng_stream_init(&s, 3, RNG_PURPOSE_TEST, (uint64_t)c);
    for (PetscInt i = 0; i < nx; i++) w[i] = rng_normal(&s);
    for (PetscInt i = 0; i < nx; i++) {
      PetscReal a = mu0[i];
      for (PetscInt k = 0; k <= i; k++) a += L[i * nx + k] * w[k];
      X[c * nx + i] = a;
    }
    for (PetscInt i = 0; i < ny; i++) {
      PetscReal a = 0;
      for (PetscInt k = 0; k < nx; k++) a += H[i * nx + k] * X[c * nx + k];
      Y[c * ny + i] = a + PetscSqrtReal(s2) * rng_normal(&s);
    }
  }
  PetscCall(PostGaussian(g, ny, nx, H, K, mu0, s2, N, Y, Mu, Sig));
  for (PetscInt c = 0; c < N; c++)
    for (PetscInt i = 0; i < nx; i++) {
      const PetscReal d = PetscAbsReal(X[c * nx + i] - Mu[c * nx + i]), sd = PetscSqrtReal(Sig[i * nx + i]);
      n1 += d <= sd;
      n2 += d <= 2 * sd;
    }
  {
    const PetscReal f1 = (PetscReal)n1 / (N * nx), f2 = (PetscReal)n2 / (N * nx);
    /* the nx components of a case are correlated: bound with the standard error of N draws */
    const PetscReal se1 = 4 * PetscSqrtReal(0.683 * 0.317 / N), se2 = 4 * PetscSqrtReal(0.954 * 0.046 / N);
    CHECK(PetscAbsReal(f1 - 0.6827) < se1 && PetscAbsReal(f2 - 0.9545) < se2, "exact posterior coverage of %d prior draws: 1-sigma %.4f (0.6827 +- %.3f), 2-sigma %.4f (0.9545 +- %.3f)", (int)N, (double)f1, (double)se1, (double)f2, (double)se2);
  }
  PetscCall(PetscFree3(X, Y, Mu));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  SlpkGrid g;

  BlasCoreReexec(argc, argv); /* before anything starts: OpenBLAS kernels for this CPU (blascore.h) */
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  { /* CRPS: sorted formula = definition */
    PetscReal x[50], xs[50], e = 0;
    RngStream s;
    rng_stream_init(&s, 1, RNG_PURPOSE_TEST, 0);
    for (PetscInt i = 0; i < 50; i++) x[i] = xs[i] = rng_normal(&s) * (1 + (i % 3));
    PetscCall(PetscSortReal(50, xs));
    for (PetscInt k = 0; k < 5; k++) {
      const PetscReal v = -3 + 1.5 * k;
      e = PetscMax(e, PetscAbsReal(post_crps_sorted(50, xs, v) - BruteCrps(50, x, v)));
    }
    CHECK(e < 1e-13, "CRPS of the sorted ensemble = E|X - v| - E|X - X'|/2 by the double sum: max diff %.1e", (double)e);
  }
  { /* CRPS of N(0,1) at v: z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi) */
    const PetscInt n = 40000;
    PetscReal     *x, v = 0.7, exact, got;
    RngStream      s;
    PetscCall(PetscMalloc1(n, &x));
    rng_stream_init(&s, 2, RNG_PURPOSE_TEST, 0);
    for (PetscInt i = 0; i < n; i++) x[i] = rng_normal(&s);
    PetscCall(PetscSortReal(n, x));
    exact = v * erf(v / sqrt(2.0)) + 2 * exp(-0.5 * v * v) / sqrt(2 * PETSC_PI) - 1 / sqrt(PETSC_PI);
    got   = post_crps_sorted(n, x, v);
    CHECK(PetscAbsReal(got - exact) < 0.01, "CRPS of %d N(0,1) draws at 0.7: %.5f vs closed form %.5f", (int)n, (double)got, (double)exact);
    PetscCall(PetscFree(x));
  }
  { /* summaries */
    PetscReal x[4 * 2] = {1, 10, 2, 10, 3, 14, 6, 10}, truth[2] = {5.5, 10}, mean[2], sd[2], crps[2], in1[2], in2[2], w[4];
    PetscCall(PostSummarize(4, 2, x, truth, mean, sd, crps, in1, in2, w));
    /* column 0: 1,2,3,6: mean 3, var (4+1+0+9)/3; column 1: 10,10,14,10: mean 11, var 12/3 = 4 */
    CHECK(PetscAbsReal(mean[0] - 3) < 1e-15 && PetscAbsReal(sd[0] - PetscSqrtReal(14.0 / 3)) < 1e-14 && PetscAbsReal(mean[1] - 11) < 1e-15 && PetscAbsReal(sd[1] - 2) < 1e-14, "PostSummarize: mean and unbiased std of two columns");
    CHECK(in1[0] == 0 && in2[0] == 1 && in1[1] == 1 && in2[1] == 1, "PostSummarize: truth 5.5 is 1.16 std from mean 3 (inside 2 sigma only), 10 is 0.5 std from 11");
  }
  PetscCall(SlpkGridCreate(PETSC_COMM_WORLD, &g));
  PetscCall(CheckAgainstInformationForm(&g, 6, 4, PETSC_FALSE));
  PetscCall(CheckAgainstInformationForm(&g, 8, 8, PETSC_FALSE));
  PetscCall(CheckAgainstInformationForm(&g, 8, 6, PETSC_TRUE));
  PetscCall(CheckCoverage(&g));
  PetscCall(SlpkGridDestroy(&g));
  {
    int status = TestFinish("test_post");
    PetscCall(PetscFinalize());
    return status;
  }
}
