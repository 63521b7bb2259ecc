# Shared by the stage scripts (generate/train/posterior/postprocess .sbatch) and the sweep driver.
# A run directory holds one experiment, self-contained:
#   RUN/sweep.conf           the experiment (copied from inputs/sweep_*.conf at init)
#   RUN/inputs/*.opts         the options files it uses, copied at init (later edits of inputs/ do not leak in)
#   RUN/cells.txt             one line per training/sampling cell: TAG FORM LEVEL [extra train options]
#   RUN/data/dataset.h5       pdediff generate
#   RUN/models/TAG.model.h5   pdediff train (checkpoint TAG.ckpt.h5)
#   RUN/posts/TAG.post.h5     pdediff posterior
#   RUN/figures/, RUN/report.md   postprocess
#   RUN/logs/STAGE-JOB_TASK.out   job logs; RUN/jobs.txt the submitted job ids; RUN/FAILED on failure
# shellcheck shell=bash

pd_die() { echo "$*" >&2; exit 2; }

# pd_once NP OUTPUT LOG DONE FAIL cmd...: the plain-mpirun scripts' (advdiff_sweep.sh,
# skip_calibrate.sh) step: nothing if OUTPUT exists (a rerun continues); else cmd with its output in
# LOG, then "DONE in N s on NP rank(s)", or on failure "FAIL (status S): see LOG" and exit 1.
pd_once() {
  local np=$1 out=$2 log=$3 done=$4 fail=$5 t1 rc=0; shift 5
  [ -e "$out" ] && return 0
  t1=$(date +%s)
  "$@" > "$log" 2>&1 || rc=$?
  [ $rc -eq 0 ] || { echo "$fail (status $rc): see $log" >&2; exit 1; }
  echo "$done in $(( $(date +%s) - t1 )) s on $np rank(s)"
}

# The project root: the scripts' own directory when run from the tree; inside a SLURM job the script
# is a copy in the spool directory, so the sweep driver exports PDEDIFF_ROOT (else the submit directory).
pd_find_root() {
  local d
  for d in "${PDEDIFF_ROOT:-}" "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." 2>/dev/null && pwd)" "${SLURM_SUBMIT_DIR:-}"; do
    if [ -n "$d" ] && [ -r "$d/jobscripts/common.sh" ]; then PDEDIFF_ROOT=$(cd "$d" && pwd); export PDEDIFF_ROOT; return 0; fi
  done
  pd_die "pdediff jobscripts: cannot find the project (jobscripts/common.sh): set PDEDIFF_ROOT=/path/to/pdediff or submit from it"
}

# pd_load_run RUN: checks the run directory and reads its experiment.
pd_load_run() {
  [ -n "${1:-}" ] || pd_die "usage: $(basename "$0") RUN_DIR [pdediff options...] (make RUN_DIR with: bash jobscripts/sweep.sh init CONF RUN_DIR)"
  [ -r "$1/sweep.conf" ] || pd_die "$1 is not a run directory (no $1/sweep.conf): make it with bash jobscripts/sweep.sh init inputs/sweep_quick.conf $1"
  RUN=$(cd "$1" && pwd)
  # shellcheck disable=SC1091
  . "$RUN/sweep.conf"
  : "${EXPERIMENT:=$(basename "$RUN")}" "${GENERATE_ARGS:=}" "${TRAIN_ARGS:=}" "${POST_ARGS:=}" "${MASK_FORMS:=}"
  PDEDIFF=${PDEDIFF:-$PDEDIFF_ROOT/build/app/pdediff}
  [ -x "$PDEDIFF" ] || pd_die "$PDEDIFF not built (bash jobscripts/quickstart.sh run builds it; or set PDEDIFF=/path/to/pdediff)"
  mkdir -p "$RUN/data" "$RUN/models" "$RUN/posts" "$RUN/logs" "$RUN/figures"
  # one thread per rank; Open MPI refuses root without the two variables
  export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
}

# pd_launcher NP: the MPI launcher words: srun inside a SLURM allocation (every task of the job;
# the site's MpiDefault plugin unless PDEDIFF_SRUN_MPI names one, e.g. pmix or pmi2),
# mpirun -n NP otherwise, PDEDIFF_LAUNCHER if set. pd_launch NP cmd...: runs cmd with it.
pd_launcher() {
  if [ -n "${PDEDIFF_LAUNCHER:-}" ]; then echo "$PDEDIFF_LAUNCHER"
  elif [ -n "${SLURM_JOB_ID:-}" ]; then echo "srun${PDEDIFF_SRUN_MPI:+ --mpi=$PDEDIFF_SRUN_MPI}"
  else echo "mpirun -n $1 --oversubscribe"; fi
}
pd_launch() {
  local np=$1; shift
  # shellcheck disable=SC2046
  $(pd_launcher "$np") "$@"
}

# pd_job_label: how a job names itself in messages (array job_task, plain job, or local).
pd_job_label() {
  if [ -n "${SLURM_ARRAY_JOB_ID:-}" ]; then echo "job ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
  elif [ -n "${SLURM_JOB_ID:-}" ]; then echo "job $SLURM_JOB_ID"
  else echo "local run"; fi
}

# pd_fail STAGE WHAT STATUS: records the failure in RUN/FAILED (the driver's status names it) and exits.
pd_fail() {
  local log=${PDEDIFF_LOG:-}
  if [ -z "$log" ] && [ -n "${SLURM_JOB_ID:-}" ]; then
    log=$(scontrol show job "${SLURM_JOB_ID}" 2>/dev/null | sed -n 's/^ *StdOut=//p' | head -1)
  fi
  local msg="$1: $2 failed (status $3) in $(pd_job_label): see ${log:-its job log}"
  echo "$msg" >> "$RUN/FAILED"
  echo "$msg" >&2
  exit 1
}

