/* Problem geometry of Sec. 5.2 (DESIGN.md section 5): domain, mesh size, wall segments, sensors. */
#include "fem.h"
#include "gp.h"

PetscErrorCode FemGeometryDefault(FemGeometry *g)
{
  PetscFunctionBeginUser;
  g->Lx = 16;
  g->Ly = 4;
  g->nx = 850;
  g->ny = 200;
  g->kappa = 0.07;
  g->adv_peak = 0.1;
  g->nseg = 15;
  g->seg_len = 16.0 / 34.0;
  g->nsensor = 30;
  PetscCall(PetscFree(g->sensor));
  PetscCall(PetscMalloc1(2 * g->nsensor, &g->sensor));
  for (PetscInt i = 0; i < 15; i++) { /* x_i = (i + 0.5) 16/15 at y = 0.5, then at y = 3.5 */
    g->sensor[2 * i] = g->sensor[2 * (i + 15)] = (i + 0.5) * 16.0 / 15.0;
    g->sensor[2 * i + 1] = 0.5;
    g->sensor[2 * (i + 15) + 1] = 3.5;
  }
  PetscCall(PetscStrncpy(g->sensor_src, "default (DESIGN.md section 5)", sizeof(g->sensor_src)));
  PetscFunctionReturn(0);
}

PetscErrorCode FemGeometryDestroy(FemGeometry *g)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(g->sensor));
  PetscFunctionReturn(0);
}

PetscErrorCode FemGeometryCopy(const FemGeometry *src, FemGeometry *dst)
{
  PetscFunctionBeginUser;
  *dst = *src;
  PetscCall(PetscMalloc1(2 * src->nsensor, &dst->sensor));
  PetscCall(PetscArraycpy(dst->sensor, src->sensor, 2 * src->nsensor));
  PetscFunctionReturn(0);
}

void FemSegmentMidpoints(const FemGeometry *g, PetscReal pts[]) { gp_segment_midpoints(g->nseg, g->Lx, g->Ly, g->seg_len, pts); }

void FemVertexCoordinates(const FemGeometry *g, PetscReal xy[])
{
  for (PetscInt i = 0; i <= g->nx; i++)
    for (PetscInt j = 0; j <= g->ny; j++) {
      xy[2 * (i * (g->ny + 1) + j)]     = (i == g->nx) ? g->Lx : i * (g->Lx / g->nx);
      xy[2 * (i * (g->ny + 1) + j) + 1] = (j == g->ny) ? g->Ly : j * (g->Ly / g->ny);
    }
}

/* Sensors from a text file: one "x y" pair per line, '#' starts a comment. Read on rank 0. */
static PetscErrorCode ReadSensors(MPI_Comm comm, const char path[], FemGeometry *g)
{
  PetscMPIInt rank;
  PetscInt    n = 0;
  PetscReal  *s;
  char        err[PETSC_MAX_PATH_LEN + 256] = "";

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscMalloc1(2 * FEM_MAX_SENSORS, &s));
  if (!rank) {
    FILE *f = fopen(path, "r");
    char  line[512];
    int   lineno = 0;
    if (!f) PetscCall(PetscSNPrintf(err, sizeof(err), "-fem_sensors: cannot read %s: give a text file with one \"x y\" pair per line", path));
    while (f && !err[0] && fgets(line, sizeof(line), f)) {
      double x, y;
      char   extra[8], *hash = strchr(line, '#');
      lineno++;
      if (hash) *hash = 0;
      if (sscanf(line, " %7s", extra) != 1) continue; /* blank */
      if (sscanf(line, "%lf %lf %7s", &x, &y, extra) != 2) {
        PetscCall(PetscSNPrintf(err, sizeof(err), "-fem_sensors %s line %d: expected two numbers \"x y\"", path, lineno));
        break;
      }
      if (n >= FEM_MAX_SENSORS) {
        PetscCall(PetscSNPrintf(err, sizeof(err), "-fem_sensors %s: more than %d sensors", path, FEM_MAX_SENSORS));
        break;
      }
      s[2 * n] = x;
      s[2 * n + 1] = y;
      n++;
    }
    if (f) fclose(f);
    if (!err[0] && n == 0) PetscCall(PetscSNPrintf(err, sizeof(err), "-fem_sensors %s holds no sensor: one \"x y\" pair per line", path));
  }
  PetscCallMPI(MPI_Bcast(err, sizeof(err), MPI_CHAR, 0, comm));
  if (err[0]) PetscCall(PetscFree(s));
  PetscCheck(!err[0], comm, PETSC_ERR_FILE_OPEN, "%s", err);
  PetscCallMPI(MPI_Bcast(&n, 1, MPIU_INT, 0, comm));
  PetscCallMPI(MPI_Bcast(s, 2 * n, MPIU_REAL, 0, comm));
  PetscCall(PetscFree(g->sensor));
  g->sensor = s;
  g->nsensor = n;
  PetscCall(PetscSNPrintf(g->sensor_src, sizeof(g->sensor_src), "-fem_sensors %s", path));
  PetscFunctionReturn(0);
}

