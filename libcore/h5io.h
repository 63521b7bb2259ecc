/* h5io: self-describing, crash-safe parallel HDF5 output (DESIGN.md section 7).
 *
 * A file is created collectively under "<final>.partial" and renamed to its final name only
 * by H5ioCommit, after every dataset is written and the file is closed: a crash or an error
 * never leaves a truncated file under the final name. Every file carries provenance
 * attributes on its root group. Datasets carry "dimension_names", "units" and "description".
 * HDF5 return codes are checked with PetscCallH5 so one error idiom holds everywhere.
 */
#ifndef PDEDIFF_H5IO_H
#define PDEDIFF_H5IO_H
#include <petscsys.h>
#include <hdf5.h>

/* Wrap an HDF5 call: a negative return value becomes a PETSc error naming the call. */
#define PetscCallH5(expr)                                                                                   \
  do {                                                                                                      \
    if ((expr) < 0) SETERRQ(PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5 call failed: %s", #expr);                \
  } while (0)

typedef struct {
  MPI_Comm comm;
  hid_t    file;
  char     final_path[PETSC_MAX_PATH_LEN];
  char     tmp_path[PETSC_MAX_PATH_LEN];
} H5io;

/* Collective. Create "<path>.partial" for parallel writing; checks the directory is writable. */
PetscErrorCode H5ioCreate(MPI_Comm comm, const char path[], H5io *io);
/* Collective. The directory part of path ("." if none) must exist and be writable; the error names
   the option that gave the path (checked before any work is done). */
/* Collective. Create the directory dir and its missing parents on rank 0 (failures are left to
   H5ioCheckWritable, which names the option). */
PetscErrorCode H5ioMakeDirs(MPI_Comm comm, const char dir[]);
PetscErrorCode H5ioCheckWritable(MPI_Comm comm, const char path[], const char option[]);
/* Collective. Close and atomically rename to the final name. */
PetscErrorCode H5ioCommit(H5io *io);
/* Collective. Close (if open) and remove the partial file; safe to call after errors. */
PetscErrorCode H5ioAbort(H5io *io);

/* Provenance on the root group: options (every option in the database), code version,
   number of ranks, creation time (UTC), host, command line, SLURM job id if any, and the
   given program name/subcommand. Collective. */
PetscErrorCode H5ioWriteProvenance(H5io *io, const char program[]);

/* Collective write of a global (nrows x ncols) double matrix whose rows row0 .. row0+nlocal-1
   this rank holds in data (row-major). ncols = 0 writes a 1-D dataset of nrows. */
PetscErrorCode H5ioWriteRows(H5io *io, const char name[], PetscInt64 nrows, PetscInt ncols, PetscInt64 row0, PetscInt nlocal, const PetscReal data[], const char dims[], const char units[], const char desc[]);

/* Collective write of a (nrows x ncols) array that every rank holds identically (rank 0 writes). */
PetscErrorCode H5ioWriteReplicated(H5io *io, const char name[], PetscInt64 nrows, PetscInt ncols, const PetscReal data[], const char dims[], const char units[], const char desc[]);

/* The same for float data (stored as 32-bit floats). */
PetscErrorCode H5ioWriteReplicatedFloat(H5io *io, const char name[], PetscInt64 nrows, PetscInt ncols, const float data[], const char dims[], const char units[], const char desc[]);

/* Collective. Open an existing file read-only; the error names the file if it is missing or
   not HDF5. Close with H5ioClose. */
PetscErrorCode H5ioOpen(MPI_Comm comm, const char path[], H5io *io);
PetscErrorCode H5ioClose(H5io *io);
/* Read a whole dataset on every rank after checking that it exists and has exactly nrows x ncols
   (ncols = 0: 1-D of nrows) elements; the error names the file, the dataset and both shapes. */
PetscErrorCode H5ioReadFloat(H5io *io, const char name[], PetscInt64 nrows, PetscInt ncols, float data[]);
PetscErrorCode H5ioReadReal(H5io *io, const char name[], PetscInt64 nrows, PetscInt ncols, PetscReal data[]);
/* Shape of a dataset: *nrows x *ncols (*ncols = 0 for 1-D); the error names the file and the
   dataset when it is missing or has more than 2 dimensions. */
PetscErrorCode H5ioDatasetShape(H5io *io, const char name[], PetscInt64 *nrows, PetscInt *ncols);
/* Collective. Read rows row0 .. row0+nlocal-1 of a 2-D dataset (or of a 1-D one when ncols = 0)
   into data as float, each rank its own block (converted by HDF5 from the stored type). */
PetscErrorCode H5ioReadRowsFloat(H5io *io, const char name[], PetscInt ncols, PetscInt64 row0, PetscInt nlocal, float data[]);
/* Read scalar attributes of an object ("/" for the root); the error names file, object and attribute. */
PetscErrorCode H5ioReadAttrInt(H5io *io, const char obj[], const char name[], PetscInt64 *value);
PetscErrorCode H5ioReadAttrReal(H5io *io, const char obj[], const char name[], PetscReal *value);
/* A fixed-length string attribute (as H5ioAttrString writes) into value[len], 0-terminated; the
   error names the file when it is missing, not a string, or len - 1 characters are too few. */
PetscErrorCode H5ioReadAttrString(H5io *io, const char obj[], const char name[], size_t len, char value[]);
/* Whether the attribute exists on the object. */
PetscErrorCode H5ioHasAttr(H5io *io, const char obj[], const char name[], PetscBool *has);
/* Whether the file has a dataset (a link) of this name in its root group. */
PetscErrorCode H5ioHasDataset(H5io *io, const char name[], PetscBool *has);

/* Attributes on the file root (path "/") or any existing object path. Collective. */
PetscErrorCode H5ioAttrString(H5io *io, const char obj[], const char name[], const char value[]);
PetscErrorCode H5ioAttrReal(H5io *io, const char obj[], const char name[], PetscReal value);
PetscErrorCode H5ioAttrInt(H5io *io, const char obj[], const char name[], PetscInt64 value);

/* Create a group (and any missing parents). Collective. */
PetscErrorCode H5ioGroup(H5io *io, const char path[]);

#endif
