/* test_mcmc: the reference MCMC of the clipped-prior posterior (libcore/mcmc.h).
 *   - integrated autocorrelation time: ~1 for white noise, (1 + phi)/(1 - phi) = 19 for AR(1) with
 *     phi = 0.9 (within 15% on 200,000 steps);
 *   - without active clipping the reference is the target: one likelihood evaluation per step,
 *     independent draws (IAT ~ 1), mean and std of the Gaussian posterior within 5 standard errors;
 *   - with clipping active (prior mean 0.3, so x = max(0, 0.3 + z) is 0 a third of the time), with
 *     the unclipped posterior as reference and with the reference refitted after burn-in:
 *     posterior mean and std of x against 2-D quadrature of prior x likelihood, within 5 Monte-Carlo
 *     standard errors std sqrt(IAT / n) (and at least 2e-3);
 *   - the chain depends only on (seed, chain index);
 *   - a chain extended to a target ESS (from a base shorter than needed, storage for 20,000 rows,
 *     so its rows become batch means) reaches it, and its mean and std equal those of the same chain run to the
 *     same length in one go (1e-12: Welford over every state either way); a target it cannot
 *     reach stops at the cap and reports it; bad -mcmc_min_ess / -mcmc_max_iter are refused. */
#include "blascore.h"
#include "mcmc.h"
#include "post.h"
#include "rng.h"
#include "testutil.h"
#include <math.h>

/* Posterior moments of x = max(0, m + z) on a grid over z ~ N(0, K) (2-D) with y = H x + e. */
static void Quadrature(const PetscReal K[4], const PetscReal H[2], PetscReal m, PetscReal s2, PetscReal y, PetscReal mean[2], PetscReal sd[2])
{
  const PetscInt  n = 1600;
  const PetscReal a = 7, h = 2 * a / n, det = K[0] * K[3] - K[1] * K[2];
  PetscReal       Z = 0, s1[2] = {0, 0}, s2x[2] = {0, 0};
  for (PetscInt i = 0; i < n; i++)
    for (PetscInt j = 0; j < n; j++) {
      const PetscReal z0 = -a + (i + 0.5) * h, z1 = -a + (j + 0.5) * h;
      const PetscReal q  = (K[3] * z0 * z0 - 2 * K[1] * z0 * z1 + K[0] * z1 * z1) / det;
      const PetscReal x0 = PetscMax(0, m + z0), x1 = PetscMax(0, m + z1), r = y - H[0] * x0 - H[1] * x1;
      const PetscReal wgt = exp(-0.5 * q - 0.5 * r * r / s2);
      Z += wgt;
      s1[0] += wgt * x0, s1[1] += wgt * x1;
      s2x[0] += wgt * x0 * x0, s2x[1] += wgt * x1 * x1;
    }
  for (PetscInt k = 0; k < 2; k++) {
    mean[k] = s1[k] / Z;
    sd[k]   = PetscSqrtReal(s2x[k] / Z - mean[k] * mean[k]);
  }
}

