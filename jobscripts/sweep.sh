#!/usr/bin/env bash
# The paper reproduction (Sec. 5.2) as one sweep of jobs, on SLURM or on a workstation.
#   bash jobscripts/sweep.sh submit inputs/sweep_paper.conf runs/paper   # SLURM: the whole chain
#   bash jobscripts/sweep.sh local  inputs/sweep_quick.conf runs/quick   # same scripts, mpirun, in order
#   bash jobscripts/sweep.sh status runs/paper                           # job states; names failures
#   bash jobscripts/sweep.sh wait   runs/paper                           # until done, then status
#   bash jobscripts/sweep.sh init   CONF RUN                             # only make the run directory
#   CELLS="ve_0.2 vp_0.01" bash jobscripts/sweep.sh local|submit CONF RUN # only those cells
# submit: generate -> array of training jobs (formulations x noise levels, then the mask models)
#   -> array of sampling jobs, task i after training task i (--dependency=aftercorr) -> postprocess
#   after all sampling (afterok). A failed job cancels everything downstream of it
#   (--kill-on-invalid-dep); status names the failed job and its log. Training jobs requeue
#   themselves at their time limit and resume from the checkpoint.
# Extra sbatch arguments for every job (partition, account, qos): SBATCH_EXTRA="--partition=... ".
# A run directory that already has results keeps them: resubmitting skips finished cells.
# CELLS="ve_0.2 vp_0.01": only those cells of the experiment (tags as in RUN/cells.txt) are
# trained and sampled (generate and postprocess run as always; the report lists the cells not run
# as missing), e.g. to redo two cells of a run; an unknown tag is refused before anything runs.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/common.sh"
pd_find_root
usage() { echo "usage: $0 init|submit|local CONF RUN_DIR   or   $0 status|wait RUN_DIR" >&2; exit 2; }
cmd=${1:-}; [ -n "$cmd" ] || usage; shift

# init CONF RUN: checks the experiment, snapshots it and its options files, writes the cell list.
init_run() {
  local conf=$1 run=$2 f extra
  [ -r "$conf" ] || pd_die "sweep: experiment file $conf not found (see inputs/sweep_paper.conf, inputs/sweep_quick.conf)"
  (
    # shellcheck disable=SC1090
    . "$conf"
    for v in DATA_OPTS TRAIN_OPTS POST_OPTS FORMS LEVELS NP_GENERATE NP_TRAIN NP_POST; do
      [ -n "${!v:-}" ] || pd_die "sweep: $conf does not set $v (every experiment sets DATA_OPTS TRAIN_OPTS POST_OPTS FORMS LEVELS NP_GENERATE NP_TRAIN NP_POST)"
    done
    for f in $FORMS ${MASK_FORMS:-}; do
      case "$f" in ve|vp|xi1|xi2|xi3|xi4) ;; *) pd_die "sweep: $conf: unknown formulation '$f' in FORMS/MASK_FORMS: use ve, vp or xiP (P = 1..4)" ;; esac
    done
    # ZERO_ARGS_<FORM> for a formulation FORMS does not list would be dropped without a word (a typo)
    for v in $(compgen -v ZERO_ARGS_); do
      ok=""; for f in $FORMS; do [ "$v" != "ZERO_ARGS_${f^^}" ] || ok=1; done
      [ -n "$ok" ] || pd_die "sweep: $conf sets $v, which names no formulation of FORMS (\"$FORMS\"): write ZERO_ARGS_ and one of them in upper case (ZERO_ARGS_VE, ZERO_ARGS_VP, ZERO_ARGS_XI2)"
    done
    for l in $LEVELS ${MASK_LEVELS:-}; do
      [[ "$l" =~ ^[0-9]*[.]?[0-9]+$ ]] || pd_die "sweep: $conf: noise level '$l' is not a number (LEVELS/MASK_LEVELS: fractions of the concentration range, e.g. 0 0.01 0.02)"
    done
    for f in "$DATA_OPTS" "$TRAIN_OPTS" "$POST_OPTS"; do
      [ -r "$PDEDIFF_ROOT/$f" ] || [ -r "$f" ] || pd_die "sweep: $conf: options file $f not found"
    done
  ) || exit 2
  if [ -e "$run/sweep.conf" ] && ! cmp -s "$conf" "$run/sweep.conf"; then
    pd_die "sweep: $run already holds another experiment ($run/sweep.conf differs from $conf): use a new run directory"
  fi
  mkdir -p "$run/inputs" "$run/logs"
  # shellcheck disable=SC1090
  . "$conf"
  for f in "$DATA_OPTS" "$TRAIN_OPTS" "$POST_OPTS"; do
    if [ -r "$PDEDIFF_ROOT/$f" ]; then f=$PDEDIFF_ROOT/$f; fi
    local snap; snap="$run/inputs/$(basename "$f")"
    if [ -e "$snap" ] && ! cmp -s "$f" "$snap"; then
      pd_die "sweep: $f changed since $run was made (its copy $snap is what the finished cells used): use a new run directory, or copy it over $snap deliberately"
    fi
    cp "$f" "$snap.tmp" && mv "$snap.tmp" "$snap"
  done
  cp "$conf" "$run/sweep.conf"
  {
    # ZERO_ARGS: the noise-free cells' own training options (the true posterior there is ~0.002
    # prior std, under the network's resolution, which falls with longer low-rate training), then
    # ZERO_ARGS_<FORM> (ZERO_ARGS_VE, ZERO_ARGS_VP, ZERO_ARGS_XI2, ...) for that formulation's alone
    for form in $FORMS; do for level in $LEVELS; do
      extra=""; [[ ! "$level" =~ ^0*[.]?0*$ ]] || extra=$(pd_zero_args "$form")
      cell_line "${form}_$level" "$form" "$level" "$extra"
    done; done
    for form in ${MASK_FORMS:-}; do for level in ${MASK_LEVELS:-$LEVELS}; do
      cell_line "${form}_mask_$level" "$form" "$level" "${MASK_ARGS:--mask_prob 0.7 -mask_copies 4}"; done; done
  } > "$run/cells.txt.tmp"
  mv "$run/cells.txt.tmp" "$run/cells.txt"
  echo "sweep: $run: $(wc -l < "$run/cells.txt") cells ($(awk '{print $1}' "$run/cells.txt" | tr '\n' ' '))"
}
# cell_line TAG FORM LEVEL [EXTRA]: one line of cells.txt (xiP becomes -sde_type xi -sde_p P)
cell_line() { case "$2" in xi*) echo "$1 xi $3 -sde_p ${2#xi} ${4:-}" ;; *) echo "$1 $2 $3 ${4:-}" ;; esac; }

