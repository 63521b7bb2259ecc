/* pdediff generate: the paired data set of Sec. 5.2 (DESIGN.md section 5).
 *
 * Sample i (0 <= i < N; the first -generate_n_train are the training set, the rest the test set)
 * draws its wall-flux vector x_i from the GP prior with stream (seed, FLUX, i), so the data do not
 * depend on the number of ranks. The ranks form groups of -fem_group_size; each group builds the
 * distributed mesh and factorisation once and computes the clean sensor values of its contiguous
 * share of the samples:
 *   -generate_mode solve  one forward solve per sample (blocks of right-hand sides reuse the
 *                         factors): the black-box path that works for any forward model;
 *   -generate_mode basis  y = H x with H the 30 x 30 response matrix from 30 unit solves: exact
 *                         only because this PDE is linear in x.
 * H is computed and stored in both modes. One HDF5 file, written collectively: x, y_clean, H,
 * the prior (parameters and covariance), sensor and segment geometry, the full concentration field
 * of a few chosen samples with the vertex coordinates (Figure 5). Noise and sensor masks are
 * applied later from seeds (issue 5), so one file serves every noise level. */
#include "commands.h"
#include "fem.h"
#include "gp.h"
#include "h5io.h"

typedef enum {
  GEN_SOLVE,
  GEN_BASIS
} GenMode;
static const char *const GenModes[] = {"solve", "basis", "GenMode", "GEN_", NULL};

#define GEN_MAX_FIELDS 16

typedef struct {
  FemGeometry geom;
  GPPrior     gp;
  PetscInt    n, n_train, group_size, nfields, fields[GEN_MAX_FIELDS];
  PetscInt    seed;
  GenMode     mode;
  char        output[PETSC_MAX_PATH_LEN];
  PetscBool   help;
  /* this group */
  MPI_Comm    gcomm;
  PetscMPIInt ngroups, group, grank;
  PetscInt    first, nlocal; /* my group's share of the samples */
  PetscReal  *x, *y;         /* nlocal x nflux, nlocal x nsensor (every rank of the group) */
  PetscReal  *H;             /* nsensor x nflux */
  PetscReal  *fields_nat;    /* nfields x nvertices on world rank 0 */
  PetscLogDouble t_mesh, t_assembly, t_setup, t_H, t_forward, t_fields, t_write;
} GenerateCtx;

