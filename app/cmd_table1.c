/* pdediff table1: collect the cell files of `pdediff density` into the paper's Table 1.
 *
 *   pdediff table1 -table1_dir runs/density [-table1_formulations ve,vp,xi1,xi4]
 *   pdediff table1 -table1_dir runs/t1/seed0,runs/t1/seed1,runs/t1/seed2     (replicate runs)
 *
 * Reads DIR/CASE_FORMULATION.h5 for every case and formulation, prints the table (rows:
 * formulation x sampler, columns: cases; the paper's value beside each ODE cell of VE and VP,
 * the metric's floor in its own row, then the same for the squared cost) and writes
 * DIR/table1.csv (as .partial, renamed; with several directories, PARENT/table1.csv in the parent
 * they share, so no run's own table is replaced, or -table1_csv when they have none). A missing
 * cell is shown as "-" and named.
 * Several directories are replicates of the whole table (density_sweep.sh SEEDS=...: other
 * -net_seed/-train_seed): each cell is then the mean over the runs that have it, with its
 * standard error, and the ODE cells say how many runs are at or below the paper's value. The
 * paper reports one run per cell, and a cell's spread over seeds (spiral: +-20%) is larger than
 * some of the gaps to the paper, so the mean and its error are the comparison that holds. The cells must
 * share one sampler start (-sampler_start, recorded in each file): a table that mixed the paper's
 * zero start with the tweedie start would compare two methods in one row, so it is refused. */
#include "commands.h"
#include "density.h"
#include "h5io.h"
#include <math.h>
#include <string.h>

#define T1_MAX_FORMS 8
#define T1_MAX_RUNS  64

typedef struct {
  PetscBool present;
  PetscReal d[2][DENSITY_D_N]; /* [cost][column] */
  PetscReal seconds;
  PetscInt64 epochs;
  char       start[32];     /* -sampler_start of the cell's samples */
  PetscBool  start_missing; /* file older than the attribute: the paper's zero start */
} Cell;

/* One table cell over the replicate runs that have it. */
typedef struct {
  PetscInt  n;                          /* runs with this cell */
  PetscReal mean[2][DENSITY_D_N], se[2][DENSITY_D_N], lo[2][DENSITY_D_N], hi[2][DENSITY_D_N];
  PetscInt  below;                      /* runs whose ODE Euclidean distance is at or below the paper */
} Agg;

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

/* Mean, standard error (sample std / sqrt(n); NaN for one run), range and the count at or below
 * the paper's value over the runs that hold the cell. */
static void Aggregate(Cell *const runs[], PetscInt nruns, PetscReal paper, Agg *a)
{
  a->n     = 0;
  a->below = 0;
  for (int q = 0; q < 2; q++)
    for (int j = 0; j < DENSITY_D_N; j++) {
      double s = 0, s2 = 0, lo = INFINITY, hi = -INFINITY;
      int    n = 0;
      for (PetscInt r = 0; r < nruns; r++) {
        if (!runs[r]->present) continue;
        const double v = runs[r]->d[q][j];
        s += v;
        lo = PetscMin(lo, v);
        hi = PetscMax(hi, v);
        n++;
      }
      const double m = n ? s / n : NAN;
      for (PetscInt r = 0; r < nruns; r++) /* two passes: the spread is small against the mean */
        if (runs[r]->present) s2 += (runs[r]->d[q][j] - m) * (runs[r]->d[q][j] - m);
      a->mean[q][j] = m;
      a->se[q][j]   = n > 1 ? sqrt(s2 / (n - 1) / n) : NAN;
      a->lo[q][j]   = n ? lo : NAN;
      a->hi[q][j]   = n ? hi : NAN;
      a->n          = n;
    }
  for (PetscInt r = 0; r < nruns; r++)
    if (runs[r]->present && !PetscIsNanReal(paper) && runs[r]->d[0][DENSITY_D_ODE_BAND] <= paper) a->below++;
}

/* One table entry: "0.0415 (0.042)" for one run; "0.0415+-0.0027 (0.042; 4/7)" over runs (mean,
 * standard error, paper, runs at or below it); "-" where no run has the cell. */