ncells() { wc -l < "$RUN/cells.txt"; }

# select_cells: SEL = the array indices to run, every cell or those CELLS names (in cells.txt order).
select_cells() {
  local tag all
  all=$(awk '{print $1}' "$RUN/cells.txt" | paste -sd' ' -)
  for tag in ${CELLS:-}; do
    case " $all " in *" $tag "*) ;; *) pd_die "sweep: CELLS: no cell '$tag' in this experiment (its cells: $all); use those tags" ;; esac
  done
  mapfile -t SEL < <(awk -v want=" ${CELLS:-} " 'want ~ /^ *$/ || index(want, " " $1 " ") {print NR - 1}' "$RUN/cells.txt")
  [ -z "${CELLS:-}" ] || echo "sweep: CELLS: ${#SEL[@]} of $(ncells) cells ($(awk -v want=" $CELLS " 'index(want, " " $1 " ") {print $1}' "$RUN/cells.txt" | paste -sd' ' -))"
}

# no_jobs_running RUN: refuse to touch a run directory whose jobs are still queued or running
no_jobs_running() {
  [ -s "$1/jobs.txt" ] && command -v squeue > /dev/null || return 0
  if squeue -h -j "$(awk '{print $2}' "$1/jobs.txt" | paste -sd,)" 2>/dev/null | grep -q .; then
    pd_die "sweep: jobs of $1 are still queued or running ($1/jobs.txt): wait for them or scancel them first"
  fi
}

