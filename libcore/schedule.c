#include "schedule.h"
#include <math.h>

const char *const SchedTypes[] = {"ve", "vp", "xi", "SchedType", "SCHED_", NULL};

PetscErrorCode SchedSetDefaults(Sched *s)
{
  PetscFunctionBeginUser;
  s->type      = SCHED_VE;
  s->T         = 1.0;
  s->eps       = 1e-5;
  s->sigma_max = 5.0;
  s->beta_min  = 0.001;
  s->beta_max  = 5.0;
  s->p         = 2.0;
  PetscFunctionReturn(0);
}

PetscErrorCode SchedValidate(const Sched *s)
{
  PetscFunctionBeginUser;
  PetscCheck(s->T > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-sde_T %g: the final time must be > 0", (double)s->T);
  PetscCheck(s->eps > 0 && s->eps < s->T, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-sde_eps %g: must lie in (0, -sde_T = %g)", (double)s->eps, (double)s->T);
  switch (s->type) {
  case SCHED_VE:
    PetscCheck(s->sigma_max > 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-sde_sigma_max %g: VE needs sigma_max > 1 (Table A1 uses 5)", (double)s->sigma_max);
    break;
  case SCHED_XI:
    PetscCheck(s->p > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-sde_p %g: the xi^p = 1 + sigma_VE^p family needs p > 0 (p = 2 is VP)", (double)s->p);
    /* fall through: XI shares beta(t) with VP */
  case SCHED_VP:
    PetscCheck(s->beta_min >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-sde_beta_min %g: must be >= 0", (double)s->beta_min);
    PetscCheck(s->beta_max >= s->beta_min, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-sde_beta_max %g < -sde_beta_min %g: need beta_max >= beta_min", (double)s->beta_max, (double)s->beta_min);
    PetscCheck(s->beta_max > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-sde_beta_max %g: must be > 0", (double)s->beta_max);
    break;
  default:
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "-sde_type: unknown formulation %d; use ve, vp or xi", (int)s->type);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode SchedSetFromOptions(MPI_Comm comm, const char prefix[], Sched *s)
{
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "Forward-process formulation (paper Sec. 2, Table A1)", "sched");
  PetscCall(PetscOptionsEnum("-sde_type", "Formulation: ve (variance exploding), vp (variance preserving), xi (bounded family xi^p = 1 + sigma_VE^p)", "sched", SchedTypes, (PetscEnum)s->type, (PetscEnum *)&s->type, NULL));
  PetscCall(PetscOptionsReal("-sde_T", "Final time T of the forward process", "sched", s->T, &s->T, NULL));
  PetscCall(PetscOptionsReal("-sde_eps", "Smallest time eps: training t ~ U(eps, T), sampling stops at t = eps", "sched", s->eps, &s->eps, NULL));
  PetscCall(PetscOptionsReal("-sde_sigma_max", "VE: sigma_max > 1, g(t) = sigma_max^(2t)", "sched", s->sigma_max, &s->sigma_max, NULL));
  PetscCall(PetscOptionsReal("-sde_beta_min", "VP/xi: beta(0) >= 0", "sched", s->beta_min, &s->beta_min, NULL));
  PetscCall(PetscOptionsReal("-sde_beta_max", "VP/xi: beta(1) >= beta_min", "sched", s->beta_max, &s->beta_max, NULL));
  PetscCall(PetscOptionsReal("-sde_p", "xi: exponent p > 0 of xi^p = 1 + sigma_VE^p (p = 2 is VP)", "sched", s->p, &s->p, NULL));
  PetscOptionsEnd();
  PetscCall(SchedValidate(s));
  PetscFunctionReturn(0);
}

void sched_coef(const Sched *s, PetscReal t, SchedCoef *c)
{
  switch (s->type) {
  case SCHED_VE: {
    const PetscReal l2 = 2.0 * log(s->sigma_max); /* ln(sigma_max^2) */
    c->m     = 1.0;
    c->b     = 0.0;
    c->g     = exp(l2 * t);
    c->sigma = sqrt(expm1(l2 * t) / l2);
  } break;
  case SCHED_VP: {
    const PetscReal beta = s->beta_min + t * (s->beta_max - s->beta_min);
    const PetscReal B    = s->beta_min * t + 0.5 * (s->beta_max - s->beta_min) * t * t;
    c->m     = exp(-0.5 * B);
    c->sigma = sqrt(-expm1(-B)); /* 1 - m^2 without cancellation at small t */
    c->b     = beta;
    c->g     = beta;
  } break;
  case SCHED_XI: {
    const PetscReal beta  = s->beta_min + t * (s->beta_max - s->beta_min);
    const PetscReal B     = s->beta_min * t + 0.5 * (s->beta_max - s->beta_min) * t * t;
    const PetscReal sve2  = expm1(B);         /* sigma_VE^2 = exp(B) - 1 */
    const PetscReal gamma = beta * exp(B);    /* d sigma_VE^2 / dt */
    const PetscReal svep  = pow(sve2, 0.5 * s->p); /* sigma_VE^p */
    const PetscReal m     = pow(1.0 + svep, -1.0 / s->p);
    c->m     = m;
    c->sigma = m * sqrt(sve2);
    /* b = 2 xi'/xi = sigma_VE^(p-2) gamma / (1 + sigma_VE^p); at t = 0 with p < 2 it is singular
       but integrable, and sampling never evaluates t < eps. */
    c->b = (sve2 > 0 ? pow(sve2, 0.5 * (s->p - 2.0)) : (s->p < 2.0 ? INFINITY : (s->p == 2.0 ? 1.0 : 0.0))) * gamma / (1.0 + svep);
    c->g = gamma * m * m;
  } break;
  default:
    c->m = c->sigma = c->b = c->g = NAN;
  }
}

PetscReal sched_prior_std(const Sched *s)
{
  SchedCoef c;
  sched_coef(s, s->T, &c);
  return c.sigma;
}

PetscErrorCode SchedDescribe(const Sched *s, char buf[], size_t len)
{
  PetscFunctionBeginUser;
  switch (s->type) {
  case SCHED_VE:
    PetscCall(PetscSNPrintf(buf, len, "VE(sigma_max=%g,T=%g,eps=%g)", (double)s->sigma_max, (double)s->T, (double)s->eps));
    break;
  case SCHED_VP:
    PetscCall(PetscSNPrintf(buf, len, "VP(beta_min=%g,beta_max=%g,T=%g,eps=%g)", (double)s->beta_min, (double)s->beta_max, (double)s->T, (double)s->eps));
    break;
  case SCHED_XI:
    PetscCall(PetscSNPrintf(buf, len, "XI(p=%g,beta_min=%g,beta_max=%g,T=%g,eps=%g)", (double)s->p, (double)s->beta_min, (double)s->beta_max, (double)s->T, (double)s->eps));
    break;
  default:
    PetscCall(PetscSNPrintf(buf, len, "unknown"));
  }
  PetscFunctionReturn(0);
}
