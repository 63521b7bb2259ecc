#include "h5io.h"
#include "blascore.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "pdediff_version.h" /* PDEDIFF_VERSION: git describe at build time (cmake/version.cmake) */

PetscErrorCode H5ioCreate(MPI_Comm comm, const char path[], H5io *io)
{
  hid_t       fapl;
  PetscMPIInt rank;
  int         ok = 1;

  PetscFunctionBeginUser;
  PetscCheck(path && path[0], comm, PETSC_ERR_ARG_WRONG, "Empty output file name: give a path ending in .h5");
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  io->comm = comm;
  io->file = -1;
  PetscCall(PetscStrncpy(io->final_path, path, sizeof(io->final_path)));
  PetscCall(PetscSNPrintf(io->tmp_path, sizeof(io->tmp_path), "%s.partial", path));
  if (!rank) {
    /* fail early, with the path in the message, if the directory is missing or read-only */
    FILE *f = fopen(io->tmp_path, "w");
    ok      = f != NULL;
    if (f) fclose(f);
  }
  PetscCallMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
  PetscCheck(ok, comm, PETSC_ERR_FILE_OPEN, "Cannot create output file %s: check that its directory exists and is writable", io->tmp_path);
  PetscCallH5(fapl = H5Pcreate(H5P_FILE_ACCESS));
  PetscCallH5(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  io->file = H5Fcreate(io->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  PetscCallH5(H5Pclose(fapl));
  PetscCheck(io->file >= 0, comm, PETSC_ERR_FILE_OPEN, "HDF5 could not create %s", io->tmp_path);
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioCommit(H5io *io)
{
  PetscMPIInt rank;
  int         err = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(io->comm, &rank));
  PetscCallH5(H5Fclose(io->file));
  io->file = -1;
  PetscCallMPI(MPI_Barrier(io->comm));
  if (!rank) err = rename(io->tmp_path, io->final_path) != 0;
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, io->comm));
  PetscCheck(!err, io->comm, PETSC_ERR_FILE_WRITE, "Could not rename %s to %s", io->tmp_path, io->final_path);
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioAbort(H5io *io)
{
  PetscMPIInt rank;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(io->comm, &rank));
  if (io->file >= 0) H5Fclose(io->file);
  io->file = -1;
  PetscCallMPI(MPI_Barrier(io->comm));
  if (!rank) unlink(io->tmp_path);
  PetscFunctionReturn(0);
}

