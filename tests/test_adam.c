/* test_adam: the Adam optimiser.
 * 1. Five steps from p = 0 with random gradients (magnitudes 1e-3 .. 1e3) agree with an
 *    independent double-precision evaluation of the PyTorch update to float round-off.
 * 2. The first step moves every parameter by lr * g/(|g| + eps/sqrt(1-b2)) ~ lr sign(g).
 * 3. Decoupled weight decay shrinks a parameter with zero gradient by exactly (1 - lr wd) per step.
 * 4. On a quadratic with curvatures spanning 1e-2 .. 1e2 the loss falls by more than 1e6.
 * 5. Out-of-range options are errors.
 * 6. Cosine schedule: lr at step 0, the midpoint and total_steps equal lr, (lr + lr_min)/2 and
 *    lr_min; past the end it stays at lr_min; a scheduled step equals a constant-lr step taken
 *    with the schedule's rate; constant schedule (or no length) keeps lr.
 * 7. Step schedule: lr before update round(step_frac x total_steps) + 1, lr_min from it on (the
 *    paper's 10,000 + 2,000 epochs of 9 steps: the drop after step 90,000); step_frac outside
 *    (0, 1) and lr_min > lr are rejected.
 * 8. -adam_tail_epochs: 14,000 epochs of 9 steps with a 4,000-epoch tail drop after step 90,000
 *    (the same boundary and step_frac as -adam_step_frac 10000/14000); a tail as long as the run,
 *    a tail without the step schedule, and -adam_tail_epochs with -adam_step_frac are rejected.
 */
#include "blascore.h"
#include "adam.h"
#include "rng.h"
#include "testutil.h"
#include <math.h>

