/* pdediff: conditional score-based diffusion for PDE inverse problems.
 *   pdediff <sub-command> [PETSc options]      e.g. mpirun -n 4 pdediff sample -options_file inputs/x.opts
 *   pdediff -help                              lists every option of every sub-command with its default
 * The sub-command is the first argument; everything after it goes to the PETSc options database. */
#include "blascore.h"
#include "commands.h"
#include <string.h>

static const PdeCommand commands[] = {
  {"forward", "one forward solve (Sec. 5.2): sensor values for one wall-flux vector (-flux or -flux_file), optionally the field", CmdForward},
  {"generate", "the paired (x, y) data set of Sec. 5.2: GP-prior fluxes, forward solves in rank groups, one HDF5 file", CmdGenerate},
  {"train", "train a conditional score network on (x, y) pairs from an HDF5 file; writes the model file", CmdTrain},
  {"posterior", "sample the wall-flux posterior of every test measurement with a trained model (Sec. 5.2): metrics, calibration, exact-posterior check", CmdPosterior},
  {"ot", "entropic OT (Sinkhorn) distance between two 1-D sample sets: pdediff ot A B (text files or FILE.h5:DATASET)", CmdOt},
  {"density", "one Table 1 cell (Sec. 5.1): train on a joint (-density_case tanh|bimodal|spiral), sample at the Y values, Sinkhorn distances", CmdDensity},
  {"table1", "collect the density cell files into Table 1 (printed and CSV)", CmdTable1},
  {"sample", "draw samples with the reverse SDE/ODE samplers from a trained model (-model) or an exact-score test problem", CmdSample},
};
static const int ncommands = (int)(sizeof(commands) / sizeof(commands[0]));

static const char usage[] = "pdediff: conditional score-based diffusion models for PDE inverse problems\n"
                            "usage: [mpirun -n N] pdediff <sub-command> [-options_file FILE] [-option value ...]\n"
                            "       pdediff -help            (every option of every sub-command, with defaults)\n"
                            "       pdediff <sub-command> -help\n"
                            "sub-commands:\n";

static void PrintUsage(FILE *f)
{
  fputs(usage, f);
  for (int i = 0; i < ncommands; i++) fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
  const PdeCommand *cmd  = NULL;
  PetscBool         help = PETSC_FALSE;
  int               rank, status = 0, nargs = 0;
  char             *args[16];

  BlasCoreReexec(argc, argv); /* first: restarts with OpenBLAS kernels for this CPU if need be (blascore.h) */
  /* Find the sub-command before PETSc sees the arguments: it is the first non-option word. */
  if (argc >= 2 && argv[1][0] != '-') {
    for (int i = 0; i < ncommands; i++)
      if (!strcmp(argv[1], commands[i].name)) cmd = &commands[i];
  }
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "-help") || !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) help = PETSC_TRUE;

  if (cmd) { /* hide the sub-command word from PETSc, and take the positional words after it */
    argv[1] = argv[0];
    argv++;
    argc--;
    while (1 + nargs < argc && argv[1 + nargs][0] != '-' && nargs < 16) {
      args[nargs] = argv[1 + nargs];
      nargs++;
    }
    if (nargs) { /* move the program name next to the options */
      argv[nargs] = argv[0];
      argv += nargs;
      argc -= nargs;
    }
  }
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  PetscCall(BlasCoreReport(PETSC_COMM_WORLD));
  if (!cmd) {
    if (help) { /* list every option of every sub-command: each prints its own under -help */
      if (!rank) PrintUsage(stdout);
      for (int i = 0; i < ncommands; i++) {
        if (!rank) printf("\n==== pdediff %s ====\n", commands[i].name);
        PetscCall(commands[i].run(PETSC_COMM_WORLD, 0, NULL, &status));
      }
      PetscCall(PetscFinalize());
      return 0;
    }
    if (!rank) {
      if (argc >= 2 && argv[1][0] != '-') fprintf(stderr, "pdediff: unknown sub-command '%s'\n", argv[1]);
      else fprintf(stderr, "pdediff: no sub-command given\n");
      PrintUsage(stderr);
    }
    PetscCall(PetscFinalize());
    return 2;
  }
  PetscCall(cmd->run(PETSC_COMM_WORLD, nargs, args, &status));
  PetscCall(PetscFinalize());
  return status;
}
