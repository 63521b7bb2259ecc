/* post: summaries of posterior samples and the exact linear-Gaussian posterior (paper Sec. 5.2;
 * the exact posterior and the calibration scores are beyond the paper).
 *
 * Summaries of one test case's ns samples of x (rows of dim), per component j:
 *   mean, standard deviation (unbiased), CRPS against the true value,
 *   CRPS(F, v) = E|X - v| - 1/2 E|X - X'|, for the empirical law of the samples:
 *   (1/n) sum_i |x_i - v| - (1/n^2) sum_i (2i - n - 1) x_(i)   (x_(i) sorted, i = 1..n),
 *   and whether v lies in mean +- std and mean +- 2 std (the 1- and 2-sigma coverage).
 *
 * Exact posterior: with y = H x + e, x ~ N(mu0, K), e ~ N(0, s^2 I) (the unclipped GP prior and
 * the linear forward map),
 *   S = H K H^T + s^2 I,  mu_post = mu0 + (H K)^T S^{-1} (y - H mu0),
 *   Sigma_post = K - (H K)^T S^{-1} (H K),
 * the solves with S by ScaLAPACK's Cholesky on a BLACS grid (slpk.h). The "covariance form"
 * works with rank-deficient H (only ~17 of 30 singular values above 1e-3 of the largest): only
 * S must be positive definite, which any s > 0 gives; s = 0 is refused (the zero-noise posterior
 * is degenerate on the null space of H). */
#ifndef PDEDIFF_POST_H
#define PDEDIFF_POST_H
#include "slpk.h"

/* CRPS of the empirical law of n sorted values against v. */
PetscReal post_crps_sorted(PetscInt n, const PetscReal sorted[], PetscReal v);

/* Summaries of ns samples x[ns*dim] (row per sample); truth may be NULL (then crps, in1 and in2
   are not set). work: ns reals. in1[j], in2[j] are 1 if truth[j] lies within 1 / 2 std of mean. */
PetscErrorCode PostSummarize(PetscInt ns, PetscInt dim, const PetscReal x[], const PetscReal truth[], PetscReal mean[], PetscReal std[], PetscReal crps[], PetscReal in1[], PetscReal in2[], PetscReal work[]);

/* Collective on g's communicator; every input replicated. H: ny x nx, K: nx x nx (row-major),
   mu0: the prior mean (nx), s2 > 0: the noise variance, Y: ncases x ny measurements. Out:
   Mu (ncases x nx) and Sigma (nx x nx), replicated. An S that is not positive definite is
   PETSC_ERR_USER_INPUT. */
PetscErrorCode PostGaussian(SlpkGrid *g, PetscInt ny, PetscInt nx, const PetscReal H[], const PetscReal K[], const PetscReal mu0[], PetscReal s2, PetscInt ncases, const PetscReal Y[], PetscReal Mu[], PetscReal Sigma[]);

#endif
