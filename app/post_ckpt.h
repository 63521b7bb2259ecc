/* post_ckpt: the restart file of pdediff posterior, so a sampling job of hours survives a time
 * limit, a preemption or scancel: what every sampler has finished, case by case.
 *
 * Every draw is keyed by (seed, case, sample) (sampler.h), so a case's samples do not depend on
 * when or on which rank it is sampled: resumed at the same rank count (the same case batches), a
 * run writes the same file, to the last bit, as one that was never stopped; at another rank
 * count, what a run at that count writes (to the order in which the network's single-precision
 * GEMMs and the per-segment sums add). The file holds, per sampler (group /ode, /sde), a done
 * flag and the per-case summaries (mean, std, CRPS, 1/2-sigma indicators) of every test case, the
 * samples of the kept cases and the score-evaluation counts and seconds so far; and a fingerprint
 * of everything the samples depend on (the network's weights, the test measurements and masks,
 * samples per case, samplers and their options, kept cases), so a checkpoint of another run is
 * refused, not mixed in. Written to FILE.partial and renamed (h5io), so the previous checkpoint
 * survives a failure during the write. */
#ifndef PDEDIFF_POST_CKPT_H
#define PDEDIFF_POST_CKPT_H
#include "sampler.h"
#include <stdint.h>

typedef struct {
  SamplerType   type;
  PetscReal    *mean, *std, *crps, *in1, *in2; /* nloc x nx: this rank's cases */
  PetscReal    *done;                          /* nloc: 1 once the case is sampled */
  PetscReal    *kept;                          /* nkeep x ns x nx: kept cases this rank holds (0 elsewhere) */
  SamplerStats *st;                            /* this rank's counts for what it sampled in this run */
  SamplerStats  before;                        /* global counts of what earlier runs sampled */
} PostCkptSampler;

typedef struct {
  char            path[PETSC_MAX_PATH_LEN];
  uint64_t        key;                      /* fingerprint (PostCkptKey) */
  PetscInt64      ntest, c0;                /* all cases; this rank's first */
  PetscInt        nloc, nx, ns, nkeep;
  const PetscInt *keep;                     /* nkeep case indices */
  PetscInt        nsamplers;
  PostCkptSampler s[2];
} PostCkpt;

/* FNV-1a over n bytes, continued from *h (start with PostCkptKeyInit). */
void PostCkptKeyInit(uint64_t *h);
void PostCkptKeyAdd(uint64_t *h, const void *p, size_t n);

/* Collective. Write every sampler's state (done flags, summaries, kept samples, counts). */
PetscErrorCode PostCkptWrite(MPI_Comm comm, const PostCkpt *ck);
/* Collective. If ck->path exists: check it is a posterior checkpoint of this run (an error naming
   the file, what differs and the fix otherwise), load this rank's cases that are done, the kept
   cases it owns and the earlier counts; *resumed says whether a file was read. */
PetscErrorCode PostCkptRead(MPI_Comm comm, PostCkpt *ck, PetscBool *resumed);
/* Collective. Remove the checkpoint (after the final output is in place). */
PetscErrorCode PostCkptRemove(MPI_Comm comm, const PostCkpt *ck);
/* The global counts: this run's (reduced over the ranks) plus the earlier runs'. Collective. */
PetscErrorCode PostCkptStatsTotal(MPI_Comm comm, const PostCkptSampler *s, SamplerStats *g);
#endif
