#!/usr/bin/env bash
# Table 1 sweep (paper Sec. 5.1): every case x formulation through `pdediff density`, then
# `pdediff table1`. Runs locally with mpirun (the SLURM scripts of issue 6 call it with srun).
#   NP=2 OPTS=inputs/density_paper.opts OUT=runs/table1 bash jobscripts/density_sweep.sh [forms...]
# forms: ve vp xi1 xi4 (default: all four; the paper's table has ve and vp). Cells whose file
# already exists are skipped, so an interrupted sweep continues where it stopped.
# Prints the wall time of every cell and of the whole sweep (the sweep benchmark).
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
mkdir -p "$OUT"
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
t0=$(date +%s)
for f in "${forms[@]}"; do
  for c in tanh bimodal spiral; do
    cell="$OUT/${c}_${f}.h5"
    if [ -e "$cell" ]; then echo "density_sweep: $cell exists, skipped"; continue; fi
    t1=$(date +%s)
    # shellcheck disable=SC2046
    $LAUNCH "$PDEDIFF" density -options_file "$OPTS" -density_case "$c" $(sde_args "$f") \
      -density_dir "$OUT" > "$OUT/${c}_${f}.log" 2>&1 || { echo "density_sweep: cell $c $f failed: see $OUT/${c}_${f}.log" >&2; exit 1; }
    grep "density: cell" "$OUT/${c}_${f}.log" | head -1
    echo "density_sweep: cell $c $f: $(( $(date +%s) - t1 )) s wall on $NP rank(s)"
  done
done
"$PDEDIFF" table1 -table1_dir "$OUT" -table1_formulations "$(IFS=,; echo "${forms[*]}")" | tee "$OUT/table1.txt"
echo "density_sweep: ${#forms[@]} formulation(s) x 3 cases in $(( $(date +%s) - t0 )) s wall on $NP rank(s)"
