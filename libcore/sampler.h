/* sampler: reverse-process samplers over a batch of particles (paper Sec. 2.4-2.5, 4.1).
 *
 * With tau = T - t the reverse process is (41)
 *   dx = ( b(t)/2 x + (1+alpha) g(t)/2 s(x, c, t) ) dtau + sqrt(alpha g(t)) dw,
 * integrated from tau = 0 (t = T, x ~ N(0, sigma(T)^2 I)) to tau = T - eps (t = eps).
 *   SDE: Euler-Maruyama (42) for any alpha >= 0 on a uniform tau grid (the paper's) or one graded
 *        towards t = 0 (-sampler_grid_power).
 *   ODE: alpha = 0, the probability-flow ODE (44), by adaptive Dormand-Prince RK5(4) with a
 *        step size of its own for every particle (error control per particle, as SciPy's
 *        solve_ivp would apply to a single trajectory), so a particle's path never depends on
 *        which other particles share its batch or rank.
 * All randomness is keyed by (seed, purpose, global particle index): the same seed gives the
 * same samples at any number of ranks and any chunk size. Neither sampler communicates.
 */
#ifndef PDEDIFF_SAMPLER_H
#define PDEDIFF_SAMPLER_H
#include "schedule.h"

/* Batched score callback: for n particles with forward times t[n], states x[n*dim] and
   conditioning vectors cond[n*cond_dim] (NULL when cond_dim = 0), write the score
   s(x, c, t) = grad_x log p_t(x | c) into score[n*dim]. Row-major, one particle per row. */
typedef PetscErrorCode (*ScoreFn)(void *ctx, PetscInt n, const PetscReal t[], const PetscReal x[], const PetscReal cond[], PetscReal score[]);

typedef struct {
  ScoreFn  fn;
  void    *ctx;
  PetscInt dim;      /* n_x: dimension of the sampled variable */
  PetscInt cond_dim; /* dimension of the conditioning vector (0 if unconditional) */
} ScoreModel;

typedef enum { SAMPLER_ODE = 0, SAMPLER_SDE = 1 } SamplerType;
extern const char *const SamplerTypes[];
/* Where the reverse process starts: zero = N(0, sigma(T)^2 I), the paper's; mean =
   N(m(T) mu, sigma(T)^2 I) with mu the training-set mean of x (beyond the paper). Why: with
   Table A1's sigma_max 5 / beta_max 5, m(T) is 1 (VE) or 0.29 (VP family), so the true terminal
   law of data with mean mu sits m(T) mu away from 0; the probability-flow ODE carries that
   offset to t = 0 as a bias of the samples (measured on the inverse problem at noise 0.1: the
   ODE posterior mean sits 0.11 prior std below the exact one on every segment, the SDE 0.00).
   Starting at the data mean removes the part common to all conditions.
   tweedie = N(m(T) mu(c), sigma(T)^2 I) with mu(c) the conditional mean of x given each
   particle's condition c, read off the score at t = T by Tweedie's formula averaged over
   SAMPLER_TWEEDIE_PROBES probe points, mu <- mean_j E[x0 | x_T = z_j + m(T) mu] with
   E[x0 | x_T] = (x_T + sigma(T)^2 s(x_T, c, T)) / m(T) and z_j ~ N(0, sigma(T)^2 I), iterated
   SAMPLER_TWEEDIE_ITERS times from mu = 0 (for a terminal law N(m mu, m^2 v + sigma^2) each
   iteration shrinks the error by k = m^2 v/(m^2 v + sigma^2), ~0.01-0.02 at Table A1's values).
   Consecutive particles with one condition (a test case's samples) share the estimate, which
   costs PROBES x ITERS score evaluations per run; the z_j are keyed by the seed and j alone, so
   mu(c) does not depend on the ranks or the batching. Why: the offset the ODE carries to t = 0
   is m(T) mu(c), which depends on the condition (Table 1's tanh case: E[X | Y] runs from -0.16
   to 1.07 over Y = -0.5 .. 1); one training-set mean cannot remove it for every c. Why probes:
   the centre x_T = m(T) mu, where the estimate was first read, lies ~sigma(T) sqrt(n) from
   every diffused training point in n dimensions, where a network extrapolates. The VE mask
   model at zero noise (n = 30) read there started some test cases tens of prior stds off: ODE
   error 82% of the mean flux (300 test cases x 50 samples); with the probes 4.2% (60 x 200; the
   zero start 4.4%). The unmasked models give the same either way (VP 0.1, 50 cases x 200
   samples: ODE mean 0.0712 and 0.0714 prior std from the MCMC's, std ratio 1.031 and 1.034;
   VP 0, 100 x 200: coverage 0.805 and 0.806). */
typedef enum { SAMPLER_START_ZERO = 0, SAMPLER_START_MEAN = 1, SAMPLER_START_TWEEDIE = 2 } SamplerStart;
#define SAMPLER_TWEEDIE_ITERS  2
#define SAMPLER_TWEEDIE_PROBES 32
extern const char *const SamplerStarts[];

