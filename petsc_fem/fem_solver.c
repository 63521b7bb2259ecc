/* P1 assembly over the distributed Plex, the wall load, sensor interpolation, and the KSP that
   is set up once and reused for every right-hand side. */
#include "fem.h"

static PetscLogEvent FEM_Mesh, FEM_Assembly, FEM_SetUp, FEM_Solve;
static PetscBool     fem_registered = PETSC_FALSE;

static PetscErrorCode FemRegisterEvents(void)
{
  PetscClassId cls;

  PetscFunctionBeginUser;
  if (fem_registered) PetscFunctionReturn(0);
  PetscCall(PetscClassIdRegister("pdediff FEM", &cls));
  PetscCall(PetscLogEventRegister("FemMesh", cls, &FEM_Mesh));
  PetscCall(PetscLogEventRegister("FemAssembly", cls, &FEM_Assembly));
  PetscCall(PetscLogEventRegister("FemSetUp", cls, &FEM_SetUp));
  PetscCall(PetscLogEventRegister("FemSolveBlock", cls, &FEM_Solve));
  fem_registered = PETSC_TRUE;
  PetscFunctionReturn(0);
}

/* Vertex coordinates of a cell (non-interpolated mesh: the cone is the three vertices). */
static inline void CellVertices(const FemSolver *fs, const PetscInt cone[], const PetscScalar *xy, const PetscInt *coff, PetscReal p[6])
{
  for (PetscInt k = 0; k < 3; k++) {
    PetscInt o = coff[cone[k] - fs->vStart];
    p[2 * k] = PetscRealPart(xy[o]);
    p[2 * k + 1] = PetscRealPart(xy[o + 1]);
  }
}

/* Gradients of the three hat functions (constant on the cell) and the area. */
static inline PetscReal CellGradients(const PetscReal p[6], PetscReal gr[6])
{
  PetscReal det = (p[2] - p[0]) * (p[5] - p[1]) - (p[4] - p[0]) * (p[3] - p[1]);
  gr[0] = (p[3] - p[5]) / det;
  gr[1] = (p[4] - p[2]) / det;
  gr[2] = (p[5] - p[1]) / det;
  gr[3] = (p[0] - p[4]) / det;
  gr[4] = (p[1] - p[3]) / det;
  gr[5] = (p[2] - p[0]) / det;
  return 0.5 * PetscAbsReal(det);
}

/* Dunavant's 7-point rule, exact for degree 5 (barycentric points, weights summing to 1). */
static void Quadrature7(PetscReal lam[7][3], PetscReal w[7])
{
  const PetscReal s = PetscSqrtReal(15.0);
  const PetscReal a1 = (9 - 2 * s) / 21, b1 = (6 + s) / 21, a2 = (9 + 2 * s) / 21, b2 = (6 - s) / 21;
  const PetscReal w1 = (155 + s) / 1200, w2 = (155 - s) / 1200;
  PetscReal       pts[7][3] = {
    {1.0 / 3, 1.0 / 3, 1.0 / 3},
    {a1, b1, b1},
    {b1, a1, b1},
    {b1, b1, a1},
    {a2, b2, b2},
    {b2, a2, b2},
    {b2, b2, a2}
  };
  for (int q = 0; q < 7; q++) {
    for (int k = 0; k < 3; k++) lam[q][k] = pts[q][k];
    w[q] = q == 0 ? 0.225 : (q < 4 ? w1 : w2);
  }
}

/* Local dofs: one per vertex; u = 0 at x = 0 is a constrained dof, so global vectors and the
   operator hold only the free vertices. gidx[v] is the global dof of local vertex v (-1: constrained). */
