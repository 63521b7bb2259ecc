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
typedef enum { DSM_OUTPUT_SCORE = 0, DSM_OUTPUT_NOISE = 1 } DsmOutput;
extern const char *const DsmOutputs[];

/* How the network's input and output are parametrised: recorded in model files, compared on
   restarts (model.h), the same in training (DsmWork) and sampling (ModelScore). */
typedef struct {
  DsmEmbed  embed;  /* -net_time_embed */
  DsmOutput output; /* -net_output */
} DsmParam;

/* The paper's parametrisation: (A.1) and the score as output. */
DsmParam dsm_param_paper(void);

/* The score s_theta from one network output: out (score) or -out / sigma(t) (noise). */
static inline PetscReal dsm_score(DsmOutput o, PetscReal out, PetscReal sigma)
{
  return o == DSM_OUTPUT_NOISE ? -out / sigma : out;
}

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
