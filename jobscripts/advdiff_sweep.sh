#!/usr/bin/env bash
# The inverse-problem sweep of Sec. 5.2 on a workstation (mpirun): for every formulation and noise
# level, train a network (pdediff train) and sample the posterior of the test cases (pdediff
# posterior); then the multiple-operator model (-mask_prob 0.7, 4 copies: 36,000 pairs) and the
# figures. The SLURM scripts (issue 6) run the same stages with srun.
#   NP=2 bash jobscripts/advdiff_sweep.sh                       # the paper: ve vp x 6 levels + masks
#   FORMS="vp" LEVELS="0.05" DATA=runs/advdiff/dataset_gauss.h5 OUT=runs/advdiff/gauss \
#     TRAIN_ARGS="-train_epochs 3000" bash jobscripts/advdiff_sweep.sh   # exact-posterior check
# Existing model and posterior files are kept (an interrupted sweep continues; a training run
# stopped by a signal resumes from its checkpoint with -train_restart).
# Settings: inputs/advdiff_train.opts and inputs/advdiff_posterior.opts, plus TRAIN_ARGS/POST_ARGS.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC1091
. "$root/jobscripts/common.sh"
NP=${NP:-2}
FORMS=${FORMS:-"ve vp"}
LEVELS=${LEVELS:-"0 0.01 0.02 0.05 0.1 0.2"}
MASK_FORMS=${MASK_FORMS:-"ve"}
MASK_LEVELS=${MASK_LEVELS:-"$LEVELS"}
DATA=${DATA:-$root/runs/advdiff/dataset.h5}
OUT=${OUT:-$root/runs/advdiff/sweep}
TRAIN_OPTS=${TRAIN_OPTS:-$root/inputs/advdiff_train.opts}
POST_OPTS=${POST_OPTS:-$root/inputs/advdiff_posterior.opts}
PDEDIFF=${PDEDIFF:-$root/build/app/pdediff}
LAUNCH=${LAUNCH:-"mpirun -n $NP --oversubscribe"}
for f in "$TRAIN_OPTS" "$POST_OPTS"; do [ -r "$f" ] || { echo "advdiff_sweep: options file $f not found" >&2; exit 2; }; done
[ -r "$DATA" ] || { echo "advdiff_sweep: data set $DATA not found: make it with pdediff generate -options_file inputs/advdiff_data.opts (or set DATA=...)" >&2; exit 2; }
[ -x "$PDEDIFF" ] || { echo "advdiff_sweep: $PDEDIFF not built (bash jobscripts/quickstart.sh run builds it)" >&2; exit 2; }
for f in $FORMS $MASK_FORMS; do case "$f" in ve|vp) ;; *) echo "advdiff_sweep: unknown formulation '$f': use ve or vp" >&2; exit 2 ;; esac; done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$OUT"
t0=$(date +%s)
cell() { # form level tag extra-train-args
  local form=$1 level=$2 tag=$3; shift 3
  local model="$OUT/$tag.model.h5" post="$OUT/$tag.post.h5"
  # shellcheck disable=SC2086
  pd_once "$NP" "$model" "$OUT/$tag.train.log" "advdiff_sweep: trained $tag" "advdiff_sweep: training $tag failed" \
    $LAUNCH "$PDEDIFF" train -options_file "$TRAIN_OPTS" -train_data "$DATA" -sde_type "$form" -noise_level "$level" \
    -model "$model" -train_restart "$@" ${TRAIN_ARGS:-}
  # shellcheck disable=SC2086
  pd_once "$NP" "$post" "$OUT/$tag.post.log" "advdiff_sweep: sampled $tag" "advdiff_sweep: posterior $tag failed" \
    $LAUNCH "$PDEDIFF" posterior -options_file "$POST_OPTS" -posterior_data "$DATA" -posterior_model "$model" \
    -posterior_output "$post" ${POST_ARGS:-}
  grep -E "^posterior (ode|sde)(:| vs)" "$OUT/$tag.post.log" | grep -v "samples/s" || true
}
for form in $FORMS; do for level in $LEVELS; do cell "$form" "$level" "${form}_$level"; done; done
if [ "${MASKS:-1}" = 1 ]; then
  for form in $MASK_FORMS; do for level in $MASK_LEVELS; do cell "$form" "$level" "${form}_mask_$level" -mask_prob 0.7 -mask_copies 4; done; done
fi
/usr/bin/python3 "$root/postprocess/advdiff_posterior.py" "$OUT/figures" "$OUT"/*.post.h5 > /dev/null
echo "advdiff_sweep: figures and summary.md in $OUT/figures; $(( $(date +%s) - t0 )) s wall on $NP rank(s)"
