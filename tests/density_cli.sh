#!/usr/bin/env bash
# density_cli.sh PDEDIFF MPIEXEC NP WORKDIR: the Table 1 pipeline end to end on the quick
# configuration (inputs/density_quick.opts, smaller still): pdediff density for the tanh case
# after 1 epoch and after 150 epochs, then the spiral (rejection-sampled exact conditional) after
# 150; checks that every distance in the cell files is finite, that the distances to the band
# and to the exact conditional fall with training, that the files are complete (no .partial),
# that -density_model_in resamples a finished cell's model (bitwise with the same options) and
# refuses another cell's, and that pdediff table1 prints the table and writes its CSV. Then
# jobscripts/density_sweep.sh on the VE row after 1 epoch: once training, once resampling those
# models with ARGS="-sampler_start tweedie" and MODEL_DIR; table1 names the start of each and
# refuses a directory that mixes the two; with SEEDS, once per seed, and table1's mean and standard
# error over the seeds match the cell files; with CASES, only the named cases. It does not check the paper's accuracy (that takes
# the full run: README).
set -euo pipefail
pdediff=$1; mpiexec=$2; np=$3; work=$4
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rm -rf "$work"; mkdir -p "$work"
run() { # dir epochs case [options]
  local d=$1 e=$2 c=$3; shift 3
  "$mpiexec" -n "$np" --oversubscribe "$pdediff" density -options_file "$root/inputs/density_quick.opts" \
    -density_n_train 1000 -density_n_gen 1000 -density_n_ref 20000 -density_sq_tol 1e-3 -ot_tol 1e-6 \
    -density_dir "$d" -train_epochs "$e" -density_case "$c" "$@" | tee "$d-$c.log" | grep "density: cell"
}
# the squared cost converges slowly between far-apart sets: only the trained tanh model uses it
run "$work/short" 1 tanh -density_sqcost false
run "$work/long" 150 tanh
run "$work/long" 150 spiral -density_sqcost false -density_y 0,0.5
# the xi^p family: the cell file is CASE_xi1.h5 (what the sweep's resume check and table1 look for)
run "$work/xi" 1 tanh -sde_type xi -sde_p 1 -density_sqcost false
[ -s "$work/xi/tanh_xi1.h5" ] || { echo "FAIL: the xi^1 cell was not written as tanh_xi1.h5"; ls "$work/xi"; exit 1; }
"$mpiexec" -n 1 "$pdediff" table1 -table1_dir "$work/xi" -table1_formulations xi1 > "$work/table1_xi.out"
grep -q "^xi1  *ODE  *[0-9][0-9]*\.[0-9]" "$work/table1_xi.out" || { echo "FAIL: table1 -table1_formulations xi1 did not list the xi1 cell"; cat "$work/table1_xi.out"; exit 1; }
echo "ok   xi^1 cell file tanh_xi1.h5 written and listed by table1"
# -density_model_in: the long tanh model sampled again without training. With the same sampler
# options the samples are bitwise those of the cell that trained it; with -sampler_start tweedie
# the file says so. A model of another formulation or case is refused, and nothing is written.
run "$work/reuse" 150 tanh -density_model_in "$work/long/tanh_ve.model.h5" -density_output "$work/reuse/same.h5"
run "$work/reuse" 150 tanh -density_model_in "$work/long/tanh_ve.model.h5" -sampler_start tweedie
[ ! -e "$work/reuse/tanh_ve.model.h5" ] || { echo "FAIL: -density_model_in wrote a model"; exit 1; }
expect_refused() { # pattern, options...
  local pat=$1; shift
  if "$mpiexec" -n "$np" --oversubscribe "$pdediff" density -options_file "$root/inputs/density_quick.opts" -density_n_ref 20000 \
       -density_dir "$work/refused" "$@" > "$work/refused.log" 2>&1; then echo "FAIL: $* succeeded"; exit 1; fi
  grep -q -- "$pat" "$work/refused.log" || { echo "FAIL: $* did not say '$pat'"; cat "$work/refused.log"; exit 1; }
  ! ls "$work/refused/"*.h5* > /dev/null 2>&1 || { echo "FAIL: a refused run left a file"; ls "$work/refused"; exit 1; }
  echo "ok   refused: $pat"
}
expect_refused "is not a model of this cell: forward process" -density_case tanh -sde_type vp -density_model_in "$work/long/tanh_ve.model.h5"
expect_refused "was trained on the tanh case, this run is -density_case spiral" -density_case spiral -density_model_in "$work/long/tanh_ve.model.h5"
# the sweep script: train the VE row, then resample its models with the tweedie start
tiny="-density_n_train 1000 -density_n_gen 1000 -density_n_ref 20000 -ot_tol 1e-6 -train_epochs 1 -density_sqcost false"
sweep() { env LAUNCH="$mpiexec -n $np --oversubscribe" PDEDIFF="$pdediff" OPTS="$root/inputs/density_quick.opts" "$@" bash "$root/jobscripts/density_sweep.sh" ve; }
sweep OUT="$work/sweep" ARGS="$tiny" > "$work/sweep.out"
sweep OUT="$work/sweep_tw" MODEL_DIR="$work/sweep" ARGS="$tiny -sampler_start tweedie" > "$work/sweep_tw.out"
grep -q "sampler start zero as in the paper" "$work/sweep/table1.txt" || { echo "FAIL: the trained sweep's table1 does not name the zero start"; cat "$work/sweep/table1.txt"; exit 1; }
grep -q "sampler start tweedie, beyond the paper" "$work/sweep_tw/table1.txt" || { echo "FAIL: the resampled sweep's table1 does not name the tweedie start"; cat "$work/sweep_tw/table1.txt"; exit 1; }
n=$(grep -c ",tweedie,1," "$work/sweep_tw/table1.csv"); [ "$n" -eq 12 ] || { echo "FAIL: $n of the tweedie CSV's rows say tweedie, expected 12 (3 cases x 2 samplers x 2 costs)"; exit 1; }
! ls "$work/sweep_tw/"*.model.h5 > /dev/null 2>&1 || { echo "FAIL: the MODEL_DIR sweep trained (wrote models)"; exit 1; }
echo "ok   density_sweep.sh: VE row trained, then resampled with MODEL_DIR and ARGS=-sampler_start tweedie; table1 names each start"
# replicates: SEEDS runs the row once per seed (OUT/seed<s>), table1 averages them per cell
sweep OUT="$work/seeds" SEEDS="3 4" ARGS="$tiny" > "$work/seeds.out"
grep -q "mean +- standard error over 2 runs per cell" "$work/seeds/table1.txt" && grep -q "^ve  *ODE  *[0-9.]*+-[0-9.]* (0\.072; [0-2]/2)" "$work/seeds/table1.txt" \
  || { echo "FAIL: the SEEDS sweep's table1 does not show mean +- standard error over 2 runs with the paper's value and count"; cat "$work/seeds/table1.txt"; exit 1; }
