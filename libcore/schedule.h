/* sched: the forward-process formulations of the paper's unified description (20).
 *
 * Every formulation is the same small table of coefficient functions of t in [0, T]:
 *   m(t)      mean factor of the Gaussian kernel p_t(x|x') = N(m x', sigma^2 I)      (21)
 *   sigma(t)  kernel standard deviation (sigma_hat for the bounded-variance family)  (8)
 *   b(t)      drift coefficient in dX = -(b/2) X dt + sqrt(g) dW                     (20)
 *   g(t)      diffusion coefficient
 * and a terminal law N(0, sigma(T)^2 I) to start the reverse process from.
 *
 *   VE  (Sec. 2.1): b = 0, g = sigma_max^(2t), sigma^2 = (sigma_max^(2t) - 1)/ln(sigma_max^2), m = 1.
 *   VP  (Sec. 2.2): b = g = beta(t) = beta_min + t (beta_max - beta_min), m = exp(-B/2), sigma^2 = 1 - m^2,
 *                   B(t) = int_0^t beta.
 *   XI  (Sec. 2.2, new family): xi^p = 1 + sigma_VE^p on the VE process underlying VP,
 *                   sigma_VE^2 = exp(B) - 1, gamma = beta exp(B); m = (1 + sigma_VE^p)^(-1/p),
 *                   sigma = m sigma_VE, b = sigma_VE^(p-2) gamma / (1 + sigma_VE^p), g = gamma m^2.
 *                   p = 2 is VP exactly.
 */
#ifndef PDEDIFF_SCHED_H
#define PDEDIFF_SCHED_H
#include <petscsys.h>

typedef enum { SCHED_VE = 0, SCHED_VP = 1, SCHED_XI = 2 } SchedType;
extern const char *const SchedTypes[]; /* PETSc enum list: "ve", "vp", "xi", ... */

typedef struct {
  SchedType type;
  PetscReal T;         /* final time of the forward process (Table A1: 1) */
  PetscReal eps;       /* smallest time: training t ~ U(eps, T), sampling ends at t = eps */
  PetscReal sigma_max; /* VE: sigma_max > 1 (Table A1: 5) */
  PetscReal beta_min;  /* VP/XI: beta(t) = beta_min + t (beta_max - beta_min) (0.001) */
  PetscReal beta_max;  /* (5) */
  PetscReal p;         /* XI: exponent p > 0 (p = 2 is VP) */
} Sched;

typedef struct {
  PetscReal m, sigma, b, g;
} SchedCoef;

/* Defaults of the paper's Table A1 (VE, sigma_max 5, beta in [0.001, 5], T 1, eps 1e-5, p 2). */
PetscErrorCode SchedSetDefaults(Sched *s);
/* Parse -sde_type, -sde_sigma_max, -sde_beta_min, -sde_beta_max, -sde_p, -sde_T, -sde_eps
   (with an optional extra prefix), then validate. */
PetscErrorCode SchedSetFromOptions(MPI_Comm comm, const char prefix[], Sched *s);
/* Error naming the option and the allowed range if a parameter is out of range. */
PetscErrorCode SchedValidate(const Sched *s);
/* Coefficients at time t (0 <= t <= T). Pure function, safe in hot loops. */
void sched_coef(const Sched *s, PetscReal t, SchedCoef *c);
/* Standard deviation of the terminal law N(0, sigma(T)^2 I) the reverse process starts from. */
PetscReal sched_prior_std(const Sched *s);
/* One-line human description, e.g. "VE(sigma_max=5)". */
PetscErrorCode SchedDescribe(const Sched *s, char buf[], size_t len);

#endif
