#include "ot.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

const char *const OtCosts[]   = {"euclidean", "sqeuclidean", "OtCost", "OT_COST_", NULL};
const char *const OtMethods[] = {"auto", "dense", "OtMethod", "OT_METHOD_", NULL};

static PetscLogEvent OT_EVENT;
#define OT_RELAX_START 1e-1 /* plain Sinkhorn until the marginal error is below this, then relax */

PetscErrorCode OtOptsSetDefaults(OtOpts *o)
{
  PetscFunctionBeginUser;
  o->reg      = 0.01;
  o->cost     = OT_COST_EUCLIDEAN;
  o->tol      = 1e-9;
  o->max_iter = 100000;
  o->method   = OT_METHOD_AUTO;
  o->relax    = 1.9;
  PetscFunctionReturn(0);
}

PetscErrorCode OtOptsSetFromOptions(MPI_Comm comm, const char prefix[], OtOpts *o)
{
  PetscFunctionBeginUser;
  PetscOptionsBegin(comm, prefix, "Entropic optimal transport (Sinkhorn, Table 1 metric)", "ot");
  PetscCall(PetscOptionsReal("-ot_reg", "Entropic regularisation (Table 1: 0.01)", "ot", o->reg, &o->reg, NULL));
  PetscCall(PetscOptionsEnum("-ot_cost", "Ground cost: euclidean |x - x'| (Table 1) or sqeuclidean (x - x')^2", "ot", OtCosts, (PetscEnum)o->cost, (PetscEnum *)&o->cost, NULL));
  PetscCall(PetscOptionsReal("-ot_tol", "Stop when the L1 marginal error <= tol", "ot", o->tol, &o->tol, NULL));
  PetscCall(PetscOptionsInt("-ot_max_iter", "Maximum Sinkhorn iterations", "ot", o->max_iter, &o->max_iter, NULL));
  PetscCall(PetscOptionsEnum("-ot_method", "auto (O(n+m) kernel for euclidean, peak window for sqeuclidean) or dense (O(nm) reference)", "ot", OtMethods, (PetscEnum)o->method, (PetscEnum *)&o->method, NULL));
  PetscCall(PetscOptionsReal("-ot_relax", "Over-relaxation w of the Sinkhorn updates, in [1, 2) (1: plain Sinkhorn; safeguarded)", "ot", o->relax, &o->relax, NULL));
  PetscOptionsEnd();
  PetscCheck(o->relax >= 1 && o->relax < 2, comm, PETSC_ERR_ARG_OUTOFRANGE, "-ot_relax %g: must be in [1, 2)", (double)o->relax);
  PetscCheck(o->reg > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-ot_reg %g: must be > 0", (double)o->reg);
  PetscCheck(o->tol > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-ot_tol %g: must be > 0", (double)o->tol);
  PetscCheck(o->max_iter > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-ot_max_iter %" PetscInt_FMT ": must be > 0", o->max_iter);
  PetscFunctionReturn(0);
}

static inline PetscReal LogAddExp(PetscReal a, PetscReal b)
{
  if (a == -INFINITY) return b;
  if (b == -INFINITY) return a;
  return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

/* exp(t) for t in [-OT_WINDOW - 1, 0] (the window sums), written so that the compiler can
   vectorise the loops that call it: Cody-Waite reduction t = k ln 2 + f, |f| <= ln2/2, and the
   degree-13 Taylor polynomial of e^f (truncation 4e-18 relative), scaled by 2^k through the
   exponent bits (no floor() or int conversion: both would stop the vectoriser on SSE2). Relative error ~2e-16 (checked against exp() in test_ot through the dense kernel). */
static inline double ot_exp(double t)
{
  const double shifter = 6755399441055744.0; /* 1.5 2^52: adding it rounds to an integer kept in the low bits */
  const double kd      = t * 1.4426950408889634 + shifter;
  const double kf      = kd - shifter;
  const double f       = (t - kf * 6.93147180369123816490e-01) - kf * 1.90821492927058770002e-10;
  uint64_t     kb;
  double       p = 1.0 / 6227020800.0, scale;
  p = p * f + 1.0 / 479001600.0;
  p = p * f + 1.0 / 39916800.0;
  p = p * f + 1.0 / 3628800.0;
  p = p * f + 1.0 / 362880.0;
  p = p * f + 1.0 / 40320.0;
  p = p * f + 1.0 / 5040.0;
  p = p * f + 1.0 / 720.0;
  p = p * f + 1.0 / 120.0;
  p = p * f + 1.0 / 24.0;
  p = p * f + 1.0 / 6.0;
  p = p * f + 0.5;
  p = p * f + 1.0;
  p = p * f + 1.0;
  memcpy(&kb, &kd, sizeof(kb)); /* low bits: k (two's complement); the rest shifts out below */
  kb = (kb + 1023) << 52;       /* 2^k as the bits of a double */
  memcpy(&scale, &kb, sizeof(scale));
  return p * scale;
}

#define OT_TAYLOR_A  1.5 /* |t d_j| bound in a target block of the squared-cost kernel */
#define OT_TAYLOR_P  24  /* Taylor degree: e^(2A) A^(P+1)/(P+1)! = 3e-20 */
#define OT_BLOCK_MIN 4   /* fewer targets in a block: direct window sum */

static inline PetscReal Cost(OtCost c, PetscReal x, PetscReal z) { return c == OT_COST_EUCLIDEAN ? PetscAbsReal(x - z) : (x - z) * (x - z); }

/* One side of the problem: points p[np] (sorted), the log of their uniform weight, and work. */
typedef struct {
  PetscInt   np;
  PetscReal *p;
  PetscReal  logw;
} OtSide;

typedef struct {
  OtCost    cost;
  OtMethod  method;
  PetscReal reg;
  PetscReal *pa, *pb, *pa1, *pb1; /* prefix/suffix log-sum-exps of the euclidean kernel (np_z + 1) */
} OtKernel;

/* out[i - i0] = -reg log sum_j w_j exp((h_j - C(x_i, z_j))/reg) for i in [i0, i1), and, when
   fx != NULL, mom[i - i0] = sum_j w_j exp((fx_i + h_j - C_ij)/reg) C_ij (the row's share of <P, C>). */
static PetscErrorCode SoftMin(OtKernel *K, const OtSide *X, PetscInt i0, PetscInt i1, const OtSide *Z, const PetscReal h[], PetscReal out[], const PetscReal fx[], PetscReal mom[])
{
  const PetscReal reg = K->reg, *x = X->p, *z = Z->p, lw = Z->logw;
  const PetscInt  m   = Z->np;

  PetscFunctionBeginUser;
  if (K->method == OT_METHOD_DENSE) { /* one cost evaluation per pair: exponents and costs kept per row */
    PetscReal *t = K->pa, *c = K->pb;
    for (PetscInt i = i0; i < i1; i++) {
      PetscReal mx = -INFINITY, s = 0, sc = 0;
      for (PetscInt j = 0; j < m; j++) {
        c[j] = Cost(K->cost, x[i], z[j]);
        t[j] = (h[j] - c[j]) / reg;
        mx   = PetscMax(mx, t[j]);
      }
      for (PetscInt j = 0; j < m; j++) {
        const PetscReal e = exp(t[j] - mx);
        s += e;
        sc += e * c[j];
      }
      out[i - i0] = -reg * (lw + mx + log(s));
      if (fx) mom[i - i0] = exp(lw + mx + fx[i] / reg) * sc;
    }
  } else if (K->cost == OT_COST_EUCLIDEAN) {
    /* prefix over z_j <= x: exp((h_j + z_j)/reg); suffix over z_j > x: exp((h_j - z_j)/reg);
       the moments carry (z_j - z_0) and (z_{m-1} - z_j) so that |x - z_j| is a difference of
       two non-negative sums */
    PetscReal *pa = K->pa, *pb = K->pb, *pa1 = K->pa1, *pb1 = K->pb1;
    if (!fx) { /* iterations: prefix sums as (running max M, scaled sum S): one exp per point */
      PetscReal M = -INFINITY, S = 0;
      pa[0]  = M;
      pa1[0] = S;
      for (PetscInt j = 0; j < m; j++) {
        const PetscReal a = lw + (h[j] + z[j]) / reg;
        if (a <= M) S += exp(a - M);
        else S = S * exp(M - a) + 1, M = a;
        pa[j + 1]  = M;
        pa1[j + 1] = S;
      }
      M = -INFINITY, S = 0;
      pb[m]  = M;
      pb1[m] = S;
      for (PetscInt j = m - 1; j >= 0; j--) {
        const PetscReal b = lw + (h[j] - z[j]) / reg;
        if (b <= M) S += exp(b - M);
        else S = S * exp(M - b) + 1, M = b;
        pb[j]  = M;
        pb1[j] = S;
      }
      PetscInt k = 0;
      for (PetscInt i = i0; i < i1; i++) {
        while (k < m && z[k] <= x[i]) k++; /* z_0..z_{k-1} <= x_i (x sorted: k only grows) */
        const PetscReal a1 = pa[k] - x[i] / reg, a2 = pb[k] + x[i] / reg, mx = PetscMax(a1, a2);
        const PetscReal v = (k > 0 ? pa1[k] * exp(a1 - mx) : 0) + (k < m ? pb1[k] * exp(a2 - mx) : 0);
        out[i - i0] = -reg * (mx + log(v));
      }
      PetscFunctionReturn(0);
    }
    /* the transport cost (once): log-domain prefix sums, with the moments carrying (z_j - z_0)
       and (z_{m-1} - z_j) so that |x - z_j| is a difference of two non-negative sums */
    pa[0] = pa1[0] = -INFINITY;
    for (PetscInt j = 0; j < m; j++) {
      const PetscReal a = lw + (h[j] + z[j]) / reg;
      pa[j + 1]         = LogAddExp(pa[j], a);
      pa1[j + 1]        = LogAddExp(pa1[j], z[j] > z[0] ? a + log(z[j] - z[0]) : -INFINITY);
    }
    pb[m] = pb1[m] = -INFINITY;
    for (PetscInt j = m - 1; j >= 0; j--) {
      const PetscReal b = lw + (h[j] - z[j]) / reg;
      pb[j]             = LogAddExp(pb[j + 1], b);
      pb1[j]            = LogAddExp(pb1[j + 1], z[m - 1] > z[j] ? b + log(z[m - 1] - z[j]) : -INFINITY);
    }
    PetscInt k = 0;
    for (PetscInt i = i0; i < i1; i++) {
      while (k < m && z[k] <= x[i]) k++;
      const PetscReal l1 = pa[k] - x[i] / reg, l2 = pb[k] + x[i] / reg, f = fx[i] / reg;
      PetscReal       left = 0, right = 0;
      out[i - i0] = -reg * LogAddExp(l1, l2);
      if (k > 0) left = (x[i] - z[0]) * exp(f + l1) - exp(f + pa1[k] - x[i] / reg);
      if (k < m) right = (z[m - 1] - x[i]) * exp(f + l2) - exp(f + pb1[k] + x[i] / reg);
      mom[i - i0] = PetscMax(left, 0) + PetscMax(right, 0);
    }
  } else { /* squared cost: E_j(x) = q_j + x r_j is concave in z_j (unimodal in j); the sum runs over
              the window within OT_WINDOW of its peak, found by binary search on either side.
              Targets come in blocks [c, c + delta] that share one window and one set of moments:
              with x = c + u, d_j = z_j - c, t = 2u/reg,
                sum_j exp(E_j(x)) = exp(E_max(c) + 2uc/reg) sum_j e_j exp(t d_j),  e_j = exp(E_j(c) - E_max(c)),
              and exp(t d_j) is its Taylor series to degree OT_TAYLOR_P in the moments
              T_k = sum_j e_j d_j^k. delta = OT_TAYLOR_A reg / (2 D), D = the largest |d_j| over the
              window and its two neighbours, so |t d_j| <= OT_TAYLOR_A on the window: relative
              truncation error <= e^(2A) A^(P+1)/(P+1)! = 3e-20 (A = 1.5, P = 24; rounding in the
              alternating series costs up to e^(2A) = 20 ulps), and terms outside
              the window grow by at most e^A while sitting >= OT_WINDOW below the peak. A block of
              fewer than OT_BLOCK_MIN targets is summed directly (cost per target as without blocks). */
    PetscReal *q = K->pa, *rr = K->pb, *ex = K->pa1, *dd = K->pb1;
    PetscInt   p = 0;
    for (PetscInt j = 0; j < m; j++) {
      q[j]  = (h[j] - z[j] * z[j]) / reg;
      rr[j] = 2 * z[j] / reg;
    }
#define EXPO(j) (q[j] + xi * rr[j])
    for (PetscInt i = i0; i < i1;) {
      const PetscReal xi = x[i];
      while (p + 1 < m && EXPO(p + 1) >= EXPO(p)) p++; /* the peak only moves right as x grows */
      const PetscReal emax = EXPO(p), cut = emax - OT_WINDOW;
      PetscInt        lo = 0, hi = p, j0, j1, iend = i + 1; /* e increases on [0, p]: first j with e_j >= cut */
      PetscReal       D, delta;
      while (lo < hi) {
        const PetscInt mid = (lo + hi) / 2;
        if (EXPO(mid) >= cut) hi = mid;
        else lo = mid + 1;
      }
      j0 = lo;
      lo = p;
      hi = m - 1; /* e decreases on [p, m): last j with e_j >= cut */
      while (lo < hi) {
        const PetscInt mid = (lo + hi + 1) / 2;
        if (EXPO(mid) >= cut) lo = mid;
        else hi = mid - 1;
      }
      j1    = lo;
      D     = PetscMax(PetscAbsReal(z[j0 > 0 ? j0 - 1 : 0] - xi), PetscAbsReal(z[j1 < m - 1 ? j1 + 1 : m - 1] - xi));
      D     = PetscMax(D, PetscAbsReal(z[j0] - xi));
      D     = PetscMax(D, PetscAbsReal(z[j1] - xi));
      delta = D > 0 ? OT_TAYLOR_A * reg / (2 * D) : PETSC_MAX_REAL;
      while (iend < i1 && x[iend] - xi <= delta) iend++;
      for (PetscInt j = j0; j <= j1; j++) ex[j] = ot_exp(q[j] + xi * rr[j] - emax);
      if (iend - i < OT_BLOCK_MIN) { /* direct sum for this target alone */
        PetscReal s = 0, sc = 0;
        for (PetscInt j = j0; j <= j1; j++) s += ex[j];
        if (fx)
          for (PetscInt j = j0; j <= j1; j++) sc += ex[j] * (xi - z[j]) * (xi - z[j]);
        out[i - i0] = -reg * (lw + emax - xi * xi / reg + log(s));
        if (fx) mom[i - i0] = exp(lw + emax - xi * xi / reg + fx[i] / reg) * sc;
        i++;
        continue;
      }
      { /* moments T_k, k = 0 .. P+2 (the two extra ones give the transport cost's (u - d_j)^2) */
        PetscReal T[OT_TAYLOR_P + 3];
        const int nT = fx ? OT_TAYLOR_P + 3 : OT_TAYLOR_P + 1; /* the iterations need no cost moments */
        for (PetscInt j = j0; j <= j1; j++) dd[j] = z[j] - xi;
        for (int k = 0; k < nT; k++) {
          PetscReal sk = 0;
          for (PetscInt j = j0; j <= j1; j++) {
            sk += ex[j];
            ex[j] *= dd[j];
          }
          T[k] = sk;
        }
        for (PetscInt ii = i; ii < iend; ii++) {
          const PetscReal u = x[ii] - xi, t = 2 * u / reg;
          PetscReal       S = 0, W1 = 0, W2 = 0;
          for (int k = OT_TAYLOR_P; k >= 0; k--) S = S * t / (k + 1) + T[k]; /* Horner in t, 1/k! folded in */
          out[ii - i0] = -reg * (lw + emax - (xi * xi + u * u) / reg + log(S));
          if (fx) {
            for (int k = OT_TAYLOR_P; k >= 0; k--) {
              W1 = W1 * t / (k + 1) + T[k + 1];
              W2 = W2 * t / (k + 1) + T[k + 2];
            }
            /* sum_j e_j exp(t d_j) (u - d_j)^2 = u^2 S - 2 u W1 + W2 */
            mom[ii - i0] = exp(lw + emax - (xi * xi + u * u) / reg + fx[ii] / reg) * PetscMax(u * u * S - 2 * u * W1 + W2, 0);
          }
        }
      }
      i = iend;
    }
#undef EXPO
  }
  PetscFunctionReturn(0);
}

static int CmpReal(const void *a, const void *b)
{
  const PetscReal u = *(const PetscReal *)a, v = *(const PetscReal *)b;
  return (u > v) - (u < v);
}

/* Contiguous slice [lo, hi) of n items for this rank, and the counts/displacements of all ranks. */
static PetscErrorCode Slices(MPI_Comm comm, PetscInt n, PetscInt *lo, PetscInt *hi, PetscMPIInt **cnt, PetscMPIInt **dsp)
{
  PetscMPIInt size, rank;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscMalloc2(size, cnt, size, dsp));
  for (PetscMPIInt r = 0; r < size; r++) {
    const PetscInt a = (PetscInt)(((PetscInt64)n * r) / size), b = (PetscInt)(((PetscInt64)n * (r + 1)) / size);
    (*cnt)[r]        = (PetscMPIInt)(b - a);
    (*dsp)[r]        = (PetscMPIInt)a;
    if (r == rank) *lo = a, *hi = b;
  }
  PetscFunctionReturn(0);
}

PetscErrorCode OtSinkhorn1D(MPI_Comm comm, const OtOpts *o, PetscInt n, const PetscReal x[], PetscInt m, const PetscReal y[], OtResult *r)
{
  static PetscBool reg_done = PETSC_FALSE;
  OtSide           X, Y;
  OtKernel         K;
  PetscReal       *f, *g, *fnew, *mom, *gold, *fbest, *gbest, w = o->relax, wa = 1, best = PETSC_MAX_REAL, center = 0, err = PETSC_MAX_REAL, cost = 0;
  PetscInt         xlo, xhi, ylo, yhi, it;
  PetscMPIInt     *xc, *xd, *yc, *yd;
  PetscLogDouble   t0, t1;

  PetscFunctionBeginUser;
  if (!reg_done) {
    PetscClassId cls;
    PetscCall(PetscClassIdRegister("pdediff ot", &cls));
    PetscCall(PetscLogEventRegister("OtSinkhorn", cls, &OT_EVENT));
    reg_done = PETSC_TRUE;
  }
  PetscCheck(n > 0 && m > 0, comm, PETSC_ERR_ARG_SIZ, "Sinkhorn needs two non-empty point sets (got %" PetscInt_FMT " and %" PetscInt_FMT " points)", n, m);
  PetscCall(PetscLogEventBegin(OT_EVENT, 0, 0, 0, 0));
  PetscCall(PetscTime(&t0));
  X.np   = n;
  Y.np   = m;
  X.logw = -log((PetscReal)n);
  Y.logw = -log((PetscReal)m);
  PetscCall(PetscMalloc2(n, &X.p, m, &Y.p));
  /* both costs are translation invariant: centre the points to keep the exponents small */
  for (PetscInt i = 0; i < n; i++) center += x[i] / (n + m);
  for (PetscInt j = 0; j < m; j++) center += y[j] / (n + m);
  for (PetscInt i = 0; i < n; i++) {
    PetscCheck(isfinite(x[i]), comm, PETSC_ERR_ARG_WRONG, "Sinkhorn: point %" PetscInt_FMT " of the first set is not finite", i);
    X.p[i] = x[i] - center;
  }
  for (PetscInt j = 0; j < m; j++) {
    PetscCheck(isfinite(y[j]), comm, PETSC_ERR_ARG_WRONG, "Sinkhorn: point %" PetscInt_FMT " of the second set is not finite", j);
    Y.p[j] = y[j] - center;
  }
  qsort(X.p, (size_t)n, sizeof(PetscReal), CmpReal);
  qsort(Y.p, (size_t)m, sizeof(PetscReal), CmpReal);
  K.cost   = o->cost;
  K.method = o->method;
  K.reg    = o->reg;
  {
    const PetscInt mx = PetscMax(n, m) + 1;
    PetscCall(PetscMalloc4(mx, &K.pa, mx, &K.pb, mx, &K.pa1, mx, &K.pb1));
  }
  PetscCall(PetscMalloc5(n, &f, m, &g, n, &fnew, n, &mom, m, &gold));
  PetscCall(PetscMalloc2(n, &fbest, m, &gbest)); /* the best potentials (over-relaxation's safeguard) */
  r->relax_restarts = 0;
  /* the O(n + m) euclidean kernel is cheaper than any communication: every rank runs it whole */
  if (o->method == OT_METHOD_AUTO && o->cost == OT_COST_EUCLIDEAN) comm = PETSC_COMM_SELF;
  PetscCall(Slices(comm, n, &xlo, &xhi, &xc, &xd));
  PetscCall(Slices(comm, m, &ylo, &yhi, &yc, &yd));

  /* f from g = 0, then: g from f; fnew from g (its deviation from f is the row-marginal error).
     Over-relaxation (o->relax = w > 1; Thibault, Chizat, Dossal, Papadakis 2017, "Overrelaxed
     Sinkhorn-Knopp algorithm"): g <- (1 - w) g + w softmin(f), f <- (1 - w) f + w softmin(g).
     Plain Sinkhorn converges linearly at a rate that tends to 1 when mass must travel far at small
     reg (two separated modes: 25,000 iterations for 1e-7 on a Table 1 bimodal band); w = 1.9 needs
     1,600 there and stops closer to the limit (2e-8 against 6.6e-7 relative). The stopping test
     sums the column error of (f, g) (no longer 0 after a relaxed g) and the row error. Relaxation
     starts once plain iterations have brought the error below OT_RELAX_START: far from the
     solution the relaxed step can overshoot. */
  PetscCall(PetscArrayzero(g, m));
  PetscCall(SoftMin(&K, &X, xlo, xhi, &Y, g, f + xlo, NULL, NULL));
  PetscCallMPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, f, xc, xd, MPIU_REAL, comm));
  for (it = 1; it <= o->max_iter; it++) {
    PetscReal lerr = 0;
    if (wa != 1) PetscCall(PetscArraycpy(gold + ylo, g + ylo, yhi - ylo));
    PetscCall(SoftMin(&K, &Y, ylo, yhi, &X, f, g + ylo, NULL, NULL));
    if (wa != 1)
      for (PetscInt j = ylo; j < yhi; j++) {
        PetscReal gs = g[j];
        g[j] = (1 - wa) * gold[j] + wa * gs;
        lerr += PetscAbsReal(exp((g[j] - gs) / o->reg) - 1) / m;
      }
    PetscCallMPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, g, yc, yd, MPIU_REAL, comm));
    PetscCall(SoftMin(&K, &X, xlo, xhi, &Y, g, fnew + xlo, NULL, NULL));
    for (PetscInt i = xlo; i < xhi; i++) lerr += PetscAbsReal(exp((f[i] - fnew[i]) / o->reg) - 1) / n;
    PetscCallMPI(MPI_Allreduce(&lerr, &err, 1, MPIU_REAL, MPI_SUM, comm));
    if (err <= o->tol) break; /* the plan of (f, g) meets the tolerance */
    if (wa == 1 && w != 1 && err < OT_RELAX_START) wa = w; /* near the solution: relax from now on */
    if (wa != 1) {
      /* over-relaxation is not globally convergent: if the error grows 1000-fold over the best
         seen (or is not finite), go back to the best potentials and halve w - 1 */
      if (!(err < 1e3 * best)) {
        PetscCall(PetscArraycpy(f, fbest, n));
        PetscCall(PetscArraycpy(g, gbest, m));
        w = wa = 1 + 0.5 * (wa - 1);
        if (wa < 1.05) w = wa = 1;
        r->relax_restarts++;
        continue;
      }
      if (err < best) {
        best = err;
        PetscCall(PetscArraycpy(fbest, f, n));
        PetscCall(PetscArraycpy(gbest, g, m));
      }
      for (PetscInt i = xlo; i < xhi; i++) fnew[i] = (1 - wa) * f[i] + wa * fnew[i];
    }
    PetscCallMPI(MPI_Allgatherv(fnew + xlo, xhi - xlo, MPIU_REAL, f, xc, xd, MPIU_REAL, comm));
  }
  r->relax          = w;
  r->converged      = (PetscBool)(err <= o->tol);
  r->iterations     = PetscMin(it, o->max_iter);
  r->marginal_error = err;
  /* <P, C> of the plan of (f, g): each rank its rows */
  {
    PetscReal lc = 0;
    PetscCall(SoftMin(&K, &X, xlo, xhi, &Y, g, fnew + xlo, f, mom));
    for (PetscInt i = xlo; i < xhi; i++) lc += mom[i - xlo] / n;
    PetscCallMPI(MPI_Allreduce(&lc, &cost, 1, MPIU_REAL, MPI_SUM, comm));
  }
  r->cost = cost;
  PetscCall(PetscTime(&t1));
  r->seconds = t1 - t0;
  PetscCall(PetscFree2(xc, xd));
  PetscCall(PetscFree2(yc, yd));
  PetscCall(PetscFree5(f, g, fnew, mom, gold));
  PetscCall(PetscFree2(fbest, gbest));
  PetscCall(PetscFree4(K.pa, K.pb, K.pa1, K.pb1));
  PetscCall(PetscFree2(X.p, Y.p));
  PetscCall(PetscLogEventEnd(OT_EVENT, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}
