/* Structured triangulation of [0,Lx] x [0,Ly] as a distributed DMPlex.
   PETSc 3.18's simplex box mesh needs Triangle (absent here), so rank 0 writes the cell list
   itself and DMPlexDistribute spreads it (SETUP-NOTES.md). The mesh stays cell-vertex
   (not interpolated): the P1 assembly needs only cells and vertices. */
#include "fem.h"

PetscErrorCode FemMeshCreate(MPI_Comm comm, const FemGeometry *g, DM *dm)
{
  PetscMPIInt      rank, size;
  PetscInt         ncells = 0, nverts = 0, *cells = NULL;
  PetscReal       *coords = NULL;
  DM               dist = NULL;
  PetscPartitioner part;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCheck((PetscInt64)g->nx * g->ny * 2 < PETSC_MAX_INT && (PetscInt64)(g->nx + 1) * (g->ny + 1) < PETSC_MAX_INT, comm, PETSC_ERR_SUP,
             "-fem_nx %" PetscInt_FMT " x -fem_ny %" PetscInt_FMT " exceeds 32-bit PetscInt", g->nx, g->ny);
  if (!rank) {
    const PetscInt ny1 = g->ny + 1;
    nverts = (g->nx + 1) * ny1;
    ncells = 2 * g->nx * g->ny;
    PetscCall(PetscMalloc2(3 * ncells, &cells, 2 * nverts, &coords));
    FemVertexCoordinates(g, coords); /* natural vertex numbering v = i (ny+1) + j */
    /* cells column by column; each rectangle split along its (i,j)-(i+1,j+1) diagonal,
       both triangles counter-clockwise */
    for (PetscInt i = 0; i < g->nx; i++)
      for (PetscInt j = 0; j < g->ny; j++) {
        PetscInt v00 = i * ny1 + j, v10 = v00 + ny1, v01 = v00 + 1, v11 = v10 + 1, c = 2 * (i * g->ny + j);
        cells[3 * c] = v00;
        cells[3 * c + 1] = v10;
        cells[3 * c + 2] = v11;
        cells[3 * c + 3] = v00;
        cells[3 * c + 4] = v11;
        cells[3 * c + 5] = v01;
      }
  }
  PetscCall(DMPlexCreateFromCellListPetsc(comm, 2, ncells, nverts, 3, PETSC_FALSE, cells, 2, coords, dm));
  PetscCall(PetscFree2(cells, coords));
  PetscCall(PetscObjectSetName((PetscObject)*dm, "mesh"));
  PetscCall(PetscObjectSetOptionsPrefix((PetscObject)*dm, "fem_"));
  if (size > 1) {
    PetscCall(DMPlexGetPartitioner(*dm, &part));
    PetscCall(PetscObjectSetOptionsPrefix((PetscObject)part, "fem_"));
    PetscCall(PetscPartitionerSetType(part, PETSCPARTITIONERSIMPLE));
    PetscCall(PetscPartitionerSetFromOptions(part));
    PetscCall(DMPlexDistribute(*dm, 0, NULL, &dist));
    if (dist) {
      PetscCall(DMDestroy(dm));
      *dm = dist;
    }
  }
  PetscFunctionReturn(0);
}
