/* mlp_impl.h: the precision-generic part of the MLP, included twice by mlp.c (no include guard on
   purpose), once per precision, so the float (production) and double (gradient test) builds are
   the same source. The includer defines
     MLP_REAL  float | double        the real type
     MLP_GEMM  cblas_sgemm | cblas_dgemm
     MLP_SFX   f | d                 the name suffix: MLP_FN(MlpForward) -> MlpForward_f
   and MLP_CAT(a, b) -> a_b. Not a public header: include mlp.h. */
#define MLP_FN(name) MLP_CAT(name, MLP_SFX)
#define MLP_WORK     MLP_FN(MlpWork)

/* Round a buffer length up to 16 reals (64 bytes in float) so every buffer in the work space
   starts at the alignment of the allocation plus a whole number of cache lines. */
#define MLP_PAD(n) ((((size_t)(n)) + 15) / 16 * 16)

PetscErrorCode MLP_FN(MlpInitParams)(const MlpArch *a, uint64_t seed, MLP_REAL *params)
{
  PetscFunctionBeginUser;
  PetscCall(MlpArchCheck(a));
  for (PetscInt l = 0; l < a->nlayers; l++) {
    const PetscInt n = a->width[l], m = a->width[l + 1];
    const double   k = 1.0 / sqrt((double)n); /* nn.Linear: bound 1/sqrt(fan_in) for W and b */
    MLP_REAL      *W = params + a->woff[l], *b = params + a->boff[l];
    RngStream      s;

    rng_stream_init(&s, seed, MLP_RNG_PURPOSE, (uint64_t)l);
    for (size_t i = 0; i < (size_t)m * (size_t)n; i++) W[i] = (MLP_REAL)(k * (2.0 * rng_uniform(&s) - 1.0));
    for (PetscInt j = 0; j < m; j++) b[j] = (MLP_REAL)(k * (2.0 * rng_uniform(&s) - 1.0));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode MLP_FN(MlpWorkCreate)(const MlpArch *a, PetscInt maxB, MLP_WORK *w)
{
  const PetscInt L = a->nlayers;
  PetscInt       maxh = 0;
  size_t         total = 0, off;

  PetscFunctionBeginUser;
  PetscCall(MlpArchCheck(a));
  PetscCheck(maxB > 0 && maxB <= INT_MAX, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "MLP work space batch size maxB = %" PetscInt_FMT " must be in [1, INT_MAX] (BLAS dimensions are int)", maxB);
  PetscCall(PetscMemzero(w, sizeof(*w)));
  w->nlayers = L;
  for (PetscInt l = 0; l <= L; l++) w->width[l] = a->width[l];
  w->maxB = maxB;
  w->B    = -1;
  for (PetscInt l = 1; l < L; l++) maxh = PetscMax(maxh, a->width[l]);
  /* x[0..L-1], z[0..L-2], g[0..1]; the g buffers hold dL/dx_l for l >= 1 (hidden widths only:
     dL/dx_0 goes straight to din) */
  for (PetscInt l = 0; l < L; l++) total += MLP_PAD((size_t)maxB * a->width[l]);
  for (PetscInt l = 0; l < L - 1; l++) total += MLP_PAD((size_t)maxB * a->width[l + 1]);
  total += 2 * MLP_PAD((size_t)maxB * maxh);
  PetscCall(PetscMalloc1(total, &w->mem));
  off = 0;
  for (PetscInt l = 0; l < L; l++) {
    w->x[l] = w->mem + off;
    off += MLP_PAD((size_t)maxB * a->width[l]);
  }
  for (PetscInt l = 0; l < L - 1; l++) {
    w->z[l] = w->mem + off;
    off += MLP_PAD((size_t)maxB * a->width[l + 1]);
  }
  for (int k = 0; k < 2; k++) {
    w->g[k] = w->mem + off;
    off += MLP_PAD((size_t)maxB * maxh);
  }
  PetscCall(MlpRegisterEvents());
  PetscFunctionReturn(0);
}

PetscErrorCode MLP_FN(MlpWorkDestroy)(MLP_WORK *w)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(w->mem));
  PetscCall(PetscMemzero(w, sizeof(*w)));
  w->B = -1;
  PetscFunctionReturn(0);
}

