#include "jobsig.h"
#include <string.h>

/* Set by the handler, read at the caller's safe points: the only thing a handler may safely do. */
static volatile sig_atomic_t job_signal = 0;
static void JobSignalHandler(int sig) { job_signal = sig; }

PetscErrorCode JobSignalsCatch(JobSignalSave *save)
{
  struct sigaction sa;
  JobSignalSave    ignored;

  PetscFunctionBeginUser;
  if (!save) save = &ignored;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = JobSignalHandler;
  sigemptyset(&sa.sa_mask);
  PetscCheck(!sigaction(SIGTERM, &sa, &save->term) && !sigaction(SIGUSR1, &sa, &save->usr1), PETSC_COMM_SELF, PETSC_ERR_SYS, "sigaction failed: cannot catch SIGTERM/SIGUSR1");
  PetscFunctionReturn(0);
}

PetscErrorCode JobSignalsRestore(const JobSignalSave *save)
{
  PetscFunctionBeginUser;
  PetscCheck(!sigaction(SIGTERM, &save->term, NULL) && !sigaction(SIGUSR1, &save->usr1, NULL), PETSC_COMM_SELF, PETSC_ERR_SYS, "sigaction failed while restoring handlers");
  PetscFunctionReturn(0);
}

int  JobSignalPending(void) { return (int)job_signal; }
void JobSignalClear(void) { job_signal = 0; }
