/* ot: entropic optimal transport between two 1-D point sets by log-domain Sinkhorn-Knopp
 * (DESIGN.md section 4; the Table 1 metric).
 *
 * Uniform weights a_i = 1/n, b_j = 1/m; plan P_ij = a_i b_j exp((f_i + g_j - C_ij)/reg) with the
 * potentials updated alternately
 *   f_i = -reg log sum_j b_j exp((g_j - C_ij)/reg),   g_j = -reg log sum_i a_i exp((f_i - C_ij)/reg)
 * (log domain: the plain kernel exp(-C/0.01) underflows to 0 for points more than ~7 apart with
 * the squared cost and ~7.4 with |x - x'|, which makes the plain solver stop early with a false
 * value). After each g update the column marginals are exact; the row-marginal error
 * sum_i |(P 1)_i - a_i| is computed from the next f update at no extra cost, and iteration stops
 * when it is <= tol. Returned: the transport cost <P, C> (what POT's ot.sinkhorn2 returns; no
 * entropy term), the iteration count and the final marginal error.
 *
 * Nothing of size n x m is formed. Points are sorted once; each half-iteration is a "softmin"
 * over the other set, computed by one of three kernels:
 *   euclidean  C = |x - z|: exact in O(n + m) with prefix/suffix log-sum-exps, because
 *              |x - z_j| = x - z_j for z_j <= x and z_j - x beyond, so the sum over j splits
 *              into a prefix term in exp((h_j + z_j)/reg) and a suffix term in exp((h_j - z_j)/reg);
 *   sqeuclidean C = (x - z)^2: the exponent (h_j - (x - z_j)^2)/reg is concave in z_j for every
 *              Sinkhorn iterate (h - z^2 is minus a log-sum-exp of affine functions of z), so
 *              for sorted z it is unimodal with its peak moving right as x grows: each sum runs
 *              over the window where the exponent is within OT_WINDOW of its peak (dropped terms
 *              < m e^-OT_WINDOW relative = 1e-26 for m = 1e4);
 *   dense      any cost, O(n m) per half-iteration: the reference the fast kernels are tested
 *              against (-ot_method dense).
 * Parallel: every rank holds both sets (O(n + m) memory) and computes a contiguous slice of each
 * potential; one MPI_Allgatherv per half-iteration assembles it. */
#ifndef PDEDIFF_OT_H
#define PDEDIFF_OT_H
#include <petscsys.h>

#define OT_WINDOW 60.0

typedef enum { OT_COST_EUCLIDEAN = 0, OT_COST_SQEUCLIDEAN = 1 } OtCost;
extern const char *const OtCosts[];
typedef enum { OT_METHOD_AUTO = 0, OT_METHOD_DENSE = 1 } OtMethod;
extern const char *const OtMethods[];

typedef struct {
  PetscReal reg;      /* entropic regularisation (Table 1: 0.01) */
  OtCost    cost;     /* euclidean (Table 1) or sqeuclidean */
  PetscReal tol;      /* stop when the L1 row-marginal error <= tol */
  PetscInt  max_iter; /* give up (with a warning) after this many iterations */
  OtMethod  method;   /* auto: the fast kernel of the cost; dense: O(n m) reference */
  PetscReal relax;    /* over-relaxation w in [1, 2) of both potential updates (1: plain Sinkhorn):
                         g <- (1 - w) g + w softmin(f), f likewise; the stopping test then sums the
                         row and column marginal errors of the plan (f, g). Safeguarded: a 1000-fold
                         error growth restores the best potentials and halves w - 1. */
} OtOpts;

typedef struct {
  PetscReal cost;           /* <P, C> */
  PetscInt  iterations;
  PetscReal marginal_error; /* final L1 row-marginal error */
  PetscBool converged;
  PetscReal relax;          /* over-relaxation in use at the end (below o->relax after restarts) */
  PetscInt  relax_restarts; /* times the relaxed iteration diverged and was restarted, damped */
  PetscReal seconds;
} OtResult;

PetscErrorCode OtOptsSetDefaults(OtOpts *o);
/* -ot_reg, -ot_cost, -ot_tol, -ot_max_iter, -ot_method, -ot_relax; validated. */
PetscErrorCode OtOptsSetFromOptions(MPI_Comm comm, const char prefix[], OtOpts *o);

/* Collective; x (n) and y (m) given identically on every rank. */
PetscErrorCode OtSinkhorn1D(MPI_Comm comm, const OtOpts *o, PetscInt n, const PetscReal x[], PetscInt m, const PetscReal y[], OtResult *r);

#endif
