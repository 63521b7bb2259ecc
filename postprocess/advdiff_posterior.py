#!/usr/bin/python3
"""Figures 6-10 and 12-14 of the paper, and the posterior summary table, from `pdediff posterior` files.

    /usr/bin/python3 postprocess/advdiff_posterior.py OUTDIR POST.h5 [POST.h5 ...] [--sampler ode|sde]

Each POST.h5 is one (formulation, noise level, mask) run: the run's file, its compact copy
(advdiff_archive.py) or that copy as text (advdiff_text.py, POST.json). Written to OUTDIR:
  cases_<form>[_mask]_<level>.png  Figures 6 / 12: for the kept test cases, the true flux (green),
                                   the posterior mean (black) and mean +- 1 std (gray) on the lower
                                   and the upper wall;
  error_<form>[_mask].png          Figures 7, 8 / 13: per segment, the sample-averaged |mean - truth|
                                   normalised by the mean flux, one line per noise level;
  std_<form>[_mask].png            Figures 9, 10 / 14: per segment, the sample-averaged posterior std,
                                   one line per noise level, the prior std dashed;
  exact_<form>_<level>.png         (unclipped prior only) diffusion vs exact posterior: mean error in
                                   prior std and the std ratio per segment;
  summary.md                       one row per file and sampler, by formulation and noise level:
                                   error, std / prior std, 1- and 2-sigma coverage, CRPS, the scores
                                   against the file's reference (exact Gaussian posterior or MCMC),
                                   samples/s.
The paper reports the ODE sampler (the default here).
"""
import os
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from advdiff_text import open_post  # noqa: E402


def attr(f, name, default=None):
    v = f.attrs.get(name, default)
    return v.decode() if isinstance(v, bytes) else v


def exact_prior_std(f):
    """the unit of the exact check's mean error: the prior std (sqrt of diag K; older files: the training set's)"""
    return f["exact/prior_std"][:] if "exact/prior_std" in f else f["prior_std"][:]


def key_of(f):
    """(formulation, mask model, unclipped Gaussian prior): the runs one figure compares"""
    mask = bool(attr(f, "mask_input", 0))
    gauss = int(attr(f, "prior_clipped", 1)) == 0 or "exact" in f  # exact: only for an unclipped prior
    return attr(f, "sde_type", "?"), mask, gauss


def tag(key):
    form, mask, gauss = key
    return form + ("_mask" if mask else "") + ("_unclipped" if gauss else "")


def walls(ax_lo, ax_hi, v, **kw):
    n = len(v) // 2
    seg = np.arange(1, n + 1)
    ax_lo.plot(seg, v[:n], **kw)
    ax_hi.plot(seg, v[n:], **kw)


def fig_cases(f, sampler, out):
    kept = f["kept_cases"][:].astype(int)
    ns = int(attr(f, "n_samples"))
    if sampler + "/samples" in f:
        smp = f[sampler + "/samples"][:].reshape(len(kept), ns, -1)
        stats = [(s.mean(axis=0), s.std(axis=0, ddof=1)) for s in smp]
    else:  # an advdiff_archive.py copy: the kept cases' rows of the per-case mean and std (of the same samples)
        stats = [(f[sampler + "/posterior_mean"][c], f[sampler + "/posterior_std"][c]) for c in kept]
    truth = f["truth"][:] if "truth" in f else None
    fig, axes = plt.subplots(len(kept), 2, figsize=(10, 2.6 * len(kept)), squeeze=False, sharex=True)
    for r, c in enumerate(kept):
        mean, sd = stats[r]
        n = len(mean) // 2
        seg = np.arange(1, n + 1)
        for w, ax in enumerate(axes[r]):
            sl = slice(w * n, (w + 1) * n)
            ax.fill_between(seg, mean[sl] - sd[sl], mean[sl] + sd[sl], color="0.8", label="mean $\\pm$ 1 std")
            ax.plot(seg, mean[sl], "k-", label="posterior mean")
            if truth is not None:
                ax.plot(seg, truth[c, sl], "g-", label="true flux")
            ax.set_title(f"test case {c}, {'lower' if w == 0 else 'upper'} wall", fontsize=9)
            ax.set_ylabel("flux")
    for ax in axes[-1]:
        ax.set_xlabel("segment")
    axes[0][0].legend(fontsize=8)
    form, mask, gauss = key_of(f)
    fig.suptitle(f"{form.upper()}{' (random masks)' if mask else ''}{' (unclipped prior)' if gauss else ''}, noise level {attr(f, 'noise_level'):g}, {sampler.upper()} sampler")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def fig_per_level(files, dataset, sampler, ylabel, out, title, prior=False):
    fig, (lo, hi) = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for f in sorted(files, key=lambda g: attr(g, "noise_level")):
        if sampler + "/" + dataset not in f:
            continue
        v = f[sampler + "/" + dataset][:]
        walls(lo, hi, v, marker="o", ms=3, label=f"noise {attr(f, 'noise_level'):g}")
    if prior and files and "prior_std" in files[0]:
        walls(lo, hi, files[0]["prior_std"][:], color="k", ls="--", label="prior std")
    for ax, w in ((lo, "lower"), (hi, "upper")):
        ax.set_xlabel(f"segment ({w} wall)")
        ax.grid(alpha=0.3)
    lo.set_ylabel(ylabel)
    # outside the axes: with six noise levels and the prior an inside legend covers the wall ends
    hi.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def exact_segments(f, s):
    """per segment, over cases: |mean - exact mean| / prior std and std / exact std of sampler s
    (an advdiff_archive.py copy stores both, computed from every case before it cut them)"""
    if s + "/exact_segment_error" in f:
        return f[s + "/exact_segment_error"][:], f[s + "/exact_segment_std_ratio"][:]
    # exact/std: one row per segment, or one per case and segment for a mask model (its sensors)
    mu, ex_sd = f["exact/mean"][:], f["exact/std"][:]
    err = np.abs(f[s + "/posterior_mean"][:] - mu).mean(axis=0) / exact_prior_std(f)
    return err, (f[s + "/posterior_std"][:] / ex_sd).mean(axis=0)


