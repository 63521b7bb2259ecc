/* meas: the measurement model of the inverse problem (paper Sec. 5.2 and 5.2.1, DESIGN.md sec. 5).
 *
 *   y = y_clean + sigma e,  e ~ N(0, I),  sigma = level * range,
 *
 * where level is the noise level in normalised units (a fraction of the training set's
 * concentration range, the paper's 0, 0.01, ..., 0.2) and range = y_max - y_min over every sensor
 * of every clean training measurement; both sigma and level are recorded wherever noise is used.
 * Noise is drawn when a level is chosen, so one clean data set serves a whole sweep.
 *
 * Multiple operators (5.2.1): a mask m in {0,1}^n_y, each sensor on with probability mask_prob;
 * the network condition is [y_n with off sensors set to -1 | m] (y_n the min-max normalised
 * measurement). The training set holds `copies` copies of every pair, each with its own mask and
 * noise (36,000 = 4 x 9,000 in the paper).
 *
 * Streams (rng.h): the noise of copy c of data-set row r is (seed, RNG_PURPOSE_NOISE, r + c 2^32),
 * its mask (mask_seed, RNG_PURPOSE_MASK, r + c 2^32): test measurements (rows >= n_train, copy 0)
 * never share a stream with training ones, and nothing depends on the number of ranks. */
#ifndef PDEDIFF_MEAS_H
#define PDEDIFF_MEAS_H
#include "h5io.h"

/* Training copies are 0 .. MEAS_MAX_COPIES - 1; measurements that are not rows of a data set
   (a measurement file) draw their masks with copy index MEAS_MAX_COPIES, a stream no training
   pair uses. */
#define MEAS_MAX_COPIES 1024

typedef struct {
  PetscReal level;     /* noise std in normalised units (fraction of range) */
  PetscReal range;     /* y_max - y_min of the clean training measurements (physical units); 0 if unknown */
  PetscReal sigma;     /* physical noise std = level * range */
  PetscInt  seed;      /* keys the noise streams */
  PetscReal mask_prob; /* probability that a sensor is on; 0: no mask input (every sensor on) */
  PetscInt  mask_seed; /* keys the mask streams */
  PetscInt  copies;    /* training copies of each pair (>= 1) */
  PetscBool resample;  /* fresh noise and masks for every copy every epoch (beyond the paper) */
} Meas;

PetscErrorCode MeasSetDefaults(Meas *m);
/* -noise_level, -noise_seed, -mask_prob, -mask_seed, -mask_copies, -meas_resample (validated; the error names the
   option). Options not given keep the values already in *m (a model's, for the posterior). */
PetscErrorCode MeasSetFromOptions(MPI_Comm comm, Meas *m, PetscBool *level_set);
/* Set range (and sigma) from the clean measurements y[nlocal*ny] held across comm. Collective. */
PetscErrorCode MeasSetRange(MPI_Comm comm, Meas *m, PetscInt nlocal, PetscInt ny, const float y[]);
/* y[ny] = y_clean[ny] + sigma e for copy `copy` of row `row`. */
void meas_noisy(const Meas *m, PetscInt64 row, PetscInt64 copy, PetscInt ny, const PetscReal y_clean[], PetscReal y[]);
/* The mask of copy `copy` of row `row` (mask[j] = 1 on, 0 off; all 1 when mask_prob = 0);
   returns the number of sensors on. */
PetscInt meas_mask(const Meas *m, PetscInt64 row, PetscInt64 copy, PetscInt ny, PetscReal mask[]);
/* The stream copy index of training copy `copy` (0 .. copies - 1) in epoch `epoch`: `copy` itself
   in epoch 0 and whenever resample is off (the paper's fixed training set); with resample, epoch
   e >= 1 draws MEAS_MAX_COPIES + 1 + (e - 1) copies + copy, streams no fixed copy and no
   measurement file uses. Why resample (beyond the paper): 5.2.1's one network must serve
   2^30 sensor masks, and the paper's 4 fixed masks per pair show it 36,000 of them for 10,000
   epochs; fresh masks (and noise) every epoch are the same law with unlimited draws. */
PetscInt64 meas_epoch_copy(const Meas *m, PetscInt64 epoch, PetscInt copy);
/* Root attributes noise_level, noise_sigma, noise_range, noise_seed, mask_prob, mask_seed,
   mask_copies, meas_resample (0/1; absent = 0). Reading a file without them leaves the defaults (no noise, no mask). */
PetscErrorCode MeasWriteH5(H5io *io, const Meas *m);
PetscErrorCode MeasReadH5(H5io *io, Meas *m);

#endif