static PetscErrorCode ChainExt(SlpkGrid *g, PetscReal m, PetscInt n_iter, PetscBool refit, PetscReal min_ess, PetscInt max_iter, PetscReal mean[2], PetscReal sd[2], McmcStats *st, PetscReal Gmean[2], PetscReal Gsd[2])
{
  const PetscReal K[4] = {1, 0.5, 0.5, 1}, H[2] = {1, 2}, s2 = 0.25, y = 1.0 + 3 * m;
  const PetscReal LK[4] = {1, 0, 0.5, PetscSqrtReal(0.75)};
  PetscReal       zero[2] = {0, 0}, Id[4] = {1, 0, 0, 1}, HL[2], Y[1], Y2[1], Mu[2], Sig[4], L[4], *work, MuZ[2], SigZ[4];
  McmcProblem     p;
  McmcOpts        o = {n_iter, 2000, 5, refit, min_ess, max_iter};
  PetscFunctionBeginUser;
  /* the burn-in reference: the exact posterior of the whitened latent for the unclipped model */
  HL[0] = H[0] * LK[0] + H[1] * LK[2], HL[1] = H[1] * LK[3];
  Y[0]  = y - (H[0] + H[1]) * m;
  PetscCall(PostGaussian(g, 1, 2, HL, Id, zero, s2, 1, Y, Mu, Sig));
  L[0] = PetscSqrtReal(Sig[0]), L[1] = 0, L[2] = Sig[2] / L[0], L[3] = PetscSqrtReal(Sig[3] - L[2] * L[2]);
  p     = (McmcProblem){2, 1, H, LK, m, s2, PETSC_TRUE, Mu, L};
  Y2[0] = y;
  PetscCall(PetscMalloc1(2 * (PetscMax(n_iter, o.n_burn) + 1), &work));
  PetscCall(McmcRun(&p, &o, 0, Y2, mean, sd, st, work));
  PetscCall(PetscFree(work));
  /* the unclipped posterior of x itself, for comparison */
  PetscCall(PostGaussian(g, 1, 2, H, K, zero, s2, 1, Y, MuZ, SigZ));
  for (PetscInt k = 0; k < 2; k++) Gmean[k] = m + MuZ[k], Gsd[k] = PetscSqrtReal(SigZ[3 * k]);
  PetscFunctionReturn(0);
}

