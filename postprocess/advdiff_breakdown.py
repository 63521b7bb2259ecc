#!/usr/bin/python3
"""Where a posterior's error and calibration come from: the metrics of `pdediff posterior`, split by case.

    /usr/bin/python3 postprocess/advdiff_breakdown.py [--cases N] POST.h5 [POST.h5 ...]

--cases N: the first N test cases only, normalised by their own mean flux, i.e. the figures a run
with `-posterior_ntest N` prints (its samples are keyed by case, so they are the same); to compare
a 1,000-case run with a short experiment on its first cases.

For each file and sampler, one table row for all cases and one per group:
  - mask models (`mask` dataset): cases by the number of sensors on (< 19, 19-22, 23+ of 30);
  - the clipped prior: segments whose true flux is clipped to 0 against those above 0
    (x = max(0, 2 + z): the posterior of a clipped segment has its mass on or near 0);
  - every file, per sampler: the values by quartile of their posterior std / prior std (the
    spread-skill check: a calibrated posterior covers the truth equally well at every width, so
    a coverage that falls from the narrowest quartile to the widest says the narrow posteriors
    are too wide, a floor of the network's resolution rather than the problem's).
Columns: values (cases x segments), error of the posterior mean / mean flux, 1- and 2-sigma
coverage of the truth, RMS error / RMS std (1 for a calibrated spread), the median of
|truth - mean| / std (0.674 for a Gaussian error of that std), and against the file's reference,
on the group's values that have one: the mean |mean - reference mean| / prior std and the mean
std / reference std; the reference is the exact Gaussian posterior (unclipped prior, every case;
issue 6's exact goal) or the MCMC on the latent (clipped prior, its first cases; a value whose MCMC
std is 0, clipped in every state, has no std ratio).
The whole-file row reproduces the figures that `pdediff posterior` prints (the MCMC std ratio up
to its weighting: the program averages per segment first).
"""
import sys

import numpy as np

from advdiff_posterior import attr, exact_prior_std, key_of
from advdiff_text import open_post


def groups(f, truth):
    """(label, boolean array over cases x segments) for every split this file supports"""
    out = [("all", np.ones(truth.shape, bool))]
    if "mask" in f and int(attr(f, "mask_input", 0)):
        on = f["mask"][: truth.shape[0]].sum(axis=1)
        for label, sel in (("< 19 sensors on", on < 19), ("19-22 sensors on", (on >= 19) & (on <= 22)),
                           ("23+ sensors on", on >= 23)):
            out.append((label, np.repeat(sel[:, None], truth.shape[1], axis=1)))
    if int(attr(f, "prior_clipped", 1)) and "exact" not in f:
        out.append(("true flux clipped to 0", truth <= 0))
        out.append(("true flux > 0", truth > 0))
    return out


def std_quartiles(sd, prior_sd):
    """(label, boolean array) for the four quartiles of sd / prior_sd over all values"""
    r = sd / prior_sd
    edges = np.quantile(r, [0.25, 0.5, 0.75])
    q = np.searchsorted(edges, r, side="right")  # 0..3; every value in exactly one quartile
    lo = np.concatenate([[r.min()], edges])
    hi = np.concatenate([edges, [r.max()]])
    return [(f"std quartile {k + 1} ({lo[k]:.3g}-{hi[k]:.3g} prior std)", q == k) for k in range(4)]


def rows(f, path, ncases=None):
    """the table rows of one file; ncases: its first ncases cases only (None: every case)"""
    truth = f["truth"][:ncases]
    mean_flux = float(attr(f, "mean_flux")) if ncases is None else float(truth.mean())
    split = groups(f, truth)
    prior_std = f["prior_std"][:]  # the unit of the std quartiles, read once for both samplers
    ref = "exact" if "exact" in f else ("mcmc" if "mcmc" in f else None)
    if ref:  # the reference's cases are the first n of the file's
        ref_mean, ref_sd = f[ref + "/mean"][:], f[ref + "/std"][:]
        n_ref = min(ref_mean.shape[0], truth.shape[0])
        ref_mean, ref_sd = ref_mean[:n_ref], ref_sd[:n_ref]
        ref_unit = exact_prior_std(f) if ref == "exact" else prior_std
    form, mask, gauss = key_of(f)
    run = f"{form.upper()}{' mask' if mask else ''}{' unclipped' if gauss else ''} {attr(f, 'noise_level'):g}"
    out = []
    for s in ("ode", "sde"):
        if s not in f:
            continue
        m, sd = f[s + "/posterior_mean"][:ncases], f[s + "/posterior_std"][:ncases]
        err = np.abs(m - truth)
        z = err / np.maximum(sd, np.finfo(float).tiny)
        if ref:
            ref_err = np.abs(m[:n_ref] - ref_mean) / ref_unit
            ratio = np.where(ref_sd > 0, sd[:n_ref] / np.where(ref_sd > 0, ref_sd, 1), np.nan)
        for label, sel in split + std_quartiles(sd, prior_std):
            n = int(sel.sum())
            if n == 0:
                continue
            cells = [run, s.upper(), label, str(n),
                     f"{100 * err[sel].mean() / mean_flux:.2f}%", f"{(z[sel] <= 1).mean():.3f}", f"{(z[sel] <= 2).mean():.3f}",
                     f"{np.sqrt((err[sel] ** 2).mean() / (sd[sel] ** 2).mean()):.3f}", f"{np.median(z[sel]):.3f}"]
            rsel = sel[:n_ref] if ref else None
            if ref and rsel.any():
                cells += [f"{'MCMC' if ref == 'mcmc' else 'exact'} ({int(rsel.sum())})", f"{ref_err[rsel].mean():.3f}", f"{np.nanmean(ratio[rsel]):.3f}"]
            else:
                cells += ["-", "-", "-"]
            out.append("| " + " | ".join(cells) + f" | {path} |")
    return out


def main(argv):
    ncases = None
    if argv[:1] == ["--cases"]:
        if len(argv) < 2 or not argv[1].isdigit() or int(argv[1]) < 1:
            sys.exit(f"--cases {' '.join(argv[1:2])}: give a whole number of test cases >= 1 (the first N cases of each file)")
        ncases, argv = int(argv[1]), argv[2:]
    if not argv:
        sys.exit(__doc__)
    head = ("| run | sampler | cases | values | error / mean flux | 1-sigma cov. | 2-sigma cov. | RMS err / RMS std "
            "| median abs err / std | reference (values) | vs ref.: mean err. (prior std) | vs ref.: std ratio | file |\n" + "|---" * 13 + "|")
    body = []
    for p in argv:
        f, _ = open_post(p)
        with f:
            if "truth" not in f or "mean_flux" not in f.attrs:
                sys.exit(f"{p}: not a pdediff posterior file with the true fluxes (write it with pdediff posterior)")
            if "archive_rows" in f.attrs:  # a compact copy holds a few cases; its breakdown was made from all of them
                sys.exit(f"{p}: an advdiff_archive.py copy ({int(f.attrs['archive_rows'])} of {int(attr(f, 'n_test'))} cases); "
                         f"its breakdown, made from every case, is its attribute 'breakdown' "
                         + ("(in the text: the root object's attrs)" if p.endswith(".json") else f"(h5dump -a breakdown {p})"))
            if ncases is not None and ncases > f["truth"].shape[0]:
                sys.exit(f"{p}: --cases {ncases} but the file holds {f['truth'].shape[0]} test cases (give --cases {f['truth'].shape[0]} or fewer)")
            body += rows(f, p, ncases)
    print(head)
    print("\n".join(body))


if __name__ == "__main__":
    main(sys.argv[1:])