def fig_exact(f, samplers, out):
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
    for s in samplers:
        if s not in f:
            continue
        err, ratio = exact_segments(f, s)
        seg = np.arange(1, len(err) + 1)
        a.plot(seg, err, marker="o", ms=3, label=s.upper())
        b.plot(seg, ratio, marker="o", ms=3, label=s.upper())
    a.axhline(0.1, color="k", ls="--", lw=0.8, label="goal 0.1")
    b.axhspan(0.9, 1.1, color="0.9", label="goal [0.9, 1.1]")
    a.set_ylabel("|mean - exact mean| / prior std")
    b.set_ylabel("posterior std / exact std")
    for ax in (a, b):
        ax.set_xlabel("segment (1-15 lower, 16-30 upper wall)")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{attr(f, 'sde_type').upper()} vs the exact Gaussian posterior, noise level {attr(f, 'noise_level'):g}")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def fmt(v, spec, suffix=""):
    """A number, or a dash where the file has none (no reference, no such attribute)."""
    return "–" if v is None or not np.isfinite(v) else f"{v:{spec}}{suffix}"


def summary_rows(f, path):
    """One row per sampler; the reference is the exact Gaussian posterior (unclipped prior) or the
    MCMC on the latent (clipped prior), whichever the file holds."""
    rows = []
    form, mask, gauss = key_of(f)
    ref = "exact" if "exact" in f else ("mcmc" if "mcmc" in f else None)
    for s in ("ode", "sde"):
        if s not in f:
            continue
        g = f[s]
        a = lambda k: float(g.attrs[k]) if k in g.attrs else None  # noqa: E731
        r = lambda k: a(f"{ref}_{k}") if ref else None  # noqa: E731
        err, lo, hi = a("mean_error"), r("std_ratio_min"), r("std_ratio_max")
        rng = f" [{fmt(lo, '.2f')}, {fmt(hi, '.2f')}]" if lo is not None and hi is not None else ""
        rows.append(((form, mask, gauss, float(attr(f, "noise_level")), s),
            f"| {form.upper()}{' mask' if mask else ''}{' unclipped' if gauss else ''} | {attr(f, 'noise_level'):g} | {s.upper()} | {int(attr(f, 'n_test'))} x {int(attr(f, 'n_samples'))} "
            f"| {fmt(None if err is None else 100 * err, '.2f', '%')} | {fmt(a('std_over_prior_std'), '.3f')} "
            f"| {fmt(a('coverage1'), '.3f')} | {fmt(a('coverage2'), '.3f')} | {fmt(a('crps'), '.4f')} "
            f"| {'MCMC' if ref == 'mcmc' else (ref or '–')} | {fmt(r('mean_error'), '.3f')} | {fmt(r('std_ratio_mean'), '.3f')}{rng} "
            f"| {fmt(a('samples_per_second_per_rank'), '.1f')} | {fmt(a('score_evaluations_per_sample'), '.1f')} | {os.path.basename(path)} |"))
    return rows


def main(argv):
    sampler = "ode"
    if "--sampler" in argv:
        i = argv.index("--sampler")
        sampler = argv[i + 1]
        del argv[i:i + 2]
    if len(argv) < 2:
        sys.exit(__doc__)
    outdir, paths = argv[0], argv[1:]
    os.makedirs(outdir, exist_ok=True)
    groups = defaultdict(list)
    rows = []
    for p in paths:
        f, name = open_post(p)  # the run's file, its compact copy, or the copy as text (.json)
        if "kept_cases" not in f and "measurement" not in f:
            sys.exit(f"{p}: not a pdediff posterior file")
        groups[key_of(f)].append(f)
        rows += summary_rows(f, name)
        key = key_of(f)
        level = f"{attr(f, 'noise_level'):g}"
        if "kept_cases" in f and sampler in f:
            fig_cases(f, sampler, os.path.join(outdir, f"cases_{tag(key)}_{level}.png"))
        if "exact" in f:
            fig_exact(f, ("ode", "sde"), os.path.join(outdir, f"exact_{key[0]}_{level}.png"))
    for key, files in groups.items():
        form, mask, gauss = key
        what = f"{form.upper()}{', random sensor masks' if mask else ''}{', unclipped prior' if gauss else ''}, {sampler.upper()} sampler"
        fig_per_level(files, "segment_error", sampler, "|mean - truth| / mean flux", os.path.join(outdir, f"error_{tag(key)}.png"), "Sample-averaged error of the posterior mean: " + what)
        fig_per_level(files, "segment_std", sampler, "posterior std", os.path.join(outdir, f"std_{tag(key)}.png"), "Sample-averaged posterior std: " + what, prior=True)
    rows = [text for _, text in sorted(rows, key=lambda kv: kv[0])]  # by formulation, then noise level as a number
    head = ("| formulation | noise level | sampler | cases x samples | error / mean flux | std / prior std | 1-sigma cov. | 2-sigma cov. | CRPS "
            "| reference | ref.: mean err. (prior std) | ref.: std ratio [min, max] | samples/s/rank | evals/sample | file |\n" + "|---" * 15 + "|")
    with open(os.path.join(outdir, "summary.md"), "w") as out:
        out.write(head + "\n" + "\n".join(rows) + "\n")
    print(head)
    print("\n".join(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
