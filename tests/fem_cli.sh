#!/usr/bin/env bash
# fem_cli.sh PDEDIFF MPIEXEC NP WORKDIR: the forward model and data generation through the real
# executable on a 170 x 40 mesh (segment ends on vertices, ~7,000 unknowns):
#  - pdediff forward: 30 lines of 17 significant digits; -flux and -flux_file agree; the field
#    file holds the field whose P1 interpolant at the sensors equals the printed values;
#  - pdediff generate: at NP ranks with groups of 1 and of NP ranks, in solve and basis modes,
#    against a 1-rank solve-mode reference: x identical to the bit (counter-based streams),
#    y_clean and H equal to 1e-10 relative, solve = basis to 1e-10, forward = generate's row.
set -euo pipefail
pdediff=$1; mpiexec=$2; np=$3; work=$4
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
rm -rf "$work"; mkdir -p "$work"; cd "$work"
mesh="-fem_nx 170 -fem_ny 40"
run() { "$mpiexec" -n "$1" --oversubscribe "$pdediff" "${@:2}"; }
gen() { local n=$1 out=$2; shift 2; run "$n" generate $mesh -generate_n 120 -generate_n_train 100 -generate_fields 3,100,119 -generate_output "$out" "$@" | tee "$out.log" | grep "samples/s"; }

gen 1 ref.h5 -generate_mode solve -fem_block 16
gen "$np" groups1.h5 -generate_mode solve -fem_group_size 1
gen "$np" groupsN.h5 -generate_mode solve -fem_group_size "$np" -fem_block 7
gen "$np" basis.h5 -generate_mode basis -fem_group_size 1
if ls ./*.partial > /dev/null 2>&1; then echo "FAIL: a .partial file was left behind"; exit 1; fi

# flux of sample 100 from the reference file, as a text file and as a -flux list
/usr/bin/python3 -c "
import h5py
x = h5py.File('ref.h5')['x'][100]
open('q.txt', 'w').write('# sample 100\n' + '\n'.join('%.17g' % v for v in x) + '\n')
open('q.list', 'w').write(','.join('%.17g' % v for v in x))"
run "$np" forward $mesh -flux_file q.txt -forward_field u.h5 > fwd_file.out
run "$np" forward $mesh -flux "$(cat q.list)" > fwd_list.out
# another partitioner (PT-Scotch instead of the default x-slabs): same values to rounding
run "$np" forward $mesh -flux_file q.txt -fem_petscpartitioner_type ptscotch -options_left 0 > fwd_scotch.out
[ "$(wc -l < fwd_file.out)" -eq 30 ] || { echo "FAIL: pdediff forward printed $(wc -l < fwd_file.out) lines, expected 30"; exit 1; }
grep -qvE '^-?[0-9]\.[0-9]{16}(e[-+][0-9]+)?$|^-?[0-9]+\.[0-9]+$' fwd_file.out && { echo "FAIL: a forward output line is not one number"; cat fwd_file.out; exit 1; }

/usr/bin/python3 - "$np" <<'PY'
import sys, h5py, numpy as np
np_ = int(sys.argv[1])
fail = 0
def check(ok, msg):
    global fail
    print(("ok   " if ok else "FAIL ") + msg)
    fail += (not ok)
ref = h5py.File("ref.h5")
x, y, H = ref["x"][:], ref["y_clean"][:], ref["H"][:]
scale = np.abs(y).max()
check(x.shape == (120, 30) and y.shape == (120, 30) and H.shape == (30, 30), f"shapes x {x.shape}, y_clean {y.shape}, H {H.shape}")
check((x >= 0).all() and abs(x.mean() - 2) < 0.3, f"x from the clipped prior: min {x.min():.3f} >= 0, mean {x.mean():.3f} near 2")
check(ref.attrs["n_train"] == 100 and ref.attrs["n_test"] == 20, "n_train 100, n_test 20 recorded")
for name in ("groups1.h5", "groupsN.h5", "basis.h5"):
    f = h5py.File(name)
    check(np.array_equal(f["x"][:], x), f"{name} ({f.attrs['groups']} group(s) of {f.attrs['group_size']}, {f.attrs['mode'].decode() if isinstance(f.attrs['mode'], bytes) else f.attrs['mode']}): x identical to the 1-rank file")
    d = np.abs(f["y_clean"][:] - y).max() / scale
    check(d < 1e-10, f"{name}: y_clean vs the 1-rank solve: max rel diff {d:.2e} < 1e-10")
    dH = np.abs(f["H"][:] - H).max() / np.abs(H).max()
    check(dH < 1e-10, f"{name}: H vs 1-rank: {dH:.2e}")
    fl = f["fields"][:]
    check(fl.shape == (3, 171 * 41) and list(f["field_index"][:]) == [3, 100, 119] and np.isfinite(fl).all() and fl.max() > 0, f"{name}: fields of samples 3, 100, 119 stored ({fl.shape})")
d = np.abs(x @ H.T - y).max() / scale
check(d < 1e-10, f"solve mode = H x (basis): max rel diff {d:.2e} < 1e-10")
fwd = np.loadtxt("fwd_file.out")
d = np.abs(fwd - y[100]).max() / scale
check(d < 1e-10, f"pdediff forward on sample 100's flux = generate's row 100: {d:.2e}")
# One rank: bitwise. More ranks: MUMPS's parallel factorisation schedules its work dynamically, so
# two runs on the same input may differ in the last bits (a CI run saw 3.2e-15 of the largest value); a misparsed
# flux would differ at O(1).
dl = np.abs(fwd - np.loadtxt("fwd_list.out")).max() / scale
check(dl == 0 if np_ == 1 else dl < 1e-12, f"-flux list and -flux_file give the same output ({np_} rank(s): max rel diff {dl:.2e}, {'bitwise' if np_ == 1 else '< 1e-12'})")
d = np.abs(np.loadtxt("fwd_scotch.out") - fwd).max() / scale
check(d < 1e-10, f"-fem_petscpartitioner_type ptscotch gives the same sensor values ({d:.2e})")
u = h5py.File("u.h5")
nx, ny = int(u.attrs["nx"]), int(u.attrs["ny"])
field = u["u"][:].reshape(nx + 1, ny + 1)
sens = u["sensor_coords"][:]
def interp(px, py):
    hx, hy = 16 / nx, 4 / ny
    i, j = min(int(px / hx), nx - 1), min(int(py / hy), ny - 1)
    s, t = px / hx - i, py / hy - j
    f00, f10, f01, f11 = field[i, j], field[i + 1, j], field[i, j + 1], field[i + 1, j + 1]
    return f00 + s * (f10 - f00) + t * (f11 - f10) if s >= t else f00 + t * (f01 - f00) + s * (f11 - f01)
d = max(abs(interp(*sens[k]) - fwd[k]) for k in range(30)) / scale
check(d < 1e-12, f"forward field file: P1 interpolant at the sensors = printed values ({d:.2e})")
check(np.abs(field[0]).max() == 0 and field.max() > 0, "u = 0 on x = 0, positive inside")
gen_field = h5py.File("ref.h5")["fields"][1].reshape(nx + 1, ny + 1)
d = np.abs(gen_field - field).max() / np.abs(field).max()
check(d < 1e-10, f"generate's stored field of sample 100 = forward's field ({d:.2e})")
sys.exit(1 if fail else 0)
PY

/usr/bin/python3 "$root/postprocess/advdiff_fields.py" ref.h5 fields.png
[ -s fields.png ] || { echo "FAIL: postprocess/advdiff_fields.py did not write fields.png"; exit 1; }
echo "fem_cli: ok ($np rank(s))"
