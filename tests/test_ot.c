/* test_ot: log-domain Sinkhorn (run at 1 and 2 ranks; the POT comparison is tests/ot_pot.py).
 * 1. The fast kernels (O(n + m) prefix sums for |x - x'|, peak window for (x - x')^2) give the
 *    dense O(n m) kernel's iterates: same iteration count, cost equal to 1e-12 relative, on two
 *    skewed sets (300 and 200 points, Gamma-shifted, one with a far outlier at +9 whose plain
 *    kernel exp(-C/0.01) underflows to exactly 0).
 * 2. Closed form: the entropic OT between N(m1, s1^2) and N(m2, s2^2) with the squared cost has
 *    a Gaussian optimal plan with cross-covariance c = (sqrt(reg^2 + 16 s1^2 s2^2) - reg)/4
 *    (minimise -2c - (reg/2) log(1 - c^2/(s1^2 s2^2))), so <P, C> = (m1 - m2)^2 + s1^2 + s2^2 - 2c.
 *    With n quantile points per law (x_i = F^-1((i - 1/2)/n)) the discrete value converges to it
 *    at first order in 1/n (measured rel. error 2.7e-4 at n = 1000, 1.35e-4 at 2000), and the
 *    Richardson extrapolation 2 v(2000) - v(1000) matches to 7.5e-7 (bound 5e-6).
 * 3. Convergence: the final L1 marginal error is below the tolerance, and a coarser tolerance
 *    stops earlier. */
#include "blascore.h"
#include "ot.h"
#include "rng.h"
#include "testutil.h"
#include <math.h>
#include <petscmath.h>

static PetscReal NormalQuantile(PetscReal p)
{
  /* invert erfc by Newton on Phi (double precision to ~1e-15) */
  PetscReal x = 0;
  for (int k = 0; k < 100; k++) {
    const PetscReal F = 0.5 * erfc(-x / sqrt(2.0)), d = exp(-0.5 * x * x) / sqrt(2 * PETSC_PI);
    const PetscReal dx = (F - p) / d;
    x -= dx;
    if (PetscAbsReal(dx) < 1e-15 * (1 + PetscAbsReal(x))) break;
  }
  return x;
}

static PetscReal GaussClosedForm(PetscReal m1, PetscReal s1, PetscReal m2, PetscReal s2, PetscReal reg)
{
  const PetscReal c = (sqrt(reg * reg + 16 * s1 * s1 * s2 * s2) - reg) / 4;
  return (m1 - m2) * (m1 - m2) + s1 * s1 + s2 * s2 - 2 * c;
}