/usr/bin/python3 - "$work/seeds" <<'PY'
import sys, csv, h5py, numpy as np
w = sys.argv[1]
rows = {(r["case"], r["sampler"], r["cost"]): r for r in csv.DictReader(open(f"{w}/table1.csv"))}
fail = 0
for case in ("tanh", "bimodal", "spiral"):
    v, seeds = [], []
    for s in (3, 4):
        with h5py.File(f"{w}/seed{s}/{case}_ve.h5") as f:
            v.append(f["cell_euclidean"][0]); seeds.append((int(f.attrs["net_seed"]), int(f.attrs["train_seed"])))
    r = rows[(case, "ode", "euclidean")]
    paper = float(r["paper"])
    ok = (seeds == [(3, 3), (4, 4)] and v[0] != v[1] and int(r["runs"]) == 2
          and abs(float(r["distance"]) - np.mean(v)) <= 1e-5 * np.mean(v)
          and abs(float(r["std_error"]) - abs(v[0] - v[1]) / 2) <= 1e-5 * abs(v[0] - v[1])
          and float(r["min"]) == float(f"{min(v):.6g}") and int(r["runs_at_or_below_paper"]) == sum(x <= paper for x in v))
    print(("ok   " if ok else "FAIL ") + f"{case} ve over seeds {seeds}: ODE {v[0]:.5f}, {v[1]:.5f} -> CSV mean {r['distance']}, SE {r['std_error']}, runs {r['runs']}, at or below {paper}: {r['runs_at_or_below_paper']}")
    fail += not ok
