/* density: the three conditional density benchmarks of Section 5.1 (DESIGN.md section 4).
 *
 *   tanh    (49)  X = tanh(Y) + C1,          Y ~ U(-3, 3), C1 ~ Gamma(shape 1, scale 0.3)
 *   bimodal (50)  X = (Y + C2)^(1/3),        Y ~ N(0, 1),  C2 ~ N(0, 1)   (real cube root)
 *   spiral  (51)  X = 0.1 (W sin W + C3),    Y = 0.1 (W cos W + C4),
 *                 W = 3 pi (1 + 2 H) / 2,    H ~ U(0, 1),  C3, C4 ~ N(0, 1)
 *
 * Joint sample i of a set is drawn from the stream (seed, purpose, i) (rng.h), so a set is the
 * same whatever the number of ranks that generate it: RNG_PURPOSE_DATA for the training set,
 * RNG_PURPOSE_REFERENCE for the paper's fresh 100,000-sample reference set.
 *
 * Exact conditionals X | Y = y (beyond the paper; they show the error of the band reference):
 *   tanh:    tanh(y) + Gamma(1, 0.3), for y in [-3, 3] (outside: no conditional, the band is empty);
 *   bimodal: (y + C2)^(1/3) with C2 ~ N(0, 1), since Y and C2 are independent;
 *   spiral:  H | Y = y has density proportional to exp(-(y - 0.1 W cos W)^2 / 0.02) on (0, 1):
 *            rejection from H ~ U(0, 1) with that acceptance probability, then
 *            X = 0.1 W sin W + 0.1 C3. Sample i is drawn from stream (seed, RNG_PURPOSE_CONDITIONAL, i). */
#ifndef PDEDIFF_DENSITY_H
#define PDEDIFF_DENSITY_H
#include "rng.h"
#include <petscsys.h>

typedef enum { DENSITY_TANH = 0, DENSITY_BIMODAL = 1, DENSITY_SPIRAL = 2 } DensityCase;
extern const char *const DensityCases[]; /* PETSc enum list: "tanh", "bimodal", "spiral" */

/* One joint sample (x, y) from stream (seed, purpose, index). */
void density_joint(DensityCase c, uint64_t seed, uint32_t purpose, uint64_t index, PetscReal *x, PetscReal *y);
/* Samples index0 .. index0+n-1 into x[n], y[n]. */
void density_joint_rows(DensityCase c, uint64_t seed, uint32_t purpose, uint64_t index0, PetscInt n, PetscReal x[], PetscReal y[]);
/* The support of Y: [lo, hi] (+-PETSC_INFINITY when unbounded). */
void density_y_support(DensityCase c, PetscReal *lo, PetscReal *hi);
/* Exact conditional samples x[0..n-1] of X | Y = y, sample k from stream
   (seed, RNG_PURPOSE_CONDITIONAL, index0 + k). *accept is the rejection sampler's acceptance rate
   (1 for tanh and bimodal). An error names y when it lies outside the support (tanh) or when the
   spiral's acceptance is so small (|y| far beyond the spiral) that max_tries proposals per sample
   did not suffice. */
PetscErrorCode DensityConditional(DensityCase c, PetscReal y, uint64_t seed, uint64_t index0, PetscInt n, PetscReal x[], PetscReal *accept);
/* The Sinkhorn distances a Table 1 cell reports per Y value, in the column order of the cell
   file's ot_euclidean / ot_sqeuclidean datasets (pdediff density writes them, pdediff table1
   reads them): generated (ODE, SDE) vs the band; the floor (band vs an exact sample of its size);
   generated vs exact samples; two independent exact samples (the floor of that comparison). */
typedef enum { DENSITY_D_ODE_BAND, DENSITY_D_SDE_BAND, DENSITY_D_FLOOR, DENSITY_D_ODE_EXACT, DENSITY_D_SDE_EXACT, DENSITY_D_EXACT_FLOOR, DENSITY_D_N } DensityDist;
extern const char DensityDistNames[]; /* comma-separated column names */
/* The paper's Table 1 value for a case and formulation key ("ve", "vp"); NaN for others. */
PetscReal density_paper_value(DensityCase c, const char key[]);
/* Probability density of X | Y = y at x (closed form for tanh and bimodal; for the spiral by the
   midpoint rule over H with nquad points, nquad >= 1000 recommended). */
PetscReal density_conditional_pdf(DensityCase c, PetscReal y, PetscReal x, PetscInt nquad);
#endif
