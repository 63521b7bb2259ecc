#!/usr/bin/env bash
# slurm_cluster.sh PDEDIFF WORKDIR: the job scripts on a real SLURM (22.05, Debian's slurm-wlm):
# a one-node cluster on localhost (jobscripts/localcluster: munged, MariaDB + slurmdbd for sacct,
# slurmctld, slurmd), started here and stopped at the end whatever happens.
#  - the quick sweep submitted through jobscripts/sweep.sh: every output file, every job COMPLETED in
#    sacct, sampling task i started after training task i ended and the postprocess after all of
#    them, SLURM ids in the files' provenance, the report's costs from sacct;
#  - a sweep whose mask cell fails: status names the failed job, its cell and log, the jobs
#    downstream of it are cancelled before they run, the healthy cell finishes, no report;
#  - CELLS="vp_mask_0.02": a sparse array (task 1 only) that runs that cell alone;
#  - a job step that fails to launch (srun then returns 0): the job FAILED, its output not written;
#  - time limit: a training job with a 2-minute limit and the real --signal=B:USR1@30 is requeued
#    (sacct REQUEUED), resumes from its checkpoint (step > 0) and completes all its steps;
#  - scancel of a training job: checkpoint written, CANCELLED, not requeued;
#  - a sampling job sent USR1 (the time-limit warning) checkpoints, is requeued, resumes and writes
#    the uninterrupted run's file;
#  - bad input (unknown formulation): nothing is submitted; a submission SLURM rejects half way
#    (invalid time limit) cancels the jobs it had queued.
set -euo pipefail
export PDEDIFF; PDEDIFF=$(realpath "$1"); work=$2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
sweep="$root/jobscripts/sweep.sh" cluster="$root/jobscripts/localcluster/cluster.sh"
fail() { echo "FAIL: $*"; exit 1; }
# conf NAME [KEY=VALUE ...]: the quick experiment with overrides appended (the last assignment wins)
conf() { local name=$1; shift; cp "$root/inputs/sweep_quick.conf" "$name"; for kv in "$@"; do echo "$kv" >> "$name"; done; }
# exit 77 = skipped (ctest SKIP_RETURN_CODE): a workstation without root or the packages; the test
# command (jobscripts/quickstart.sh test, CI) installs them, so there it always runs
[ "$(id -u)" -eq 0 ] || { echo "SKIP: slurm_cluster needs root to start munged and the SLURM daemons"; exit 77; }
for b in slurmctld slurmd slurmdbd munged mariadbd sbatch sacct; do
  command -v "$b" > /dev/null || { echo "SKIP: $b not installed (bash jobscripts/quickstart.sh test installs slurm-wlm slurmdbd munge mariadb-server)"; exit 77; }
done
mkdir -p "$work"; work=$(cd "$work" && pwd)
bash "$cluster" stop "$work/cluster" > /dev/null 2>&1 || true   # a cluster left by an interrupted run
rm -rf "$work"; mkdir -p "$work"; cd "$work"
trap 'bash "$cluster" stop "$work/cluster"' EXIT
bash "$cluster" start "$work/cluster"
export SLURM_CONF=$work/cluster/slurm.conf
unset SLURM_JOB_ID SLURM_ARRAY_JOB_ID SLURM_ARRAY_TASK_ID

# --- bad input: nothing submitted --------------------------------------------------------------
conf bad.conf 'FORMS="ve vq"'
out=$(bash "$sweep" submit bad.conf run_bad 2>&1) && fail "a sweep with formulation vq was submitted"
echo "$out" | grep -q "unknown formulation 'vq'" || fail "no message naming the formulation: $out"
[ -z "$(squeue -h)" ] && [ ! -e run_bad/jobs.txt ] || fail "jobs were queued for a rejected sweep"
echo "ok: $out"
# a submission SLURM rejects half way (an invalid time limit for the training array): the jobs
# already queued are cancelled, no half chain is left
conf badtime.conf TIME_TRAIN=bogus
out=$(bash "$sweep" submit badtime.conf run_badtime 2>&1) && fail "a sweep with TIME_TRAIN=bogus was submitted"
echo "$out" | grep -q "cancelled the jobs already queued" || fail "no message about the cancelled jobs: $out"
for _ in $(seq 1 30); do [ -z "$(squeue -h)" ] && break; sleep 1; done   # a cancelled job may be completing
[ -z "$(squeue -h)" ] && [ ! -e run_badtime/jobs.txt ] || fail "a half-submitted chain was left queued"
echo "ok: $(echo "$out" | tail -1)"

