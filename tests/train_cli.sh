#!/usr/bin/env bash
# train_cli.sh MODE PDEDIFF MAKE_TRAIN_DATA MPIEXEC DIR: end-to-end checks of 'pdediff train'
# and 'pdediff sample -model' through the real executable at 2 ranks.
#   setup   training files (good, with a NaN row, with a short y, not HDF5) and a trained model
#   resume  straight run vs run stopped by SIGUSR1 (exit 3, checkpoint, no model) + -train_restart:
#           the two models' weights are bitwise equal (h5diff), the model's train_seconds is the
#           sum over both runs (train_seconds_steps says which steps, from an older checkpoint
#           without the time fewer); a real SIGUSR1 sent to mpiexec
#           mid-run stops it the same way, and the checkpoint samples like a model; with
#           -net_time_embed logsigma the model records it and samples, a restart without the
#           option is refused naming it, and an unknown embedding is refused; the same for
#           -net_output noise and edm (edm also: its scales recorded, a restart with another
#           -net_sigma_skip refused, -net_sigma_skip without edm refused); -meas_resample: its first epoch is the fixed set's (bitwise), its
#           later epochs differ, a run stopped mid-epoch resumes bitwise, the model records it and
#           a restart without it is refused naming it
set -u
mode=$1 pde=$2 mk=$3 mpi=$4 dir=$5
run() { "$mpi" -n 2 --oversubscribe "$@"; }
fail() { echo "train_cli $mode: FAIL: $*"; exit 1; }
common="-train_data data.h5 -train_epochs 8 -train_batch 200 -net_width 32 -sde_type vp -train_log_interval 0"
# net_param OPTION VALUE ATTRIBUTE REFUSAL BAD TAG: a run with OPTION VALUE stopped by a signal
# cannot be restarted without the option (the refusal names it), restarts with it, records
# ATTRIBUTE = VALUE in the model, samples; OPTION BAD is refused with no model written.
net_param() {
  local opt=$1 val=$2 attr=$3 why=$4 bad=$5 tag=$6 rc
  rm -f "$tag"*.h5
  run "$pde" train $common $opt $val -model $tag.h5 -train_test_signal_step 30; rc=$?
  [ $rc -eq 3 ] && [ -f $tag.ckpt.h5 ] || fail "$opt $val run stopped by SIGUSR1: exit status $rc, expected 3 and a checkpoint"
  run "$pde" train $common -model $tag.h5 -train_restart > ${tag}_bad.log 2>&1 && fail "a restart without $opt $val (its checkpoint's) ran"
  grep -q -- "$why" ${tag}_bad.log || { cat ${tag}_bad.log; fail "the refused restart does not name $opt"; }
  run "$pde" train $common $opt $val -model $tag.h5 -train_restart > $tag.log 2>&1 || { cat $tag.log; fail "$opt $val restart"; }
  h5dump -a /$attr $tag.h5 | grep -q "\"$val\"" || fail "the model does not record $attr $val"
  run "$pde" sample -model $tag.h5 -cond 0.5 -n_samples 200 -output "" || fail "a $opt $val model does not sample"
  run "$pde" train $common $opt $bad -model ${tag}_x.h5 > ${tag}_x.log 2>&1 && fail "$opt $bad was accepted"
  grep -q -- "${opt#-}" ${tag}_x.log && [ ! -e ${tag}_x.h5 ] || { cat ${tag}_x.log; fail "unknown $opt: no message naming the option, or a model was written"; }
  echo "train_cli resume: $opt $val recorded, checked on restart, sampled"
}
case "$mode" in
setup)
  rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
  run "$mk" -n 2000 -o data.h5 || fail "make_train_data"
  run "$mk" -n 2000 -nan_row 777 -o nan.h5 || fail "make_train_data -nan_row"
  run "$mk" -n 2000 -short_y -o short.h5 || fail "make_train_data -short_y"
  echo "not an HDF5 file" > corrupt.h5
  run "$pde" train $common -model good.h5 || fail "training the reference model"
  [ -f good.h5 ] && [ -f good.ckpt.h5 ] || fail "model or checkpoint missing"
  run "$pde" sample -model good.h5 -cond 0.5 -n_samples 1000 -sampler_type sde -output samples.h5 | tee sample.log
  grep -q "wrote samples.h5" sample.log || fail "sampling the model"
  echo "train_cli setup: ok" ;;
