/* pdediff table1: collect the cell files of `pdediff density` into the paper's Table 1.
 *
 *   pdediff table1 -table1_dir runs/density [-table1_formulations ve,vp,xi1,xi4]
 *
 * Reads DIR/CASE_FORMULATION.h5 for every case and formulation, prints the table (rows:
 * formulation x sampler, columns: cases; the paper's value beside each ODE cell of VE and VP,
 * the metric's floor in its own row, then the same for the squared cost) and writes
 * DIR/table1.csv (as .partial, renamed). A missing cell is shown as "-" and named. The cells must
 * share one sampler start (-sampler_start, recorded in each file): a table that mixed the paper's
 * zero start with the tweedie start would compare two methods in one row, so it is refused. */
#include "commands.h"
#include "density.h"
#include "h5io.h"
#include <math.h>
#include <string.h>

#define T1_MAX_FORMS 8

typedef struct {
  PetscBool present;
  PetscReal d[2][DENSITY_D_N]; /* [cost][column] */
  PetscReal seconds;
  PetscInt64 epochs;
  char       start[32];     /* -sampler_start of the cell's samples */
  PetscBool  start_missing; /* file older than the attribute: the paper's zero start */
} Cell;

static PetscErrorCode ReadCell(MPI_Comm comm, const char path[], Cell *cell)
{
  H5io      io;
  PetscReal tr, sa, ot;
  PetscBool has;

  PetscFunctionBeginUser;
  PetscCall(H5ioOpen(comm, path, &io));
  PetscCall(H5ioReadReal(&io, "cell_euclidean", DENSITY_D_N, 0, cell->d[0]));
  PetscCall(H5ioReadReal(&io, "cell_sqeuclidean", DENSITY_D_N, 0, cell->d[1]));
  PetscCall(H5ioReadAttrReal(&io, "/", "train_seconds", &tr));
  PetscCall(H5ioReadAttrReal(&io, "/", "sample_seconds", &sa));
  PetscCall(H5ioReadAttrReal(&io, "/", "ot_seconds", &ot));
  PetscCall(H5ioReadAttrInt(&io, "/", "train_epochs", &cell->epochs));
  PetscCall(H5ioHasAttr(&io, "/", "sampler_start", &has));
  cell->start_missing = (PetscBool)!has;
  if (has) PetscCall(H5ioReadAttrString(&io, "/", "sampler_start", sizeof(cell->start), cell->start));
  else PetscCall(PetscStrncpy(cell->start, "zero", sizeof(cell->start)));
  PetscCall(H5ioClose(&io));
  cell->seconds = tr + sa + ot;
  cell->present = PETSC_TRUE;
  PetscFunctionReturn(0);
}

static void Fmt(char buf[], size_t len, PetscReal v, const char *paper)
{
  if (PetscIsNanReal(v)) snprintf(buf, len, "%-16s", "-");
  else if (paper) snprintf(buf, len, "%.4f (%s)", (double)v, paper);
  else snprintf(buf, len, "%-16.4f", (double)v);
}