static PetscErrorCode SetUpDofs(FemSolver *fs)
{
  PetscSection sec;
  PetscInt     pStart, pEnd, nv, *coff;
  Vec          g, l, coords;
  PetscSection csec;
  const PetscScalar *xy;
  PetscScalar *a;
  const PetscInt zero = 0;

  PetscFunctionBeginUser;
  PetscCall(DMPlexGetChart(fs->dm, &pStart, &pEnd));
  PetscCall(DMPlexGetDepthStratum(fs->dm, 0, &fs->vStart, &fs->vEnd));
  nv = fs->vEnd - fs->vStart;
  PetscCall(DMGetCoordinatesLocal(fs->dm, &coords));
  PetscCall(DMGetCoordinateSection(fs->dm, &csec));
  PetscCall(VecGetArrayRead(coords, &xy));
  PetscCall(PetscMalloc2(nv, &fs->gidx, nv, &fs->natural));
  PetscCall(PetscMalloc1(nv, &coff));
  for (PetscInt v = fs->vStart; v < fs->vEnd; v++) {
    PetscInt  o;
    PetscReal x, y;
    PetscCall(PetscSectionGetOffset(csec, v, &o));
    coff[v - fs->vStart] = o;
    x = PetscRealPart(xy[o]);
    y = PetscRealPart(xy[o + 1]);
    fs->natural[v - fs->vStart] = (PetscInt)PetscFloorReal((x * fs->geom.nx / fs->geom.Lx) + 0.5) * (fs->geom.ny + 1) + (PetscInt)PetscFloorReal((y * fs->geom.ny / fs->geom.Ly) + 0.5);
  }
  PetscCall(PetscSectionCreate(fs->comm, &sec));
  PetscCall(PetscSectionSetChart(sec, pStart, pEnd));
  for (PetscInt v = fs->vStart; v < fs->vEnd; v++) {
    PetscCall(PetscSectionSetDof(sec, v, 1));
    if (PetscRealPart(xy[coff[v - fs->vStart]]) == 0) PetscCall(PetscSectionSetConstraintDof(sec, v, 1));
  }
  PetscCall(PetscSectionSetUp(sec));
  for (PetscInt v = fs->vStart; v < fs->vEnd; v++)
    if (PetscRealPart(xy[coff[v - fs->vStart]]) == 0) PetscCall(PetscSectionSetConstraintIndices(sec, v, &zero));
  PetscCall(DMSetLocalSection(fs->dm, sec));
  PetscCall(PetscSectionDestroy(&sec));

  /* global dof numbers of every local vertex (owned and ghost): scatter the global numbering */
  PetscCall(DMCreateGlobalVector(fs->dm, &g));
  PetscCall(VecGetLocalSize(g, &fs->nlocal));
  PetscCall(VecGetSize(g, &fs->nglobal));
  PetscCall(VecGetOwnershipRange(g, &fs->rstart, NULL));
  PetscCall(VecGetArrayWrite(g, &a));
  for (PetscInt i = 0; i < fs->nlocal; i++) a[i] = fs->rstart + i;
  PetscCall(VecRestoreArrayWrite(g, &a));
  PetscCall(DMGetLocalVector(fs->dm, &l));
  PetscCall(VecSet(l, -1.0));
  PetscCall(DMGlobalToLocal(fs->dm, g, INSERT_VALUES, l));
  PetscCall(VecGetArray(l, &a));
  {
    PetscSection lsec;
    PetscCall(DMGetLocalSection(fs->dm, &lsec));
    for (PetscInt v = fs->vStart; v < fs->vEnd; v++) {
      PetscInt o;
      PetscCall(PetscSectionGetOffset(lsec, v, &o));
      fs->gidx[v - fs->vStart] = PetscRealPart(xy[coff[v - fs->vStart]]) == 0 ? -1 : (PetscInt)PetscRealPart(a[o]);
      PetscCheck(PetscRealPart(xy[coff[v - fs->vStart]]) == 0 || fs->gidx[v - fs->vStart] >= 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "vertex %" PetscInt_FMT " received no global dof number", v);
    }
  }
  PetscCall(VecRestoreArray(l, &a));
  PetscCall(DMRestoreLocalVector(fs->dm, &l));
  PetscCall(VecDestroy(&g));
  PetscCall(VecRestoreArrayRead(coords, &xy));
  PetscCall(PetscFree(coff));
  PetscFunctionReturn(0);
}

/* Coordinate offsets of the local vertices (the coordinate section is per vertex). */
static PetscErrorCode CoordOffsets(FemSolver *fs, PetscInt **coff)
{
  PetscSection csec;

  PetscFunctionBeginUser;
  PetscCall(DMGetCoordinateSection(fs->dm, &csec));
  PetscCall(PetscMalloc1(fs->vEnd - fs->vStart, coff));
  for (PetscInt v = fs->vStart; v < fs->vEnd; v++) PetscCall(PetscSectionGetOffset(csec, v, &(*coff)[v - fs->vStart]));
  PetscFunctionReturn(0);
}

/* Operator: K_ij = kappa |T| grad phi_i . grad phi_j + (int_T a_x phi_i) d phi_j/dx.
   int_T y phi_i and int_T y^2 phi_i are exact from int_T l_1^a l_2^b l_3^c = 2|T| a!b!c!/(a+b+c+2)!.
   Wall load: kappa du/dn = q_k on segment k gives int q_k phi_i ds = q_k |e|/2 at both ends of
   every wall edge e of the segment (each wall edge belongs to exactly one cell). */
