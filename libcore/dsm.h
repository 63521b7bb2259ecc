/* dsm: the conditional denoising score-matching loss (48) on the MLP score network.
 *
 * Network input row (Appendix A): [x (nx) | c (ncond: y, and the mask m when used) | f(t) (4)]
 * with the time embedding (A.1) f(t) = [t - 0.5, cos 2 pi t, sin 2 pi t, -cos 4 pi t]; the network
 * output is the score s_theta(x, c, t) itself, as in the paper.
 * -net_time_embed logsigma (beyond the paper) replaces the first entry by ln(sigma(t)) / 4, the
 * noise level on a log scale (EDM's c_noise). Why: a narrow posterior is decided where sigma(t) is
 * of the order of its std, t ~ 1e-3-1e-2, and over that range (A.1) moves by less than 0.06 in
 * any entry while sigma(t) changes tenfold, so the network can hardly tell those times apart;
 * ln sigma moves by O(1) there. The width of the input row is unchanged. Measured (README, exact
 * check at noise 0.01): no gain in the posterior width, and the ODE needs twice the steps.
 * -net_output noise (beyond the paper) makes the network predict the noise z of x_t instead of
 * the score: s_theta = -out / sigma(t) (DDPM's epsilon, score_sde's VP models). The loss (48) is
 * the same function of s_theta, |sigma s_theta + z|^2 = |z - out|^2; only what the network's
 * outputs mean changes. Why: the score's scale runs from O(1) at t = T to O(1/sigma) near t = 0,
 * so the paper's output must cover two decades depending on t, while the noise has unit scale at
 * every t. The probability-flow ODE integrates relative errors of the score over every noise
 * scale from the posterior's width up. Measured (README, exact check at noise 0.01, VP): std
 * ratio to the exact posterior ODE 1.059 against 1.104, SDE 1.012 against 1.052.
 * -net_output edm (beyond the paper) is EDM's preconditioning (Karras et al. 2022) written for
 * any m(t), sigma(t): with s^ = sigma/m the noise of x^ = x_t/m = x0 + s^ z, the network output F
 * gives the denoiser D = c0 + c_skip (x^ - c0) + c_out F with c_skip = ss^2/(s^2 + ss^2) and
 * c_out = s^ sqrt(s^2 sd^2 + ss^4)/(s^2 + ss^2) (sd = -net_sigma_data, ss = -net_sigma_skip, c0 the
 * training set's mean; ss = sd is EDM's own), and the score s_theta = (m D - x_t)/sigma^2 (Tweedie).
 * Below s^ ~ ss the network predicts the noise (F -> -z), above it the clean x0 (F -> (x0-c0)/sd).
 * Why: where the posterior is narrower than s^, D should not depend on x^ at all (dD/dx^ ~ 0), and
 * a noise output can only get there by learning dF/dx^ = -I/s^ exactly; whatever is left of
 * dD/dx^ the probability-flow ODE does not contract (postprocess/denoiser_probe.py on the VP
 * zero-noise network with the noise output: tr(dD/dx^)/n 0.03-0.18, |dD/dx^|_F/sqrt(n) 0.15-0.42
 * for s^ from 0.5 down to 0.005, where the exact value is ~0), so its samples keep that spread.
 * The loss is the unit-weight |F - F*|^2 on the output (F* the F that gives D = x0), i.e. (48)
 * weighted by (s^/c_out)^2, EDM's weighting: 1 where the network predicts noise, (s^/sd)^2 where
 * it predicts x0. Measured at zero noise (README, "What the flow does not contract"): the ODE's
 * spread becomes sigma_skip itself; not in the recipe.
 * Loss (48), averaged: L = (1/Bg) sum_i |sigma(t_i) s_theta(x_t,i, c_i, t_i) + z_i|^2 with
 * x_t = m(t) x0 + sigma(t) z, where Bg is the GLOBAL batch: each rank passes its share of the
 * rows and scale = 1/Bg, so summing the ranks' gradients (one MPI_Allreduce) gives the gradient
 * of the global-batch loss. */
#ifndef PDEDIFF_DSM_H
#define PDEDIFF_DSM_H
#include "mlp.h"
#include "schedule.h"

#define DSM_TIME_EMBED 4

typedef enum { DSM_EMBED_PAPER = 0, DSM_EMBED_LOGSIGMA = 1 } DsmEmbed;
extern const char *const DsmEmbeds[];
typedef enum { DSM_OUTPUT_SCORE = 0, DSM_OUTPUT_NOISE = 1, DSM_OUTPUT_EDM = 2 } DsmOutput;
extern const char *const DsmOutputs[];

