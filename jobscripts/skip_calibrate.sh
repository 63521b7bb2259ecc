#!/usr/bin/env bash
# A zero-noise edm cell whose -net_sigma_skip is chosen on a validation split, never on the test
# rows (README, "Choosing sigma_skip on a validation split"; postprocess/skip_calibration.py):
#   FORM=vp bash jobscripts/skip_calibrate.sh runs/advdiff/dataset.h5 runs/cal
#   1. train -net_output edm -net_sigma_skip $SS0 at noise 0 on the first n_train - HOLD rows;
#   2. sample the held-out rows n_train - HOLD .. n_train - 1 (ODE): the validation file;
#   3. skip_calibration.py --criterion $CRITERION: the scale c whose coverages are nearest a
#      Gaussian's (gauss) or furthest inside the goal's windows (goal) -> sigma_skip c x SS0;
#   4. train again with it on the same rows; 5. sample the validation rows again and run
#      skip_calibration.py on them (the fixed-point check: c near 1); 6. sample the test rows.
# The cell's training and sampling options are those of the experiment file CONF (default
# inputs/sweep_recipe.conf: TRAIN_OPTS, POST_OPTS, TRAIN_ARGS then ZERO_ARGS(_FORM), POST_ARGS); EXTRA
# adds training options (e.g. the mask cell's "-mask_prob 0.7 -mask_copies 4 -train_epochs 10000").
# Settings: FORM (ve|vp, default vp), HOLD (500), SS0 (0.005), CRITERION (gauss|goal, default gauss),
# NP (2), SAMPLERS (ode,sde), TEST_ARGS (added to the test posterior, e.g. -posterior_ntest 100).
# Files are kept: a rerun continues where the last one stopped.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck disable=SC1091
. "$root/jobscripts/common.sh"
[ $# -eq 2 ] || { sed -n '2,18p' "$0" >&2; exit 2; }
DATA=$1; OUT=$2
FORM=${FORM:-vp}; HOLD=${HOLD:-500}; SS0=${SS0:-0.005}; NP=${NP:-2}; SAMPLERS=${SAMPLERS:-ode,sde}; CRITERION=${CRITERION:-gauss}
CONF=${CONF:-$root/inputs/sweep_recipe.conf}
PDEDIFF=${PDEDIFF:-$root/build/app/pdediff}
die() { echo "skip_calibrate: $*" >&2; exit 2; }
case "$FORM" in ve|vp) ;; *) die "FORM=$FORM: use ve or vp" ;; esac
case "$CRITERION" in gauss|goal) ;; *) die "CRITERION=$CRITERION: use gauss or goal" ;; esac
[ -r "$CONF" ] || die "experiment file CONF=$CONF not found (e.g. inputs/sweep_recipe.conf)"
[ -r "$DATA" ] || die "data set $DATA not found: make it with pdediff generate -options_file inputs/advdiff_data.opts"
[ -x "$PDEDIFF" ] || die "$PDEDIFF not built (bash jobscripts/quickstart.sh run builds it)"
TRAIN_ARGS="" ZERO_ARGS="" POST_ARGS=""
# shellcheck disable=SC1090
. "$CONF"
cd_root() { case "$1" in /*) echo "$1" ;; *) echo "$root/$1" ;; esac; }
TRAIN_OPTS=$(cd_root "$TRAIN_OPTS"); POST_OPTS=$(cd_root "$POST_OPTS")
ZERO_ARGS=$(pd_zero_args "$FORM") # as the sweep's noise-free cell of FORM; the edm options below come last
for f in "$TRAIN_OPTS" "$POST_OPTS"; do [ -r "$f" ] || die "options file $f (from $CONF) not found"; done
ntrain=$(/usr/bin/python3 -c "import h5py, sys; print(int(h5py.File(sys.argv[1], 'r').attrs['n_train']))" "$DATA") \
  || die "$DATA: no n_train attribute: not a pdediff generate data set"
rows=$((ntrain - HOLD))
[ "$HOLD" -ge 1 ] && [ "$rows" -ge 1 ] || die "HOLD=$HOLD: hold out between 1 and $((ntrain - 1)) of the $ntrain training rows"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$OUT"
launch() { pd_launch "$NP" "$PDEDIFF" "$@"; } # common.sh: mpirun -n NP here, srun inside an allocation

train() { # TAG SKIP
  local m="${FORM}_0_$1"
  # shellcheck disable=SC2086
  pd_once "$NP" "$OUT/$m.model.h5" "$OUT/$m.train.log" "skip_calibrate: trained $m (-net_sigma_skip $2, rows 0-$((rows - 1)))" \
    "skip_calibrate: training $1 failed" launch train -options_file "$TRAIN_OPTS" -train_data "$DATA" -sde_type "$FORM" -noise_level 0 \
    -model "$OUT/$m.model.h5" -train_restart $TRAIN_ARGS $ZERO_ARGS ${EXTRA:-} -net_output edm -net_sigma_skip "$2" -train_rows "$rows"
}
sample() { # TAG KIND(val|test) extra posterior options...
  local m="${FORM}_0_$1" kind=$2; shift 2
  # shellcheck disable=SC2086
  pd_once "$NP" "$OUT/$m.$kind.post.h5" "$OUT/$m.$kind.log" "skip_calibrate: sampled $m ($kind)" "skip_calibrate: sampling $m ($kind) failed" \
    launch posterior -options_file "$POST_OPTS" -posterior_data "$DATA" -posterior_model "$OUT/$m.model.h5" -posterior_mcmc 0 \
    -posterior_output "$OUT/$m.$kind.post.h5" $POST_ARGS "$@"
}
calibrate() { # TAG: skip_calibration's table and verdict; its last line, net_sigma_skip=VALUE, the suggestion
  /usr/bin/python3 "$root/postprocess/skip_calibration.py" --criterion "$CRITERION" "$OUT/${FORM}_0_$1.model.h5" "$OUT/${FORM}_0_$1.val.post.h5" > "$OUT/${FORM}_0_$1.cal.txt" \
    || { cat "$OUT/${FORM}_0_$1.cal.txt" >&2; echo "skip_calibrate: skip_calibration.py failed on $1" >&2; exit 1; }
}
val="-posterior_first $rows -posterior_ntest $HOLD -posterior_samplers ode"

train s1 "$SS0"
sample s1 val $val
calibrate s1
ss=$(sed -n 's/^net_sigma_skip=//p' "$OUT/${FORM}_0_s1.cal.txt")
[ -n "$ss" ] || die "no net_sigma_skip= line in $OUT/${FORM}_0_s1.cal.txt"
echo "skip_calibrate: validation of s1: $(grep '^skip_calibration: c = ' "$OUT/${FORM}_0_s1.cal.txt")"
train s2 "$ss"
sample s2 val $val
calibrate s2
echo "skip_calibrate: validation of s2 (fixed-point check): $(grep '^skip_calibration: c = ' "$OUT/${FORM}_0_s2.cal.txt")"
# shellcheck disable=SC2086
sample s2 test -posterior_samplers "$SAMPLERS" ${TEST_ARGS:-}
grep -E "^posterior (ode|sde):.*coverage" "$OUT/${FORM}_0_s2.test.log" || true
