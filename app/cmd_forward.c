/* pdediff forward: one forward solve for one wall-flux vector (Sec. 5.2), the tool to check a
 * single case.
 *   pdediff forward -flux 1,2,...,30        or   -flux_file q.txt   (30 numbers: x[0..14] bottom
 *                                                                     wall, x[15..29] top wall)
 * prints the 30 sensor values, one per line with 17 significant digits, and with
 * -forward_field u.h5 writes the concentration field (natural vertex order, with coordinates). */
#include "commands.h"
#include "fem.h"
#include "h5io.h"
#include <string.h>

typedef struct {
  FemGeometry geom;
  PetscReal  *flux;
  PetscInt    nflux;
  char        flux_file[PETSC_MAX_PATH_LEN];
  char        field[PETSC_MAX_PATH_LEN];
  PetscBool   timing, help;
} ForwardCtx;

/* Numbers separated by blanks, commas or newlines; '#' starts a comment. Read on rank 0. */
static PetscErrorCode ReadFluxFile(MPI_Comm comm, const char path[], PetscInt cap, PetscReal q[], PetscInt *n)
{
  PetscMPIInt rank;
  char        err[PETSC_MAX_PATH_LEN + 128] = "";

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  *n = 0;
  if (!rank) {
    FILE *f = fopen(path, "r");
    char  line[4096];
    int   lineno = 0;
    if (!f) PetscCall(PetscSNPrintf(err, sizeof(err), "-flux_file: cannot read %s (give a text file with the %" PetscInt_FMT " flux values)", path, cap));
    while (f && !err[0] && fgets(line, sizeof(line), f)) {
      char *s = line, *hash = strchr(line, '#');
      lineno++;
      if (hash) *hash = 0;
      while (*s) {
        char  *end;
        double d;
        while (*s == ' ' || *s == '\t' || *s == ',' || *s == '\r' || *s == '\n') s++;
        if (!*s) break;
        d = strtod(s, &end);
        if (end == s) {
          PetscCall(PetscSNPrintf(err, sizeof(err), "-flux_file %s line %d: '%.20s' is not a number", path, lineno, s));
          break;
        }
        if (*n < cap) q[*n] = d;
        (*n)++;
        s = end;
      }
    }
    if (f) fclose(f);
  }
  PetscCallMPI(MPI_Bcast(err, sizeof(err), MPI_CHAR, 0, comm));
  PetscCheck(!err[0], comm, PETSC_ERR_FILE_OPEN, "%s", err);
  PetscCallMPI(MPI_Bcast(n, 1, MPIU_INT, 0, comm));
  PetscCallMPI(MPI_Bcast(q, (PetscMPIInt)PetscMin(*n, cap), MPIU_REAL, 0, comm));
  PetscFunctionReturn(0);
}

static PetscErrorCode ProcessOptions(MPI_Comm comm, ForwardCtx *c)
{
  PetscBool set_flux = PETSC_FALSE, set_file = PETSC_FALSE;
  PetscInt  n;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsHasHelp(NULL, &c->help));
  PetscCall(FemGeometrySetFromOptions(comm, &c->geom));
  c->nflux = FemNumFlux(&c->geom);
  n = c->nflux + 1; /* one more than needed, so a long list is detected */
  PetscCall(PetscCalloc1(n, &c->flux));
  c->timing = PETSC_FALSE;
  PetscOptionsBegin(comm, NULL, "pdediff forward: sensor values for one wall-flux vector", "forward");
  PetscCall(PetscOptionsRealArray("-flux", "The flux vector: x[0..14] bottom-wall segments left to right, x[15..29] top wall", "forward", c->flux, &n, &set_flux));
  PetscCall(PetscOptionsString("-flux_file", "Text file with the flux vector (blank/comma/newline separated)", "forward", c->flux_file, c->flux_file, sizeof(c->flux_file), &set_file));
  PetscCall(PetscOptionsString("-forward_field", "Also write the concentration field to this HDF5 file", "forward", c->field, c->field, sizeof(c->field), NULL));
  PetscCall(PetscOptionsBool("-forward_timing", "Print mesh, assembly, set-up and solve times as # lines after the values", "forward", c->timing, &c->timing, NULL));
  PetscOptionsEnd();
  if (c->help) PetscFunctionReturn(0);
  PetscCheck(set_flux != set_file, comm, PETSC_ERR_USER_INPUT, "pdediff forward needs the flux vector once: -flux q0,q1,...,q%" PetscInt_FMT " or -flux_file FILE (not both)", c->nflux - 1);
  if (set_file) PetscCall(ReadFluxFile(comm, c->flux_file, c->nflux + 1, c->flux, &n));
  PetscCheck(n == c->nflux, comm, PETSC_ERR_USER_INPUT, "%s gave %" PetscInt_FMT "%s values: give exactly %" PetscInt_FMT " (one per wall segment: %" PetscInt_FMT " bottom, then %" PetscInt_FMT " top)",
             set_file ? c->flux_file : "-flux", n, n > c->nflux ? " or more" : "", c->nflux, c->geom.nseg, c->geom.nseg);
  PetscFunctionReturn(0);
}

