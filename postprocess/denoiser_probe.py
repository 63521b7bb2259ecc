#!/usr/bin/python3
"""How a trained score network denoises, noise scale by noise scale: what the samplers integrate.

    /usr/bin/python3 postprocess/denoiser_probe.py [--rows A:B] [--seed S] [--check] MODEL.h5 DATA.h5

For rows A..B-1 of DATA.h5 (default: the rows after the model's n_train, i.e. the test cases) and
a grid of diffusion times t, draws x_t = m(t) x0 + sigma(t) z (normalised x0 as the model sees it)
and evaluates the network's denoiser D(x^) = E[x0 | x_t, y] read off its output by Tweedie's
formula, x^ = x_t / m being x0 plus noise of std s^ = sigma / m:
  - score output:  D = (x_t + sigma^2 s) / m;  noise output: s = -out / sigma;
  - edm output:    D = c0 + c_skip (x^ - c0) + c_out out (libcore/dsm.h).
It prints the RMS error of the training rows' mean as a guess of x0 (what y adds is measured
against it), then per t: s^, the RMS of D - x0 (normalised units; the error of the network's guess of x0
from y and a noisy x0), and the mean over rows of tr(dD/dx^)/n and |dD/dx^|_F / sqrt(n), the
Jacobian taken exactly through the ReLU network. Why: the probability-flow ODE moves x^ by
(x^ - D)/s^ per unit ln s^, so a spread among samples shrinks by (1 - J) per unit ln s^ with J
the Jacobian's eigenvalues: where the true posterior is narrower than s^ the exact J is ~0, and
whatever the network leaves of it the flow keeps as spread. --check compares the Jacobian with
central differences of the same forward pass on a few points and exits 1 on a mismatch.
The condition is y_clean plus the model's measurement noise (its noise_sigma, seeded); models
with a sensor-mask input and the xi formulation are refused.
"""
import sys

import h5py
import numpy as np


def fail(msg):
    sys.stderr.write(f"denoiser_probe: {msg}\n")
    sys.exit(2)


def attr_str(f, name):
    v = f.attrs[name]
    v = v[0] if isinstance(v, np.ndarray) else v
    return v.decode() if isinstance(v, bytes) else str(v)


def attr_num(f, name):
    return float(np.ravel(f.attrs[name])[0])


class Net:
    """The model file's MLP (flat W_0, b_0, W_1, b_1, ...; W_l row-major, out x in; ReLU hidden)."""

    def __init__(self, path):
        try:
            f = h5py.File(path, "r")
        except OSError as e:
            fail(f"{path}: cannot open as HDF5 ({e}); give a model file written by pdediff train")
        with f:
            if "params" not in f or "layer_widths" not in f:
                fail(f"{path}: no params / layer_widths: not a pdediff model file")
            widths = [int(v) for v in f["layer_widths"][:]]
            p = f["params"][:].astype(np.float64)
            self.W, self.b, o = [], [], 0
            for l in range(len(widths) - 1):
                n, m = widths[l + 1], widths[l]
                self.W.append(p[o:o + n * m].reshape(n, m))
                o += n * m
                self.b.append(p[o:o + n])
                o += n
            if o != len(p):
                fail(f"{path}: {len(p)} parameters, the widths {widths} need {o}")
            if "mask" in f.attrs and int(attr_num(f, "mask")):
                fail(f"{path}: a sensor-mask model; the probe conditions on y alone (use a model trained without -mask_prob)")
            self.sde = attr_str(f, "sde_type")
            if self.sde not in ("ve", "vp"):
                fail(f"{path}: formulation {self.sde}: the probe knows ve and vp")
            self.sigma_max = attr_num(f, "sde_sigma_max")
            self.beta_min, self.beta_max = attr_num(f, "sde_beta_min"), attr_num(f, "sde_beta_max")
            self.T, self.eps = attr_num(f, "sde_T"), attr_num(f, "sde_eps")
            self.embed = attr_str(f, "time_embed") if "time_embed" in f.attrs else "paper"
            self.output = attr_str(f, "net_output") if "net_output" in f.attrs else "score"
            if self.output == "edm":
                self.sd, self.ss, self.c0 = (attr_num(f, k) for k in ("net_sigma_data", "net_sigma_skip", "net_centre"))
            self.x_lo, self.x_hi, self.y_lo, self.y_hi = (f[k][:] for k in ("x_lo", "x_hi", "y_lo", "y_hi"))
            self.n_train = int(attr_num(f, "n_train"))
            self.noise_sigma = attr_num(f, "noise_sigma") if "noise_sigma" in f.attrs else 0.0
        self.nx = widths[-1]
        self.ny = widths[0] - self.nx - 4
        if len(self.x_lo) != self.nx or len(self.y_lo) != self.ny:
            fail(f"{path}: normalisation of {len(self.x_lo)} x and {len(self.y_lo)} y values for a network of {self.nx} x and {self.ny} y inputs")

    def coef(self, t):
        """m(t), sigma(t) as libcore/schedule.c."""
        if self.sde == "ve":
            l2 = 2.0 * np.log(self.sigma_max)
            return 1.0, np.sqrt(np.expm1(l2 * t) / l2)
        B = self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t * t
        return np.exp(-0.5 * B), np.sqrt(-np.expm1(-B))

    def embedding(self, t, sigma):
        first = 0.25 * np.log(sigma) if self.embed == "logsigma" else t - 0.5
        return np.array([first, np.cos(2 * np.pi * t), np.sin(2 * np.pi * t), -np.cos(4 * np.pi * t)])

    def forward(self, xt, yn, t):
        """Network output and its Jacobian with respect to the x_t inputs."""
        m, sigma = self.coef(t)
        h = np.concatenate([xt, yn, self.embedding(t, sigma)])
        J = np.eye(len(h))[:, :self.nx]
        for l, (W, b) in enumerate(zip(self.W, self.b)):
            z = W @ h + b
            J = W @ J
            if l < len(self.W) - 1:
                on = z > 0
                h, J = z * on, J * on[:, None]
            else:
                h = z
        return h, J

    def denoise(self, xt, yn, t):
        """D(x^) and dD/dx^ (x^ = x_t / m)."""
        out, J = self.forward(xt, yn, t)
        m, sigma = self.coef(t)
        I = np.eye(self.nx)
        if self.output == "edm":
            sh = sigma / m
            den = sh * sh + self.ss * self.ss
            cs = self.ss * self.ss / den
            co = sh * np.sqrt(sh * sh * self.sd * self.sd + self.ss ** 4) / den
            return self.c0 + cs * (xt / m - self.c0) + co * out, cs * I + co * m * J
        if self.output == "noise":  # s = -out / sigma
            return (xt - sigma * out) / m, I - sigma * J
        return (xt + sigma * sigma * out) / m, I + sigma * sigma * J  # score output


