"""Dataset kind `image_folder`: your own images, so any study can run on them.

One entry in config/datasets.yaml is enough:

    my_photos:
      kind: image_folder
      path: data/my_photos    # a folder (searched recursively) or one .npy file
      size: 16                # output images are size x size
      colour: false           # grey (1 channel) or colour (3 channels)
      mode: patches           # patches: random size x size crops (default);
                              # resize: one centre square per image, resized to size
      n_patches: 20000        # patches mode: how many, train + test
      test_fraction: 0.1
      seed: 0

Images: png, jpg, jpeg, bmp, tif, tiff, read with PIL (installed with torchvision, whose own
decoders, torchvision.io, are deprecated since 0.29 and read neither bmp nor tif). An .npy array is [N, H, W] or [N, H, W, C]: uint8 (/255), uint16 (/65535),
bool, or float already in [0, 1]. Values come out in [0, 1] like raw CIFAR-10 pixels, with
no further normalisation; grey is scikit-image's rgb2gray (as the embedded patches).

The train/test split is seeded and never overlaps: by whole image when there are at least
five images (resize mode: whenever there are two), otherwise, for one to four large
photographs, by a held-out right-hand strip of every image (like natural_patches).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ConfigError

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
MODES = ("patches", "resize")


def _scale(a: np.ndarray, where: str, strict: bool) -> np.ndarray:
    if a.dtype == np.bool_:
        return a.astype(np.float64)
    if a.dtype == np.uint8:
        return a / 255.0
    if a.dtype == np.uint16:
        return a / 65535.0
    if np.issubdtype(a.dtype, np.integer) and not strict:  # e.g. PIL mode "I" (32-bit ints)
        top = 255.0 if a.max(initial=0) <= 255 else 65535.0 if a.max(initial=0) <= 65535 \
            else float(a.max())
        return np.clip(a / top, 0.0, 1.0)
    if np.issubdtype(a.dtype, np.floating):
        lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
        if np.isnan(a).any() or lo < -1e-6 or hi > 1 + 1e-6:
            raise ConfigError(f"{where}: float values must lie in [0, 1] (found {lo:g}..{hi:g}); "
                              "save uint8 (0..255) or rescale")
        return np.clip(a.astype(np.float64), 0.0, 1.0)
    raise ConfigError(f"{where}: unsupported dtype {a.dtype} (use uint8, uint16 or float in "
                      "[0, 1])")


def _read_image(path: Path) -> np.ndarray:
    """One image as float64 [H, W] or [H, W, 3] in [0, 1] (alpha dropped)."""
    try:
        from PIL import Image
        with Image.open(path) as im:
            if im.mode in ("P", "PA", "1", "CMYK", "YCbCr", "LAB", "HSV"):
                im = im.convert("RGBA" if "A" in im.mode or "transparency" in im.info
                                else "RGB")
            a = np.asarray(im)
    except ConfigError:
        raise
    except Exception as e:
        raise ConfigError(f"cannot read image {path}: {type(e).__name__}: {e}") from e
    a = _scale(np.asarray(a), str(path), strict=False)
    if a.ndim == 3:
        if a.shape[-1] in (2, 4):  # LA / RGBA: drop alpha
            a = a[..., :-1]
        if a.shape[-1] == 1:
            a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] != 3):
        raise ConfigError(f"{path}: unsupported image shape {list(a.shape)}")
    return a


def _convert(img: np.ndarray, colour: bool) -> np.ndarray:
    from skimage.color import gray2rgb, rgb2gray
    if colour:
        return img if img.ndim == 3 else gray2rgb(img)
    return rgb2gray(img) if img.ndim == 3 else img


def _load(path: Path) -> tuple[list[np.ndarray], list[str]]:
    if path.is_file() and path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except Exception as e:
            raise ConfigError(f"cannot read {path}: {type(e).__name__}: {e}") from e
        if arr.ndim == 4 and arr.shape[-1] in (1, 3, 4):
            arr = arr[..., :3] if arr.shape[-1] == 4 else arr
            arr = arr[..., 0] if arr.shape[-1] == 1 else arr
        elif arr.ndim != 3:
            raise ConfigError(f"{path}: an .npy dataset must be [N, H, W] or [N, H, W, C] with "
                              f"C in 1, 3, 4; got {list(arr.shape)}")
        if len(arr) == 0:
            raise ConfigError(f"{path}: the array holds no images")
        arr = _scale(arr, str(path), strict=True)
        return list(arr), [f"{path}[{i}]" for i in range(len(arr))]
    if path.is_file():
        if path.suffix.lower() in EXTENSIONS:
            return [_read_image(path)], [str(path)]
        raise ConfigError(f"image_folder path {path} is a file but neither an image "
                          f"({', '.join(sorted(EXTENSIONS))}) nor an .npy array")
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS
                   and not any(part.startswith(".") for part in p.relative_to(path).parts))
    if not files:
        raise ConfigError(f"image_folder {path} holds no images (looked for "
                          f"{', '.join(sorted(EXTENSIONS))}, recursively)")
    return [_read_image(p) for p in files], [str(p) for p in files]


def _centre_square(img: np.ndarray, size: int) -> np.ndarray:
    from skimage.transform import resize
    h, w = img.shape[:2]
    s = min(h, w)
    r, c = (h - s) // 2, (w - s) // 2
    sq = img[r:r + s, c:c + s]
    if s == size:
        return sq
    return resize(sq, (size, size) + sq.shape[2:], anti_aliasing=s > size, mode="reflect")


def _channels_first(batch: list[np.ndarray], colour: bool) -> np.ndarray:
    a = np.stack(batch)
    a = a.transpose(0, 3, 1, 2) if colour else a[:, None]
    return np.ascontiguousarray(a.reshape(len(a), -1), dtype=np.float32)


def image_folder(path: str | None = None, size: int | None = None, colour: bool = False,
                 mode: str = "patches", n_patches: int = 10000, test_fraction: float = 0.1,
                 seed: int = 0):
    """Catalog builder: (x_train, None, x_test, None, [C, size, size], extra meta)."""
    from .. import paths

    if not path:
        raise ConfigError("image_folder: set path (a folder of images or an .npy file)")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ConfigError(f"image_folder: size must be a positive integer, got {size!r}")
    if mode not in MODES:
        raise ConfigError(f"image_folder: mode must be one of {MODES}, got {mode!r}")
    if not 0 <= float(test_fraction) < 1:
        raise ConfigError(f"image_folder: test_fraction must be in [0, 1), got {test_fraction}")
    p = Path(path).expanduser()
    if not p.is_absolute():
        p = paths.root() / p
    if not p.exists():
        raise ConfigError(f"image_folder: {p} does not exist (path: {path!r}; relative paths "
                          "are relative to the project root)")
    images, names = _load(p)
    images = [_convert(im, bool(colour)) for im in images]
    rng = np.random.default_rng(seed)
    n = len(images)

    by_image = n >= (2 if mode == "resize" else 5) and test_fraction > 0
    if by_image or test_fraction == 0:
        order = rng.permutation(n)
        n_test = max(1, int(round(n * test_fraction))) if test_fraction > 0 else 0
        test_idx, train_idx = sorted(order[:n_test]), sorted(order[n_test:])
    elif mode == "resize":
        raise ConfigError(f"image_folder {p}: mode resize needs at least two images to hold "
                          "one out for testing (or set test_fraction: 0)")
    else:
        train_idx = test_idx = list(range(n))

    if mode == "resize":
        x_tr = _channels_first([_centre_square(images[i], size) for i in train_idx], colour)
        x_te = (_channels_first([_centre_square(images[i], size) for i in test_idx], colour)
                if len(test_idx) else np.zeros((0, x_tr.shape[1]), np.float32))
        split = "by image" if test_fraction > 0 else "none"
    else:
        small = [names[i] for i, im in enumerate(images) if min(im.shape[:2]) < size]
        if small:
            raise ConfigError(f"image_folder {p}: {len(small)} image(s) smaller than "
                              f"{size}x{size} (e.g. {small[0]}); use mode: resize or a "
                              "smaller size")
        n_patches = int(n_patches)
        n_test = int(round(n_patches * float(test_fraction)))
        strip = not by_image and test_fraction > 0
        if strip:
            for i, im in enumerate(images):
                w = im.shape[1]
                cut = int(round(w * (1 - float(test_fraction))))
                if cut < size or w - cut < size:
                    raise ConfigError(
                        f"image_folder {p}: with fewer than five images the test patches "
                        f"come from the right-hand {test_fraction:g} of each image, but "
                        f"{names[i]} ({w} px wide) is too narrow for {size}-px patches on "
                        "both sides; add images, lower size, or use mode: resize")
        splits = {}
        for split_name, idx, count in (("train", train_idx, n_patches - n_test),
                                       ("test", test_idx, n_test)):
            out = []
            which = rng.choice(np.asarray(idx), size=count) if count else []
            for i in which:
                im = images[i]
                h, w = im.shape[:2]
                lo, hi = 0, w - size
                if strip:
                    cut = int(round(w * (1 - float(test_fraction))))
                    lo, hi = (0, cut - size) if split_name == "train" else (cut, w - size)
                r = rng.integers(0, h - size + 1)
                c = rng.integers(lo, hi + 1)
                out.append(im[r:r + size, c:c + size])
            c_dim = (3 if colour else 1) * size * size
            splits[split_name] = (_channels_first(out, colour) if out
                                  else np.zeros((0, c_dim), np.float32))
        x_tr, x_te = splits["train"], splits["test"]
        split = "by strip" if strip else ("by image" if test_fraction > 0 else "none")
    if len(x_tr) == 0:
        raise ConfigError(f"image_folder {p}: no training examples (check n_patches and "
                          "test_fraction)")
    shape = [3 if colour else 1, size, size]
    return x_tr, None, x_te, None, shape, {"source_path": str(p), "n_images": n,
                                           "split": split, "mode": mode}
