/* Forward model (petsc_fem): manufactured solution (second-order L2 convergence), wall load,
   sensor values identical on the distributed and on a serial mesh, linearity and blocked solves,
   the natural-order field against the sensors. Runs at 1 and 2 ranks. */
#include "blascore.h"
#include "fem.h"
#include "testutil.h"

/* u = sin(pi x / 32) (1 + cos(pi y / 4) / 2): u = 0 at x = 0, du/dn = 0 at x = 16 and on both
   walls, so with q = 0 it solves the problem with the source f = a_x du/dx - kappa lap u. */
typedef struct {
  FemGeometry *g;
} MMS;
static PetscReal Exact(PetscReal x, PetscReal y, void *ctx) { return PetscSinReal(PETSC_PI * x / 32) * (1 + 0.5 * PetscCosReal(PETSC_PI * y / 4)); }
static PetscReal Source(PetscReal x, PetscReal y, void *ctx)
{
  FemGeometry *g = ((MMS *)ctx)->g;
  PetscReal    kx = PETSC_PI / 32, ky = PETSC_PI / 4;
  PetscReal    ux = kx * PetscCosReal(kx * x) * (1 + 0.5 * PetscCosReal(ky * y));
  PetscReal    lap = -kx * kx * PetscSinReal(kx * x) * (1 + 0.5 * PetscCosReal(ky * y)) - PetscSinReal(kx * x) * 0.5 * ky * ky * PetscCosReal(ky * y);
  return FemAdvection(g, y) * ux - g->kappa * lap;
}

static PetscErrorCode TestMMS(void)
{
  const PetscInt nxs[4] = {34, 68, 136, 272};
  PetscReal      err[4];

  PetscFunctionBeginUser;
  for (int m = 0; m < 4; m++) {
    FemGeometry g = {0};
    FemSolver   fs;
    Vec         b, u;
    MMS         ctx = {&g};
    PetscCall(FemGeometryDefault(&g));
    g.nx = nxs[m];
    g.ny = nxs[m] / 4;
    PetscCall(FemSolverCreate(PETSC_COMM_WORLD, &g, &fs));
    PetscCall(DMCreateGlobalVector(fs.dm, &b));
    PetscCall(VecDuplicate(b, &u));
    PetscCall(FemSolverSourceLoad(&fs, Source, &ctx, b));
    PetscCall(FemSolverSolve(&fs, b, u));
    PetscCall(FemSolverL2Error(&fs, u, Exact, NULL, &err[m]));
    if (m == 0) CHECK(fs.nglobal == g.nx * (g.ny + 1), "free dofs %" PetscInt_FMT " = vertices minus the x = 0 column %" PetscInt_FMT, fs.nglobal, g.nx * (g.ny + 1));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "mms %4" PetscInt_FMT " x %3" PetscInt_FMT ": L2 error %.4e%s", g.nx, g.ny, (double)err[m], m ? "" : "\n"));
    if (m) PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  rate %.3f\n", (double)(PetscLog2Real(err[m - 1] / err[m]))));
    PetscCall(VecDestroy(&b));
    PetscCall(VecDestroy(&u));
    PetscCall(FemSolverDestroy(&fs));
    PetscCall(FemGeometryDestroy(&g));
  }
  for (int m = 1; m < 4; m++) {
    PetscReal rate = PetscLog2Real(err[m - 1] / err[m]);
    CHECK(rate > 1.9 && rate < 2.2, "MMS L2 convergence rate %.3f between nx = %" PetscInt_FMT " and %" PetscInt_FMT " is second order", (double)rate, nxs[m - 1], nxs[m]);
  }
  PetscFunctionReturn(0);
}

/* P1 interpolant of a natural-order field at (x, y) on the structured triangulation. */
static PetscReal InterpNatural(const FemGeometry *g, const PetscReal *f, PetscReal x, PetscReal y)
{
  PetscReal hx = g->Lx / g->nx, hy = g->Ly / g->ny, s, t;
  PetscInt  i = PetscMin((PetscInt)(x / hx), g->nx - 1), j = PetscMin((PetscInt)(y / hy), g->ny - 1), ny1 = g->ny + 1;
  PetscReal f00 = f[i * ny1 + j], f10 = f[(i + 1) * ny1 + j], f01 = f[i * ny1 + j + 1], f11 = f[(i + 1) * ny1 + j + 1];
  s = x / hx - i;
  t = y / hy - j;
  if (s >= t) return f00 + s * (f10 - f00) + t * (f11 - f10); /* lower triangle (v00, v10, v11) */
  return f00 + t * (f01 - f00) + s * (f11 - f01);             /* upper triangle (v00, v11, v01) */
}

