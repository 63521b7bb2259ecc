#include "meas.h"
#include "rng.h"
#include <math.h>

PetscErrorCode MeasSetDefaults(Meas *m)
{
  PetscFunctionBeginUser;
  m->level     = 0;
  m->range     = 0;
  m->sigma     = 0;
  m->seed      = 0;
  m->mask_prob = 0;
  m->mask_seed = 0;
  m->copies    = 1;
  m->resample  = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode MeasSetFromOptions(MPI_Comm comm, Meas *m, PetscBool *level_set)
{
  PetscBool set = PETSC_FALSE;

  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, NULL, "Measurement model (Sec. 5.2, 5.2.1)", "meas");
  PetscCall(PetscOptionsReal("-noise_level", "Noise std as a fraction of the training concentration range (normalised units; paper: 0 ... 0.2)", "meas", m->level, &m->level, &set));
  PetscCall(PetscOptionsInt("-noise_seed", "Seed of the measurement-noise streams", "meas", m->seed, &m->seed, NULL));
  PetscCall(PetscOptionsReal("-mask_prob", "Multiple operators: probability that a sensor is on (0: no mask input)", "meas", m->mask_prob, &m->mask_prob, NULL));
  PetscCall(PetscOptionsInt("-mask_seed", "Seed of the sensor-mask streams", "meas", m->mask_seed, &m->mask_seed, NULL));
  PetscCall(PetscOptionsInt("-mask_copies", "Training copies of every pair, each with its own mask and noise (paper 5.2.1: 4)", "meas", m->copies, &m->copies, NULL));
  PetscCall(PetscOptionsBool("-meas_resample", "Training: fresh noise and masks for every copy every epoch (beyond the paper; default: the paper's fixed set)", "meas", m->resample, &m->resample, NULL));
  PetscOptionsEnd();
  PetscCheck(m->level >= 0 && m->level < 10, comm, PETSC_ERR_ARG_OUTOFRANGE, "-noise_level %.6g: must be in [0, 10) (a fraction of the concentration range; the paper's levels are 0 ... 0.2)", (double)m->level);
  PetscCheck(m->seed >= 0 && m->mask_seed >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-noise_seed and -mask_seed must be >= 0");
  PetscCheck(m->mask_prob >= 0 && m->mask_prob <= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-mask_prob %.6g: must be in [0, 1] (0: no mask input)", (double)m->mask_prob);
  PetscCheck(m->copies >= 1 && m->copies <= MEAS_MAX_COPIES, comm, PETSC_ERR_ARG_OUTOFRANGE, "-mask_copies %" PetscInt_FMT ": must be in [1, %d]", m->copies, MEAS_MAX_COPIES);
  m->sigma = m->level * m->range;
  if (level_set) *level_set = set;
  PetscFunctionReturn(0);
}

PetscErrorCode MeasSetRange(MPI_Comm comm, Meas *m, PetscInt nlocal, PetscInt ny, const float y[])
{
  PetscReal lo = PETSC_MAX_REAL, hi = -PETSC_MAX_REAL;

  PetscFunctionBeginUser;
  for (size_t k = 0; k < (size_t)nlocal * ny; k++) {
    lo = PetscMin(lo, (PetscReal)y[k]);
    hi = PetscMax(hi, (PetscReal)y[k]);
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPIU_REAL, MPI_MIN, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPIU_REAL, MPI_MAX, comm));
  PetscCheck(hi >= lo, comm, PETSC_ERR_ARG_SIZ, "No measurements to take the concentration range from");
  m->range = hi - lo;
  m->sigma = m->level * m->range;
  PetscFunctionReturn(0);
}

static uint64_t StreamIndex(PetscInt64 row, PetscInt64 copy) { return (uint64_t)row + ((uint64_t)copy << 32); }

PetscInt64 meas_epoch_copy(const Meas *m, PetscInt64 epoch, PetscInt copy)
{
  return (!m->resample || epoch == 0) ? copy : MEAS_MAX_COPIES + 1 + (epoch - 1) * m->copies + copy;
}

void meas_noisy(const Meas *m, PetscInt64 row, PetscInt64 copy, PetscInt ny, const PetscReal y_clean[], PetscReal y[])
{
  RngStream s;

  if (m->sigma <= 0) {
    for (PetscInt j = 0; j < ny; j++) y[j] = y_clean[j];
    return;
  }
  rng_stream_init(&s, (uint64_t)m->seed, RNG_PURPOSE_NOISE, StreamIndex(row, copy));
  for (PetscInt j = 0; j < ny; j++) y[j] = y_clean[j] + m->sigma * rng_normal(&s);
}

PetscInt meas_mask(const Meas *m, PetscInt64 row, PetscInt64 copy, PetscInt ny, PetscReal mask[])
{
  RngStream s;
  PetscInt  on = 0;

  if (m->mask_prob <= 0) {
    for (PetscInt j = 0; j < ny; j++) mask[j] = 1;
    return ny;
  }
  rng_stream_init(&s, (uint64_t)m->mask_seed, RNG_PURPOSE_MASK, StreamIndex(row, copy));
  for (PetscInt j = 0; j < ny; j++) on += (PetscInt)(mask[j] = (PetscReal)rng_bernoulli(&s, m->mask_prob));
  return on;
}

PetscErrorCode MeasWriteH5(H5io *io, const Meas *m)
{
  PetscFunctionBeginUser;
  PetscCall(H5ioAttrReal(io, "/", "noise_level", m->level));
  PetscCall(H5ioAttrReal(io, "/", "noise_sigma", m->sigma));
  PetscCall(H5ioAttrReal(io, "/", "noise_range", m->range));
  PetscCall(H5ioAttrInt(io, "/", "noise_seed", m->seed));
  PetscCall(H5ioAttrReal(io, "/", "mask_prob", m->mask_prob));
  PetscCall(H5ioAttrInt(io, "/", "mask_seed", m->mask_seed));
  PetscCall(H5ioAttrInt(io, "/", "mask_copies", m->copies));
  PetscCall(H5ioAttrInt(io, "/", "meas_resample", m->resample));
  PetscFunctionReturn(0);
}

PetscErrorCode MeasReadH5(H5io *io, Meas *m)
{
  PetscBool  has;
  PetscInt64 v;

  PetscFunctionBeginUser;
  PetscCall(MeasSetDefaults(m));
  PetscCall(H5ioHasAttr(io, "/", "noise_level", &has));
  if (!has) PetscFunctionReturn(0);
  PetscCall(H5ioReadAttrReal(io, "/", "noise_level", &m->level));
  PetscCall(H5ioReadAttrReal(io, "/", "noise_sigma", &m->sigma));
  PetscCall(H5ioReadAttrReal(io, "/", "noise_range", &m->range));
  PetscCall(H5ioReadAttrInt(io, "/", "noise_seed", &v));
  m->seed = (PetscInt)v;
  PetscCall(H5ioReadAttrReal(io, "/", "mask_prob", &m->mask_prob));
  PetscCall(H5ioReadAttrInt(io, "/", "mask_seed", &v));
  m->mask_seed = (PetscInt)v;
  PetscCall(H5ioReadAttrInt(io, "/", "mask_copies", &v));
  m->copies = (PetscInt)v;
  PetscCall(H5ioHasAttr(io, "/", "meas_resample", &has));
  if (has) {
    PetscCall(H5ioReadAttrInt(io, "/", "meas_resample", &v));
    m->resample = v ? PETSC_TRUE : PETSC_FALSE;
  }
  PetscFunctionReturn(0);
}