static PetscErrorCode Assemble(FemSolver *fs)
{
  const FemGeometry *g = &fs->geom;
  const PetscReal    al = 4 * g->adv_peak / g->Ly, be = -4 * g->adv_peak / (g->Ly * g->Ly); /* a_x = al y + be y^2 */
  const PetscInt     nflux = FemNumFlux(g);
  PetscInt           cStart, cEnd, *coff;
  Vec                coords;
  const PetscScalar *xy;
  Mat                B;

  PetscFunctionBeginUser;
  PetscCall(DMPlexGetHeightStratum(fs->dm, 0, &cStart, &cEnd));
  PetscCall(CoordOffsets(fs, &coff));
  PetscCall(DMGetCoordinatesLocal(fs->dm, &coords));
  PetscCall(VecGetArrayRead(coords, &xy));
  PetscCall(MatCreate(fs->comm, &fs->A));
  PetscCall(MatSetSizes(fs->A, fs->nlocal, fs->nlocal, fs->nglobal, fs->nglobal));
  PetscCall(MatSetType(fs->A, MATAIJ));
  PetscCall(MatSetOptionsPrefix(fs->A, "fem_"));
  PetscCall(MatSetFromOptions(fs->A));
  /* the structured triangulation couples a vertex with itself and at most 6 neighbours */
  PetscCall(MatSeqAIJSetPreallocation(fs->A, 7, NULL));
  PetscCall(MatMPIAIJSetPreallocation(fs->A, 7, NULL, 7, NULL));
  PetscCall(MatSetOption(fs->A, MAT_NEW_NONZERO_ALLOCATION_ERR, PETSC_TRUE));
  PetscCall(MatCreateAIJ(fs->comm, fs->nlocal, PETSC_DECIDE, fs->nglobal, nflux, 2, NULL, 2, NULL, &B));
  for (PetscInt c = cStart; c < cEnd; c++) {
    const PetscInt *cone;
    PetscInt        idx[3];
    PetscReal       p[6], gr[6], area, ci[3], K[9];
    PetscCall(DMPlexGetCone(fs->dm, c, &cone));
    CellVertices(fs, cone, xy, coff, p);
    area = CellGradients(p, gr);
    for (PetscInt i = 0; i < 3; i++) {
      PetscReal y1 = 0, y2 = 0;
      for (PetscInt k = 0; k < 3; k++) {
        y1 += p[2 * k + 1] * (k == i ? 2 : 1);
        for (PetscInt l = 0; l < 3; l++) {
          PetscInt  same = (k == l) + (k == i) + (l == i);
          PetscReal m = same == 3 ? 1.0 / 10 : (same == 1 ? 1.0 / 30 : 1.0 / 60); /* same = 1: exactly two equal */
          y2 += p[2 * k + 1] * p[2 * l + 1] * m;
        }
      }
      ci[i] = al * area * y1 / 12 + be * area * y2;
      idx[i] = fs->gidx[cone[i] - fs->vStart];
    }
    for (PetscInt i = 0; i < 3; i++)
      for (PetscInt j = 0; j < 3; j++) K[3 * i + j] = g->kappa * area * (gr[2 * i] * gr[2 * j] + gr[2 * i + 1] * gr[2 * j + 1]) + ci[i] * gr[2 * j];
    PetscCall(MatSetValues(fs->A, 3, idx, 3, idx, K, ADD_VALUES)); /* negative (constrained) indices are skipped */
    for (PetscInt a = 0; a < 3; a++) {
      PetscInt  b = (a + 1) % 3, wall = -1;
      PetscReal xm, len;
      if (p[2 * a + 1] == 0 && p[2 * b + 1] == 0) wall = 0;
      else if (p[2 * a + 1] == g->Ly && p[2 * b + 1] == g->Ly) wall = 1;
      if (wall < 0) continue;
      xm = 0.5 * (p[2 * a] + p[2 * b]);
      len = PetscAbsReal(p[2 * b] - p[2 * a]);
      if (xm < g->nseg * g->seg_len) {
        PetscInt  col = wall * g->nseg + (PetscInt)(xm / g->seg_len);
        PetscReal half = 0.5 * len;
        if (idx[a] >= 0) PetscCall(MatSetValue(B, idx[a], col, half, ADD_VALUES));
        if (idx[b] >= 0) PetscCall(MatSetValue(B, idx[b], col, half, ADD_VALUES));
      }
    }
  }
  PetscCall(VecRestoreArrayRead(coords, &xy));
  PetscCall(PetscFree(coff));
  PetscCall(MatAssemblyBegin(fs->A, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyBegin(B, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(fs->A, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(B, MAT_FINAL_ASSEMBLY));
  /* keep the owned rows of B as a triplet list: F = B Q is then a loop over ~2 (nx/Lx) seg_len nseg entries */
  {
    PetscInt n = 0;
    for (PetscInt pass = 0; pass < 2; pass++) {
      n = 0;
      for (PetscInt r = fs->rstart; r < fs->rstart + fs->nlocal; r++) {
        PetscInt           ncols;
        const PetscInt    *cols;
        const PetscScalar *vals;
        PetscCall(MatGetRow(B, r, &ncols, &cols, &vals));
        for (PetscInt k = 0; k < ncols; k++, n++)
          if (pass) {
            fs->load_row[n] = r - fs->rstart;
            fs->load_seg[n] = cols[k];
            fs->load_val[n] = PetscRealPart(vals[k]);
          }
        PetscCall(MatRestoreRow(B, r, &ncols, &cols, &vals));
      }
      if (!pass) PetscCall(PetscMalloc3(n, &fs->load_row, n, &fs->load_seg, n, &fs->load_val));
    }
    fs->nload = n;
  }
  PetscCall(MatDestroy(&B));
  PetscFunctionReturn(0);
}

/* Each sensor is evaluated in the first cell (lowest rank, then lowest cell) that contains it;
   the three vertex weights and global dofs are then shared by every rank, so a sensor on a
   partition boundary is counted once and the sum over owned dofs is exact on any rank count. */
static PetscErrorCode LocateSensors(FemSolver *fs)
{
  const FemGeometry *g = &fs->geom;
  PetscMPIInt        rank, size;
  PetscInt           cStart, cEnd, *coff, ns = g->nsensor;
  PetscMPIInt       *found, *owner;
  Vec                coords;
  const PetscScalar *xy;
  PetscReal         *lam;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(fs->comm, &rank));
  PetscCallMPI(MPI_Comm_size(fs->comm, &size));
  PetscCall(DMPlexGetHeightStratum(fs->dm, 0, &cStart, &cEnd));
  PetscCall(CoordOffsets(fs, &coff));
  PetscCall(DMGetCoordinatesLocal(fs->dm, &coords));
  PetscCall(VecGetArrayRead(coords, &xy));
  PetscCall(PetscMalloc3(ns, &found, ns, &owner, 3 * ns, &lam));
  PetscCall(PetscMalloc2(3 * ns, &fs->sens_gidx, 3 * ns, &fs->sens_w));
  for (PetscInt s = 0; s < ns; s++) found[s] = size;
  for (PetscInt c = cStart; c < cEnd; c++) {
    const PetscInt *cone;
    PetscReal       p[6], gr[6], xmin, xmax, ymin, ymax;
    PetscCall(DMPlexGetCone(fs->dm, c, &cone));
    CellVertices(fs, cone, xy, coff, p);
    xmin = PetscMin(p[0], PetscMin(p[2], p[4]));
    xmax = PetscMax(p[0], PetscMax(p[2], p[4]));
    ymin = PetscMin(p[1], PetscMin(p[3], p[5]));
    ymax = PetscMax(p[1], PetscMax(p[3], p[5]));
    for (PetscInt s = 0; s < ns; s++) {
      PetscReal sx = g->sensor[2 * s], sy = g->sensor[2 * s + 1], l[3];
      if (found[s] < size || sx < xmin || sx > xmax || sy < ymin || sy > ymax) continue;
      (void)CellGradients(p, gr);
      for (PetscInt k = 0; k < 3; k++) l[k] = (k == 0) + gr[2 * k] * (sx - p[0]) + gr[2 * k + 1] * (sy - p[1]);
      if (l[0] < -1e-12 || l[1] < -1e-12 || l[2] < -1e-12) continue;
      found[s] = rank;
      for (PetscInt k = 0; k < 3; k++) {
        lam[3 * s + k] = l[k];
        fs->sens_gidx[3 * s + k] = fs->gidx[cone[k] - fs->vStart];
      }
    }
  }
  PetscCall(VecRestoreArrayRead(coords, &xy));
  PetscCall(PetscFree(coff));
  PetscCallMPI(MPI_Allreduce(found, owner, ns, MPI_INT, MPI_MIN, fs->comm));
  for (PetscInt s = 0; s < ns; s++) {
    PetscCheck(owner[s] < size, fs->comm, PETSC_ERR_ARG_OUTOFRANGE, "sensor %" PetscInt_FMT " at (%g, %g) (from %s) lies in no mesh cell: move it inside [0,%g] x [0,%g]", s, (double)g->sensor[2 * s], (double)g->sensor[2 * s + 1], g->sensor_src, (double)g->Lx, (double)g->Ly);
    for (PetscInt k = 0; k < 3; k++) {
      if (owner[s] != rank) {
        fs->sens_gidx[3 * s + k] = -2; /* below every real value, including -1 (constrained) */
        lam[3 * s + k] = 0;
      }
    }
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, fs->sens_gidx, 3 * ns, MPIU_INT, MPI_MAX, fs->comm));
  PetscCallMPI(MPI_Allreduce(lam, fs->sens_w, 3 * ns, MPIU_REAL, MPI_SUM, fs->comm));
  PetscCall(PetscFree3(found, owner, lam));
  PetscFunctionReturn(0);
}

/* MUMPS picks PORD here by default (Debian's MUMPS has no METIS: ICNTL(7) = 5 falls back to PORD); its analysis then
   takes 2.5 s of a 4 s set-up on 850 x 200, while approximate minimum degree with quasi-dense
   row detection (ICNTL(7) = 6) analyses in 0.25 s with the same fill (14.8M vs 14.6M factor
   entries, bench_fem). Put into the options database (so the output files' provenance records
   it) unless -fem_mat_mumps_icntl_7 is given. */
static PetscErrorCode DefaultMumpsOrdering(void)
{
  PetscBool set;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsHasName(NULL, NULL, "-fem_mat_mumps_icntl_7", &set));
  if (!set) PetscCall(PetscOptionsSetValue(NULL, "-fem_mat_mumps_icntl_7", "6"));
  PetscFunctionReturn(0);
}