resume)
  cd "$dir" || exit 1
  rm -f straight*.h5 resumed*.h5 usr1*.h5 interrupted*.h5 notime*.h5 longer*.h5
  run "$pde" train $common -model straight.h5 || fail "straight run"
  run "$pde" train $common -model resumed.h5 -train_test_signal_step 30; rc=$?
  [ $rc -eq 3 ] || fail "run stopped by SIGUSR1: exit status $rc, expected 3"
  [ -f resumed.ckpt.h5 ] || fail "no checkpoint after the signal"
  [ ! -e resumed.h5 ] || fail "an interrupted run wrote the model"
  cp resumed.ckpt.h5 interrupted.ckpt.h5 # the restart overwrites it; kept for the time checks
  cp resumed.ckpt.h5 notime.ckpt.h5
  cp resumed.ckpt.h5 longer.ckpt.h5
  run "$pde" train $common -model resumed.h5 -train_restart | tee resume.log
  grep -q "resumed from resumed.ckpt.h5 at step 31" resume.log || fail "did not resume at step 31"
  h5diff straight.h5 resumed.h5 /params /params || fail "weights of straight and interrupted+resumed runs differ"
  echo "train_cli resume: straight and interrupted+resumed weights are bitwise equal"
  # the training time: a checkpoint keeps it, a resumed model records the sum over both runs (a
  # checkpoint that says its 31 steps took 1000 s gives a model of 1000 s + the restart's); a
  # checkpoint without it (written before it was kept) still resumes, and its model says how
  # many steps its time covers
  /usr/bin/python3 -c 'import h5py, sys
with h5py.File(sys.argv[1], "a") as f: del f.attrs["train_seconds"]; del f.attrs["train_seconds_steps"]
with h5py.File(sys.argv[2], "a") as f: f.attrs["train_seconds"] = 1000.0' notime.ckpt.h5 longer.ckpt.h5 || fail "editing the time of a checkpoint"
  run "$pde" train $common -model longer.h5 -train_restart > longer.log 2>&1 || { cat longer.log; fail "restart from longer.ckpt.h5"; }
  run "$pde" train $common -model notime.h5 -train_restart > notime.log 2>&1 || { cat notime.log; fail "restart from a checkpoint that kept no time"; }
  grep -q "does not keep the time of its 31 steps" notime.log || { cat notime.log; fail "no note that the checkpoint kept no time"; }
  this_run=$(sed -n 's/^train: done: [0-9]* steps .* in \([0-9.]*\) s on .*/\1/p' longer.log)
  [ -n "$this_run" ] || fail "the resumed run printed no time"
  THIS_RUN=$this_run /usr/bin/python3 -c '
