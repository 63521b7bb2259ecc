#!/usr/bin/env bash
# A zero-noise edm cell whose -net_sigma_skip is chosen on a validation split, never on the test
# rows (README, "Choosing sigma_skip on a validation split"; postprocess/skip_calibration.py):
#   FORM=vp bash jobscripts/skip_calibrate.sh runs/advdiff/dataset.h5 runs/cal
#   1. train -net_output edm -net_sigma_skip $SS0 at noise 0 on the first n_train - HOLD rows;
#   2. sample the held-out rows n_train - HOLD .. n_train - 1 (ODE): the validation file;
#   3. skip_calibration.py: the scale c whose coverages are nearest a Gaussian's -> sigma_skip c x SS0;
#   4. train again with it on the same rows; 5. sample the validation rows again and run
#      skip_calibration.py on them (the fixed-point check: c near 1); 6. sample the test rows.
# The cell's training and sampling options are those of the experiment file CONF (default
# inputs/sweep_recipe.conf: TRAIN_OPTS, POST_OPTS, TRAIN_ARGS then ZERO_ARGS, POST_ARGS); EXTRA
# adds training options (e.g. the mask cell's "-mask_prob 0.7 -mask_copies 4 -train_epochs 10000").
# Settings: FORM (ve|vp, default vp), HOLD (500), SS0 (0.005), NP (2), SAMPLERS (ode,sde),
# TEST_ARGS (added to the test posterior, e.g. -posterior_ntest 100). Files are kept: a rerun
# continues where the last one stopped.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ $# -eq 2 ] || { sed -n '2,17p' "$0" >&2; exit 2; }
DATA=$1; OUT=$2
FORM=${FORM:-vp}; HOLD=${HOLD:-500}; SS0=${SS0:-0.005}; NP=${NP:-2}; SAMPLERS=${SAMPLERS:-ode,sde}
CONF=${CONF:-$root/inputs/sweep_recipe.conf}
PDEDIFF=${PDEDIFF:-$root/build/app/pdediff}
die() { echo "skip_calibrate: $*" >&2; exit 2; }
case "$FORM" in ve|vp) ;; *) die "FORM=$FORM: use ve or vp" ;; esac
[ -r "$CONF" ] || die "experiment file CONF=$CONF not found (e.g. inputs/sweep_recipe.conf)"
[ -r "$DATA" ] || die "data set $DATA not found: make it with pdediff generate -options_file inputs/advdiff_data.opts"
[ -x "$PDEDIFF" ] || die "$PDEDIFF not built (bash jobscripts/quickstart.sh run builds it)"
TRAIN_ARGS="" ZERO_ARGS="" POST_ARGS=""
# shellcheck disable=SC1090
. "$CONF"
cd_root() { case "$1" in /*) echo "$1" ;; *) echo "$root/$1" ;; esac; }
TRAIN_OPTS=$(cd_root "$TRAIN_OPTS"); POST_OPTS=$(cd_root "$POST_OPTS")
for f in "$TRAIN_OPTS" "$POST_OPTS"; do [ -r "$f" ] || die "options file $f (from $CONF) not found"; done
ntrain=$(/usr/bin/python3 -c "import h5py, sys; print(int(h5py.File(sys.argv[1], 'r').attrs['n_train']))" "$DATA") \
  || die "$DATA: no n_train attribute: not a pdediff generate data set"
rows=$((ntrain - HOLD))
[ "$HOLD" -ge 1 ] && [ "$rows" -ge 1 ] || die "HOLD=$HOLD: hold out between 1 and $((ntrain - 1)) of the $ntrain training rows"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$OUT"
launch() { mpirun -n "$NP" --oversubscribe "$PDEDIFF" "$@"; }

train() { # TAG SKIP
  local model="$OUT/${FORM}_0_$1.model.h5" t1
  [ -e "$model" ] && return 0
  t1=$(date +%s)
  # shellcheck disable=SC2086
  launch train -options_file "$TRAIN_OPTS" -train_data "$DATA" -sde_type "$FORM" -noise_level 0 -model "$model" -train_restart \
    $TRAIN_ARGS $ZERO_ARGS ${EXTRA:-} -net_output edm -net_sigma_skip "$2" -train_rows "$rows" > "$OUT/${FORM}_0_$1.train.log" 2>&1 \
    || { echo "skip_calibrate: training $1 failed: see $OUT/${FORM}_0_$1.train.log" >&2; exit 1; }
  echo "skip_calibrate: trained ${FORM}_0_$1 (-net_sigma_skip $2, rows 0-$((rows - 1))) in $(( $(date +%s) - t1 )) s on $NP rank(s)"
}
sample() { # TAG KIND(val|test) extra posterior options...
  local tag=$1 kind=$2 post="$OUT/${FORM}_0_$1.$2.post.h5" t1; shift 2
  [ -e "$post" ] && return 0
  t1=$(date +%s)
  # shellcheck disable=SC2086
  launch posterior -options_file "$POST_OPTS" -posterior_data "$DATA" -posterior_model "$OUT/${FORM}_0_$tag.model.h5" -posterior_mcmc 0 \
    -posterior_output "$post" $POST_ARGS "$@" > "$OUT/${FORM}_0_$tag.$kind.log" 2>&1 \
    || { echo "skip_calibrate: sampling $tag ($kind) failed: see $OUT/${FORM}_0_$tag.$kind.log" >&2; exit 1; }
  echo "skip_calibrate: sampled ${FORM}_0_$tag ($kind) in $(( $(date +%s) - t1 )) s on $NP rank(s)"
}
calibrate() { # TAG: prints skip_calibration's table; the suggested sigma_skip on stdout's last line
  /usr/bin/python3 "$root/postprocess/skip_calibration.py" "$OUT/${FORM}_0_$1.model.h5" "$OUT/${FORM}_0_$1.val.post.h5" > "$OUT/${FORM}_0_$1.cal.txt" \
    || { cat "$OUT/${FORM}_0_$1.cal.txt" >&2; echo "skip_calibrate: skip_calibration.py failed on $1" >&2; exit 1; }
}
val="-posterior_first $rows -posterior_ntest $HOLD -posterior_samplers ode"

train s1 "$SS0"
sample s1 val $val
calibrate s1
ss=$(sed -n 's/.*train with -net_sigma_skip \([0-9.e+-]*\)$/\1/p' "$OUT/${FORM}_0_s1.cal.txt")
[ -n "$ss" ] || die "no sigma_skip in $OUT/${FORM}_0_s1.cal.txt"
echo "skip_calibrate: validation of s1: $(tail -1 "$OUT/${FORM}_0_s1.cal.txt")"
train s2 "$ss"
sample s2 val $val
calibrate s2
echo "skip_calibrate: validation of s2 (fixed-point check): $(tail -1 "$OUT/${FORM}_0_s2.cal.txt")"
# shellcheck disable=SC2086
sample s2 test -posterior_samplers "$SAMPLERS" ${TEST_ARGS:-}
grep -E "^posterior (ode|sde):.*coverage" "$OUT/${FORM}_0_s2.test.log" || true
