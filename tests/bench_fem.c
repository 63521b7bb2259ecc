/* Benchmark of the forward model (label bench): on the full 850 x 200 mesh, the time of mesh
   build, assembly, set-up (factorisation) and one solve; the throughput of the blocked solve
   (samples/s, solve mode) with one group over all ranks and, at 2+ ranks, with one group per
   rank; and the mesh convergence of the sensor values on 340 x 80, 850 x 200 and 1700 x 400.
     mpirun -n N bench_fem [-bench_samples 512] [-bench_converge true] [-fem_... solver options] */
#include "blascore.h"
#include "fem.h"
#include "gp.h"

static PetscErrorCode Throughput(MPI_Comm world, PetscInt group_size, PetscInt nsamples, const PetscReal *Q, PetscInt nflux)
{
  PetscMPIInt    rank, size;
  MPI_Comm       gcomm;
  FemGeometry    g = {0};
  FemSolver      fs;
  PetscReal     *Y;
  PetscInt       first, n, ngroups;
  PetscLogDouble t0, t[4];
  Vec            u;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(world, &rank));
  PetscCallMPI(MPI_Comm_size(world, &size));
  ngroups = size / group_size;
  PetscCallMPI(MPI_Comm_split(world, rank / (PetscMPIInt)group_size, rank, &gcomm));
  first = nsamples * (rank / group_size) / ngroups;
  n = nsamples * (rank / group_size + 1) / ngroups - first;
  PetscCall(FemGeometryDefault(&g));
  PetscCall(FemSolverCreate(gcomm, &g, &fs));
  PetscCall(DMCreateGlobalVector(fs.dm, &u));
  PetscCall(PetscMalloc1((size_t)n * g.nsensor, &Y));
  PetscCallMPI(MPI_Barrier(world));
  t0 = MPI_Wtime();
  PetscCall(FemSolverField(&fs, Q, u)); /* one right-hand side */
  t[3] = MPI_Wtime() - t0;
  PetscCallMPI(MPI_Barrier(world));
  t0 = MPI_Wtime();
  PetscCall(FemSolverSensors(&fs, n, Q + first * nflux, Y));
  t[0] = fs.t_mesh;
  t[1] = fs.t_assembly;
  t[2] = fs.t_setup;
  PetscCallMPI(MPI_Barrier(world));
  {
    PetscLogDouble tb = MPI_Wtime() - t0;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, t, 4, MPI_DOUBLE, MPI_MAX, world));
    PetscCall(PetscPrintf(world, "%d group(s) of %" PetscInt_FMT ": mesh %.3f s, assembly %.3f s, set-up %.3f s, one solve %.3f s (one complete solve %.2f s); %" PetscInt_FMT " samples in blocks of %" PetscInt_FMT ": %.2f s = %.1f samples/s (%.1f ms per right-hand side per group; the 10,000-sample data set: %.0f s)\n",
                          (int)ngroups, group_size, t[0], t[1], t[2], t[3], t[0] + t[1] + t[2] + t[3], nsamples, fs.block, tb, nsamples / tb, 1e3 * tb * ngroups / nsamples, 10000 * tb / nsamples + t[0] + t[1] + t[2]));
  }
  PetscCall(PetscFree(Y));
  PetscCall(VecDestroy(&u));
  PetscCall(FemSolverDestroy(&fs));
  PetscCall(FemGeometryDestroy(&g));
  PetscCallMPI(MPI_Comm_free(&gcomm));
  PetscFunctionReturn(0);
}

