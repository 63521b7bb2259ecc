/* bench_train: data-parallel training throughput of the Sec. 5.2 network (64-256x4-30,
 * batch 1000, 9,000 pairs). Run at P ranks (mpirun -n 2 bench_train): phase 1 trains on
 * PETSC_COMM_SELF with the whole data set on every rank at once (P independent single-rank runs,
 * i.e. the 1-rank throughput measured with the other cores equally busy), phase 2 trains the same
 * steps data-parallel on all P ranks. Prints samples/s of both and the speed-up (ideal P). */
#include "blascore.h"
#include "train.h"
#include "rng.h"
#include "sampler.h"

static PetscErrorCode Run(MPI_Comm comm, PetscInt64 N, PetscInt steps, double *rate)
{
  Sched     sch;
  MlpArch   a;
  AdamOpts  ao;
  TrainOpts to;
  TrainData d;
  Trainer   tr;
  PetscInt  nl;
  PetscInt64 first;
  float    *x, *c;
  PetscLogDouble t0, t1;
  double     dt, dtmax;

  PetscFunctionBeginUser;
  PetscCall(SchedSetDefaults(&sch));
  PetscCall(MlpArchCreate(30 + 30 + DSM_TIME_EMBED, 4, 256, 30, &a));
  PetscCall(AdamOptsSetDefaults(&ao));
  PetscCall(TrainOptsSetDefaults(&to));
  to.log_interval = 0;
  PetscCall(SamplerPartition(comm, N, &nl, &first));
  PetscCall(PetscMalloc2((size_t)nl * 30 + 1, &x, (size_t)nl * 30 + 1, &c));
  for (PetscInt i = 0; i < nl; i++) {
    RngStream s;
    rng_stream_init(&s, 1, RNG_PURPOSE_DATA, (uint64_t)(first + i));
    for (int k = 0; k < 30; k++) x[i * 30 + k] = (float)rng_uniform(&s);
    for (int k = 0; k < 30; k++) c[i * 30 + k] = (float)rng_uniform(&s);
  }
  d = (TrainData){N, first, nl, 30, 30, x, c};
  PetscCall(TrainerCreate(comm, &a, 1, &ao, &d, &to, &tr));
  PetscCall(TrainerSteps(&tr, &sch, &d, &to, 2, NULL)); /* warm-up */
  PetscCallMPI(MPI_Barrier(PETSC_COMM_WORLD));
  PetscCall(PetscTime(&t0));
  PetscCall(TrainerSteps(&tr, &sch, &d, &to, steps, NULL));
  PetscCall(PetscTime(&t1));
  dt = t1 - t0;
  PetscCallMPI(MPI_Allreduce(&dt, &dtmax, 1, MPI_DOUBLE, MPI_MAX, PETSC_COMM_WORLD));
  *rate = steps * (double)to.batch / dtmax;
  PetscCall(TrainerDestroy(&tr));
  PetscCall(PetscFree2(x, c));
  PetscFunctionReturn(0);
}

int main(int argc, char **argv)
{
  PetscInt    steps = 30;
  PetscMPIInt size;
  double      r1, rP;

  BlasCoreReexec(argc, argv); /* before anything starts: OpenBLAS kernels for this CPU (blascore.h) */
  PetscCall(PetscInitialize(&argc, &argv, NULL, NULL));
  PetscCall(PetscOptionsGetInt(NULL, NULL, "-steps", &steps, NULL));
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCall(Run(PETSC_COMM_SELF, 9000, steps, &r1));
  PetscCall(Run(PETSC_COMM_WORLD, 9000, steps, &rP));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "bench_train: 5.2 network 64-256x4-30, batch 1000, 9000 pairs, %" PetscInt_FMT " steps\n", steps));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  1 rank (each of %d ranks alone):  %9.0f samples/s\n", size, r1));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  %d ranks data-parallel:          %9.0f samples/s   speed-up %.2fx (ideal %d)\n", size, rP, rP / r1, size));
  PetscCall(PetscFinalize());
  return 0;
}
