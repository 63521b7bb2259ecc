#!/usr/bin/env bash
# bench_posterior.sh PDEDIFF MPIEXEC WORKDIR [MODEL DATA]: the posterior-sampling benchmark of
# Sec. 5.2 (issue: samples/s per rank for the ODE and SDE samplers with the 4 x 256 network,
# score evaluations per sample, the 1 -> 2 rank speed-up of the sampling stage), side by side in
# one run. Without MODEL/DATA it builds a quick data set (170 x 40 mesh) and trains a 4 x 256 VP
# network for 300 epochs (the SDE's cost does not depend on training; the ODE's evaluation count
# does, so pass a fully trained model for the paper's figure).
#   BENCH_CASES (default 32) test cases x BENCH_SAMPLES (default 250) samples, paper's dtau 0.002.
set -euo pipefail
pdediff=$1; mpiexec=$2; work=$3; model=${4:-}; data=${5:-}
cases=${BENCH_CASES:-32}; samples=${BENCH_SAMPLES:-250}
mkdir -p "$work"; cd "$work"
run() { "$mpiexec" -n "$1" --oversubscribe "$pdediff" "${@:2}"; }
if [ -z "$model" ]; then
  rm -f bench_model.h5 bench_model.ckpt.h5   # a rerun in the same build tree trains afresh
  run 2 generate -fem_nx 170 -fem_ny 40 -generate_n 1100 -generate_n_train 1000 -generate_fields 0 -generate_mode basis -generate_output bench_data.h5 > gen.log
  run 2 train -train_data bench_data.h5 -train_x x -train_y y_clean -train_rows 1000 -net_layers 4 -net_width 256 -train_epochs 300 -train_batch 1000 -noise_level 0.01 -sde_type vp -train_log_interval 1000 -model bench_model.h5 > train.log
  model=bench_model.h5; data=bench_data.h5
fi
declare -A rate evals
for np in 1 2; do
  run "$np" posterior -posterior_model "$model" -posterior_data "$data" -posterior_ntest "$cases" -posterior_nsamples "$samples" -posterior_keep_cases 0 -posterior_mcmc 0 -sampler_dtau 0.002 -posterior_output "bench_np$np.h5" > "bench_np$np.log"
  for s in ode sde; do
    rate[$s$np]=$(/usr/bin/python3 -c "import h5py; print(h5py.File('bench_np$np.h5')['$s'].attrs['samples_per_second_per_rank'])")
    evals[$s$np]=$(/usr/bin/python3 -c "import h5py; print(h5py.File('bench_np$np.h5')['$s'].attrs['score_evaluations_per_sample'])")
  done
done
echo "posterior sampling benchmark: $cases cases x $samples samples, model $model"
for s in ode sde; do
  /usr/bin/python3 -c "
r1, r2, e1, e2 = ${rate[${s}1]}, ${rate[${s}2]}, ${evals[${s}1]}, ${evals[${s}2]}
print(f'  $s: 1 rank {r1:.1f} samples/s, 2 ranks {r2:.1f} samples/s per rank; {e1:.1f} score evaluations per sample; speed-up 1 -> 2 ranks {2 * r2 / r1:.2f} (parallel efficiency {r2 / r1:.2f})')"
done
# What -posterior_checkpoint costs: 2 ranks, batches of 2 cases (so each rank runs several batches,
# each followed by the ranks' agreement on signals and checkpoints), without and with a checkpoint
# (interval 0: written once per sampler), side by side.
declare -A ckrate
for ck in 0 1; do
  extra=()
  [ "$ck" = 0 ] || extra=(-posterior_checkpoint bench_ck.h5 -posterior_checkpoint_interval 0)
  run 2 posterior -posterior_model "$model" -posterior_data "$data" -posterior_ntest "$cases" -posterior_nsamples "$samples" -posterior_keep_cases 0 -posterior_mcmc 0 -sampler_dtau 0.002 -posterior_case_batch 2 "${extra[@]}" -posterior_output "bench_ck$ck.h5" > "bench_ck$ck.log"
  for s in ode sde; do
    ckrate[$s$ck]=$(/usr/bin/python3 -c "import h5py; print(h5py.File('bench_ck$ck.h5')['$s'].attrs['samples_per_second_per_rank'])")
  done
done
for s in ode sde; do
  /usr/bin/python3 -c "
a, b = ${ckrate[${s}0]}, ${ckrate[${s}1]}
print(f'  $s, 2 ranks, batches of 2 cases: {a:.1f} samples/s per rank without a checkpoint, {b:.1f} with one (ratio {b / a:.3f})')"
done
