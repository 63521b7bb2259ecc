/* bench_mlp: speed of the MLP's forward+backward in single precision (a benchmark, not a test:
 * it prints figures and asserts nothing about speed).
 *
 * For the networks of the paper's Sections 5.2 (64-256-256-256-256-30) and 5.1 (6-128-128-1) at
 * batch B (default 1000) it times forward, backward (training case: din = NULL) and both, as the
 * median over -reps repetitions after -warmup ones, and prints GFLOP/s with the flop counts of
 * MlpFlopsForward/MlpFlopsBackward (GEMMs + bias adds/sums). Next to it, measured in the same
 * run, interleaved repetition by repetition, on the same buffers: the sequence of sgemm calls
 * that forward+backward performs, timed alone, its GFLOP/s (GEMM flops only) and the ratio
 * GEMM-sequence time / MLP time, i.e. the fraction of the attainable (GEMM-bound) speed reached;
 * the rest is the bias/ReLU/bias-gradient passes, the input copy and call overhead. A
 * per-GEMM table shows which shapes are slow.
 *
 * Threads: figures are meant single-threaded (ctest sets OPENBLAS_NUM_THREADS=1, as do the
 * data-parallel runs, one rank per core); the thread count OpenBLAS reports is printed.
 * Run: tests/bench_mlp [-B 1000] [-reps 50] [-warmup 5] [-log_view] */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "blascore.h"
#include "mlp.h"
#include "rng.h"
#include <petsctime.h>
#include <stdlib.h>
#include <cblas.h>