static PetscErrorCode TestSensors(void)
{
  FemGeometry g = {0};
  FemSolver   fw, fself;
  PetscInt    nflux, ns, nq = 37;
  PetscReal  *Q, *Y, *Yself, *Ylin, *Yone, *field = NULL, maxrel = 0, maxlin = 0, maxone = 0, maxnat = 0, ymax = 0, minresp = PETSC_MAX_REAL;
  PetscMPIInt rank, size;
  Vec         u;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(FemGeometryDefault(&g));
  g.nx = 170;
  g.ny = 40;
  nflux = FemNumFlux(&g);
  ns = g.nsensor;
  PetscCall(FemSolverCreate(PETSC_COMM_WORLD, &g, &fw));
  PetscCall(FemSolverCreate(PETSC_COMM_SELF, &g, &fself));
  fw.block = 8; /* 37 = 4 full blocks of 8 and a short one of 5 */
  /* flux vectors: the 30 unit vectors, then 7 random positive ones */
  PetscCall(PetscCalloc5(nq * nflux, &Q, nq * ns, &Y, nq * ns, &Yself, ns, &Ylin, ns, &Yone));
  for (PetscInt k = 0; k < nflux; k++) Q[k * nflux + k] = 1;
  for (PetscInt q = nflux; q < nq; q++)
    for (PetscInt k = 0; k < nflux; k++) Q[q * nflux + k] = 2 + PetscSinReal(1.3 * k + 0.7 * q);
  PetscCall(FemSolverSensors(&fw, nq, Q, Y));
  PetscCall(FemSolverSensors(&fself, nq, Q, Yself));
  for (PetscInt i = 0; i < nq * ns; i++) ymax = PetscMax(ymax, PetscAbsReal(Y[i]));
  for (PetscInt i = 0; i < nq * ns; i++) maxrel = PetscMax(maxrel, PetscAbsReal(Y[i] - Yself[i]) / ymax);
  CHECK(maxrel < 1e-10, "sensor values on the %d-rank mesh vs the serial mesh: max rel diff %.2e < 1e-10", size, (double)maxrel);
  /* linearity: y(q) = sum_k q_k y(e_k) */
  for (PetscInt q = nflux; q < nq; q++) {
    for (PetscInt s = 0; s < ns; s++) {
      Ylin[s] = 0;
      for (PetscInt k = 0; k < nflux; k++) Ylin[s] += Q[q * nflux + k] * Y[k * ns + s];
      maxlin = PetscMax(maxlin, PetscAbsReal(Ylin[s] - Y[q * ns + s]) / ymax);
    }
  }
  CHECK(maxlin < 1e-10, "superposition of the 30 unit-flux responses = response to the flux vector: max rel diff %.2e", (double)maxlin);
  /* one right-hand side at a time (KSPSolve) = the blocked KSPMatSolve; and the natural field */
  PetscCall(DMCreateGlobalVector(fw.dm, &u));
  if (!rank) PetscCall(PetscMalloc1(FemNumVertices(&g), &field));
  for (PetscInt q = nq - 3; q < nq; q++) {
    PetscCall(FemSolverField(&fw, Q + q * nflux, u));
    PetscCall(FemSolverSensorsOfField(&fw, u, Yone));
    for (PetscInt s = 0; s < ns; s++) maxone = PetscMax(maxone, PetscAbsReal(Yone[s] - Y[q * ns + s]) / ymax);
    PetscCall(FemSolverGatherNatural(&fw, u, field));
    if (!rank)
      for (PetscInt s = 0; s < ns; s++) maxnat = PetscMax(maxnat, PetscAbsReal(InterpNatural(&g, field, g.sensor[2 * s], g.sensor[2 * s + 1]) - Y[q * ns + s]) / ymax);
  }
  PetscCallMPI(MPI_Bcast(&maxnat, 1, MPIU_REAL, 0, PETSC_COMM_WORLD));
  CHECK(maxone < 1e-10, "single solves vs blocked KSPMatSolve (block 8, short last block): max rel diff %.2e", (double)maxone);
  CHECK(maxnat < 1e-12, "natural-order field interpolated at the sensors = sensor values: max rel diff %.2e", (double)maxnat);
  /* physics: a unit flux into the domain raises the concentration everywhere downstream */
  for (PetscInt k = 0; k < nflux; k++)
    for (PetscInt s = 0; s < ns; s++) minresp = PetscMin(minresp, Y[k * ns + s]);
  CHECK(minresp > -1e-12 * ymax, "unit-flux responses are non-negative (min %.3e, max %.3e)", (double)minresp, (double)ymax);
  /* wall load: with q = 1 everywhere, int q v ds summed over the free test functions is the
     total flux-wall length minus the half edges at the two constrained corners (x = 0) */
  {
    PetscReal tot = 0, expect = 2 * g.nseg * g.seg_len - 2 * 0.5 * g.Lx / g.nx;
    for (PetscInt e = 0; e < fw.nload; e++) tot += fw.load_val[e];
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &tot, 1, MPIU_REAL, MPI_SUM, PETSC_COMM_WORLD));
    CHECK(PetscAbsReal(tot - expect) < 1e-12, "wall load of q = 1 sums to %.15f (expected %.15f)", (double)tot, (double)expect);
  }
  PetscCall(PetscFree(field));
  PetscCall(VecDestroy(&u));
  PetscCall(PetscFree5(Q, Y, Yself, Ylin, Yone));
  PetscCall(FemSolverDestroy(&fw));
  PetscCall(FemSolverDestroy(&fself));
  PetscCall(FemGeometryDestroy(&g));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  BlasCoreReexec(argc, argv); /* before anything starts: OpenBLAS kernels for this CPU (blascore.h) */
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(TestMMS());
  PetscCall(TestSensors());
  int status = TestFinish("test_fem");
  PetscCall(PetscFinalize());
  return status;
}