typedef struct {
  SamplerType type;
  PetscReal   alpha;     /* SDE: alpha >= 0 (1 = the paper's SDE; 0 = Euler on the ODE) */
  PetscReal   dtau;      /* SDE: step (paper: 0.002); ceil((T-eps)/dtau) steps */
  PetscReal   grid_power; /* SDE: rho >= 1; t_k = eps + (T-eps) (1 - k/N)^rho. 1 = uniform (the paper).
                            Why: VE's g(t) = sigma_max^(2t) stays 1 at t = 0, so each uniform step
                            adds noise of variance g dtau = 0.002 however narrow the law being
                            sampled; where that variance is near the law's own (a posterior of
                            std 0.05 in normalised units has 0.0025) Euler-Maruyama's error is of
                            order one. rho > 1 spends the same steps with finer ones near t = 0. */
  PetscReal   rtol;      /* ODE: relative tolerance > 0 */
  PetscReal   atol;      /* ODE: absolute tolerance > 0 */
  PetscReal   hmax;      /* ODE: largest step in tau (> 0); the error estimate of one huge step can miss
                            the fast dynamics near t = 0, so steps are capped (SciPy's max_step) */
  PetscInt    max_steps; /* ODE: step limit per particle (accepted + rejected) */
  PetscInt    chunk;     /* particles per batched score call (memory bound, no effect on results) */
  PetscInt    seed;      /* keys the prior draw and the SDE noise */
  SamplerStart start;    /* -sampler_start zero|mean|tweedie */
  const PetscReal *start_mean; /* SAMPLER_START_MEAN: mu (dim values, e.g. the model's x_mean), not owned */
  PetscBool   denoise;   /* -sampler_denoise: end with one Tweedie step x0 = (x + sigma(eps)^2 s(x, c, eps)) / m(eps),
                            E[x0 | x_eps] (score_sde's noise removal; beyond the paper; one score evaluation
                            per particle). Why: the reverse process ends at t = eps, where the samples are the
                            posterior blurred by N(0, sigma(eps)^2): with Table A1's VE (eps 1e-5) sigma(eps) is
                            0.0032 in normalised units, 0.024 prior std on the inverse problem, wider than its
                            zero-noise posterior (~0.002). For a law N(mu, v) the step maps the blurred
                            N(mu, v + s^2) to N(mu, v^2/(v + s^2)): it removes the blur where v << s^2 and
                            under-disperses by the factor the blur over-dispersed where v >> s^2 (then both
                            are within s^2/2v). Negligible for VP (sigma(eps) 1e-4). */
} SamplerOpts;

typedef struct {
  PetscInt64     score_evals; /* particle-score evaluations (rows passed to the callback) */
  PetscInt64     score_calls; /* callback invocations */
  PetscInt64     steps;       /* accepted steps summed over particles */
  PetscInt64     rejected;    /* rejected ODE steps summed over particles */
  PetscInt64     max_particle_steps;
  PetscLogDouble time;        /* wall seconds in SamplerRun */
} SamplerStats;

/* Called once at t = T and after every step with the particles that advanced:
   their global indices, their current forward times and states (rows of dim). */
typedef PetscErrorCode (*SamplerMonitor)(void *mctx, PetscInt n, const PetscInt64 gidx[], const PetscReal t[], const PetscReal x[]);

PetscErrorCode SamplerOptsSetDefaults(SamplerOpts *o);
/* -sampler_type ode|sde, -sampler_alpha, -sampler_dtau, -sampler_rtol, -sampler_atol,
   -sampler_hmax, -sampler_max_steps, -sampler_chunk, -sampler_seed, -sampler_start,
   -sampler_denoise; validated. */
PetscErrorCode SamplerOptsSetFromOptions(MPI_Comm comm, const char prefix[], SamplerOpts *o);
PetscErrorCode SamplerOptsValidate(const SamplerOpts *o);

/* Contiguous split of N particles over the ranks of comm (the first N % size ranks get one more). */
PetscErrorCode SamplerPartition(MPI_Comm comm, PetscInt64 N, PetscInt *nlocal, PetscInt64 *first);

/* Sample nlocal particles with global indices first .. first+nlocal-1 into x[nlocal*dim].
   cond[nlocal*cond_dim] holds each particle's conditioning vector (NULL if cond_dim = 0).
   stats (local to this rank) may be NULL, monitor may be NULL. Not collective. */
PetscErrorCode SamplerRun(const Sched *sch, const SamplerOpts *o, const ScoreModel *sm, PetscInt nlocal, PetscInt64 first, const PetscReal cond[], PetscReal x[], SamplerStats *stats, SamplerMonitor monitor, void *mctx);

/* Sum the counters over comm (max for max_particle_steps and time). Collective. */
PetscErrorCode SamplerStatsReduce(MPI_Comm comm, const SamplerStats *local, SamplerStats *global);

#endif