PetscErrorCode FemSolverCreate(MPI_Comm comm, const FemGeometry *g, FemSolver *fs)
{
  PetscLogDouble t0, t[3];
  PC             pc;

  PetscFunctionBeginUser;
  PetscCall(FemRegisterEvents());
  PetscCall(PetscMemzero(fs, sizeof(*fs)));
  fs->comm = comm;
  fs->block = 64;
  PetscCall(FemGeometryCopy(g, &fs->geom));
  PetscCall(FemGeometryCheck(comm, g));
  PetscOptionsBegin(comm, NULL, "Forward model solver", "fem");
  PetscCall(PetscOptionsInt("-fem_block", "Right-hand sides solved together (KSPMatSolve)", "fem", fs->block, &fs->block, NULL));
  PetscOptionsEnd();
  PetscCheck(fs->block >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-fem_block %" PetscInt_FMT ": must be >= 1", fs->block);

  PetscCallMPI(MPI_Barrier(comm));
  t0 = MPI_Wtime();
  PetscCall(PetscLogEventBegin(FEM_Mesh, 0, 0, 0, 0));
  PetscCall(FemMeshCreate(comm, g, &fs->dm));
  PetscCall(SetUpDofs(fs));
  PetscCall(PetscLogEventEnd(FEM_Mesh, 0, 0, 0, 0));
  t[0] = MPI_Wtime() - t0;

  t0 = MPI_Wtime();
  PetscCall(PetscLogEventBegin(FEM_Assembly, 0, 0, 0, 0));
  PetscCall(Assemble(fs));
  PetscCall(LocateSensors(fs));
  PetscCall(PetscLogEventEnd(FEM_Assembly, 0, 0, 0, 0));
  t[1] = MPI_Wtime() - t0;

  /* default: direct solve with MUMPS (robust for the non-symmetric operator, and the factors are
     reused for every right-hand side); -fem_ksp_type/-fem_pc_type override */
  t0 = MPI_Wtime();
  PetscCall(PetscLogEventBegin(FEM_SetUp, 0, 0, 0, 0));
  PetscCall(KSPCreate(comm, &fs->ksp));
  PetscCall(KSPSetOptionsPrefix(fs->ksp, "fem_"));
  PetscCall(KSPSetOperators(fs->ksp, fs->A, fs->A));
  PetscCall(KSPSetType(fs->ksp, KSPPREONLY));
  PetscCall(KSPGetPC(fs->ksp, &pc));
  PetscCall(PCSetType(pc, PCLU));
  PetscCall(PCFactorSetMatSolverType(pc, MATSOLVERMUMPS));
  PetscCall(KSPSetTolerances(fs->ksp, 1e-12, 1e-14, PETSC_DEFAULT, 1000));
  PetscCall(DefaultMumpsOrdering());
  PetscCall(KSPSetFromOptions(fs->ksp));
  PetscCall(KSPSetUp(fs->ksp));
  PetscCall(PCSetUp(pc));
  PetscCall(PetscLogEventEnd(FEM_SetUp, 0, 0, 0, 0));
  t[2] = MPI_Wtime() - t0;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, t, 3, MPI_DOUBLE, MPI_MAX, comm));
  fs->t_mesh = t[0];
  fs->t_assembly = t[1];
  fs->t_setup = t[2];
  PetscFunctionReturn(0);
}

