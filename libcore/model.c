#include "model.h"
#include "dsm.h"
#include <math.h>

const char *const ModelNorms[] = {"none", "minmax", "ModelNorm", "MODEL_NORM_", NULL};

#define MODEL_MAGIC   "pdediff-model"
#define MODEL_VERSION 1

PetscErrorCode ModelCreate(PetscInt nx, PetscInt ny, PetscBool mask, PetscInt hidden_layers, PetscInt hidden_width, const Sched *sch, PetscInt init_seed, Model *m)
{
  PetscFunctionBeginUser;
  PetscCheck(nx > 0 && ny >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Model dimensions n_x = %" PetscInt_FMT ", n_y = %" PetscInt_FMT ": need n_x > 0 and n_y >= 0", nx, ny);
  PetscCheck(!mask || ny > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_INCOMP, "A sensor-mask input needs n_y > 0");
  PetscCall(PetscMemzero(m, sizeof(*m)));
  m->nx    = nx;
  m->ny    = ny;
  m->mask  = mask;
  m->ncond = mask ? 2 * ny : ny;
  m->norm  = MODEL_NORM_NONE;
  m->sch   = *sch;
  m->par   = dsm_param_paper();
  m->train_pairs = -1;
  PetscCall(MeasSetDefaults(&m->meas));
  PetscCall(MlpArchCreate(nx + m->ncond + DSM_TIME_EMBED, hidden_layers, hidden_width, nx, &m->arch));
  PetscCall(PetscMalloc4(nx, &m->x_lo, nx, &m->x_hi, PetscMax(ny, 1), &m->y_lo, PetscMax(ny, 1), &m->y_hi));
  for (PetscInt i = 0; i < nx; i++) m->x_lo[i] = 0, m->x_hi[i] = 1;
  for (PetscInt i = 0; i < ny; i++) m->y_lo[i] = 0, m->y_hi[i] = 1;
  PetscCall(PetscCalloc1(nx, &m->x_mean));
  m->has_x_mean = PETSC_FALSE;
  PetscCall(PetscMalloc1(m->arch.nparams, &m->params));
  PetscCall(MlpInitParams_f(&m->arch, (uint64_t)init_seed, m->params));
  PetscFunctionReturn(0);
}

PetscErrorCode ModelDestroy(Model *m)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree4(m->x_lo, m->x_hi, m->y_lo, m->y_hi));
  PetscCall(PetscFree(m->x_mean));
  PetscCall(PetscFree(m->params));
  PetscFunctionReturn(0);
}

static PetscErrorCode ColumnExtrema(MPI_Comm comm, PetscInt n, PetscInt ncols, PetscInt ld, const float v[], PetscReal lo[], PetscReal hi[])
{
  PetscFunctionBeginUser;
  for (PetscInt j = 0; j < ncols; j++) lo[j] = PETSC_MAX_REAL, hi[j] = -PETSC_MAX_REAL;
  for (PetscInt i = 0; i < n; i++)
    for (PetscInt j = 0; j < ncols; j++) {
      const PetscReal a = v[(size_t)i * ld + j];
      lo[j]             = PetscMin(lo[j], a);
      hi[j]             = PetscMax(hi[j], a);
    }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, lo, (PetscMPIInt)ncols, MPIU_REAL, MPI_MIN, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, hi, (PetscMPIInt)ncols, MPIU_REAL, MPI_MAX, comm));
  PetscFunctionReturn(0);
}

static inline PetscReal Scale(PetscReal lo, PetscReal hi) { return hi > lo ? hi - lo : 1.0; }

