#include "post_ckpt.h"
#include "h5io.h"
#include <string.h>
#include <unistd.h>

#define POST_CKPT_KIND    "pdediff posterior checkpoint"
/* 2: the tweedie start reads its estimate at probe points (sampler.h); the cases of a version 1
   file started from the centre estimate and are not continued with the new start. */
#define POST_CKPT_VERSION 2

void PostCkptKeyInit(uint64_t *h) { *h = 14695981039346656037ULL; }

void PostCkptKeyAdd(uint64_t *h, const void *p, size_t n)
{
  const unsigned char *b = (const unsigned char *)p;
  for (size_t i = 0; i < n; i++) *h = (*h ^ b[i]) * 1099511628211ULL;
}

static PetscInt64 KeyAsInt(uint64_t k)
{
  PetscInt64 v;
  memcpy(&v, &k, sizeof(v));
  return v;
}

PetscErrorCode PostCkptStatsTotal(MPI_Comm comm, const PostCkptSampler *s, SamplerStats *g)
{
  PetscFunctionBeginUser;
  PetscCall(SamplerStatsReduce(comm, s->st, g));
  g->score_evals += s->before.score_evals;
  g->score_calls += s->before.score_calls;
  g->steps += s->before.steps;
  g->rejected += s->before.rejected;
  g->max_particle_steps = PetscMax(g->max_particle_steps, s->before.max_particle_steps);
  g->time += s->before.time; /* wall seconds: the runs followed one another */
  PetscFunctionReturn(0);
}

static void SamplerList(const PostCkpt *ck, char buf[], size_t len)
{
  buf[0] = 0;
  for (PetscInt k = 0; k < ck->nsamplers; k++) {
    if (k) strncat(buf, ",", len - strlen(buf) - 1);
    strncat(buf, SamplerTypes[ck->s[k].type], len - strlen(buf) - 1);
  }
}

/* The per-case arrays of one sampler, in the order of the file's datasets. */
static void CaseArrays(const PostCkptSampler *s, PetscReal *a[5])
{
  a[0] = s->mean;
  a[1] = s->std;
  a[2] = s->crps;
  a[3] = s->in1;
  a[4] = s->in2;
}
static const char *const CaseNames[5] = {"mean", "std", "crps", "in1", "in2"};

