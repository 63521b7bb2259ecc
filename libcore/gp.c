/* gp: Gaussian-process prior on the wall fluxes (see gp.h). */
#include "gp.h"
#include "slpk.h"
#include <math.h>
#include <string.h>

#define GP_SLPK_NB 32 /* ScaLAPACK block size */

PetscErrorCode GPPriorCreate(MPI_Comm comm, PetscInt n, const PetscReal pts[], PetscReal length, PetscReal std, PetscReal mean, PetscReal jitter, PetscBool clip, GPPrior *gp)
{
  SlpkGrid grid;
  PetscInt info;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(gp, sizeof(*gp)));
  PetscCheck(n >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "GP prior on %" PetscInt_FMT " points: needs at least one point (flux segment)", n);
  PetscCheck(length > 0, comm, PETSC_ERR_USER_INPUT, "-gp_length %g: the GP length scale must be > 0 (DESIGN.md: 2)", (double)length);
  PetscCheck(std > 0, comm, PETSC_ERR_USER_INPUT, "-gp_std %g: the GP marginal standard deviation must be > 0 (DESIGN.md: 1)", (double)std);
  PetscCheck(jitter >= 0, comm, PETSC_ERR_USER_INPUT, "-gp_jitter %g: the diagonal jitter (relative to -gp_std squared) must be >= 0", (double)jitter);
  gp->n      = n;
  gp->length = length;
  gp->std    = std;
  gp->mean   = mean;
  gp->jitter = jitter;
  gp->clip   = clip;
  PetscCall(PetscMalloc3(2 * n, &gp->pts, n * n, &gp->K, n * n, &gp->L));
  PetscCall(PetscArraycpy(gp->pts, pts, 2 * n));
  for (PetscInt i = 0; i < n; i++) {
    for (PetscInt j = 0; j <= i; j++) {
      const PetscReal dx = pts[2 * i] - pts[2 * j], dy = pts[2 * i + 1] - pts[2 * j + 1];
      const PetscReal k  = std * std * exp(-(dx * dx + dy * dy) / (2 * length * length));
      gp->K[i * n + j] = gp->K[j * n + i] = k;
    }
    gp->K[i * n + i] += jitter * std * std;
  }
  PetscCall(PetscArraycpy(gp->L, gp->K, n * n));
  PetscCall(SlpkGridCreate(comm, &grid));
  PetscCall(SlpkCholeskyReplicated(&grid, n, GP_SLPK_NB, gp->L, &info));
  PetscCall(SlpkGridDestroy(&grid));
  if (info) {
    PetscCall(GPPriorDestroy(gp));
    SETERRQ(comm, PETSC_ERR_USER_INPUT, "GP prior covariance is not positive definite (ScaLAPACK pdpotrf: leading minor %" PetscInt_FMT "): increase -gp_jitter (now %g) or check -gp_length (now %g)/-gp_std (now %g)", info, (double)jitter, (double)length,
            (double)std);
  }
  gp->min_pivot = PETSC_MAX_REAL;
  for (PetscInt i = 0; i < n; i++) gp->min_pivot = PetscMin(gp->min_pivot, gp->L[i * n + i] * gp->L[i * n + i]);
  PetscFunctionReturn(0);
}

PetscErrorCode GPPriorSetFromOptions(MPI_Comm comm, PetscInt n, const PetscReal pts[], GPPrior *gp)
{
  PetscReal length = 2, std = 1, mean = 2, jitter = 1e-10;
  PetscBool clip   = PETSC_TRUE;

  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, NULL, "Gaussian-process prior on the wall fluxes (DESIGN.md section 5)", "gp");
  PetscCall(PetscOptionsReal("-gp_length", "RBF length scale on the 2-D distance between segment midpoints", "gp", length, &length, NULL));
  PetscCall(PetscOptionsReal("-gp_std", "Marginal standard deviation of the GP", "gp", std, &std, NULL));
  PetscCall(PetscOptionsReal("-gp_mean", "Constant prior mean (the shift of the zero-mean GP)", "gp", mean, &mean, NULL));
  PetscCall(PetscOptionsReal("-gp_jitter", "Diagonal jitter relative to gp_std^2, so that the numerically singular covariance factors", "gp", jitter, &jitter, NULL));
  PetscCall(PetscOptionsBool("-gp_clip", "Clip negative fluxes to 0 (false: a purely Gaussian prior)", "gp", clip, &clip, NULL));
  PetscOptionsEnd();
  PetscCall(GPPriorCreate(comm, n, pts, length, std, mean, jitter, clip, gp));
  PetscFunctionReturn(0);
}

void GPPriorSample(const GPPrior *gp, uint64_t seed, uint64_t index, PetscReal x[], PetscReal z[])
{
  const PetscInt   n = gp->n;
  const PetscReal *L = gp->L;
  RngStream        s;

  rng_stream_init(&s, seed, RNG_PURPOSE_FLUX, index);
  rng_normal_fill(&s, (size_t)n, x);
  /* x = L w in place: row i needs w_0..w_i, so go from the last row up (rows above i still
     find their w_j, j < i, untouched). */
  for (PetscInt i = n - 1; i >= 0; i--) {
    PetscReal v = 0;
    for (PetscInt j = 0; j <= i; j++) v += L[i * n + j] * x[j];
    x[i] = v;
  }
  if (z) memcpy(z, x, (size_t)n * sizeof(PetscReal));
  for (PetscInt i = 0; i < n; i++) {
    x[i] += gp->mean;
    if (gp->clip && x[i] < 0) x[i] = 0;
  }
}

PetscErrorCode GPPriorDestroy(GPPrior *gp)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree3(gp->pts, gp->K, gp->L));
  gp->n = 0;
  PetscFunctionReturn(0);
}

void gp_segment_midpoints(PetscInt nseg_per_wall, PetscReal length_x, PetscReal height, PetscReal seg_len, PetscReal pts[])
{
  for (PetscInt w = 0; w < 2; w++) {
    for (PetscInt k = 0; k < nseg_per_wall; k++) {
      const PetscInt i = w * nseg_per_wall + k;
      pts[2 * i]       = (k + 0.5) * seg_len;
      pts[2 * i + 1]   = w ? height : 0;
    }
  }
}
