/* test_dsm: the denoising score-matching loss (48) wired to the MLP and Adam.
 * 1. The loss and its gradient match a direct evaluation: DsmLossGrad's parameter gradient
 *    equals the MLP backward of dL/ds = 2 scale sigma (sigma s + z), and splitting a batch in
 *    two parts with the same scale sums to the whole (the data-parallel identity).
 * 1a. With -net_output noise the loss sum is sum |z - out|^2 and its gradient the MLP backward of
 *    dL/dout = -2 scale (z - out), against a direct evaluation.
 * 1b. The time embeddings (A.1) and logsigma, entry by entry.
 * 1c. With -net_output edm: the training set's scales (DsmParamSetDataScale) against the sample
 *    mean and std; the loss sum is sum |F - F*|^2 and its gradient the MLP backward of
 *    2 scale (F - F*); the score the sampler gets (dsm_edm_coef) satisfies, row by row, Tweedie
 *    (m D - x_t = sigma^2 s with D = c0 + c_skip (x^ - c0) + c_out F written out) and
 *    sigma s + z = (c_out / s^)(F - F*), i.e. the loss is (48) weighted by (s^/c_out)^2; and
 *    F* -> -z (the noise output, negated) for s^ << sigma_skip.
 * 2. Training a small network (5-32-32-1) by DSM + Adam on 1-D data N(0.7, 0.4^2) under VP, with
 *    either time embedding and with the noise output (score -out / sigma) and the edm output, learns the exact time-marginal score: RMS of sigma (s_theta - s) over a grid of t in
 *    [0.05, 1] and x within 2 std of p_t below 0.05 (measured 0.026) (the target sigma s has unit scale). */
#include "blascore.h"
#include "adam.h"
#include "dsm.h"
#include "rng.h"
#include "testutil.h"
#include <math.h>

/* DsmLossGrad's loss sum *l and gradient g (zeroed first) with the parametrisation in dw, then the
   network's outputs on the rows [x_t | f(t)] (paper embedding) built here by hand from (23). */
static PetscErrorCode DirectForward(const Sched *sch, const MlpArch *a, const float p[], PetscInt B, const float x0[], const PetscReal t[], const float z[], float g[], PetscReal *l, DsmWork *dw, float in[], float out[], MlpWork_f *w)
{
  PetscFunctionBeginUser;
  PetscCall(PetscArrayzero(g, a->nparams));
  PetscCall(DsmLossGrad(sch, a, p, B, x0, NULL, t, z, 1.0 / B, g, l, dw));
  for (PetscInt i = 0; i < B; i++) {
    SchedCoef c;
    sched_coef(sch, t[i], &c);
    in[5 * i] = (float)(c.m * x0[i] + c.sigma * z[i]);
    dsm_time_embed(sch, DSM_EMBED_PAPER, t[i], in + 5 * i + 1);
  }
  PetscCall(MlpForward_f(a, p, B, in, out, w));
  PetscFunctionReturn(0);
}