# --- the quick sweep ---------------------------------------------------------------------------
t0=$(date +%s)
bash "$sweep" submit "$root/inputs/sweep_quick.conf" run_quick
bash "$sweep" wait run_quick | tee wait_quick.log
echo "slurm_cluster: quick sweep done in $(( $(date +%s) - t0 )) s"
cells=$(awk '{print $1}' run_quick/cells.txt)
[ "$(echo "$cells" | wc -w)" = 5 ] || fail "quick sweep should have 5 cells"
for c in $cells; do
  for f in "models/$c.model.h5" "posts/$c.post.h5"; do [ -s "run_quick/$f" ] || fail "run_quick/$f missing"; done
done
for f in data/dataset.h5 figures/figure5_fields.png figures/error_ve.png figures/std_ve_mask.png report.md; do
  [ -s "run_quick/$f" ] || fail "run_quick/$f missing"
done
ids=$(awk '{print $2}' run_quick/jobs.txt | paste -sd,)
sacct -n -X -P -j "$ids" -o JobID,JobName,State,Start,End > sacct_quick.txt
cat sacct_quick.txt
[ "$(wc -l < sacct_quick.txt)" = 12 ] || fail "sacct should list 12 jobs (generate, 5 train, 5 posterior, postprocess)"
! grep -v "|COMPLETED|" sacct_quick.txt || fail "a job of the quick sweep did not complete"
grep -q "From sacct" run_quick/report.md || fail "the report's costs do not come from sacct"
/usr/bin/python3 - run_quick sacct_quick.txt <<'EOF'
import sys, h5py, datetime
run, acct = sys.argv[1], sys.argv[2]
jobs = dict(line.split() for line in open(f"{run}/jobs.txt"))
t = {}
for line in open(acct):
    jid, name, state, start, end = line.strip().split("|")
    t[jid] = (datetime.datetime.fromisoformat(start), datetime.datetime.fromisoformat(end))
cells = [line.split()[0] for line in open(f"{run}/cells.txt")]
for i, c in enumerate(cells):
    tr, po = f"{jobs['train']}_{i}", f"{jobs['posterior']}_{i}"
    assert t[po][0] >= t[tr][1], f"posterior {po} started before training {tr} ended"
    assert t[tr][0] >= t[jobs["generate"]][1], f"training {tr} started before the data set was done"
    assert t[jobs["postprocess"]][0] >= t[po][1], f"postprocess started before {po} ended"
    for kind, path, jid in (("model", f"models/{c}.model.h5", tr), ("posterior", f"posts/{c}.post.h5", po)):
        f = h5py.File(f"{run}/{path}", "r")
        got = f.attrs["slurm_array_task"].decode()
        assert got == jid, f"{path}: slurm_array_task {got}, expected {jid}"
        assert f.attrs["slurm_job_id"].decode().isdigit(), f"{path}: no SLURM job id"
        assert f.attrs["mpi_ranks"] == 1
print("slurm_cluster: dependencies held (generate < train i < posterior i < postprocess); SLURM ids in every file")
EOF

# --- a failing cell: downstream jobs never run --------------------------------------------------
conf broken.conf FORMS=vp LEVELS=0.02 MASK_FORMS=vp MASK_LEVELS=0.02 'MASK_ARGS="-mask_prob 1.5"' EXPERIMENT=broken
mkdir -p run_broken/data; cp run_quick/data/dataset.h5 run_broken/data/
bash "$sweep" submit broken.conf run_broken
rc=0; bash "$sweep" wait run_broken > wait_broken.log 2>&1 || rc=$?
cat wait_broken.log
[ $rc = 1 ] || fail "sweep wait should exit 1 after a failed job (got $rc)"
tj=$(awk '$1 == "train" {print $2}' run_broken/jobs.txt); pj=$(awk '$1 == "posterior" {print $2}' run_broken/jobs.txt)
grep -q "train job ${tj}_1 (cell vp_mask_0.02) FAILED (exit 1:0): see $work/run_broken/logs/train-${tj}_1.out" wait_broken.log \
  || fail "status does not name the failed training job, its cell and log"
