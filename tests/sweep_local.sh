#!/usr/bin/env bash
# sweep_local.sh PDEDIFF WORKDIR: the job scripts without SLURM (jobscripts/sweep.sh local), as a
# workstation user runs them:
#  - bad input: a missing experiment file, an unknown formulation, a missing options file, a run
#    directory holding another experiment: exit 2, a message naming the file/formulation, nothing run;
#  - a two-cell sweep (VP at 0.02, VP mask model at 0.02) on a small data set through every stage
#    script: data set, models, posterior files, figures, report with both cells, provenance, the
#    compact copies of the posterior files (RUN/archive, HDF5 and text) with the model's attributes;
#  - CELLS="vp_mask_0.02" runs that cell only (an unknown tag is refused, nothing run);
#  - a failing cell (mask probability 1.5): the sweep stops naming the stage, cell and log, the
#    log holds pdediff's error, nothing downstream runs (no posterior file, no report), the
#    failure is recorded in RUN/FAILED; rerun after fixing nothing is lost (finished cells kept).
set -euo pipefail
pdediff=$(realpath "$1"); work=$2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sweep="$root/jobscripts/sweep.sh"
export PDEDIFF=$pdediff
unset SLURM_JOB_ID SLURM_ARRAY_JOB_ID SLURM_ARRAY_TASK_ID
rm -rf "$work"; mkdir -p "$work"; cd "$work"
fail() { echo "FAIL: $*"; exit 1; }

conf() { # NAME [KEY=VALUE ...]: a small experiment; the overrides are appended (the last assignment wins)
  local name=$1; shift
  sed -e 's/^EXPERIMENT=.*/EXPERIMENT=local/' -e 's/^FORMS=.*/FORMS="vp"/' -e 's/^LEVELS=.*/LEVELS="0.02"/' \
      -e 's/^MASK_FORMS=.*/MASK_FORMS="vp"/' -e 's/^MASK_LEVELS=.*/MASK_LEVELS="0.02"/' \
      -e 's/^GENERATE_ARGS=.*/GENERATE_ARGS="-generate_n 200 -generate_n_train 180 -fem_nx 170 -fem_ny 40"/' \
      -e 's/^TRAIN_ARGS=.*/TRAIN_ARGS="-train_rows 180 -train_epochs 30 -train_batch 60 -net_width 64"/' \
      -e 's/^POST_ARGS=.*/POST_ARGS="-posterior_ntest 8 -posterior_nsamples 50 -posterior_mcmc 2 -mcmc_iter 1000 -mcmc_burn 200 -mcmc_min_ess 0 -sampler_dtau 0.01"/' \
      "$root/inputs/sweep_quick.conf" > "$name"
  for kv in "$@"; do echo "$kv" >> "$name"; done
}
expect() { # PATTERN CMD...: non-zero exit and PATTERN in the output
  local pat=$1 out rc=0; shift
  out=$("$@" 2>&1) || rc=$?
  [ $rc -ne 0 ] || fail "'$*' succeeded but should have failed"
  echo "$out" | grep -qE -- "$pat" || { echo "$out"; fail "'$*': output does not match /$pat/"; }
  echo "ok (exit $rc): $(echo "$out" | grep -E -- "$pat" | head -1)"
}

# --- bad input -------------------------------------------------------------------------------
expect "experiment file nosuch.conf not found" bash "$sweep" local nosuch.conf run_bad
conf bad_form.conf 'FORMS="vp vx"'
expect "unknown formulation 'vx'" bash "$sweep" local bad_form.conf run_bad
conf bad_opts.conf 'TRAIN_OPTS=inputs/nosuch.opts'
expect "options file inputs/nosuch.opts not found" bash "$sweep" local bad_opts.conf run_bad
conf bad_level.conf 'LEVELS="0.02 high"'
expect "noise level 'high' is not a number" bash "$sweep" local bad_level.conf run_bad
conf bad_zero.conf 'ZERO_ARGS_VE="-train_epochs 50"'
expect "sets ZERO_ARGS_VE, which names no formulation of FORMS" bash "$sweep" local bad_zero.conf run_bad
[ ! -e run_bad ] || fail "a rejected experiment created its run directory"
expect "not a run directory" bash "$sweep" status nosuch_run
expect "not a run directory" bash "$root/jobscripts/train.sbatch" nosuch_run
# the shipped experiments pass the checks and list their cells (init only: nothing runs)
for e in "paper 18" "recipe 18" "exact 10" "quick 5"; do
  set -- $e
  out=$(bash "$sweep" init "$root/inputs/sweep_$1.conf" "init_$1") || fail "sweep init inputs/sweep_$1.conf failed: $out"
  echo "$out" | grep -q "init_$1: $2 cells" || fail "inputs/sweep_$1.conf: expected $2 cells, got: $out"
  echo "ok: inputs/sweep_$1.conf: $2 cells"
