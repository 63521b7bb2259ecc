#!/usr/bin/env bash
# post_cli.sh PDEDIFF MPIEXEC NP WORKDIR: the inverse problem end to end through the real
# executable on a 170 x 40 mesh (quick: 600 pairs, a few hundred training steps):
#  - generate (clipped and unclipped priors) -> train with noise -> posterior at 1 and NP ranks;
#  - the posterior file: truth and clean values are the data set's test rows, the measurement noise
#    has the recorded sigma = level x range, per-case and per-segment metrics recomputed here from
#    the stored means, stds and truth; results identical at 1 and NP ranks (same model);
#  - the trained network conditions on y: its posterior-mean error is below the prior mean's; so
#    does one trained with -net_output edm, sampled from the tweedie start by both samplers;
#  - unclipped prior: the exact Gaussian posterior equals numpy's closed form;
#  - mask model (-mask_prob 0.7): masks stored, about 70% of sensors on, a fixed -posterior_mask;
#    on the unclipped prior the exact posterior of each case on its sensors equals numpy's; on the
#    clipped prior the MCMC reference conditions on each case's sensors (checked against row zeroing).
set -euo pipefail
pdediff=$1; mpiexec=$2; np=$3; work=$4
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rm -rf "$work"; mkdir -p "$work"; cd "$work"
mesh="-fem_nx 170 -fem_ny 40"
run() { "$mpiexec" -n "$1" --oversubscribe "$pdediff" "${@:2}"; }
run "$np" generate $mesh -generate_n 600 -generate_n_train 500 -generate_fields 500,501 -generate_mode basis -generate_output data.h5 > gen.log
run "$np" generate $mesh -generate_n 600 -generate_n_train 500 -generate_fields 0 -generate_mode basis -gp_clip false -generate_output gauss.h5 > gen_gauss.log
net="-net_layers 2 -net_width 64 -train_batch 100 -train_log_interval 1000 -sde_type vp"
run "$np" train -train_data data.h5 -train_x x -train_y y_clean -train_rows 500 $net -train_epochs 150 -noise_level 0.02 -noise_seed 3 -model m.h5 > train.log
run "$np" train -train_data data.h5 -train_x x -train_y y_clean -train_rows 500 $net -train_epochs 1 -noise_level 0.02 -noise_seed 3 -model m0.h5 > train0.log
run "$np" train -train_data data.h5 -train_x x -train_y y_clean -train_rows 500 $net -train_epochs 150 -noise_level 0.02 -noise_seed 3 -net_output edm -model e.h5 > train_e.log
run "$np" train -train_data gauss.h5 -train_x x -train_y y_clean -train_rows 500 $net -train_epochs 150 -noise_level 0.05 -model g.h5 > train_g.log
run "$np" train -train_data data.h5 -train_x x -train_y y_clean -train_rows 500 $net -train_epochs 40 -noise_level 0.02 -mask_prob 0.7 -mask_copies 2 -model mask.h5 > train_mask.log
grep -q "1000 pairs" train_mask.log || { echo "FAIL: -mask_copies 2 should train on 1000 pairs"; cat train_mask.log; exit 1; }
post="-posterior_nsamples 100 -posterior_keep_cases 0,5,99 -sampler_dtau 0.01"
run 1 posterior -posterior_model m.h5 -posterior_data data.h5 $post -posterior_mcmc 12 -mcmc_iter 4000 -mcmc_burn 500 -mcmc_min_ess 100 -posterior_output p1.h5 > p1.log
run "$np" posterior -posterior_model m.h5 -posterior_data data.h5 $post -posterior_mcmc 12 -mcmc_iter 4000 -mcmc_burn 500 -mcmc_min_ess 100 -posterior_output pN.h5 -posterior_case_batch 7 -posterior_log_interval 1e-9 > pN.log
grep -qE "^posterior ode: 7 of [0-9]+ cases on rank 0 in [0-9]+ s, [0-9.]+ samples/s per rank, ETA [0-9]+ s" pN.log \
  || { echo "FAIL: no progress line after the first batch of 7 cases (-posterior_log_interval)"; cat pN.log; exit 1; }
run "$np" posterior -posterior_model m0.h5 -posterior_data data.h5 $post -posterior_samplers sde -posterior_mcmc 0 -posterior_output p0.h5 > p0.log
run "$np" posterior -posterior_model e.h5 -posterior_data data.h5 $post -posterior_mcmc 0 -sampler_start tweedie -posterior_output pe.h5 > pe.log
run "$np" posterior -posterior_model g.h5 -posterior_data gauss.h5 $post -posterior_output pg.h5 > pg.log
mc="-mcmc_iter 4000 -mcmc_burn 500 -mcmc_min_ess 100"
run "$np" posterior -posterior_model mask.h5 -posterior_data data.h5 $post -posterior_ntest 40 -posterior_keep_cases 0,1 -posterior_samplers sde -posterior_mcmc 6 $mc -posterior_output pm.h5 > pm.log
run "$np" posterior -posterior_model mask.h5 -posterior_data data.h5 $post -posterior_ntest 10 -posterior_keep_cases 0,1 -posterior_samplers sde -posterior_mcmc 0 -posterior_mask "$(/usr/bin/python3 -c "print(','.join(['1','0']*15))")" -posterior_output pf.h5 > pf.log
# The MCMC reference of a mask model conditions on each case's sensors. With every sensor on it is
# the unmasked reference (p1.h5: same data, noise seed and chains); with sensors 2, 5, 8, ... off it
# is, in law, the unmasked reference on a copy of the data set whose H has those rows zeroed (their
# residual no longer depends on the flux).
qm="-posterior_nsamples 10 -posterior_keep_cases 0 -posterior_samplers sde -noise_seed 3 -posterior_mcmc 12 $mc"
run "$np" posterior -posterior_model mask.h5 -posterior_data data.h5 $qm -posterior_ntest 12 -posterior_mask "$(/usr/bin/python3 -c "print(','.join(['1']*30))")" -posterior_output pma.h5 > pma.log
run "$np" posterior -posterior_model mask.h5 -posterior_data data.h5 $qm -posterior_ntest 12 -posterior_mask "$(/usr/bin/python3 -c "print(','.join(['1','1','0']*10))")" -posterior_output pmz.h5 > pmz.log
grep -q "posterior MCMC (each case on its sensors): 12 cases" pmz.log || { echo "FAIL: no MCMC reference for the mask model"; cat pmz.log; exit 1; }
# the mask model trained on 2 copies of rows 0-499 (n_train 1000 pairs): the test rows from 500 are not training pairs
if grep -q "WARNING: -posterior_first" pm.log; then echo "FAIL: a mask model's copies counted as training rows"; cat pm.log; exit 1; fi
/usr/bin/python3 -c "
import h5py, shutil
shutil.copy('data.h5', 'dz.h5')
with h5py.File('dz.h5', 'r+') as f:
    f['H'][2::3, :] = 0"