PetscErrorCode CmdTable1(MPI_Comm comm, int nargs, char **args, int *status)
{
  char       dir[PETSC_MAX_PATH_LEN] = "runs/density", csv[PETSC_MAX_PATH_LEN] = "", forms_opt[256] = "ve,vp,xi1,xi4";
  char      *forms[T1_MAX_FORMS], path[PETSC_MAX_PATH_LEN + 64], tmp[PETSC_MAX_PATH_LEN + 16];
  PetscInt   nforms = 0, found = 0, epochs = -1, nmissing = 0;
  const Cell *first = NULL;
  char        first_path[PETSC_MAX_PATH_LEN + 64] = "";
  Cell       cells[T1_MAX_FORMS][3];
  PetscBool  help;
  PetscReal  total = 0;
  PetscMPIInt rank;
  FILE      *fp = NULL;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsHasHelp(NULL, &help));
  PetscOptionsBegin(comm, NULL, "pdediff table1: Table 1 from the cell files of pdediff density", "table1");
  PetscCall(PetscOptionsString("-table1_dir", "Directory of the cell files CASE_FORMULATION.h5", "table1", dir, dir, sizeof(dir), NULL));
  PetscCall(PetscOptionsString("-table1_formulations", "Formulations (rows), comma separated, as in the file names", "table1", forms_opt, forms_opt, sizeof(forms_opt), NULL));
  PetscCall(PetscOptionsString("-table1_csv", "CSV output (default DIR/table1.csv)", "table1", csv, csv, sizeof(csv), NULL));
  PetscOptionsEnd();
  if (help) PetscFunctionReturn(0);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  for (char *tok = strtok(forms_opt, ","); tok && nforms < T1_MAX_FORMS; tok = strtok(NULL, ",")) forms[nforms++] = tok;
  PetscCheck(nforms > 0, comm, PETSC_ERR_ARG_WRONG, "-table1_formulations is empty: give e.g. ve,vp,xi1,xi4");
  if (!csv[0]) PetscCall(PetscSNPrintf(csv, sizeof(csv), "%s/table1.csv", dir));

  PetscCall(PetscMemzero(cells, sizeof(cells)));
  for (PetscInt f = 0; f < nforms; f++)
    for (int dc = 0; dc < 3; dc++) {
      PetscBool exists;
      PetscCall(PetscSNPrintf(path, sizeof(path), "%s/%s_%s.h5", dir, DensityCases[dc], forms[f]));
      PetscCall(PetscTestFile(path, 'r', &exists));
      if (!exists) {
        PetscCall(PetscPrintf(comm, "table1: no cell file %s (run pdediff density -density_case %s with that formulation): shown as -\n", path, DensityCases[dc]));
        for (int q = 0; q < 2; q++)
          for (int j = 0; j < DENSITY_D_N; j++) cells[f][dc].d[q][j] = NAN;
        continue;
      }
      PetscCall(ReadCell(comm, path, &cells[f][dc]));
      if (epochs >= 0 && cells[f][dc].epochs != epochs) PetscCall(PetscPrintf(comm, "table1: warning: %s was trained for %lld epochs, other cells for %" PetscInt_FMT ": the table mixes run lengths\n", path, (long long)cells[f][dc].epochs, epochs));
      epochs = (PetscInt)cells[f][dc].epochs;
      nmissing += cells[f][dc].start_missing;
      if (!first) {
        first = &cells[f][dc];
        PetscCall(PetscStrncpy(first_path, path, sizeof(first_path)));
      } else {
        PetscBool same;
        PetscCall(PetscStrcmp(first->start, cells[f][dc].start, &same));
        PetscCheck(same, comm, PETSC_ERR_ARG_INCOMP, "-table1_dir %s mixes sampler starts: %s used -sampler_start %s, %s used %s. One table compares one method: resample the odd cells with pdediff density -density_model_in DIR/CASE_FORM.model.h5 -sampler_start %s, or keep each start in its own directory (density_sweep.sh MODEL_DIR=... OUT=...)", dir, first_path, first->start, path, cells[f][dc].start, first->start);
      }
      total += cells[f][dc].seconds;
      found++;
    }
  PetscCheck(found > 0, comm, PETSC_ERR_FILE_OPEN, "No cell files CASE_FORMULATION.h5 in -table1_dir %s: run pdediff density first (jobscripts/density_sweep.sh runs them all)", dir);
  if (nmissing) PetscCall(PetscPrintf(comm, "table1: %" PetscInt_FMT " of %" PetscInt_FMT " cell files do not record their sampler start (written before the attribute existed): taken as zero, the paper's start\n", nmissing, found));

  for (int q = 0; q < 2; q++) {
    PetscCall(PetscPrintf(comm, "\nTable 1%s: average Sinkhorn distance over Y = -0.5, 0, 0.5, 1 (reg 0.01, cost %s, sampler start %s%s); paper's value in brackets\n", q ? " (squared cost, beyond the paper)" : "", q ? "(x - x')^2" : "|x - x'|", first->start, strcmp(first->start, "zero") ? ", beyond the paper" : " as in the paper"));
    PetscCall(PetscPrintf(comm, "%-12s %-7s %-16s %-16s %-16s\n", "formulation", "sampler", "tanh", "bimodal", "spiral"));
    for (PetscInt f = 0; f < nforms; f++)
      for (int s = 0; s < 2; s++) {
        char col[3][64];
        for (int dc = 0; dc < 3; dc++) {
          char      pv[16];
          PetscReal p = density_paper_value((DensityCase)dc, forms[f]);
          snprintf(pv, sizeof(pv), "%.3f", (double)p);
          Fmt(col[dc], sizeof(col[dc]), cells[f][dc].d[q][s == 0 ? DENSITY_D_ODE_BAND : DENSITY_D_SDE_BAND], (!q && s == 0 && !PetscIsNanReal(p)) ? pv : NULL);
        }
        PetscCall(PetscPrintf(comm, "%-12s %-7s %-16s %-16s %-16s\n", forms[f], s ? "SDE" : "ODE", col[0], col[1], col[2]));
      }
    { /* the floor depends only on the case and the reference seed: take it from any cell */
      char col[3][64];
      for (int dc = 0; dc < 3; dc++) {
        PetscReal v = NAN;
        for (PetscInt f = 0; f < nforms && PetscIsNanReal(v); f++) v = cells[f][dc].d[q][DENSITY_D_FLOOR];
        Fmt(col[dc], sizeof(col[dc]), v, NULL);
      }
      PetscCall(PetscPrintf(comm, "%-20s %-16s %-16s %-16s\n", "floor (band/exact)", col[0], col[1], col[2]));
    }
  }
  PetscCall(PetscPrintf(comm, "\ntable1: %" PetscInt_FMT " cells, %.0f s of cell run time in all (train + sample + OT, as recorded in the files)\n", found, (double)total));

  if (!rank) { /* CSV, one row per case x formulation x sampler x cost */
    PetscCall(PetscSNPrintf(tmp, sizeof(tmp), "%s.partial", csv));
    fp = fopen(tmp, "w");
  }
  {
    int ok = rank || fp != NULL;
    PetscCallMPI(MPI_Bcast(&ok, 1, MPI_INT, 0, comm));
    PetscCheck(ok, comm, PETSC_ERR_FILE_OPEN, "-table1_csv %s: cannot write %s.partial; check the directory", csv, csv);
  }
  {
    int err = 0;
    if (!rank) {
    fprintf(fp, "case,formulation,sampler,cost,distance,floor,ratio_to_floor,vs_exact,exact_floor,paper,start\n");
    for (PetscInt f = 0; f < nforms; f++)
      for (int dc = 0; dc < 3; dc++) {
        if (!cells[f][dc].present) continue;
        for (int q = 0; q < 2; q++)
          for (int s = 0; s < 2; s++) {
            const PetscReal *d = cells[f][dc].d[q];
            const PetscReal  p = (!q && !s) ? density_paper_value((DensityCase)dc, forms[f]) : NAN;
            fprintf(fp, "%s,%s,%s,%s,%.6g,%.6g,%.4g,%.6g,%.6g,%.3g,%s\n", DensityCases[dc], forms[f], s ? "sde" : "ode", q ? "sqeuclidean" : "euclidean", (double)d[s ? DENSITY_D_SDE_BAND : DENSITY_D_ODE_BAND], (double)d[DENSITY_D_FLOOR], (double)(d[s ? DENSITY_D_SDE_BAND : DENSITY_D_ODE_BAND] / d[DENSITY_D_FLOOR]), (double)d[s ? DENSITY_D_SDE_EXACT : DENSITY_D_ODE_EXACT], (double)d[DENSITY_D_EXACT_FLOOR], (double)p, cells[f][dc].start);
          }
      }
    err = ferror(fp) | fclose(fp);
    if (!err) err = rename(tmp, csv);
    if (err) (void)remove(tmp);
    }
    PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
    PetscCheck(!err, comm, PETSC_ERR_FILE_WRITE, "-table1_csv %s: write failed (disk full?); nothing written", csv);
  }
  PetscCall(PetscPrintf(comm, "table1: wrote %s\n", csv));
  PetscFunctionReturn(0);
}