done
# sweep_recipe.conf's ZERO_ARGS go to its noise-free cells only (not the noisy or the mask cells),
# its ZERO_ARGS_VP after them to the VP one only
zero="-train_epochs 18000 -adam_tail_epochs 8000"
for want in "ve_0 ve 0 $zero" "vp_0 vp 0 $zero -net_output edm -net_sigma_skip 0.0062787" "vp_0.01 vp 0.01 " "ve_0.01 ve 0.01 " \
            "ve_mask_0 ve 0 -mask_prob 0.7 -mask_copies 4 -train_epochs 10000"; do
  grep -qxF -- "$want" init_recipe/cells.txt || fail "init_recipe/cells.txt: no line '$want': $(cat init_recipe/cells.txt)"
done
echo "ok: ZERO_ARGS on the noise-free cells of inputs/sweep_recipe.conf only, ZERO_ARGS_VP on its VP one"

# --- a two-cell sweep through every stage ----------------------------------------------------
# the mask cell's own -train_epochs (MASK_ARGS) overrides TRAIN_ARGS's, as sweep_recipe.conf's does
conf ok.conf 'MASK_ARGS="-mask_prob 0.7 -mask_copies 4 -train_epochs 20"'
bash "$sweep" local ok.conf run_ok | tee sweep_ok.log
for f in data/dataset.h5 models/vp_0.02.model.h5 models/vp_mask_0.02.model.h5 posts/vp_0.02.post.h5 \
         posts/vp_mask_0.02.post.h5 figures/figure5_fields.png figures/figure11_vp_mask_0.02.png figures/error_vp.png figures/std_vp_mask.png report.md \
         archive/vp_0.02.post.h5 archive/vp_mask_0.02.post.h5 archive/vp_0.02.post.json archive/vp_mask_0.02.post.json; do
  [ -s "run_ok/$f" ] || fail "run_ok/$f missing"
done
[ "$(cat run_ok/cells.txt | wc -l)" = 2 ] || fail "cells.txt should hold 2 cells"
grep -q "^vp_mask_0.02 vp 0.02 -mask_prob 0.7 -mask_copies 4" run_ok/cells.txt || fail "mask cell line"
cmp -s "$root/inputs/advdiff_quick.opts" run_ok/inputs/advdiff_quick.opts || fail "options file not snapshotted"
/usr/bin/python3 - run_ok "$root/postprocess" <<'EOF'
import sys, h5py
run = sys.argv[1]
sys.path.insert(0, sys.argv[2])
from advdiff_text import open_text
for cell, mask in (("vp_0.02", 0), ("vp_mask_0.02", 1)):
    m = h5py.File(f"{run}/models/{cell}.model.h5", "r")
    p = h5py.File(f"{run}/posts/{cell}.post.h5", "r")
    assert m.attrs["noise_level"] == 0.02 and p.attrs["noise_level"] == 0.02, cell
    assert int(m.attrs["mask"]) == mask and int(p.attrs["mask_input"]) == mask, cell
    assert int(m.attrs["train_epochs"]) == (20 if mask else 30), (cell, int(m.attrs["train_epochs"]))
    for f in (m, p):
        assert f.attrs["code_version"] != b"", "no code version"  # "unknown" outside a git checkout
        assert f.attrs["slurm_job_id"] == b"none", "no SLURM here"
        assert b"-noise_level 0.02" in f.attrs["options"], "options not recorded"
    assert p["ode/posterior_mean"].shape == (8, 30), p["ode/posterior_mean"].shape
    a = h5py.File(f"{run}/archive/{cell}.post.h5", "r")  # the postprocess stage's compact copy
    kept = p["kept_cases"][:]
    assert int(a.attrs["archive_rows"]) == kept.max() + 1 and "samples" not in a["ode"], cell
    assert a["model"].attrs["train_epochs"] == m.attrs["train_epochs"] and a.attrs["options"] == p.attrs["options"], cell
    t, name = open_text(f"{run}/archive/{cell}.post.json")  # and its text form
    assert name == f"{cell}.post.h5" and t["model"].attrs["train_epochs"] == m.attrs["train_epochs"], cell
    assert (t["ode/segment_error"][:] == a["ode/segment_error"][:]).all() and t.attrs["options"] == p.attrs["options"], cell