PetscErrorCode FemSolverDestroy(FemSolver *fs)
{
  PetscFunctionBeginUser;
  PetscCall(KSPDestroy(&fs->ksp));
  PetscCall(MatDestroy(&fs->A));
  PetscCall(MatDestroy(&fs->Fblk));
  PetscCall(MatDestroy(&fs->Ublk));
  PetscCall(DMDestroy(&fs->dm));
  PetscCall(PetscFree2(fs->gidx, fs->natural));
  PetscCall(PetscFree3(fs->load_row, fs->load_seg, fs->load_val));
  PetscCall(PetscFree2(fs->sens_gidx, fs->sens_w));
  PetscCall(FemGeometryDestroy(&fs->geom));
  PetscFunctionReturn(0);
}

/* f[:, c] = B q_c for the nb flux vectors Q[q0 + c] (f: nlocal x nb, leading dimension lda). */
static void LoadBlock(const FemSolver *fs, PetscInt nb, PetscInt lda, const PetscReal Q[], PetscScalar f[])
{
  const PetscInt nflux = FemNumFlux(&fs->geom);
  for (PetscInt c = 0; c < nb; c++) {
    PetscScalar *fc = f + c * lda;
    for (PetscInt i = 0; i < fs->nlocal; i++) fc[i] = 0;
    for (PetscInt e = 0; e < fs->nload; e++) fc[fs->load_row[e]] += fs->load_val[e] * Q[c * nflux + fs->load_seg[e]];
  }
}

