"""Receptive-field analysis (claim 6): is a neuron's encoder row, seen as an image, an
oriented localised Gabor, a centre-surround (difference of Gaussians), or neither?

Pure functions of numpy arrays [H, W] (a colour field is first averaged over its channels).
Each field is fitted by least squares with two models, both with a constant offset:
- a 2-D Gabor: a Gaussian envelope (centre, orientation, two widths) times a sinusoid along
  the orientation, a cos + b sin (the phase is linear, so no phase grid is needed);
- a difference of two concentric isotropic Gaussians (centre and surround of opposite sign).
R^2 = 1 - SSE / sum (f - mean f)^2 measures each fit. White noise fits neither well.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

R2_MIN = 0.6  # a fit explains >= 60% of the field's variance: "well fit"
SURROUND_MIN = 0.1  # surround's integrated weight >= 10% of the centre's


def _grid(h: int, w: int):
    return np.mgrid[0:h, 0:w].astype(float)  # yy, xx


def gabor(p, yy, xx) -> np.ndarray:
    """p = (x0, y0, theta, log sx, log sy, f, a, b, c): sx is the envelope's width along the
    carrier (across the stripes), sy along the stripes; f in cycles per pixel."""
    x0, y0, th, lsx, lsy, f, a, b, c = p
    dx, dy = xx - x0, yy - y0
    u = dx * np.cos(th) + dy * np.sin(th)
    v = -dx * np.sin(th) + dy * np.cos(th)
    env = np.exp(-0.5 * ((u / np.exp(lsx)) ** 2 + (v / np.exp(lsy)) ** 2))
    phase = 2 * np.pi * f * u
    return env * (a * np.cos(phase) + b * np.sin(phase)) + c


def dog(p, yy, xx) -> np.ndarray:
    """p = (x0, y0, log s1, log s2, a1, a2, c): a1 G(s1) - a2 G(s2), G unit-peak Gaussians."""
    x0, y0, ls1, ls2, a1, a2, c = p
    r2 = (xx - x0) ** 2 + (yy - y0) ** 2
    return a1 * np.exp(-0.5 * r2 / np.exp(2 * ls1)) - a2 * np.exp(-0.5 * r2 / np.exp(2 * ls2)) + c


def _r2(field: np.ndarray, fit: np.ndarray) -> float:
    tot = float(((field - field.mean()) ** 2).sum())
    return 1.0 - float(((field - fit) ** 2).sum()) / tot if tot > 0 else 0.0


def _as_2d(field: np.ndarray) -> np.ndarray:
    field = np.asarray(field, dtype=float)
    if field.ndim == 3:  # [C, H, W]: luminance-like mean over channels
        field = field.mean(0)
    if field.ndim != 2 or min(field.shape) < 3:
        raise ValueError(f"a receptive field is an image [H, W] or [C, H, W], got {field.shape}")
    if not np.isfinite(field).all():
        raise ValueError("receptive field has non-finite values")
    return field


def _centroid(field: np.ndarray, yy, xx):
    e = (field - field.mean()) ** 2
    s = e.sum()
    if s == 0:
        return (field.shape[1] - 1) / 2, (field.shape[0] - 1) / 2
    return float((e * xx).sum() / s), float((e * yy).sum() / s)


def fit_gabor(field) -> dict:
    """Best Gabor fit from a few starts (the strongest spatial frequencies of the field)."""
    f = _as_2d(field)
    h, w = f.shape
    yy, xx = _grid(h, w)
    size = max(h, w)
    spec = np.abs(np.fft.fft2(f - f.mean()))
    ky, kx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    spec[0, 0] = 0
    order = np.argsort(spec.ravel())[::-1]
    starts, seen = [], set()
    for i in order:  # distinct peaks (a real field's spectrum is symmetric: +-k is one peak)
        key = (round(abs(float(kx.flat[i])), 3), round(float(np.sign(kx.flat[i] or 1) * ky.flat[i]), 3))
        if key in seen:
            continue
        seen.add(key)
        starts.append((np.arctan2(ky.flat[i], kx.flat[i]), np.hypot(kx.flat[i], ky.flat[i])))
        if len(starts) == 2:
            break
    x0, y0 = _centroid(f, yy, xx)
    amp = float(np.abs(f - f.mean()).max())
    lo = [-1.0, -1.0, -np.inf, np.log(0.5), np.log(0.5), 0.0, -np.inf, -np.inf, -np.inf]
    hi = [w, h, np.inf, np.log(size), np.log(size), 0.5, np.inf, np.inf, np.inf]
    best = None
    for th, fr in starts:
        for sig in (size / 6, size / 3):
            p0 = [x0, y0, th, np.log(sig), np.log(sig), min(fr, 0.49), amp, 0.0, f.mean()]
            res = least_squares(lambda p: (gabor(p, yy, xx) - f).ravel(), p0, bounds=(lo, hi),
                                max_nfev=150, x_scale="jac")
            if best is None or res.cost < best.cost:
                best = res
    p = best.x
    fit = gabor(p, yy, xx)
    sx, sy = float(np.exp(p[3])), float(np.exp(p[4]))
    return {"r2": _r2(f, fit), "x0": float(p[0]), "y0": float(p[1]),
            "theta": float(np.mod(p[2], np.pi)), "sigma_across": sx, "sigma_along": sy,
            "freq": float(p[5]), "cycles": float(p[5] * 2 * sx),  # carrier periods per 2 sigma
            "fit": fit}


def fit_dog(field) -> dict:
    """Best centred difference-of-Gaussians fit; the centre may be ON or OFF (sign of a1)."""
    f = _as_2d(field)
    h, w = f.shape
    yy, xx = _grid(h, w)
    size = max(h, w)
    x0, y0 = _centroid(f, yy, xx)
    amp = float(np.abs(f - f.mean()).max())
    lo = [-1.0, -1.0, np.log(0.4), np.log(0.4), -np.inf, -np.inf, -np.inf]
    hi = [w, h, np.log(size), np.log(2 * size), np.inf, np.inf, np.inf]
    best = None
    # the centre's sign: that of the field near its energy centroid
    sign = 1.0 if f[int(round(min(max(y0, 0), h - 1))), int(round(min(max(x0, 0), w - 1)))] \
        >= f.mean() else -1.0
    for s1, s2 in ((1.0, 3.0), (size / 8, size / 3)):
        p0 = [x0, y0, np.log(s1), np.log(s2), sign * amp, sign * amp / 4, f.mean()]
        res = least_squares(lambda p: (dog(p, yy, xx) - f).ravel(), p0, bounds=(lo, hi),
                            max_nfev=150, x_scale="jac")
        if best is None or res.cost < best.cost:
            best = res
    x0, y0, ls1, ls2, a1, a2, c = best.x
    s1, s2 = float(np.exp(ls1)), float(np.exp(ls2))
    if s2 < s1:  # name the narrower Gaussian the centre
        s1, s2, a1, a2 = s2, s1, -a2, -a1
    # integrated weight of each part: amplitude x area; a surround opposes the centre
    centre, surround = a1 * s1 ** 2, a2 * s2 ** 2
    ratio = float(surround / centre) if centre != 0 else 0.0
    return {"r2": _r2(f, dog(best.x, yy, xx)), "x0": float(x0), "y0": float(y0),
            "sigma_centre": s1, "sigma_surround": s2, "surround_ratio": ratio,
            "on_centre": bool(a1 > 0)}


def orientation_selectivity(field) -> float:
    """|sum_k P(k) e^{2i angle(k)}| / sum_k P(k) over the non-zero spatial frequencies of the
    field's power spectrum: 1 for a grating, ~0 for a radially symmetric field."""
    f = _as_2d(field)
    h, w = f.shape
    p = np.abs(np.fft.fft2(f - f.mean())) ** 2
    ky, kx = np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij")
    p[0, 0] = 0
    s = p.sum()
    return float(np.abs((p * np.exp(2j * np.arctan2(ky, kx))).sum()) / s) if s > 0 else 0.0


