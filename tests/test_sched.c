/* test_sched: the forward-process formulations.
 * 1. xi^p family with p = 2 reproduces VP to round-off (m, sigma, b, g on a grid of t).
 * 2. For every formulation, the moment equations of (20), m' = -(b/2) m and v' = -b v + g with
 *    v = sigma^2, integrated numerically from eps to T (classical RK4 on a geometric-then-uniform
 *    grid) match the closed-form m(t) and sigma^2(t).
 * 3. Out-of-range parameters are rejected with an error. */
#include "blascore.h"
#include "schedule.h"
#include "testutil.h"
#include <math.h>

static void Rhs(const Sched *s, PetscReal t, const PetscReal y[2], PetscReal f[2])
{
  SchedCoef c;
  sched_coef(s, t, &c);
  f[0] = -0.5 * c.b * y[0];
  f[1] = -c.b * y[1] + c.g;
}

/* Integrate the moment ODEs from eps to T; return the max relative error against closed form. */
static PetscReal MomentError(const Sched *s, PetscInt nsteps)
{
  SchedCoef c;
  PetscReal y[2], t = s->eps, err = 0;
  sched_coef(s, t, &c);
  y[0] = c.m;
  y[1] = c.sigma * c.sigma;
  /* geometric steps from eps to 1e-2 resolve the t^((p-2)/2) singularity of b for p < 2 */
  const PetscReal tg = 1e-2;
  for (PetscInt k = 0; k < 2 * nsteps; k++) {
    PetscReal tn = (k < nsteps) ? s->eps * pow(tg / s->eps, (k + 1.0) / nsteps) : tg + (s->T - tg) * (k + 1.0 - nsteps) / nsteps;
    PetscReal h  = tn - t, k1[2], k2[2], k3[2], k4[2], yt[2];
    Rhs(s, t, y, k1);
    for (int i = 0; i < 2; i++) yt[i] = y[i] + 0.5 * h * k1[i];
    Rhs(s, t + 0.5 * h, yt, k2);
    for (int i = 0; i < 2; i++) yt[i] = y[i] + 0.5 * h * k2[i];
    Rhs(s, t + 0.5 * h, yt, k3);
    for (int i = 0; i < 2; i++) yt[i] = y[i] + h * k3[i];
    Rhs(s, tn, yt, k4);
    for (int i = 0; i < 2; i++) y[i] += h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
    t = tn;
    sched_coef(s, t, &c);
    err = PetscMax(err, PetscAbsReal(y[0] - c.m) / c.m);
    err = PetscMax(err, PetscAbsReal(y[1] - c.sigma * c.sigma) / (c.sigma * c.sigma));
  }
  return err;
}