/* g2 = the MLP backward of dL/dout = dout; *dmax = max |g1 - g2|, *gmax = max |g2|. */
static PetscErrorCode DirectGradientGap(const MlpArch *a, const float p[], PetscInt B, const float dout[], const float g1[], float g2[], MlpWork_f *w, PetscReal *dmax, PetscReal *gmax)
{
  PetscFunctionBeginUser;
  PetscCall(PetscArrayzero(g2, a->nparams));
  PetscCall(MlpBackward_f(a, p, B, dout, g2, NULL, w));
  *dmax = *gmax = 0;
  for (PetscInt k = 0; k < a->nparams; k++) {
    *gmax = PetscMax(*gmax, PetscAbsReal(g2[k]));
    *dmax = PetscMax(*dmax, PetscAbsReal(g1[k] - g2[k]));
  }
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  Sched     sch;
  MlpArch   a;
  DsmWork   dw;
  float    *p, *g1, *g2, *x0, *z;
  PetscReal *t;
  const PetscInt B = 256;
  const PetscReal mu = 0.7, s = 0.4;
  int       status;

  BlasCoreReexec(argc, argv); /* before anything starts: OpenBLAS kernels for this CPU (blascore.h) */
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(SchedSetDefaults(&sch));
  sch.type = SCHED_VP;
  PetscCall(MlpArchCreate(1 + DSM_TIME_EMBED, 2, 32, 1, &a));
  PetscCall(DsmWorkCreate(&a, 1, 0, dsm_param_paper(), B, &dw));
  PetscCall(PetscMalloc6(a.nparams, &p, a.nparams, &g1, a.nparams, &g2, B, &x0, B, &z, B, &t));
  PetscCall(MlpInitParams_f(&a, 3, p));

  RngStream r;
  rng_stream_init(&r, 9, RNG_PURPOSE_TEST, 0);
  for (PetscInt i = 0; i < B; i++) {
    x0[i] = (float)(mu + s * rng_normal(&r));
    z[i]  = (float)rng_normal(&r);
    t[i]  = sch.eps + (sch.T - sch.eps) * rng_uniform(&r);
  }
  /* 1. split-batch identity and loss value */
  {
    PetscReal l1, l2a, l2b, gmax = 0, dmax = 0;
    PetscCall(PetscArrayzero(g1, a.nparams));
    PetscCall(PetscArrayzero(g2, a.nparams));
    PetscCall(DsmLossGrad(&sch, &a, p, B, x0, NULL, t, z, 1.0 / B, g1, &l1, &dw));
    PetscCall(DsmLossGrad(&sch, &a, p, 100, x0, NULL, t, z, 1.0 / B, g2, &l2a, &dw));
    PetscCall(DsmLossGrad(&sch, &a, p, B - 100, x0 + 100, NULL, t + 100, z + 100, 1.0 / B, g2, &l2b, &dw));
    for (PetscInt k = 0; k < a.nparams; k++) {
      gmax = PetscMax(gmax, PetscAbsReal(g1[k]));
      dmax = PetscMax(dmax, PetscAbsReal(g1[k] - g2[k]));
    }
    CHECK(PetscAbsReal(l1 - l2a - l2b) < 1e-6 * l1 && dmax < 1e-5 * gmax, "split batch 100 + 156 vs 256: loss sums %.9g vs %.9g, max gradient difference %.2e of max %.2e", (double)l1, (double)(l2a + l2b), (double)dmax, (double)gmax);
    /* direct loss: rebuild x_t and the input rows by hand */
    PetscReal lref = 0;
    float     in[5], out;
    MlpWork_f w;
    PetscCall(MlpWorkCreate_f(&a, 1, &w));
    for (PetscInt i = 0; i < B; i++) {
      SchedCoef c;
      sched_coef(&sch, t[i], &c);
      in[0] = (float)(c.m * x0[i] + c.sigma * z[i]);
      dsm_time_embed(&sch, DSM_EMBED_PAPER, t[i], in + 1);
      PetscCall(MlpForward_f(&a, p, 1, in, &out, &w));
      lref += PetscSqr(c.sigma * out + z[i]);
    }
    PetscCall(MlpWorkDestroy_f(&w));
    CHECK(PetscAbsReal(l1 - lref) < 1e-5 * lref, "DSM loss sum %.9g vs direct evaluation %.9g", (double)l1, (double)lref);
  }
  /* 1a and 1c evaluate the network by hand on the same B rows: one set of buffers for both */
  float    *in, *out, *dout;
  MlpWork_f dw_direct;
  PetscCall(PetscMalloc3((size_t)B * 5, &in, B, &out, B, &dout));
  PetscCall(MlpWorkCreate_f(&a, B, &dw_direct));
  /* 1a. the noise output: loss and gradient against a direct evaluation */
  {
    PetscReal l1, lref = 0, gmax = 0, dmax = 0;
    dw.par.output = DSM_OUTPUT_NOISE;
    PetscCall(DirectForward(&sch, &a, p, B, x0, t, z, g1, &l1, &dw, in, out, &dw_direct));
    for (PetscInt i = 0; i < B; i++) {
      lref += PetscSqr(z[i] - out[i]);
      dout[i] = (float)(-2.0 / B * (z[i] - out[i]));
    }
    PetscCall(DirectGradientGap(&a, p, B, dout, g1, g2, &dw_direct, &dmax, &gmax));
    CHECK(PetscAbsReal(l1 - lref) < 1e-5 * lref && dmax < 1e-5 * gmax, "-net_output noise: loss sum %.9g vs sum |z - out|^2 %.9g; gradient vs backward of -2 (z - out) / B: max difference %.2e of max %.2e", (double)l1, (double)lref, (double)dmax, (double)gmax);
    dw.par.output = DSM_OUTPUT_SCORE;
  }
  /* 1b. the time embeddings: (A.1) as written; logsigma replaces its first entry by
     ln(sigma(t)) / 4 and keeps the rest; over t in [1e-3, 1e-2], where a narrow posterior is
     decided, (A.1) moves by < 0.07 in every entry and ln(sigma)/4 by > 0.25 (VP) */
  {
    float     fp[DSM_TIME_EMBED], fl[DSM_TIME_EMBED], fa[DSM_TIME_EMBED], fb[DSM_TIME_EMBED], la[DSM_TIME_EMBED], lb[DSM_TIME_EMBED];
    PetscReal dev = 0, dpa = 0;
    const PetscReal ts[3] = {sch.eps, 0.01, 0.7};
    for (int k = 0; k < 3; k++) {
      SchedCoef c;
      sched_coef(&sch, ts[k], &c);
      dsm_time_embed(&sch, DSM_EMBED_PAPER, ts[k], fp);
      dsm_time_embed(&sch, DSM_EMBED_LOGSIGMA, ts[k], fl);
      const PetscReal ref[4] = {ts[k] - 0.5, cos(2 * PETSC_PI * ts[k]), sin(2 * PETSC_PI * ts[k]), -cos(4 * PETSC_PI * ts[k])};
      for (int j = 0; j < 4; j++) dev = PetscMax(dev, PetscAbsReal(fp[j] - ref[j]));
      dev = PetscMax(dev, PetscAbsReal(fl[0] - 0.25 * log(c.sigma)));
      for (int j = 1; j < 4; j++) dev = PetscMax(dev, PetscAbsReal(fl[j] - fp[j]));
    }
    CHECK(dev < 1e-6, "time embeddings: (A.1) and logsigma = [ln(sigma)/4, (A.1)[1:3]] at t = eps, 0.01, 0.7 (max deviation %.1e)", (double)dev);
    dsm_time_embed(&sch, DSM_EMBED_PAPER, 1e-3, fa);
    dsm_time_embed(&sch, DSM_EMBED_PAPER, 1e-2, fb);
    dsm_time_embed(&sch, DSM_EMBED_LOGSIGMA, 1e-3, la);
    dsm_time_embed(&sch, DSM_EMBED_LOGSIGMA, 1e-2, lb);
    for (int j = 0; j < 4; j++) dpa = PetscMax(dpa, PetscAbsReal(fa[j] - fb[j]));
    CHECK(dpa < 0.07 && PetscAbsReal(la[0] - lb[0]) > 0.25, "t = 1e-3 vs 1e-2: (A.1) moves by at most %.3f, ln(sigma)/4 by %.3f", (double)dpa, (double)PetscAbsReal(la[0] - lb[0]));
  }
  /* 1c. the edm output */
  DsmParam edm = {DSM_EMBED_PAPER, DSM_OUTPUT_EDM, 0, 0.05, 0};
  {
    PetscReal l1, lref = 0, gmax = 0, dmax = 0, smean = 0, svar = 0, tw = 0, wt = 0, lim = 0;
    for (PetscInt i = 0; i < B; i++) smean += x0[i] / B;
    for (PetscInt i = 0; i < B; i++) svar += PetscSqr(x0[i] - smean) / B;
    PetscCall(DsmParamSetDataScale(PETSC_COMM_SELF, &edm, B, 1, x0));
    CHECK(PetscAbsReal(edm.centre - smean) < 1e-6 && PetscAbsReal(edm.sigma_data - sqrt(svar)) < 1e-6 && edm.sigma_skip == 0.05 && PetscAbsReal(edm.sigma_data - s) < 0.1 * s, "edm scales of %d draws of N(%.1f, %.1f^2): centre %.6f (sample mean %.6f), sigma_data %.6f (sample std %.6f), sigma_skip 0.05 kept (%.3g)", (int)B, (double)mu, (double)s, (double)edm.centre, (double)smean, (double)edm.sigma_data, (double)sqrt(svar), (double)edm.sigma_skip);
    dw.par = edm;
    PetscCall(DirectForward(&sch, &a, p, B, x0, t, z, g1, &l1, &dw, in, out, &dw_direct));
    for (PetscInt i = 0; i < B; i++) {
      SchedCoef c;
      sched_coef(&sch, t[i], &c);
      const PetscReal sh = c.sigma / c.m, ss = edm.sigma_skip, sd = edm.sigma_data, xh = in[5 * i] / c.m;
      const PetscReal cskip = ss * ss / (sh * sh + ss * ss), cout = sqrt(PetscSqr((1 - cskip) * sd) + PetscSqr(cskip * sh)); /* unit variance of F* under the data */
      const PetscReal fstar = (x0[i] - edm.centre - cskip * (xh - edm.centre)) / cout, D = edm.centre + cskip * (xh - edm.centre) + cout * out[i];
      const DsmEdmCoef e = dsm_edm_coef(&edm, c.m, c.sigma);
      const PetscReal sc = e.a * (xh - edm.centre) + e.b * out[i];
      lref += PetscSqr(out[i] - fstar);
      dout[i] = (float)(2.0 / B * (out[i] - fstar));
      tw = PetscMax(tw, PetscAbsReal(c.m * D - in[5 * i] - c.sigma * c.sigma * sc) / (c.sigma * c.sigma * (1 + PetscAbsReal(sc))));
      wt = PetscMax(wt, PetscAbsReal((c.sigma * sc + z[i]) - cout / sh * (out[i] - fstar)) / (1 + PetscAbsReal(c.sigma * sc + z[i])));
    }
    PetscCall(DirectGradientGap(&a, p, B, dout, g1, g2, &dw_direct, &dmax, &gmax));
    CHECK(PetscAbsReal(l1 - lref) < 1e-5 * lref && dmax < 1e-5 * gmax, "-net_output edm: loss sum %.9g vs sum |F - F*|^2 %.9g; gradient vs backward of 2 (F - F*) / B: max difference %.2e of max %.2e", (double)l1, (double)lref, (double)dmax, (double)gmax);
    /* the two ends, at (m, sigma) = (1, 1e-6 sigma_skip) and (1, 1e6 sigma_data); the deviations are O(s^/sigma_skip) and O(sigma_data/s^): F* = -z and (x0 - c0)/sigma_data */
    for (int k = 0; k < 2; k++) {
      const DsmEdmCoef e  = dsm_edm_coef(&edm, 1.0, k ? 1e6 * edm.sigma_data : 1e-6 * edm.sigma_skip);
      const PetscReal  xs = 0.3, zs = 0.8, fstar = ((1 - e.cskip) * (xs - edm.centre) - e.cskip * e.shat * zs) / e.cout;
      lim = PetscMax(lim, PetscAbsReal(fstar - (k ? (xs - edm.centre) / edm.sigma_data : -zs)));
    }
    /* x_t went to the network in float: sigma s + z carries its rounding amplified by 1/sigma */
    CHECK(tw < 1e-8 && wt < 1e-5 && lim < 1e-4, "-net_output edm score: Tweedie m D - x_t = sigma^2 s (max rel. deviation %.1e), sigma s + z = (c_out/s^)(F - F*) (%.1e, float x_t), F* within %.1e of -z at s^ = 1e-6 sigma_skip and of (x0 - c0)/sigma_data at s^ = 1e6 sigma_data", (double)tw, (double)wt, (double)lim);
    dw.par.output = DSM_OUTPUT_SCORE;
  }
  PetscCall(MlpWorkDestroy_f(&dw_direct));
  PetscCall(PetscFree3(in, out, dout));
  /* 2. training learns the exact score, with either time embedding and with the noise and edm outputs */
  const DsmParam pars[4] = {{DSM_EMBED_PAPER, DSM_OUTPUT_SCORE, 0, 0, 0}, {DSM_EMBED_LOGSIGMA, DSM_OUTPUT_SCORE, 0, 0, 0}, {DSM_EMBED_PAPER, DSM_OUTPUT_NOISE, 0, 0, 0}, edm};
  for (int e = 0; e < 4; e++) {
    dw.par = pars[e];
    PetscCall(MlpInitParams_f(&a, 3, p));
    AdamOpts  ao;
    Adam      adam;
    PetscReal loss = 0, err = 0;
    PetscInt  cnt = 0, steps = 4000;
    PetscCall(AdamOptsSetDefaults(&ao));
    ao.lr = 3e-3;
    PetscCall(AdamCreate(&ao, a.nparams, &adam));
    for (PetscInt k = 0; k < steps; k++) {
      rng_stream_init(&r, 10, RNG_PURPOSE_TEST, (uint64_t)k);
      for (PetscInt i = 0; i < B; i++) {
        x0[i] = (float)(mu + s * rng_normal(&r));
        z[i]  = (float)rng_normal(&r);
        t[i]  = sch.eps + (sch.T - sch.eps) * rng_uniform(&r);
      }
      PetscCall(PetscArrayzero(g1, a.nparams));
      PetscCall(DsmLossGrad(&sch, &a, p, B, x0, NULL, t, z, 1.0 / B, g1, &loss, &dw));
      adam.o.lr = ao.lr * 0.5 * (1 + cos(PETSC_PI * k / steps)); /* cosine decay for a clean end point */
      PetscCall(AdamStep(&adam, p, g1));
    }
    PetscCall(AdamDestroy(&adam));
    MlpWork_f w;
    PetscCall(MlpWorkCreate_f(&a, 1, &w));
    for (PetscInt it = 0; it <= 19; it++) {
      const PetscReal tt = 0.05 + 0.95 * it / 19.0;
      SchedCoef       c;
      sched_coef(&sch, tt, &c);
      const PetscReal v = c.m * c.m * s * s + c.sigma * c.sigma;
      for (PetscInt ix = -10; ix <= 10; ix++) {
        const PetscReal x = c.m * mu + 0.2 * ix * sqrt(v);
        float           in[5], out;
        in[0] = (float)x;
        dsm_time_embed(&sch, dw.par.embed, tt, in + 1);
        PetscCall(MlpForward_f(&a, p, 1, in, &out, &w));
        const DsmEdmCoef ec = dsm_edm_coef(&dw.par, c.m, c.sigma);
        const PetscReal  st = dw.par.output == DSM_OUTPUT_EDM ? ec.a * (x / c.m - dw.par.centre) + ec.b * out : dsm_score(dw.par.output, out, c.sigma);
        err += PetscSqr(c.sigma * (st - (-(x - c.m * mu) / v)));
        cnt++;
      }
    }
    PetscCall(MlpWorkDestroy_f(&w));
    err = sqrt(err / cnt);
    CHECK(err < 0.05, "DSM training (%s time embedding, %s output, 4000 Adam steps, batch 256, VP): RMS of sigma (s_theta - s_exact) on t in [0.05, 1], |x - m mu| <= 2 std: %.4f (bound 0.05); last batch loss %.4f", DsmEmbeds[dw.par.embed], DsmOutputs[dw.par.output], (double)err, (double)(loss / B));
  }
  PetscCall(PetscFree6(p, g1, g2, x0, z, t));
  PetscCall(DsmWorkDestroy(&dw));
  status = TestFinish("test_dsm");
  PetscCall(PetscFinalize());
  return status;
}
