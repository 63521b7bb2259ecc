/* blascore: make OpenBLAS run the GEMM kernels this CPU can execute.
 *
 * Debian's OpenBLAS is built with DYNAMIC_ARCH: at load time it reads the CPU's family and model
 * from CPUID and picks a kernel set. On virtual machines and new CPUs the model is often one the
 * library does not know, and it falls back to its oldest x86-64 kernels ("Prescott", SSE3): on a
 * CPU with AVX-512 (measured here, bench_mlp, one thread) sgemm then runs at 30 GFLOP/s instead of
 * 123 with the SkylakeX kernels, and the 5.2 network trains 3.4x slower. The environment variable
 * OPENBLAS_CORETYPE overrides the choice, but only at load time, so the fix is to restart the
 * program with it set.
 *
 * BlasCoreReexec() runs first in main(), before MPI and PETSc start: when the CPU's instruction
 * set (read from the feature bits, which the CPU does report) is better than the kernels OpenBLAS
 * picked, it sets OPENBLAS_CORETYPE to the best matching kernel set and re-executes the program
 * with the same arguments (same process: mpirun and SLURM see nothing). It does nothing when
 * OPENBLAS_CORETYPE is already set (the user's choice wins), PDEDIFF_BLAS_REEXEC=0 (or no,
 * false), or under valgrind (whose tool an exec would leave).
 * BlasCoreReport() (after PetscInitialize) says on rank 0 what was done, or warns with the fix
 * when the kernels are still below the CPU. Every output file records the kernel set
 * (h5io provenance attribute blas_core). */
#ifndef PDEDIFF_BLASCORE_H
#define PDEDIFF_BLASCORE_H
#include <petscsys.h>

/* Instruction-set levels: 0 SSE only, 1 AVX, 2 AVX2 + FMA, 3 AVX-512 (F, CD, BW, DQ, VL). */
#define BLASCORE_LEVELS 4

/* The level of an OpenBLAS kernel set by name (case-insensitive; unknown names are 0). */
int blascore_core_level(const char core[]);
/* The OpenBLAS kernel set to request for a CPU level (NULL for 0: nothing better to ask for). */
const char *blascore_core_for_level(int level);
/* The level this CPU (and its operating system) supports. */
int blascore_cpu_level(void);
/* The kernel set OpenBLAS is running ("unknown" when the BLAS is not OpenBLAS). */
const char *blascore_core_name(void);

/* Call first in main(). Returns only when no restart is needed or the restart failed. */
void BlasCoreReexec(int argc, char **argv);
/* Collective on comm: a note on rank 0 if BlasCoreReexec restarted the program, a warning naming
   OPENBLAS_CORETYPE if the kernels are below the CPU (restart disabled or impossible). */
PetscErrorCode BlasCoreReport(MPI_Comm comm);

#endif
