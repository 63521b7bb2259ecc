/* mlp: architecture, views, flop counts and events (shared), plus the float and double builds
   of initialisation, work space, forward and backward: libcore/mlp_impl.h is included twice
   below, once per precision, so both builds are the same source. */
/* OpenBLAS's cblas.h declares openblas_setaffinity(..., cpu_set_t *), a glibc type that <sched.h>
   only defines under _GNU_SOURCE, which must be set before the first system header. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "mlp.h"
#include "rng.h"
#include <cblas.h>
#include <limits.h>
#include <math.h>
#define MLP_RNG_PURPOSE RNG_PURPOSE_MLP_INIT

static PetscLogEvent MLP_FORWARD_EVENT, MLP_BACKWARD_EVENT;

/* Registered on first use (no MlpInitialize call to forget); both precisions share the events. */
static PetscErrorCode MlpRegisterEvents(void)
{
  static PetscBool done = PETSC_FALSE;
  PetscClassId     cls;

  PetscFunctionBeginUser;
  if (done) PetscFunctionReturn(0);
  PetscCall(PetscClassIdRegister("pdediff mlp", &cls));
  PetscCall(PetscLogEventRegister("MlpForward", cls, &MLP_FORWARD_EVENT));
  PetscCall(PetscLogEventRegister("MlpBackward", cls, &MLP_BACKWARD_EVENT));
  done = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode MlpArchCreate(PetscInt n_in, PetscInt n_hidden_layers, PetscInt hidden_width, PetscInt n_out, MlpArch *a)
{
  PetscInt64 off = 0;

  PetscFunctionBeginUser;
  PetscCheck(n_in > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "MLP number of inputs n_in = %" PetscInt_FMT " must be > 0", n_in);
  PetscCheck(n_out > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "MLP number of outputs n_out = %" PetscInt_FMT " must be > 0", n_out);
  PetscCheck(hidden_width > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "MLP hidden layer width = %" PetscInt_FMT " must be > 0", hidden_width);
  PetscCheck(n_hidden_layers > 0 && n_hidden_layers <= MLP_MAX_LAYERS - 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "MLP number of hidden layers = %" PetscInt_FMT " must be in [1, %d] (MLP_MAX_LAYERS - 1; raise MLP_MAX_LAYERS in mlp.h for deeper networks)",
             n_hidden_layers, MLP_MAX_LAYERS - 1);
  /* BLAS (LP64 OpenBLAS) takes int dimensions */
  PetscCheck(n_in <= INT_MAX && n_out <= INT_MAX && hidden_width <= INT_MAX, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "MLP widths must be <= INT_MAX = %d (BLAS dimensions are int)", INT_MAX);
  PetscCall(PetscMemzero(a, sizeof(*a)));
  a->nlayers  = n_hidden_layers + 1;
  a->width[0] = n_in;
  for (PetscInt l = 1; l < a->nlayers; l++) a->width[l] = hidden_width;
  a->width[a->nlayers] = n_out;
  for (PetscInt l = 0; l < a->nlayers; l++) {
    a->woff[l] = (PetscInt)off;
    off += (PetscInt64)a->width[l + 1] * a->width[l];
    a->boff[l] = (PetscInt)off;
    off += a->width[l + 1];
    PetscCheck(off <= PETSC_MAX_INT, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
               "MLP with %" PetscInt_FMT " hidden layers of width %" PetscInt_FMT " has more parameters than PetscInt can index (%" PetscInt_FMT "): use fewer or narrower layers, or a PETSc built with 64-bit indices",
               n_hidden_layers, hidden_width, PETSC_MAX_INT);
  }
  a->nparams = (PetscInt)off;
  PetscFunctionReturn(0);
}

/* A hand-filled MlpArch (or one overwritten by mistake) would make every offset wrong; the cheap
   consistency check below catches that at the entry points that do not run per batch. */
static PetscErrorCode MlpArchCheck(const MlpArch *a)
{
  PetscFunctionBeginUser;
  PetscCheck(a->nlayers >= 1 && a->nlayers <= MLP_MAX_LAYERS, PETSC_COMM_SELF, PETSC_ERR_ARG_CORRUPT,
             "MlpArch has nlayers = %" PetscInt_FMT ", outside [1, %d]: create it with MlpArchCreate", a->nlayers, MLP_MAX_LAYERS);
  for (PetscInt l = 0; l <= a->nlayers; l++)
    PetscCheck(a->width[l] > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_CORRUPT, "MlpArch width[%" PetscInt_FMT "] = %" PetscInt_FMT " is not > 0: create it with MlpArchCreate", l, a->width[l]);
  PetscCheck(a->boff[a->nlayers - 1] + a->width[a->nlayers] == a->nparams, PETSC_COMM_SELF, PETSC_ERR_ARG_CORRUPT,
             "MlpArch offsets do not add up to nparams = %" PetscInt_FMT ": create it with MlpArchCreate", a->nparams);
  PetscFunctionReturn(0);
}

/* Forward/Backward run per batch, so they check only what would otherwise silently read or write
   out of bounds: the work space was made for this architecture and holds B rows. */
static PetscErrorCode MlpWorkCheck(const MlpArch *a, PetscInt wl, const PetscInt ww[], PetscInt maxB, PetscInt B, const char *caller)
{
  PetscFunctionBeginUser;
  PetscCheck(wl == a->nlayers, PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP,
             "%s: the work space was created for %" PetscInt_FMT " layers, the architecture has %" PetscInt_FMT ": create the work space with this MlpArch", caller, wl, a->nlayers);
  for (PetscInt l = 0; l <= a->nlayers; l++)
    PetscCheck(ww[l] == a->width[l], PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP,
               "%s: the work space has width[%" PetscInt_FMT "] = %" PetscInt_FMT ", the architecture %" PetscInt_FMT ": create the work space with this MlpArch", caller, l, ww[l], a->width[l]);
  PetscCheck(B >= 0 && B <= maxB, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "%s: batch B = %" PetscInt_FMT " must be in [0, maxB = %" PetscInt_FMT "] of the work space: split the batch or create the work space with a larger maxB", caller, B, maxB);
  PetscFunctionReturn(0);
}

/* 1234567 -> "1,234,567" */
static void FormatThousands(PetscInt64 v, char *s, size_t len)
{
  char   digits[32];
  size_t n, o = 0;

  snprintf(digits, sizeof(digits), "%lld", (long long)v);
  n = strlen(digits);
  for (size_t i = 0; i < n && o + 1 < len; i++) {
    s[o++] = digits[i];
    if (digits[i] != '-' && (n - 1 - i) % 3 == 0 && i + 1 < n && o + 1 < len) s[o++] = ',';
  }
  s[o] = 0;
}

PetscErrorCode MlpArchView(const MlpArch *a, char buf[], size_t len)
{
  size_t o = 0;
  int    k;
  char   np[32];

  PetscFunctionBeginUser;
  PetscCall(MlpArchCheck(a));
  PetscCheck(len > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "MlpArchView: buffer length is 0");
  buf[0] = 0;
  for (PetscInt l = 0; l <= a->nlayers; l++) {
    k = snprintf(buf + o, len - o, "%s%" PetscInt_FMT, l ? "-" : "", a->width[l]);
    PetscCheck(k >= 0 && (size_t)k < len - o, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "MlpArchView: buffer of %zu chars is too short: pass a larger one (128 is plenty)", len);
    o += (size_t)k;
  }
  FormatThousands(a->nparams, np, sizeof(np));
  k = snprintf(buf + o, len - o, " (ReLU), %s parameters", np);
  PetscCheck(k >= 0 && (size_t)k < len - o, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "MlpArchView: buffer of %zu chars is too short: pass a larger one (128 is plenty)", len);
  PetscFunctionReturn(0);
}

PetscLogDouble MlpFlopsForward(const MlpArch *a, PetscInt B)
{
  PetscLogDouble f = 0;
  for (PetscInt l = 0; l < a->nlayers; l++) f += (PetscLogDouble)B * a->width[l + 1] * (2.0 * a->width[l] + 1.0); /* GEMM + bias */
  return f;
}

PetscLogDouble MlpFlopsBackward(const MlpArch *a, PetscInt B)
{
  PetscLogDouble f = 0;
  for (PetscInt l = 0; l < a->nlayers; l++) {
    f += (PetscLogDouble)B * a->width[l + 1] * (2.0 * a->width[l] + 1.0);     /* dW GEMM + db sum */
    if (l > 0) f += 2.0 * (PetscLogDouble)B * a->width[l + 1] * a->width[l]; /* dX GEMM (none for l = 0 when din == NULL) */
  }
  return f;
}

#define MLP_CAT_(a, b) a##_##b
#define MLP_CAT(a, b)  MLP_CAT_(a, b)

#define MLP_REAL float
#define MLP_GEMM cblas_sgemm
#define MLP_SFX  f
#include "mlp_impl.h"
#undef MLP_REAL
#undef MLP_GEMM
#undef MLP_SFX

#define MLP_REAL double
#define MLP_GEMM cblas_dgemm
#define MLP_SFX  d
#include "mlp_impl.h"
#undef MLP_REAL
#undef MLP_GEMM
#undef MLP_SFX