static PetscErrorCode Chain(SlpkGrid *g, PetscReal m, PetscInt n_iter, PetscBool refit, PetscReal mean[2], PetscReal sd[2], McmcStats *st, PetscReal Gmean[2], PetscReal Gsd[2])
{
  PetscFunctionBeginUser;
  PetscCall(ChainExt(g, m, n_iter, refit, 0, 0, mean, sd, st, Gmean, Gsd));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  SlpkGrid g;

  BlasCoreReexec(argc, argv); /* before anything starts: OpenBLAS kernels for this CPU (blascore.h) */
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  { /* IAT estimator */
    const PetscInt n = 200000;
    PetscReal     *v, *a;
    RngStream      s;
    PetscCall(PetscMalloc2(n, &v, n, &a));
    rng_stream_init(&s, 1, RNG_PURPOSE_TEST, 0);
    for (PetscInt i = 0; i < n; i++) v[i] = rng_normal(&s);
    a[0] = v[0];
    for (PetscInt i = 1; i < n; i++) a[i] = 0.9 * a[i - 1] + PetscSqrtReal(1 - 0.81) * v[i];
    const PetscReal t0 = mcmc_iat(n, 1, v), t1 = mcmc_iat(n, 1, a);
    CHECK(PetscAbsReal(t0 - 1) < 0.1 && PetscAbsReal(t1 / 19 - 1) < 0.15, "IAT: white noise %.3f (1), AR(1) phi 0.9 %.2f (19)", (double)t0, (double)t1);
    /* from batch means (what an extended chain stores): AR(1) phi 0.99 (IAT 199) over 2,000,000
       steps in batches of 16 (< tau) and 1024 (> tau), white noise in batches of 64; var1 = 1
       exactly. One SD of each estimate (Sokal: rel. SD sqrt(2 (2 c tau_Y + 1) / nb); var(Y):
       sqrt(2 / nb)) is about 4.5%, 12% and 2.5%; the bounds are ~4 SD (18%, 48%, 10%): the
       batches of 1024 (1,953 of them) check that the estimate does not collapse to b or to 1,
       not its precision. (On the 200,000 steps above, one realisation
       gave 290 for the plain estimate: 1,000 effective samples are too few for a sharp test.) */
    {
      const PetscInt N = 2000000;
      PetscReal     *Y, *A, *W, tb[3];
      PetscInt       bs[2] = {16, 1024};
      RngStream      s2;
      PetscCall(PetscMalloc3(N, &Y, N, &A, N, &W));
      rng_stream_init(&s2, 2, RNG_PURPOSE_TEST, 0);
      for (PetscInt i = 0; i < N; i++) W[i] = rng_normal(&s2);
      A[0] = W[0];
      for (PetscInt i = 1; i < N; i++) A[i] = 0.99 * A[i - 1] + PetscSqrtReal(1 - 0.99 * 0.99) * W[i];
      for (PetscInt k = 0; k < 3; k++) {
        const PetscInt   b = k < 2 ? bs[k] : 64, nb = N / b;
        const PetscReal *src = k < 2 ? A : W;
        for (PetscInt i = 0; i < nb; i++) {
          PetscReal sum = 0;
          for (PetscInt q = 0; q < b; q++) sum += src[i * b + q];
          Y[i] = sum / b;
        }
        tb[k] = mcmc_iat_batched(nb, 1, Y, b, 1.0);
      }
      CHECK(PetscAbsReal(tb[0] / 199 - 1) < 0.18 && PetscAbsReal(tb[1] / 199 - 1) < 0.48 && PetscAbsReal(tb[2] - 1) < 0.1, "IAT from batch means: AR(1) phi 0.99 (199) in batches of 16: %.1f, of 1024: %.1f; white noise in batches of 64: %.3f (1)", (double)tb[0], (double)tb[1], (double)tb[2]);
      PetscCall(PetscFree3(Y, A, W));
    }
    PetscCall(PetscFree2(v, a));
  }
  PetscCall(SlpkGridCreate(PETSC_COMM_WORLD, &g));
  { /* no clipping active: the reference is the target */
    PetscReal mean[2], sd[2], gm[2], gs[2], e = 0;
    McmcStats st;
    const PetscInt n = 50000;
    PetscCall(Chain(&g, 10, n, PETSC_FALSE, mean, sd, &st, gm, gs));
    for (PetscInt k = 0; k < 2; k++) e = PetscMax(e, PetscAbsReal(mean[k] - gm[k]) / (gs[k] / PetscSqrtReal(n)));
    CHECK(st.evals_per_step == 1 && st.repeated == 0 && st.iat_max < 1.2 && e < 5 && PetscAbsReal(sd[0] / gs[0] - 1) < 0.03, "prior mean 10 (no clipping): %.2f evaluations per step, IAT %.2f, mean within %.2f SE of the Gaussian posterior, std ratio %.4f", (double)st.evals_per_step, (double)st.iat_max, (double)e, (double)(sd[0] / gs[0]));
  }
  for (PetscInt refit = 0; refit < 2; refit++) { /* clipping active: against quadrature */
    const PetscReal K[4] = {1, 0.5, 0.5, 1}, H[2] = {1, 2};
    PetscReal       mean[2], sd[2], gm[2], gs[2], qm[2], qs[2], em = 0, es = 0;
    McmcStats       st;
    const PetscInt  n = 200000;
    PetscCall(Chain(&g, 0.3, n, (PetscBool)refit, mean, sd, &st, gm, gs));
    Quadrature(K, H, 0.3, 0.25, 1.0 + 0.9, qm, qs);
    for (PetscInt k = 0; k < 2; k++) {
      const PetscReal se = PetscMax(2e-3, qs[k] * PetscSqrtReal(st.iat_max / n));
      em = PetscMax(em, PetscAbsReal(mean[k] - qm[k]) / se);
      es = PetscMax(es, PetscAbsReal(sd[k] - qs[k]) / se);
    }
    CHECK(em < 5 && es < 5, "prior mean 0.3 (clipping active), reference %s: MCMC mean (%.4f, %.4f) std (%.4f, %.4f) vs quadrature (%.4f, %.4f) (%.4f, %.4f): %.2f and %.2f standard errors; %.2f evaluations per step, IAT %.2f, %d repeated", refit ? "refitted to the burn-in" : "the unclipped posterior", (double)mean[0], (double)mean[1], (double)sd[0], (double)sd[1], (double)qm[0], (double)qm[1], (double)qs[0], (double)qs[1], (double)em, (double)es, (double)st.evals_per_step, (double)st.iat_max, (int)st.repeated);
    if (!refit) CHECK(PetscAbsReal(gm[0] - qm[0]) > 10 * PetscMax(2e-3, qs[0] * PetscSqrtReal(st.iat_max / n)), "the clipped posterior differs from the unclipped Gaussian one (mean %.4f vs %.4f): the test sees the clipping", (double)qm[0], (double)gm[0]);
    PetscReal mean2[2], sd2[2];
    PetscCall(Chain(&g, 0.3, n, (PetscBool)refit, mean2, sd2, &st, gm, gs));
    if (refit) CHECK(mean2[0] == mean[0] && sd2[1] == sd[1], "the chain is a function of (seed, chain index)");
  }
  { /* extension to a target ESS: the clipped case with the unclipped reference (IAT ~14) from a
       base of 20,000 steps with room for 20,000 rows, so the rows become batch means on the way */
    PetscReal      mean[2], sd[2], gm[2], gs[2], fm[2], fs[2], d = 0;
    McmcStats      st, sf, sc;
    const PetscInt n0 = 20000;
    PetscCall(ChainExt(&g, 0.3, n0, PETSC_FALSE, 9000, 1000000, mean, sd, &st, gm, gs));
    /* the same chain run to the same length in one go, every state stored (st.steps may be odd) */
    PetscCall(Chain(&g, 0.3, st.steps, PETSC_FALSE, fm, fs, &sf, gm, gs));
    for (PetscInt k = 0; k < 2; k++) d = PetscMax(d, PetscMax(PetscAbsReal(mean[k] - fm[k]), PetscAbsReal(sd[k] - fs[k])));
    CHECK(st.steps > n0 && st.thin > 1 && sf.thin == 1 && !st.capped && st.ess_min >= 9000 && d < 1e-12, "chain extended to ESS >= 9000: %" PetscInt_FMT " steps (base %" PetscInt_FMT "), rows are means of %" PetscInt_FMT " states, ESS %.0f, not capped; mean and std equal those of a %" PetscInt_FMT "-step chain to %.1e", st.steps, n0, st.thin, (double)st.ess_min, st.steps, (double)d);
    CHECK(st.iat_max > 0.8 * sf.iat_max, "IAT from %" PetscInt_FMT "-state batch means %.2f vs %.2f from every state of the same chain (not below it by more than 20%%: the extension does not stop early)", st.thin, (double)st.iat_max, (double)sf.iat_max);
    PetscCall(ChainExt(&g, 0.3, n0, PETSC_FALSE, 1e6, 50000, mean, sd, &sc, gm, gs));
    CHECK(sc.capped && sc.steps == 50000 && sc.ess_min < 1e6, "a chain that cannot reach -mcmc_min_ess stops at -mcmc_max_iter (%" PetscInt_FMT " steps) and says so (capped %d)", sc.steps, (int)sc.capped);
    char why[256];
    McmcOpts bad = {n0, 2000, 5, PETSC_FALSE, -1, 0};
    PetscCall(mcmc_check(2, &bad, why, sizeof(why)));
    CHECK(why[0] != 0, "a negative -mcmc_min_ess is refused: %s", why);
    bad.min_ess  = 100;
    bad.max_iter = n0 - 1;
    PetscCall(mcmc_check(2, &bad, why, sizeof(why)));
    CHECK(why[0] != 0, "-mcmc_max_iter below -mcmc_iter is refused: %s", why);
  }
  { /* independent draws (no clipping) extended to ESS 100,000 from 20,000 steps: the IAT from
       the batch means stays ~1 (keeping every 8th state instead would report ~8) */
    PetscReal mean[2], sd[2], gm[2], gs[2];
    McmcStats st;
    PetscCall(ChainExt(&g, 10, 20000, PETSC_FALSE, 100000, 1000000, mean, sd, &st, gm, gs));
    CHECK(st.thin >= 4 && PetscAbsReal(st.iat_max - 1) < 0.1 && st.steps <= 1.2 * 1.1 * 100000 && st.ess_min >= 100000, "independent draws extended to ESS 100,000: IAT %.3f from %" PetscInt_FMT "-state batch means, %" PetscInt_FMT " steps, ESS %.0f", (double)st.iat_max, st.thin, st.steps, (double)st.ess_min);
  }
  PetscCall(SlpkGridDestroy(&g));
  {
    int status = TestFinish("test_mcmc");
    PetscCall(PetscFinalize());
    return status;
  }
}
