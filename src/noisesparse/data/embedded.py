"""Datasets that build offline from data shipped inside installed wheels."""

from __future__ import annotations

import numpy as np

# Photographs bundled in scikit-image's wheel (no network needed). Binary/synthetic images
# (horse, page, text, checkerboards) are left out: they are not natural image statistics.
PHOTOS_GREY = ["camera", "moon", "coins", "grass", "gravel", "brick"]
PHOTOS_COLOUR = ["astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field",
                 "immunohistochemistry", "retina"]


def _photos(colour: bool) -> list[np.ndarray]:
    from skimage import data as skdata
    from skimage.color import gray2rgb, rgb2gray

    images = []
    for name in PHOTOS_COLOUR + ([] if colour else PHOTOS_GREY):
        img = getattr(skdata, name)()
        img = img.astype(np.float64) / (255.0 if img.dtype == np.uint8 else img.max())
        if img.ndim == 3 and img.shape[-1] == 4:
            img = img[..., :3]
        if colour:
            img = img if img.ndim == 3 else gray2rgb(img)
        else:
            img = rgb2gray(img) if img.ndim == 3 else img
        images.append(img)
    return images


def centre_patches(x: np.ndarray, min_std: float) -> np.ndarray:
    """Remove each patch's own mean (over all its pixels and channels); with `min_std` > 0,
    first drop flat patches, those whose pixel standard deviation is below it (sky, plain
    backgrounds: a centred flat patch is ~0 and carries no structure to code)."""
    keep = x.std(axis=1) >= min_std
    x = x[keep]
    return x - x.mean(axis=1, keepdims=True)


def natural_patches(size: int, colour: bool, n_train: int, n_test: int, seed: int,
                    centre: bool = False, min_std: float = 0.0):
    """Random square patches, values in [0, 1] like raw CIFAR-10 pixels (no normalisation).

    Test patches come from a held-out right-hand strip of every photograph, so no test
    patch overlaps a training patch. `centre`: per-patch mean removed and patches with a
    standard deviation below `min_std` dropped (drawn until n_train / n_test are kept), the
    usual preprocessing of natural-image patches for sparse coding (Olshausen & Field 1996).
    """
    if min_std and not centre:
        raise ValueError("min_std drops flat patches of the centred variant: set centre too")
    if min_std < 0:
        raise ValueError(f"min_std must be >= 0, got {min_std}")
    rng = np.random.default_rng(seed)
    images = _photos(colour)
    splits = {}
    for split, n in (("train", n_train), ("test", n_test)):
        kept, total = [], 0
        while total < n:
            draw = _draw(rng, images, split, size, colour, n if not centre else 2 * (n - total))
            if centre:
                draw = centre_patches(draw, min_std)
            kept.append(draw[:n - total])
            total += len(kept[-1])
            if not kept[-1].size and total < n:
                raise ValueError(f"no patch has a standard deviation >= {min_std}")
        splits[split] = np.concatenate(kept).astype(np.float32)
    shape = [3 if colour else 1, size, size]
    return splits["train"], None, splits["test"], None, shape


def _draw(rng, images, split: str, size: int, colour: bool, n: int) -> np.ndarray:
    out = []
    for i in rng.integers(len(images), size=n):
        img = images[i]
        h, w = img.shape[:2]
        cut = int(w * 0.8)  # columns [0, cut) train, [cut, w) test
        lo, hi = (0, cut - size) if split == "train" else (cut, w - size)
        r = rng.integers(0, h - size + 1)
        c = rng.integers(lo, hi + 1)
        p = img[r:r + size, c:c + size]
        out.append(p.transpose(2, 0, 1) if colour else p[None])  # channels first
    return np.stack(out).reshape(n, -1)


def digits(test_fraction: float, seed: int):
    from sklearn.datasets import load_digits

    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(len(x) * test_fraction))
    te, tr = perm[:n_test], perm[n_test:]
    return x[tr], y[tr], x[te], y[te], [1, 8, 8]