PetscErrorCode FemGeometryCheck(MPI_Comm comm, const FemGeometry *g)
{
  PetscFunctionBeginUser;
  PetscCheck(g->nx >= 1 && g->ny >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-fem_nx %" PetscInt_FMT " -fem_ny %" PetscInt_FMT ": both must be >= 1", g->nx, g->ny);
  PetscCheck(g->kappa > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-fem_kappa %g: must be > 0", (double)g->kappa);
  PetscCheck(g->nseg * g->seg_len <= g->Lx * (1 + 1e-12), comm, PETSC_ERR_ARG_OUTOFRANGE, "the %" PetscInt_FMT " wall segments of length %g do not fit on a wall of length %g", g->nseg, (double)g->seg_len, (double)g->Lx);
  /* every segment end k seg_len must be a vertex i Lx/nx */
  for (PetscInt k = 0; k <= g->nseg; k++) {
    PetscReal i = k * g->seg_len * g->nx / g->Lx;
    PetscCheck(PetscAbsReal(i - PetscFloorReal((i) + 0.5)) < 1e-9, comm, PETSC_ERR_ARG_OUTOFRANGE,
               "-fem_nx %" PetscInt_FMT " does not put the wall-segment ends (multiples of %g) on mesh vertices (segment end %" PetscInt_FMT " falls at %.4f cells): use a multiple of %g, e.g. 340, 850 or 1700",
               g->nx, (double)g->seg_len, k, (double)i, (double)(g->Lx / g->seg_len));
  }
  for (PetscInt s = 0; s < g->nsensor; s++) {
    PetscReal x = g->sensor[2 * s], y = g->sensor[2 * s + 1];
    PetscCheck(x >= 0 && x <= g->Lx && y >= 0 && y <= g->Ly, comm, PETSC_ERR_ARG_OUTOFRANGE,
               "sensor %" PetscInt_FMT " at (%g, %g) (from %s) lies outside the domain [0,%g] x [0,%g]: move it inside", s, (double)x, (double)y, g->sensor_src, (double)g->Lx, (double)g->Ly);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode FemGeometrySetFromOptions(MPI_Comm comm, FemGeometry *g)
{
  char      path[PETSC_MAX_PATH_LEN] = "";
  PetscBool set = PETSC_FALSE;

  PetscFunctionBeginUser;
  PetscCall(FemGeometryDefault(g));
  PetscOptionsBegin(comm, NULL, "Forward model (Sec. 5.2): mesh and sensors", "fem");
  PetscCall(PetscOptionsInt("-fem_nx", "Rectangles along x (a multiple of 34 puts the segment ends on vertices)", "fem", g->nx, &g->nx, NULL));
  PetscCall(PetscOptionsInt("-fem_ny", "Rectangles along y", "fem", g->ny, &g->ny, NULL));
  PetscCall(PetscOptionsReal("-fem_kappa", "Diffusion coefficient", "fem", g->kappa, &g->kappa, NULL));
  PetscCall(PetscOptionsString("-fem_sensors", "Text file of sensor positions, one \"x y\" per line (default: the 30 of DESIGN.md)", "fem", path, path, sizeof(path), &set));
  PetscOptionsEnd();
  if (set && path[0]) PetscCall(ReadSensors(comm, path, g));
  PetscCall(FemGeometryCheck(comm, g));
  PetscFunctionReturn(0);
}
