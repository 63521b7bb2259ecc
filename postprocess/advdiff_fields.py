#!/usr/bin/python3
"""Figures 5 and 11 of the paper: concentration fields of chosen samples with their wall fluxes.

    /usr/bin/python3 postprocess/advdiff_fields.py DATASET.h5 [OUT.png] [--post POST.h5]

With --post (a `pdediff posterior` file on the same data set), a third column shows each stored
test sample's measurement (noise included) at the 30 sensors, and for a mask model (Figure 11)
the sensors that are off are red crosses on the field and gaps in the measurement profile.

DATASET.h5 is written by `pdediff generate` (datasets fields, field_index, x, sensor_coords,
segment_bounds; attributes nx, ny, Lx, Ly). One row per stored field: the P1 field on the
structured grid (natural vertex order v = i (ny+1) + j) with the sensors marked, and beside it
the flux on the 15 bottom and 15 top wall segments.
"""
import sys

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def main(path, out, post=None):
    meas = {}
    if post:
        with h5py.File(post, "r") as p:
            first = int(p.attrs["first_row"])
            y = p["measurement"][:]
            m = p["mask"][:] if "mask" in p else np.ones_like(y)
            for c in range(len(y)):
                meas[first + c] = (y[c], m[c])
    with h5py.File(path, "r") as f:
        nx, ny = int(f.attrs["nx"]), int(f.attrs["ny"])
        lx, ly = float(f.attrs["Lx"]), float(f.attrs["Ly"])
        fields = f["fields"][:]
        index = f["field_index"][:].astype(int)
        x = f["x"]
        flux = np.array([x[i] for i in index])
        sensors = f["sensor_coords"][:]
        bounds = f["segment_bounds"][:]
    nf = len(index)
    if nf == 0:
        sys.exit(f"{path}: no stored fields (run pdediff generate with -generate_fields)")
    ncol = 3 if post else 2
    fig, axes = plt.subplots(nf, ncol, figsize=(13 + 4 * (ncol - 2), 2.6 * nf), squeeze=False,
                             gridspec_kw={"width_ratios": [3, 1, 1][:ncol]})
    gx = np.linspace(0, lx, nx + 1)
    gy = np.linspace(0, ly, ny + 1)
    nseg = len(bounds) // 2
    for r in range(nf):
        u = fields[r].reshape(nx + 1, ny + 1).T  # rows: y, columns: x
        ax = axes[r, 0]
        im = ax.pcolormesh(gx, gy, u, shading="gouraud", cmap="viridis")
        ym = meas.get(int(index[r]))
        on = ym[1] > 0 if ym is not None else np.ones(len(sensors), bool)
        ax.plot(sensors[on, 0], sensors[on, 1], "w.", ms=4)
        ax.plot(sensors[~on, 0], sensors[~on, 1], "rx", ms=6)
        ax.set_aspect("equal")
        ax.set_title(f"sample {index[r]}: concentration u (sensors white)")
        fig.colorbar(im, ax=ax, fraction=0.025)
        ax = axes[r, 1]
        mids = 0.5 * (bounds[:nseg, 0] + bounds[:nseg, 1])
        ax.step(mids, flux[r, :nseg], where="mid", label="bottom wall")
        ax.step(mids, flux[r, nseg:], where="mid", label="top wall")
        ax.set_xlabel("x")
        ax.set_ylabel("flux q")
        ax.legend(fontsize=7)
        if post:
            ax = axes[r, 2]
            if ym is not None:
                half = len(sensors) // 2
                for k, lab in ((0, "y = 0.5"), (1, "y = 3.5")):
                    v = np.where(on, ym[0], np.nan)[k * half:(k + 1) * half]
                    ax.plot(sensors[k * half:(k + 1) * half, 0], v, "o-", ms=3, label=lab)
                ax.legend(fontsize=7)
            else:
                ax.text(0.5, 0.5, "not a test case of --post", ha="center", transform=ax.transAxes)
            ax.set_xlabel("sensor x")
            ax.set_ylabel("measurement")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"advdiff_fields: wrote {out}")


if __name__ == "__main__":
    args = sys.argv[1:]
    post = None
    if "--post" in args:
        i = args.index("--post")
        post = args[i + 1]
        del args[i:i + 2]
    if not args:
        sys.exit(__doc__)
    main(args[0], args[1] if len(args) > 1 else args[0].rsplit(".", 1)[0] + "_fields.png", post)