PetscErrorCode ModelSetNormalization(MPI_Comm comm, Model *m, ModelNorm norm, PetscInt nlocal, const float x[], const float y[])
{
  PetscInt64 n = nlocal;

  PetscFunctionBeginUser;
  m->norm = norm;
  if (norm == MODEL_NORM_NONE) {
    for (PetscInt i = 0; i < m->nx; i++) m->x_lo[i] = 0, m->x_hi[i] = 1;
    for (PetscInt i = 0; i < m->ny; i++) m->y_lo[i] = 0, m->y_hi[i] = 1;
  } else {
    PetscCall(ColumnExtrema(comm, nlocal, m->nx, m->nx, x, m->x_lo, m->x_hi));
    if (m->ny) PetscCall(ColumnExtrema(comm, nlocal, m->ny, m->ny, y, m->y_lo, m->y_hi));
  }
  for (PetscInt j = 0; j < m->nx; j++) m->x_mean[j] = 0;
  for (PetscInt i = 0; i < nlocal; i++)
    for (PetscInt j = 0; j < m->nx; j++) m->x_mean[j] += x[(size_t)i * m->nx + j];
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, m->x_mean, (PetscMPIInt)m->nx, MPIU_REAL, MPI_SUM, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &n, 1, MPIU_INT64, MPI_SUM, comm));
  for (PetscInt j = 0; j < m->nx; j++) m->x_mean[j] = (m->x_mean[j] / (PetscReal)PetscMax(n, 1) - m->x_lo[j]) / Scale(m->x_lo[j], m->x_hi[j]);
  m->has_x_mean = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode ModelSamplerStart(MPI_Comm comm, const Model *m, const char path[], SamplerOpts *o)
{
  PetscFunctionBeginUser;
  if (o->start != SAMPLER_START_MEAN) PetscFunctionReturn(0);
  PetscCheck(m->has_x_mean, comm, PETSC_ERR_ARG_INCOMP, "-sampler_start mean: model %s has no training-set mean of x (x_mean; written before this build recorded it): retrain it, or use -sampler_start zero", path);
  o->start_mean = m->x_mean;
  PetscFunctionReturn(0);
}

void ModelNormalizeX(const Model *m, PetscInt n, float x[])
{
  for (PetscInt i = 0; i < n; i++)
    for (PetscInt j = 0; j < m->nx; j++) x[(size_t)i * m->nx + j] = (float)((x[(size_t)i * m->nx + j] - m->x_lo[j]) / Scale(m->x_lo[j], m->x_hi[j]));
}

void ModelNormalizeY(const Model *m, PetscInt n, PetscInt ld, float y[])
{
  for (PetscInt i = 0; i < n; i++)
    for (PetscInt j = 0; j < m->ny; j++) y[(size_t)i * ld + j] = (float)((y[(size_t)i * ld + j] - m->y_lo[j]) / Scale(m->y_lo[j], m->y_hi[j]));
}

void ModelNormalizeYReal(const Model *m, PetscInt n, PetscReal y[])
{
  for (PetscInt i = 0; i < n; i++)
    for (PetscInt j = 0; j < m->ny; j++) y[(size_t)i * m->ny + j] = (y[(size_t)i * m->ny + j] - m->y_lo[j]) / Scale(m->y_lo[j], m->y_hi[j]);
}

void model_condition(const Model *m, const PetscReal y[], const PetscReal mask[], PetscReal cond[])
{
  for (PetscInt j = 0; j < m->ny; j++) {
    cond[j] = (y[j] - m->y_lo[j]) / Scale(m->y_lo[j], m->y_hi[j]);
    if (mask && mask[j] == 0) cond[j] = -1; /* the paper's marker of an unobserved sensor */
  }
  if (m->mask)
    for (PetscInt j = 0; j < m->ny; j++) cond[m->ny + j] = mask ? mask[j] : 1;
}

void ModelDenormalizeXReal(const Model *m, PetscInt n, PetscReal x[])
{
  for (PetscInt i = 0; i < n; i++)
    for (PetscInt j = 0; j < m->nx; j++) x[(size_t)i * m->nx + j] = m->x_lo[j] + x[(size_t)i * m->nx + j] * Scale(m->x_lo[j], m->x_hi[j]);
}

/* The network's parametrisation (dsm.h): a name for people, an id for programs. Models and
   checkpoints both carry it; files written before an option existed lack its attribute and
   mean the paper's choice. */