int main(int argc, char **argv)
{
  const PetscInt n = 1000;
  AdamOpts       o;
  Adam           a;
  float         *p, *g;
  double        *pd, *md, *vd;
  int            status;

  BlasCoreReexec(argc, argv); /* before anything starts: OpenBLAS kernels for this CPU (blascore.h) */
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(AdamOptsSetDefaults(&o));
  PetscCall(PetscMalloc5(n, &p, n, &g, n, &pd, n, &md, n, &vd));

  /* 1 and 2 */
  {
    RngStream r;
    double    maxrel = 0, maxfirst = 0;
    rng_stream_init(&r, 1, RNG_PURPOSE_TEST, 0);
    for (PetscInt i = 0; i < n; i++) {
      p[i]  = 0.0f; /* start at 0 so float storage of p adds no rounding larger than the updates' */
      pd[i] = 0.0;
      md[i] = vd[i] = 0;
    }
    PetscCall(AdamCreate(&o, n, &a));
    for (int t = 1; t <= 5; t++) {
      for (PetscInt i = 0; i < n; i++) g[i] = (float)(rng_normal(&r) * pow(10.0, (double)(i % 7) - 3));
      PetscCall(AdamStep(&a, p, g));
      for (PetscInt i = 0; i < n; i++) {
        const double p0 = pd[i];
        md[i]           = o.beta1 * md[i] + (1 - o.beta1) * g[i];
        vd[i]           = o.beta2 * vd[i] + (1 - o.beta2) * (double)g[i] * g[i];
        pd[i] -= o.lr * (md[i] / (1 - pow(o.beta1, t))) / (sqrt(vd[i] / (1 - pow(o.beta2, t))) + o.eps);
        if (t == 1) maxfirst = PetscMax(maxfirst, fabs(fabs(pd[i] - p0) / o.lr - fabs((double)g[i]) / (fabs((double)g[i]) + o.eps)));
      }
    }
    for (PetscInt i = 0; i < n; i++) maxrel = PetscMax(maxrel, fabs(p[i] - pd[i]) / o.lr);
    CHECK(maxrel < 1e-5, "5 Adam steps vs double reference: max |p - p_ref| = %.2e lr (bound 1e-5 lr: float round-off of 5 steps of size ~lr)", maxrel);
    CHECK(maxfirst < 1e-9, "first step: |dp|/lr = |g|/(|g| + eps) to %.2e", maxfirst);
    CHECK(a.step == 5, "step counter %lld after 5 steps", (long long)a.step);
    PetscCall(AdamDestroy(&a));
  }
  /* 3 */
  {
    AdamOpts ow = o;
    ow.weight_decay = 0.1;
    PetscCall(AdamCreate(&ow, 1, &a));
    float pw = 2.0f, gw = 0.0f;
    for (int t = 0; t < 10; t++) PetscCall(AdamStep(&a, &pw, &gw));
    const double expect = 2.0 * pow(1 - ow.lr * ow.weight_decay, 10);
    CHECK(fabs(pw - expect) < 1e-6, "weight decay 0.1, zero gradient, 10 steps: p = %.8f, expected %.8f", (double)pw, expect);
    PetscCall(AdamDestroy(&a));
  }
  /* 4 */
  {
    AdamOpts oq = o;
    oq.lr       = 1e-2;
    double f0 = 0, f1 = 0;
    PetscCall(AdamCreate(&oq, n, &a));
    for (PetscInt i = 0; i < n; i++) p[i] = 1.0f;
    for (PetscInt i = 0; i < n; i++) f0 += 0.5 * pow(10.0, -2.0 + 4.0 * i / (n - 1)) * PetscSqr(p[i] - 0.5);
    for (int t = 0; t < 4000; t++) {
      /* step size decays as 1/sqrt(t) late on so the iterates settle below the lr-sized jitter */
      a.o.lr = oq.lr / sqrt(1.0 + t / 100.0);
      for (PetscInt i = 0; i < n; i++) g[i] = (float)(pow(10.0, -2.0 + 4.0 * i / (n - 1)) * (p[i] - 0.5));
      PetscCall(AdamStep(&a, p, g));
    }
    for (PetscInt i = 0; i < n; i++) f1 += 0.5 * pow(10.0, -2.0 + 4.0 * i / (n - 1)) * PetscSqr(p[i] - 0.5);
    CHECK(f1 < 1e-6 * f0, "ill-conditioned quadratic (curvatures 1e-2..1e2), 4000 steps: loss %.3e -> %.3e (ratio %.1e, bound 1e-6)", f0, f1, f1 / f0);
    PetscCall(AdamDestroy(&a));
  }
  /* 5 */
  {
    struct {
      const char *what;
      int         k;
      PetscReal   v;
    } bad[] = {{"lr = 0", 0, 0}, {"beta1 = 1", 1, 1}, {"beta2 = -0.1", 2, -0.1}, {"eps = 0", 3, 0}, {"weight_decay = -1", 4, -1}};
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
      AdamOpts ob = o;
      PetscReal *f[] = {&ob.lr, &ob.beta1, &ob.beta2, &ob.eps, &ob.weight_decay};
      *f[bad[i].k] = bad[i].v;
      CHECK(AdamOptsValidate(&ob) != 0, "AdamOptsValidate rejects %s", bad[i].what);
    }
    PetscCall(PetscPopErrorHandler());
  }
  /* 6 */
  {
    AdamOpts oc = o, ok;
    oc.schedule    = ADAM_SCHEDULE_COSINE;
    oc.lr_min      = 1e-5;
    oc.total_steps = 1000;
    const double l0 = AdamLearningRate(&oc, 0), lm = AdamLearningRate(&oc, 500), le = AdamLearningRate(&oc, 1000), lp = AdamLearningRate(&oc, 5000);
    const double l250 = AdamLearningRate(&oc, 250), want250 = 1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + cos(M_PI / 4));
    CHECK(fabs(l0 - oc.lr) < 1e-18 && fabs(lm - 0.5 * (oc.lr + oc.lr_min)) < 1e-18 && fabs(le - oc.lr_min) < 1e-18 && fabs(lp - oc.lr_min) < 1e-18,
          "cosine schedule: lr %.6g at step 0, %.6g at 500 (expected %.6g), %.6g at 1000 and %.6g at 5000 (expected lr_min %.6g)", l0, lm, 0.5 * (oc.lr + oc.lr_min), le, lp, oc.lr_min);
    CHECK(fabs(l250 - want250) < 1e-18, "cosine schedule at a quarter: %.9g (expected %.9g)", l250, want250);
    ok = o;
    ok.total_steps = 1000;
    CHECK(AdamLearningRate(&ok, 500) == ok.lr, "constant schedule keeps lr %.6g", AdamLearningRate(&ok, 500));
    oc.total_steps = 0;
    CHECK(AdamLearningRate(&oc, 500) == oc.lr, "cosine without a length keeps lr");
    /* step 501 of a cosine run = the same state advanced with a constant lr equal to the schedule's */
    Adam   ac, ak;
    float  pc[3] = {1, -2, 3}, pk[3] = {1, -2, 3}, gg[3] = {0.5f, -1e-3f, 20.0f};
    oc.total_steps = 1000;
    PetscCall(AdamCreate(&oc, 3, &ac));
    ok.lr = AdamLearningRate(&oc, 500);
    PetscCall(AdamCreate(&ok, 3, &ak));
    ac.step = ak.step = 500;
    PetscCall(AdamStep(&ac, pc, gg));
    PetscCall(AdamStep(&ak, pk, gg));
    CHECK(pc[0] == pk[0] && pc[1] == pk[1] && pc[2] == pk[2], "a scheduled step uses the schedule's rate (%.9g vs %.9g)", (double)pc[0], (double)pk[0]);
    PetscCall(AdamDestroy(&ac));
    PetscCall(AdamDestroy(&ak));
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    oc.lr_min = 2e-3;
    CHECK(AdamOptsValidate(&oc) != 0, "AdamOptsValidate rejects lr_min > lr for the cosine schedule");
    PetscCall(PetscPopErrorHandler());
  }
  /* 7 */
  {
    AdamOpts os = o;
    os.schedule    = ADAM_SCHEDULE_STEP;
    os.lr_min      = 1e-4;
    os.step_frac   = 10000.0 / 12000.0;
    os.total_steps = 108000; /* 12,000 epochs of 9 steps: the drop after 90,000 */
    CHECK(AdamStepBoundary(&os) == 90000 && AdamLearningRate(&os, 0) == os.lr && AdamLearningRate(&os, 89999) == os.lr && AdamLearningRate(&os, 90000) == os.lr_min && AdamLearningRate(&os, 200000) == os.lr_min,
          "step schedule: boundary %lld (expected 90000); lr %.6g at 0 and %.6g at 89999, %.6g at 90000 and %.6g at 200000 (expected %.6g then %.6g)", (long long)AdamStepBoundary(&os), AdamLearningRate(&os, 0), AdamLearningRate(&os, 89999), AdamLearningRate(&os, 90000), AdamLearningRate(&os, 200000), os.lr, os.lr_min);
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    os.step_frac = 1;
    PetscErrorCode e1 = AdamOptsValidate(&os);
    os.step_frac = 0.5;
    os.lr_min    = 2e-3;
    PetscErrorCode e2 = AdamOptsValidate(&os);
    PetscCall(PetscPopErrorHandler());
    CHECK(e1 != 0 && e2 != 0, "AdamOptsValidate rejects -adam_step_frac 1 and lr_min > lr for the step schedule");
  }
  /* 8 */
  {
    AdamOpts ot = o, of = o;
    ot.schedule = of.schedule = ADAM_SCHEDULE_STEP;
    ot.lr_min = of.lr_min = 1e-4;
    ot.tail_epochs = 4000;
    of.step_frac   = 10000.0 / 14000.0;
    PetscCall(AdamOptsSetLength(&ot, 14000, 9));
    PetscCall(AdamOptsSetLength(&of, 14000, 9));
    CHECK(ot.total_steps == 126000 && AdamStepBoundary(&ot) == 90000 && ot.step_frac == of.step_frac && AdamStepBoundary(&of) == 90000 && AdamLearningRate(&ot, 89999) == ot.lr && AdamLearningRate(&ot, 90000) == ot.lr_min,
          "-adam_tail_epochs 4000 of 14000 epochs x 9 steps: %lld steps, boundary %lld, step_frac %.17g (expected 126000, 90000 and %.17g as -adam_step_frac gives)", (long long)ot.total_steps, (long long)AdamStepBoundary(&ot), (double)ot.step_frac, (double)of.step_frac);
    PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
    AdamOpts olong = o;
    olong.schedule    = ADAM_SCHEDULE_STEP;
    olong.lr_min      = 1e-4;
    olong.tail_epochs = 14000;
    PetscErrorCode e1 = AdamOptsSetLength(&olong, 14000, 9);
    AdamOpts oconst  = o;
    oconst.tail_epochs = 10;
    PetscErrorCode e2 = AdamOptsValidate(&oconst);
    AdamOpts obad = o;
    PetscCall(PetscOptionsSetValue(NULL, "-adam_schedule", "step"));
    PetscCall(PetscOptionsSetValue(NULL, "-adam_lr_min", "1e-4"));
    PetscCall(PetscOptionsSetValue(NULL, "-adam_step_frac", "0.5"));
    PetscCall(PetscOptionsSetValue(NULL, "-adam_tail_epochs", "100"));
    PetscErrorCode e3 = AdamOptsSetFromOptions(PETSC_COMM_SELF, NULL, &obad);
    PetscCall(PetscOptionsClearValue(NULL, "-adam_step_frac"));
    AdamOpts ook = o;
    PetscErrorCode e4 = AdamOptsSetFromOptions(PETSC_COMM_SELF, NULL, &ook);
    PetscCall(PetscPopErrorHandler());
    CHECK(e1 != 0 && e2 != 0 && e3 != 0, "a tail as long as the run (%d), a tail with the constant schedule (%d) and -adam_step_frac with -adam_tail_epochs (%d) are errors", (int)e1, (int)e2, (int)e3);
    CHECK(e4 == 0 && ook.tail_epochs == 100 && ook.schedule == ADAM_SCHEDULE_STEP, "-adam_schedule step -adam_tail_epochs 100 parses (error %d, tail %" PetscInt_FMT ")", (int)e4, ook.tail_epochs);
    PetscCall(PetscOptionsClearValue(NULL, "-adam_schedule"));
    PetscCall(PetscOptionsClearValue(NULL, "-adam_lr_min"));
    PetscCall(PetscOptionsClearValue(NULL, "-adam_tail_epochs"));
  }
  PetscCall(PetscFree5(p, g, pd, md, vd));
  status = TestFinish("test_adam");
  PetscCall(PetscFinalize());
  return status;
}
