#!/usr/bin/python3
"""results_readme.py ROOT: the README's numbers for each full-length cell kept in git are the file's.

For every ROOT/results/recipe/*.post.json (postprocess/advdiff_text.py), the cell must be at the
paper's length (1,000 cases x 1,000 samples, ODE and SDE, an MCMC reference unless the noise is
zero, where the likelihood is degenerate and no chain is run) and the README must hold, as written
from the file:
  - its row of the status table: error ODE / SDE, posterior std / prior std (ODE), 1-sigma
    coverage ODE / SDE, std / MCMC std ODE [worst segment]; SDE [worst segment] ("-" at zero
    noise; the label may carry a note after the level, e.g. "| VE 0 (18,000 epochs) |");
  - the start and the end of each sampler's row of the cell's own table: error [segments], std,
    coverage 1 / 2 sigma, CRPS / mean flux ... vs MCMC, sampling s, samples/s per rank, evaluations;
and results/README.md must list it. A number edited by hand, or a cell replaced without its
README text, fails here.
"""
import glob
import os
import sys

root = sys.argv[1]
sys.path.insert(0, os.path.join(root, "postprocess"))
from advdiff_text import open_text  # noqa: E402

readme = open(os.path.join(root, "README.md")).read().splitlines()  # split once, searched per cell
listing = open(os.path.join(root, "results", "README.md")).read()
paths = sorted(glob.glob(os.path.join(root, "results", "recipe", "*.post.json")))
if not paths:
    sys.exit("FAIL: no results/recipe/*.post.json: the README's full-length cells have no file in git")
bad = []
for p in paths:
    f, name = open_text(p)
    cell = name[:-len(".post.h5")]
    a = f.attrs
    form, mask, level = a["sde_type"].decode(), int(a["mask_input"]), float(a["noise_level"])
    zero = level == 0.0
    if int(a["n_test"]) != 1000 or int(a["n_samples"]) != 1000 or "ode" not in f or "sde" not in f or ("mcmc" not in f) != zero:
        bad.append(f"{cell}: not a full-length cell ({int(a['n_test'])} x {int(a['n_samples'])}, groups {sorted(f)}; "
                   f"an MCMC reference {'not ' if zero else ''}expected at noise {level:g})")
        continue
    o, s = f["ode"].attrs, f["sde"].attrs
    label = f"| {form.upper()}{' mask' if mask else ''} {level:g}"
    body = (f" | {100 * o['mean_error']:.2f}% / {100 * s['mean_error']:.2f}% "
            f"| {o['std_over_prior_std']:.3f} | {o['coverage1']:.3f} / {s['coverage1']:.3f} | "
            + ("- |" if zero else f"{o['mcmc_std_ratio_mean']:.3f} [{o['mcmc_std_ratio_max']:.3f}]; {s['mcmc_std_ratio_mean']:.3f} [{s['mcmc_std_ratio_max']:.3f}] |"))
    row = label + body
    # at zero noise the label may carry a note: "| VE 0 (18,000 epochs) | ..."
    if not any(line == row or (zero and line.startswith(label + " (") and line.endswith(body)) for line in readme):
        bad.append(f"{cell}: the status table has no row\n    {row}")
    mf = float(a["mean_flux"])
    for smp in ("ode", "sde"):
        g = f[smp].attrs
        seg = f[smp + "/segment_error"][:]
        head = (f"| {smp.upper()} | {100 * g['mean_error']:.2f}% [{100 * seg.min():.2f}, {100 * seg.max():.2f}] | {g['std_over_prior_std']:.3f} "
                f"| {g['coverage1']:.3f} / {g['coverage2']:.3f} | {100 * g['crps'] / mf:.2f}% |")
        ref = "-" if zero else f"{g['mcmc_mean_error']:.3f}, {g['mcmc_std_ratio_mean']:.3f} [{g['mcmc_std_ratio_min']:.3f}, {g['mcmc_std_ratio_max']:.3f}]"
        tail = (f"| {ref} "
                f"| {g['wall_seconds']:,.1f}, {g['samples_per_second_per_rank']:.1f}, {g['score_evaluations_per_sample']:.1f} |")
        if not any(line.startswith(head) and line.endswith(tail) for line in readme):
            bad.append(f"{cell}: the cell's table has no {smp.upper()} row\n    {head} ... {tail}")
    if f"`{cell}`" not in listing:
        bad.append(f"{cell}: results/README.md does not list it")
    if not bad:
        print(f"ok   {cell}: status row and the cell's ODE / SDE rows in README.md are the file's ({row})")
if bad:
    sys.exit("FAIL: README.md and results/recipe disagree:\n  " + "\n  ".join(bad))
print(f"ok   {len(paths)} full-length cell(s) in results/recipe, each as the README reports it")