import h5py, os
c, s, r, n, l = (h5py.File(p, "r").attrs for p in ("interrupted.ckpt.h5", "straight.h5", "resumed.h5", "notime.h5", "longer.h5"))
steps = int(s["train_steps"])
cs, rs = float(c["train_seconds"]), float(r["train_seconds"])
assert int(c["step"]) == 31 and int(c["train_seconds_steps"]) == 31 and cs > 0, "interrupted checkpoint: step %d, %d steps in %g s" % (c["step"], c["train_seconds_steps"], cs)
assert int(s["train_seconds_steps"]) == steps and s["train_seconds"] > 0, "straight model: train_seconds_steps is not train_steps"
assert int(r["train_steps"]) == steps and int(r["train_seconds_steps"]) == steps, "resumed model: %d of %d steps timed" % (r["train_seconds_steps"], steps)
assert rs >= cs, "resumed model: %g s, less than the first run'"'"'s %g s" % (rs, cs)
x, ls = float(os.environ["THIS_RUN"]), float(l["train_seconds"]) # x printed to 0.1 s
assert int(l["train_seconds_steps"]) == steps and abs(ls - (1000 + x)) <= 0.06, "restart from a checkpoint of 1000 s: the model has %g s for %d steps, expected 1000 s + this run'"'"'s %g s for %d" % (ls, l["train_seconds_steps"], x, steps)
assert int(n["train_steps"]) == steps and int(n["train_seconds_steps"]) == steps - 31, "restart without the time: %d steps timed, expected %d" % (n["train_seconds_steps"], steps - 31)
print("train_cli resume: the time is kept over the restart (%.3f s for 31 steps, %.3f s for all %d; from a checkpoint of 1000 s, %.3f s); from a checkpoint without it the model times %d steps" % (cs, rs, steps, ls, steps - 31))
' || fail "training time of the resumed models"
  grep -q "with the runs before the restart: 80 steps in 10[0-9][0-9][.][0-9] s of training" longer.log || { cat longer.log; fail "the resumed run does not print the whole training's time"; }
  net_param -net_time_embed logsigma time_embed "time embedding -net_time_embed paper / logsigma" sigma ls
  net_param -net_output noise net_output "network output -net_output score / noise" eps no
  net_param -net_output edm net_output "network output -net_output score / edm" eps ed
  # edm's scales: recorded; a restart with another -net_sigma_skip refused naming them; the
  # scales without -net_output edm refused naming the option, nothing written
  h5dump -a /net_sigma_skip ed.h5 > ed_attr.txt && h5dump -a /net_sigma_data ed.h5 >> ed_attr.txt && h5dump -a /net_centre ed.h5 >> ed_attr.txt || fail "the edm model does not record net_sigma_skip, net_sigma_data and net_centre"
  run "$pde" train $common -net_output edm -net_sigma_skip 0.01 -model ed.h5 -train_restart > ed_ss.log 2>&1 && fail "a restart with another -net_sigma_skip ran"
  grep -q "edm scales -net_sigma_data" ed_ss.log || { cat ed_ss.log; fail "the refused restart does not name the edm scales"; }
  run "$pde" train $common -net_sigma_skip 0.01 -model ed_y.h5 > ed_y.log 2>&1 && fail "-net_sigma_skip without -net_output edm was accepted"
  grep -q -- "-net_sigma_skip are the scales of -net_output edm" ed_y.log && [ ! -e ed_y.h5 ] || { cat ed_y.log; fail "-net_sigma_skip without edm: no message naming it, or a model was written"; }
  # -meas_resample (2 noisy copies of 2,000 pairs: 20 steps an epoch; the signal at step 30 stops
  # in the middle of epoch 1, so the resumed run must redraw epoch 1's noise before going on)
  rs="-noise_level 0.1 -mask_prob 0.7 -mask_copies 2"
  rm -f rs_*.h5
  run "$pde" train $common $rs -train_epochs 1 -model rs_fix1.h5 > rs.log 2>&1 || { cat rs.log; fail "-train_epochs 1 fixed set"; }
  run "$pde" train $common $rs -train_epochs 1 -meas_resample -model rs_new1.h5 > rs.log 2>&1 || { cat rs.log; fail "-train_epochs 1 -meas_resample"; }
  h5diff rs_fix1.h5 rs_new1.h5 /params /params || fail "-meas_resample changed the first epoch (it must be the fixed set's)"
  run "$pde" train $common $rs -model rs_fix.h5 > rs.log 2>&1 || { cat rs.log; fail "fixed set, 8 epochs"; }
  run "$pde" train $common $rs -meas_resample -model rs_straight.h5 > rs.log 2>&1 || { cat rs.log; fail "-meas_resample straight run"; }
  grep -q "noise and masks drawn afresh every epoch" rs.log || { cat rs.log; fail "-meas_resample not reported"; }
  h5diff -q rs_fix.h5 rs_straight.h5 /params /params > /dev/null; [ $? -eq 1 ] || fail "-meas_resample gave the fixed set's weights after 8 epochs (or h5diff failed)"
  run "$pde" train $common $rs -meas_resample -model rs_resumed.h5 -train_test_signal_step 30 > rs.log 2>&1; rc=$?
  [ $rc -eq 3 ] || { cat rs.log; fail "-meas_resample run stopped by SIGUSR1: exit status $rc, expected 3"; }
  run "$pde" train $common $rs -meas_resample -model rs_resumed.h5 -train_restart > rs.log 2>&1 || { cat rs.log; fail "-meas_resample restart"; }
  grep -q "resumed from rs_resumed.ckpt.h5 at step 31" rs.log || { cat rs.log; fail "-meas_resample did not resume at step 31"; }
  h5diff rs_straight.h5 rs_resumed.h5 /params /params || fail "-meas_resample: straight and interrupted+resumed weights differ"
  h5dump -a /meas_resample rs_straight.h5 | grep -q "(0): 1" || fail "the model does not record meas_resample 1"
  run "$pde" train $common $rs -train_epochs 9 -model rs_straight.h5 -train_restart > rs.log 2>&1 && fail "a restart without -meas_resample (its checkpoint's) ran"
  grep -q -- "-meas_resample 0 / 1" rs.log || { cat rs.log; fail "the refused restart does not name -meas_resample"; }
  run "$pde" train $common -meas_resample -model rs_x.h5 > rs.log 2>&1 && fail "-meas_resample without noise or masks was accepted"
  grep -q -- "-meas_resample redraws the measurement noise and masks, but this run has neither" rs.log && [ ! -e rs_x.h5 ] || { cat rs.log; fail "-meas_resample without noise or masks: no message naming it, or a model was written"; }
  echo "train_cli resume: -meas_resample: epoch 0 = fixed set, later epochs redrawn, bitwise resume mid-epoch, recorded, checked on restart"
  # a real signal from outside, as SLURM's --signal=USR1@... sends it (mpiexec forwards SIGUSR1)
  "$mpi" -n 2 --oversubscribe "$pde" train -train_data data.h5 -train_epochs 1000000 -train_batch 200 -net_width 32 -model usr1.h5 -train_log_interval 0.2 > usr1.log 2>&1 &
  pid=$!
  trap 'kill -9 $pid 2>/dev/null; pkill -9 -f "model usr1.h5" 2>/dev/null' EXIT # never leave the run behind
  for i in $(seq 1 300); do grep -q "samples/s" usr1.log && break; sleep 0.1; done
  kill -USR1 $pid
  wait $pid; rc=$?
  cat usr1.log | grep -v "^---\|^ \|^$\|Primary\|mpiexec\|Per user\|job\|Process\|Exit"
  [ $rc -eq 3 ] || fail "SIGUSR1 to mpiexec: exit status $rc, expected 3"
  [ -f usr1.ckpt.h5 ] && [ ! -e usr1.h5 ] || fail "SIGUSR1: expected a checkpoint and no model"
  run "$pde" sample -model usr1.ckpt.h5 -cond 0 -n_samples 200 -output "" || fail "the checkpoint does not sample as a model"
  echo "train_cli resume: ok" ;;
*) fail "unknown mode" ;;
esac
