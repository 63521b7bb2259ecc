/* Sub-commands of the pdediff executable. Each has an options pass (which also prints
   its options under -help) and a run; main() dispatches by name from the registry. */
#ifndef PDEDIFF_COMMANDS_H
#define PDEDIFF_COMMANDS_H
#include <petscsys.h>

typedef struct {
  const char *name;
  const char *summary;
  PetscErrorCode (*run)(MPI_Comm comm); /* parses its options (prints them with -help) and runs */
} PdeCommand;

PetscErrorCode CmdSample(MPI_Comm comm);

#endif