/* Y[c, s] (nb x nsensor) = sum over the owned vertex dofs of the sensor weights times u_c; summed over the ranks. */
static PetscErrorCode SensorBlock(const FemSolver *fs, PetscInt nb, PetscInt lda, const PetscScalar u[], PetscReal Y[])
{
  const PetscInt ns = fs->geom.nsensor;

  PetscFunctionBeginUser;
  for (PetscInt c = 0; c < nb; c++)
    for (PetscInt s = 0; s < ns; s++) {
      PetscReal v = 0;
      for (PetscInt k = 0; k < 3; k++) {
        PetscInt gi = fs->sens_gidx[3 * s + k];
        if (gi >= fs->rstart && gi < fs->rstart + fs->nlocal) v += fs->sens_w[3 * s + k] * PetscRealPart(u[c * lda + gi - fs->rstart]);
      }
      Y[c * ns + s] = v;
    }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, Y, nb * ns, MPIU_REAL, MPI_SUM, fs->comm));
  PetscFunctionReturn(0);
}

PetscErrorCode FemSolverSensors(FemSolver *fs, PetscInt nq, const PetscReal Q[], PetscReal Y[])
{
  const PetscInt nflux = FemNumFlux(&fs->geom), ns = fs->geom.nsensor;

  PetscFunctionBeginUser;
  for (PetscInt q0 = 0; q0 < nq; q0 += fs->block) {
    PetscInt     nb = PetscMin(fs->block, nq - q0), lda;
    PetscScalar *f, *u;
    Mat          F = fs->Fblk, U = fs->Ublk;
    if (nb < fs->block) F = U = NULL; /* a short last block gets its own, narrower matrices */
    if (!F) {
      PetscCall(MatCreateDense(fs->comm, fs->nlocal, PETSC_DECIDE, fs->nglobal, nb, NULL, &F));
      PetscCall(MatCreateDense(fs->comm, fs->nlocal, PETSC_DECIDE, fs->nglobal, nb, NULL, &U));
      if (nb == fs->block) {
        fs->Fblk = F;
        fs->Ublk = U;
      }
    }
    PetscCall(PetscLogEventBegin(FEM_Solve, 0, 0, 0, 0));
    PetscCall(MatDenseGetLDA(F, &lda));
    PetscCall(MatDenseGetArrayWrite(F, &f));
    LoadBlock(fs, nb, lda, Q + q0 * nflux, f);
    PetscCall(MatDenseRestoreArrayWrite(F, &f));
    PetscCall(KSPMatSolve(fs->ksp, F, U));
    PetscCall(MatDenseGetLDA(U, &lda));
    PetscCall(MatDenseGetArrayRead(U, (const PetscScalar **)&u));
    PetscCall(SensorBlock(fs, nb, lda, u, Y + q0 * ns));
    PetscCall(MatDenseRestoreArrayRead(U, (const PetscScalar **)&u));
    PetscCall(PetscLogEventEnd(FEM_Solve, 0, 0, 0, 0));
    if (F != fs->Fblk) {
      PetscCall(MatDestroy(&F));
      PetscCall(MatDestroy(&U));
    }
  }
  PetscFunctionReturn(0);
}