static void Fmt(char buf[], size_t len, const Agg *a, int q, int j, PetscReal paper, PetscInt nruns)
{
  const PetscReal v = a->mean[q][j];
  char            text[96], num[48], pv[48] = "";

  if (PetscIsNanReal(v)) snprintf(text, sizeof(text), "-");
  else {
    if (nruns > 1 && a->n > 1) snprintf(num, sizeof(num), "%.4f+-%.4f", (double)v, (double)a->se[q][j]);
    else snprintf(num, sizeof(num), "%.4f", (double)v);
    if (!PetscIsNanReal(paper) && nruns > 1) snprintf(pv, sizeof(pv), " (%.3f; %d/%d)", (double)paper, (int)a->below, (int)a->n);
    else if (!PetscIsNanReal(paper)) snprintf(pv, sizeof(pv), " (%.3f)", (double)paper);
    else if (nruns > 1 && a->n < nruns) snprintf(pv, sizeof(pv), " [%d runs]", (int)a->n);
    snprintf(text, sizeof(text), "%s%s", num, pv);
  }
  snprintf(buf, len, "%-*s", nruns > 1 ? 28 : 16, text);
}

/* Several replicate directories (OUT/seed0, OUT/seed1, ...): the averaged table goes to the parent
   they share, OUT/table1.csv, where density_sweep.sh SEEDS=... puts it; writing it into the first
   run's directory would replace that run's own single-run table. */
static PetscErrorCode ReplicateCsvPath(MPI_Comm comm, PetscInt ndirs, char *dirs[], char csv[], size_t len)
{
  char parent[PETSC_MAX_PATH_LEN] = "", p[PETSC_MAX_PATH_LEN];

  PetscFunctionBeginUser;
  for (PetscInt r = 0; r < ndirs; r++) {
    size_t n;
    char  *slash;
    PetscCall(PetscStrncpy(p, dirs[r], sizeof(p)));
    for (n = strlen(p); n > 1 && p[n - 1] == '/'; n--) p[n - 1] = 0; /* runs/t/seed0/ -> runs/t/seed0 */
    slash = strrchr(p, '/');
    if (!slash) PetscCall(PetscStrncpy(p, ".", sizeof(p)));
    else if (slash == p) p[1] = 0; /* /seed0 -> / */
    else *slash = 0;
    if (r == 0) PetscCall(PetscStrncpy(parent, p, sizeof(parent)));
    PetscCheck(!strcmp(parent, p), comm, PETSC_ERR_ARG_WRONG, "-table1_dir: the replicate runs %s and %s lie in different directories (%s, %s), so there is no common place for the averaged table: give -table1_csv FILE", dirs[0], dirs[r], parent, p);
  }
  PetscCall(PetscSNPrintf(csv, len, "%s/table1.csv", parent));
  PetscFunctionReturn(0);
}

PetscErrorCode CmdTable1(MPI_Comm comm, int nargs, char **args, int *status)
{
  char        dir_opt[4096] = "runs/density", csv[PETSC_MAX_PATH_LEN] = "", forms_opt[256] = "ve,vp,xi1,xi4";
  char       *forms[T1_MAX_FORMS], *dirs[T1_MAX_RUNS], path[PETSC_MAX_PATH_LEN + 64], tmp[PETSC_MAX_PATH_LEN + 16];
  PetscInt    nforms = 0, ndirs = 0, found = 0, epochs = -1, nmissing = 0;
  const Cell *first = NULL;
  char        first_path[PETSC_MAX_PATH_LEN + 64] = "";
  Cell       *cells; /* [run][formulation][case] */
  Agg         agg[T1_MAX_FORMS][3];
  PetscBool   help;
  PetscReal   total = 0;
  PetscMPIInt rank;
  FILE       *fp = NULL;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsHasHelp(NULL, &help));
  PetscOptionsBegin(comm, NULL, "pdediff table1: Table 1 from the cell files of pdediff density", "table1");
  PetscCall(PetscOptionsString("-table1_dir", "Directory of the cell files CASE_FORMULATION.h5; several, comma separated, are replicate runs (seeds) averaged per cell", "table1", dir_opt, dir_opt, sizeof(dir_opt), NULL));
  PetscCall(PetscOptionsString("-table1_formulations", "Formulations (rows), comma separated, as in the file names", "table1", forms_opt, forms_opt, sizeof(forms_opt), NULL));
  PetscCall(PetscOptionsString("-table1_csv", "CSV output (default DIR/table1.csv; with several DIRs PARENT/table1.csv, the directory that holds them)", "table1", csv, csv, sizeof(csv), NULL));
  PetscOptionsEnd();
  if (help) PetscFunctionReturn(0);
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  for (char *tok = strtok(forms_opt, ","); tok && nforms < T1_MAX_FORMS; tok = strtok(NULL, ",")) forms[nforms++] = tok;
  PetscCheck(nforms > 0, comm, PETSC_ERR_ARG_WRONG, "-table1_formulations is empty: give e.g. ve,vp,xi1,xi4");
  for (char *tok = strtok(dir_opt, ","); tok; tok = strtok(NULL, ",")) {
    PetscCheck(ndirs < T1_MAX_RUNS, comm, PETSC_ERR_ARG_OUTOFRANGE, "-table1_dir lists more than %d directories: average at most %d replicate runs per table", T1_MAX_RUNS, T1_MAX_RUNS);
    dirs[ndirs++] = tok;
  }
  PetscCheck(ndirs > 0, comm, PETSC_ERR_ARG_WRONG, "-table1_dir is empty: give the directory of the cell files (pdediff density -density_dir), or several comma separated");
  if (!csv[0] && ndirs == 1) PetscCall(PetscSNPrintf(csv, sizeof(csv), "%s/table1.csv", dirs[0]));
  else if (!csv[0]) PetscCall(ReplicateCsvPath(comm, ndirs, dirs, csv, sizeof(csv)));

  PetscCall(PetscCalloc1((size_t)ndirs * T1_MAX_FORMS * 3, &cells));
