/* density: joints (49)-(51) and their exact conditionals (see density.h). */
#include "density.h"
#include <math.h>
#include <string.h>

const char *const DensityCases[] = {"tanh", "bimodal", "spiral", "DensityCase", "DENSITY_", NULL};
const char        DensityDistNames[] = "ode_vs_band,sde_vs_band,floor_band_vs_exact,ode_vs_exact,sde_vs_exact,floor_exact_vs_exact";

PetscReal density_paper_value(DensityCase c, const char key[])
{
  static const PetscReal ve[3] = {0.072, 0.118, 0.042}, vp[3] = {0.059, 0.103, 0.041}; /* Table 1 */
  if (!strcmp(key, "ve")) return ve[c];
  if (!strcmp(key, "vp")) return vp[c];
  return NAN;
}

#define SPIRAL_NOISE 0.1 /* 0.1 C3, 0.1 C4: standard deviation of the spiral's noise */
#define SPIRAL_MAX_TRIES 1000000

static inline PetscReal spiral_w(PetscReal h) { return 1.5 * PETSC_PI * (1 + 2 * h); }

void density_joint(DensityCase c, uint64_t seed, uint32_t purpose, uint64_t index, PetscReal *x, PetscReal *y)
{
  RngStream s;
  PetscReal w;

  rng_stream_init(&s, seed, purpose, index);
  switch (c) {
  case DENSITY_TANH:
    *y = -3 + 6 * rng_uniform(&s);
    *x = tanh(*y) + rng_gamma(&s, 1.0, 0.3);
    break;
  case DENSITY_BIMODAL:
    *y = rng_normal(&s);
    *x = cbrt(*y + rng_normal(&s));
    break;
  case DENSITY_SPIRAL:
    w  = spiral_w(rng_uniform(&s));
    *x = 0.1 * (w * sin(w) + rng_normal(&s));
    *y = 0.1 * (w * cos(w) + rng_normal(&s));
    break;
  }
}

void density_joint_rows(DensityCase c, uint64_t seed, uint32_t purpose, uint64_t index0, PetscInt n, PetscReal x[], PetscReal y[])
{
  for (PetscInt i = 0; i < n; i++) density_joint(c, seed, purpose, index0 + (uint64_t)i, &x[i], &y[i]);
}

void density_y_support(DensityCase c, PetscReal *lo, PetscReal *hi)
{
  if (c == DENSITY_TANH) {
    *lo = -3;
    *hi = 3;
  } else {
    *lo = PETSC_NINFINITY;
    *hi = PETSC_INFINITY;
  }
}

PetscErrorCode DensityConditional(DensityCase c, PetscReal y, uint64_t seed, uint64_t index0, PetscInt n, PetscReal x[], PetscReal *accept)
{
  PetscReal lo, hi;
  long long tries = 0;

  PetscFunctionBeginUser;
  density_y_support(c, &lo, &hi);
  PetscCheck(y >= lo && y <= hi, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Y = %g lies outside the support [%g, %g] of the %s joint: X | Y = %g does not exist", (double)y, (double)lo, (double)hi, DensityCases[c], (double)y);
  for (PetscInt k = 0; k < n; k++) {
    RngStream s;
    rng_stream_init(&s, seed, RNG_PURPOSE_CONDITIONAL, index0 + (uint64_t)k);
    switch (c) {
    case DENSITY_TANH:
      x[k] = tanh(y) + rng_gamma(&s, 1.0, 0.3);
      tries++;
      break;
    case DENSITY_BIMODAL:
      x[k] = cbrt(y + rng_normal(&s));
      tries++;
      break;
    case DENSITY_SPIRAL: {
      PetscInt t;
      for (t = 0; t < SPIRAL_MAX_TRIES; t++) {
        const PetscReal w = spiral_w(rng_uniform(&s)), d = y - 0.1 * w * cos(w);
        if (rng_uniform(&s) < exp(-d * d / (2 * SPIRAL_NOISE * SPIRAL_NOISE))) {
          x[k] = 0.1 * w * sin(w) + SPIRAL_NOISE * rng_normal(&s);
          break;
        }
      }
      tries += t + 1;
      PetscCheck(t < SPIRAL_MAX_TRIES, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Y = %g is so far from the spiral (its Y lies within about [-1.5, 1.5]) that %d proposals gave no conditional sample: X | Y = %g has essentially no mass; choose Y nearer the spiral", (double)y, SPIRAL_MAX_TRIES, (double)y);
    } break;
    }
  }
  *accept = n ? (PetscReal)n / (PetscReal)tries : 1;
  PetscFunctionReturn(0);
}

static inline PetscReal normal_pdf(PetscReal z, PetscReal s) { return exp(-0.5 * z * z / (s * s)) / (s * sqrt(2 * PETSC_PI)); }

PetscReal density_conditional_pdf(DensityCase c, PetscReal y, PetscReal x, PetscInt nquad)
{
  switch (c) {
  case DENSITY_TANH: {
    const PetscReal g = x - tanh(y); /* Gamma(1, 0.3) = exponential with mean 0.3 */
    if (y < -3 || y > 3 || g < 0) return 0;
    return exp(-g / 0.3) / 0.3;
  }
  case DENSITY_BIMODAL: /* x^3 - y ~ N(0, 1), |d x^3 / dx| = 3 x^2 */
    return normal_pdf(x * x * x - y, 1) * 3 * x * x;
  case DENSITY_SPIRAL: {
    PetscReal num = 0, den = 0;
    for (PetscInt q = 0; q < nquad; q++) {
      const PetscReal w = spiral_w((q + 0.5) / nquad), py = normal_pdf(y - 0.1 * w * cos(w), SPIRAL_NOISE);
      num += py * normal_pdf(x - 0.1 * w * sin(w), SPIRAL_NOISE);
      den += py;
    }
    return den > 0 ? num / den : 0;
  }
  }
  return NAN;
}