PetscErrorCode ModelWriteParamH5(H5io *io, DsmParam par)
{
  PetscFunctionBeginUser;
  PetscCall(H5ioAttrString(io, "/", "time_embed", DsmEmbeds[par.embed]));
  PetscCall(H5ioAttrInt(io, "/", "time_embed_id", par.embed));
  PetscCall(H5ioAttrString(io, "/", "net_output", DsmOutputs[par.output]));
  PetscCall(H5ioAttrInt(io, "/", "net_output_id", par.output));
  if (par.output == DSM_OUTPUT_EDM) {
    PetscCall(H5ioAttrReal(io, "/", "net_sigma_data", par.sigma_data));
    PetscCall(H5ioAttrReal(io, "/", "net_sigma_skip", par.sigma_skip));
    PetscCall(H5ioAttrReal(io, "/", "net_centre", par.centre));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode ModelReadParamH5(H5io *io, DsmParam *par)
{
  PetscBool  has;
  PetscInt64 v;

  PetscFunctionBeginUser;
  *par = dsm_param_paper();
  PetscCall(H5ioHasAttr(io, "/", "time_embed_id", &has));
  if (has) {
    PetscCall(H5ioReadAttrInt(io, "/", "time_embed_id", &v));
    PetscCheck(v >= DSM_EMBED_PAPER && v <= DSM_EMBED_LOGSIGMA, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: unknown time_embed_id %lld (written by a newer pdediff?)", io->final_path, (long long)v);
    par->embed = (DsmEmbed)v;
  }
  PetscCall(H5ioHasAttr(io, "/", "net_output_id", &has));
  if (has) {
    PetscCall(H5ioReadAttrInt(io, "/", "net_output_id", &v));
    PetscCheck(v >= DSM_OUTPUT_SCORE && v <= DSM_OUTPUT_EDM, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: unknown net_output_id %lld (written by a newer pdediff?)", io->final_path, (long long)v);
    par->output = (DsmOutput)v;
  }
  if (par->output == DSM_OUTPUT_EDM) {
    PetscCall(H5ioReadAttrReal(io, "/", "net_sigma_data", &par->sigma_data));
    PetscCall(H5ioReadAttrReal(io, "/", "net_sigma_skip", &par->sigma_skip));
    PetscCall(H5ioReadAttrReal(io, "/", "net_centre", &par->centre));
    PetscCheck(par->sigma_data > 0 && par->sigma_skip > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: net_sigma_data %g and net_sigma_skip %g must be > 0 (corrupt file?)", io->final_path, (double)par->sigma_data, (double)par->sigma_skip);
  }
  PetscFunctionReturn(0);
}

PetscErrorCode ModelWriteH5(H5io *io, const Model *m, const float params[])
{
  PetscReal widths[MLP_MAX_LAYERS + 1];
  char      arch[256], sde[128];

  PetscFunctionBeginUser;
  for (PetscInt l = 0; l <= m->arch.nlayers; l++) widths[l] = (PetscReal)m->arch.width[l];
  PetscCall(MlpArchView(&m->arch, arch, sizeof(arch)));
  PetscCall(SchedDescribe(&m->sch, sde, sizeof(sde)));
  PetscCall(H5ioAttrString(io, "/", "model_format", MODEL_MAGIC));
  PetscCall(H5ioAttrInt(io, "/", "model_format_version", MODEL_VERSION));
  PetscCall(H5ioAttrString(io, "/", "architecture", arch));
  PetscCall(ModelWriteParamH5(io, m->par));
  PetscCall(H5ioAttrInt(io, "/", "n_x", m->nx));
  PetscCall(H5ioAttrInt(io, "/", "n_y", m->ny));
  PetscCall(H5ioAttrInt(io, "/", "mask", m->mask));
  PetscCall(H5ioAttrString(io, "/", "normalization", ModelNorms[m->norm]));
  PetscCall(H5ioAttrInt(io, "/", "normalization_id", m->norm));
  PetscCall(H5ioAttrString(io, "/", "sde", sde));
  PetscCall(H5ioAttrString(io, "/", "sde_type", SchedTypes[m->sch.type]));
  PetscCall(H5ioAttrInt(io, "/", "sde_type_id", m->sch.type));
  PetscCall(H5ioAttrReal(io, "/", "sde_T", m->sch.T));
  PetscCall(H5ioAttrReal(io, "/", "sde_eps", m->sch.eps));
  PetscCall(H5ioAttrReal(io, "/", "sde_sigma_max", m->sch.sigma_max));
  PetscCall(H5ioAttrReal(io, "/", "sde_beta_min", m->sch.beta_min));
  PetscCall(H5ioAttrReal(io, "/", "sde_beta_max", m->sch.beta_max));
  PetscCall(H5ioAttrReal(io, "/", "sde_p", m->sch.p));
  PetscCall(MeasWriteH5(io, &m->meas));
  PetscCall(H5ioWriteReplicated(io, "layer_widths", m->arch.nlayers + 1, 0, widths, "layer", "units", "MLP widths: inputs [x | y | mask | f(t)], hidden layers, outputs"));
  PetscCall(H5ioWriteReplicatedFloat(io, "params", m->arch.nparams, 0, params, "parameter", "dimensionless", m->par.output == DSM_OUTPUT_NOISE ? "flat MLP parameters W_0, b_0, W_1, b_1, ... (W_l row-major, out x in); the output is the noise z of x_t (score = -output / sigma(t))" : m->par.output == DSM_OUTPUT_EDM ? "flat MLP parameters W_0, b_0, W_1, b_1, ... (W_l row-major, out x in); the output F gives the denoiser D = c0 + c_skip (x_t/m - c0) + c_out F (net_sigma_data, net_sigma_skip, net_centre; pdediff dsm.h)" : "flat MLP parameters W_0, b_0, W_1, b_1, ... (W_l row-major, out x in); the output is the score of the normalised x"));
  PetscCall(H5ioWriteReplicated(io, "x_lo", m->nx, 0, m->x_lo, "component", "as x", "normalisation: x_n = (x - x_lo) / (x_hi - x_lo) (training-set minimum)"));
  PetscCall(H5ioWriteReplicated(io, "x_hi", m->nx, 0, m->x_hi, "component", "as x", "training-set maximum of x"));
  if (m->has_x_mean) PetscCall(H5ioWriteReplicated(io, "x_mean", m->nx, 0, m->x_mean, "component", "normalised x", "training-set mean of the normalised x (-sampler_start mean)"));
  if (m->ny) {
    PetscCall(H5ioWriteReplicated(io, "y_lo", m->ny, 0, m->y_lo, "component", "as y", "normalisation: y_n = (y - y_lo) / (y_hi - y_lo) (training-set minimum)"));
    PetscCall(H5ioWriteReplicated(io, "y_hi", m->ny, 0, m->y_hi, "component", "as y", "training-set maximum of y"));
  }
  PetscFunctionReturn(0);
}

PetscErrorCode ModelReadH5(H5io *io, Model *m)
{
  PetscInt64 v, nx, ny, mask, nl, norm;
  PetscInt   nc;
  PetscReal  widths[MLP_MAX_LAYERS + 1];
  Sched      sch;
  PetscBool  has;

  PetscFunctionBeginUser;
  PetscCall(H5ioHasAttr(io, "/", "model_format_version", &has));
  PetscCheck(has, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s is not a pdediff model or checkpoint (no model_format_version attribute); pass the file written by 'pdediff train'", io->final_path);
  PetscCall(H5ioReadAttrInt(io, "/", "model_format_version", &v));
  PetscCheck(v == MODEL_VERSION, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: model format version %lld, this build reads %d", io->final_path, (long long)v, MODEL_VERSION);
  PetscCall(H5ioReadAttrInt(io, "/", "n_x", &nx));
  PetscCall(H5ioReadAttrInt(io, "/", "n_y", &ny));
  PetscCall(H5ioReadAttrInt(io, "/", "mask", &mask));
  PetscCall(H5ioReadAttrInt(io, "/", "normalization_id", &norm));
  PetscCall(H5ioReadAttrInt(io, "/", "sde_type_id", &v));
  PetscCheck(v >= SCHED_VE && v <= SCHED_XI && norm >= 0 && norm <= 1, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: unknown sde_type_id or normalization_id (corrupt file?)", io->final_path);
  sch.type = (SchedType)v;
  PetscCall(H5ioReadAttrReal(io, "/", "sde_T", &sch.T));
  PetscCall(H5ioReadAttrReal(io, "/", "sde_eps", &sch.eps));
  PetscCall(H5ioReadAttrReal(io, "/", "sde_sigma_max", &sch.sigma_max));
  PetscCall(H5ioReadAttrReal(io, "/", "sde_beta_min", &sch.beta_min));
  PetscCall(H5ioReadAttrReal(io, "/", "sde_beta_max", &sch.beta_max));
  PetscCall(H5ioReadAttrReal(io, "/", "sde_p", &sch.p));
  PetscCall(SchedValidate(&sch));
  PetscCall(H5ioDatasetShape(io, "layer_widths", &nl, &nc));
  PetscCheck(nc == 0 && nl >= 3 && nl <= MLP_MAX_LAYERS + 1, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: layer_widths has %lld entries (corrupt file?)", io->final_path, (long long)nl);
  PetscCall(H5ioReadReal(io, "layer_widths", nl, 0, widths));
  for (PetscInt l = 1; l + 1 < nl; l++)
    PetscCheck(widths[l] == widths[1], PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: hidden layers of unequal width are not supported", io->final_path);
  PetscCall(ModelCreate((PetscInt)nx, (PetscInt)ny, mask ? PETSC_TRUE : PETSC_FALSE, (PetscInt)nl - 2, (PetscInt)widths[1], &sch, 0, m));
  PetscCheck(m->arch.width[0] == (PetscInt)widths[0] && m->arch.width[nl - 1] == (PetscInt)widths[nl - 1], PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: layer_widths do not match n_x = %lld, n_y = %lld, mask = %lld (corrupt file?)", io->final_path, (long long)nx, (long long)ny, (long long)mask);
  m->norm = (ModelNorm)norm;
  PetscCall(ModelReadParamH5(io, &m->par));
  PetscCall(MeasReadH5(io, &m->meas));
  PetscCall(H5ioReadFloat(io, "params", m->arch.nparams, 0, m->params));
  PetscCall(H5ioReadReal(io, "x_lo", m->nx, 0, m->x_lo));
  PetscCall(H5ioReadReal(io, "x_hi", m->nx, 0, m->x_hi));
  PetscCall(H5ioHasDataset(io, "x_mean", &m->has_x_mean));
  if (m->has_x_mean) PetscCall(H5ioReadReal(io, "x_mean", m->nx, 0, m->x_mean));
  PetscCall(H5ioHasAttr(io, "/", "n_train", &has)); /* ModelSave's summary: absent from checkpoints */
  if (has) PetscCall(H5ioReadAttrInt(io, "/", "n_train", &m->train_pairs));
  if (m->ny) {
    PetscCall(H5ioReadReal(io, "y_lo", m->ny, 0, m->y_lo));
    PetscCall(H5ioReadReal(io, "y_hi", m->ny, 0, m->y_hi));
  }
  for (PetscInt64 i = 0; i < m->arch.nparams; i++) PetscCheck(isfinite(m->params[i]), PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "%s: parameter %lld is not finite (corrupt file?)", io->final_path, (long long)i);
  PetscFunctionReturn(0);
}

PetscErrorCode ModelCompatible(const Model *a, const Model *b, PetscBool *same, char why[], size_t len)
{
  char sa[128], sb[128], aa[256], ab[256];

  PetscFunctionBeginUser;
  *same = PETSC_FALSE;
  PetscCall(MlpArchView(&a->arch, aa, sizeof(aa)));
  PetscCall(MlpArchView(&b->arch, ab, sizeof(ab)));
  PetscCall(SchedDescribe(&a->sch, sa, sizeof(sa)));
  PetscCall(SchedDescribe(&b->sch, sb, sizeof(sb)));
  if (a->nx != b->nx || a->ny != b->ny || a->mask != b->mask) {
    PetscCall(PetscSNPrintf(why, len, "data dimensions n_x %" PetscInt_FMT " / %" PetscInt_FMT ", n_y %" PetscInt_FMT " / %" PetscInt_FMT ", mask %d / %d", a->nx, b->nx, a->ny, b->ny, (int)a->mask, (int)b->mask));
    PetscFunctionReturn(0);
  }
  if (strcmp(aa, ab)) {
    PetscCall(PetscSNPrintf(why, len, "network %s / %s", aa, ab));
    PetscFunctionReturn(0);
  }
  if (a->par.embed != b->par.embed) {
    PetscCall(PetscSNPrintf(why, len, "time embedding -net_time_embed %s / %s", DsmEmbeds[a->par.embed], DsmEmbeds[b->par.embed]));
    PetscFunctionReturn(0);
  }
  if (a->par.output != b->par.output) {
    PetscCall(PetscSNPrintf(why, len, "network output -net_output %s / %s", DsmOutputs[a->par.output], DsmOutputs[b->par.output]));
    PetscFunctionReturn(0);
  }
  if (a->par.sigma_data != b->par.sigma_data || a->par.sigma_skip != b->par.sigma_skip || a->par.centre != b->par.centre) {
    PetscCall(PetscSNPrintf(why, len, "edm scales -net_sigma_data %g / %g, -net_sigma_skip %g / %g, centre %g / %g", (double)a->par.sigma_data, (double)b->par.sigma_data, (double)a->par.sigma_skip, (double)b->par.sigma_skip, (double)a->par.centre, (double)b->par.centre));
    PetscFunctionReturn(0);
  }
  if (a->sch.type != b->sch.type || a->sch.T != b->sch.T || a->sch.eps != b->sch.eps || a->sch.sigma_max != b->sch.sigma_max || a->sch.beta_min != b->sch.beta_min || a->sch.beta_max != b->sch.beta_max || a->sch.p != b->sch.p) {
    PetscCall(PetscSNPrintf(why, len, "forward process %s / %s", sa, sb));
    PetscFunctionReturn(0);
  }
  if (a->meas.level != b->meas.level || a->meas.seed != b->meas.seed || a->meas.mask_prob != b->meas.mask_prob || a->meas.mask_seed != b->meas.mask_seed || a->meas.copies != b->meas.copies || a->meas.resample != b->meas.resample) {
    PetscCall(PetscSNPrintf(why, len, "measurement model (noise level %.6g / %.6g, noise seed %" PetscInt_FMT " / %" PetscInt_FMT ", mask probability %.6g / %.6g, mask seed %" PetscInt_FMT " / %" PetscInt_FMT ", copies %" PetscInt_FMT " / %" PetscInt_FMT ", -meas_resample %d / %d)", (double)a->meas.level, (double)b->meas.level, a->meas.seed, b->meas.seed, (double)a->meas.mask_prob, (double)b->meas.mask_prob, a->meas.mask_seed, b->meas.mask_seed, a->meas.copies, b->meas.copies, (int)a->meas.resample, (int)b->meas.resample));
    PetscFunctionReturn(0);
  }
  PetscBool nsame = (PetscBool)(a->norm == b->norm);
  for (PetscInt j = 0; nsame && j < a->nx; j++) nsame = (PetscBool)(a->x_lo[j] == b->x_lo[j] && a->x_hi[j] == b->x_hi[j]);
  for (PetscInt j = 0; nsame && j < a->ny; j++) nsame = (PetscBool)(a->y_lo[j] == b->y_lo[j] && a->y_hi[j] == b->y_hi[j]);
  if (!nsame) {
    PetscCall(PetscSNPrintf(why, len, "normalisation (%s / %s, or the training data differ)", ModelNorms[a->norm], ModelNorms[b->norm]));
    PetscFunctionReturn(0);
  }
  *same = PETSC_TRUE;
  PetscFunctionReturn(0);
}

PetscErrorCode ModelSave(MPI_Comm comm, const Model *m, const ModelTrainSummary *s, const char path[])
{
  H5io           io;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(H5ioCreate(comm, path, &io));
  ierr = H5ioWriteProvenance(&io, "pdediff model");
  if (!ierr) ierr = ModelWriteH5(&io, m, m->params);
  if (!ierr && s) ierr = H5ioAttrInt(&io, "/", "train_epochs", s->epochs);
  if (!ierr && s) ierr = H5ioAttrInt(&io, "/", "train_steps", s->steps);
  if (!ierr && s) ierr = H5ioAttrInt(&io, "/", "train_seed", s->train_seed);
  if (!ierr && s) ierr = H5ioAttrInt(&io, "/", "n_train", s->n_train);
  if (!ierr && s) ierr = H5ioAttrReal(&io, "/", "train_ema", s->ema_decay);
  if (!ierr && s) ierr = H5ioAttrReal(&io, "/", "train_t_power", s->t_power);
  if (!ierr && s && s->density_case >= 0) ierr = H5ioAttrInt(&io, "/", "density_case_id", s->density_case);
  if (!ierr && s) ierr = H5ioAttrReal(&io, "/", "train_final_loss", s->final_loss);
  if (!ierr && s) ierr = H5ioAttrReal(&io, "/", "train_seconds", s->seconds);
  if (!ierr && s) ierr = H5ioAttrInt(&io, "/", "train_seconds_steps", s->seconds_steps);
  if (ierr) {
    PetscCall(H5ioAbort(&io));
    PetscCall(ierr);
  }
  PetscCall(H5ioCommit(&io));
  PetscFunctionReturn(0);
}

PetscErrorCode ModelLoad(MPI_Comm comm, const char path[], Model *m)
{
  H5io           io;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCall(H5ioOpen(comm, path, &io));
  ierr = ModelReadH5(&io, m);
  PetscCall(H5ioClose(&io));
  PetscCall(ierr);
  PetscFunctionReturn(0);
}

PetscErrorCode ModelScoreCtxCreate(const Model *m, PetscInt maxB, ModelScoreCtx *ctx)
{
  const PetscInt nin = m->arch.width[0];

  PetscFunctionBeginUser;
  ctx->m    = m;
  ctx->maxB = maxB;
  PetscCall(PetscMalloc2((size_t)maxB * nin, &ctx->in, (size_t)maxB * m->nx, &ctx->out));
  PetscCall(MlpWorkCreate_f(&m->arch, maxB, &ctx->w));
  PetscFunctionReturn(0);
}

PetscErrorCode ModelScoreCtxDestroy(ModelScoreCtx *ctx)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree2(ctx->in, ctx->out));
  PetscCall(MlpWorkDestroy_f(&ctx->w));
  PetscFunctionReturn(0);
}

PetscErrorCode ModelScore(void *vctx, PetscInt n, const PetscReal t[], const PetscReal x[], const PetscReal cond[], PetscReal score[])
{
  ModelScoreCtx *ctx = (ModelScoreCtx *)vctx;
  const Model   *m   = ctx->m;
  const PetscInt nx = m->nx, nc = m->ncond, nin = m->arch.width[0];

  PetscFunctionBeginUser;
  for (PetscInt i0 = 0; i0 < n; i0 += ctx->maxB) {
    const PetscInt B = PetscMin(ctx->maxB, n - i0);
    for (PetscInt i = 0; i < B; i++) {
      float *row = ctx->in + (size_t)i * nin;
      for (PetscInt j = 0; j < nx; j++) row[j] = (float)x[(size_t)(i0 + i) * nx + j];
      for (PetscInt j = 0; j < nc; j++) row[nx + j] = (float)cond[(size_t)(i0 + i) * nc + j];
      /* The samplers step whole batches of particles through the same times: the embedding's
         four trigonometric calls are made once per distinct t, not once per row. */
      if (i > 0 && t[i0 + i] == t[i0 + i - 1]) PetscCall(PetscArraycpy(row + nx + nc, row - nin + nx + nc, DSM_TIME_EMBED));
      else dsm_time_embed(&m->sch, m->par.embed, t[i0 + i], row + nx + nc);
    }
    PetscCall(MlpForward_f(&m->arch, m->params, B, ctx->in, ctx->out, &ctx->w));
    if (m->par.output == DSM_OUTPUT_NOISE) {
      SchedCoef co = {0};
      for (PetscInt i = 0; i < B; i++) {
        if (i == 0 || t[i0 + i] != t[i0 + i - 1]) sched_coef(&m->sch, t[i0 + i], &co); /* as above */
        for (PetscInt j = 0; j < nx; j++) score[(size_t)(i0 + i) * nx + j] = dsm_score(DSM_OUTPUT_NOISE, (PetscReal)ctx->out[(size_t)i * nx + j], co.sigma);
      }
    } else if (m->par.output == DSM_OUTPUT_EDM) {
      SchedCoef  co = {0};
      DsmEdmCoef e  = {0};
      for (PetscInt i = 0; i < B; i++) {
        if (i == 0 || t[i0 + i] != t[i0 + i - 1]) {
          sched_coef(&m->sch, t[i0 + i], &co);
          e = dsm_edm_coef(&m->par, co.m, co.sigma);
        }
        for (PetscInt j = 0; j < nx; j++) {
          const size_t k = (size_t)(i0 + i) * nx + j;
          score[k]       = e.a * (x[k] / e.m - m->par.centre) + e.b * (PetscReal)ctx->out[(size_t)i * nx + j];
        }
      }
    } else
      for (PetscInt k = 0; k < B * nx; k++) score[(size_t)i0 * nx + k] = (PetscReal)ctx->out[k];
  }
  PetscFunctionReturn(0);
}

void ModelScoreModel(ModelScoreCtx *ctx, ScoreModel *sm)
{
  sm->fn       = ModelScore;
  sm->ctx      = ctx;
  sm->dim      = ctx->m->nx;
  sm->cond_dim = ctx->m->ncond;
}
