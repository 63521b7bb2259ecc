/* Minimal test harness for pdediff test programs: every check prints what it compared and
   whether it passed; the program exits non-zero if any check failed on any rank.
   Tests run under MPI (1 and 2+ ranks) with PETSc initialised. */
#ifndef PDEDIFF_TESTUTIL_H
#define PDEDIFF_TESTUTIL_H
#include <petscsys.h>
#include <stdio.h>

static int test_failures_ = 0;
static int test_checks_ = 0;

/* CHECK(cond, fmt, ...): record one assertion; the message says what was measured. */
#define CHECK(cond, ...)                                                               \
  do {                                                                                 \
    test_checks_++;                                                                    \
    if (!(cond)) {                                                                     \
      test_failures_++;                                                                \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                            \
      fprintf(stderr, __VA_ARGS__);                                                    \
      fprintf(stderr, "\n");                                                           \
    } else {                                                                           \
      int r_;                                                                          \
      MPI_Comm_rank(PETSC_COMM_WORLD, &r_);                                            \
      if (!r_) { printf("ok   "); printf(__VA_ARGS__); printf("\n"); }                \
    }                                                                                  \
  } while (0)

/* Finish: reduce failures over ranks, print a summary line, return the exit status. */
static inline int TestFinish(const char *name)
{
  int local = test_failures_, total = 0, rank, size;
  MPI_Allreduce(&local, &total, 1, MPI_INT, MPI_SUM, PETSC_COMM_WORLD);
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  if (!rank) printf("%s (%d ranks): %d checks, %d failed\n", name, size, test_checks_, total);
  return total ? 1 : 0;
}
#endif