static PetscErrorCode WriteField(MPI_Comm comm, ForwardCtx *c, FemSolver *fs, Vec u, const PetscReal y[])
{
  const FemGeometry *g = &c->geom;
  PetscInt           nv = FemNumVertices(g);
  PetscMPIInt        rank;
  PetscReal         *field = NULL, *xy = NULL, *mid;
  H5io               io;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscMalloc1(2 * c->nflux, &mid));
  FemSegmentMidpoints(g, mid);
  if (!rank) PetscCall(PetscMalloc2(nv, &field, 2 * nv, &xy));
  PetscCall(FemSolverGatherNatural(fs, u, field));
  if (!rank) FemVertexCoordinates(g, xy);
  PetscCall(H5ioCreate(comm, c->field, &io));
  PetscCall(H5ioWriteProvenance(&io, "pdediff forward"));
  PetscCall(H5ioAttrInt(&io, "/", "nx", g->nx));
  PetscCall(H5ioAttrInt(&io, "/", "ny", g->ny));
  PetscCall(H5ioAttrReal(&io, "/", "Lx", g->Lx));
  PetscCall(H5ioAttrReal(&io, "/", "Ly", g->Ly));
  PetscCall(H5ioAttrReal(&io, "/", "kappa", g->kappa));
  PetscCall(H5ioWriteRows(&io, "u", nv, 0, 0, rank ? 0 : nv, field, "vertex", "concentration", "P1 field at the vertices, natural order v = i (ny+1) + j at (i Lx/nx, j Ly/ny)"));
  PetscCall(H5ioWriteRows(&io, "vertex_coords", nv, 2, 0, rank ? 0 : nv, xy, "vertex,xy", "length", "vertex coordinates (natural order)"));
  PetscCall(H5ioWriteReplicated(&io, "flux", c->nflux, 0, c->flux, "segment", "flux", "wall flux q (bottom segments left to right, then top)"));
  PetscCall(H5ioWriteReplicated(&io, "segment_midpoints", c->nflux, 2, mid, "segment,xy", "length", "midpoints of the flux segments"));
  PetscCall(H5ioWriteReplicated(&io, "sensor_values", g->nsensor, 0, y, "sensor", "concentration", "the field at the sensors"));
  PetscCall(H5ioWriteReplicated(&io, "sensor_coords", g->nsensor, 2, g->sensor, "sensor,xy", "length", "sensor positions"));
  PetscCall(H5ioCommit(&io));
  PetscCall(PetscFree(mid));
  if (!rank) PetscCall(PetscFree2(field, xy));
  PetscFunctionReturn(0);
}

PetscErrorCode CmdForward(MPI_Comm comm, int nargs, char **args, int *status)
{
  ForwardCtx     c = {0};
  FemSolver      fs;
  Vec            u;
  PetscReal     *y;
  PetscLogDouble t0, tsolve;
  PetscMPIInt    size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCheck(nargs == 0, comm, PETSC_ERR_USER_INPUT, "pdediff forward takes no positional arguments (got '%s'): give the flux with -flux or -flux_file", args[0]);
  PetscCall(ProcessOptions(comm, &c));
  if (c.help) {
    PetscCall(FemGeometryDestroy(&c.geom));
    PetscCall(PetscFree(c.flux));
    PetscFunctionReturn(0);
  }
  PetscCall(FemSolverCreate(comm, &c.geom, &fs));
  PetscCall(DMCreateGlobalVector(fs.dm, &u));
  PetscCall(PetscMalloc1(c.geom.nsensor, &y));
  PetscCallMPI(MPI_Barrier(comm));
  t0 = MPI_Wtime();
  PetscCall(FemSolverField(&fs, c.flux, u));
  tsolve = MPI_Wtime() - t0;
  PetscCall(FemSolverSensorsOfField(&fs, u, y));
  for (PetscInt s = 0; s < c.geom.nsensor; s++) PetscCall(PetscPrintf(comm, "%.17g\n", (double)y[s]));
  if (c.timing)
    PetscCall(PetscPrintf(comm, "# mesh %d x %d (%" PetscInt_FMT " unknowns) on %d rank(s): mesh %.3f s, assembly %.3f s, set-up %.3f s, solve %.3f s, total %.3f s\n", (int)c.geom.nx, (int)c.geom.ny, fs.nglobal,
                          (int)size, fs.t_mesh, fs.t_assembly, fs.t_setup, tsolve, fs.t_mesh + fs.t_assembly + fs.t_setup + tsolve));
  if (c.field[0]) PetscCall(WriteField(comm, &c, &fs, u, y));
  PetscCall(PetscFree(y));
  PetscCall(VecDestroy(&u));
  PetscCall(FemSolverDestroy(&fs));
  PetscCall(FemGeometryDestroy(&c.geom));
  PetscCall(PetscFree(c.flux));
  PetscFunctionReturn(0);
}