int main(int argc, char **argv)
{
  Sched     ve, vp, xi;
  PetscReal maxd = 0;
  int       status;

  BlasCoreReexec(argc, argv); /* before anything starts: OpenBLAS kernels for this CPU (blascore.h) */
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(SchedSetDefaults(&ve));
  vp      = ve;
  vp.type = SCHED_VP;
  xi      = vp;
  xi.type = SCHED_XI;
  xi.p    = 2.0;

  /* 1. p = 2 is VP */
  for (int k = 0; k <= 1000; k++) {
    const PetscReal t = xi.eps + (xi.T - xi.eps) * k / 1000.0;
    SchedCoef       a, b;
    sched_coef(&vp, t, &a);
    sched_coef(&xi, t, &b);
    maxd = PetscMax(maxd, PetscAbsReal(a.m - b.m) / a.m);
    maxd = PetscMax(maxd, PetscAbsReal(a.sigma - b.sigma) / a.sigma);
    maxd = PetscMax(maxd, PetscAbsReal(a.b - b.b) / a.b);
    maxd = PetscMax(maxd, PetscAbsReal(a.g - b.g) / a.g);
  }
  CHECK(maxd < 1e-13, "xi p=2 vs VP: max relative difference of m, sigma, b, g over 1001 times = %.3e (< 1e-13)", (double)maxd);

  /* 1b. VP limits: sigma^2 + m^2 = 1; VE: m = 1, b = 0, sigma(T)^2 = (sigma_max^2 - 1)/ln(sigma_max^2) */
  {
    SchedCoef c;
    sched_coef(&vp, 0.37, &c);
    CHECK(PetscAbsReal(c.m * c.m + c.sigma * c.sigma - 1) < 1e-14, "VP m^2 + sigma^2 - 1 = %.2e at t = 0.37", (double)(c.m * c.m + c.sigma * c.sigma - 1));
    const PetscReal s2 = (25.0 - 1) / log(25.0);
    CHECK(PetscAbsReal(sched_prior_std(&ve) - sqrt(s2)) < 1e-13, "VE sigma(T) = %.15f, closed form %.15f", (double)sched_prior_std(&ve), sqrt(s2));
  }

  /* 2. moment equations for every formulation (default parameters and a longer VP/VE) */
  {
    struct {
      SchedType type;
      PetscReal p, smax, bmax;
    } cases[] = {
      {SCHED_VE, 2, 5, 5},  {SCHED_VE, 2, 1000, 5}, {SCHED_VP, 2, 5, 5}, {SCHED_VP, 2, 5, 30},  {SCHED_XI, 0.5, 5, 5},
      {SCHED_XI, 1, 5, 5},  {SCHED_XI, 2, 5, 5},    {SCHED_XI, 3, 5, 5}, {SCHED_XI, 4, 5, 5},   {SCHED_XI, 4, 5, 30},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
      Sched s;
      char  d[128];
      PetscCall(SchedSetDefaults(&s));
      s.type      = cases[i].type;
      s.p         = cases[i].p;
      s.sigma_max = cases[i].smax;
      s.beta_max  = cases[i].bmax;
      PetscCall(SchedValidate(&s));
      PetscCall(SchedDescribe(&s, d, sizeof(d)));
      const PetscReal e1 = MomentError(&s, 2000), e2 = MomentError(&s, 4000);
      /* RK4: halving the step cuts the error ~16x until round-off; require both small */
      CHECK(e2 < 1e-8, "%s: moment ODEs vs closed form, max rel. error %.2e (2x2000 steps), %.2e (2x4000 steps), bound 1e-8", d, (double)e1, (double)e2);
    }
  }

  /* 3. bad parameters are errors */
  {
    struct {
      SchedType type;
      PetscReal p, smax, bmin, bmax, eps;
      const char *what;
    } bad[] = {
      {SCHED_XI, 0, 5, 0.001, 5, 1e-5, "p = 0"},
      {SCHED_XI, -1, 5, 0.001, 5, 1e-5, "p = -1"},
      {SCHED_VE, 2, 1, 0.001, 5, 1e-5, "sigma_max = 1"},
      {SCHED_VP, 2, 5, 0.5, 0.1, 1e-5, "beta_max < beta_min"},
      {SCHED_VP, 2, 5, 0.001, 5, 0, "eps = 0"},
      {(SchedType)7, 2, 5, 0.001, 5, 1e-5, "unknown type"},
    };
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
      Sched s;
      PetscCall(SchedSetDefaults(&s));
      s.type      = bad[i].type;
      s.p         = bad[i].p;
      s.sigma_max = bad[i].smax;
      s.beta_min  = bad[i].bmin;
      s.beta_max  = bad[i].bmax;
      s.eps       = bad[i].eps;
      PetscErrorCode ierr = SchedValidate(&s);
      CHECK(ierr != 0, "SchedValidate rejects %s (error code %d)", bad[i].what, (int)ierr);
    }
    PetscCall(PetscPopErrorHandler());
  }
  status = TestFinish("test_sched");
  PetscCall(PetscFinalize());
  return status;
}
