#!/usr/bin/python3
"""The -net_sigma_skip that calibrates an edm network's zero-noise posterior, from a validation split.

    /usr/bin/python3 postprocess/skip_calibration.py [--sampler ode|sde] [--criterion gauss|goal] MODEL VAL.h5

MODEL: a `pdediff train -net_output edm` model at noise level 0, trained on the first rows of its
data set only (-train_rows N below the data set's n_train); VAL.h5: `pdediff posterior` of that
model on held-out rows of the training split (-posterior_first N, -posterior_ntest with
first + ntest <= the data set's n_train), so the test rows are never used to choose it.

Why: at zero noise the true posterior (~0.002 prior std) is narrower than the network resolves.
With the edm output the flow stops contracting below s^ ~ sigma_skip (c_skip -> 1), so every
sample's spread about the posterior mean is sigma_skip itself (README, "What the flow does not
contract, and the edm output"), while the error of the mean is the network's x0-regression floor.
Scaling sigma_skip by c scales the spread by c; this finds, on a fine grid of c in [1/8, 8], the c
whose 1- and 2-sigma coverages of the truth on the validation cases are
  gauss (default): closest to a Gaussian's, 0.6827 and 0.9545 (least squares);
  goal: furthest inside issue 6's windows, [0.6, 0.76] and [0.9, 0.99] (the largest smallest
        distance to a window's edge): errors heavier-tailed than a Gaussian put the least-squares
        compromise near the bottom of the 2-sigma window, and this centres both instead,
and prints the -net_sigma_skip to train with, c x the model's; the last line, net_sigma_skip=VALUE,
is for scripts (jobscripts/skip_calibrate.sh). The error of the mean itself moves a little with
sigma_skip: retrain, sample the same validation rows and run this again to confirm (a fixed point). At noise > 0 the spread is not
sigma_skip (the posterior is wider than it), so such files are refused.
"""
import os
import sys

import h5py
import numpy as np

from advdiff_posterior import attr
from advdiff_text import open_post

GAUSS = (0.682689, 0.954500)  # P(|z| <= 1), P(|z| <= 2) for z ~ N(0, 1)
GOAL = ((0.6, 0.76), (0.9, 0.99))  # issue 6's calibration goal: the 1- and 2-sigma coverage windows


def coverages(zs, c):
    """the 1- and 2-sigma coverages of the truth when every std is scaled by c (scalar or array);
    zs: the sorted |error| / std"""
    c = np.asarray(c, dtype=float)
    return (np.searchsorted(zs, c, side="right") / zs.size, np.searchsorted(zs, 2 * c, side="right") / zs.size)


def objective(zs, c, criterion):
    """what the criterion minimises at scale(s) c: gauss, the squared distance to a Gaussian's
    coverages; goal, minus the smallest distance to an edge of the goal's windows (< 0 inside both)"""
    cov = coverages(zs, c)
    if criterion == "gauss":
        return (cov[0] - GAUSS[0]) ** 2 + (cov[1] - GAUSS[1]) ** 2
    return -np.minimum.reduce([cov[k] - GOAL[k][0] for k in (0, 1)] + [GOAL[k][1] - cov[k] for k in (0, 1)])


def best_scale(zs, criterion):
    """the c in [1/8, 8] that minimises the criterion's objective (the first minimum on the grid)"""
    grid = np.exp(np.linspace(np.log(1 / 8), np.log(8), 4001))
    obj = objective(zs, grid, criterion)
    k = int(np.argmin(obj))
    return float(grid[k]), float(obj[k])


def model_info(path):
    """(sigma_skip, rows trained on, noise level, formulation) of an edm model; exits on anything else"""
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        sys.exit(f"{path}: cannot open the model ({e}); give the model file pdediff train wrote")
    with f:
        if "params" not in f:
            sys.exit(f"{path}: not a pdediff model (no params dataset); give the model file pdediff train wrote")
        if "net_sigma_skip" not in f.attrs:
            sys.exit(f"{path}: not an edm network (no net_sigma_skip): only -net_output edm networks have a spread set by "
                     f"-net_sigma_skip; train one with -net_output edm")
        if "n_train" not in f.attrs:
            sys.exit(f"{path}: the model does not record the rows it trained on (n_train): train it again with pdediff train -train_rows N")
        rows = int(f.attrs["n_train"]) // max(int(attr(f, "mask_copies", 1)), 1)  # n_train counts pairs: rows x copies
        return (float(f.attrs["net_sigma_skip"]), rows, float(attr(f, "noise_level", np.nan)),
                str(attr(f, "sde_type", "?")))