static int CmpDouble(const void *a, const void *b)
{
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double Median(int n, double *t)
{
  qsort(t, (size_t)n, sizeof(double), CmpDouble);
  return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* One GEMM of the forward+backward sequence. */
typedef struct {
  CBLAS_TRANSPOSE ta, tb;
  int             M, N, K, lda, ldb, ldc;
  float           beta;
  const float    *A, *Bm;
  float          *C;
  const char     *what;
  int             layer;
} Gemm;

/* The GEMMs of MlpForward_f + MlpBackward_f(din = NULL), in order, with their real operands:
   forward  z_l (B x m) = x_l (B x n) W_l^T              l = 0 .. L-1
   backward dW_l (m x n) += dz_l^T (m x B) x_l (B x n)    l = L-1 .. 0
            dx_l (B x n)  = dz_l (B x m) W_l (m x n)      l = L-1 .. 1 */
static int BuildSequence(const MlpArch *a, const float *p, PetscInt B, float *out, const float *dout, float *grad, MlpWork_f *w, Gemm *s)
{
  const int L = (int)a->nlayers;
  int       ns = 0, k = 0;
  const float *dz = dout;
  for (int l = 0; l < L; l++) {
    const int n = (int)a->width[l], m = (int)a->width[l + 1];
    s[ns++] = (Gemm){CblasNoTrans, CblasTrans, (int)B, m, n, n, n, m, 0.0f, w->x[l], p + a->woff[l], l < L - 1 ? w->z[l] : out, "fwd z = x W^T", l};
  }
  for (int l = L - 1; l >= 0; l--) {
    const int n = (int)a->width[l], m = (int)a->width[l + 1];
    s[ns++] = (Gemm){CblasTrans, CblasNoTrans, m, n, (int)B, m, n, n, 1.0f, dz, w->x[l], grad + a->woff[l], "bwd dW += dz^T x", l};
    if (l > 0) {
      s[ns++] = (Gemm){CblasNoTrans, CblasNoTrans, (int)B, n, m, m, n, n, 0.0f, dz, p + a->woff[l], w->g[k], "bwd dx = dz W", l};
      dz = w->g[k];
      k ^= 1;
    }
  }
  return ns;
}

static void RunGemm(const Gemm *g)
{
  cblas_sgemm(CblasRowMajor, g->ta, g->tb, g->M, g->N, g->K, 1.0f, g->A, g->lda, g->Bm, g->ldb, g->beta, g->C, g->ldc);
}

static PetscErrorCode Bench(const char *label, PetscInt n_in, PetscInt nh, PetscInt hw, PetscInt n_out, PetscInt B, int reps, int warmup)
{
  MlpArch        a;
  MlpWork_f      w;
  float         *p, *grad, *in, *out, *dout;
  double        *tf, *tb, *tfb, *tg, *tone, gflops = 0;
  Gemm           seq[3 * MLP_MAX_LAYERS];
  int            ns;
  char           d[128];
  RngStream      s;
  PetscLogDouble t0, t1, t2, fF, fB;

  PetscFunctionBeginUser;
  PetscCall(MlpArchCreate(n_in, nh, hw, n_out, &a));
  PetscCall(MlpArchView(&a, d, sizeof(d)));
  PetscCall(PetscMalloc5(a.nparams, &p, a.nparams, &grad, (size_t)B * n_in, &in, (size_t)B * n_out, &out, (size_t)B * n_out, &dout));
  PetscCall(PetscMalloc5(reps, &tf, reps, &tb, reps, &tfb, reps, &tg, reps, &tone));
  PetscCall(MlpWorkCreate_f(&a, B, &w));
  PetscCall(MlpInitParams_f(&a, 1, p));
  PetscCall(PetscArrayzero(grad, a.nparams));
  rng_stream_init(&s, 1, RNG_PURPOSE_TEST, 0);
  for (PetscInt i = 0; i < B * n_in; i++) in[i] = (float)rng_normal(&s);
  for (PetscInt i = 0; i < B * n_out; i++) dout[i] = (float)rng_normal(&s);
  ns = BuildSequence(&a, p, B, out, dout, grad, &w, seq);
  for (int i = 0; i < ns; i++) gflops += 2.0 * seq[i].M * seq[i].N * seq[i].K;
  fF = MlpFlopsForward(&a, B);
  fB = MlpFlopsBackward(&a, B);

  /* grad only accumulates (never zeroed in the loop, as in gradient accumulation): the values
     stay finite over these few repetitions and the work is the same */
  for (int r = 0; r < warmup; r++) {
    PetscCall(MlpForward_f(&a, p, B, in, out, &w));
    PetscCall(MlpBackward_f(&a, p, B, dout, grad, NULL, &w));
    for (int i = 0; i < ns; i++) RunGemm(&seq[i]);
  }
  for (int r = 0; r < reps; r++) {
    PetscCall(PetscTime(&t0));
    PetscCall(MlpForward_f(&a, p, B, in, out, &w));
    PetscCall(PetscTime(&t1));
    PetscCall(MlpBackward_f(&a, p, B, dout, grad, NULL, &w));
    PetscCall(PetscTime(&t2));
    tf[r]  = t1 - t0;
    tb[r]  = t2 - t1;
    tfb[r] = t2 - t0;
    PetscCall(PetscTime(&t0));
    for (int i = 0; i < ns; i++) RunGemm(&seq[i]);
    PetscCall(PetscTime(&t1));
    tg[r] = t1 - t0;
  }
  {
    const double mf = Median(reps, tf), mb = Median(reps, tb), mfb = Median(reps, tfb), mg = Median(reps, tg);
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "\n%s: %s, B = %" PetscInt_FMT ", float, median of %d after %d warm-up\n", label, d, B, reps, warmup));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  forward           %8.3f ms  %7.2f GFLOP/s  (%.3g flop)\n", 1e3 * mf, 1e-9 * fF / mf, fF));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  backward          %8.3f ms  %7.2f GFLOP/s  (%.3g flop, din = NULL)\n", 1e3 * mb, 1e-9 * fB / mb, fB));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  forward+backward  %8.3f ms  %7.2f GFLOP/s\n", 1e3 * mfb, 1e-9 * (fF + fB) / mfb));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  its %d sgemms alone %6.3f ms  %7.2f GFLOP/s  (%.3g flop)\n", ns, 1e3 * mg, 1e-9 * gflops / mg, gflops));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  ratio MLP / sgemm-alone speed = sgemm time / MLP time = %.3f   (non-GEMM time %.3f ms)\n", mg / mfb, 1e3 * (mfb - mg)));
  }
  /* per-GEMM medians: which shapes are slow */
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  per sgemm (row-major, M x N x K):\n"));
  for (int i = 0; i < ns; i++) {
    for (int r = 0; r < warmup; r++) RunGemm(&seq[i]);
    for (int r = 0; r < reps; r++) {
      PetscCall(PetscTime(&t0));
      RunGemm(&seq[i]);
      PetscCall(PetscTime(&t1));
      tone[r] = t1 - t0;
    }
    const double m = Median(reps, tone);
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "    layer %d %-17s %4d x %4d x %4d  %c%c  %8.3f ms  %7.2f GFLOP/s\n", seq[i].layer, seq[i].what, seq[i].M, seq[i].N, seq[i].K,
                          seq[i].ta == CblasTrans ? 'T' : 'N', seq[i].tb == CblasTrans ? 'T' : 'N', 1e3 * m, 1e-9 * 2.0 * seq[i].M * seq[i].N * seq[i].K / m));
  }
  PetscCall(MlpWorkDestroy_f(&w));
  PetscCall(PetscFree5(p, grad, in, out, dout));
  PetscCall(PetscFree5(tf, tb, tfb, tg, tone));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscInt    B = 1000, reps = 50, warmup = 5;
  const char *env;

  BlasCoreReexec(argc, argv); /* before anything starts: OpenBLAS kernels for this CPU (blascore.h) */
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-B", &B, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-reps", &reps, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-warmup", &warmup, NULL));
  PetscCheck(B > 0 && reps > 0 && warmup >= 0, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "need -B > 0, -reps > 0, -warmup >= 0");
  env = getenv("OPENBLAS_NUM_THREADS");
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "bench_mlp: OpenBLAS %s, core %s, %d thread(s) (OPENBLAS_NUM_THREADS=%s); figures assume 1 thread per rank\n", openblas_get_config(),
                        openblas_get_corename(), openblas_get_num_threads(), env ? env : "unset"));
  if (openblas_get_num_threads() != 1) PetscCall(PetscPrintf(PETSC_COMM_WORLD, "WARNING: OpenBLAS runs %d threads: set OPENBLAS_NUM_THREADS=1 for single-core figures\n", openblas_get_num_threads()));
  PetscCall(Bench("Sec. 5.2 network", 64, 4, 256, 30, B, (int)reps, (int)warmup));
  PetscCall(Bench("Sec. 5.1 network", 6, 2, 128, 1, B, (int)reps, (int)warmup));
  PetscCall(PetscFinalize());
  return 0;
}