/* How the network's input and output are parametrised: recorded in model files, compared on
   restarts (model.h), the same in training (DsmWork) and sampling (ModelScore). */
typedef struct {
  DsmEmbed  embed;  /* -net_time_embed */
  DsmOutput output; /* -net_output */
  /* -net_output edm only (0 otherwise): the preconditioning's scales, in normalised units of x */
  PetscReal sigma_data; /* -net_sigma_data: the data's std (default: the training set's) */
  PetscReal sigma_skip; /* -net_sigma_skip: s^ where the output turns from noise to x0 (default sigma_data) */
  PetscReal centre;     /* c0: the training set's mean of the normalised x */
} DsmParam;

/* The paper's parametrisation: (A.1) and the score as output. */
DsmParam dsm_param_paper(void);

/* The score s_theta from one network output: out (score) or -out / sigma(t) (noise). */
static inline PetscReal dsm_score(DsmOutput o, PetscReal out, PetscReal sigma)
{
  return o == DSM_OUTPUT_NOISE ? -out / sigma : out;
}

/* -net_output edm at (m, sigma): s_theta = a (x_t/m - c0) + b out, the score of one component;
   written so that nothing cancels as sigma -> 0. */
typedef struct {
  PetscReal m, shat, cskip, cout; /* m(t), s^ = sigma/m, c_skip, c_out */
  PetscReal a, b;                 /* s_theta = a (x_t/m - c0) + b F */
} DsmEdmCoef;

static inline DsmEdmCoef dsm_edm_coef(const DsmParam *p, PetscReal m, PetscReal sigma)
{
  const PetscReal sd = p->sigma_data, ss = p->sigma_skip, s = sigma / m, den = s * s + ss * ss;
  const PetscReal root = PetscSqrtReal(s * s * sd * sd + ss * ss * ss * ss);
  DsmEdmCoef      c;
  c.m     = m;
  c.shat  = s;
  c.cskip = ss * ss / den;
  c.cout  = s * root / den;
  /* (m D - x_t)/sigma^2 = (D - x^)/(m s^2), D - x^ = -(s^2/den)(x^ - c0) + c_out F */
  c.a = -1.0 / (m * den);
  c.b = root / (m * s * den);
  return c;
}

/* The mean over components of the normalised x and the root of the mean of their variances:
   -net_output edm's centre c0 and default sigma_data (rows are this rank's share, n_global in all). */
PetscErrorCode DsmParamSetDataScale(MPI_Comm comm, DsmParam *p, PetscInt nlocal, PetscInt nx, const float x[]);

/* f(t): (A.1), or with embed = DSM_EMBED_LOGSIGMA its first entry ln(sigma(t)) / 4. */
void dsm_time_embed(const Sched *sch, DsmEmbed embed, PetscReal t, float f[DSM_TIME_EMBED]);

typedef struct {
  PetscInt  nx, ncond, maxB;
  DsmParam  par;
  float    *in;   /* maxB x (nx + ncond + 4) network inputs */
  float    *out;  /* maxB x nx network outputs */
  float    *dout; /* maxB x nx dL/dout */
  float    *sig;  /* maxB sigma(t_i) */
  MlpWork_f w;
} DsmWork;

PetscErrorCode DsmWorkCreate(const MlpArch *a, PetscInt nx, PetscInt ncond, DsmParam par, PetscInt maxB, DsmWork *dw);
PetscErrorCode DsmWorkDestroy(DsmWork *dw);

/* Rows i < B: clean x0 (B x nx), conditions c (B x ncond), times t (B), noises z (B x nx).
   Accumulates scale * d(sum_i |sigma s + z|^2)/dparams into grad and returns the unscaled sum
   of the B squared residual norms in *loss_sum. */
PetscErrorCode DsmLossGrad(const Sched *sch, const MlpArch *a, const float params[], PetscInt B, const float x0[], const float c[], const PetscReal t[], const float z[], PetscReal scale, float grad[], PetscReal *loss_sum, DsmWork *dw);

/* Forward only (no gradient): the same loss sum, for validation sets. */
PetscErrorCode DsmLoss(const Sched *sch, const MlpArch *a, const float params[], PetscInt B, const float x0[], const float c[], const PetscReal t[], const float z[], PetscReal *loss_sum, DsmWork *dw);

#endif