def localisation(field) -> float:
    """Share of the field's energy sum (f - mean)^2 inside the smallest disk that is a quarter
    of the patch area, centred on the energy centroid: 0.25 for a spread-out field, -> 1 for a
    compact one."""
    f = _as_2d(field)
    h, w = f.shape
    yy, xx = _grid(h, w)
    x0, y0 = _centroid(f, yy, xx)
    e = (f - f.mean()) ** 2
    r = np.sqrt(h * w / (4 * np.pi))
    inside = (xx - x0) ** 2 + (yy - y0) ** 2 <= r ** 2
    return float(e[inside].sum() / e.sum()) if e.sum() > 0 else 0.0


def classify(field, r2_min: float = R2_MIN) -> dict:
    """One field's measures and its kind:
    - centre_surround: the DoG fits (R^2 >= r2_min), at least as well as the Gabor less
      0.02, with a surround of the opposite sign weighing >= SURROUND_MIN of the centre;
    - gabor: otherwise the Gabor fits (R^2 >= r2_min), its centre inside the patch and its
      envelope localised (across the stripes, sigma <= a quarter of the patch side);
    - other: neither (noise-like, global gratings, patch-wide blobs)."""
    f = _as_2d(field)
    h, w = f.shape
    g, d = fit_gabor(f), fit_dog(f)
    cs = (d["r2"] >= r2_min and d["r2"] >= g["r2"] - 0.02
          and d["surround_ratio"] >= SURROUND_MIN and d["sigma_surround"] > d["sigma_centre"])
    inside = 0 <= g["x0"] <= w - 1 and 0 <= g["y0"] <= h - 1
    gab = g["r2"] >= r2_min and inside and g["sigma_across"] <= max(h, w) / 4
    kind = "centre_surround" if cs else ("gabor" if gab else "other")
    return {"kind": kind, "r2_gabor": g["r2"], "r2_dog": d["r2"],
            "gabor_sigma_across": g["sigma_across"], "gabor_sigma_along": g["sigma_along"],
            "gabor_freq": g["freq"], "gabor_theta": g["theta"],
            "dog_surround_ratio": d["surround_ratio"],
            "orientation_selectivity": orientation_selectivity(f), "localisation": localisation(f)}


def analyse(fields) -> pd.DataFrame:
    """One row per field [N, H, W] or [N, C, H, W] (see `classify`)."""
    fields = np.asarray(fields)
    if fields.ndim not in (3, 4) or len(fields) == 0:
        raise ValueError(f"expected fields [N, H, W] or [N, C, H, W], got {fields.shape}")
    return pd.DataFrame([{"field": i, **classify(f)} for i, f in enumerate(fields)])


def shares(table: pd.DataFrame) -> dict:
    """Shares of each kind, and the median fit quality and selectivity, over a field table."""
    n = len(table)
    kinds = table["kind"].value_counts()
    return {"n_fields": n, **{f"share_{k}": float(kinds.get(k, 0)) / n if n else np.nan
                              for k in ("gabor", "centre_surround", "other")},
            "median_r2_gabor": float(table["r2_gabor"].median()) if n else np.nan,
            "median_orientation_selectivity": float(table["orientation_selectivity"].median())
            if n else np.nan,
            "median_localisation": float(table["localisation"].median()) if n else np.nan}