sys.exit(1 if fail else 0)
PY
if "$pdediff" table1 -table1_dir "$work/seeds/seed3,$work/seeds/seed3" -table1_formulations ve -table1_csv "$work/dup.csv" > "$work/dup.out" 2>&1; then echo "FAIL: table1 averaged one run listed twice"; exit 1; fi
grep -q "hold bitwise the same distances, so they are one run" "$work/dup.out" && [ ! -e "$work/dup.csv" ] || { echo "FAIL: table1 did not name the repeated run, or wrote a CSV"; cat "$work/dup.out"; exit 1; }
# without -table1_csv the averaged table goes to the parent the runs share, never into a run's own directory
"$pdediff" table1 -table1_dir "$work/seeds/seed3/,$work/seeds/seed4" -table1_formulations ve > "$work/parent.out"
grep -q "table1: wrote $work/seeds/table1.csv" "$work/parent.out" && [ ! -e "$work/seeds/seed3/table1.csv" ] \
  || { echo "FAIL: replicate table1 without -table1_csv should write $work/seeds/table1.csv"; cat "$work/parent.out"; exit 1; }
if "$pdediff" table1 -table1_dir "$work/seeds/seed3,$work/sweep" -table1_formulations ve > "$work/parents.out" 2>&1; then echo "FAIL: replicate runs in two directories without -table1_csv were accepted"; exit 1; fi
grep -q "lie in different directories .* give -table1_csv FILE" "$work/parents.out" && [ ! -e "$work/seeds/seed3/table1.csv" ] \
  || { echo "FAIL: table1 did not ask for -table1_csv for runs without a common parent"; cat "$work/parents.out"; exit 1; }
echo "ok   density_sweep.sh SEEDS: one row per seed, table1 mean and standard error match the cell files; a run listed twice is refused; the averaged CSV goes to the runs' parent (or -table1_csv)"
# CASES: only the named cases run; table1 shows the others as "-"; an unknown case is refused before anything runs
sweep OUT="$work/cases" CASES="spiral" ARGS="$tiny" > "$work/cases.out"
[ -e "$work/cases/spiral_ve.h5" ] && [ ! -e "$work/cases/tanh_ve.h5" ] && [ ! -e "$work/cases/bimodal_ve.h5" ] && grep -q "^ve  *ODE  *-  *-  *[0-9.]* (0\.042)" "$work/cases/table1.txt" \
  || { echo "FAIL: CASES=spiral should run the spiral cell alone and table1 show tanh and bimodal as -"; ls "$work/cases"; cat "$work/cases/table1.txt"; exit 1; }
if sweep OUT="$work/cases_bad" CASES="spiral helix" > "$work/cases_bad.out" 2>&1; then echo "FAIL: CASES with an unknown case was accepted"; exit 1; fi
grep -q "unknown case 'helix' (the cases are tanh, bimodal, spiral)" "$work/cases_bad.out" && [ ! -e "$work/cases_bad" ] \
  || { echo "FAIL: the unknown case was not named, or the sweep created its OUT"; cat "$work/cases_bad.out"; exit 1; }