#define CELL(r, f, dc) cells[((size_t)(r) * T1_MAX_FORMS + (size_t)(f)) * 3 + (size_t)(dc)]
  for (PetscInt r = 0; r < ndirs; r++)
    for (PetscInt f = 0; f < nforms; f++)
      for (int dc = 0; dc < 3; dc++) {
        PetscBool exists;
        Cell     *c = &CELL(r, f, dc);
        PetscCall(PetscSNPrintf(path, sizeof(path), "%s/%s_%s.h5", dirs[r], DensityCases[dc], forms[f]));
        PetscCall(PetscTestFile(path, 'r', &exists));
        if (!exists) {
          PetscCall(PetscPrintf(comm, "table1: no cell file %s (run pdediff density -density_case %s with that formulation): %s\n", path, DensityCases[dc], ndirs > 1 ? "left out of the mean" : "shown as -"));
          continue;
        }
        PetscCall(ReadCell(comm, path, c));
        for (PetscInt r2 = 0; r2 < r; r2++) { /* a run listed twice (or the same seeds) would understate the standard error */
          const Cell *o = &CELL(r2, f, dc);
          PetscCheck(!o->present || memcmp(o->d, c->d, sizeof(c->d)) != 0, comm, PETSC_ERR_ARG_INCOMP, "-table1_dir: %s/%s_%s.h5 and %s hold bitwise the same distances, so they are one run (same directory, or the same -net_seed and -train_seed), not two replicates: list each run once", dirs[r2], DensityCases[dc], forms[f], path);
        }
        if (epochs >= 0 && c->epochs != epochs) PetscCall(PetscPrintf(comm, "table1: warning: %s was trained for %lld epochs, other cells for %" PetscInt_FMT ": the table mixes run lengths\n", path, (long long)c->epochs, epochs));
        epochs = (PetscInt)c->epochs;
        nmissing += c->start_missing;
        if (!first) {
          first = c;
          PetscCall(PetscStrncpy(first_path, path, sizeof(first_path)));
        } else {
          PetscBool same;
          PetscCall(PetscStrcmp(first->start, c->start, &same));
          PetscCheck(same, comm, PETSC_ERR_ARG_INCOMP, "-table1_dir %s mixes sampler starts: %s used -sampler_start %s, %s used %s. One table compares one method: resample the odd cells with pdediff density -density_model_in DIR/CASE_FORM.model.h5 -sampler_start %s, or keep each start in its own directory (density_sweep.sh MODEL_DIR=... OUT=...)", dirs[r], first_path, first->start, path, c->start, first->start);
        }
        total += c->seconds;
        found++;
      }
  PetscCheck(found > 0, comm, PETSC_ERR_FILE_OPEN, "No cell files CASE_FORMULATION.h5 in -table1_dir %s: run pdediff density first (jobscripts/density_sweep.sh runs them all)", dirs[0]);
  if (nmissing) PetscCall(PetscPrintf(comm, "table1: %" PetscInt_FMT " of %" PetscInt_FMT " cell files do not record their sampler start (written before the attribute existed): taken as zero, the paper's start\n", nmissing, found));
  for (PetscInt f = 0; f < nforms; f++)
    for (int dc = 0; dc < 3; dc++) {
      Cell *runs[T1_MAX_RUNS];
      for (PetscInt r = 0; r < ndirs; r++) runs[r] = &CELL(r, f, dc);
      Aggregate(runs, ndirs, density_paper_value((DensityCase)dc, forms[f]), &agg[f][dc]);
    }

  for (int q = 0; q < 2; q++) {
    const int cw = ndirs > 1 ? 28 : 16;
    char      over[96] = "";
    if (ndirs > 1) PetscCall(PetscSNPrintf(over, sizeof(over), "; mean +- standard error over %" PetscInt_FMT " runs per cell", ndirs));
    PetscCall(PetscPrintf(comm, "\nTable 1%s: average Sinkhorn distance over Y = -0.5, 0, 0.5, 1 (reg 0.01, cost %s, sampler start %s%s%s); paper's value in brackets%s\n", q ? " (squared cost, beyond the paper)" : "", q ? "(x - x')^2" : "|x - x'|", first->start, strcmp(first->start, "zero") ? ", beyond the paper" : " as in the paper", over,
                          ndirs > 1 && !q ? ", with the number of runs at or below it" : ""));
    PetscCall(PetscPrintf(comm, "%-12s %-7s %-*s %-*s %-*s\n", "formulation", "sampler", cw, "tanh", cw, "bimodal", cw, "spiral"));
    for (PetscInt f = 0; f < nforms; f++)
      for (int s = 0; s < 2; s++) {
        char col[3][96];
        for (int dc = 0; dc < 3; dc++) {
          PetscReal p = density_paper_value((DensityCase)dc, forms[f]);
          Fmt(col[dc], sizeof(col[dc]), &agg[f][dc], q, s == 0 ? DENSITY_D_ODE_BAND : DENSITY_D_SDE_BAND, (!q && s == 0) ? p : NAN, ndirs);
        }
        PetscCall(PetscPrintf(comm, "%-12s %-7s %s %s %s\n", forms[f], s ? "SDE" : "ODE", col[0], col[1], col[2]));
      }
    { /* the floor depends only on the case and the reference seed: take it from any cell */
      char col[3][96];
      for (int dc = 0; dc < 3; dc++) {
        const Agg *a = &agg[0][dc];
        for (PetscInt f = 0; f < nforms && PetscIsNanReal(a->mean[q][DENSITY_D_FLOOR]); f++) a = &agg[f][dc];
        Agg one = *a;
        one.n   = 1; /* the same reference sets in every run: print the value alone */
        Fmt(col[dc], sizeof(col[dc]), &one, q, DENSITY_D_FLOOR, NAN, 1);
      }
      PetscCall(PetscPrintf(comm, "%-20s %-*s %-*s %-*s\n", "floor (band/exact)", cw, col[0], cw, col[1], cw, col[2]));
    }
  }
  PetscCall(PetscPrintf(comm, "\ntable1: %" PetscInt_FMT " cell files from %" PetscInt_FMT " run(s), %.0f s of cell run time in all (train + sample + OT, as recorded in the files)\n", found, ndirs, (double)total));

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
      /* distance etc. are means over the runs (the value itself for one run); std_error is NaN for one run */
      fprintf(fp, "case,formulation,sampler,cost,distance,floor,ratio_to_floor,vs_exact,exact_floor,paper,start,runs,std_error,min,max,runs_at_or_below_paper\n");
      for (PetscInt f = 0; f < nforms; f++)
        for (int dc = 0; dc < 3; dc++) {
          const Agg *a = &agg[f][dc];
          if (!a->n) continue;
          for (int q = 0; q < 2; q++)
            for (int s = 0; s < 2; s++) {
              const int        j = s ? DENSITY_D_SDE_BAND : DENSITY_D_ODE_BAND;
              const PetscReal *m = a->mean[q];
              const PetscReal  p = (!q && !s) ? density_paper_value((DensityCase)dc, forms[f]) : NAN;
              fprintf(fp, "%s,%s,%s,%s,%.6g,%.6g,%.4g,%.6g,%.6g,%.3g,%s,%d,%.6g,%.6g,%.6g,", DensityCases[dc], forms[f], s ? "sde" : "ode", q ? "sqeuclidean" : "euclidean", (double)m[j], (double)m[DENSITY_D_FLOOR], (double)(m[j] / m[DENSITY_D_FLOOR]), (double)m[s ? DENSITY_D_SDE_EXACT : DENSITY_D_ODE_EXACT], (double)m[DENSITY_D_EXACT_FLOOR], (double)p, first->start,
                      (int)a->n, (double)a->se[q][j], (double)a->lo[q][j], (double)a->hi[q][j]);
              if (PetscIsNanReal(p)) fprintf(fp, "\n");
              else fprintf(fp, "%d\n", (int)a->below);
            }
        }
      err = ferror(fp) | fclose(fp);
      if (!err) err = rename(tmp, csv);
      if (err) (void)remove(tmp);
    }
    PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
    PetscCheck(!err, comm, PETSC_ERR_FILE_WRITE, "-table1_csv %s: write failed (disk full?); nothing written", csv);
  }
#undef CELL
  PetscCall(PetscFree(cells));
  PetscCall(PetscPrintf(comm, "table1: wrote %s\n", csv));
  PetscFunctionReturn(0);
}
