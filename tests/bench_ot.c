/* bench_ot: Sinkhorn iterations per second on Table 1's shape, 10,000 generated samples against a
 * 1,700-point band reference (shifted-Gamma sets), for both costs and both kernels, at the rank
 * count it is launched with. Fixed iteration counts (-ot_tol tiny, -ot_max_iter) so runs compare.
 * Also the full solve to the default tolerance 1e-9 for the euclidean cost (Table 1's metric). */
#include "blascore.h"
#include "ot.h"
#include "rng.h"
#include <math.h>

static PetscErrorCode Run(MPI_Comm comm, const char *label, OtCost cost, OtMethod meth, PetscInt iters, PetscInt n, const PetscReal *x, PetscInt m, const PetscReal *y)
{
  OtOpts   o;
  OtResult r;

  PetscFunctionBeginUser;
  PetscCall(OtOptsSetDefaults(&o));
  o.cost     = cost;
  o.method   = meth;
  o.tol      = iters ? 1e-300 : 1e-9;
  o.max_iter = iters ? iters : 100000;
  PetscCall(OtSinkhorn1D(comm, &o, n, x, m, y, &r));
  PetscCall(PetscPrintf(comm, "%-38s %6" PetscInt_FMT " iterations %8.3f s  %10.1f iterations/s  marginal error %.1e  cost %.10f\n", label, r.iterations, r.seconds, r.iterations / r.seconds, r.marginal_error, r.cost));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscInt    n = 10000, m = 1700;
  PetscReal  *x, *y;
  PetscMPIInt size;

  BlasCoreReexec(argc, argv); /* before anything starts: OpenBLAS kernels for this CPU (blascore.h) */
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-n", &n, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-m", &m, NULL));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(PetscMalloc2(n, &x, m, &y));
  for (PetscInt i = 0; i < PetscMax(n, m); i++) {
    RngStream s;
    rng_stream_init(&s, 3, RNG_PURPOSE_TEST, (uint64_t)i);
    if (i < n) x[i] = tanh(0.5) + rng_gamma(&s, 1.0, 0.3) + 0.02 * rng_normal(&s);
    if (i < m) y[i] = tanh(0.5) + rng_gamma(&s, 1.0, 0.3);
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "bench_ot: %" PetscInt_FMT " x %" PetscInt_FMT " points, reg 0.01, %d rank(s)\n", n, m, size));
  PetscCall(Run(PETSC_COMM_WORLD, "euclidean, O(n+m) kernel", OT_COST_EUCLIDEAN, OT_METHOD_AUTO, 2000, n, x, m, y));
  PetscCall(Run(PETSC_COMM_WORLD, "euclidean, dense O(nm) kernel", OT_COST_EUCLIDEAN, OT_METHOD_DENSE, 20, n, x, m, y));
  PetscCall(Run(PETSC_COMM_WORLD, "sqeuclidean, window kernel", OT_COST_SQEUCLIDEAN, OT_METHOD_AUTO, 50, n, x, m, y));
  PetscCall(Run(PETSC_COMM_WORLD, "sqeuclidean, dense O(nm) kernel", OT_COST_SQEUCLIDEAN, OT_METHOD_DENSE, 20, n, x, m, y));
  PetscCall(Run(PETSC_COMM_WORLD, "euclidean to tol 1e-9 (Table 1 metric)", OT_COST_EUCLIDEAN, OT_METHOD_AUTO, 0, n, x, m, y));
  PetscCall(PetscFree2(x, y));
  PetscCall(PetscFinalize());
  return 0;
}
