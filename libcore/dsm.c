#include "dsm.h"
#include <math.h>

const char *const DsmEmbeds[] = {"paper", "logsigma", "DsmEmbed", "DSM_EMBED_", NULL};
const char *const DsmOutputs[] = {"score", "noise", "edm", "DsmOutput", "DSM_OUTPUT_", NULL};

DsmParam dsm_param_paper(void)
{
  DsmParam p = {DSM_EMBED_PAPER, DSM_OUTPUT_SCORE, 0, 0, 0};
  return p;
}

PetscErrorCode DsmParamSetDataScale(MPI_Comm comm, DsmParam *p, PetscInt nlocal, PetscInt nx, const float x[])
{
  PetscReal *acc; /* [sum_j (nx) | sum of squares_j (nx) | rows] */
  PetscReal  mean = 0, var = 0, n;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1(2 * nx + 1, &acc));
  for (PetscInt i = 0; i < nlocal; i++)
    for (PetscInt j = 0; j < nx; j++) {
      const PetscReal v = x[(size_t)i * nx + j];
      acc[j] += v;
      acc[nx + j] += v * v;
    }
  acc[2 * nx] = nlocal;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, acc, (PetscMPIInt)(2 * nx + 1), MPIU_REAL, MPI_SUM, comm));
  n = acc[2 * nx];
  PetscCheck(n >= 2, comm, PETSC_ERR_ARG_SIZ, "-net_output edm needs at least 2 training rows to set its scales (have %g)", (double)n);
  for (PetscInt j = 0; j < nx; j++) {
    const PetscReal mj = acc[j] / n;
    mean += mj;
    var += PetscMax(0.0, acc[nx + j] / n - mj * mj);
  }
  p->centre = mean / nx;
  if (p->sigma_data <= 0) p->sigma_data = PetscSqrtReal(var / nx);
  if (p->sigma_skip <= 0) p->sigma_skip = p->sigma_data;
  PetscCheck(p->sigma_data > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-net_output edm: the training set's x has no spread (every component constant): give -net_sigma_data");
  PetscCall(PetscFree(acc));
  PetscFunctionReturn(0);
}

/* f(t) given sigma(t) (read only for logsigma): DsmForward already has it for every row. */
static void TimeEmbedSigma(DsmEmbed embed, PetscReal t, PetscReal sigma, float f[DSM_TIME_EMBED])
{
  f[0] = embed == DSM_EMBED_LOGSIGMA ? (float)(0.25 * log(sigma)) : (float)(t - 0.5);
  f[1] = (float)cos(2 * PETSC_PI * t);
  f[2] = (float)sin(2 * PETSC_PI * t);
  f[3] = (float)(-cos(4 * PETSC_PI * t));
}

void dsm_time_embed(const Sched *sch, DsmEmbed embed, PetscReal t, float f[DSM_TIME_EMBED])
{
  SchedCoef co = {0};
  if (embed == DSM_EMBED_LOGSIGMA) sched_coef(sch, t, &co); /* the paper's (A.1) needs no sigma */
  TimeEmbedSigma(embed, t, co.sigma, f);
}

PetscErrorCode DsmWorkCreate(const MlpArch *a, PetscInt nx, PetscInt ncond, DsmParam par, PetscInt maxB, DsmWork *dw)
{
  PetscFunctionBeginUser;
  PetscCheck(a->width[0] == nx + ncond + DSM_TIME_EMBED, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "Score network has %" PetscInt_FMT " inputs but x (%" PetscInt_FMT ") + condition (%" PetscInt_FMT ") + time embedding (4) need %" PetscInt_FMT, a->width[0], nx, ncond, nx + ncond + DSM_TIME_EMBED);
  PetscCheck(a->width[a->nlayers] == nx, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "Score network has %" PetscInt_FMT " outputs but x has dimension %" PetscInt_FMT, a->width[a->nlayers], nx);
  PetscCheck(par.output != DSM_OUTPUT_EDM || (par.sigma_data > 0 && par.sigma_skip > 0), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONGSTATE, "-net_output edm: sigma_data %g and sigma_skip %g must be > 0 (DsmParamSetDataScale sets them from the training set)", (double)par.sigma_data, (double)par.sigma_skip);
  dw->nx    = nx;
  dw->ncond = ncond;
  dw->par   = par;
  dw->maxB  = maxB;
  PetscCall(PetscMalloc4((size_t)maxB * a->width[0], &dw->in, (size_t)maxB * nx, &dw->out, (size_t)maxB * nx, &dw->dout, maxB, &dw->sig));
  PetscCall(MlpWorkCreate_f(a, maxB, &dw->w));
  PetscFunctionReturn(0);
}

