#!/usr/bin/python3
"""ot_pot.py PDEDIFF MPIEXEC NP: 'pdediff ot' agrees with POT's ot.sinkhorn2 (log-domain, run to
convergence) to 1e-6 relative on fixed sample sets, for the Euclidean and the squared cost, with
text and HDF5 inputs. The sets mimic Table 1's: a skewed (shifted Gamma) sample against a noisier
one, plus one far outlier (its plain kernel exp(-C/0.01) is exactly 0)."""
import subprocess, sys, os, tempfile
import numpy as np, h5py, ot

pde, mpiexec, nranks = sys.argv[1], sys.argv[2], sys.argv[3]
rng = np.random.default_rng(20261122)
a = np.tanh(0.5) + rng.gamma(1.0, 0.3, 260)
b = np.tanh(0.5) + rng.gamma(1.0, 0.3, 190) + 0.05 * rng.standard_normal(190)
b[7] = 8.5
tmp = tempfile.mkdtemp(prefix="ot_pot_")
np.savetxt(os.path.join(tmp, "a.txt"), a, fmt="%.17g", header="first set, one number per line")
with h5py.File(os.path.join(tmp, "b.h5"), "w") as f:
    f["samples"] = b.reshape(-1, 1)
np.savetxt(os.path.join(tmp, "b.txt"), b, fmt="%.17g")
fails = 0
for cost in ("euclidean", "sqeuclidean"):
    M = ot.dist(a.reshape(-1, 1), b.reshape(-1, 1), metric=cost)
    ref, log = ot.sinkhorn2(np.full(a.size, 1 / a.size), np.full(b.size, 1 / b.size), M, 0.01,
                            method="sinkhorn_log", numItermax=200000, stopThr=1e-13, log=True)
    ref = float(ref)
    for bspec in ("b.txt", "b.h5:samples"):
        cmd = [mpiexec, "-n", nranks, "--oversubscribe", pde, "ot", "a.txt", bspec, "-ot_cost", cost, "-ot_tol", "1e-12"]
        out = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        lines = out.stdout.strip().splitlines()
        if out.returncode != 0 or not lines:
            print("FAIL:", " ".join(cmd), "exit", out.returncode, out.stdout, out.stderr)
            fails += 1
            continue
        ours = float(lines[-1])
        rel = abs(ours - ref) / ref
        ok = rel <= 1e-6 and len(lines[-1].split()) == 1
        fails += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {cost:11s} {bspec:13s} pdediff {ours:.15g}  POT {ref:.15g} "
              f"({log['niter']} POT iterations)  rel. diff {rel:.1e} (<= 1e-6); {lines[0]}")
print(f"ot_pot ({nranks} ranks): {'all passed' if not fails else str(fails) + ' failed'}")
sys.exit(1 if fails else 0)