# submit: the dependency chain. Every job: its log under RUN/logs, PDEDIFF_ROOT exported.
submit_run() {
  command -v sbatch > /dev/null || pd_die "sweep: sbatch not found: no SLURM here; run the same sweep with: $0 local CONF RUN"
  local common gen train post pp array
  array=$(IFS=,; echo "${SEL[*]}")   # 0,1,...,n-1 or the cells CELLS names
  rm -f "$RUN/FAILED"
  # a rejected submission (bad partition, limits) cancels the jobs already queued: no half chain
  queued=""   # global: the EXIT trap runs after this function's locals are gone
  trap 'st=$?; if [ $st -ne 0 ] && [ -n "${queued:-}" ]; then scancel ${queued//,/ } 2>/dev/null || true;
        echo "sweep: a submission failed (sbatch above): cancelled the jobs already queued ($queued)" >&2; fi' EXIT
  # shellcheck disable=SC2206
  common=(--parsable --kill-on-invalid-dep=yes --export=ALL,PDEDIFF_ROOT="$PDEDIFF_ROOT" ${SBATCH_EXTRA:-})
  gen=$(sbatch "${common[@]}" --job-name="pd-gen-$EXPERIMENT" --ntasks="$NP_GENERATE" ${TIME_GENERATE:+--time=$TIME_GENERATE} \
    --output="$RUN/logs/generate-%j.out" "$here/generate.sbatch" "$RUN"); queued=$gen
  train=$(sbatch "${common[@]}" --job-name="pd-train-$EXPERIMENT" --array="$array" --ntasks="$NP_TRAIN" \
    ${TIME_TRAIN:+--time=$TIME_TRAIN} ${SIGNAL_TRAIN:+--signal=$SIGNAL_TRAIN} --dependency="afterok:$gen" \
    --output="$RUN/logs/train-%A_%a.out" "$here/train.sbatch" "$RUN"); queued+=",$train"
  post=$(sbatch "${common[@]}" --job-name="pd-post-$EXPERIMENT" --array="$array" --ntasks="$NP_POST" \
    ${TIME_POST:+--time=$TIME_POST} ${SIGNAL_POST:+--signal=$SIGNAL_POST} --dependency="aftercorr:$train" \
    --output="$RUN/logs/posterior-%A_%a.out" "$here/posterior.sbatch" "$RUN"); queued+=",$post"
  pp=$(sbatch "${common[@]}" --job-name="pd-pp-$EXPERIMENT" --ntasks=1 ${TIME_POSTPROCESS:+--time=$TIME_POSTPROCESS} \
    --dependency="afterok:$post" --output="$RUN/logs/postprocess-%j.out" "$here/postprocess.sbatch" "$RUN")
  trap - EXIT
  printf 'generate %s\ntrain %s\nposterior %s\npostprocess %s\n' "$gen" "$train" "$post" "$pp" > "$RUN/jobs.txt"
  echo "sweep: submitted generate $gen, train $train (array $array), posterior $post (array, task i after train task i), postprocess $pp; logs in $RUN/logs"
}

# local: the same stage scripts in order with mpirun; stops at the first failure.
local_run() {
  local i st log
  rm -f "$RUN/FAILED"
  run_stage() { # name task script
    log="$RUN/logs/$1-local${2:+_$2}.out"
    echo "sweep: $1${2:+ cell $2} -> $log"
    PDEDIFF_TASK=$2 PDEDIFF_LOG=$log bash "$here/$3" "$RUN" >> "$log" 2>&1 && return 0
    st=$?
    echo "sweep: stage $1${2:+ cell $2 ($(sed -n "$(($2 + 1))p" "$RUN/cells.txt" | awk '{print $1}'))} failed (status $st): see $log; nothing downstream runs" >&2
    exit 1
  }
  run_stage generate "" generate.sbatch
  for i in "${SEL[@]}"; do
    run_stage train "$i" train.sbatch
    run_stage posterior "$i" posterior.sbatch
  done
  run_stage postprocess "" postprocess.sbatch
  echo "sweep: done: report $RUN/report.md"
}