PetscErrorCode FemSolverSolve(FemSolver *fs, Vec b, Vec u)
{
  KSPConvergedReason reason;

  PetscFunctionBeginUser;
  PetscCall(KSPSolve(fs->ksp, b, u));
  PetscCall(KSPGetConvergedReason(fs->ksp, &reason));
  PetscCheck(reason > 0, fs->comm, PETSC_ERR_NOT_CONVERGED, "forward solve did not converge (%s): use a direct solver (the default, -fem_pc_type lu) or tighten -fem_ksp_rtol", KSPConvergedReasons[reason]);
  PetscFunctionReturn(0);
}

PetscErrorCode FemSolverField(FemSolver *fs, const PetscReal q[], Vec u)
{
  Vec          b;
  PetscScalar *f;

  PetscFunctionBeginUser;
  PetscCall(VecDuplicate(u, &b));
  PetscCall(VecGetArrayWrite(b, &f));
  LoadBlock(fs, 1, fs->nlocal, q, f);
  PetscCall(VecRestoreArrayWrite(b, &f));
  PetscCall(FemSolverSolve(fs, b, u));
  PetscCall(VecDestroy(&b));
  PetscFunctionReturn(0);
}

PetscErrorCode FemSolverSensorsOfField(FemSolver *fs, Vec u, PetscReal y[])
{
  const PetscScalar *a;

  PetscFunctionBeginUser;
  PetscCall(VecGetArrayRead(u, &a));
  PetscCall(SensorBlock(fs, 1, fs->nlocal, a, y));
  PetscCall(VecRestoreArrayRead(u, &a));
  PetscFunctionReturn(0);
}

PetscErrorCode FemSolverGatherNatural(FemSolver *fs, Vec u, PetscReal field[])
{
  PetscMPIInt        rank, size, n = 0, *counts = NULL, *displs = NULL;
  PetscInt          *idx, *allidx = NULL, nall = 0;
  PetscReal         *val, *allval = NULL;
  const PetscScalar *a;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(fs->comm, &rank));
  PetscCallMPI(MPI_Comm_size(fs->comm, &size));
  PetscCall(PetscMalloc2(fs->nlocal, &idx, fs->nlocal, &val));
  PetscCall(VecGetArrayRead(u, &a));
  for (PetscInt v = 0; v < fs->vEnd - fs->vStart; v++) {
    PetscInt gi = fs->gidx[v];
    if (gi < fs->rstart || gi >= fs->rstart + fs->nlocal) continue; /* ghost or constrained */
    idx[n] = fs->natural[v];
    val[n] = PetscRealPart(a[gi - fs->rstart]);
    n++;
  }
  PetscCall(VecRestoreArrayRead(u, &a));
  if (!rank) PetscCall(PetscMalloc2(size, &counts, size, &displs));
  PetscCallMPI(MPI_Gather(&n, 1, MPI_INT, counts, 1, MPI_INT, 0, fs->comm));
  if (!rank) {
    for (PetscMPIInt r = 0; r < size; r++) {
      displs[r] = (PetscMPIInt)nall;
      nall += counts[r];
    }
    PetscCall(PetscMalloc2(nall, &allidx, nall, &allval));
  }
  PetscCallMPI(MPI_Gatherv(idx, n, MPIU_INT, allidx, counts, displs, MPIU_INT, 0, fs->comm));
  PetscCallMPI(MPI_Gatherv(val, n, MPIU_REAL, allval, counts, displs, MPIU_REAL, 0, fs->comm));
  if (!rank) {
    for (PetscInt v = 0; v < FemNumVertices(&fs->geom); v++) field[v] = 0; /* u = 0 on x = 0 */
    for (PetscInt k = 0; k < nall; k++) field[allidx[k]] = allval[k];
    PetscCall(PetscFree2(allidx, allval));
    PetscCall(PetscFree2(counts, displs));
  }
  PetscCall(PetscFree2(idx, val));
  PetscFunctionReturn(0);
}

