/* blascore: restart with OPENBLAS_CORETYPE when OpenBLAS picked kernels below the CPU (blascore.h). */
/* cblas.h declares openblas_setaffinity(..., cpu_set_t *): <sched.h> defines it under _GNU_SOURCE. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "blascore.h"
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* The environment variable that tells the restarted program which kernel set it replaced. */
#define BLASCORE_WAS "PDEDIFF_BLAS_REPLACED"

int blascore_core_level(const char core[])
{
  /* OpenBLAS 0.3.x x86-64 kernel sets by the instruction set their GEMM kernels use */
  static const struct {
    const char *name;
    int         level;
  } sets[] = {{"skylakex", 3}, {"cooperlake", 3}, {"sapphirerapids", 3}, {"haswell", 2}, {"zen", 2}, {"excavator", 2}, {"sandybridge", 1}, {"bulldozer", 1}, {"piledriver", 1}, {"steamroller", 1}};

  for (size_t i = 0; core && i < sizeof(sets) / sizeof(sets[0]); i++)
    if (!strcasecmp(core, sets[i].name)) return sets[i].level;
  return 0;
}

const char *blascore_core_for_level(int level)
{
  static const char *const names[BLASCORE_LEVELS] = {NULL, "Sandybridge", "Haswell", "SkylakeX"};
  return level > 0 && level < BLASCORE_LEVELS ? names[level] : NULL;
}

int blascore_cpu_level(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
  /* libgcc's feature test also checks that the OS saves the AVX / AVX-512 registers (XCR0) */
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) return 3;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
  if (__builtin_cpu_supports("avx")) return 1;
#endif
  return 0;
}

const char *blascore_core_name(void)
{
  const char *c = openblas_get_corename();
  return c && c[0] ? c : "unknown";
}

void BlasCoreReexec(int argc, char **argv)
{
  const char *want, *off = getenv("PDEDIFF_BLAS_REEXEC");
  const int   cpu = blascore_cpu_level();
  char        self[4096];
  ssize_t     n;

  (void)argc;
  if (getenv("OPENBLAS_CORETYPE")) return; /* the user's (or our restart's) choice */
  if (off && (!strcmp(off, "0") || !strcasecmp(off, "no") || !strcasecmp(off, "false"))) return;
  /* under valgrind an exec would leave the tool (it does not follow children by default) */
  if (getenv("VALGRIND_LAUNCHER")) return;
  if (blascore_core_level(blascore_core_name()) >= cpu) return;
  want = blascore_core_for_level(cpu);
  /* the running executable, as a path execv accepts on every kernel /proc/self/exe exists on */
  n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (!want || n <= 0 || n >= (ssize_t)sizeof(self) - 1) return;
  self[n] = 0;
  if (setenv("OPENBLAS_CORETYPE", want, 1)) return;
  if (setenv(BLASCORE_WAS, blascore_core_name(), 1)) {
    unsetenv("OPENBLAS_CORETYPE");
    return;
  }
  execv(self, argv);
  /* the restart failed: run on with the library's choice; BlasCoreReport warns */
  unsetenv("OPENBLAS_CORETYPE");
  unsetenv(BLASCORE_WAS);
}

PetscErrorCode BlasCoreReport(MPI_Comm comm)
{
  const char *was = getenv(BLASCORE_WAS), *core = blascore_core_name();
  const int   cpu = blascore_cpu_level(), have = blascore_core_level(core);

  PetscFunctionBeginUser;
  if (was && have < cpu) /* the library cannot deliver the kernels asked for (built without them) */
    PetscCall(PetscFPrintf(comm, PETSC_STDERR, "pdediff: WARNING: OpenBLAS had picked its %s kernels; restarted with OPENBLAS_CORETYPE=%s, but it runs %s, below this CPU's %s: this OpenBLAS lacks them. Set PDEDIFF_BLAS_REEXEC=0 to skip the restart, or link an OpenBLAS built for this CPU\n", was, getenv("OPENBLAS_CORETYPE"), core, blascore_core_for_level(cpu)));
  else if (was) PetscCall(PetscFPrintf(comm, PETSC_STDERR, "pdediff: OpenBLAS had picked its %s kernels on this CPU; restarted with OPENBLAS_CORETYPE=%s (running: %s). Set OPENBLAS_CORETYPE yourself to choose, or PDEDIFF_BLAS_REEXEC=0 to keep the library's pick.\n", was, getenv("OPENBLAS_CORETYPE"), core));
  else if (have < cpu)
    PetscCall(PetscFPrintf(comm, PETSC_STDERR, "pdediff: WARNING: OpenBLAS runs its %s kernels but this CPU supports those of %s (GEMM up to 4x faster): set OPENBLAS_CORETYPE=%s in the environment of every rank\n", core, blascore_core_for_level(cpu), blascore_core_for_level(cpu)));
  PetscFunctionReturn(0);
}