# pd_check_output STAGE WHAT FILE: after a launcher that returned 0, fail unless FILE was written.
# srun returns 0 when a step fails to launch (SLURM 22.05: "task 0 launch failed: Unspecified
# error", e.g. the MPI plugin could not set up the step), so status 0 alone does not mean the ranks
# ran; pdediff writes its outputs under their final names only when complete.
pd_check_output() {
  [ -s "$3" ] || pd_fail "$1" "$2 (the launcher returned 0 but $3 was not written: if srun printed \"launch failed\" above, the ranks never started; see the node's slurmd log)" 1
}

# pd_cell N: sets TAG FORM LEVEL CELL_ARGS from line N (0-based) of RUN/cells.txt.
# pd_zero_args FORM: the noise-free cell's own training options of an experiment already sourced:
# ZERO_ARGS, then ZERO_ARGS_<FORM> (ZERO_ARGS_VP, ZERO_ARGS_XI2) for that formulation's alone.
pd_zero_args() {
  local zf="ZERO_ARGS_${1^^}" z=${ZERO_ARGS:-}
  [ -z "${!zf:-}" ] || z="${z:+$z }${!zf}"
  echo "$z"
}

pd_cell() {
  local line
  line=$(sed -n "$(( $1 + 1 ))p" "$RUN/cells.txt")
  [ -n "$line" ] || pd_die "no cell $1 in $RUN/cells.txt ($(wc -l < "$RUN/cells.txt") cells: array indices 0..$(( $(wc -l < "$RUN/cells.txt") - 1 )))"
  read -r TAG FORM LEVEL CELL_ARGS <<< "$line"
}

# pd_task: sets TASK, the array index of this job (SLURM array, or PDEDIFF_TASK from the local runner).
pd_task() {
  TASK=${SLURM_ARRAY_TASK_ID:-${PDEDIFF_TASK:-}}
  [ -n "$TASK" ] || pd_die "$(basename "$0"): no cell index: submit it as an array (sbatch --array=0-$(( $(wc -l < "$RUN/cells.txt") - 1 )) ...) or set PDEDIFF_TASK=N"
  [[ "$TASK" =~ ^[0-9]+$ ]] || pd_die "$(basename "$0"): cell index '$TASK' is not a non-negative integer"
}

# pd_run_resumable STAGE WHAT CKPT NP cmd...: a stage's MPI run (pd_launcher NP) that survives time
# limits. STAGE names it in messages ("train ve_0.01"), WHAT is what fails ("training"), CKPT its
# checkpoint. The launcher runs in the background (its PID in PD_STEP) so a trap runs at once; it
# passes SIGUSR1/SIGTERM to srun/mpirun, which forward them to every rank; pdediff then writes CKPT
# and exits with status 3 (PDEDIFF_EXIT_INTERRUPTED). USR1 is SLURM's warning before the time limit
# (#SBATCH --signal=B:USR1@120): the job is requeued and resumes from CKPT (after any failure that
# follows the warning: it is the signal's doing). TERM is scancel or the limit itself: the
# checkpoint is written but the job is not requeued. Any other failure goes to pd_fail.
# Either signal reaches the launcher as USR1: mpirun answers a TERM by killing every rank after
# odls_base_sigkill_timeout (1 s), before pdediff can write its checkpoint, while it forwards USR1
# as it is (srun forwards both); pdediff treats the two alike. The traps are set outside SLURM too,
# so `kill -TERM` of a local stage script (sweep.sh local) stops it with a checkpoint.
pd_on_signal() { PD_SIGNALLED=$1; [ -z "${PD_STEP:-}" ] || kill -USR1 "$PD_STEP" 2>/dev/null || true; }
pd_run_resumable() {
  local stage=$1 what=$2 ckpt=$3 np=$4 st=0 id
  shift 4
  PD_SIGNALLED="" PD_STEP=""
  trap 'pd_on_signal USR1' USR1; trap 'pd_on_signal TERM' TERM
  # shellcheck disable=SC2046
  $(pd_launcher "$np") "$@" &
  PD_STEP=$!
  [ -z "$PD_SIGNALLED" ] || pd_on_signal "$PD_SIGNALLED"   # a signal that came before the launch
  while kill -0 "$PD_STEP" 2>/dev/null; do wait "$PD_STEP" || true; done   # a trapped signal interrupts wait
  wait "$PD_STEP" || st=$?                                                  # the launcher's own exit status
  trap - USR1 TERM
  if [ "$PD_SIGNALLED" = USR1 ] && [ $st -ne 0 ]; then
    if [ -n "${SLURM_JOB_ID:-}" ] && [ "${SLURM_RESTART_COUNT:-0}" -lt "${MAX_REQUEUE:-50}" ]; then
      id=${SLURM_ARRAY_JOB_ID:+${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}}
      echo "$stage: stopped before the time limit (status $st): requeueing ${id:-$SLURM_JOB_ID}, it resumes from $ckpt"
      scontrol requeue "${id:-$SLURM_JOB_ID}" || pd_fail "$stage" "scontrol requeue" $?
      sleep 60 &   # SLURM ends this attempt now; nothing after this line runs in it
      wait $! || true
      exit 0
    fi
    pd_fail "$stage" "$what (stopped before the time limit after ${SLURM_RESTART_COUNT:-0} requeues, MAX_REQUEUE; resubmit to resume from the checkpoint)" $st
  fi
  [ $st -ne 3 ] || pd_fail "$stage" "$what (interrupted by SIG${PD_SIGNALLED:-TERM/USR1}, checkpoint $ckpt; resubmit to resume)" $st
  [ $st -eq 0 ] || pd_fail "$stage" "$what" $st
}
