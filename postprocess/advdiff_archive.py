#!/usr/bin/python3
"""A compact copy of `pdediff posterior` files that still draws their figures and table.

    /usr/bin/python3 postprocess/advdiff_archive.py OUTDIR POST.h5 [POST.h5 ...]

A full-length posterior file (1,000 cases x 1,000 samples, ODE and SDE) is a few MB, most of it per
case; Figures 6-10 and 12-14 and summary.md need only the per-segment metrics, the attributes and
the kept cases. The compact copy OUTDIR/<name of POST.h5> holds:
  - every attribute of every group, and every dataset of at most SMALL values (the per-segment
    metrics, prior_std, kept_cases, the MCMC reference's cases);
  - of the larger per-case datasets (truth, measurement, mask, posterior means and stds, CRPS), the
    rows 0 .. max(kept_cases) only, so the kept cases keep their indices (Figures 6 / 12 draw from
    the posterior mean and std of those rows; Figure 11 from their measurement and mask);
  - no samples (the posterior mean and std of a kept case are their mean and std);
  - the root attributes of the model file the run used (`model` group), where it is readable;
  - the per-case breakdown of advdiff_breakdown.py as Markdown rows (attribute `breakdown`) and,
    against an exact posterior, the per-segment series of its figure (ode|sde/exact_segment_error,
    exact_segment_std_ratio), computed here from every case, which the copy no longer has.
Root attribute `archive_rows` says how many case rows the copy holds (`n_test` stays the run's);
advdiff_breakdown.py refuses such a copy and points to its stored breakdown.
A run's results then outlive its run directory: a few tens of KB per cell, so the copies of a
whole sweep can be kept elsewhere and the figures drawn again from them:
    /usr/bin/python3 postprocess/advdiff_posterior.py FIGDIR OUTDIR/*.post.h5
Each copy is written to NAME.partial and renamed, so an interrupted run leaves no half file.
"""
import os
import sys

import h5py
import numpy as np

from advdiff_breakdown import rows as breakdown_rows
from advdiff_posterior import exact_segments
from advdiff_text import atomic

SMALL = 4096  # datasets of at most this many values are copied whole (per-segment metrics, MCMC's cases)


def copy_attrs(src, dst):
    for k, v in src.attrs.items():
        dst.attrs[k] = v


def write_copy(f, path, tmp, n_test, nrows, table):
    """the compact copy of the open posterior file f (read from path) into tmp"""
    with h5py.File(tmp, "w") as g:
        def visit(name, obj):
            if isinstance(obj, h5py.Group):
                copy_attrs(obj, g.require_group(name))
                return
            if name.endswith("samples"):
                return
            data = obj[()] if obj.size <= SMALL else None
            if data is None:
                if obj.ndim == 0 or obj.shape[0] != n_test:
                    sys.exit(f"advdiff_archive: {path}: dataset {name} {obj.shape} is neither small nor one row per case; "
                             "this script does not know how to shorten it")
                data = obj[:nrows]
            d = g.create_dataset(name, data=data)
            copy_attrs(obj, d)
        copy_attrs(f, g)
        f.visititems(visit)
        for s in ("ode", "sde"):  # the exact-posterior figure averages over every case
            if "exact" in f and s in f:
                err, ratio = exact_segments(f, s)
                g.create_dataset(s + "/exact_segment_error", data=err)
                g.create_dataset(s + "/exact_segment_std_ratio", data=ratio)
        g.attrs["archive_rows"] = nrows
        g.attrs["archive_source"] = os.path.abspath(path)
        if table:
            g.attrs["breakdown"] = table
        model = f.attrs.get("model", b"")
        model = model.decode() if isinstance(model, bytes) else str(model)
        if model and os.path.exists(model):
            with h5py.File(model, "r") as m:
                copy_attrs(m, g.require_group("model"))


def archive(path, outdir):
    out = os.path.join(outdir, os.path.basename(path))
    if os.path.abspath(out) == os.path.abspath(path):
        sys.exit(f"advdiff_archive: {path}: OUTDIR is the file's own directory; choose another OUTDIR")
    with h5py.File(path, "r") as f:
        if "kept_cases" not in f and "measurement" not in f:
            sys.exit(f"advdiff_archive: {path}: not a pdediff posterior file (no measurement or kept_cases)")
        if "archive_rows" in f.attrs:
            sys.exit(f"advdiff_archive: {path} is already an archive copy; archive the run's own file")
        n_test = int(f.attrs["n_test"])
        kept = f["kept_cases"][:].astype(int) if "kept_cases" in f else np.zeros(0, int)
        nrows = int(kept.max()) + 1 if kept.size else 0
        # the breakdown needs every case, so it is computed before the cases are cut
        table = "\n".join(breakdown_rows(f, os.path.basename(path))) if "truth" in f and "mean_flux" in f.attrs else ""
        atomic(out, lambda tmp: write_copy(f, path, tmp, n_test, nrows, table))
    kb = os.path.getsize(out) / 1024
    print(f"advdiff_archive: {path} ({os.path.getsize(path) / 1024:.0f} KB) -> {out} ({kb:.0f} KB, {nrows} of {n_test} case rows)")


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    outdir = argv[0]
    os.makedirs(outdir, exist_ok=True)
    for p in argv[1:]:
        if not os.path.exists(p):
            sys.exit(f"advdiff_archive: {p}: no such file")
        archive(p, outdir)


if __name__ == "__main__":
    main(sys.argv[1:])