print("sweep_local: models and posterior files carry the cell's noise level, mask flag and provenance")
EOF
grep -q "^| vp_0.02 | VP | no | 0.02 | ODE" run_ok/report.md || fail "report: no vp_0.02 ODE row"
grep -q "^| vp_mask_0.02 | VP | yes | 0.02 | SDE" run_ok/report.md || fail "report: no mask SDE row"
grep -q "^| vp_0.02 | VP | no | 0.02 | ODE .*| MCMC |" run_ok/report.md || fail "report: the clipped-prior cell has no MCMC reference"
grep -q "!\[error_vp.png\](figures/error_vp.png)" run_ok/report.md || fail "report: figure not embedded"
grep -q "^| posterior | vp_mask_0.02 |" run_ok/report.md || fail "report: no cost row"
# resumable: a second run keeps every file
before=$(md5sum run_ok/posts/*.h5 run_ok/models/*.model.h5)
bash "$sweep" local ok.conf run_ok > sweep_ok2.log
grep -q "exists, kept" run_ok/logs/train-local_0.out || fail "rerun did not keep the trained model"
[ "$(md5sum run_ok/posts/*.h5 run_ok/models/*.model.h5)" = "$before" ] || fail "rerun changed finished results"
# CELLS: a subset of the experiment's cells; an unknown tag is refused before anything runs
expect "CELLS: no cell 'vp_0.05' in this experiment \(its cells: vp_0.02 vp_mask_0.02\)" env CELLS="vp_0.05" bash "$sweep" local ok.conf run_ok
mkdir -p run_sel/data; cp run_ok/data/dataset.h5 run_sel/data/
CELLS="vp_mask_0.02" bash "$sweep" local ok.conf run_sel | tee sweep_sel.log
grep -q "CELLS: 1 of 2 cells (vp_mask_0.02)" sweep_sel.log || fail "CELLS: the selection is not reported"
[ -s run_sel/posts/vp_mask_0.02.post.h5 ] && [ -s run_sel/report.md ] || fail "CELLS: the selected cell was not run through to the report"
[ ! -e run_sel/models/vp_0.02.model.h5 ] && [ ! -e run_sel/logs/train-local_0.out ] || fail "CELLS: a cell that was not selected ran"
grep -q "^| vp_mask_0.02 | VP | yes | 0.02 | ODE" run_sel/report.md && grep -q "^| vp_0.02 | .*| missing: posts/vp_0.02.post.h5 |" run_sel/report.md \
  || fail "CELLS: the report should hold the selected cell and list the other as missing"
conf other.conf 'LEVELS="0.05"'
expect "already holds another experiment" bash "$sweep" local other.conf run_ok

# --- a failing cell stops the sweep; nothing downstream runs ---------------------------------
conf broken.conf 'MASK_ARGS="-mask_prob 1.5"'
mkdir -p run_broken/data; cp run_ok/data/dataset.h5 run_broken/data/
expect "stage train cell 1 \(vp_mask_0.02\) failed \(status 1\): see .*run_broken/logs/train-local_1.out; nothing downstream runs" \
  bash "$sweep" local broken.conf run_broken
grep -q "mask_prob" run_broken/logs/train-local_1.out || fail "the failed cell's log does not hold pdediff's error"
grep -q "train vp_mask_0.02: training failed" run_broken/FAILED || fail "RUN/FAILED does not name the failed cell"
[ -s run_broken/posts/vp_0.02.post.h5 ] || fail "the cell before the failure should be finished"
[ ! -e run_broken/posts/vp_mask_0.02.post.h5 ] && [ ! -e run_broken/report.md ] && [ ! -e run_broken/logs/postprocess-local.out ] \
  || fail "something downstream of the failed training ran"
if ls run_broken/*/*.partial > /dev/null 2>&1; then fail "a .partial file was left behind"; fi
echo "sweep_local: all checks passed"
