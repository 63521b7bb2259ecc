#!/usr/bin/python3
"""Figures 1-3 of the paper (Section 5.1) from the cell files of `pdediff density`.

  /usr/bin/python3 postprocess/density_figures.py runs/table1 [-o runs/table1/figures]

Figure 1: KDE contours of the three joints (from the training samples stored in the cell files).
Figure 2 (VE) and 3 (VP): histograms of the generated samples (ODE sampler, and SDE as a line)
against the band reference (the paper's "true" conditional) and the exact conditional density, at
every Y value, one row per case. Any formulation present (xi1, xi4) gets a figure of its own.
Writes PNG files; a missing cell is skipped with a message.
"""
import argparse
import os
import sys

import h5py
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import gaussian_kde

CASES = ("tanh", "bimodal", "spiral")


def cell(path):
    with h5py.File(path, "r") as f:
        off = f["band_offset"][:].astype(int)
        band = f["band"][:]
        return dict(
            y=f["y_values"][:], ode=f["samples_ode"][:], sde=f["samples_sde"][:],
            bands=[band[off[k]:off[k + 1]] for k in range(len(off) - 1)],
            pdf_x=f["pdf_x"][:], pdf=f["pdf"][:], tx=f["train_x"][:], ty=f["train_y"][:],
            d=f["ot_euclidean"][:], form=f.attrs["formulation"])


def figure1(cells, out):
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, c in zip(axes, CASES):
        if c not in cells:
            ax.set_title(f"{c}: no cell file")
            continue
        x, y = cells[c]["tx"], cells[c]["ty"]
        kde = gaussian_kde(np.vstack([x, y]))
        gx = np.linspace(np.percentile(x, 0.2), np.percentile(x, 99.8), 150)
        gy = np.linspace(np.percentile(y, 0.2), np.percentile(y, 99.8), 150)
        X, Y = np.meshgrid(gx, gy)
        Z = kde(np.vstack([X.ravel(), Y.ravel()])).reshape(X.shape)
        ax.contourf(X, Y, Z, levels=12, cmap="viridis")
        ax.set_xlabel("X")
        ax.set_ylabel("Y")
        ax.set_title(f"({'abc'[CASES.index(c)]}) {c.capitalize()}")
    fig.suptitle("Figure 1: joint densities (KDE of the training samples)")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def histograms(cells, form, out, number):
    ny = max(len(v["y"]) for v in cells.values())
    fig, axes = plt.subplots(len(CASES), ny, figsize=(3.3 * ny, 2.8 * len(CASES)), squeeze=False)
    for r, c in enumerate(CASES):
        for k in range(ny):
            ax = axes[r][k]
            if c not in cells or k >= len(cells[c]["y"]):
                ax.axis("off")
                continue
            v = cells[c]
            bins = np.linspace(min(v["bands"][k].min(), np.percentile(v["ode"][k], 0.5)),
                               max(v["bands"][k].max(), np.percentile(v["ode"][k], 99.5)), 50)
            ax.hist(v["bands"][k], bins=bins, density=True, alpha=0.45, color="gray", label="band reference")
            ax.hist(v["ode"][k], bins=bins, density=True, histtype="step", lw=1.6, color="C0", label="generated (ODE)")
            ax.hist(v["sde"][k], bins=bins, density=True, histtype="step", lw=1.0, color="C1", label="generated (SDE)")
            ax.plot(v["pdf_x"][k], v["pdf"][k], "k--", lw=1, label="exact conditional")
            ax.set_xlim(bins[0], bins[-1])
            ax.set_title(f"{c}, Y = {v['y'][k]:g}: OT {v['d'][k, 0]:.3f} (floor {v['d'][k, 2]:.3f})", fontsize=8)
            if r == 0 and k == 0:
                ax.legend(fontsize=6)
    name = {"ve": "variance exploding", "vp": "variance preserving"}.get(form, f"{form} (bounded-variance family)")
    fig.suptitle(f"Figure {number}: generated samples, {name} formulation, against the reference")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", help="directory with CASE_FORMULATION.h5 cell files")
    ap.add_argument("-o", "--out", help="output directory (default DIR/figures)")
    a = ap.parse_args()
    out = a.out or os.path.join(a.dir, "figures")
    os.makedirs(out, exist_ok=True)
    forms = sorted({n.split("_", 1)[1][:-3] for n in os.listdir(a.dir)
                    if n.endswith(".h5") and not n.endswith(".model.h5") and n.split("_", 1)[0] in CASES})
    if not forms:
        sys.exit(f"density_figures: no cell files CASE_FORMULATION.h5 in {a.dir}: run pdediff density first")
    written = []
    for form in forms:
        cells = {}
        for c in CASES:
            p = os.path.join(a.dir, f"{c}_{form}.h5")
            if os.path.exists(p):
                cells[c] = cell(p)
            else:
                print(f"density_figures: no {p}: its row is left empty")
        if not written:
            figure1(cells, os.path.join(out, "figure1_joints.png"))
            written.append("figure1_joints.png")
        number = {"ve": "2", "vp": "3"}.get(form, f"({form})")
        fn = f"figure{number.strip('()')}_{form}_histograms.png" if form in ("ve", "vp") else f"histograms_{form}.png"
        histograms(cells, form, os.path.join(out, fn), number)
        written.append(fn)
    print("density_figures: wrote " + ", ".join(os.path.join(out, w) for w in written))


if __name__ == "__main__":
    main()
