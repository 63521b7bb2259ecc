/* pdediff ot A B: the entropic OT (Sinkhorn) distance between two 1-D sample sets, the Table 1
 * metric (libcore/ot.h). A and B are text files (one number per line; blank lines and lines
 * starting with # are skipped) or HDF5 datasets written FILE.h5:DATASET (N or N x 1).
 * The last line of the output is the distance <P, C> alone, with 17 significant digits. */
#include "commands.h"
#include "h5io.h"
#include "ot.h"
#include <string.h>

/* Read a 1-D sample set on every rank. */
static PetscErrorCode ReadSet(MPI_Comm comm, const char spec[], PetscInt *n, PetscReal **v)
{
  char  path[PETSC_MAX_PATH_LEN], *colon;
  FILE *fp;

  PetscFunctionBeginUser;
  PetscCall(PetscStrncpy(path, spec, sizeof(path)));
  colon = strrchr(path, ':');
  if (colon) { /* FILE.h5:DATASET */
    H5io           io;
    PetscInt64     rows;
    PetscInt       cols;
    PetscErrorCode ierr;
    *colon = 0;
    PetscCall(H5ioOpen(comm, path, &io));
    ierr = H5ioDatasetShape(&io, colon + 1, &rows, &cols);
    if (!ierr && cols > 1) ierr = PETSC_ERR_ARG_SIZ;
    if (!ierr) {
      *n   = (PetscInt)rows;
      ierr = PetscMalloc1(PetscMax(rows, 1), v);
    }
    if (!ierr) ierr = H5ioReadReal(&io, colon + 1, rows, cols, *v);
    PetscCall(H5ioClose(&io));
    PetscCheck(!ierr, comm, PETSC_ERR_FILE_UNEXPECTED, "%s: cannot read dataset '%s' as a 1-D sample set (N or N x 1 numbers)", path, colon + 1);
  } else {
    PetscInt cap = 1024, k = 0, line = 0;
    char     buf[512];
    PetscCall(PetscMalloc1(cap, v));
    fp = fopen(path, "r");
    PetscCheck(fp, comm, PETSC_ERR_FILE_OPEN, "Cannot read %s: no such file or no permission (give a text file with one number per line, or FILE.h5:DATASET)", path);
    while (fgets(buf, sizeof(buf), fp)) {
      char  *end, *s = buf;
      double d;
      line++;
      while (*s == ' ' || *s == '\t') s++;
      if (*s == '#' || *s == '\n' || *s == '\r' || !*s) continue;
      d = strtod(s, &end);
      while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n') end++;
      if (end == s || *end) {
        s[strcspn(s, "\r\n")] = 0;
        fclose(fp);
        SETERRQ(comm, PETSC_ERR_FILE_UNEXPECTED, "%s line %" PetscInt_FMT ": '%.40s' is not one number (a text sample set has one number per line)", path, line, s);
      }
      if (k == cap) {
        PetscReal *w;
        PetscCall(PetscMalloc1(2 * cap, &w));
        PetscCall(PetscArraycpy(w, *v, cap));
        PetscCall(PetscFree(*v));
        *v = w;
        cap *= 2;
      }
      (*v)[k++] = d;
    }
    fclose(fp);
    *n = k;
  }
  PetscCheck(*n > 0, comm, PETSC_ERR_FILE_UNEXPECTED, "%s holds no samples", spec);
  PetscFunctionReturn(0);
}

PetscErrorCode CmdOt(MPI_Comm comm, int nargs, char **args, int *status)
{
  OtOpts    o;
  OtResult  r;
  PetscInt  n, m;
  PetscReal *a, *b;
  PetscBool help;

  PetscFunctionBeginUser;
  PetscCall(OtOptsSetDefaults(&o));
  PetscCall(OtOptsSetFromOptions(comm, NULL, &o));
  PetscCall(PetscOptionsHasHelp(NULL, &help));
  if (help) PetscFunctionReturn(0);
  PetscCheck(nargs == 2, comm, PETSC_ERR_ARG_WRONG, "pdediff ot takes two sample sets: pdediff ot A B [-ot_reg 0.01] [-ot_cost euclidean|sqeuclidean] (A, B: text files with one number per line, or FILE.h5:DATASET); got %d", nargs);
  PetscCall(ReadSet(comm, args[0], &n, &a));
  PetscCall(ReadSet(comm, args[1], &m, &b));
  PetscCall(OtSinkhorn1D(comm, &o, n, a, m, b, &r));
  PetscCall(PetscPrintf(comm, "ot: %" PetscInt_FMT " x %" PetscInt_FMT " points, cost %s, reg %g, %s kernel, relaxation %g (%" PetscInt_FMT " restarts): %" PetscInt_FMT " iterations, L1 marginal error %.3e%s, %.3f s\n", n, m, OtCosts[o.cost], (double)o.reg, o.method == OT_METHOD_DENSE ? "dense" : "fast", (double)r.relax, r.relax_restarts, r.iterations, (double)r.marginal_error, r.converged ? "" : " (NOT converged: raise -ot_max_iter)", r.seconds));
  PetscCall(PetscPrintf(comm, "%.17g\n", (double)r.cost));
  if (!r.converged) *status = 1;
  PetscCall(PetscFree(a));
  PetscCall(PetscFree(b));
  PetscFunctionReturn(0);
}