static PetscErrorCode WriteContents(MPI_Comm comm, H5io *io, const PostCkpt *ck, PetscReal kept[])
{
  const size_t nk = (size_t)ck->nkeep * ck->ns * ck->nx;
  char         list[64], name[64];

  PetscFunctionBeginUser;
  SamplerList(ck, list, sizeof(list));
  PetscCall(H5ioWriteProvenance(io, "posterior checkpoint"));
  PetscCall(H5ioAttrString(io, "/", "kind", POST_CKPT_KIND));
  PetscCall(H5ioAttrInt(io, "/", "version", POST_CKPT_VERSION));
  PetscCall(H5ioAttrInt(io, "/", "key", KeyAsInt(ck->key)));
  PetscCall(H5ioAttrInt(io, "/", "ntest", ck->ntest));
  PetscCall(H5ioAttrInt(io, "/", "nsamples", ck->ns));
  PetscCall(H5ioAttrInt(io, "/", "nx", ck->nx));
  PetscCall(H5ioAttrString(io, "/", "samplers", list));
  for (PetscInt k = 0; k < ck->nsamplers; k++) {
    const PostCkptSampler *s = &ck->s[k];
    const char            *g = SamplerTypes[s->type];
    PetscReal             *a[5];
    SamplerStats           tot;

    PetscCall(PetscSNPrintf(name, sizeof(name), "/%s", g));
    PetscCall(H5ioGroup(io, name));
    PetscCall(PetscSNPrintf(name, sizeof(name), "%s/done", g));
    PetscCall(H5ioWriteRows(io, name, ck->ntest, 0, ck->c0, ck->nloc, s->done, "case", "1", "1 once the case is sampled, else 0 (its rows below are not yet meaningful)"));
    CaseArrays(s, a);
    for (PetscInt j = 0; j < 5; j++) {
      PetscCall(PetscSNPrintf(name, sizeof(name), "%s/%s", g, CaseNames[j]));
      PetscCall(H5ioWriteRows(io, name, ck->ntest, ck->nx, ck->c0, ck->nloc, a[j], "case,segment", "as in the posterior file", "per-case summary of the done cases"));
    }
    if (nk) {
      PetscCallMPI(MPI_Allreduce(s->kept, kept, (PetscMPIInt)nk, MPIU_REAL, MPI_SUM, comm));
      PetscCall(PetscSNPrintf(name, sizeof(name), "%s/kept", g));
      PetscCall(H5ioWriteReplicated(io, name, ck->nkeep, ck->ns * ck->nx, kept, "kept case,sample x segment", "flux", "samples of the kept cases that are done (0 for the others)"));
    }
    PetscCall(PostCkptStatsTotal(comm, s, &tot));
    PetscCall(PetscSNPrintf(name, sizeof(name), "/%s", g));
    PetscCall(H5ioAttrInt(io, name, "score_evals", tot.score_evals));
    PetscCall(H5ioAttrInt(io, name, "score_calls", tot.score_calls));
    PetscCall(H5ioAttrInt(io, name, "steps", tot.steps));
    PetscCall(H5ioAttrInt(io, name, "rejected", tot.rejected));
    PetscCall(H5ioAttrInt(io, name, "max_particle_steps", tot.max_particle_steps));
    PetscCall(H5ioAttrReal(io, name, "seconds", tot.time));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode PostCkptWrite(MPI_Comm comm, const PostCkpt *ck)
{
  H5io           io;
  PetscErrorCode ierr;
  PetscReal     *kept = NULL;
  const size_t   nk   = (size_t)ck->nkeep * ck->ns * ck->nx;

  PetscFunctionBeginUser;
  if (nk) PetscCall(PetscMalloc1(nk, &kept));
  PetscCall(H5ioCreate(comm, ck->path, &io));
  ierr = WriteContents(comm, &io, ck, kept);
  if (ierr) { /* the previous checkpoint stays as it was */
    PetscCall(H5ioAbort(&io));
    PetscCall(PetscFree(kept));
    PetscCall(ierr);
  }
  PetscCall(H5ioCommit(&io));
  PetscCall(PetscFree(kept));
  PetscFunctionReturn(0);
}

static PetscErrorCode ReadContents(MPI_Comm comm, H5io *io, PostCkpt *ck)
{
  char       kind[64], list[64], have[64], name[64];
  PetscInt64 version, key, ntest, ns, nx;
  PetscReal *buf, *kept = NULL;
  const size_t nk = (size_t)ck->nkeep * ck->ns * ck->nx;

  PetscFunctionBeginUser;
  PetscCall(H5ioReadAttrString(io, "/", "kind", sizeof(kind), kind));
  PetscCheck(!strcmp(kind, POST_CKPT_KIND), comm, PETSC_ERR_FILE_UNEXPECTED, "-posterior_checkpoint %s is not a posterior checkpoint (kind '%s'): name another file, or remove it", ck->path, kind);
  PetscCall(H5ioReadAttrInt(io, "/", "version", &version));
  PetscCheck(version == POST_CKPT_VERSION, comm, PETSC_ERR_FILE_UNEXPECTED, "-posterior_checkpoint %s has version %" PetscInt64_FMT ", this pdediff reads %d: remove it to start afresh", ck->path, version, POST_CKPT_VERSION);
  PetscCall(H5ioReadAttrInt(io, "/", "key", &key));
  PetscCall(H5ioReadAttrInt(io, "/", "ntest", &ntest));
  PetscCall(H5ioReadAttrInt(io, "/", "nsamples", &ns));
  PetscCall(H5ioReadAttrInt(io, "/", "nx", &nx));
  PetscCall(H5ioReadAttrString(io, "/", "samplers", sizeof(have), have));
  SamplerList(ck, list, sizeof(list));
  PetscCheck(key == KeyAsInt(ck->key), comm, PETSC_ERR_ARG_INCOMP,
             "-posterior_checkpoint %s belongs to another run (it has %" PetscInt64_FMT " test cases x %" PetscInt64_FMT " samples, samplers %s; this run %" PetscInt64_FMT " x %" PetscInt_FMT ", %s; or the model's weights, the test measurements (data set, rows, noise level, seeds, masks) or the sampler options differ): "
             "rerun with the options it was written with to resume it, or remove it (its samples are lost) to start afresh",
             ck->path, ntest, ns, have, ck->ntest, ck->ns, list);
  PetscCheck(ntest == ck->ntest && ns == ck->ns && nx == ck->nx && !strcmp(have, list), comm, PETSC_ERR_FILE_UNEXPECTED, "-posterior_checkpoint %s: its shape attributes contradict its fingerprint (a damaged file?): remove it", ck->path);
  PetscCall(PetscMalloc1((size_t)ck->ntest * ck->nx, &buf));
  if (nk) PetscCall(PetscMalloc1(nk, &kept));
  for (PetscInt k = 0; k < ck->nsamplers; k++) {
    PostCkptSampler *s = &ck->s[k];
    const char      *g = SamplerTypes[s->type];
    PetscReal       *a[5];
    PetscInt64       v;

    PetscCall(PetscSNPrintf(name, sizeof(name), "%s/done", g));
    PetscCall(H5ioReadReal(io, name, ck->ntest, 0, buf));
    for (PetscInt l = 0; l < ck->nloc; l++) s->done[l] = buf[ck->c0 + l];
    CaseArrays(s, a);
    for (PetscInt j = 0; j < 5; j++) {
      PetscCall(PetscSNPrintf(name, sizeof(name), "%s/%s", g, CaseNames[j]));
      PetscCall(H5ioReadReal(io, name, ck->ntest, ck->nx, buf));
      for (PetscInt l = 0; l < ck->nloc; l++)
        if (s->done[l] > 0) PetscCall(PetscArraycpy(a[j] + (size_t)l * ck->nx, buf + (size_t)(ck->c0 + l) * ck->nx, ck->nx));
    }
    if (nk) { /* each kept case goes to the rank whose range holds it, if it is done */
      PetscCall(PetscSNPrintf(name, sizeof(name), "%s/kept", g));
      PetscCall(H5ioReadReal(io, name, ck->nkeep, ck->ns * ck->nx, kept));
      for (PetscInt q = 0; q < ck->nkeep; q++) {
        const PetscInt64 l = ck->keep[q] - ck->c0;
        if (l >= 0 && l < ck->nloc && s->done[l] > 0) PetscCall(PetscArraycpy(s->kept + (size_t)q * ck->ns * ck->nx, kept + (size_t)q * ck->ns * ck->nx, (size_t)ck->ns * ck->nx));
      }
    }
    PetscCall(PetscSNPrintf(name, sizeof(name), "/%s", g));
    PetscCall(H5ioReadAttrInt(io, name, "score_evals", &s->before.score_evals));
    PetscCall(H5ioReadAttrInt(io, name, "score_calls", &s->before.score_calls));
    PetscCall(H5ioReadAttrInt(io, name, "steps", &s->before.steps));
    PetscCall(H5ioReadAttrInt(io, name, "rejected", &s->before.rejected));
    PetscCall(H5ioReadAttrInt(io, name, "max_particle_steps", &v));
    s->before.max_particle_steps = v;
    {
      PetscReal t;
      PetscCall(H5ioReadAttrReal(io, name, "seconds", &t));
      s->before.time = t;
    }
  }
  PetscCall(PetscFree(buf));
  PetscCall(PetscFree(kept));
  PetscFunctionReturn(0);
}

PetscErrorCode PostCkptRead(MPI_Comm comm, PostCkpt *ck, PetscBool *resumed)
{
  PetscBool      exists = PETSC_FALSE;
  H5io           io;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  *resumed = PETSC_FALSE;
  PetscCall(PetscTestFile(ck->path, 'r', &exists)); /* as pdediff train tests its checkpoint */
  if (!exists) PetscFunctionReturn(0);
  PetscCall(H5ioOpen(comm, ck->path, &io));
  ierr = ReadContents(comm, &io, ck);
  PetscCall(H5ioClose(&io));
  PetscCall(ierr);
  *resumed = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode PostCkptRemove(MPI_Comm comm, const PostCkpt *ck)
{
  PetscMPIInt rank;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (!rank && unlink(ck->path) != 0) PetscCall(PetscPrintf(PETSC_COMM_SELF, "posterior: WARNING: could not remove the checkpoint %s (remove it by hand)\n", ck->path));
  PetscFunctionReturn(0);
}