grep -q "mask_prob" "run_broken/logs/train-${tj}_1.out" || fail "the failed job's log does not hold pdediff's error"
grep -q "posterior job ${pj}_1 (cell vp_mask_0.02) was cancelled before it ran" wait_broken.log || fail "the dependent sampling job is not reported cancelled"
grep -q "postprocess job .* was cancelled before it ran" wait_broken.log || fail "the postprocess job is not reported cancelled"
[ -s run_broken/posts/vp_0.02.post.h5 ] || fail "the healthy cell should finish"
[ ! -e run_broken/posts/vp_mask_0.02.post.h5 ] && [ ! -e run_broken/report.md ] || fail "a job downstream of the failure ran"
ls run_broken/logs | grep -q "^posterior-${pj}_1" && fail "the cancelled sampling job wrote a log"
grep -q "train vp_mask_0.02: training failed" run_broken/FAILED || fail "RUN/FAILED does not name the cell"

# --- CELLS: a subset of the cells, submitted as a sparse array -----------------------------------
conf sel.conf FORMS=vp LEVELS=0.02 MASK_FORMS=vp MASK_LEVELS=0.02 EXPERIMENT=sel
mkdir -p run_sel/data; cp run_quick/data/dataset.h5 run_sel/data/
CELLS="vp_mask_0.02" bash "$sweep" submit sel.conf run_sel | tee submit_sel.log
grep -q "train [0-9]* (array 1)" submit_sel.log || fail "CELLS: the training array should be task 1 only"
bash "$sweep" wait run_sel > wait_sel.log 2>&1 || { cat wait_sel.log; fail "CELLS: the selected cell's jobs did not all complete"; }
[ -s run_sel/posts/vp_mask_0.02.post.h5 ] && [ -s run_sel/report.md ] || fail "CELLS: the selected cell was not run through to the report"
[ ! -e run_sel/models/vp_0.02.model.h5 ] || fail "CELLS: a cell that was not selected was trained"
echo "slurm_cluster: CELLS submitted the selected cell alone"

# --- a step that fails to launch ----------------------------------------------------------------
# srun returns 0 when its step never starts; the job must still fail, name the missing output and
# leave nothing under the final name. The failure is SLURM's own: the pmix plugin cannot make the
# step's directory when one of that name is already in TmpFS (as one an earlier step left is).
conf launch.conf EXPERIMENT=launch
bash "$sweep" init launch.conf run_launch > /dev/null
jid=$(sbatch --parsable --hold --ntasks=1 --export=ALL,PDEDIFF_ROOT="$root" \
      --output="$work/run_launch/logs/generate-%j.out" "$root/jobscripts/generate.sbatch" run_launch)
mkdir -p "$work/cluster/tmp/spmix_appdir_$(id -u)_$jid.0"
scontrol release "$jid"
t0=$(date +%s)
while squeue -h -j "$jid" | grep -q .; do [ $(( $(date +%s) - t0 )) -lt 300 ] || fail "the launch-failure job did not end in 5 minutes"; sleep 2; done
# accounting is written asynchronously: sacct may still say PENDING for a while
for _ in $(seq 1 30); do state=$(sacct -n -X -P -j "$jid" -o State | head -1)
  case "$state" in ""|PENDING|RUNNING|COMPLETING) sleep 2 ;; *) break ;; esac; done
log=run_launch/logs/generate-$jid.out
cat "$log"
grep -q "launch failed" "$log" || fail "the step was expected to fail to launch (srun's 'launch failed'), see $log"
[ "$state" = FAILED ] || fail "a job whose step never launched ended $state, not FAILED"
grep -q "was not written" run_launch/FAILED || fail "run_launch/FAILED does not say the output was not written"
[ ! -e run_launch/data/dataset.h5 ] || fail "a data set was left by a job whose ranks never ran"
echo "slurm_cluster: a step that failed to launch (srun status 0) failed its job: $(cat run_launch/FAILED)"