PetscErrorCode MLP_FN(MlpForward)(const MlpArch *a, const MLP_REAL *params, PetscInt B, const MLP_REAL *in, MLP_REAL *out, MLP_WORK *w)
{
  const PetscInt L = a->nlayers;

  PetscFunctionBeginUser;
  PetscCall(MlpRegisterEvents());
  PetscCall(MlpWorkCheck(a, w->nlayers, w->width, w->maxB, B, "MlpForward"));
  w->B = B;
  if (!B) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(MLP_FORWARD_EVENT, 0, 0, 0, 0));
  /* Backward needs x_0 for dW_0; the caller may reuse `in`, so keep a copy */
  PetscCall(PetscArraycpy(w->x[0], in, (size_t)B * a->width[0]));
  for (PetscInt l = 0; l < L; l++) {
    const int       n = (int)a->width[l], m = (int)a->width[l + 1];
    const MLP_REAL *W = params + a->woff[l], *b = params + a->boff[l]; /* W: m x n, b: m */
    const MLP_REAL *x = w->x[l];                                       /* x: B x n */
    MLP_REAL       *z = (l < L - 1) ? w->z[l] : out;                   /* z: B x m */

    /* z (B x m) = x (B x n) W^T (n x m) */
    MLP_GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, m, n, (MLP_REAL)1, x, n, W, n, (MLP_REAL)0, z, m);
    if (l < L - 1) {
      /* z += b; x_{l+1} = relu(z), B x m: one pass over z. (v < 0 ? 0 : v) lets a NaN through
         (as torch.relu does) instead of hiding a diverged training run behind zeros. Both
         values are computed before either store: in this form GCC 12 -O2 selects branch-free
         (cmpltss/andnps) instead of a compare-and-jump, which mispredicts on about half of the
         random-signed z and made these passes 40% of the forward+backward time (bench_mlp). */
      MLP_REAL *xn = w->x[l + 1];
      for (PetscInt i = 0; i < B; i++) {
        MLP_REAL *zi = z + (size_t)i * m, *xi = xn + (size_t)i * m;
        for (int j = 0; j < m; j++) {
          const MLP_REAL v = zi[j] + b[j];
          const MLP_REAL r = v < 0 ? (MLP_REAL)0 : v;
          zi[j]            = v;
          xi[j]            = r;
        }
      }
    } else {
      /* out += b (linear output layer) */
      for (PetscInt i = 0; i < B; i++) {
        MLP_REAL *zi = z + (size_t)i * m;
        for (int j = 0; j < m; j++) zi[j] += b[j];
      }
    }
  }
  PetscCall(PetscLogFlops(MlpFlopsForward(a, B)));
  PetscCall(PetscLogEventEnd(MLP_FORWARD_EVENT, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

PetscErrorCode MLP_FN(MlpBackward)(const MlpArch *a, const MLP_REAL *params, PetscInt B, const MLP_REAL *dout, MLP_REAL *grad, MLP_REAL *din, MLP_WORK *w)
{
  const PetscInt  L  = a->nlayers;
  const MLP_REAL *dz = dout; /* dL/dz_l of the current layer, B x width[l+1]; z_{L-1} = out */
  int             k  = 0;    /* which g buffer receives the next dL/dx */

  PetscFunctionBeginUser;
  PetscCall(MlpRegisterEvents());
  PetscCall(MlpWorkCheck(a, w->nlayers, w->width, w->maxB, B, "MlpBackward"));
  PetscCheck(w->B == B, PETSC_COMM_SELF, PETSC_ERR_ORDER,
             "MlpBackward differentiates the last MlpForward on this work space, which had B = %" PetscInt_FMT " (-1: none yet), but got B = %" PetscInt_FMT ": call MlpForward on the same batch first",
             w->B, B);
  if (!B) PetscFunctionReturn(0);
  PetscCall(PetscLogEventBegin(MLP_BACKWARD_EVENT, 0, 0, 0, 0));
  for (PetscInt l = L - 1; l >= 0; l--) {
    const int       n = (int)a->width[l], m = (int)a->width[l + 1];
    const MLP_REAL *W  = params + a->woff[l]; /* m x n */
    MLP_REAL       *dW = grad + a->woff[l];   /* m x n */
    MLP_REAL       *db = grad + a->boff[l];   /* m */
    MLP_REAL       *dx;                       /* B x n */

    /* dW (m x n) += dz^T (m x B) x_l (B x n) */
    MLP_GEMM(CblasRowMajor, CblasTrans, CblasNoTrans, m, n, (int)B, (MLP_REAL)1, dz, m, w->x[l], n, (MLP_REAL)1, dW, n);
    /* db (m) += sum over the B rows of dz (B x m) */
    for (PetscInt i = 0; i < B; i++) {
      const MLP_REAL *dzi = dz + (size_t)i * m;
      for (int j = 0; j < m; j++) db[j] += dzi[j];
    }
    if (l == 0 && !din) break; /* training: dL/dx_0 is not wanted, skip that GEMM */
    dx = (l == 0) ? din : w->g[k];
    /* dx (B x n) = dz (B x m) W (m x n) */
    MLP_GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, n, m, (MLP_REAL)1, dz, m, W, n, (MLP_REAL)0, dx, n);
    if (l > 0) {
      /* dz_{l-1} = dx * relu'(z_{l-1}), B x n, in place; relu'(z) = 1 if z > 0, else 0 (also at
         z = 0 exactly). dx lives in the g scratch, never over z or x, so w keeps the state of the
         Forward and Backward may be called again for it. */
      const MLP_REAL *zp = w->z[l - 1];
      for (size_t i = 0; i < (size_t)B * n; i++) {
        const MLP_REAL t = dx[i]; /* load first, store unconditionally: branch-free, as above */
        dx[i]            = zp[i] > 0 ? t : (MLP_REAL)0;
      }
      dz = dx;
      k ^= 1;
    }
  }
  PetscCall(PetscLogFlops(MlpFlopsBackward(a, B) + (din ? 2.0 * B * a->width[0] * a->width[1] : 0.0)));
  PetscCall(PetscLogEventEnd(MLP_BACKWARD_EVENT, 0, 0, 0, 0));
  PetscFunctionReturn(0);
}

#undef MLP_PAD
#undef MLP_WORK
#undef MLP_FN
