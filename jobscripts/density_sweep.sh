#!/usr/bin/env bash
# Table 1 sweep (paper Sec. 5.1): every case x formulation through `pdediff density`, then
# `pdediff table1`. Runs locally with mpirun (the SLURM scripts of issue 6 call it with srun).
#   NP=2 OPTS=inputs/density_paper.opts OUT=runs/table1 bash jobscripts/density_sweep.sh [forms...]
# forms: ve vp xi1 xi4 (default: all four; the paper's table has ve and vp). Cells whose file
# already exists are skipped, so an interrupted sweep continues where it stopped.
# Prints the wall time of every cell and of the whole sweep (the sweep benchmark).
# ARGS: extra pdediff options for every cell, after the options file (e.g. ARGS="-sampler_start tweedie").
# MODEL_DIR: sample the models of an earlier sweep (DIR/CASE_FORM.model.h5, -density_model_in)
#   instead of training; e.g. the tweedie table from the paper-start sweep's models:
#   MODEL_DIR=runs/table1 OUT=runs/tweedie ARGS="-sampler_start tweedie" bash jobscripts/density_sweep.sh ve vp
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NP=${NP:-2}
OPTS=${OPTS:-$root/inputs/density_paper.opts}
OUT=${OUT:-$root/runs/table1}
PDEDIFF=${PDEDIFF:-$root/build/app/pdediff}
LAUNCH=${LAUNCH:-"mpirun -n $NP --oversubscribe"}
forms=("$@"); [ ${#forms[@]} -gt 0 ] || forms=(ve vp xi1 xi4)
[ -r "$OPTS" ] || { echo "density_sweep: options file $OPTS not found (set OPTS=...)" >&2; exit 2; }
[ -x "$PDEDIFF" ] || { echo "density_sweep: $PDEDIFF not built (bash jobscripts/quickstart.sh run builds it)" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
sde_args() {
  case "$1" in
    ve) echo "-sde_type ve" ;;
    vp) echo "-sde_type vp" ;;
    xi*) p=${1#xi}; [[ "$p" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "density_sweep: formulation '$1': use ve, vp or xiP (P a number, e.g. xi4)" >&2; return 2; }
         echo "-sde_type xi -sde_p $p" ;;
    *) echo "density_sweep: unknown formulation '$1': use ve, vp or xiP (e.g. xi1, xi4)" >&2; return 2 ;;
  esac
}
for f in "${forms[@]}"; do sde_args "$f" > /dev/null || exit 2; done
model_args() { # case form: -density_model_in of MODEL_DIR, when set
  [ -n "${MODEL_DIR:-}" ] && echo "-density_model_in $MODEL_DIR/${1}_${2}.model.h5"
  return 0
}
if [ -n "${MODEL_DIR:-}" ]; then # every model must be there before anything runs
  for f in "${forms[@]}"; do for c in tanh bimodal spiral; do
    [ -r "$MODEL_DIR/${c}_${f}.model.h5" ] || { echo "density_sweep: MODEL_DIR=$MODEL_DIR has no ${c}_${f}.model.h5: run that sweep first (without MODEL_DIR) or unset MODEL_DIR to train" >&2; exit 2; }
  done; done
  [ "$(realpath -m "$MODEL_DIR")" != "$(realpath -m "$OUT")" ] || { echo "density_sweep: MODEL_DIR and OUT are both $OUT: the resampled cells would replace the originals; set another OUT" >&2; exit 2; }
fi
mkdir -p "$OUT"
t0=$(date +%s)
for f in "${forms[@]}"; do
  for c in tanh bimodal spiral; do
    cell="$OUT/${c}_${f}.h5"
    if [ -e "$cell" ]; then echo "density_sweep: $cell exists, skipped"; continue; fi
    t1=$(date +%s)
    # shellcheck disable=SC2046
    $LAUNCH "$PDEDIFF" density -options_file "$OPTS" -density_case "$c" $(sde_args "$f") ${ARGS:-} \
      $(model_args "$c" "$f") -density_dir "$OUT" > "$OUT/${c}_${f}.log" 2>&1 || { echo "density_sweep: cell $c $f failed: see $OUT/${c}_${f}.log" >&2; exit 1; }
    grep "density: cell" "$OUT/${c}_${f}.log" | head -1
    echo "density_sweep: cell $c $f: $(( $(date +%s) - t1 )) s wall on $NP rank(s)"
  done
done
"$PDEDIFF" table1 -table1_dir "$OUT" -table1_formulations "$(IFS=,; echo "${forms[*]}")" | tee "$OUT/table1.txt"
echo "density_sweep: ${#forms[@]} formulation(s) x 3 cases in $(( $(date +%s) - t0 )) s wall on $NP rank(s)"