# --- time limit: requeue and resume -------------------------------------------------------------
# Training long enough that the signal (sent 60-90 s into a 2-minute job) comes while it trains:
# about 120 s at this machine's training rate, measured on the quick sweep's vp_0.02 cell. Should
# the machine have sped up so much that training ended before the signal (no requeue), the run is
# repeated with twice the epochs: the checks below always need a real requeue.
rate=$(sed -n 's/^train: done: .* \([0-9]*\) samples\/s.*/\1/p' run_quick/logs/train-*_3.out | tail -1)
epochs=$(( rate * 120 / 270 )); [ "$epochs" -ge 3000 ] || epochs=3000
conf requeue.conf FORMS=vp LEVELS=0.02 'MASK_FORMS=""' EXPERIMENT=requeue
bash "$sweep" init requeue.conf run_requeue
cp run_quick/data/dataset.h5 run_requeue/data/
for try in 1 2 3; do
  rm -f run_requeue/models/*
  jid=$(sbatch --parsable --array=0 --ntasks=1 --time=2 --signal=B:USR1@30 --export=ALL,PDEDIFF_ROOT="$root" \
        --output="$work/run_requeue/logs/train-%A_%a.out" "$root/jobscripts/train.sbatch" run_requeue -train_epochs "$epochs")
  echo "slurm_cluster: training job $jid: $epochs epochs (~120 s at $rate samples/s) under a 2-minute limit"
  t0=$(date +%s)
  while squeue -h -j "$jid" | grep -q .; do
    [ $(( $(date +%s) - t0 )) -lt 1200 ] || fail "the requeued training did not finish in 20 minutes"
    sleep 5
  done
  sacct -n -X -D -P -j "$jid" -o JobID,State,Start,End | tee sacct_requeue.txt
  grep -q "|REQUEUED|" sacct_requeue.txt && break
  echo "slurm_cluster: training finished before the signal (no requeue): again with twice the epochs"
  epochs=$(( epochs * 2 ))
done
log=run_requeue/logs/train-${jid}_0.out
grep -v "^train: step" "$log"
grep -q "|REQUEUED|" sacct_requeue.txt || fail "sacct shows no requeue: the signal did not reach training before the limit"
tail -1 sacct_requeue.txt | grep -q "|COMPLETED|" || fail "the requeued training job did not complete"
grep -q "train: interrupted by SIGTERM/SIGUSR1 at step" "$log" || fail "training did not checkpoint on the signal"
step=$(sed -n 's/^train: resumed from .* at step \([0-9]*\)$/\1/p' "$log" | head -1)
[ -n "$step" ] && [ "$step" -gt 0 ] || fail "the requeued job did not resume from a checkpoint"
/usr/bin/python3 - run_requeue/models/vp_0.02.model.h5 "$epochs" <<EOF
import sys, h5py
f = h5py.File(sys.argv[1], "r")
steps, want = int(f.attrs["train_steps"]), 3 * int(sys.argv[2])
assert steps == want, f"model has {steps} steps, expected {want}"
assert int(f.attrs["slurm_restart_count"].decode()) >= 1, "the model does not record its requeues"
print(f"slurm_cluster: resumed at step $step, completed all {steps} steps after {f.attrs['slurm_restart_count'].decode()} requeue(s)")
EOF

# --- scancel is not a time limit: the job stays cancelled, its checkpoint written ---------------
bash "$sweep" init requeue.conf run_cancel
cp run_quick/data/dataset.h5 run_cancel/data/
jid=$(sbatch --parsable --array=0 --ntasks=1 --time=10 --signal=B:USR1@120 --export=ALL,PDEDIFF_ROOT="$root" \
      --output="$work/run_cancel/logs/train-%A_%a.out" "$root/jobscripts/train.sbatch" run_cancel -train_epochs 100000 -train_log_interval 2)
log=run_cancel/logs/train-${jid}_0.out
for _ in $(seq 1 120); do grep -q "^train: step" "$log" 2>/dev/null && break; sleep 1; done
grep -q "^train: step" "$log" || fail "the training job to cancel did not start training"
scancel "$jid"
for _ in $(seq 1 60); do [ -z "$(squeue -h -j "$jid")" ] && break; sleep 1; done
sleep 5
[ -z "$(squeue -h -j "$jid")" ] || fail "the cancelled training job is queued again (requeued after scancel)"
sacct -n -X -D -P -j "$jid" -o JobID,State | tee sacct_cancel.txt
grep -q "REQUEUED" sacct_cancel.txt && fail "scancel requeued the training job"
grep -q "|CANCELLED" sacct_cancel.txt || fail "the cancelled job is not CANCELLED in sacct"
grep -q "train: interrupted by SIGTERM/SIGUSR1" "$log" && [ -s run_cancel/models/vp_0.02.ckpt.h5 ] || fail "the cancelled training wrote no checkpoint"
echo "slurm_cluster: scancel left the job CANCELLED with its checkpoint, not requeued"
# --- sampling warned before its time limit: requeued, resumes from its checkpoint ---------------
# scancel --batch --signal=USR1 sends the batch script what --signal=B:USR1@120 sends before the
# limit, without waiting for one. The job checkpoints, requeues itself and samples only the cases
# left; its file equals an uninterrupted run's (the same script run locally) bit for bit. The ODE
# alone keeps it short (the samplers' checkpoints are tested in post_cli). Should sampling end
# before the signal lands, the run is repeated with four times the samples.
bash "$sweep" init requeue.conf run_postrq
bash "$sweep" init requeue.conf run_postref
for r in run_postrq run_postref; do cp run_quick/data/dataset.h5 $r/data/; cp run_quick/models/vp_0.02.model.h5 $r/models/; done
for ns in 1000 4000 16000; do
  rm -f run_postrq/posts/* run_postrq/logs/*
  pargs="-posterior_ntest 30 -posterior_nsamples $ns -posterior_samplers ode -posterior_case_batch 1 -posterior_mcmc 0 -posterior_log_interval 1e-9 -posterior_sync_interval 1"
  # shellcheck disable=SC2086
  jid=$(sbatch --parsable --array=0 --ntasks=1 --time=10 --export=ALL,PDEDIFF_ROOT="$root" \
        --output="$work/run_postrq/logs/posterior-%A_%a.out" "$root/jobscripts/posterior.sbatch" run_postrq $pargs)
  log=run_postrq/logs/posterior-${jid}_0.out
  for _ in $(seq 1 240); do grep -q "^posterior ode: [0-9]* of 30 cases" "$log" 2>/dev/null && break; sleep 0.5; done
  grep -q "^posterior ode: [0-9]* of 30 cases" "$log" || fail "the sampling job did not start sampling"
  scancel --batch --signal=USR1 "${jid}_0"
  t0=$(date +%s)
  while [ -n "$(squeue -h -j "$jid")" ]; do
    [ $(( $(date +%s) - t0 )) -lt 900 ] || fail "the requeued sampling job did not finish in 15 minutes"
    sleep 2
  done
  sacct -n -X -D -P -j "$jid" -o JobID,State | tee sacct_postrq.txt
  grep -q "|REQUEUED" sacct_postrq.txt && break
  echo "slurm_cluster: sampling finished before the signal (no requeue): again with $(( ns * 4 )) samples per case"
done
grep -q "|REQUEUED" sacct_postrq.txt || fail "sacct shows no requeue of the sampling job"
tail -1 sacct_postrq.txt | grep -q "|COMPLETED" || fail "the requeued sampling job did not complete"
grep -q "posterior: interrupted by SIGTERM/SIGUSR1; checkpoint .*vp_0.02.ckpt.h5 holds ode" "$log" || fail "sampling did not checkpoint on the signal"
grep -q "posterior: resuming from the checkpoint" "$log" || fail "the requeued sampling job did not resume from its checkpoint"
[ -s run_postrq/posts/vp_0.02.post.h5 ] && [ ! -e run_postrq/posts/vp_0.02.ckpt.h5 ] || fail "the resumed job should write its file and remove the checkpoint"
# shellcheck disable=SC2086
PDEDIFF_TASK=0 PDEDIFF_LOG=local bash "$root/jobscripts/posterior.sbatch" run_postref $pargs > postref.log 2>&1 || { cat postref.log; fail "the uninterrupted local run failed"; }
/usr/bin/python3 - run_postref/posts/vp_0.02.post.h5 run_postrq/posts/vp_0.02.post.h5 <<'EOF'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = []
a.visit(lambda n: names.append(n) if isinstance(a[n], h5py.Dataset) else None)
diff = [n for n in names if not np.array_equal(a[n][()], b[n][()])]
assert not diff and len(names) > 10, f"the requeued job's file differs from the uninterrupted run's in {diff}"
assert int(b.attrs["slurm_restart_count"].decode()) >= 1, "the file does not record the requeue"
print(f"slurm_cluster: sampling requeued at USR1 and resumed: all {len(names)} datasets equal the uninterrupted run's")
EOF
echo "slurm_cluster: all checks passed"