static PetscErrorCode ProcessOptions(MPI_Comm comm, GenerateCtx *c)
{
  PetscMPIInt size;
  PetscInt    nf = GEN_MAX_FIELDS;
  PetscBool   set_fields = PETSC_FALSE;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  c->n = 10000;
  c->n_train = 9000;
  c->group_size = 1;
  c->seed = 1;
  c->mode = GEN_SOLVE;
  PetscCall(PetscStrncpy(c->output, "runs/advdiff/dataset.h5", sizeof(c->output)));
  PetscCall(PetscOptionsHasHelp(NULL, &c->help));
  PetscCall(FemGeometrySetFromOptions(comm, &c->geom));
  PetscOptionsBegin(comm, NULL, "pdediff generate: the (x, y) data set of Sec. 5.2", "generate");
  PetscCall(PetscOptionsInt("-generate_n", "Samples in all (training + test; paper: 10,000)", "generate", c->n, &c->n, NULL));
  PetscCall(PetscOptionsInt("-generate_n_train", "The first n_train samples are the training set, the rest the test set (paper: 9,000)", "generate", c->n_train, &c->n_train, NULL));
  PetscCall(PetscOptionsInt("-generate_seed", "Seed of the prior draws (sample i uses stream (seed, FLUX, i))", "generate", c->seed, &c->seed, NULL));
  PetscCall(PetscOptionsEnum("-generate_mode", "solve: one forward solve per sample (any forward model); basis: y = H x (linear PDE only)", "generate", GenModes, (PetscEnum)c->mode, (PetscEnum *)&c->mode, NULL));
  PetscCall(PetscOptionsIntArray("-generate_fields", "Samples whose full field is stored (default: the first three test samples)", "generate", c->fields, &nf, &set_fields));
  PetscCall(PetscOptionsInt("-fem_group_size", "Ranks per solver group (each group has its own distributed mesh and solves its share)", "generate", c->group_size, &c->group_size, NULL));
  PetscCall(PetscOptionsString("-generate_output", "Output HDF5 file", "generate", c->output, c->output, sizeof(c->output), NULL));
  PetscOptionsEnd();
  if (c->help) PetscFunctionReturn(0);
  PetscCheck(c->n >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-generate_n %" PetscInt_FMT ": must be >= 1", c->n);
  PetscCheck(c->n_train >= 0 && c->n_train <= c->n, comm, PETSC_ERR_ARG_OUTOFRANGE, "-generate_n_train %" PetscInt_FMT " must lie in [0, -generate_n = %" PetscInt_FMT "]", c->n_train, c->n);
  PetscCheck(c->seed >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-generate_seed %" PetscInt_FMT ": must be >= 0", c->seed);
  PetscCheck(c->group_size >= 1 && size % c->group_size == 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-fem_group_size %" PetscInt_FMT " must divide the %d ranks (e.g. 1 or %d)", c->group_size, (int)size, (int)size);
  if (set_fields) c->nfields = nf;
  else {
    c->nfields = PetscMin(3, c->n - c->n_train);
    for (PetscInt k = 0; k < c->nfields; k++) c->fields[k] = c->n_train + k;
  }
  for (PetscInt k = 0; k < c->nfields; k++) PetscCheck(c->fields[k] >= 0 && c->fields[k] < c->n, comm, PETSC_ERR_ARG_OUTOFRANGE, "-generate_fields: sample %" PetscInt_FMT " does not exist (0 <= i < -generate_n = %" PetscInt_FMT ")", c->fields[k], c->n);
  PetscFunctionReturn(0);
}

/* Create the output's directory and fail now, not after the solves, if the file cannot be written. */
static PetscErrorCode CheckOutput(MPI_Comm comm, GenerateCtx *c)
{
  char d[PETSC_MAX_PATH_LEN], *slash;

  PetscFunctionBeginUser;
  PetscCall(PetscStrncpy(d, c->output, sizeof(d)));
  slash = strrchr(d, '/');
  if (slash && slash != d) {
    *slash = 0;
    PetscCall(H5ioMakeDirs(comm, d));
  }
  PetscCall(H5ioCheckWritable(comm, c->output, "-generate_output"));
  PetscFunctionReturn(0);
}

static PetscErrorCode MakeGroups(MPI_Comm comm, GenerateCtx *c)
{
  PetscMPIInt rank, size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  c->ngroups = size / (PetscMPIInt)c->group_size;
  c->group = rank / (PetscMPIInt)c->group_size;
  PetscCallMPI(MPI_Comm_split(comm, c->group, rank, &c->gcomm));
  PetscCallMPI(MPI_Comm_rank(c->gcomm, &c->grank));
  c->first = (PetscInt)(((PetscInt64)c->n * c->group) / c->ngroups);
  c->nlocal = (PetscInt)(((PetscInt64)c->n * (c->group + 1)) / c->ngroups) - c->first;
  PetscFunctionReturn(0);
}

/* H[s][k]: sensor s for a unit flux on segment k (30 right-hand sides in one block). */
static PetscErrorCode ResponseMatrix(FemSolver *fs, GenerateCtx *c)
{
  PetscInt       nf = FemNumFlux(&c->geom), ns = c->geom.nsensor;
  PetscReal     *E, *Y;
  PetscLogDouble t0 = MPI_Wtime();

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc2(nf * nf, &E, nf * ns, &Y));
  for (PetscInt k = 0; k < nf; k++) E[k * nf + k] = 1;
  PetscCall(FemSolverSensors(fs, nf, E, Y));
  for (PetscInt s = 0; s < ns; s++)
    for (PetscInt k = 0; k < nf; k++) c->H[s * nf + k] = Y[k * ns + s];
  PetscCall(PetscFree2(E, Y));
  c->t_H = MPI_Wtime() - t0;
  PetscFunctionReturn(0);
}

static PetscErrorCode Forward(FemSolver *fs, GenerateCtx *c)
{
  PetscInt       nf = FemNumFlux(&c->geom), ns = c->geom.nsensor;
  PetscLogDouble t0 = MPI_Wtime();

  PetscFunctionBeginUser;
  for (PetscInt i = 0; i < c->nlocal; i++) GPPriorSample(&c->gp, (uint64_t)c->seed, (uint64_t)(c->first + i), c->x + i * nf, NULL);
  if (c->mode == GEN_SOLVE) PetscCall(FemSolverSensors(fs, c->nlocal, c->x, c->y));
  else
    for (PetscInt i = 0; i < c->nlocal; i++)
      for (PetscInt s = 0; s < ns; s++) {
        PetscReal v = 0;
        for (PetscInt k = 0; k < nf; k++) v += c->H[s * nf + k] * c->x[i * nf + k];
        c->y[i * ns + s] = v;
      }
  c->t_forward = MPI_Wtime() - t0;
  PetscFunctionReturn(0);
}

/* The chosen fields: the group that owns the sample solves it; world rank 0 collects them. */
static PetscErrorCode Fields(MPI_Comm comm, FemSolver *fs, GenerateCtx *c)
{
  PetscInt       nv = FemNumVertices(&c->geom), nf = FemNumFlux(&c->geom);
  PetscMPIInt    rank;
  PetscReal     *buf = NULL;
  Vec            u;
  PetscLogDouble t0 = MPI_Wtime();

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(DMCreateGlobalVector(fs->dm, &u));
  if (!c->grank) PetscCall(PetscMalloc1(nv, &buf));
  if (!rank) PetscCall(PetscMalloc1((size_t)c->nfields * nv, &c->fields_nat));
  for (PetscInt k = 0; k < c->nfields; k++) {
    PetscInt    i = c->fields[k];
    PetscMPIInt owner = 0; /* the group whose share [n g / G, n (g+1) / G) holds sample i */
    while ((PetscInt)(((PetscInt64)c->n * (owner + 1)) / c->ngroups) <= i) owner++;
    if (owner == c->group) {
      PetscCall(FemSolverField(fs, c->x + (i - c->first) * nf, u));
      PetscCall(FemSolverGatherNatural(fs, u, buf));
    }
    /* the owner group's rank 0 is world rank owner * group_size */
    if (!rank && owner == 0) PetscCall(PetscArraycpy(c->fields_nat + k * nv, buf, nv));
    else if (!rank) PetscCallMPI(MPI_Recv(c->fields_nat + k * nv, (PetscMPIInt)nv, MPIU_REAL, owner * (PetscMPIInt)c->group_size, (PetscMPIInt)k, comm, MPI_STATUS_IGNORE));
    else if (!c->grank && owner == c->group) PetscCallMPI(MPI_Send(buf, (PetscMPIInt)nv, MPIU_REAL, 0, (PetscMPIInt)k, comm));
  }
  PetscCall(PetscFree(buf));
  PetscCall(VecDestroy(&u));
  c->t_fields = MPI_Wtime() - t0;
  PetscFunctionReturn(0);
}

static PetscErrorCode Write(MPI_Comm comm, GenerateCtx *c)
{
  const FemGeometry *g = &c->geom;
  PetscInt           nf = FemNumFlux(g), ns = g->nsensor, nv = FemNumVertices(g), mine = c->grank ? 0 : c->nlocal;
  PetscMPIInt        rank;
  PetscReal         *mid, *bounds, *xy = NULL, *fidx, ymin = PETSC_MAX_REAL, ymax = -PETSC_MAX_REAL;
  H5io               io;
  PetscLogDouble     t0 = MPI_Wtime();

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  for (PetscInt i = 0; i < c->nlocal; i++)
    if (c->first + i < c->n_train)
      for (PetscInt s = 0; s < ns; s++) {
        ymin = PetscMin(ymin, c->y[i * ns + s]);
        ymax = PetscMax(ymax, c->y[i * ns + s]);
      }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &ymin, 1, MPIU_REAL, MPI_MIN, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &ymax, 1, MPIU_REAL, MPI_MAX, comm));
  PetscCall(PetscMalloc3(2 * nf, &mid, 2 * nf, &bounds, c->nfields, &fidx));
  FemSegmentMidpoints(g, mid);
  for (PetscInt k = 0; k < nf; k++) {
    bounds[2 * k] = mid[2 * k] - 0.5 * g->seg_len;
    bounds[2 * k + 1] = mid[2 * k] + 0.5 * g->seg_len;
  }
  for (PetscInt k = 0; k < c->nfields; k++) fidx[k] = (PetscReal)c->fields[k];
  if (!rank) {
    PetscCall(PetscMalloc1(2 * nv, &xy));
    FemVertexCoordinates(g, xy);
  }
  PetscCall(H5ioCreate(comm, c->output, &io));
  PetscCall(H5ioWriteProvenance(&io, "pdediff generate"));
  PetscCall(H5ioAttrInt(&io, "/", "n", c->n));
  PetscCall(H5ioAttrInt(&io, "/", "n_train", c->n_train));
  PetscCall(H5ioAttrInt(&io, "/", "n_test", c->n - c->n_train));
  PetscCall(H5ioAttrInt(&io, "/", "seed", c->seed));
  PetscCall(H5ioAttrString(&io, "/", "mode", GenModes[c->mode]));
  PetscCall(H5ioAttrInt(&io, "/", "groups", c->ngroups));
  PetscCall(H5ioAttrInt(&io, "/", "group_size", c->group_size));
  PetscCall(H5ioAttrInt(&io, "/", "nx", g->nx));
  PetscCall(H5ioAttrInt(&io, "/", "ny", g->ny));
  PetscCall(H5ioAttrReal(&io, "/", "Lx", g->Lx));
  PetscCall(H5ioAttrReal(&io, "/", "Ly", g->Ly));
  PetscCall(H5ioAttrReal(&io, "/", "kappa", g->kappa));
  PetscCall(H5ioAttrReal(&io, "/", "advection_peak", g->adv_peak));
  PetscCall(H5ioAttrString(&io, "/", "sensors_from", g->sensor_src));
  PetscCall(H5ioAttrReal(&io, "/", "gp_length", c->gp.length));
  PetscCall(H5ioAttrReal(&io, "/", "gp_std", c->gp.std));
  PetscCall(H5ioAttrReal(&io, "/", "gp_mean", c->gp.mean));
  PetscCall(H5ioAttrReal(&io, "/", "gp_jitter", c->gp.jitter));
  PetscCall(H5ioAttrInt(&io, "/", "gp_clip", c->gp.clip));
  PetscCall(H5ioAttrReal(&io, "/", "gp_min_pivot", c->gp.min_pivot));
  PetscCall(H5ioAttrReal(&io, "/", "y_train_min", ymin));
  PetscCall(H5ioAttrReal(&io, "/", "y_train_max", ymax));
  PetscCall(H5ioAttrReal(&io, "/", "time_mesh", c->t_mesh));
  PetscCall(H5ioAttrReal(&io, "/", "time_assembly", c->t_assembly));
  PetscCall(H5ioAttrReal(&io, "/", "time_setup", c->t_setup));
  PetscCall(H5ioAttrReal(&io, "/", "time_forward", c->t_forward));
  PetscCall(H5ioWriteRows(&io, "x", c->n, nf, c->first, mine, c->x, "sample,segment", "flux", "wall-flux vectors from the GP prior (x[0..14] bottom wall left to right, x[15..29] top)"));
  PetscCall(H5ioWriteRows(&io, "y_clean", c->n, ns, c->first, mine, c->y, "sample,sensor", "concentration", "noise-free sensor values (rows < n_train: training set; the rest: test set)"));
  PetscCall(H5ioWriteReplicated(&io, "H", ns, nf, c->H, "sensor,segment", "concentration/flux", "response matrix: y_clean = H x (sensor s for a unit flux on segment k)"));
  PetscCall(H5ioWriteReplicated(&io, "prior_covariance", nf, nf, c->gp.K, "segment,segment", "flux^2", "GP prior covariance K (with the jitter) of the latent z; x = max(0, mean + z) when clipped"));
  PetscCall(H5ioWriteReplicated(&io, "sensor_coords", ns, 2, g->sensor, "sensor,xy", "length", "sensor positions"));
  PetscCall(H5ioWriteReplicated(&io, "segment_midpoints", nf, 2, mid, "segment,xy", "length", "flux-segment midpoints (the GP points)"));
  PetscCall(H5ioWriteReplicated(&io, "segment_bounds", nf, 2, bounds, "segment,x", "length", "x at the start and end of each flux segment (y = 0 for segments 0..14, y = Ly for 15..29)"));
  PetscCall(H5ioWriteReplicated(&io, "field_index", c->nfields, 0, fidx, "field", "1", "sample index of each stored field"));
  PetscCall(H5ioWriteRows(&io, "fields", c->nfields, nv, 0, rank ? 0 : c->nfields, c->fields_nat, "field,vertex", "concentration", "full P1 field of the samples field_index, natural vertex order v = i (ny+1) + j"));
  PetscCall(H5ioWriteRows(&io, "vertex_coords", nv, 2, 0, rank ? 0 : nv, xy, "vertex,xy", "length", "vertex coordinates (natural order)"));
  PetscCall(H5ioCommit(&io));
  PetscCall(PetscFree3(mid, bounds, fidx));
  PetscCall(PetscFree(xy));
  c->t_write = MPI_Wtime() - t0;
  PetscFunctionReturn(0);
}

