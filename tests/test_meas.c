/* test_meas: the measurement model (libcore/meas.h).
 *   - sigma = level x range, range from the clean values held across the ranks;
 *   - noise: 20,000 rows of 30 sensors have mean 0 and std sigma (5 standard errors); a row's
 *     noise depends only on (seed, row, copy), copies and seeds differ; level 0 adds nothing;
 *   - masks: the fraction of sensors on is mask_prob (5 standard errors), mask_prob 0 switches
 *     every sensor on, masks depend only on (mask_seed, row, copy);
 *   - the attributes survive an HDF5 round trip, and a file without them reads as no noise. */
#include "blascore.h"
#include "meas.h"
#include "testutil.h"
#include <math.h>

int main(int argc, char **argv)
{
  Meas        m, r;
  PetscMPIInt rank, size;
  const PetscInt ny = 30, N = 20000;

  BlasCoreReexec(argc, argv); /* before anything starts: OpenBLAS kernels for this CPU (blascore.h) */
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCallMPI(MPI_Comm_rank(PETSC_COMM_WORLD, &rank));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(MeasSetDefaults(&m));
  { /* range over the ranks: rank k holds values k .. k + 10 */
    float y[2 * 30];
    for (PetscInt i = 0; i < 2 * ny; i++) y[i] = (float)(rank + (i % 11));
    m.level = 0.05;
    PetscCall(MeasSetRange(PETSC_COMM_WORLD, &m, 2, ny, y));
    CHECK(m.range == 10 + size - 1 && PetscAbsReal(m.sigma - 0.05 * m.range) < 1e-15, "range %g over %d rank(s) (expected %d), sigma = level x range = %g", (double)m.range, size, 10 + size - 1, (double)m.sigma);
  }
  { /* noise statistics and stream identity */
    PetscReal y0[30], y[30], a[30], b[30], s = 0, q = 0;
    for (PetscInt j = 0; j < ny; j++) y0[j] = 100 + j;
    m.seed = 4;
    for (PetscInt i = 0; i < N; i++) {
      meas_noisy(&m, i, 0, ny, y0, y);
      for (PetscInt j = 0; j < ny; j++) {
        s += y[j] - y0[j];
        q += PetscSqr(y[j] - y0[j]);
      }
    }
    const PetscReal n = (PetscReal)N * ny, mean = s / n, sd = PetscSqrtReal(q / n - mean * mean);
    CHECK(PetscAbsReal(mean) < 5 * m.sigma / PetscSqrtReal(n) && PetscAbsReal(sd / m.sigma - 1) < 5 / PetscSqrtReal(2 * n), "noise of %d x %d values: mean %.2e (5 SE %.1e), std / sigma %.5f", (int)N, (int)ny, (double)mean, (double)(5 * m.sigma / PetscSqrtReal(n)), (double)(sd / m.sigma));
    meas_noisy(&m, 123, 0, ny, y0, a);
    meas_noisy(&m, 123, 0, ny, y0, b);
    PetscInt same = 1;
    for (PetscInt j = 0; j < ny; j++) same &= a[j] == b[j];
    meas_noisy(&m, 123, 1, ny, y0, b);
    PetscInt diff_copy = a[0] != b[0];
    m.seed = 5;
    meas_noisy(&m, 123, 0, ny, y0, b);
    PetscInt diff_seed = a[0] != b[0];
    m.seed = 4;
    CHECK(same && diff_copy && diff_seed, "a row's noise is a function of (seed, row, copy): repeatable, another copy or seed differs");
    Meas z = m;
    z.level = 0, z.sigma = 0;
    meas_noisy(&z, 7, 0, ny, y0, b);
    same = 1;
    for (PetscInt j = 0; j < ny; j++) same &= b[j] == y0[j];
    CHECK(same, "noise level 0 leaves the clean values");
  }
  { /* masks */
    PetscReal mk[30], mk2[30];
    PetscInt  on = 0, same = 1;
    m.mask_prob = 0.7;
    m.mask_seed = 9;
    for (PetscInt i = 0; i < N; i++) on += meas_mask(&m, i, 2, ny, mk);
    const PetscReal f = (PetscReal)on / ((PetscReal)N * ny);
    CHECK(PetscAbsReal(f - 0.7) < 5 * PetscSqrtReal(0.21 / ((PetscReal)N * ny)), "masks: fraction of sensors on %.5f (probability 0.7)", (double)f);
    (void)meas_mask(&m, 55, 0, ny, mk);
    (void)meas_mask(&m, 55, 0, ny, mk2);
    for (PetscInt j = 0; j < ny; j++) same &= mk[j] == mk2[j];
    Meas z = m;
    z.mask_prob = 0;
    CHECK(same && meas_mask(&z, 55, 0, ny, mk2) == ny, "a mask is a function of (mask_seed, row, copy); mask_prob 0 switches all %d sensors on", (int)ny);
  }
  { /* -meas_resample's stream indices: epoch 0 is the fixed set; later epochs are new, distinct
       streams that neither a fixed copy nor a measurement file (copy MEAS_MAX_COPIES) uses */
    Meas       q = m;
    PetscBool  ok = PETSC_TRUE;
    PetscInt64 prev = -1;
    q.copies   = 4;
    q.resample = PETSC_FALSE;
    for (PetscInt64 e = 0; e < 5; e++)
      for (PetscInt k = 0; k < 4; k++) ok = (PetscBool)(ok && meas_epoch_copy(&q, e, k) == k);
    CHECK(ok, "without -meas_resample every epoch uses copies 0..3");
    q.resample = PETSC_TRUE;
    for (PetscInt k = 0; k < 4; k++) ok = (PetscBool)(ok && meas_epoch_copy(&q, 0, k) == k);
    for (PetscInt64 e = 1; e < 10001; e++)
      for (PetscInt k = 0; k < 4; k++) {
        const PetscInt64 c = meas_epoch_copy(&q, e, k);
        ok = (PetscBool)(ok && c > prev && c > MEAS_MAX_COPIES && c < ((PetscInt64)1 << 32));
        prev = c;
      }
    CHECK(ok, "with -meas_resample epoch 0 uses copies 0..3 and epochs 1..10000 distinct increasing copies above %d (last %lld)", MEAS_MAX_COPIES, (long long)prev);
    {
      PetscReal y0[30] = {0}, a[30], b[30];
      q.sigma = 1;
      meas_noisy(&q, 5, meas_epoch_copy(&q, 1, 0), ny, y0, a);
      meas_noisy(&q, 5, meas_epoch_copy(&q, 2, 0), ny, y0, b);
      CHECK(a[0] != b[0] && a[29] != b[29], "epochs 1 and 2 draw different noise for the same pair and copy");
      PetscInt differ = 0;
      q.mask_prob = 0.5;
      for (PetscInt r = 0; r < 20; r++) {
        meas_mask(&q, r, meas_epoch_copy(&q, 1, 0), ny, a);
        meas_mask(&q, r, meas_epoch_copy(&q, 2, 0), ny, b);
        for (PetscInt j = 0; j < ny; j++) differ += a[j] != b[j];
      }
      CHECK(differ > 100 && differ < 500, "epochs 1 and 2 draw different masks: %d of 600 sensor states differ (about 300 expected)", (int)differ);
    }
  }
  { /* HDF5 round trip */
    H5io io;
    char f1[64], f2[64];
    snprintf(f1, sizeof(f1), "test_meas_np%d.h5", size); /* the 1- and 2-rank tests may run at once */
    snprintf(f2, sizeof(f2), "test_meas_empty_np%d.h5", size);
    m.copies   = 4;
    m.resample = PETSC_TRUE;
    PetscCall(H5ioCreate(PETSC_COMM_WORLD, f1, &io));
    PetscCall(MeasWriteH5(&io, &m));
    PetscCall(H5ioCommit(&io));
    PetscCall(H5ioOpen(PETSC_COMM_WORLD, f1, &io));
    PetscCall(MeasReadH5(&io, &r));
    PetscCall(H5ioClose(&io));
    CHECK(r.level == m.level && r.sigma == m.sigma && r.range == m.range && r.seed == m.seed && r.mask_prob == m.mask_prob && r.mask_seed == m.mask_seed && r.copies == 4 && r.resample, "measurement model attributes survive the HDF5 round trip");
    PetscCall(H5ioCreate(PETSC_COMM_WORLD, f2, &io));
    PetscCall(H5ioCommit(&io));
    PetscCall(H5ioOpen(PETSC_COMM_WORLD, f2, &io));
    PetscCall(MeasReadH5(&io, &r));
    PetscCall(H5ioClose(&io));
    CHECK(r.level == 0 && r.sigma == 0 && r.mask_prob == 0 && r.copies == 1 && !r.resample, "a file without them reads as no noise, no mask, one copy, no resampling");
  }
  {
    int status = TestFinish("test_meas");
    PetscCall(PetscFinalize());
    return status;
  }
}
