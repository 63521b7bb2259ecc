/* test_blascore: OpenBLAS runs the kernels this CPU supports (libcore/blascore.h).
 *   - kernel-set names map to their instruction-set level (case-insensitive), and the kernel set
 *     requested for each level has that level;
 *   - default environment: after BlasCoreReexec the running kernels are at the CPU's level (the
 *     program restarted itself if OpenBLAS had picked worse ones, and says which it replaced);
 *   - -expect_core NAME (run with OPENBLAS_CORETYPE=NAME): the user's choice is kept, no restart;
 *   - -expect_kept (run with PDEDIFF_BLAS_REEXEC=0): no restart, the library's pick stays;
 *   - the provenance of every output file records the running kernel set (blas_core). */
#include "blascore.h"
#include "h5io.h"
#include "testutil.h"
#include <stdlib.h>
#include <strings.h>

int main(int argc, char **argv)
{
  char        expect[64] = "", path[PETSC_MAX_PATH_LEN] = "test_blascore.h5";
  PetscBool   has_expect, kept = PETSC_FALSE;
  const char *core, *was;
  int         cpu, have;

  BlasCoreReexec(argc, argv); /* before anything starts: OpenBLAS kernels for this CPU (blascore.h) */
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-expect_core", expect, sizeof(expect), &has_expect));
  PetscCall(PetscOptionsGetBool(NULL, NULL, "-expect_kept", &kept, NULL));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-output", path, sizeof(path), NULL));
  core = blascore_core_name();
  was  = getenv("PDEDIFF_BLAS_REPLACED");
  cpu  = blascore_cpu_level();
  have = blascore_core_level(core);
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "CPU level %d, OpenBLAS running %s (level %d), OPENBLAS_CORETYPE=%s, replaced %s\n", cpu, core, have, getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "unset", was ? was : "nothing"));

  CHECK(blascore_core_level("Prescott") == 0 && blascore_core_level("Nehalem") == 0 && blascore_core_level(NULL) == 0 && blascore_core_level("unknown") == 0, "SSE-only and unknown kernel sets are level 0");
  CHECK(blascore_core_level("Sandybridge") == 1 && blascore_core_level("bulldozer") == 1, "AVX kernel sets are level 1");
  CHECK(blascore_core_level("Haswell") == 2 && blascore_core_level("ZEN") == 2, "AVX2 kernel sets are level 2 (any case)");
  CHECK(blascore_core_level("SkylakeX") == 3 && blascore_core_level("cooperlake") == 3 && blascore_core_level("SapphireRapids") == 3, "AVX-512 kernel sets are level 3");
  CHECK(blascore_core_for_level(0) == NULL && blascore_core_for_level(4) == NULL && blascore_core_for_level(-1) == NULL, "no kernel set requested for level 0 or out of range");
  for (int l = 1; l < BLASCORE_LEVELS; l++) CHECK(blascore_core_level(blascore_core_for_level(l)) == l, "level %d requests %s, a level-%d kernel set", l, blascore_core_for_level(l), l);
  CHECK(cpu >= 0 && cpu < BLASCORE_LEVELS, "CPU level %d in [0, %d]", cpu, BLASCORE_LEVELS - 1);

  if (has_expect) {
    CHECK(!strcasecmp(core, expect) && !was, "OPENBLAS_CORETYPE=%s is kept without a restart (running %s)", expect, core);
  } else if (kept) {
    CHECK(!was && !getenv("OPENBLAS_CORETYPE"), "PDEDIFF_BLAS_REEXEC=0: no restart, the library's pick %s stays", core);
  } else if (getenv("OPENBLAS_CORETYPE") && !was) {
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "note: OPENBLAS_CORETYPE was set by the caller; the restart is not exercised\n"));
  } else {
    /* an OpenBLAS built without the CPU's kernels runs a lower set when asked: then the restart
       must at least have improved on the library's pick */
    CHECK(have >= cpu || (was && have > blascore_core_level(was)), "running kernels %s (level %d) match the CPU's level %d (or improve on the library's %s)", core, have, cpu, was ? was : "pick");
    CHECK(!was || blascore_core_level(was) < cpu, "a restart happened only to replace a kernel set below the CPU (%s)", was ? was : "none");
  }

  { /* provenance: the kernel set in every file */
    H5io io;
    char got[64];
    PetscCall(H5ioCreate(PETSC_COMM_WORLD, path, &io));
    PetscCall(H5ioWriteProvenance(&io, "test_blascore"));
    PetscCall(H5ioCommit(&io));
    PetscCall(H5ioOpen(PETSC_COMM_WORLD, path, &io));
    PetscCall(H5ioReadAttrString(&io, "/", "blas_core", sizeof(got), got));
    PetscCall(H5ioClose(&io));
    CHECK(!strcmp(got, core), "provenance attribute blas_core = %s (running %s)", got, core);
  }
  {
    int status = TestFinish("test_blascore");
    PetscCall(PetscFinalize());
    return status;
  }
}