static PetscErrorCode OpenObject(H5io *io, const char obj[], hid_t *oid)
{
  PetscFunctionBeginUser;
  PetscCallH5(*oid = H5Oopen(io->file, obj ? obj : "/", H5P_DEFAULT));
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioAttrString(H5io *io, const char obj[], const char name[], const char value[])
{
  hid_t oid, type, space, attr;

  PetscFunctionBeginUser;
  PetscCall(OpenObject(io, obj, &oid));
  PetscCallH5(type = H5Tcopy(H5T_C_S1));
  PetscCallH5(H5Tset_size(type, strlen(value) + 1));
  PetscCallH5(H5Tset_strpad(type, H5T_STR_NULLTERM));
  PetscCallH5(space = H5Screate(H5S_SCALAR));
  PetscCallH5(attr = H5Acreate2(oid, name, type, space, H5P_DEFAULT, H5P_DEFAULT));
  PetscCallH5(H5Awrite(attr, type, value));
  PetscCallH5(H5Aclose(attr));
  PetscCallH5(H5Sclose(space));
  PetscCallH5(H5Tclose(type));
  PetscCallH5(H5Oclose(oid));
  PetscFunctionReturn(0);
}

static PetscErrorCode AttrScalar(H5io *io, const char obj[], const char name[], hid_t type, const void *v)
{
  hid_t oid, space, attr;

  PetscFunctionBeginUser;
  PetscCall(OpenObject(io, obj, &oid));
  PetscCallH5(space = H5Screate(H5S_SCALAR));
  PetscCallH5(attr = H5Acreate2(oid, name, type, space, H5P_DEFAULT, H5P_DEFAULT));
  PetscCallH5(H5Awrite(attr, type, v));
  PetscCallH5(H5Aclose(attr));
  PetscCallH5(H5Sclose(space));
  PetscCallH5(H5Oclose(oid));
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioAttrReal(H5io *io, const char obj[], const char name[], PetscReal value)
{
  double v = (double)value;
  PetscFunctionBeginUser;
  PetscCall(AttrScalar(io, obj, name, H5T_NATIVE_DOUBLE, &v));
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioAttrInt(H5io *io, const char obj[], const char name[], PetscInt64 value)
{
  long long v = (long long)value;
  PetscFunctionBeginUser;
  PetscCall(AttrScalar(io, obj, name, H5T_NATIVE_LLONG, &v));
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioGroup(H5io *io, const char path[])
{
  hid_t lcpl, g;

  PetscFunctionBeginUser;
  PetscCallH5(lcpl = H5Pcreate(H5P_LINK_CREATE));
  PetscCallH5(H5Pset_create_intermediate_group(lcpl, 1));
  PetscCallH5(g = H5Gcreate2(io->file, path, lcpl, H5P_DEFAULT, H5P_DEFAULT));
  PetscCallH5(H5Gclose(g));
  PetscCallH5(H5Pclose(lcpl));
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioWriteProvenance(H5io *io, const char program[])
{
  const char *opts;
  char        buf[256], host[128] = "unknown";
  PetscMPIInt size;
  time_t      now = time(NULL);
  struct tm   tmv;
  const char *job = getenv("SLURM_JOB_ID"), *ajob = getenv("SLURM_ARRAY_JOB_ID"), *atask = getenv("SLURM_ARRAY_TASK_ID"), *restarts = getenv("SLURM_RESTART_COUNT");

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(io->comm, &size));
  PetscCall(PetscOptionsGetAll(NULL, (char **)&opts));
  PetscCall(H5ioAttrString(io, "/", "options", opts ? opts : ""));
  PetscCall(PetscFree(opts));
  PetscCall(H5ioAttrString(io, "/", "code_version", PDEDIFF_VERSION));
  PetscCall(H5ioAttrString(io, "/", "program", program));
  PetscCall(H5ioAttrInt(io, "/", "mpi_ranks", size));
  /* all ranks must write identical attribute values: take rank 0's clock and host */
  gmtime_r(&now, &tmv);
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tmv);
  PetscCallMPI(MPI_Bcast(buf, sizeof(buf), MPI_CHAR, 0, io->comm));
  PetscCall(H5ioAttrString(io, "/", "created_utc", buf));
  gethostname(host, sizeof(host) - 1);
  PetscCallMPI(MPI_Bcast(host, sizeof(host), MPI_CHAR, 0, io->comm));
  PetscCall(H5ioAttrString(io, "/", "host", host));
  /* the BLAS kernels set the speed (and the float summation order) of every network evaluation */
  PetscCall(PetscStrncpy(buf, blascore_core_name(), sizeof(buf)));
  PetscCallMPI(MPI_Bcast(buf, sizeof(buf), MPI_CHAR, 0, io->comm));
  PetscCall(H5ioAttrString(io, "/", "blas_core", buf));
  PetscCall(PetscStrncpy(buf, job ? job : "none", sizeof(buf)));
  PetscCallMPI(MPI_Bcast(buf, sizeof(buf), MPI_CHAR, 0, io->comm));
  PetscCall(H5ioAttrString(io, "/", "slurm_job_id", buf));
  /* a job array task and a requeued job (time limit): which task, and how many attempts before this
     one; rank 0's environment decides for all (attribute writes are collective) */
  buf[0] = 0;
  if (ajob && atask) PetscCall(PetscSNPrintf(buf, sizeof(buf), "%s_%s", ajob, atask));
  PetscCallMPI(MPI_Bcast(buf, sizeof(buf), MPI_CHAR, 0, io->comm));
  if (buf[0]) PetscCall(H5ioAttrString(io, "/", "slurm_array_task", buf));
  buf[0] = 0;
  if (restarts) PetscCall(PetscStrncpy(buf, restarts, sizeof(buf)));
  PetscCallMPI(MPI_Bcast(buf, sizeof(buf), MPI_CHAR, 0, io->comm));
  if (buf[0]) PetscCall(H5ioAttrString(io, "/", "slurm_restart_count", buf));
  PetscFunctionReturn(0);
}

static PetscErrorCode WriteRowsTyped(H5io *io, hid_t type, const char name[], PetscInt64 nrows, PetscInt ncols, PetscInt64 row0, PetscInt nlocal, const void *data, const char dims[], const char units[], const char desc[])
{
  const int rank = ncols > 0 ? 2 : 1;
  hsize_t   gdims[2] = {(hsize_t)nrows, (hsize_t)ncols}, start[2] = {(hsize_t)row0, 0}, count[2] = {(hsize_t)nlocal, (hsize_t)ncols};
  hid_t     fspace, mspace, dset, dxpl;

  PetscFunctionBeginUser;
  PetscCallH5(fspace = H5Screate_simple(rank, gdims, NULL));
  PetscCallH5(dset = H5Dcreate2(io->file, name, type, fspace, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  PetscCallH5(mspace = H5Screate_simple(rank, count, NULL));
  if (nlocal > 0) {
    PetscCallH5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL));
  } else {
    PetscCallH5(H5Sselect_none(fspace));
    PetscCallH5(H5Sselect_none(mspace));
  }
  PetscCallH5(dxpl = H5Pcreate(H5P_DATASET_XFER));
  PetscCallH5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  PetscCallH5(H5Dwrite(dset, type, mspace, fspace, dxpl, data));
  PetscCallH5(H5Pclose(dxpl));
  PetscCallH5(H5Sclose(mspace));
  PetscCallH5(H5Sclose(fspace));
  PetscCallH5(H5Dclose(dset));
  if (dims) PetscCall(H5ioAttrString(io, name, "dimension_names", dims));
  if (units) PetscCall(H5ioAttrString(io, name, "units", units));
  if (desc) PetscCall(H5ioAttrString(io, name, "description", desc));
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioWriteRows(H5io *io, const char name[], PetscInt64 nrows, PetscInt ncols, PetscInt64 row0, PetscInt nlocal, const PetscReal data[], const char dims[], const char units[], const char desc[])
{
  PetscFunctionBeginUser;
  PetscCall(WriteRowsTyped(io, H5T_NATIVE_DOUBLE, name, nrows, ncols, row0, nlocal, data, dims, units, desc));
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioWriteReplicated(H5io *io, const char name[], PetscInt64 nrows, PetscInt ncols, const PetscReal data[], const char dims[], const char units[], const char desc[])
{
  PetscMPIInt rank;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(io->comm, &rank));
  PetscCall(H5ioWriteRows(io, name, nrows, ncols, 0, rank ? 0 : (PetscInt)nrows, data, dims, units, desc));
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioWriteReplicatedFloat(H5io *io, const char name[], PetscInt64 nrows, PetscInt ncols, const float data[], const char dims[], const char units[], const char desc[])
{
  PetscMPIInt rank;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(io->comm, &rank));
  PetscCall(WriteRowsTyped(io, H5T_NATIVE_FLOAT, name, nrows, ncols, 0, rank ? 0 : (PetscInt)nrows, data, dims, units, desc));
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioOpen(MPI_Comm comm, const char path[], H5io *io)
{
  hid_t fapl;
  int   ok;

  PetscFunctionBeginUser;
  io->comm = comm;
  io->file = -1;
  PetscCall(PetscStrncpy(io->final_path, path, sizeof(io->final_path)));
  io->tmp_path[0] = 0;
  ok              = (access(path, R_OK) == 0);
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, comm));
  PetscCheck(ok, comm, PETSC_ERR_FILE_OPEN, "Cannot read %s: no such file or no permission; check the path", path);
  ok = H5Fis_hdf5(path) > 0;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, comm));
  PetscCheck(ok, comm, PETSC_ERR_FILE_UNEXPECTED, "%s is not an HDF5 file (truncated or corrupt?)", path);
  PetscCallH5(fapl = H5Pcreate(H5P_FILE_ACCESS));
  PetscCallH5(H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL));
  io->file = H5Fopen(path, H5F_ACC_RDONLY, fapl);
  PetscCallH5(H5Pclose(fapl));
  PetscCheck(io->file >= 0, comm, PETSC_ERR_FILE_OPEN, "HDF5 could not open %s (corrupt file?)", path);
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioClose(H5io *io)
{
  PetscFunctionBeginUser;
  if (io->file >= 0) PetscCallH5(H5Fclose(io->file));
  io->file = -1;
  PetscFunctionReturn(0);
}

static PetscErrorCode ReadTyped(H5io *io, hid_t type, const char name[], PetscInt64 nrows, PetscInt ncols, void *data)
{
  hid_t      dset;
  PetscInt64 rows;
  PetscInt   cols;

  PetscFunctionBeginUser;
  PetscCall(H5ioDatasetShape(io, name, &rows, &cols));
  PetscCheck(rows == nrows && cols == ncols, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s' is %lld x %lld, expected %lld x %lld (x 0: one-dimensional; different model or data dimensions?)", io->final_path, name, (long long)rows, (long long)cols, (long long)nrows, (long long)ncols);
  PetscCallH5(dset = H5Dopen2(io->file, name, H5P_DEFAULT));
  PetscCallH5(H5Dread(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
  PetscCallH5(H5Dclose(dset));
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioReadFloat(H5io *io, const char name[], PetscInt64 nrows, PetscInt ncols, float data[])
{
  PetscFunctionBeginUser;
  PetscCall(ReadTyped(io, H5T_NATIVE_FLOAT, name, nrows, ncols, data));
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioReadReal(H5io *io, const char name[], PetscInt64 nrows, PetscInt ncols, PetscReal data[])
{
  PetscFunctionBeginUser;
  PetscCall(ReadTyped(io, H5T_NATIVE_DOUBLE, name, nrows, ncols, data));
  PetscFunctionReturn(0);
}

static PetscErrorCode ReadAttr(H5io *io, const char obj[], const char name[], hid_t type, void *v)
{
  hid_t oid, attr;

  PetscFunctionBeginUser;
  PetscCall(OpenObject(io, obj, &oid));
  PetscCheck(H5Aexists(oid, name) > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: object '%s' has no attribute '%s'", io->final_path, obj, name);
  PetscCallH5(attr = H5Aopen(oid, name, H5P_DEFAULT));
  PetscCallH5(H5Aread(attr, type, v));
  PetscCallH5(H5Aclose(attr));
  PetscCallH5(H5Oclose(oid));
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioReadAttrInt(H5io *io, const char obj[], const char name[], PetscInt64 *value)
{
  long long v;
  PetscFunctionBeginUser;
  PetscCall(ReadAttr(io, obj, name, H5T_NATIVE_LLONG, &v));
  *value = (PetscInt64)v;
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioReadAttrReal(H5io *io, const char obj[], const char name[], PetscReal *value)
{
  double v;
  PetscFunctionBeginUser;
  PetscCall(ReadAttr(io, obj, name, H5T_NATIVE_DOUBLE, &v));
  *value = (PetscReal)v;
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioReadAttrString(H5io *io, const char obj[], const char name[], size_t len, char value[])
{
  hid_t   oid, attr, ftype, mtype;
  size_t  size;
  htri_t  vlen;

  PetscFunctionBeginUser;
  PetscCall(OpenObject(io, obj, &oid));
  PetscCheck(H5Aexists(oid, name) > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: object '%s' has no attribute '%s'", io->final_path, obj, name);
  PetscCallH5(attr = H5Aopen(oid, name, H5P_DEFAULT));
  PetscCallH5(ftype = H5Aget_type(attr));
  PetscCheck(H5Tget_class(ftype) == H5T_STRING, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute '%s' of '%s' is not a string", io->final_path, name, obj);
  PetscCallH5(vlen = H5Tis_variable_str(ftype));
  PetscCheck(!vlen, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute '%s' of '%s' is a variable-length string; pdediff writes (and reads) fixed-length ones", io->final_path, name, obj);
  size = H5Tget_size(ftype);
  PetscCheck(size < len, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: attribute '%s' of '%s' holds %zu characters, more than the %zu expected", io->final_path, name, obj, size, len - 1);
  PetscCallH5(mtype = H5Tcopy(H5T_C_S1));
  PetscCallH5(H5Tset_size(mtype, size));
  PetscCallH5(H5Aread(attr, mtype, value));
  value[size] = 0; /* a null-padded or space-padded string need not end in a 0 */
  PetscCallH5(H5Tclose(mtype));
  PetscCallH5(H5Tclose(ftype));
  PetscCallH5(H5Aclose(attr));
  PetscCallH5(H5Oclose(oid));
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioHasAttr(H5io *io, const char obj[], const char name[], PetscBool *has)
{
  hid_t oid;
  htri_t e;

  PetscFunctionBeginUser;
  PetscCall(OpenObject(io, obj, &oid));
  PetscCallH5(e = H5Aexists(oid, name));
  PetscCallH5(H5Oclose(oid));
  *has = e > 0 ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioHasDataset(H5io *io, const char name[], PetscBool *has)
{
  htri_t e;

  PetscFunctionBeginUser;
  PetscCallH5(e = H5Lexists(io->file, name, H5P_DEFAULT));
  *has = e > 0 ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioDatasetShape(H5io *io, const char name[], PetscInt64 *nrows, PetscInt *ncols)
{
  hid_t   dset, space;
  int     nd;
  hsize_t dims[2] = {0, 0};

  PetscFunctionBeginUser;
  PetscCheck(H5Lexists(io->file, name, H5P_DEFAULT) > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s has no dataset '%s': check the dataset name option or the file", io->final_path, name);
  PetscCallH5(dset = H5Dopen2(io->file, name, H5P_DEFAULT));
  PetscCallH5(space = H5Dget_space(dset));
  PetscCallH5(nd = H5Sget_simple_extent_ndims(space));
  PetscCheck(nd == 1 || nd == 2, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s' has %d dimensions, expected a 1-D or 2-D (samples x components) array", io->final_path, name, nd);
  PetscCallH5(H5Sget_simple_extent_dims(space, dims, NULL));
  PetscCallH5(H5Sclose(space));
  PetscCallH5(H5Dclose(dset));
  *nrows = (PetscInt64)dims[0];
  *ncols = nd == 2 ? (PetscInt)dims[1] : 0;
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioReadRowsFloat(H5io *io, const char name[], PetscInt ncols, PetscInt64 row0, PetscInt nlocal, float data[])
{
  hid_t      dset, fspace, mspace, dxpl;
  PetscInt64 nrows;
  PetscInt   nc;
  hsize_t    start[2], count[2];
  const int  nd = ncols > 0 ? 2 : 1;

  PetscFunctionBeginUser;
  PetscCall(H5ioDatasetShape(io, name, &nrows, &nc));
  PetscCheck(nc == ncols, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s' has %" PetscInt_FMT " columns, expected %" PetscInt_FMT, io->final_path, name, nc, ncols);
  PetscCheck(row0 >= 0 && row0 + nlocal <= nrows, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: dataset '%s' has %lld rows, cannot read rows %lld..%lld", io->final_path, name, (long long)nrows, (long long)row0, (long long)(row0 + nlocal - 1));
  PetscCallH5(dset = H5Dopen2(io->file, name, H5P_DEFAULT));
  PetscCallH5(fspace = H5Dget_space(dset));
  start[0] = (hsize_t)row0;
  start[1] = 0;
  count[0] = (hsize_t)nlocal;
  count[1] = (hsize_t)ncols;
  if (nlocal > 0) PetscCallH5(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL));
  else PetscCallH5(H5Sselect_none(fspace));
  PetscCallH5(mspace = H5Screate_simple(nd, count, NULL));
  if (nlocal == 0) PetscCallH5(H5Sselect_none(mspace));
  PetscCallH5(dxpl = H5Pcreate(H5P_DATASET_XFER));
  PetscCallH5(H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  PetscCallH5(H5Dread(dset, H5T_NATIVE_FLOAT, mspace, fspace, dxpl, data));
  PetscCallH5(H5Pclose(dxpl));
  PetscCallH5(H5Sclose(mspace));
  PetscCallH5(H5Sclose(fspace));
  PetscCallH5(H5Dclose(dset));
  PetscFunctionReturn(0);
}

/* The directory part of path ("." if none) must be writable: checked before any work is done. */
PetscErrorCode H5ioCheckWritable(MPI_Comm comm, const char path[], const char option[])
{
  char      d[PETSC_MAX_PATH_LEN], *slash;
  PetscBool ok;

  PetscFunctionBeginUser;
  PetscCall(PetscStrncpy(d, path, sizeof(d)));
  slash = strrchr(d, '/');
  if (slash) *slash = 0;
  else PetscCall(PetscStrncpy(d, ".", sizeof(d)));
  if (!d[0]) PetscCall(PetscStrncpy(d, "/", sizeof(d)));
  PetscCall(PetscTestDirectory(d, 'w', &ok));
  PetscCheck(ok, comm, PETSC_ERR_FILE_OPEN, "%s %s: directory %s does not exist or is not writable; create it or choose another path", option, path, d);
  PetscFunctionReturn(0);
}

PetscErrorCode H5ioMakeDirs(MPI_Comm comm, const char dir[])
{
  PetscMPIInt rank;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank && dir[0]) {
    char d[PETSC_MAX_PATH_LEN];
    PetscCall(PetscStrncpy(d, dir, sizeof(d)));
    for (char *s = d + 1; *s; s++)
      if (*s == '/') {
        *s = 0;
        (void)mkdir(d, 0755); /* an existing or uncreatable level shows up in H5ioCheckWritable */
        *s = '/';
      }
    (void)mkdir(d, 0755);
  }
  PetscCallMPI(MPI_Barrier(comm));
  PetscFunctionReturn(0);
}
