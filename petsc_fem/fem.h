/* petsc_fem: the advection-diffusion forward model of Sec. 5.2 (DESIGN.md section 5).
 *
 *   div(a u) - kappa lap u = 0 on [0,Lx] x [0,Ly],  a = (a_x(y), 0),  a_x(y) = 4 a_peak y (Ly - y) / Ly^2
 *   weak form: int kappa grad u . grad v + (a . grad u) v dx = int_{Gamma_q} q v ds
 *   u = 0 on x = 0; kappa du/dn = 0 on x = Lx; kappa du/dn = q_k on wall segment k.
 *
 * P1 elements on a structured triangulation (nx x ny rectangles, each split along the diagonal
 * from its lower-left to its upper-right corner), distributed with DMPlex. Assembly is by hand
 * over the Plex cells: the element matrices of this form are closed-form (constant gradients, the
 * quadratic velocity integrated exactly with the barycentric moment formula), the wall load is
 * kept as 30 sparse columns so a block of right-hand sides is one small product, and nothing
 * needs the PetscDS pointwise machinery (or an interpolated mesh, whose edges would cost more to
 * build than the whole assembly). Dirichlet vertices are constrained out of the PetscSection, so
 * the operator is the reduced square system.
 *
 * The operator never changes: FemSolverCreate assembles it and sets up the KSP (by default MUMPS
 * LU: KSPPREONLY + PCLU, prefix fem_), and every right-hand side afterwards reuses the factors;
 * blocks of flux vectors are solved together with KSPMatSolve. */
#ifndef PDEDIFF_FEM_H
#define PDEDIFF_FEM_H
#include <petscdmplex.h>
#include <petscksp.h>

#define FEM_MAX_SENSORS 1024

typedef struct {
  PetscReal Lx, Ly;     /* domain [0,Lx] x [0,Ly]: 16 x 4 */
  PetscInt  nx, ny;     /* rectangles along x and y: 850 x 200 */
  PetscReal kappa;      /* diffusion coefficient: 0.07 */
  PetscReal adv_peak;   /* a_x at mid-height: 0.1 */
  PetscInt  nseg;       /* flux segments per wall: 15 (x[0..14] bottom, x[15..29] top) */
  PetscReal seg_len;    /* segment length: 16/34 */
  PetscInt  nsensor;    /* 30: 15 at y = 0.5, then 15 at y = 3.5 */
  PetscReal *sensor;    /* nsensor x 2 (x, y) */
  char      sensor_src[PETSC_MAX_PATH_LEN]; /* where the sensors came from (default or a file) */
} FemGeometry;

/* The defaults of DESIGN.md section 5, then -fem_nx, -fem_ny, -fem_kappa, -fem_sensors FILE
   (text, one "x y" per line), validated: segment ends on mesh vertices, sensors inside. */
PetscErrorCode FemGeometrySetFromOptions(MPI_Comm comm, FemGeometry *g);
PetscErrorCode FemGeometryDefault(FemGeometry *g);
PetscErrorCode FemGeometryCheck(MPI_Comm comm, const FemGeometry *g);
PetscErrorCode FemGeometryCopy(const FemGeometry *src, FemGeometry *dst);
PetscErrorCode FemGeometryDestroy(FemGeometry *g);
static inline PetscInt FemNumFlux(const FemGeometry *g) { return 2 * g->nseg; }
static inline PetscInt FemNumVertices(const FemGeometry *g) { return (g->nx + 1) * (g->ny + 1); }
/* Natural (mesh-generator) vertex numbering: v = i (ny + 1) + j at (i Lx/nx, j Ly/ny). */
static inline PetscReal FemAdvection(const FemGeometry *g, PetscReal y) { return 4 * g->adv_peak * y * (g->Ly - y) / (g->Ly * g->Ly); }
/* Vertex coordinates in natural order (the mesh generator's): xy has 2 FemNumVertices() entries. */
void FemVertexCoordinates(const FemGeometry *g, PetscReal xy[]);
/* Wall-segment midpoints, bottom wall then top wall (the GP prior's points): nflux x 2. */
void FemSegmentMidpoints(const FemGeometry *g, PetscReal pts[]);

/* Structured triangulation built on rank 0 of comm and distributed over comm (the simple
   partitioner by default: cells are numbered column by column, so the parts are slabs in x with
   the shortest interfaces; -fem_petscpartitioner_type changes it). */
PetscErrorCode FemMeshCreate(MPI_Comm comm, const FemGeometry *g, DM *dm);

typedef struct {
  MPI_Comm    comm;
  FemGeometry geom;
  DM          dm;
  PetscInt    vStart, vEnd; /* local vertices */
  PetscInt   *gidx;         /* global dof of each local vertex, -1 where u = 0 is imposed */
  PetscInt   *natural;      /* natural index of each local vertex */
  PetscInt    nlocal, rstart, nglobal; /* owned dofs */
  Mat         A;
  KSP         ksp;
  /* wall load: the columns of B (u-space x nflux), owned rows only: F = B Q */
  PetscInt    nload;
  PetscInt   *load_row, *load_seg;
  PetscReal  *load_val;
  /* sensors: P1 interpolation weights of the containing cell (3 per sensor), replicated */
  PetscInt   *sens_gidx;
  PetscReal  *sens_w;
  PetscInt    block;        /* right-hand sides per KSPMatSolve: -fem_block */
  Mat         Fblk, Ublk;   /* dense work blocks (nlocal x block) */
  PetscLogDouble t_mesh, t_assembly, t_setup; /* seconds, max over ranks */
} FemSolver;

/* Collective on comm: mesh, dofs, assembly, sensors, KSP set-up (factorisation). */
PetscErrorCode FemSolverCreate(MPI_Comm comm, const FemGeometry *g, FemSolver *fs);
PetscErrorCode FemSolverDestroy(FemSolver *fs);
/* Y (nq x nsensor) = sensor values of the solutions for the flux vectors Q (nq x nflux), both
   row-major and identical on every rank of fs->comm; solved in blocks of fs->block. */
PetscErrorCode FemSolverSensors(FemSolver *fs, PetscInt nq, const PetscReal Q[], PetscReal Y[]);
/* u (global vector of fs->dm) for one flux vector q. */
PetscErrorCode FemSolverField(FemSolver *fs, const PetscReal q[], Vec u);
/* Sensor values of a field (every rank gets all nsensor). */
PetscErrorCode FemSolverSensorsOfField(FemSolver *fs, Vec u, PetscReal y[]);
/* The whole field in natural vertex order on rank 0 of fs->comm (u = 0 on x = 0 included);
   field must hold FemNumVertices() values on rank 0 (ignored elsewhere). */
PetscErrorCode FemSolverGatherNatural(FemSolver *fs, Vec u, PetscReal field[]);
/* For tests (manufactured solutions): load vector of a volume source f, solve with any RHS,
   and the L2 error of the P1 field against a function (7-point degree-5 quadrature). */
typedef PetscReal (*FemFunction)(PetscReal x, PetscReal y, void *ctx);
PetscErrorCode FemSolverSourceLoad(FemSolver *fs, FemFunction f, void *ctx, Vec b);
PetscErrorCode FemSolverSolve(FemSolver *fs, Vec b, Vec u);
PetscErrorCode FemSolverL2Error(FemSolver *fs, Vec u, FemFunction exact, void *ctx, PetscReal *err);

#endif