# status: every job's state (sacct when accounting runs, else scontrol); failures named with logs.
status_run() {
  [ -s "$RUN/jobs.txt" ] || pd_die "sweep: $RUN has no submitted jobs ($RUN/jobs.txt): submit with $0 submit CONF $RUN"
  local ids bad=0 running=0 stage id line jid state code log
  ids=$(awk '{print $2}' "$RUN/jobs.txt" | paste -sd,)
  if sacct -n -X -P -j "$ids" -o JobID,State,ExitCode > "$RUN/logs/states.txt.tmp" 2>/dev/null && [ -s "$RUN/logs/states.txt.tmp" ]; then
    mv "$RUN/logs/states.txt.tmp" "$RUN/logs/states.txt"
  else
    # no accounting: the controller's view (jobs stay visible MinJobAge seconds after they end)
    rm -f "$RUN/logs/states.txt.tmp"
    for id in ${ids//,/ }; do
      scontrol -o show job "$id" 2>/dev/null | sed -n 's/.*JobId=\([0-9]*\) .*ArrayJobId=\([0-9]*\) ArrayTaskId=\([0-9]*\).*JobState=\([A-Z_]*\).*ExitCode=\([0-9:]*\).*/\2_\3|\4|\5/p;
        /ArrayJobId/!s/.*JobId=\([0-9]*\) .*JobState=\([A-Z_]*\).*ExitCode=\([0-9:]*\).*/\1|\2|\3/p'
    done > "$RUN/logs/states.txt"
  fi
  # array tasks that never started come as one record, 12_[0-4] (sacct keeps the array's original
  # range even after some tasks ran, %limit included): expand it into the tasks without their own record
  awk -F'|' '{ rec[NR] = $0; id[NR] = $1; if ($1 !~ /\[/) seen[$1] = 1 }
    END { for (i = 1; i <= NR; i++) {
            if (id[i] !~ /\[/) { print rec[i]; continue }
            split(id[i], p, "_"); r = p[2]; gsub(/[\[\]]/, "", r); sub(/%.*/, "", r)
            rest = substr(rec[i], length(id[i]) + 1); n = split(r, parts, ",")
            for (k = 1; k <= n; k++) { m = split(parts[k], ab, "-"); lo = ab[1]; hi = (m > 1 ? ab[2] : ab[1])
              for (t = lo + 0; t <= hi + 0; t++) if (!((p[1] "_" t) in seen)) print p[1] "_" t rest } } }' \
    "$RUN/logs/states.txt" > "$RUN/logs/states.txt.tmp" && mv "$RUN/logs/states.txt.tmp" "$RUN/logs/states.txt"
  while IFS='|' read -r jid state code; do
    stage=$(awk -v j="${jid%%_*}" '$2 == j {print $1}' "$RUN/jobs.txt")
    case "$state" in
      COMPLETED) ;;
      PENDING|RUNNING|REQUEUED|CONFIGURING|COMPLETING|SUSPENDED|RESIZING) running=$((running + 1)) ;;
      *)
        bad=$((bad + 1))
        log="$RUN/logs/$stage-$jid.out" line=""
        if [[ "$jid" =~ _([0-9]+)$ ]]; then line=" (cell $(sed -n "$(( BASH_REMATCH[1] + 1 ))p" "$RUN/cells.txt" | awk '{print $1}'))"; fi
        if [ "$state" = CANCELLED ] && [ "$code" = "0:0" ] && [ ! -e "$log" ]; then
          echo "sweep: $stage job $jid$line was cancelled before it ran (a job it depends on failed)"
        else
          echo "sweep: $stage job $jid$line $state (exit $code): see $log"
        fi ;;
    esac
  done < "$RUN/logs/states.txt"
  [ ! -s "$RUN/FAILED" ] || { echo "sweep: failures reported by the jobs ($RUN/FAILED):"; sed 's/^/  /' "$RUN/FAILED"; }
  if [ $bad -gt 0 ]; then echo "sweep: $bad job(s) did not complete; nothing downstream of a failed job runs"; return 1; fi
  if [ $running -gt 0 ]; then echo "sweep: $running job(s) pending or running"; return 3; fi
  echo "sweep: all $(wc -l < "$RUN/logs/states.txt") jobs COMPLETED; report $RUN/report.md"
}

wait_run() {
  local ids
  [ -s "$RUN/jobs.txt" ] || pd_die "sweep: $RUN has no submitted jobs ($RUN/jobs.txt)"
  ids=$(awk '{print $2}' "$RUN/jobs.txt" | paste -sd,)
  local out st i
  while :; do
    out=$(squeue -h -j "$ids" -o %i 2>&1) || { echo "sweep: squeue failed ($out); retrying" >&2; sleep "${POLL:-5}"; continue; }
    [ -n "$out" ] || break
    sleep "${POLL:-5}"
  done
  # accounting is written asynchronously: give sacct a minute to see every job end
  for i in $(seq 1 30); do
    st=0; status_run > "$RUN/logs/status.tmp" || st=$?
    [ $st -eq 3 ] || break
    sleep 2
  done
  cat "$RUN/logs/status.tmp"; rm -f "$RUN/logs/status.tmp"
  return $st
}

case "$cmd" in
  init|submit|local)
    [ $# -eq 2 ] || usage
    no_jobs_running "$2"
    init_run "$1" "$2"
    pd_load_run "$2"
    [ "$cmd" = init ] || select_cells
    case "$cmd" in submit) submit_run ;; local) local_run ;; esac ;;
  status|wait)
    [ $# -eq 1 ] || usage
    [ -r "$1/sweep.conf" ] || pd_die "sweep: $1 is not a run directory (no $1/sweep.conf)"
    RUN=$(cd "$1" && pwd)
    if [ "$cmd" = status ]; then status_run; else wait_run; fi ;;
  *) usage ;;
esac
