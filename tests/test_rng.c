/* Tests of libcore/rng: Philox4x32-10 known answers, the stream definition, distribution moments
   and Kolmogorov-Smirnov fits, independence of streams, independence of the MPI decomposition,
   and state copy. Every statistical check uses a fixed seed, so it either always passes or
   always fails; the bounds are wide (5 standard errors, KS at 0.1%) so that a pass is expected. */
#include <petscsys.h>
#include <petsctime.h>
#include <math.h>
#include <string.h>

#include "blascore.h"
#include "rng.h"
#include "testutil.h"

#define SEED  20240601ull
#define NDRAW 200000 /* draws per distribution test */
#define NCORR 100000 /* draws per correlation test */
#define KS_CRIT 1.95 /* sqrt(N) * D at the 0.1% level (asymptotic Kolmogorov distribution: 1.949) */

typedef double (*CdfFn)(double x, const double *par);

/* Regularised lower incomplete gamma P(a, x): series for x < a+1, otherwise the continued
   fraction for Q = 1 - P evaluated by the modified Lentz method (as in Numerical Recipes 6.2). */
static double GammaP(double a, double x)
{
  if (x <= 0.0) return 0.0;
  const double lpre = a * log(x) - x - lgamma(a);
  if (x < a + 1.0) {
    double ap = a, term = 1.0 / a, sum = term;
    for (int n = 0; n < 10000; n++) {
      ap += 1.0;
      term *= x / ap;
      sum += term;
      if (fabs(term) < fabs(sum) * 1e-16) break;
    }
    return sum * exp(lpre);
  }
  const double tiny = 1e-300;
  double       b = x + 1.0 - a, c = 1.0 / tiny, d = 1.0 / b, h = d;
  for (int i = 1; i < 10000; i++) {
    const double an = -i * (i - a);
    b += 2.0;
    d = an * d + b;
    if (fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    const double del = d * c;
    h *= del;
    if (fabs(del - 1.0) < 1e-16) break;
  }
  return 1.0 - exp(lpre) * h;
}

static double CdfUniform(double x, const double *par) { return x <= 0 ? 0 : (x >= 1 ? 1 : x); }
static double CdfNormal(double x, const double *par) { return 0.5 * erfc(-x / sqrt(2.0)); }
static double CdfGamma(double x, const double *par) { return GammaP(par[0], x / par[1]); } /* shape, scale */

/* sqrt(N) * D of the one-sample KS test; sorts x in place. */
static PetscErrorCode KSStat(PetscInt n, double *x, CdfFn cdf, const double *par, double *stat)
{
  double d = 0.0;

  PetscFunctionBeginUser;
  PetscCall(PetscSortReal(n, x));
  for (PetscInt i = 0; i < n; i++) {
    const double F = cdf(x[i], par);
    d              = PetscMax(d, PetscMax((double)(i + 1) / n - F, F - (double)i / n));
  }
  *stat = sqrt((double)n) * d;
  PetscFunctionReturn(0);
}

/* Sample mean and variance (two passes, 1/(n-1)) against the exact mean mu, variance var and
   central fourth moment mu4. Standard errors: sqrt(var/N) for the mean, sqrt((mu4 - var^2)/N)
   for the variance. */
static void CheckMoments(const char *what, PetscInt n, const double *x, double mu, double var, double mu4)
{
  double m = 0.0, v = 0.0;
  for (PetscInt i = 0; i < n; i++) m += x[i];
  m /= n;
  for (PetscInt i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
  v /= n - 1;
  const double se_m = sqrt(var / n), se_v = sqrt((mu4 - var * var) / n);
  CHECK(fabs(m - mu) < 5 * se_m, "%s: mean %.6f vs exact %.6f, |diff| %.2e < 5 SE = %.2e (SE = sqrt(var/N))", what, m, mu,
        fabs(m - mu), 5 * se_m);
  CHECK(fabs(v - var) < 5 * se_v, "%s: variance %.6f vs exact %.6f, |diff| %.2e < 5 SE = %.2e (SE = sqrt((mu4 - var^2)/N))",
        what, v, var, fabs(v - var), 5 * se_v);
}

static PetscErrorCode CheckKS(const char *what, PetscInt n, double *x, CdfFn cdf, const double *par)
{
  double ks = 0.0;

  PetscFunctionBeginUser;
  PetscCall(KSStat(n, x, cdf, par, &ks));
  CHECK(ks < KS_CRIT, "%s: KS sqrt(N)*D = %.4f < %.2f (N = %d, 0.1%% level)", what, ks, KS_CRIT, (int)n);
  PetscFunctionReturn(0);
}

/* Pearson correlation of the first n uniforms of two streams. */
static double StreamCorr(uint64_t seed1, uint32_t p1, uint64_t i1, uint64_t seed2, uint32_t p2, uint64_t i2, PetscInt n)
{
  RngStream a, b;
  double    sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  rng_stream_init(&a, seed1, p1, i1);
  rng_stream_init(&b, seed2, p2, i2);
  for (PetscInt k = 0; k < n; k++) {
    /* centre at 1/2 first: keeps the one-pass sums well conditioned */
    const double x = rng_uniform(&a) - 0.5, y = rng_uniform(&b) - 0.5;
    sa += x;
    sb += y;
    saa += x * x;
    sbb += y * y;
    sab += x * y;
  }
  const double cab = sab - sa * sb / n, caa = saa - sa * sa / n, cbb = sbb - sb * sb / n;
  return cab / sqrt(caa * cbb);
}

static void TestKnownAnswers(void)
{
  /* Random123 kat_vectors, philox4x32 10: counter, key, expected output. */
  static const uint32_t kat[3][10] = {
    {0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
    {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
    {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1},
  };
  for (int t = 0; t < 3; t++) {
    uint32_t out[4];
    rng_philox4x32_10(&kat[t][0], &kat[t][4], out);
    CHECK(!memcmp(out, &kat[t][6], sizeof out), "Philox4x32-10 KAT %d: ctr %08x %08x %08x %08x key %08x %08x -> %08x %08x %08x %08x (expected %08x %08x %08x %08x)",
          t, kat[t][0], kat[t][1], kat[t][2], kat[t][3], kat[t][4], kat[t][5], out[0], out[1], out[2], out[3], kat[t][6],
          kat[t][7], kat[t][8], kat[t][9]);
  }

  /* The stream definition of rng.h: key = seed (low, high), counter = {block, purpose, index low,
     index high}, words used in order. */
  const uint64_t seed = 0x0123456789abcdefull, index = 0xfedcba9876543210ull;
  const uint32_t key[2] = {0x89abcdef, 0x01234567};
  RngStream      s;
  uint32_t       expect[8], got[8];
  rng_stream_init(&s, seed, RNG_PURPOSE_SDE_NOISE, index);
  for (uint32_t blk = 0; blk < 2; blk++) {
    const uint32_t ctr[4] = {blk, RNG_PURPOSE_SDE_NOISE, 0x76543210, 0xfedcba98};
    rng_philox4x32_10(ctr, key, &expect[4 * blk]);
  }
  for (int i = 0; i < 8; i++) got[i] = rng_u32(&s);
  CHECK(!memcmp(got, expect, sizeof got), "stream (seed, purpose, index) = Philox(ctr {block, purpose, idx lo, idx hi}, key {seed lo, seed hi}) for blocks 0, 1");
}

static void TestReferenceCdf(void)
{
  /* The KS tests are only as good as the reference CDF: check GammaP against closed forms,
     P(1, x) = 1 - exp(-x) and P(1/2, x) = erf(sqrt(x)), on both branches (series and fraction). */
  static const double xs[] = {1e-6, 0.05, 0.7, 1.4, 3.0, 9.5, 30.0};
  double              err  = 0.0;
  for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
    err = PetscMax(err, fabs(GammaP(1.0, xs[i]) - (1.0 - exp(-xs[i]))));
    err = PetscMax(err, fabs(GammaP(0.5, xs[i]) - erf(sqrt(xs[i]))));
  }
  CHECK(err < 1e-13, "incomplete gamma P(a,x) vs closed forms for a = 1, 1/2: max error %.2e < 1e-13", err);
}

static PetscErrorCode TestDistributions(void)
{
  double   *x;
  RngStream s;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(NDRAW, &x));

  rng_stream_init(&s, SEED, RNG_PURPOSE_TEST, 1);
  for (PetscInt i = 0; i < NDRAW; i++) x[i] = rng_uniform(&s);
  CheckMoments("uniform", NDRAW, x, 0.5, 1.0 / 12, 1.0 / 80);
  PetscCall(CheckKS("uniform", NDRAW, x, CdfUniform, NULL));

  rng_stream_init(&s, SEED, RNG_PURPOSE_TEST, 2);
  rng_normal_fill(&s, NDRAW, x);
  CheckMoments("normal", NDRAW, x, 0.0, 1.0, 3.0);
  PetscCall(CheckKS("normal", NDRAW, x, CdfNormal, NULL));

  static const double shapes[] = {0.5, 1.0, 3.7}, scales[] = {0.3, 1.0};
  for (int a = 0; a < 3; a++) {
    for (int b = 0; b < 2; b++) {
      const double k = shapes[a], th = scales[b], par[2] = {k, th};
      char         what[64];
      rng_stream_init(&s, SEED, RNG_PURPOSE_TEST, (uint64_t)(10 + 2 * a + b));
      for (PetscInt i = 0; i < NDRAW; i++) x[i] = rng_gamma(&s, k, th);
      snprintf(what, sizeof what, "gamma(shape %g, scale %g)", k, th);
      /* mean k th, variance k th^2, central fourth moment 3 k (k + 2) th^4 */
      CheckMoments(what, NDRAW, x, k * th, k * th * th, 3 * k * (k + 2) * pow(th, 4));
      PetscCall(CheckKS(what, NDRAW, x, CdfGamma, par));
    }
  }
  rng_stream_init(&s, SEED, RNG_PURPOSE_TEST, 20);
  CHECK(isnan(rng_gamma(&s, 0.0, 1.0)) && isnan(rng_gamma(&s, 1.0, -1.0)), "gamma with shape <= 0 or scale <= 0 returns NaN");

  static const double ps[] = {0.3, 0.7};
  for (int j = 0; j < 2; j++) {
    const double p = ps[j];
    char         what[64];
    PetscInt     cnt[2][2] = {{0, 0}, {0, 0}};
    rng_stream_init(&s, SEED, RNG_PURPOSE_TEST, (uint64_t)(30 + j));
    for (PetscInt i = 0; i < NDRAW; i++) x[i] = rng_bernoulli(&s, p);
    snprintf(what, sizeof what, "bernoulli(p %g)", p);
    /* the mean is the frequency: its check is the z test |f - p| < 5 sqrt(p(1-p)/N);
       central fourth moment p(1-p)(1 - 3p + 3p^2) */
    CheckMoments(what, NDRAW, x, p, p * (1 - p), p * (1 - p) * (1 - 3 * p + 3 * p * p));
    /* serial test: chi-square of non-overlapping pairs over the 4 cells, 3 dof, 0.1% point 16.27 */
    for (PetscInt i = 0; i + 1 < NDRAW; i += 2) cnt[(int)x[i]][(int)x[i + 1]]++;
    double chi2 = 0.0;
    for (int u = 0; u < 2; u++)
      for (int v = 0; v < 2; v++) {
        const double e = (NDRAW / 2) * (u ? p : 1 - p) * (v ? p : 1 - p);
        chi2 += (cnt[u][v] - e) * (cnt[u][v] - e) / e;
      }
    CHECK(chi2 < 16.27, "%s: chi-square of successive pairs %.3f < 16.27 (3 dof, 0.1%% level)", what, chi2);
  }
  CHECK(rng_bernoulli(&s, 0.0) == 0 && rng_bernoulli(&s, 1.0) == 1, "bernoulli(0) = 0 and bernoulli(1) = 1");

  PetscCall(PetscFree(x));
  PetscFunctionReturn(0);
}

static void TestIndependence(void)
{
  const double bound = 5.0 / sqrt((double)NCORR);
  struct {
    const char *what;
    uint64_t    s1;
    uint32_t    p1;
    uint64_t    i1;
    uint64_t    s2;
    uint32_t    p2;
    uint64_t    i2;
  } c[] = {
    {"index 0 vs 1",                  SEED,                RNG_PURPOSE_PRIOR,     0,            SEED,      RNG_PURPOSE_PRIOR,     1                },
    {"index 777 vs 778",              SEED,                RNG_PURPOSE_PRIOR,     777,          SEED,      RNG_PURPOSE_PRIOR,     778              },
    {"index 2^32-1 vs 2^32",          SEED,                RNG_PURPOSE_PRIOR,     0xffffffffull, SEED,     RNG_PURPOSE_PRIOR,     0x100000000ull   },
    {"index 0 vs 2^32 (high word)",   SEED,                RNG_PURPOSE_PRIOR,     0,            SEED,      RNG_PURPOSE_PRIOR,     0x100000000ull   },
    {"purpose PRIOR vs SDE_NOISE",    SEED,                RNG_PURPOSE_PRIOR,     5,            SEED,      RNG_PURPOSE_SDE_NOISE, 5                },
    {"purpose TRAIN_T vs TRAIN_Z",    SEED,                RNG_PURPOSE_TRAIN_T,   5,            SEED,      RNG_PURPOSE_TRAIN_Z,   5                },
    {"purpose DATA vs TEST",          SEED,                RNG_PURPOSE_DATA,      0,            SEED,      RNG_PURPOSE_TEST,      0                },
    {"seed s vs s+1",                 SEED,                RNG_PURPOSE_PRIOR,     5,            SEED + 1,  RNG_PURPOSE_PRIOR,     5                },
    {"seed s vs s+2^32 (high word)",  SEED,                RNG_PURPOSE_PRIOR,     5,            SEED + 0x100000000ull, RNG_PURPOSE_PRIOR, 5        },
  };
  for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
    const double r = StreamCorr(c[k].s1, c[k].p1, c[k].i1, c[k].s2, c[k].p2, c[k].i2, NCORR);
    CHECK(fabs(r) < bound, "streams %s: correlation of %d uniforms |r| = %.2e < 5/sqrt(N) = %.2e", c[k].what, NCORR, fabs(r), bound);
  }

  /* lag-1 correlation within one stream */
  RngStream s;
  double    prev, sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
  rng_stream_init(&s, SEED, RNG_PURPOSE_PRIOR, 0);
  prev = rng_uniform(&s) - 0.5;
  for (PetscInt k = 0; k < NCORR; k++) {
    const double cur = rng_uniform(&s) - 0.5;
    sa += prev;
    sb += cur;
    saa += prev * prev;
    sbb += cur * cur;
    sab += prev * cur;
    prev = cur;
  }
  const double r = (sab - sa * sb / NCORR) / sqrt((saa - sa * sa / NCORR) * (sbb - sb * sb / NCORR));
  CHECK(fabs(r) < bound, "lag-1 correlation within a stream |r| = %.2e < 5/sqrt(N) = %.2e", fabs(r), bound);
}

static PetscErrorCode TestRankIndependence(void)
{
  const int    n = 10000;
  PetscMPIInt  rank, size;
  int         *counts, *displs;
  double      *full, *mine, *gathered;
  uint64_t     usum = 0;
  double       sum  = 0.0, sum0;
  RngStream    s;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(PetscMalloc5(size, &counts, size, &displs, n, &full, n, &mine, n, &gathered));
  for (int r = 0; r < size; r++) {
    displs[r] = (int)((long)r * n / size);
    counts[r] = (int)((long)(r + 1) * n / size) - displs[r];
  }
  /* each rank draws only its own block of items ... */
  for (int i = 0; i < counts[rank]; i++) {
    rng_stream_init(&s, 42, RNG_PURPOSE_PRIOR, (uint64_t)(displs[rank] + i));
    mine[i] = rng_normal(&s);
  }
  PetscCallMPI(MPI_Allgatherv(mine, counts[rank], MPI_DOUBLE, gathered, counts, displs, MPI_DOUBLE, PETSC_COMM_WORLD));
  /* ... and must get bitwise what one process drawing all items gets */
  for (int i = 0; i < n; i++) {
    rng_stream_init(&s, 42, RNG_PURPOSE_PRIOR, (uint64_t)i);
    full[i] = rng_normal(&s);
    rng_stream_init(&s, 42, RNG_PURPOSE_PRIOR, (uint64_t)i);
    usum += rng_u32(&s);
  }
  CHECK(!memcmp(full, gathered, n * sizeof(double)), "first normal of streams (42, PRIOR, 0..%d) drawn in %d contiguous blocks and gathered equals the serial array bitwise", n - 1, size);
  for (int i = 0; i < n; i++) sum += gathered[i];
  sum0 = sum;
  PetscCallMPI(MPI_Bcast(&sum0, 1, MPI_DOUBLE, 0, PETSC_COMM_WORLD));
  CHECK(!memcmp(&sum, &sum0, sizeof sum), "checksum of the %d normals identical on all ranks: %.17g", n, sum);

  /* Fixed checksums, computed once with this implementation: they change only if the stream
     definition changes (key/counter layout, word order, uniform or Box-Muller construction), which
     would silently change every seeded run. The u32 sum is exact, so it is compared exactly; the
     normal sum goes through libm (log, cos), which may differ in the last ulp between platforms,
     hence the small tolerance. */
  const uint64_t usum_ref = 21326201292605ull;
  const double   sum_ref  = -71.539918064404048;
  CHECK(usum == usum_ref, "sum of first u32 of streams (42, PRIOR, 0..%d) = %llu (expected %llu)", n - 1, (unsigned long long)usum,
        (unsigned long long)usum_ref);
  CHECK(fabs(sum - sum_ref) < 1e-9, "sum of first normal of streams (42, PRIOR, 0..%d) = %.17g (expected %.17g)", n - 1, sum, sum_ref);
  PetscCall(PetscFree5(counts, displs, full, mine, gathered));
  PetscFunctionReturn(0);
}

static void TestRangeAndCopy(void)
{
  RngStream s, t, r;
  double    umin = 1.0, umax = 0.0;
  rng_stream_init(&s, SEED, RNG_PURPOSE_TEST, 40);
  for (int i = 0; i < 1000000; i++) {
    const double u = rng_uniform(&s);
    umin           = PetscMin(umin, u);
    umax           = PetscMax(umax, u);
  }
  CHECK(umin > 0.0 && umax < 1.0, "10^6 uniforms in (0,1): min %.3e > 0, 1 - max %.3e > 0", umin, 1.0 - umax);

  /* Copy in the middle of a block and with a cached spare normal: 1 word + 1 normal (4 words)
     leaves 3 buffered words and the spare. Copies by assignment and through a byte image (the
     checkpoint path) must continue exactly as the original. */
  rng_stream_init(&s, SEED, RNG_PURPOSE_TEST, 41);
  (void)rng_u32(&s);
  (void)rng_normal(&s);
  t = s;
  unsigned char bytes[sizeof(RngStream)];
  memcpy(bytes, &s, sizeof bytes);
  memcpy(&r, bytes, sizeof bytes);
  int same = s.nbuf == 3 && s.has_spare;
  for (int i = 0; i < 1000; i++) {
    const double   a[3]  = {rng_normal(&s), rng_uniform(&s), rng_gamma(&s, 0.7, 2.0)};
    const double   b[3]  = {rng_normal(&t), rng_uniform(&t), rng_gamma(&t, 0.7, 2.0)};
    const double   c[3]  = {rng_normal(&r), rng_uniform(&r), rng_gamma(&r, 0.7, 2.0)};
    const uint32_t ua = rng_u32(&s), ub = rng_u32(&t), uc = rng_u32(&r);
    same = same && !memcmp(a, b, sizeof a) && !memcmp(a, c, sizeof a) && ua == ub && ua == uc;
  }
  CHECK(same, "stream copied (struct assignment, byte image) mid-block with a cached spare continues identically for 1000 mixed draws");

  rng_stream_init(&t, SEED, RNG_PURPOSE_TEST, 41);
  rng_stream_init(&r, SEED, RNG_PURPOSE_TEST, 41);
  CHECK(!memcmp(&t, &r, sizeof t), "rng_stream_init is deterministic, including the byte image");
}

int main(int argc, char **argv)
{
  PetscLogDouble t0, t1;
  int            status;

  BlasCoreReexec(argc, argv); /* before anything starts: OpenBLAS kernels for this CPU (blascore.h) */
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscTime(&t0));
  TestKnownAnswers();
  TestReferenceCdf();
  PetscCall(TestDistributions());
  TestIndependence();
  PetscCall(TestRankIndependence());
  TestRangeAndCopy();
  PetscCall(PetscTime(&t1));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "test_rng time %.2f s\n", t1 - t0));
  status = TestFinish("test_rng"); /* needs MPI: before PetscFinalize */
  PetscCall(PetscFinalize());
  return status;
}
