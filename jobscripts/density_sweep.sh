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
# CASES: the cases to run (default "tanh bimodal spiral"), e.g. the spiral alone with its own
#   start: CASES=spiral ARGS="-net_width 256 -train_ema 0.999 -train_t_power 3" (the README's
#   Table 1 configuration runs tanh and bimodal with -sampler_start tweedie, the spiral without);
#   table1 shows the cases not run as "-".
# SEEDS: replicate the whole table over seeds (the paper reports one run per cell; a cell's spread
#   over seeds, +-20% on the spiral, is larger than some gaps to it): seed s runs every cell with
#   -net_seed s -train_seed s into OUT/seed<s> (models from MODEL_DIR/seed<s> with MODEL_DIR), and
#   table1 prints each cell's mean over the seeds with its standard error and the number of runs
#   at or below the paper's value, e.g. SEEDS="0 1 2 3 4 5 6" OUT=runs/table1_seeds ... ve vp
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
read -r -a cases <<< "${CASES:-tanh bimodal spiral}"
[ ${#cases[@]} -gt 0 ] || { echo "density_sweep: CASES is empty: name one or more of tanh bimodal spiral" >&2; exit 2; }
for c in "${cases[@]}"; do
  case "$c" in tanh|bimodal|spiral) ;; *) echo "density_sweep: CASES='${CASES:-}': unknown case '$c' (the cases are tanh, bimodal, spiral)" >&2; exit 2 ;; esac
done
SEEDS=${SEEDS:-}
if [ -n "$SEEDS" ]; then
  for sd in $SEEDS; do [[ "$sd" =~ ^[0-9]+$ ]] || { echo "density_sweep: SEEDS='$SEEDS': '$sd' is not a non-negative integer (e.g. SEEDS=\"0 1 2\")" >&2; exit 2; }; done
  case " ${ARGS:-} " in *" -net_seed "*|*" -train_seed "*) echo "density_sweep: ARGS sets -net_seed or -train_seed, which SEEDS sets per run: drop them from ARGS" >&2; exit 2 ;; esac
fi
runs=() # (output dir, model dir, seed options) per replicate of the table
if [ -n "$SEEDS" ]; then
  for sd in $SEEDS; do runs+=("$OUT/seed$sd|${MODEL_DIR:+$MODEL_DIR/seed$sd}|-net_seed $sd -train_seed $sd"); done
else
  runs+=("$OUT|${MODEL_DIR:-}|")
fi
if [ -n "${MODEL_DIR:-}" ]; then # every model must be there before anything runs
  for r in "${runs[@]}"; do IFS='|' read -r o m x <<< "$r"
    for f in "${forms[@]}"; do for c in "${cases[@]}"; do
      [ -r "$m/${c}_${f}.model.h5" ] || { echo "density_sweep: MODEL_DIR=$m has no ${c}_${f}.model.h5: run that sweep first (without MODEL_DIR) or unset MODEL_DIR to train" >&2; exit 2; }
    done; done
  done
  [ "$(realpath -m "$MODEL_DIR")" != "$(realpath -m "$OUT")" ] || { echo "density_sweep: MODEL_DIR and OUT are both $OUT: the resampled cells would replace the originals; set another OUT" >&2; exit 2; }
fi
t0=$(date +%s)
dirs=()
for r in "${runs[@]}"; do IFS='|' read -r o m x <<< "$r"
  mkdir -p "$o"
  dirs+=("$o")
  for f in "${forms[@]}"; do
    for c in "${cases[@]}"; do
      cell="$o/${c}_${f}.h5"
      if [ -e "$cell" ]; then echo "density_sweep: $cell exists, skipped"; continue; fi
      t1=$(date +%s)
      margs=""; [ -n "$m" ] && margs="-density_model_in $m/${c}_${f}.model.h5"
      # shellcheck disable=SC2046,SC2086
      $LAUNCH "$PDEDIFF" density -options_file "$OPTS" -density_case "$c" $(sde_args "$f") ${ARGS:-} $x \
        $margs -density_dir "$o" > "$o/${c}_${f}.log" 2>&1 || { echo "density_sweep: cell $c $f failed: see $o/${c}_${f}.log" >&2; exit 1; }
      grep "density: cell" "$o/${c}_${f}.log" | head -1
      echo "density_sweep: cell $c $f${x:+ ($x)}: $(( $(date +%s) - t1 )) s wall on $NP rank(s)"
    done
  done
done
"$PDEDIFF" table1 -table1_dir "$(IFS=,; echo "${dirs[*]}")" -table1_formulations "$(IFS=,; echo "${forms[*]}")" -table1_csv "$OUT/table1.csv" | tee "$OUT/table1.txt"
echo "density_sweep: ${#forms[@]} formulation(s) x ${#cases[@]} case(s)${SEEDS:+ x seeds $SEEDS} in $(( $(date +%s) - t0 )) s wall on $NP rank(s)"