PetscErrorCode FemSolverSourceLoad(FemSolver *fs, FemFunction f, void *ctx, Vec b)
{
  PetscInt           cStart, cEnd, *coff;
  Vec                coords;
  const PetscScalar *xy;
  PetscReal          lam[7][3], w[7];

  PetscFunctionBeginUser;
  Quadrature7(lam, w);
  PetscCall(VecSet(b, 0));
  PetscCall(DMPlexGetHeightStratum(fs->dm, 0, &cStart, &cEnd));
  PetscCall(CoordOffsets(fs, &coff));
  PetscCall(DMGetCoordinatesLocal(fs->dm, &coords));
  PetscCall(VecGetArrayRead(coords, &xy));
  for (PetscInt c = cStart; c < cEnd; c++) {
    const PetscInt *cone;
    PetscInt        idx[3];
    PetscReal       p[6], gr[6], area;
    PetscScalar     be[3] = {0, 0, 0};
    PetscCall(DMPlexGetCone(fs->dm, c, &cone));
    CellVertices(fs, cone, xy, coff, p);
    area = CellGradients(p, gr);
    for (int q = 0; q < 7; q++) {
      PetscReal x = lam[q][0] * p[0] + lam[q][1] * p[2] + lam[q][2] * p[4], y = lam[q][0] * p[1] + lam[q][1] * p[3] + lam[q][2] * p[5];
      PetscReal fv = f(x, y, ctx) * w[q] * area;
      for (int k = 0; k < 3; k++) be[k] += fv * lam[q][k];
    }
    for (int k = 0; k < 3; k++) idx[k] = fs->gidx[cone[k] - fs->vStart];
    for (int k = 0; k < 3; k++) /* VecSetValues does not skip negative (constrained) indices */
      if (idx[k] >= 0) PetscCall(VecSetValue(b, idx[k], be[k], ADD_VALUES));
  }
  PetscCall(VecRestoreArrayRead(coords, &xy));
  PetscCall(PetscFree(coff));
  PetscCall(VecAssemblyBegin(b));
  PetscCall(VecAssemblyEnd(b));
  PetscFunctionReturn(0);
}

PetscErrorCode FemSolverL2Error(FemSolver *fs, Vec u, FemFunction exact, void *ctx, PetscReal *err)
{
  PetscInt           cStart, cEnd, *coff;
  Vec                coords, l;
  PetscSection       lsec;
  const PetscScalar *xy, *ul;
  PetscReal          lam[7][3], w[7], e2 = 0;

  PetscFunctionBeginUser;
  Quadrature7(lam, w);
  PetscCall(DMGetLocalVector(fs->dm, &l));
  PetscCall(VecSet(l, 0));
  PetscCall(DMGlobalToLocal(fs->dm, u, INSERT_VALUES, l));
  PetscCall(DMGetLocalSection(fs->dm, &lsec));
  PetscCall(DMPlexGetHeightStratum(fs->dm, 0, &cStart, &cEnd));
  PetscCall(CoordOffsets(fs, &coff));
  PetscCall(DMGetCoordinatesLocal(fs->dm, &coords));
  PetscCall(VecGetArrayRead(coords, &xy));
  PetscCall(VecGetArrayRead(l, &ul));
  for (PetscInt c = cStart; c < cEnd; c++) {
    const PetscInt *cone;
    PetscReal       p[6], gr[6], area, uv[3];
    PetscCall(DMPlexGetCone(fs->dm, c, &cone));
    CellVertices(fs, cone, xy, coff, p);
    area = CellGradients(p, gr);
    for (int k = 0; k < 3; k++) {
      PetscInt o;
      PetscCall(PetscSectionGetOffset(lsec, cone[k], &o));
      uv[k] = fs->gidx[cone[k] - fs->vStart] < 0 ? 0 : PetscRealPart(ul[o]);
    }
    for (int q = 0; q < 7; q++) {
      PetscReal x = lam[q][0] * p[0] + lam[q][1] * p[2] + lam[q][2] * p[4], y = lam[q][0] * p[1] + lam[q][1] * p[3] + lam[q][2] * p[5];
      PetscReal d = lam[q][0] * uv[0] + lam[q][1] * uv[1] + lam[q][2] * uv[2] - exact(x, y, ctx);
      e2 += w[q] * area * d * d;
    }
  }
  PetscCall(VecRestoreArrayRead(l, &ul));
  PetscCall(VecRestoreArrayRead(coords, &xy));
  PetscCall(PetscFree(coff));
  PetscCall(DMRestoreLocalVector(fs->dm, &l));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &e2, 1, MPIU_REAL, MPI_SUM, fs->comm));
  *err = PetscSqrtReal(e2);
  PetscFunctionReturn(0);
}
