#!/usr/bin/env bash
# skip_calibrate_cli.sh PDEDIFF WORKDIR: jobscripts/skip_calibrate.sh end to end on a small data set
# (170 x 40 mesh, 500 training rows of which 50 held out, 2 x 64 networks, a few epochs):
#  - both edm models trained on rows 0-449 only, the second with the -net_sigma_skip the first's
#    validation file gave (skip_calibration.py --criterion goal: its net_sigma_skip= line), the
#    validation files on rows 450-499,
#    the test file on the test rows from 500 on;
#  - a rerun trains and samples nothing (files kept); bad FORM, CRITERION, HOLD and data set: exit 2, a message.
set -euo pipefail
pdediff=$(realpath "$1"); work=$2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rm -rf "$work"; mkdir -p "$work"; cd "$work"
fail() { echo "FAIL: $*"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 PDEDIFF=$pdediff
mpirun -n 2 --oversubscribe "$pdediff" generate -fem_nx 170 -fem_ny 40 -generate_n 600 -generate_n_train 500 -generate_fields 0 -generate_mode basis -generate_output data.h5 > gen.log
cat > small.conf <<'CONF'
TRAIN_OPTS=inputs/advdiff_train.opts
POST_OPTS=inputs/advdiff_posterior.opts
TRAIN_ARGS="-net_layers 2 -net_width 64 -train_batch 100 -train_epochs 60 -train_log_interval 1000"
ZERO_ARGS=""
POST_ARGS="-posterior_nsamples 50 -posterior_keep_cases 0 -sampler_dtau 0.01 -sampler_start tweedie"
CONF
run() { CONF=small.conf CRITERION=goal HOLD=50 SS0=0.05 TEST_ARGS="-posterior_ntest 20" bash "$root/jobscripts/skip_calibrate.sh" data.h5 out; }
run > run1.log 2>&1 || { cat run1.log; fail "skip_calibrate.sh on the small data set"; }
for s in "trained vp_0_s1 \(-net_sigma_skip 0.05, rows 0-449\)" "sampled vp_0_s1 \(val\)" "trained vp_0_s2" "sampled vp_0_s2 \(val\)" "sampled vp_0_s2 \(test\)" \
         "validation of s2 \(fixed-point check\): skip_calibration: c = " "^posterior ode:.*coverage" "^posterior sde:.*coverage"; do
  grep -qE -- "$s" run1.log || { cat run1.log; fail "no line /$s/ in the run's output"; }
done
/usr/bin/python3 - <<'PY' || exit 1
import re
import h5py
cal = open("out/vp_0_s1.cal.txt").read()
if "criterion goal" not in cal:
    raise SystemExit(f"FAIL: CRITERION=goal did not reach skip_calibration.py:\n{cal}")
ss = float(re.search(r"^net_sigma_skip=([0-9.e+-]+)$", cal, re.M).group(1))
for tag, want in (("s1", 0.05), ("s2", ss)):
    with h5py.File(f"out/vp_0_{tag}.model.h5") as f:
        got, rows, out = float(f.attrs["net_sigma_skip"]), int(f.attrs["n_train"]), f.attrs["net_output"]
        out = out.decode() if isinstance(out, bytes) else str(out)
    if abs(got - want) > 1e-12 * want or rows != 450 or out != "edm":
        raise SystemExit(f"FAIL: {tag}: net_sigma_skip {got} (want {want}), n_train {rows} (want 450), output {out}")
for name, first, n in (("s1.val", 450, 50), ("s2.val", 450, 50), ("s2.test", 500, 20)):
    with h5py.File(f"out/vp_0_{name}.post.h5") as f:
        if int(f.attrs["first_row"]) != first or f["truth"].shape[0] != n:
            raise SystemExit(f"FAIL: {name}: rows from {int(f.attrs['first_row'])}, {f['truth'].shape[0]} cases; want {first}, {n}")
print(f"ok   skip_calibrate: s1 at sigma_skip 0.05, s2 at the validation's {ss:.4g}; both on rows 0-449, validation 450-499, test 500-519")
PY
run > run2.log 2>&1 || { cat run2.log; fail "the rerun"; }
if grep -qE "skip_calibrate: (trained|sampled)" run2.log; then cat run2.log; fail "the rerun trained or sampled again"; fi
echo "ok   skip_calibrate: a rerun keeps every file"
expect() { # PATTERN env...: skip_calibrate.sh exits 2 with PATTERN
  local pat=$1 rc=0; shift
  env "$@" bash "$root/jobscripts/skip_calibrate.sh" data.h5 bad > bad.log 2>&1 || rc=$?
  [ $rc -eq 2 ] && grep -q -- "$pat" bad.log || { cat bad.log; fail "$*: exit $rc, want 2 and '$pat'"; }
  [ ! -e bad ] || fail "$*: made the output directory"
}
expect "FORM=xx: use ve or vp" FORM=xx CONF=small.conf
expect "CRITERION=xx: use gauss or goal" CRITERION=xx CONF=small.conf
expect "HOLD=500: hold out between 1 and 499 of the 500 training rows" HOLD=500 CONF=small.conf
expect "experiment file CONF=nothere.conf not found" CONF=nothere.conf
if bash "$root/jobscripts/skip_calibrate.sh" nodata.h5 bad > bad.log 2>&1; then fail "accepted a missing data set"; fi
grep -q "data set nodata.h5 not found" bad.log || { cat bad.log; fail "no message for a missing data set"; }
echo "ok   skip_calibrate: bad FORM, CRITERION, HOLD, CONF and data set refused (exit 2), nothing made"
