/* make_train_data: write a small training file with a known conditional law, for the train /
 * sample tests, and deliberately broken variants of it for the bad-input tests.
 *   y ~ U(-1, 1) (n_y = 1),  x | y ~ N(mu(y), diag(s^2)),  mu(y) = (y + 1, -y),  s = (0.3, 0.5)
 * Options: -n N rows, -o FILE, -seed S, -nan_row R (x[R][0] = NaN), -short_y (y has one row
 * fewer than x). Collective; written with the project's HDF5 helpers. */
#include "blascore.h"
#include "h5io.h"
#include "rng.h"
#include "sampler.h"

int main(int argc, char **argv)
{
  PetscInt   n = 2000, seed = 7, nan_row = -1, nlocal;
  PetscInt64 first;
  PetscBool  short_y = PETSC_FALSE;
  char       out[PETSC_MAX_PATH_LEN] = "train_data.h5";
  PetscReal *x, *y;
  H5io       io;

  BlasCoreReexec(argc, argv); /* before anything starts: OpenBLAS kernels for this CPU (blascore.h) */
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-n", &n, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-seed", &seed, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-nan_row", &nan_row, NULL));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-short_y", &short_y, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-o", out, sizeof(out), NULL));
  PetscCall(SamplerPartition(PETSC_COMM_WORLD, n, &nlocal, &first));
  PetscCall(PetscMalloc2(2 * (size_t)PetscMax(nlocal, 1), &x, PetscMax(nlocal, 1), &y));
  for (PetscInt i = 0; i < nlocal; i++) {
    RngStream s;
    rng_stream_init(&s, (uint64_t)seed, RNG_PURPOSE_TEST, (uint64_t)(first + i));
    y[i]         = -1 + 2 * rng_uniform(&s);
    x[2 * i]     = y[i] + 1 + 0.3 * rng_normal(&s);
    x[2 * i + 1] = -y[i] + 0.5 * rng_normal(&s);
    if (first + i == nan_row) x[2 * i] = NAN;
  }
  PetscCall(H5ioCreate(PETSC_COMM_WORLD, out, &io));
  PetscCall(H5ioWriteProvenance(&io, "make_train_data"));
  PetscCall(H5ioWriteRows(&io, "x", n, 2, first, nlocal, x, "sample,component", "1", "x | y ~ N((y+1, -y), diag(0.09, 0.25))"));
  if (short_y) { /* drop the last row */
    PetscInt nl = (first + nlocal == n && nlocal > 0) ? nlocal - 1 : nlocal;
    PetscCall(H5ioWriteRows(&io, "y", n - 1, 0, first, nl, y, "sample", "1", "y ~ U(-1,1), one row short"));
  } else PetscCall(H5ioWriteRows(&io, "y", n, 0, first, nlocal, y, "sample", "1", "y ~ U(-1,1)"));
  PetscCall(H5ioCommit(&io));
  PetscCall(PetscFree2(x, y));
  PetscCall(PetscFinalize());
  return 0;
}