int main(int argc, char **argv)
{
  MPI_Comm  comm;
  OtOpts    o;
  PetscReal x[300], y[200];

  BlasCoreReexec(argc, argv); /* before anything starts: OpenBLAS kernels for this CPU (blascore.h) */
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  comm = PETSC_COMM_WORLD;
  for (int i = 0; i < 300; i++) {
    RngStream s;
    rng_stream_init(&s, 11, RNG_PURPOSE_TEST, (uint64_t)i);
    x[i] = tanh(0.5) + rng_gamma(&s, 1.0, 0.3);
    if (i < 200) y[i] = 0.4 + rng_gamma(&s, 2.0, 0.2) + 0.05 * rng_normal(&s);
  }
  y[17] = 9.0; /* an outlier: exp(-|x - 9|/0.01) = 0 in double */

  PetscCall(OtOptsSetDefaults(&o));
  o.tol   = 1e-11;
  o.relax = 1; /* the kernels compared on plain Sinkhorn (same iterates); relaxation below */
  for (int c = 0; c < 2; c++) {
    OtResult fast, dense, relaxed, wild;
    o.cost   = (OtCost)c;
    o.method = OT_METHOD_AUTO;
    PetscCall(OtSinkhorn1D(comm, &o, 300, x, 200, y, &fast));
    o.method = OT_METHOD_DENSE;
    PetscCall(OtSinkhorn1D(comm, &o, 300, x, 200, y, &dense));
    CHECK(fast.converged && dense.converged && fast.iterations == dense.iterations && PetscAbsReal(fast.cost - dense.cost) <= 1e-12 * dense.cost, "%s: fast kernel %.15g (%" PetscInt_FMT " it.) = dense kernel %.15g (%" PetscInt_FMT " it.), rel. diff %.1e <= 1e-12", OtCosts[c], fast.cost, fast.iterations, dense.cost, dense.iterations, PetscAbsReal(fast.cost - dense.cost) / dense.cost);
    CHECK(fast.marginal_error <= o.tol, "%s: final L1 marginal error %.2e <= tol %.0e", OtCosts[c], fast.marginal_error, o.tol);
    {
      OtOpts orl = o;
      orl.method = OT_METHOD_AUTO;
      PetscCall(OtOptsSetDefaults(&orl));
      orl.cost = (OtCost)c;
      orl.tol  = o.tol;
      PetscCall(OtSinkhorn1D(comm, &orl, 300, x, 200, y, &relaxed));
      CHECK(relaxed.converged && relaxed.iterations < fast.iterations / 2 && PetscAbsReal(relaxed.cost - fast.cost) <= 1e-9 * fast.cost,
            "%s: over-relaxed (w = %g) %.15g in %" PetscInt_FMT " iterations = plain %.15g in %" PetscInt_FMT ", rel. diff %.1e <= 1e-9", OtCosts[c], (double)orl.relax, relaxed.cost, relaxed.iterations, fast.cost, fast.iterations, PetscAbsReal(relaxed.cost - fast.cost) / fast.cost);
      orl.relax = 1.995; /* too close to 2: the safeguard must restart with a damped w and still converge */
      PetscCall(OtSinkhorn1D(comm, &orl, 300, x, 200, y, &wild));
      CHECK(wild.converged && PetscAbsReal(wild.cost - fast.cost) <= 1e-9 * fast.cost, "%s: w = 1.995 converges (%" PetscInt_FMT " restarts, final w %g) to %.15g, rel. diff %.1e", OtCosts[c], wild.relax_restarts, (double)wild.relax, wild.cost, PetscAbsReal(wild.cost - fast.cost) / fast.cost);
    }
    {
      OtOpts   oc = o;
      OtResult coarse;
      oc.method = OT_METHOD_AUTO;
      oc.tol    = 1e-5;
      PetscCall(OtSinkhorn1D(comm, &oc, 300, x, 200, y, &coarse));
      CHECK(coarse.iterations < fast.iterations && PetscAbsReal(coarse.cost - fast.cost) < 1e-3 * fast.cost, "%s: tol 1e-5 stops after %" PetscInt_FMT " < %" PetscInt_FMT " iterations, value within 1e-3 (%.2e)", OtCosts[c], coarse.iterations, fast.iterations, PetscAbsReal(coarse.cost - fast.cost) / fast.cost);
    }
  }

  /* closed form for Gaussians, squared cost (default, over-relaxed Sinkhorn) */
  PetscCall(OtOptsSetDefaults(&o));
  {
    const PetscReal m1 = 0, s1 = 1, m2 = 1, s2 = 0.5, exact = GaussClosedForm(m1, s1, m2, s2, 0.01);
    PetscReal       err[2], val[2];
    for (int k = 0; k < 2; k++) {
      const PetscInt n = k ? 2000 : 1000;
      PetscReal     *a, *b;
      OtResult       r;
      PetscCall(PetscMalloc2(n, &a, n, &b));
      for (PetscInt i = 0; i < n; i++) {
        const PetscReal q = NormalQuantile((i + 0.5) / n);
        a[i]              = m1 + s1 * q;
        b[i]              = m2 + s2 * q;
      }
      o.cost   = OT_COST_SQEUCLIDEAN;
      o.method = OT_METHOD_AUTO;
      o.tol    = 1e-10;
      PetscCall(OtSinkhorn1D(comm, &o, n, a, n, b, &r));
      val[k] = r.cost;
      err[k] = PetscAbsReal(r.cost - exact) / exact;
      PetscCall(PetscPrintf(comm, "    n = %" PetscInt_FMT ": <P,C> = %.10f, closed form %.10f, rel. error %.2e, %" PetscInt_FMT " iterations, %.2f s\n", n, r.cost, exact, err[k], r.iterations, r.seconds));
      PetscCall(PetscFree2(a, b));
    }
    CHECK(err[1] <= 3e-4 && err[1] < 0.6 * err[0], "entropic OT of two Gaussians (squared cost, reg 0.01): rel. error %.2e at n = 2000 (<= 3e-4), %.2e at n = 1000 (first order in 1/n)", err[1], err[0]);
    const PetscReal rich = 2 * val[1] - val[0];
    CHECK(PetscAbsReal(rich - exact) <= 5e-6 * exact, "Richardson extrapolation 2 v(2000) - v(1000) = %.10f matches the closed form %.10f to %.1e (<= 5e-6)", rich, exact, PetscAbsReal(rich - exact) / exact);
  }
  int status = TestFinish("test_ot");
  PetscCall(PetscFinalize());
  return status;
}