def main(argv):
    opts = {"--sampler": ("ode", "sde"), "--criterion": ("gauss", "goal")}
    sampler, criterion = "ode", "gauss"
    while argv[:1] and argv[0] in opts:
        if len(argv) < 2 or argv[1] not in opts[argv[0]]:
            sys.exit(f"{argv[0]} {' '.join(argv[1:2])}: give {' or '.join(opts[argv[0]])}")
        if argv[0] == "--sampler":
            sampler = argv[1]
        else:
            criterion = argv[1]
        argv = argv[2:]
    if len(argv) != 2:
        sys.exit(__doc__)
    mpath, vpath = argv
    skip, mrows, mlevel, form = model_info(mpath)
    f, _ = open_post(vpath)
    with f:
        if "truth" not in f or "first_row" not in f.attrs:
            sys.exit(f"{vpath}: not a pdediff posterior file of data-set rows (no truth or first_row); "
                     f"run pdediff posterior -posterior_first on the held-out rows")
        rec = str(attr(f, "model", ""))
        if rec and os.path.exists(rec) and not os.path.samefile(rec, mpath):
            sys.exit(f"{vpath}: sampled with the model {rec}, not {mpath}: give the model the validation file was sampled with")
        level = float(attr(f, "noise_level"))
        if level != 0 or mlevel != 0:
            sys.exit(f"{vpath}: noise level {level:g} (model {mlevel:g}): the spread is sigma_skip only at zero noise, "
                     f"where the posterior is narrower than it; at noise > 0 the network's posterior carries its own width")
        first, n = int(attr(f, "first_row")), f["truth"].shape[0]
        if first < 0:
            sys.exit(f"{vpath}: cases from a measurement file, not data-set rows: sample held-out rows of the training split "
                     f"(pdediff posterior -posterior_data DATA -posterior_first N -posterior_ntest M)")
        if first < mrows:
            sys.exit(f"{vpath}: cases from row {first}, but {mpath} trained on rows 0-{mrows - 1}: validate on rows it did not "
                     f"train on (train with -train_rows N, sample with -posterior_first N)")
        data = str(attr(f, "data", ""))
        if data and os.path.exists(data):
            with h5py.File(data, "r") as d:
                ntrain = int(d.attrs["n_train"])
            if first + n > ntrain:
                sys.exit(f"{vpath}: cases {first}-{first + n - 1} reach the test rows of {data} (from {ntrain} on): the "
                         f"validation cases must be held-out training-split rows, -posterior_first + -posterior_ntest <= {ntrain}")
        else:
            print(f"skip_calibration: note: the data set {data or '(not recorded)'} is not readable here: "
                  f"not checked that the cases lie before its test rows")
        if sampler not in f:
            sys.exit(f"{vpath}: no {sampler} posterior in the file (sampled with -posterior_samplers {sampler}?)")
        truth, m, sd = f["truth"][:], f[sampler + "/posterior_mean"][:], f[sampler + "/posterior_std"][:]
        prior_sd = f["prior_std"][:]
    zs = np.sort((np.abs(m - truth) / np.maximum(sd, np.finfo(float).tiny)).ravel())
    c, obj = best_scale(zs, criterion)
    print(f"skip_calibration: {mpath}: {form.upper()} edm, noise 0, -net_sigma_skip {skip:g}, trained on rows 0-{mrows - 1}; "
          f"{vpath}: {n} validation cases (rows {first}-{first + n - 1}) x {truth.shape[1]} segments, {sampler.upper()}")
    print(f"skip_calibration: mean std {np.mean(sd / prior_sd):.4f} prior std, RMS error {np.sqrt(np.mean((m - truth) ** 2 / prior_sd ** 2)):.4f} prior std")
    print("| std scale c | 1-sigma cov. | 2-sigma cov. | -net_sigma_skip |")
    print("|---|---|---|---|")
    for s in sorted({1.0} | {c * k for k in (0.8, 0.9, 1.0, 1.1, 1.25)}):  # the model's own spread and c's neighbourhood
        cov1, cov2 = coverages(zs, s)
        print(f"| {s:.4f}{' (chosen)' if s == c else ''} | {cov1:.3f} | {cov2:.3f} | {s * skip:.5g} |")
    if not 1 / 8 < c < 8:
        sys.exit(f"skip_calibration: the best scale {c:.4g} lies at the edge of the searched [1/8, 8]: train again with "
                 f"-net_sigma_skip {c * skip:.5g} and run this on its validation file")
    cov1, cov2 = coverages(zs, c)
    if criterion == "gauss":
        why = f"against a Gaussian's 0.683 / 0.955, squared distance {obj:.2e}"
    elif obj < 0:
        why = f"inside the goal's windows [0.6, 0.76] / [0.9, 0.99] by at least {-obj:.3f}"
    else:
        why = f"no scale puts both inside the goal's windows [0.6, 0.76] / [0.9, 0.99]: {obj:.3f} outside at best"
    print(f"skip_calibration: c = {c:.4f} (coverages {cov1:.3f} / {cov2:.3f} {why}; criterion {criterion}): "
          f"train with -net_sigma_skip {c * skip:.5g}")
    print(f"net_sigma_skip={c * skip:.5g}")


if __name__ == "__main__":
    main(sys.argv[1:])