def scaled(v, lo, hi):
    return (v - lo) / np.where(hi > lo, hi - lo, 1.0)


def main(argv):
    rows, seed, check, files = None, 1, False, []
    it = iter(argv)
    for a in it:
        if a == "--rows":
            try:
                lo, hi = (int(v) for v in next(it).split(":"))
            except (StopIteration, ValueError):
                fail("--rows A:B: two integers, the first row and one past the last")
            rows = (lo, hi)
        elif a == "--seed":
            try:
                seed = int(next(it))
            except (StopIteration, ValueError):
                fail("--seed S: an integer, the seed of the noises x_t and of the measurement noise")
        elif a == "--check":
            check = True
        elif a.startswith("--"):
            fail(f"unknown option {a} (--rows A:B, --seed S, --check)")
        else:
            files.append(a)
    if len(files) != 2:
        fail("usage: denoiser_probe.py [--rows A:B] [--seed S] [--check] MODEL.h5 DATA.h5")
    net = Net(files[0])
    try:
        d = h5py.File(files[1], "r")
    except OSError as e:
        fail(f"{files[1]}: cannot open as HDF5 ({e}); give the data set the model was trained on")
    with d:
        if "x" not in d or "y_clean" not in d:
            fail(f"{files[1]}: no x / y_clean datasets: give the data set of pdediff generate the model was trained on")
        n = d["x"].shape[0]
        lo, hi = rows if rows else (net.n_train, min(n, net.n_train + 300))
        if not (0 <= lo < hi <= n):
            fail(f"--rows {lo}:{hi}: the data set {files[1]} has rows 0..{n - 1}")
        if d["x"].shape[1] != net.nx or d["y_clean"].shape[1] != net.ny:
            fail(f"{files[1]}: x has {d['x'].shape[1]} and y {d['y_clean'].shape[1]} values per row, the model takes {net.nx} and {net.ny}")
        X, Y = d["x"][lo:hi], d["y_clean"][lo:hi]
        prior_mean = scaled(d["x"][:net.n_train].mean(axis=0), net.x_lo, net.x_hi)
    rng = np.random.default_rng(seed)
    Y = Y + net.noise_sigma * rng.standard_normal(Y.shape)
    x0, yn = scaled(X, net.x_lo, net.x_hi), scaled(Y, net.y_lo, net.y_hi)
    ts = [t for t in (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0) if net.eps <= t <= net.T]
    print(f"{files[0]}: {net.sde.upper()}, output {net.output}, rows {lo}..{hi - 1} of {files[1]} ({hi - lo} cases)")
    print(f"the training rows' mean as the guess (no y): RMS error {np.sqrt(np.mean((x0 - prior_mean) ** 2)):.3g} (normalised x)")
    print("| t | s^ = sigma/m | RMS D - x0 (normalised x) | tr(dD/dx^)/n | abs(dD/dx^)_F / sqrt(n) |")
    print("|---|---|---|---|---|")
    worst = 0.0
    for t in ts:
        m, sigma = net.coef(t)
        err, tr, fro = [], [], []
        for i in range(hi - lo):
            xt = m * x0[i] + sigma * rng.standard_normal(net.nx)
            D, J = net.denoise(xt, yn[i], t)
            err.append(np.mean((D - x0[i]) ** 2))
            tr.append(np.trace(J) / net.nx)
            fro.append(np.linalg.norm(J) / np.sqrt(net.nx))
            if check and i < 3:  # central differences in x^ = x_t / m
                h = 1e-6 * max(1.0, np.abs(xt / m).max())
                fd = np.empty_like(J)
                for k in range(net.nx):
                    e = np.zeros(net.nx)
                    e[k] = h * m
                    fd[:, k] = (net.denoise(xt + e, yn[i], t)[0] - net.denoise(xt - e, yn[i], t)[0]) / (2 * h)
                worst = max(worst, np.abs(fd - J).max() / max(1.0, np.abs(J).max()))
        print(f"| {t:.0e} | {sigma / m:.3g} | {np.sqrt(np.mean(err)):.3g} | {np.mean(tr):.4f} | {np.mean(fro):.4f} |")
    if check:
        ok = worst < 1e-5
        print(f"check: dD/dx^ against central differences, largest deviation {worst:.1e} of max(1, |J|) ({'ok' if ok else 'FAIL'}, bound 1e-5)")
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