PetscErrorCode DsmWorkDestroy(DsmWork *dw)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree4(dw->in, dw->out, dw->dout, dw->sig));
  PetscCall(MlpWorkDestroy_f(&dw->w));
  PetscFunctionReturn(0);
}

/* Build the input rows [x_t | c | f(t)] and run the network; returns the residual sum. */
static PetscErrorCode DsmForward(const Sched *sch, const MlpArch *a, const float params[], PetscInt B, const float x0[], const float c[], const PetscReal t[], const float z[], PetscReal *loss_sum, DsmWork *dw)
{
  const PetscInt nx = dw->nx, nc = dw->ncond, nin = a->width[0];
  PetscReal      acc = 0;

  PetscFunctionBeginUser;
  PetscCheck(B <= dw->maxB, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "DSM batch of %" PetscInt_FMT " rows exceeds the work space (%" PetscInt_FMT ")", B, dw->maxB);
  for (PetscInt i = 0; i < B; i++) {
    SchedCoef co;
    float    *row = dw->in + (size_t)i * nin;
    sched_coef(sch, t[i], &co);
    dw->sig[i] = (float)co.sigma;
    for (PetscInt d = 0; d < nx; d++) row[d] = (float)(co.m * x0[(size_t)i * nx + d] + co.sigma * z[(size_t)i * nx + d]); /* (23) */
    if (dw->par.output == DSM_OUTPUT_EDM) { /* F* (dsm.h), kept in dout until the output comes */
      const DsmEdmCoef e = dsm_edm_coef(&dw->par, co.m, co.sigma);
      for (PetscInt d = 0; d < nx; d++) dw->dout[(size_t)i * nx + d] = (float)(((1 - e.cskip) * (x0[(size_t)i * nx + d] - dw->par.centre) - e.cskip * e.shat * z[(size_t)i * nx + d]) / e.cout);
    }
    for (PetscInt j = 0; j < nc; j++) row[nx + j] = c[(size_t)i * nc + j];
    TimeEmbedSigma(dw->par.embed, t[i], co.sigma, row + nx + nc);
  }
  PetscCall(MlpForward_f(a, params, B, dw->in, dw->out, &dw->w));
  const PetscBool noise = (PetscBool)(dw->par.output == DSM_OUTPUT_NOISE), edm = (PetscBool)(dw->par.output == DSM_OUTPUT_EDM);
  for (PetscInt i = 0; i < B; i++)
    for (PetscInt d = 0; d < nx; d++) {
      const float o = dw->out[(size_t)i * nx + d], zz = z[(size_t)i * nx + d];
      /* (48): sigma s + z, s = -o / sigma for noise; edm: F - F*, (48) weighted by (s^/c_out)^2 */
      const float r = edm ? o - dw->dout[(size_t)i * nx + d] : noise ? zz - o : dw->sig[i] * o + zz;
      dw->dout[(size_t)i * nx + d] = r;
      acc += (PetscReal)r * r;
    }
  *loss_sum = acc;
  PetscFunctionReturn(0);
}

PetscErrorCode DsmLoss(const Sched *sch, const MlpArch *a, const float params[], PetscInt B, const float x0[], const float c[], const PetscReal t[], const float z[], PetscReal *loss_sum, DsmWork *dw)
{
  PetscFunctionBeginUser;
  PetscCall(DsmForward(sch, a, params, B, x0, c, t, z, loss_sum, dw));
  PetscFunctionReturn(0);
}

PetscErrorCode DsmLossGrad(const Sched *sch, const MlpArch *a, const float params[], PetscInt B, const float x0[], const float c[], const PetscReal t[], const float z[], PetscReal scale, float grad[], PetscReal *loss_sum, DsmWork *dw)
{
  const PetscInt nx = dw->nx;

  PetscFunctionBeginUser;
  PetscCall(DsmForward(sch, a, params, B, x0, c, t, z, loss_sum, dw));
  /* d/dout of scale * |sigma s + z|^2 = 2 scale sigma (sigma s + z) for the score output,
     -2 scale (z - out) for the noise output (sigma s = -out), 2 scale (F - F*) for edm */
  for (PetscInt i = 0; i < B; i++) {
    const float f = dw->par.output == DSM_OUTPUT_NOISE ? (float)(-2.0 * scale) : dw->par.output == DSM_OUTPUT_EDM ? (float)(2.0 * scale) : (float)(2.0 * scale) * dw->sig[i];
    for (PetscInt d = 0; d < nx; d++) dw->dout[(size_t)i * nx + d] *= f;
  }
  PetscCall(MlpBackward_f(a, params, B, dw->dout, grad, NULL, &dw->w));
  PetscFunctionReturn(0);
}
