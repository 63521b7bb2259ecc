/* jobsig: SIGTERM and SIGUSR1 (what SLURM sends before a time limit, and scancel) as a flag that a
 * long stage reads at its own safe points, so it can write a checkpoint and stop instead of being
 * aborted by PETSc's handler. Used by training (train.c) and posterior sampling (cmd_posterior.c).
 *
 * Exit status of a run stopped that way after writing its checkpoint: job scripts requeue on it.
 * Not sysexits' 75, which is also PETSc's PETSC_ERR_ARG_INCOMP (a PETSc error exits with its code,
 * 55-99): a run refused for incompatible input must not be requeued. */
#ifndef PDEDIFF_JOBSIG_H
#define PDEDIFF_JOBSIG_H
#include <petscsys.h>
#include <signal.h>

#define PDEDIFF_EXIT_INTERRUPTED 3

typedef struct {
  struct sigaction term, usr1;
} JobSignalSave;

/* Replace the handlers of SIGTERM/SIGUSR1 by the flag setter, saving the old ones in save (may be
   NULL: kept for the rest of the program). A flag already set is kept. */
PetscErrorCode JobSignalsCatch(JobSignalSave *save);
/* Put back the handlers JobSignalsCatch saved. */
PetscErrorCode JobSignalsRestore(const JobSignalSave *save);
/* The signal caught since the last JobSignalClear (0: none). */
int  JobSignalPending(void);
void JobSignalClear(void);
#endif
