/* Sub-commands of the pdediff executable. Each has an options pass (which also prints
   its options under -help) and a run; main() dispatches by name from the registry. */
#ifndef PDEDIFF_COMMANDS_H
#define PDEDIFF_COMMANDS_H
#include <petscsys.h>

typedef struct {
  const char *name;
  const char *summary;
  /* parses its options (prints them with -help) and runs; *status is the process exit status
     (0 unless the command sets it, e.g. 3 for a training run stopped by a signal) */
  PetscErrorCode (*run)(MPI_Comm comm, int nargs, char **args, int *status); /* args: the words after
                                                                               the sub-command that are not options */
} PdeCommand;

PetscErrorCode CmdSample(MPI_Comm comm, int nargs, char **args, int *status);
PetscErrorCode CmdTrain(MPI_Comm comm, int nargs, char **args, int *status);
PetscErrorCode CmdDensity(MPI_Comm comm, int nargs, char **args, int *status);
PetscErrorCode CmdTable1(MPI_Comm comm, int nargs, char **args, int *status);
PetscErrorCode CmdForward(MPI_Comm comm, int nargs, char **args, int *status);
PetscErrorCode CmdGenerate(MPI_Comm comm, int nargs, char **args, int *status);
PetscErrorCode CmdPosterior(MPI_Comm comm, int nargs, char **args, int *status);
PetscErrorCode CmdOt(MPI_Comm comm, int nargs, char **args, int *status);

#endif
