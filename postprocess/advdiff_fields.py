#!/usr/bin/python3
"""Figure 5 of the paper: concentration fields of chosen samples with their wall fluxes.

    /usr/bin/python3 postprocess/advdiff_fields.py DATASET.h5 [OUT.png]

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


def main(path, out):
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
    fig, axes = plt.subplots(nf, 2, figsize=(13, 2.6 * nf), squeeze=False,
                             gridspec_kw={"width_ratios": [3, 1]})
    gx = np.linspace(0, lx, nx + 1)
    gy = np.linspace(0, ly, ny + 1)
    nseg = len(bounds) // 2
    for r in range(nf):
        u = fields[r].reshape(nx + 1, ny + 1).T  # rows: y, columns: x
        ax = axes[r, 0]
        im = ax.pcolormesh(gx, gy, u, shading="gouraud", cmap="viridis")
        ax.plot(sensors[:, 0], sensors[:, 1], "w.", ms=4)
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
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"advdiff_fields: wrote {out}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else sys.argv[1].rsplit(".", 1)[0] + "_fields.png")