run "$np" posterior -posterior_model m.h5 -posterior_data dz.h5 $qm -posterior_ntest 12 -posterior_output pz.h5 > pz.log
# the mask model on the unclipped prior: an exact posterior per case on the sensors that are on
run "$np" posterior -posterior_model mask.h5 -posterior_data gauss.h5 $post -posterior_ntest 8 -posterior_keep_cases 0 -posterior_samplers sde -posterior_output pgm.h5 > pgm.log
run 1 posterior -posterior_model mask.h5 -posterior_data gauss.h5 $post -posterior_ntest 4 -posterior_keep_cases 0 -posterior_samplers sde -posterior_mask "$(/usr/bin/python3 -c "print(','.join(['0','1','1']*10))")" -posterior_output pgf.h5 > pgf.log
grep -q "posterior exact: Gaussian posterior by ScaLAPACK on each case's sensors" pgm.log || { echo "FAIL: no exact posterior for the mask model on the unclipped prior"; cat pgm.log; exit 1; }
run 1 posterior -posterior_model m.h5 -posterior_data data.h5 $post -posterior_ntest 10 -posterior_keep_cases 0 -noise_level 0.05 -posterior_samplers ode -posterior_output pw.h5 > pw.log
grep -q "WARNING: the model m.h5 was trained at noise level 0.02" pw.log || { echo "FAIL: no warning for a noise level the model was not trained for"; cat pw.log; exit 1; }
grep -q "posterior exact: Gaussian posterior by ScaLAPACK" pg.log || { echo "FAIL: no exact posterior for the unclipped prior"; cat pg.log; exit 1; }
cat pN.log pg.log
if ls ./*.partial > /dev/null 2>&1; then echo "FAIL: a .partial file was left behind"; exit 1; fi

# Measurements from a text file (no truth: no metrics), then bad input: each run fails with a
# message naming the option or file and the fix, and leaves no output file.
/usr/bin/python3 -c "
import h5py
y = h5py.File('p1.h5')['measurement'][:2]
open('meas.txt', 'w').write('\n'.join(' '.join('%.17g' % v for v in r) for r in y) + '\n')
open('meas29.txt', 'w').write(' '.join('%.17g' % v for v in y[0][:29]) + '\n')"
run "$np" posterior -posterior_model m.h5 -posterior_measurements meas.txt -posterior_nsamples 50 -posterior_keep_cases 1 -posterior_samplers ode -posterior_output pt.h5 > pt.log
/usr/bin/python3 -c "
import h5py, numpy as np, sys
f = h5py.File('pt.h5')
ok = f['ode/posterior_mean'].shape == (2, 30) and 'truth' not in f and np.array_equal(f['measurement'][:], h5py.File('p1.h5')['measurement'][:2])
print(('ok   ' if ok else 'FAIL ') + '-posterior_measurements: 2 cases from a text file sampled, measurements stored, no truth')
sys.exit(0 if ok else 1)"
# one measurement and the default kept cases (the first 3, here only 1 exists)
head -1 meas.txt > meas1.txt
run "$np" posterior -posterior_model m.h5 -posterior_measurements meas1.txt -posterior_nsamples 50 -posterior_samplers ode -posterior_output p1line.h5 > p1line.log
/usr/bin/python3 -c "
import h5py, sys
f = h5py.File('p1line.h5')
ok = list(f['kept_cases'][:]) == [0] and f['ode/samples'].shape == (50, 30) and f.attrs['first_row'] == -1
print(('ok   ' if ok else 'FAIL ') + 'one measurement from a file: the default kept cases shrink to the one case; first_row -1')
sys.exit(0 if ok else 1)"
bad() {
  local pat=$1; shift
  rm -f bad.h5 bad.h5.partial
  if run "$np" posterior "$@" -posterior_output bad.h5 > bad.log 2>&1; then echo "FAIL: succeeded: $*"; exit 1; fi
  grep -qE -- "$pat" bad.log || { echo "FAIL: message /$pat/ not found for: $*"; cat bad.log; exit 1; }
  [ ! -e bad.h5 ] && [ ! -e bad.h5.partial ] || { echo "FAIL: output left behind by: $*"; exit 1; }
  echo "ok   bad input refused: $*"
}
# resuming training at another noise level is refused (the checkpoint records its measurement model)
cp m.h5 m_before.h5
if run "$np" train -train_data data.h5 -train_x x -train_y y_clean -train_rows 500 $net -train_epochs 160 -noise_level 0.05 -noise_seed 3 -model m.h5 -train_restart > bad_train.log 2>&1; then echo "FAIL: resuming at another noise level succeeded"; exit 1; fi
grep -q "measurement model (noise level" bad_train.log && cmp -s m.h5 m_before.h5 || { echo "FAIL: no clear refusal of a checkpoint at another noise level, or the model changed"; cat bad_train.log; exit 1; }
echo "ok   bad input refused: -train_restart from a checkpoint trained at another -noise_level (model unchanged)"
bad "meas29.txt, line 1: 29 values, but the model m.h5 takes measurements of n_y = 30 sensors" -posterior_model m.h5 -posterior_measurements meas29.txt
bad "-posterior_mask has no sensor on" -posterior_model mask.h5 -posterior_data data.h5 -posterior_mask "$(/usr/bin/python3 -c "print(','.join(['0']*30))")"
bad "-posterior_mask given but the model m.h5 takes no mask input" -posterior_model m.h5 -posterior_data data.h5 -posterior_mask "$(/usr/bin/python3 -c "print(','.join(['1']*30))")"
bad "-posterior_exact yes needs a data set with the unclipped Gaussian prior .*clipped prior" -posterior_model m.h5 -posterior_data data.h5 -posterior_exact yes
bad "Give exactly one of -posterior_data .* and -posterior_measurements" -posterior_model m.h5
bad "not a pdediff model" -posterior_model data.h5 -posterior_data data.h5
bad "-posterior_log_interval -1\.?: must be >= 0 seconds" -posterior_model m.h5 -posterior_data data.h5 -posterior_log_interval -1
bad "-posterior_checkpoint bad.h5 is also the -posterior_output" -posterior_model m.h5 -posterior_data data.h5 -posterior_checkpoint bad.h5
bad "-posterior_checkpoint_interval -5\.?: must be >= 0" -posterior_model m.h5 -posterior_data data.h5 -posterior_checkpoint ck.h5 -posterior_checkpoint_interval -5
bad "-posterior_sync_interval 100\.?: must be within 0 \.\. 90 seconds" -posterior_model m.h5 -posterior_data data.h5 -posterior_checkpoint ck.h5 -posterior_sync_interval 100

# Stop and resume (-posterior_checkpoint; -posterior_sync_interval 0: the ranks agree on signals
# after every batch, so a run stops after a known batch): SIGUSR1 after the 3rd batch of 7 cases stops the run with
# exit status 3, the checkpoint and no output; the same command resumes it (and is stopped again,
# after its 2nd batch), a third run finishes it and removes the checkpoint. At the same rank count
# the batches are the uninterrupted run's, so every dataset equals that run's bit for bit (every
# draw is keyed by case and sample). Resuming at another rank count gives the bits of a run at that
# count (batches of one case, so that the network's single-precision GEMMs see the same rows; the
# per-segment sums follow the final run's ranks). A checkpoint of another run (other samples per
# case) is refused and kept intact.
other=$(( np == 1 ? 2 : 1 ))
rs="-posterior_model m.h5 -posterior_data data.h5 -posterior_nsamples 100 -posterior_keep_cases 0,25,39 -sampler_dtau 0.01 -posterior_ntest 40 -posterior_mcmc 0 -posterior_sync_interval 0"
stopped() { # STATUS LOG: ran with status 3, left the checkpoint and no output
  [ "$1" -eq 3 ] && [ -s ck.h5 ] && [ ! -e pr.h5 ] && [ ! -e pr.h5.partial ] \
    && grep -qE "posterior: interrupted by SIGTERM/SIGUSR1; checkpoint ck.h5 holds ode [0-9]+ of 40 cases, sde [0-9]+ of 40 cases; pr.h5 not written" "$2" \
    || { echo "FAIL: a signalled posterior run should exit 3 with its checkpoint and no output (status $1)"; cat "$2"; exit 1; }
}
resumed() { # LOG
  grep -qE "resuming from the checkpoint ck.h5: ode [1-9][0-9]* of 40 cases done, sde [0-9]+ of 40 cases done" "$1" || { echo "FAIL: no resume"; cat "$1"; exit 1; }
}
same() { # REF OUT WHAT: every dataset and the evaluation counts equal
  /usr/bin/python3 - "$@" <<'PY' || exit 1
import h5py, numpy as np, sys
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = []
a.visit(lambda n: names.append(n) if isinstance(a[n], h5py.Dataset) else None)
diff = [n for n in names if n not in b or not np.array_equal(a[n][()], b[n][()])]
evals = all(a[s].attrs["score_evaluations"] == b[s].attrs["score_evaluations"] for s in ("ode", "sde"))
if diff or not evals or len(names) < 10:
    raise SystemExit(f"FAIL: {sys.argv[3]}: the posterior differs from the uninterrupted run in {diff or 'its evaluation counts'}")
print(f"ok   {sys.argv[3]}: all {len(names)} datasets and the evaluation counts equal the uninterrupted run's, bit for bit")
PY
}
run "$np" posterior $rs -posterior_case_batch 7 -posterior_output pr_ref.h5 > pr_ref.log
rm -f ck.h5 pr.h5; st=0
run "$np" posterior $rs -posterior_case_batch 7 -posterior_checkpoint ck.h5 -posterior_test_signal_batch 3 -posterior_output pr.h5 > pr1.log 2>&1 || st=$?
stopped $st pr1.log
cp ck.h5 ck_saved.h5
rm -f bad.h5; st=0
run "$np" posterior $rs -posterior_case_batch 7 -posterior_nsamples 50 -posterior_checkpoint ck.h5 -posterior_output bad.h5 > bad.log 2>&1 || st=$?
[ $st -ne 0 ] && [ $st -ne 3 ] && grep -q "posterior_checkpoint ck.h5 belongs to another run (it has 40 test cases x 100 samples, samplers ode,sde; this run 40 x 50" bad.log \
  && cmp -s ck.h5 ck_saved.h5 && [ ! -e bad.h5 ] || { echo "FAIL: a checkpoint of another run should be refused with the fix, and kept (status $st)"; cat bad.log; exit 1; }
echo "ok   bad input refused: -posterior_checkpoint of another run (other -posterior_nsamples); checkpoint kept"
st=0
run "$np" posterior $rs -posterior_case_batch 7 -posterior_checkpoint ck.h5 -posterior_test_signal_batch 2 -posterior_output pr.h5 > pr2.log 2>&1 || st=$?
resumed pr2.log
stopped $st pr2.log
run "$np" posterior $rs -posterior_case_batch 7 -posterior_checkpoint ck.h5 -posterior_output pr.h5 > pr3.log
resumed pr3.log
[ -s pr.h5 ] && [ ! -e ck.h5 ] || { echo "FAIL: the third run should write pr.h5 and remove the checkpoint"; cat pr3.log; exit 1; }
same pr_ref.h5 pr.h5 "stopped twice and resumed at $np rank(s)"
run "$other" posterior $rs -posterior_case_batch 1 -posterior_output pr1_ref.h5 > pr1_ref.log
rm -f pr.h5; st=0
run "$np" posterior $rs -posterior_case_batch 1 -posterior_checkpoint ck.h5 -posterior_test_signal_batch 9 -posterior_output pr.h5 > pr4.log 2>&1 || st=$?
stopped $st pr4.log
run "$other" posterior $rs -posterior_case_batch 1 -posterior_checkpoint ck.h5 -posterior_output pr.h5 > pr5.log
resumed pr5.log
same pr1_ref.h5 pr.h5 "stopped at $np rank(s), resumed at $other"

# -sampler_start mean: the model records the training-set mean of the normalised x; a model file
# without it (written before it was recorded) is refused with the fix
run 1 posterior -posterior_model m.h5 -posterior_data data.h5 -posterior_ntest 4 -posterior_nsamples 20 -posterior_keep_cases 0 -posterior_samplers ode -posterior_mcmc 0 -sampler_start mean -posterior_output ps.h5 > ps.log
/usr/bin/python3 -c "
import h5py, numpy as np, sys
m, d, p = h5py.File('m.h5'), h5py.File('data.h5'), h5py.File('ps.h5')
lo, hi = m['x_lo'][:], m['x_hi'][:]
x = d['x'][:500].astype(np.float32).astype(np.float64)
ok = np.allclose(m['x_mean'][:], (x.mean(axis=0) - lo) / (hi - lo), rtol=1e-6, atol=1e-9) and (lambda v: v.decode() if isinstance(v, bytes) else str(v))(p.attrs['sampler_start']) == 'mean' and np.isfinite(p['ode/posterior_mean'][:]).all()
print(('ok   ' if ok else 'FAIL ') + 'model x_mean = training-set mean of the normalised x (mean %.3f); -sampler_start mean samples' % m['x_mean'][:].mean())
sys.exit(0 if ok else 1)"
# -sampler_denoise: the same samples moved by the final Tweedie step sigma(eps)^2 s / m(eps), which
# for this VP model (sigma(eps) ~ 1e-4) is small but not zero; the file records the setting
run 1 posterior -posterior_model m.h5 -posterior_data data.h5 -posterior_ntest 4 -posterior_nsamples 20 -posterior_keep_cases 0 -posterior_samplers ode -posterior_mcmc 0 -sampler_start mean -sampler_denoise -posterior_output psd.h5 > psd.log
/usr/bin/python3 -c "
import h5py, numpy as np, sys
m, a, b = h5py.File('m.h5'), h5py.File('ps.h5'), h5py.File('psd.h5')
d = np.abs(b['ode/samples'][:] - a['ode/samples'][:]) / (m['x_hi'][:] - m['x_lo'][:])
ok = a.attrs['sampler_denoise'] == 0 and b.attrs['sampler_denoise'] == 1 and 0 < d.max() < 1e-2
print(('ok   ' if ok else 'FAIL ') + '-sampler_denoise recorded; moves the samples by at most %.2e of the range (VP: sigma(eps) ~ 1e-4)' % d.max())
sys.exit(0 if ok else 1)"
/usr/bin/python3 -c "
import h5py, shutil
shutil.copy('m.h5', 'm_old.h5')
del h5py.File('m_old.h5', 'r+')['x_mean']"
bad "-sampler_start mean: model m_old.h5 has no training-set mean of x .*retrain it, or use -sampler_start zero" -posterior_model m_old.h5 -posterior_data data.h5 -sampler_start mean

/usr/bin/python3 - "$np" <<'PY'
import sys, h5py, numpy as np
fail = 0
def check(ok, msg):
    global fail
    print(("ok   " if ok else "FAIL ") + msg)
    fail += (not ok)
d = h5py.File("data.h5"); g = h5py.File("gauss.h5")
p1, pN, p0, pg = (h5py.File(f) for f in ("p1.h5", "pN.h5", "p0.h5", "pg.h5"))
x, y = d["x"][:], d["y_clean"][:]
truth = p1["truth"][:]
check(truth.shape == (100, 30) and np.array_equal(truth, x[500:]) and np.array_equal(p1["y_clean"][:], y[500:]), "truth and clean values are the data set's 100 test rows")
rng = y[:500].max() - y[:500].min()
sig = p1.attrs["noise_sigma"]
check(abs(p1.attrs["noise_level"] - 0.02) < 1e-15 and abs(sig - 0.02 * rng) < 1e-9 * rng, f"sigma {sig:.5g} = 0.02 x training range {rng:.5g}")
e = p1["measurement"][:] - p1["y_clean"][:]
check(abs(e.std() / sig - 1) < 0.1 and abs(e.mean()) < 4 * sig / np.sqrt(e.size), f"measurement noise: std / sigma {e.std() / sig:.3f}, mean {e.mean():.3g}")
for s in ("ode", "sde"):
    # Same model, same particle streams: the only difference is the single-precision network's
    # GEMM summation order, which depends on how many rows share a batch (~1e-7), and which the
    # adaptive ODE's accept/reject decisions can amplify. Bound: 1e-3 of the Monte-Carlo standard
    # error of the means (std / sqrt(samples)), far below anything a result depends on.
    m1, mN = p1[s]["posterior_mean"][:], pN[s]["posterior_mean"][:]
    se = p1[s]["posterior_std"][:] / np.sqrt(100)
    dd = (np.abs(m1 - mN) / se).max()
    check(dd < 1e-3 and np.isfinite(m1).all(), f"{s}: posterior means at 1 and {sys.argv[1]} ranks (case batches 16 and 7) agree to {dd:.1e} of the Monte-Carlo standard error (< 1e-3)")
    mean, sd = p1[s]["posterior_mean"][:], p1[s]["posterior_std"][:]
    mf = truth.mean()
    err = np.abs(mean - truth).mean(axis=0) / mf
    check(np.allclose(err, p1[s]["segment_error"][:], rtol=1e-12) and abs(p1.attrs["mean_flux"] - mf) < 1e-12 * mf, f"{s}: per-segment error recomputed from means and truth (mean {100 * err.mean():.1f}%)")
    cov1 = (np.abs(truth - mean) <= sd).mean(axis=0)
    check(np.allclose(cov1, p1[s]["segment_coverage1"][:]) and np.allclose(sd.mean(axis=0), p1[s]["segment_std"][:]), f"{s}: coverage and mean std per segment recomputed (1-sigma {p1[s].attrs['coverage1']:.3f})")
    smp = p1[s]["samples"][:].reshape(3, 100, 30)
    check(np.allclose(smp[1].mean(axis=0), mean[5], rtol=1e-12) and np.allclose(smp[2].std(axis=0, ddof=1), sd[99], rtol=1e-10), f"{s}: kept samples of cases 0, 5, 99 match their stored mean and std")
    crps = np.abs(smp[1] - truth[5]).mean(axis=0) - 0.5 * np.abs(smp[1][:, None, :] - smp[1][None, :, :]).mean(axis=(0, 1))
    check(np.allclose(crps, p1[s]["crps"][5], rtol=1e-10), f"{s}: CRPS of case 5 recomputed by the double sum")
mc1, mcN = p1["mcmc"], pN["mcmc"]
check(mc1["mean"].shape == (12, 30) and np.array_equal(mc1["mean"][:], mcN["mean"][:]) and mc1.attrs["repeated_states"] == 0 and mc1.attrs["evaluations_per_step"] >= 1,
      f"MCMC reference of 12 cases: identical at 1 and {sys.argv[1]} ranks, {mc1.attrs['evaluations_per_step']:.2f} evaluations per step, largest IAT {mc1.attrs['iat_max']:.1f}")
check(mc1.attrs["ess_min"] >= 100 and mc1.attrs["capped_chains"] == 0 and mc1.attrs["steps_max"] > 4000 and mc1.attrs["steps_mean"] >= 4000 and mc1.attrs["steps_max"] == mcN.attrs["steps_max"],
      f"MCMC chains extended beyond -mcmc_iter 4000 to -mcmc_min_ess 100: smallest ESS {mc1.attrs['ess_min']:.0f}, {mc1.attrs['steps_mean']:.0f} steps per chain on average, longest {mc1.attrs['steps_max']}, none capped")
check(0.5 < mc1.attrs["coverage1"] < 0.85 and 0.85 < mc1.attrs["coverage2"] <= 1, f"MCMC posterior covers the truth: 1-sigma {mc1.attrs['coverage1']:.3f}, 2-sigma {mc1.attrs['coverage2']:.3f}")
ok = all(abs(p1[s].attrs["mcmc_mean_error"] - np.mean(np.abs(p1[s]["posterior_mean"][:12] - mc1["mean"][:]) / p1["prior_std"][:])) < 1e-12 for s in ("ode", "sde"))
check(ok, "diffusion vs MCMC mean error recomputed from the stored means")
prior_err = np.abs(x[:500].mean(axis=0) - truth).mean() / truth.mean()
e_tr, e_0 = p1["sde"].attrs["mean_error"], p0["sde"].attrs["mean_error"]
check(e_tr < prior_err and e_tr < e_0, f"the trained network conditions on y: error {100 * e_tr:.1f}% < prior mean's {100 * prior_err:.1f}% and the 1-epoch network's {100 * e_0:.1f}%")
pe = h5py.File("pe.h5")
e_ode, e_sde = pe["ode"].attrs["mean_error"], pe["sde"].attrs["mean_error"]
check(max(e_ode, e_sde) < prior_err and max(e_ode, e_sde) < e_0 and np.array_equal(pe["truth"][:], truth),
      f"-net_output edm, tweedie start: error ODE {100 * e_ode:.1f}%, SDE {100 * e_sde:.1f}% < prior mean's {100 * prior_err:.1f}% and the 1-epoch network's {100 * e_0:.1f}% (the score-output network: {100 * e_tr:.1f}%)")
# exact posterior against numpy's closed form
H, K = g["H"][:], g["prior_covariance"][:]
s2 = pg.attrs["noise_sigma"] ** 2
Y = pg["measurement"][:]
S = H @ K @ H.T + s2 * np.eye(30)
G = np.linalg.solve(S, H @ K).T
mu = 2 + (Y - H @ (2 * np.ones(30))) @ G.T
Sig = K - G @ H @ K
dm = np.abs(mu - pg["exact/mean"][:]).max() / np.abs(mu).max()
dS = np.abs(Sig - pg["exact/covariance"][:]).max() / np.abs(K).max()
check(dm < 1e-9 and dS < 1e-9, f"exact posterior = numpy closed form: mean {dm:.1e}, covariance {dS:.1e}")
check("exact_std_ratio_mean" in pg["sde"].attrs and 0.5 < pg["exact"].attrs["coverage1"] < 0.85, f"exact posterior covers the truth 1-sigma {pg['exact'].attrs['coverage1']:.3f}; diffusion std / exact std {pg['sde'].attrs['exact_std_ratio_mean']:.2f}")
pm, pf = h5py.File("pm.h5"), h5py.File("pf.h5")
mk = pm["mask"][:]
check("exact" not in pm and pm["mcmc/mean"].shape == (6, 30) and "mcmc_mean_error" in pm["sde"].attrs and pm["mcmc"].attrs["capped_chains"] == 0,
      f"mask model on the clipped prior: an MCMC reference of 6 cases, each on its sensors (1-sigma coverage {pm['mcmc'].attrs['coverage1']:.3f}), no exact one")
pma, pmz, pz = h5py.File("pma.h5"), h5py.File("pmz.h5"), h5py.File("pz.h5")
check(np.array_equal(pma["mcmc/mean"][:], p1["mcmc/mean"][:]) and np.array_equal(pma["mcmc/std"][:], p1["mcmc/std"][:]),
      "mask model, every sensor on: MCMC reference bitwise the unmasked model's (same data, noise and chains)")
def zdiff(a, b):
    """mean and max over segments of |mean difference| / its standard error from the chains' smallest ESS"""
    sa, sb = a["mcmc/std"][:], b["mcmc/std"][:]
    se = np.sqrt(sa**2 / a["mcmc"].attrs["ess_min"] + sb**2 / b["mcmc"].attrs["ess_min"])
    z = np.abs(a["mcmc/mean"][:] - b["mcmc/mean"][:])[se > 0] / se[se > 0]
    return z.mean(), z.max()
zm, zx = zdiff(pmz, pz)
za, _ = zdiff(pmz, p1)
check(zm < 1.5 and zx < 6 and za > 1.5, f"mask model, sensors 2, 5, 8, ... off: MCMC reference = unmasked one with those rows of H zeroed, |mean diff| / SE mean {zm:.2f} max {zx:.2f} (< 1.5, 6); the reference on every sensor is {za:.2f} away (a reference that ignored the mask would fail)")
# mask model, unclipped prior: each case's exact posterior conditions on H's rows of its sensors
for name in ("pgm.h5", "pgf.h5"):
    q = h5py.File(name)
    M, Yq, s2q = q["mask"][:], q["measurement"][:], q.attrs["noise_sigma"] ** 2
    dm = dsd = 0.0
    for i in range(M.shape[0]):
        on = M[i] > 0
        Ho = H[on]
        Sq = Ho @ K @ Ho.T + s2q * np.eye(on.sum())
        Gq = np.linalg.solve(Sq, Ho @ K).T
        mq = 2 + Gq @ (Yq[i, on] - Ho @ (2 * np.ones(30)))
        sq = np.sqrt(np.diag(K - Gq @ Ho @ K))
        dm = max(dm, np.abs(mq - q["exact/mean"][i]).max() / np.abs(mq).max())
        dsd = max(dsd, np.abs(sq - q["exact/std"][i]).max() / sq.max())
    check(q["exact/std"].shape == (M.shape[0], 30) and "covariance" not in q["exact"] and dm < 1e-9 and dsd < 1e-9 and "exact_std_ratio_mean" in q["sde"].attrs,
          f"{name}: mask model, exact posterior of each case on its {M.sum(axis=1).min():.0f}-{M.sum(axis=1).max():.0f} sensors = numpy: mean {dm:.1e}, std {dsd:.1e}; std ratio {q['sde'].attrs['exact_std_ratio_mean']:.2f}")
q = h5py.File("pgf.h5")
check(np.array_equal(q["mask"][:], np.tile([0, 1, 1] * 10, (4, 1))), "pgf.h5: -posterior_mask shared by the cases (one solve)")
check(mk.shape == (40, 30) and abs(mk.mean() - 0.7) < 0.06 and (mk.sum(axis=1) > 0).all(), f"mask model: random masks stored, {mk.mean():.3f} of sensors on")
check(np.array_equal(pf["mask"][:], np.tile([1, 0] * 15, (10, 1))) and np.isfinite(pf["sde/posterior_mean"][:]).all(), "mask model: -posterior_mask applied to every case")
sys.exit(1 if fail else 0)
PY
# Figures 6-10, 12-14 and the summary table from the posterior files
/usr/bin/python3 "$root/postprocess/advdiff_posterior.py" figs p1.h5 pg.h5 pm.h5 > figs.log
/usr/bin/python3 "$root/postprocess/advdiff_posterior.py" figsm pgm.h5 > figsm.log
[ -s figsm/exact_vp_0.02.png ] || { echo "FAIL: postprocess did not draw the mask model's exact figure"; cat figsm.log; exit 1; }
for f in cases_vp_0.02.png error_vp.png std_vp.png exact_vp_0.05.png cases_vp_unclipped_0.05.png error_vp_unclipped.png error_vp_mask.png std_vp_mask.png summary.md; do
  [ -s "figs/$f" ] || { echo "FAIL: postprocess did not draw figs/$f"; cat figs.log; exit 1; }
done
[ "$(grep -c '^| VP' figs/summary.md)" -eq 5 ] || { echo "FAIL: summary.md should have 5 rows (2 + 2 samplers + 1)"; cat figs/summary.md; exit 1; }
/usr/bin/python3 "$root/postprocess/advdiff_fields.py" data.h5 figs/figure11.png --post pm.h5 > /dev/null
[ -s figs/figure11.png ] || { echo "FAIL: Figure 11 not drawn"; exit 1; }
echo "ok   postprocess: Figures 6-14 and summary.md drawn"
# the breakdown by case: its whole-file row reproduces pdediff's figures (those against the exact
# or the MCMC reference too), its groups and its std quartiles each partition the values
/usr/bin/python3 "$root/postprocess/advdiff_breakdown.py" p1.h5 pgm.h5 > breakdown.md
/usr/bin/python3 - <<'PY' || exit 1
import h5py
rows = [[c.strip() for c in l.strip().strip("|").split("|")] for l in open("breakdown.md") if l.startswith("| VP")]
for name, groups in (("p1.h5", ("true flux clipped to 0", "true flux > 0")), ("pgm.h5", ("< 19 sensors on", "19-22 sensors on", "23+ sensors on"))):
    f = h5py.File(name, "r")
    for s in ("ode", "sde"):
        if s not in f:
            continue
        mine = {r[2]: r for r in rows if r[12] == name and r[1] == s.upper()}
        a, al = f[s].attrs, mine.get("all")
        ok = al is not None and abs(float(al[4].rstrip("%")) / 100 - a["mean_error"]) < 6e-5 and abs(float(al[5]) - a["coverage1"]) < 6e-4 \
            and abs(float(al[6]) - a["coverage2"]) < 6e-4 and sum(int(mine[g][3]) for g in groups if g in mine) == int(al[3]) == f["truth"].size \
            and len(quart := [r for g, r in mine.items() if g.startswith("std quartile")]) == 4 and sum(int(r[3]) for r in quart) == int(al[3])
        said = []
        for ref in ("exact", "mcmc"):  # the std ratio's weighting is the program's where no reference std is 0
            if ref in f:
                ok = ok and al[9] == f"{'MCMC' if ref == 'mcmc' else ref} ({f[ref + '/mean'].size})" and abs(float(al[10]) - a[ref + "_mean_error"]) < 6e-4 \
                    and (abs(float(al[11]) - a[ref + "_std_ratio_mean"]) < 6e-4 or not (f[ref + "/std"][:] > 0).all())
                said.append(f"ok   breakdown: {name} {s.upper()} against the {ref} reference: {al[10]} prior std, std ratio {al[11]} (the file: {a[ref + '_mean_error']:.3f}, {a[ref + '_std_ratio_mean']:.3f})")
        if not ok:
            raise SystemExit(f"FAIL: breakdown of {name} {s} does not reproduce the file's figures or its groups do not partition the values:\n" + open("breakdown.md").read())
        print(f"ok   breakdown: {name} {s.upper()} whole-file row = pdediff's figures, {len([g for g in groups if g in mine])} groups and the 4 std quartiles each partition its {al[3]} values", *said, sep="\n")
PY
# --cases N: the first N cases, as a run of N cases prints them (error over their own mean flux);
# the MCMC reference on those of them it has; more cases than the file holds is refused
/usr/bin/python3 "$root/postprocess/advdiff_breakdown.py" --cases 10 pm.h5 > breakdown10.md
/usr/bin/python3 - <<'PY' || exit 1
import h5py, numpy as np
f = h5py.File("pm.h5", "r")
al = [[c.strip() for c in l.strip().strip("|").split("|")] for l in open("breakdown10.md") if "| SDE | all |" in l][0]
t, m, sd = f["truth"][:10], f["sde/posterior_mean"][:10], f["sde/posterior_std"][:10]
e = np.abs(m - t)
want = [str(t.size), f"{100 * e.mean() / t.mean():.2f}%", f"{(e <= sd).mean():.3f}", f"{(e <= 2 * sd).mean():.3f}", f"MCMC ({f['mcmc/mean'].size})"]
if [al[3], al[4], al[5], al[6], al[9]] != want:
    raise SystemExit(f"FAIL: breakdown --cases 10 of pm.h5 gives {al}, want values / error / coverage / reference {want}")
print(f"ok   breakdown --cases 10: pm.h5's first 10 cases ({al[3]} values, error {al[4]}, coverage {al[5]} / {al[6]}, {al[9]})")
PY
if /usr/bin/python3 "$root/postprocess/advdiff_breakdown.py" --cases 41 pm.h5 > bd41.log 2>&1 || ! grep -q "holds 40 test cases" bd41.log; then
  echo "FAIL: breakdown --cases 41 of a 40-case file should be refused, naming the count"; cat bd41.log; exit 1
fi

# Compact copies (advdiff_archive.py: a few case rows, no samples) draw the same figures and table;
# the breakdown made from every case is kept in them; a non-posterior file is refused, nothing left.
/usr/bin/python3 "$root/postprocess/advdiff_archive.py" arc p1.h5 pg.h5 pm.h5 pgm.h5 > arc.log
/usr/bin/python3 "$root/postprocess/advdiff_posterior.py" figsa arc/p1.h5 arc/pg.h5 arc/pm.h5 > figsa.log
/usr/bin/python3 "$root/postprocess/advdiff_posterior.py" figsam arc/pgm.h5 > figsam.log
cmp figs/summary.md figsa/summary.md || { echo "FAIL: summary.md from the compact copies differs from the files' own"; diff figs/summary.md figsa/summary.md; exit 1; }
for f in cases_vp_0.02.png error_vp.png std_vp.png exact_vp_0.05.png cases_vp_unclipped_0.05.png error_vp_mask.png std_vp_mask.png; do
  [ -s "figsa/$f" ] || { echo "FAIL: postprocess did not draw figsa/$f from the compact copies"; cat figsa.log; exit 1; }
done
[ -s figsam/exact_vp_0.02.png ] || { echo "FAIL: no exact figure from the mask model's compact copy"; exit 1; }
if /usr/bin/python3 "$root/postprocess/advdiff_breakdown.py" arc/pm.h5 > arc_bd.log 2>&1 || ! grep -q "attribute 'breakdown'" arc_bd.log; then
  echo "FAIL: the breakdown should refuse a compact copy of 2 of 40 cases and name its stored breakdown"; cat arc_bd.log; exit 1
fi
if /usr/bin/python3 "$root/postprocess/advdiff_archive.py" arc data.h5 > arc_bad.log 2>&1 || ! grep -q "not a pdediff posterior file" arc_bad.log || [ -e arc/data.h5 ] || ls arc/*.partial > /dev/null 2>&1; then
  echo "FAIL: archiving a data set should fail with a clear message and leave nothing"; cat arc_bad.log; exit 1
fi
/usr/bin/python3 - "$root/postprocess" <<'PY' || exit 1
import sys
import h5py
import numpy as np
sys.path.insert(0, sys.argv[1])
from advdiff_posterior import exact_segments
bd = [l.strip() for l in open("breakdown.md") if l.startswith("| VP")]
for name, rows in (("p1.h5", 100), ("pg.h5", 100), ("pm.h5", 2), ("pgm.h5", 1)):
    f, a = h5py.File(name, "r"), h5py.File("arc/" + name, "r")
    bad = []
    def same_attrs(x, y, what):
        for k, v in x.attrs.items():
            if k not in y.attrs or not np.array_equal(np.asarray(y.attrs[k]), np.asarray(v)):
                bad.append(f"attribute {k} of {what}")
    same_attrs(f, a, "/")
    def visit(path, obj):
        if isinstance(obj, h5py.Group):
            same_attrs(obj, a[path], path)
        elif path.endswith("samples"):
            bad.extend([f"{path} copied"] if path in a else [])
        elif obj.size <= 4096:
            bad.extend([] if np.array_equal(a[path][()], obj[()]) else [f"{path} not copied whole"])
        else:
            bad.extend([] if np.array_equal(a[path][()], obj[:rows]) else [f"{path} not its first {rows} rows"])
    f.visititems(visit)
    if int(a.attrs["archive_rows"]) != rows or int(a.attrs["archive_rows"]) != int(f["kept_cases"][:].max()) + 1:
        bad.append(f"archive_rows {a.attrs['archive_rows']}, expected {rows}")
    for s in ("ode", "sde"):
        if s in f and "kept_cases" in f and f["kept_cases"].size:  # Figure 6 from the copy: its rows are the samples' mean and std
            k = f["kept_cases"][:].astype(int)
            smp = f[s + "/samples"][:].reshape(len(k), int(f.attrs["n_samples"]), -1)
            if not (np.allclose(a[s + "/posterior_mean"][:][k], smp.mean(axis=1), rtol=1e-12, atol=1e-12)
                    and np.allclose(a[s + "/posterior_std"][:][k], smp.std(axis=1, ddof=1), rtol=1e-10, atol=1e-12)):
                bad.append(f"{s}: kept cases' mean/std differ from their samples'")
        if s in f and "exact" in f:
            e0, r0 = exact_segments(f, s)
            e1, r1 = exact_segments(a, s)
            bad += [] if np.array_equal(e0, e1) and np.array_equal(r0, r1) else [f"{s}: exact per-segment series differ"]
    mine = [l for l in bd if l.endswith(f"| {name} |")]
    if mine and a.attrs["breakdown"].splitlines() != mine:
        bad.append("stored breakdown differs from advdiff_breakdown.py on the file")
    if bad:
        raise SystemExit(f"FAIL: compact copy arc/{name}: " + "; ".join(bad))
    print(f"ok   archive: {name} -> arc/{name}: every attribute and small dataset, {rows} of {f.attrs['n_test']} case rows, no samples"
          + (", the breakdown" if mine else "") + (", the exact per-segment series" if "exact" in f else ""))
PY
echo "ok   archive: summary.md and the figures drawn from the compact copies equal the files' own"

# The compact copies as text (advdiff_text.py) and back: the same groups, attributes (types too)
# and datasets bit for bit; the figures and summary.md drawn from the text equal the copies';
# a full posterior file and a damaged text are refused with a message, nothing left.
/usr/bin/python3 "$root/postprocess/advdiff_text.py" dump txt arc/p1.h5 arc/pg.h5 arc/pm.h5 arc/pgm.h5 > txt.log
/usr/bin/python3 "$root/postprocess/advdiff_text.py" load back txt/p1.post.json txt/pg.json txt/pm.json txt/pgm.json > back.log 2>&1 \
  && { echo "FAIL: load should refuse the missing txt/p1.post.json before writing anything"; exit 1; }
grep -q "txt/p1.post.json: no such file" back.log && [ ! -e back ] || { echo "FAIL: a missing text copy: no clear message, or output written"; cat back.log; exit 1; }
/usr/bin/python3 "$root/postprocess/advdiff_text.py" load back txt/p1.json txt/pg.json txt/pm.json txt/pgm.json > back.log
/usr/bin/python3 "$root/postprocess/advdiff_posterior.py" figst txt/p1.json txt/pg.json txt/pm.json > figst.log
cmp figsa/summary.md figst/summary.md || { echo "FAIL: summary.md from the text copies differs from the compact copies'"; diff figsa/summary.md figst/summary.md; exit 1; }
for f in cases_vp_0.02.png error_vp.png std_vp.png exact_vp_0.05.png cases_vp_unclipped_0.05.png error_vp_mask.png std_vp_mask.png; do
  cmp "figsa/$f" "figst/$f" || { echo "FAIL: figst/$f drawn from the text differs from figsa/$f"; exit 1; }
done
/usr/bin/python3 - <<'PY' || exit 1
import h5py
import numpy as np
for name in ("p1.h5", "pg.h5", "pm.h5", "pgm.h5"):
    a, b = h5py.File("arc/" + name, "r"), h5py.File("back/" + name, "r")
    bad = []
    def same_attrs(x, y, what):
        if sorted(x.attrs) != sorted(y.attrs):
            bad.append(f"attribute names of {what}")
        for k, v in x.attrs.items():
            u = y.attrs.get(k)
            if type(u) is not type(v) or np.asarray(u).dtype != np.asarray(v).dtype or not np.array_equal(np.asarray(u), np.asarray(v)):
                bad.append(f"attribute {k} of {what}: {v!r} -> {u!r}")
    same_attrs(a, b, "/")
    na, nb = [], []
    a.visit(na.append)
    b.visit(nb.append)
    bad += [] if sorted(na) == sorted(nb) else [f"members {sorted(set(na) ^ set(nb))}"]
    def visit(path, obj):
        same_attrs(obj, b[path], path)
        if isinstance(obj, h5py.Dataset):
            d = b[path]
            if d.dtype != obj.dtype or d.shape != obj.shape or not np.array_equal(d[()], obj[()], equal_nan=d.dtype.kind == "f"):
                bad.append(f"dataset {path}")
    a.visititems(visit)
    if bad:
        raise SystemExit(f"FAIL: arc/{name} -> text -> back/{name}: " + "; ".join(bad))
    print(f"ok   text: arc/{name} -> txt -> back/{name}: {len(na)} members, every attribute and dataset with its dtype, bit for bit")
PY
if /usr/bin/python3 "$root/postprocess/advdiff_text.py" dump txt_bad p1.h5 > txt_bad.log 2>&1 || ! grep -q "not a compact copy.*advdiff_archive.py" txt_bad.log || [ -e txt_bad/p1.json ]; then
  echo "FAIL: dumping a full posterior file should be refused, naming advdiff_archive.py"; cat txt_bad.log; exit 1
fi
head -c 3000 txt/pm.json > cut.json
if /usr/bin/python3 "$root/postprocess/advdiff_text.py" load back_bad cut.json > cut.log 2>&1 || ! grep -q "cut.json: not a readable text copy" cut.log \
   || ls back_bad/* > /dev/null 2>&1; then
  echo "FAIL: loading a truncated text copy should fail with a clear message and leave nothing"; cat cut.log; exit 1
fi
sed 's/"shape": \[6, 30\]/"shape": [6, 31]/' txt/pm.json > shape.json
if /usr/bin/python3 "$root/postprocess/advdiff_posterior.py" figs_bad shape.json > shape.log 2>&1 || ! grep -q "shape.json: damaged text copy" shape.log; then
  echo "FAIL: a text copy whose values do not fill its shape should be refused"; cat shape.log; exit 1
fi
if /usr/bin/python3 "$root/postprocess/advdiff_breakdown.py" txt/pm.json > txt_bd.log 2>&1 || ! grep -q "attribute 'breakdown'" txt_bd.log; then
  echo "FAIL: the breakdown should refuse a text copy and name its stored breakdown"; cat txt_bd.log; exit 1
fi
echo "ok   text: figures and summary.md from the text copies equal the compact copies'; bad input refused"

# The sweep report's exact-posterior verdict (issue 6's goal: mean error < 0.1 prior std, every
# segment's std ratio in [0.9, 1.1]) on the unclipped cell, as one cell of a run directory.
mkdir -p rep/posts && cp pg.h5 rep/posts/vp_0.05.post.h5
printf 'EXPERIMENT=exact_test\nFORMS="vp"\nLEVELS="0.05"\n' > rep/sweep.conf
printf 'vp_0.05 vp 0.05\n' > rep/cells.txt
/usr/bin/python3 "$root/postprocess/report.py" rep > rep.log
/usr/bin/python3 - "$root/postprocess/report.py" <<'PY' || exit 1
import h5py, re
pg, text = h5py.File("pg.h5", "r"), open("rep/report.md").read()
for s in ("ode", "sde"):
    a = pg[s].attrs
    ok = a["exact_mean_error"] < 0.1 and a["exact_std_ratio_min"] >= 0.9 and a["exact_std_ratio_max"] <= 1.1
    m = re.search(rf"^- (yes|NO): vp_0.05 {s.upper()}: exact posterior matched \(mean error ([0-9.]+) .*segments ([0-9.]+)-([0-9.]+) in", text, re.M)
    if not m or (m.group(1) == "yes") != ok or abs(float(m.group(2)) - a["exact_mean_error"]) > 5e-4 \
            or abs(float(m.group(3)) - a["exact_std_ratio_min"]) > 5e-4 or abs(float(m.group(4)) - a["exact_std_ratio_max"]) > 5e-4:
        raise SystemExit(f"FAIL: report's exact verdict for {s} does not match the file (goal met: {ok}):\n{text}")
    print(f"ok   report: {s.upper()} exact verdict '{m.group(1)}' matches the file (mean error {a['exact_mean_error']:.3f}, std ratios {a['exact_std_ratio_min']:.3f}-{a['exact_std_ratio_max']:.3f})")
# the other side of each bound: the same file with its ODE figures set inside the goal, then one
# segment at 1.101, then the mean error at 0.1
import shutil, subprocess, sys
for mean, lo, hi, want in ((0.05, 0.95, 1.05, "yes"), (0.05, 0.95, 1.101, "NO"), (0.1, 0.95, 1.05, "NO"), (0.05, 0.899, 1.05, "NO")):
    shutil.copy("pg.h5", "rep/posts/vp_0.05.post.h5")
    with h5py.File("rep/posts/vp_0.05.post.h5", "r+") as f:
        f["ode"].attrs["exact_mean_error"], f["ode"].attrs["exact_std_ratio_min"], f["ode"].attrs["exact_std_ratio_max"] = mean, lo, hi
    subprocess.run([sys.executable, sys.argv[1], "rep"], check=True, stdout=subprocess.DEVNULL)
    if not re.search(rf"^- {want}: vp_0.05 ODE: exact posterior matched", open("rep/report.md").read(), re.M):
        raise SystemExit(f"FAIL: report's exact verdict should be {want} for mean error {mean}, std ratios {lo}-{hi}")
print("ok   report: exact verdict flips at each bound (mean 0.1, segment ratios 0.9 and 1.1)")
PY

# postprocess/denoiser_probe.py: the network's denoiser read off the model file in numpy, its
# Jacobian checked against central differences (--check); it reproduces the network's
# conditioning on y (the edm network's guess of x0 from y and x_T is closer than the training
# mean, measured by the probe itself), and bad input gets a message and exit 2.
for mdl in m e; do
  /usr/bin/python3 "$root/postprocess/denoiser_probe.py" --check $mdl.h5 data.h5 > probe_$mdl.log || { echo "FAIL: denoiser_probe --check on $mdl.h5"; cat probe_$mdl.log; exit 1; }
  grep -q "^check: dD/dx^ against central differences, largest deviation .* (ok, bound 1e-5)" probe_$mdl.log || { echo "FAIL: no Jacobian check line for $mdl.h5"; cat probe_$mdl.log; exit 1; }
done
/usr/bin/python3 - <<'PY' || exit 1
import re
text = open("probe_e.log").read()
prior = float(re.search(r"training rows' mean as the guess \(no y\): RMS error ([0-9.e+-]+)", text).group(1))
last = [l for l in text.splitlines() if l.startswith("| 1e+00 |")]
if not last:
    raise SystemExit(f"FAIL: no t = 1 row in the probe's table:\n{text}")
err = float(last[0].split("|")[3])
if not err < prior:
    raise SystemExit(f"FAIL: the edm network's x0 guess at t = T ({err}) is no better than the training mean ({prior})")
print(f"ok   denoiser_probe: edm network's guess of x0 at t = T, RMS {err:.3g}, against the training mean's {prior:.3g}; Jacobians match central differences")
PY
if /usr/bin/python3 "$root/postprocess/denoiser_probe.py" mask.h5 data.h5 > probe_bad.log 2>&1; then echo "FAIL: the probe accepted a mask model"; exit 1; fi
grep -q "a sensor-mask model; the probe conditions on y alone" probe_bad.log || { echo "FAIL: no clear refusal of a mask model"; cat probe_bad.log; exit 1; }
if /usr/bin/python3 "$root/postprocess/denoiser_probe.py" --rows 590:700 m.h5 data.h5 > probe_bad.log 2>&1; then echo "FAIL: the probe accepted rows past the data set"; exit 1; fi
grep -q -- "--rows 590:700: the data set data.h5 has rows 0..599" probe_bad.log || { echo "FAIL: no clear refusal of --rows past the end"; cat probe_bad.log; exit 1; }
if /usr/bin/python3 "$root/postprocess/denoiser_probe.py" data.h5 data.h5 > probe_bad.log 2>&1; then echo "FAIL: the probe accepted a data set as the model"; exit 1; fi
grep -q "data.h5: no params / layer_widths: not a pdediff model file" probe_bad.log || { echo "FAIL: no clear refusal of a data set as the model"; cat probe_bad.log; exit 1; }
if /usr/bin/python3 "$root/postprocess/denoiser_probe.py" m.h5 m.h5 > probe_bad.log 2>&1; then echo "FAIL: the probe accepted a model as the data set"; exit 1; fi
grep -q "m.h5: no x / y_clean datasets" probe_bad.log || { echo "FAIL: no clear refusal of a model as the data set"; cat probe_bad.log; exit 1; }
echo "ok   denoiser_probe: Jacobian check, conditioning, refusals"

# postprocess/skip_calibration.py: an edm network at zero noise trained on rows 0-449 and sampled
# on the held-out rows 450-499 of the training split (the posterior names them a validation set);
# the printed coverages are recomputed here from the file, the chosen scale is the least-squares
# one (no neighbour on the grid is closer to the Gaussian coverages), the suggested -net_sigma_skip
# is that scale times the model's, also as the net_sigma_skip= line; --criterion goal the same with
# the smallest distance to the goal's windows; training pairs, test rows, noise > 0, a non-edm model,
# another model's file and an unknown criterion refused.
run "$np" train -train_data data.h5 -train_x x -train_y y_clean -train_rows 450 $net -train_epochs 60 -noise_level 0 -net_output edm -net_sigma_skip 0.01 -model z.h5 > train_z.log
vz="-posterior_nsamples 50 -posterior_keep_cases 0 -sampler_dtau 0.01 -posterior_samplers ode -posterior_mcmc 0 -sampler_start tweedie"
run "$np" posterior -posterior_model z.h5 -posterior_data data.h5 $vz -posterior_first 450 -posterior_ntest 50 -posterior_output pv.h5 > pv.log
grep -q "posterior: cases from row 450: rows 450-499 of the training split that the model did not train on (it trained on the first 450, -train_rows), a validation set" pv.log \
  || { echo "FAIL: the posterior does not name held-out training rows a validation set"; cat pv.log; exit 1; }
run 1 posterior -posterior_model z.h5 -posterior_data data.h5 $vz -posterior_first 440 -posterior_ntest 20 -posterior_output pt.h5 > pt.log
grep -q "WARNING: -posterior_first 440 < 450, the rows the model trained on: some test cases were training pairs" pt.log \
  || { echo "FAIL: no warning for test cases the model trained on"; cat pt.log; exit 1; }
run 1 posterior -posterior_model z.h5 -posterior_data data.h5 $vz -posterior_ntest 10 -posterior_output ptest.h5 > ptest.log
/usr/bin/python3 "$root/postprocess/skip_calibration.py" z.h5 pv.h5 > skip.log || { echo "FAIL: skip_calibration on a validation file"; cat skip.log; exit 1; }
/usr/bin/python3 "$root/postprocess/skip_calibration.py" --criterion goal z.h5 pv.h5 > skip_goal.log || { echo "FAIL: skip_calibration --criterion goal"; cat skip_goal.log; exit 1; }
/usr/bin/python3 - <<'PY' || exit 1
import re
import h5py
import numpy as np
with h5py.File("pv.h5") as f:
    z = np.abs(f["ode/posterior_mean"][:] - f["truth"][:]) / f["ode/posterior_std"][:]
with h5py.File("z.h5") as f:
    skip0 = float(f.attrs["net_sigma_skip"])
cov = lambda s: ((z <= s).mean(), (z <= 2 * s).mean())
objs = {"gauss": (lambda s: (cov(s)[0] - 0.682689) ** 2 + (cov(s)[1] - 0.9545) ** 2, "least squares to a Gaussian's"),
        "goal": (lambda s: -min(cov(s)[0] - 0.6, 0.76 - cov(s)[0], cov(s)[1] - 0.9, 0.99 - cov(s)[1]), "furthest inside the goal's windows")}
for log, crit in (("skip.log", "gauss"), ("skip_goal.log", "goal")):
    text = open(log).read()
    mt = re.search(r"c = ([0-9.]+) \(coverages ([0-9.]+) / ([0-9.]+) .*criterion " + crit + r"\): train with -net_sigma_skip ([0-9.e+-]+)", text)
    ml = re.search(r"\Anet_sigma_skip=([0-9.e+-]+)\Z", text.strip().splitlines()[-1])
    if not mt or not ml:
        raise SystemExit(f"FAIL: {crit}: no verdict line or no final net_sigma_skip= line in skip_calibration's output:\n{text}")
    c, cov1, cov2, skip = (float(v) for v in mt.groups())
    got = cov(c)
    if abs(got[0] - cov1) > 1.5e-3 or abs(got[1] - cov2) > 1.5e-3:
        raise SystemExit(f"FAIL: {crit}: coverages at c = {c}: printed {cov1} / {cov2}, recomputed {got}")
    obj, what = objs[crit]
    for s in np.exp(np.linspace(np.log(1 / 8), np.log(8), 4001)):
        if obj(s) < obj(c) - 1e-9:
            raise SystemExit(f"FAIL: {crit}: scale {s} scores better ({obj(s):.3g}) than the chosen {c} ({obj(c):.3g})")
    if abs(skip - c * skip0) > 1e-4 * skip0 or float(ml.group(1)) != skip:
        raise SystemExit(f"FAIL: {crit}: suggested -net_sigma_skip {skip} (line {ml.group(1)}), expected c x {skip0} = {c * skip0}")
    print(f"ok   skip_calibration --criterion {crit}: c = {c:.4f}, coverages {cov1:.3f} / {cov2:.3f} recomputed, {what} on the grid, "
          f"-net_sigma_skip {skip:.4g} = c x {skip0}")
PY
bad() { # expect skip_calibration to refuse: message-fragment model file
  if /usr/bin/python3 "$root/postprocess/skip_calibration.py" "${@:2}" > skip_bad.log 2>&1; then echo "FAIL: skip_calibration accepted ${*:2}"; exit 1; fi
  grep -q -- "$1" skip_bad.log || { echo "FAIL: skip_calibration ${*:2}: no message '$1'"; cat skip_bad.log; exit 1; }
}
bad "trained on rows 0-449: validate on rows it did not train on" z.h5 pt.h5
bad "reach the test rows of data.h5 (from 500 on)" z.h5 ptest.h5
bad "the spread is sigma_skip only at zero noise" e.h5 pe.h5
bad "not an edm network (no net_sigma_skip)" m.h5 p1.h5
bad "sampled with the model z.h5, not e.h5" e.h5 pv.h5
bad "--criterion median: give gauss or goal" --criterion median z.h5 pv.h5
echo "ok   skip_calibration: training pairs, test rows, noise > 0, a non-edm model, another model's file and an unknown criterion refused"