echo "ok   density_sweep.sh CASES=spiral runs that case alone (table1: tanh, bimodal -); CASES with an unknown case is refused"
if sweep OUT="$work/sweep_bad" MODEL_DIR="$work/long" > "$work/sweep_bad.out" 2>&1; then echo "FAIL: a MODEL_DIR without bimodal_ve.model.h5 was accepted"; exit 1; fi
grep -q "MODEL_DIR=$work/long has no bimodal_ve.model.h5" "$work/sweep_bad.out" && [ ! -e "$work/sweep_bad" ] || { echo "FAIL: the incomplete MODEL_DIR was not named, or the sweep created its OUT"; cat "$work/sweep_bad.out"; exit 1; }
echo "ok   refused: MODEL_DIR without every model, nothing run"
mkdir -p "$work/mixed"; cp "$work/sweep/tanh_ve.h5" "$work/sweep_tw/spiral_ve.h5" "$work/mixed/"
if "$pdediff" table1 -table1_dir "$work/mixed" -table1_formulations ve > "$work/mixed.out" 2>&1; then echo "FAIL: table1 accepted a directory mixing sampler starts"; exit 1; fi
grep -q "mixes sampler starts: .*tanh_ve.h5 used -sampler_start zero, .*spiral_ve.h5 used tweedie" "$work/mixed.out" && [ ! -e "$work/mixed/table1.csv" ] || { echo "FAIL: table1 did not name the mixed starts, or wrote a CSV"; cat "$work/mixed.out"; exit 1; }
echo "ok   refused: table1 over cells of two sampler starts, no CSV written"
if ls "$work"/*/*.partial > /dev/null 2>&1; then echo "FAIL: a .partial file was left behind"; exit 1; fi
/usr/bin/python3 - "$work" <<'PY'
import sys, h5py, numpy as np
w = sys.argv[1]
fail = 0
def check(ok, msg):
    global fail
    print(("ok   " if ok else "FAIL ") + msg)
    fail += (not ok)
cells = {}
for name in ("short/tanh_ve", "long/tanh_ve", "long/spiral_ve"):
    with h5py.File(f"{w}/{name}.h5") as f:
        e, q = f["ot_euclidean"][:], f["ot_sqeuclidean"][:]
        cells[name] = f["cell_euclidean"][:]
        nq = q[:, :3].size if name == "long/tanh_ve" else 0
        check(np.isfinite(e).all() and (e > 0).all() and np.isfinite(q[:, :3]).all() == (nq > 0) and (nq == 0 or (q[:, :3] > 0).all()),
              f"{name}: all {e.size} Euclidean and {nq} squared-cost distances finite and positive")
        ny, ngen = f["samples_ode"].shape
        check(ny == (2 if "spiral" in name else 4) and ngen == 1000 and f["band_offset"][-1] == f["band"].shape[0] and np.isfinite(f["samples_sde"][:]).all(),
              f"{name}: {ny} Y values x {ngen} samples per sampler, bands of {list(f['band_count'][:].astype(int))} points")
s, l = cells["short/tanh_ve"], cells["long/tanh_ve"]
# columns: ode_vs_band, sde_vs_band, floor, ode_vs_exact, sde_vs_exact, exact floor
for j, what in ((0, "ODE vs band"), (1, "SDE vs band"), (3, "ODE vs exact"), (4, "SDE vs exact")):
    check(l[j] < 0.8 * s[j], f"tanh {what}: {s[j]:.4f} after 1 epoch -> {l[j]:.4f} after 150 (falls with training)")
check(abs(l[2] - s[2]) < 1e-12, f"tanh floor {l[2]:.5f} independent of training (same reference sets)")
check(l[2] < l[0], f"tanh floor {l[2]:.4f} below the trained model's distance {l[0]:.4f}")
with h5py.File(f"{w}/long/tanh_ve.h5") as a, h5py.File(f"{w}/reuse/same.h5") as b, h5py.File(f"{w}/reuse/tanh_ve.h5") as t:
    same = all(np.array_equal(a[k][:], b[k][:]) for k in ("samples_ode", "samples_sde", "band", "exact_conditional"))
    check(same and b.attrs["model_reused"] == 1 and b.attrs["train_seconds"] == 0 and b.attrs["train_epochs"] == a.attrs["train_epochs"],
          "-density_model_in: samples, bands and exact sets bitwise those of the cell that trained the model; no training time; its epochs recorded")
    st = t.attrs["sampler_start"]
    st = st.decode() if isinstance(st, bytes) else st
    check(st == "tweedie" and np.isfinite(t["cell_euclidean"][:]).all(),
          f"-sampler_start tweedie recorded ({st}); distances finite: ODE vs band {t['cell_euclidean'][0]:.4f} (zero start {a['cell_euclidean'][0]:.4f})")
sys.exit(1 if fail else 0)
PY
"$pdediff" table1 -table1_dir "$work/long" -table1_formulations ve | tee "$work/table1.out"
grep -q "^ve  *ODE  *0\.[0-9]* (0\.072)  *- *0\.[0-9]* (0\.042)" "$work/table1.out" || { echo "FAIL: table1 row for ve ODE (tanh with paper 0.072, bimodal missing, spiral with paper 0.042) not found"; exit 1; }
grep -q "no cell file .*bimodal_ve.h5" "$work/table1.out" || { echo "FAIL: table1 did not name the missing bimodal cell"; exit 1; }
rows=$(grep -c "^tanh,ve,\|^spiral,ve," "$work/long/table1.csv")
[ "$rows" -eq 8 ] || { echo "FAIL: table1.csv has $rows rows for tanh/spiral ve, expected 8 (2 samplers x 2 costs each)"; exit 1; }
/usr/bin/python3 "$root/postprocess/density_figures.py" "$work/long"
for png in figure1_joints.png figure2_ve_histograms.png; do
  [ -s "$work/long/figures/$png" ] || { echo "FAIL: postprocess did not write $png"; exit 1; }
done
echo "density_cli: ok ($np rank(s))"