PetscErrorCode CmdGenerate(MPI_Comm comm, int nargs, char **args, int *status)
{
  GenerateCtx    c = {0};
  FemSolver      fs;
  PetscReal     *mid;
  PetscLogDouble t[3], tf[2];
  PetscInt       nf;

  PetscFunctionBeginUser;
  PetscCheck(nargs == 0, comm, PETSC_ERR_USER_INPUT, "pdediff generate takes no positional arguments (got '%s'): the output is -generate_output FILE", args[0]);
  PetscCall(ProcessOptions(comm, &c));
  nf = FemNumFlux(&c.geom);
  PetscCall(PetscMalloc1(2 * nf, &mid));
  FemSegmentMidpoints(&c.geom, mid);
  PetscCall(GPPriorSetFromOptions(comm, nf, mid, &c.gp));
  PetscCall(PetscFree(mid));
  if (c.help) {
    PetscCall(GPPriorDestroy(&c.gp));
    PetscCall(FemGeometryDestroy(&c.geom));
    PetscFunctionReturn(0);
  }
  PetscCall(CheckOutput(comm, &c));
  PetscCall(MakeGroups(comm, &c));
  PetscCall(FemSolverCreate(c.gcomm, &c.geom, &fs));
  t[0] = fs.t_mesh;
  t[1] = fs.t_assembly;
  t[2] = fs.t_setup;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, t, 3, MPI_DOUBLE, MPI_MAX, comm));
  c.t_mesh = t[0];
  c.t_assembly = t[1];
  c.t_setup = t[2];
  PetscCall(PetscMalloc3((size_t)c.nlocal * nf, &c.x, (size_t)c.nlocal * c.geom.nsensor, &c.y, (size_t)c.geom.nsensor * nf, &c.H));
  PetscCall(ResponseMatrix(&fs, &c));
  PetscCallMPI(MPI_Barrier(comm));
  PetscCall(Forward(&fs, &c));
  tf[0] = c.t_forward;
  tf[1] = c.t_H;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, tf, 2, MPI_DOUBLE, MPI_MAX, comm));
  c.t_forward = tf[0];
  c.t_H = tf[1];
  PetscCall(Fields(comm, &fs, &c));
  PetscCall(Write(comm, &c));
  PetscCall(PetscPrintf(comm, "generate: %" PetscInt_FMT " samples (%" PetscInt_FMT " train, %" PetscInt_FMT " test), mode %s, mesh %" PetscInt_FMT " x %" PetscInt_FMT " (%" PetscInt_FMT " unknowns), %d group(s) of %" PetscInt_FMT " rank(s)\n", c.n, c.n_train,
                        c.n - c.n_train, GenModes[c.mode], c.geom.nx, c.geom.ny, fs.nglobal, (int)c.ngroups, c.group_size));
  PetscCall(PetscPrintf(comm, "generate: mesh %.3f s, assembly %.3f s, set-up %.3f s, H (%" PetscInt_FMT " unit solves) %.3f s, forward %.3f s (%.1f samples/s), fields %.3f s, write %.3f s\n", c.t_mesh, c.t_assembly, c.t_setup, nf, c.t_H, c.t_forward,
                        c.n / PetscMax(c.t_forward, 1e-9), c.t_fields, c.t_write));
  PetscCall(PetscPrintf(comm, "generate: wrote %s\n", c.output));
  PetscCall(FemSolverDestroy(&fs));
  PetscCall(PetscFree3(c.x, c.y, c.H));
  PetscCall(PetscFree(c.fields_nat));
  PetscCallMPI(MPI_Comm_free(&c.gcomm));
  PetscCall(GPPriorDestroy(&c.gp));
  PetscCall(FemGeometryDestroy(&c.geom));
  PetscFunctionReturn(0);
}