static PetscErrorCode Convergence(MPI_Comm comm, const PetscReal q[])
{
  const PetscInt nxs[3] = {340, 850, 1700};
  PetscReal      Y[3][FEM_MAX_SENSORS];
  PetscInt       ns = 0;

  PetscFunctionBeginUser;
  for (int m = 0; m < 3; m++) {
    FemGeometry    g = {0};
    FemSolver      fs;
    PetscLogDouble t0 = MPI_Wtime();
    PetscCall(FemGeometryDefault(&g));
    g.nx = nxs[m];
    g.ny = nxs[m] * 4 / 17;
    ns = g.nsensor;
    PetscCall(FemSolverCreate(comm, &g, &fs));
    PetscCall(FemSolverSensors(&fs, 1, q, Y[m]));
    PetscCall(PetscPrintf(comm, "mesh %4" PetscInt_FMT " x %3" PetscInt_FMT ": %7" PetscInt_FMT " unknowns, %.2f s\n", g.nx, g.ny, fs.nglobal, MPI_Wtime() - t0));
    PetscCall(FemSolverDestroy(&fs));
    PetscCall(FemGeometryDestroy(&g));
  }
  PetscCall(PetscPrintf(comm, "sensor  y(340x80)          y(850x200)          y(1700x400)         |850-1700|/|1700|  |340-1700|/|1700|\n"));
  {
    PetscReal e1 = 0, e0 = 0, nrm = 0;
    for (PetscInt s = 0; s < ns; s++) {
      PetscCall(PetscPrintf(comm, "%6" PetscInt_FMT "  %.12e  %.12e  %.12e  %.2e           %.2e\n", s, (double)Y[0][s], (double)Y[1][s], (double)Y[2][s], (double)(PetscAbsReal(Y[1][s] - Y[2][s]) / PetscAbsReal(Y[2][s])), (double)(PetscAbsReal(Y[0][s] - Y[2][s]) / PetscAbsReal(Y[2][s]))));
      e1 = PetscMax(e1, PetscAbsReal(Y[1][s] - Y[2][s]));
      e0 = PetscMax(e0, PetscAbsReal(Y[0][s] - Y[2][s]));
      nrm = PetscMax(nrm, PetscAbsReal(Y[2][s]));
    }
    /* h ratio 340 -> 850 is 2.5 and 850 -> 1700 is 2: with e ~ h^p, |y_h - y_fine| ~ C h^p (1 - 2^-p) */
    PetscCall(PetscPrintf(comm, "max over sensors, relative to max |y|: 850x200 vs 1700x400 %.2e, 340x80 vs 1700x400 %.2e\n", (double)(e1 / nrm), (double)(e0 / nrm)));
  }
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscInt    nsamples = 512, nflux = 30;
  PetscBool   converge = PETSC_TRUE;
  PetscMPIInt size;
  PetscReal  *Q, pts[60];
  GPPrior     gp;
  FemGeometry g = {0};

  BlasCoreReexec(argc, argv); /* before anything starts: OpenBLAS kernels for this CPU (blascore.h) */
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-bench_samples", &nsamples, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-bench_converge", &converge, NULL));
  PetscCall(FemGeometryDefault(&g));
  FemSegmentMidpoints(&g, pts);
  PetscCall(GPPriorSetFromOptions(PETSC_COMM_WORLD, nflux, pts, &gp));
  PetscCall(PetscMalloc1((size_t)nsamples * nflux, &Q));
  for (PetscInt i = 0; i < nsamples; i++) GPPriorSample(&gp, 1, (uint64_t)i, Q + i * nflux, NULL);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "bench_fem: %d rank(s), 850 x 200 mesh, P1, default solver unless -fem_* options say otherwise\n", (int)size));
  PetscCall(Throughput(PETSC_COMM_WORLD, size, nsamples, Q, nflux));
  if (size > 1) PetscCall(Throughput(PETSC_COMM_WORLD, 1, nsamples, Q, nflux));
  if (converge) PetscCall(Convergence(PETSC_COMM_WORLD, Q));
  PetscCall(PetscFree(Q));
  PetscCall(GPPriorDestroy(&gp));
  PetscCall(FemGeometryDestroy(&g));
  PetscCall(PetscFinalize());
  return 0;
}
