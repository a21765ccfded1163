"""Named datasets (config/datasets.yaml), how each is built, and the processed store.

A processed dataset is one file data/processed/<name>.pt holding float32 inputs
[M, D], optional int64 labels, and metadata; it loads with weights_only=True. The metadata
records a SHA-256 of the tensors (`content_sha256`), computed when the file is written and
checked when it is read, so a truncated or damaged file is an error that names the file and
the command that rebuilds it, never a crash deep inside torch or silently wrong data.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import torch
import yaml

from .. import paths
from ..errors import ConfigError
from ..output import save_torch
from . import embedded

TENSORS = ("x_train", "y_train", "x_test", "y_test")

def _text(source: str, val_fraction: float, **download):
    from ..lm.text import build_text
    return build_text(source, val_fraction, **download)


def _downloaded(name):
    def builder(**spec):
        from . import downloaded
        return getattr(downloaded, name)(**spec)
    builder.__name__ = name
    return builder


def _image_folder(**spec):
    from .folder import image_folder
    return image_folder(**spec)


# kind -> (the keys its datasets.yaml entries may set, builder). A builder returns
# (x_train, y_train, x_test, y_test, shape) and optionally a dict of extra metadata.
KINDS = {
    "natural_patches": ({"size", "colour", "n_train", "n_test", "seed", "centre", "min_std"},
                        embedded.natural_patches),
    "digits": ({"test_fraction", "seed"}, embedded.digits),
    "text": ({"source", "val_fraction", "url", "sha256", "mirrors"}, _text),
    # Downloaded datasets (data/download.py fetches into data/raw/, checked by sha256).
    "cifar10": ({"url", "sha256", "mirrors"}, _downloaded("cifar10")),
    "mnist": ({"base_url", "files", "mirrors"}, _downloaded("mnist")),
    # Latents of any CIFAR-format [3, 32, 32] dataset (`source`) under the authors' ConvMixer.
    "convmixer_latents": ({"source", "weights", "batch", "device"},
                          _downloaded("convmixer_latents")),
    # A user's own images: a folder of image files or an .npy array (data/folder.py).
    "image_folder": ({"path", "size", "colour", "mode", "n_patches", "test_fraction", "seed"},
                     _image_folder),
}
LABELLED = {"digits", "cifar10", "mnist"}


@functools.cache
def _catalog(config_dir: str) -> dict:
    with open(Path(config_dir) / "datasets.yaml") as f:
        cat = yaml.safe_load(f)
    for name, spec in cat.items():
        kind = spec.get("kind")
        if kind not in KINDS:
            raise ConfigError(f"datasets.yaml: {name}: unknown kind {kind!r}; "
                              f"known: {', '.join(KINDS)}")
        allowed = KINDS[kind][0] | {"kind", "description"}
        extra = set(spec) - allowed
        if extra:
            raise ConfigError(f"datasets.yaml: {name}: unknown key(s) {sorted(extra)}; "
                              f"{kind} takes {sorted(allowed)}")
    return cat


def catalog() -> dict:
    return _catalog(str(paths.config_dir()))


def dataset_names() -> list[str]:
    return list(catalog())


def dataset_spec(name: str) -> dict:
    cat = catalog()
    if name not in cat:
        import difflib
        close = difflib.get_close_matches(name, list(cat), n=1)
        raise ConfigError(f"unknown dataset {name!r}" + (f" (did you mean {close[0]!r}?)" if close
                          else "") + f"; known: {', '.join(cat)}")
    return cat[name]


def sources(name: str) -> list[str]:
    """Datasets this one is built from (a latents dataset's images), a pipeline step each."""
    spec = dataset_spec(name)
    return [spec["source"]] if spec["kind"] == "convmixer_latents" else []


def is_labelled(name: str) -> bool:
    spec = dataset_spec(name)
    if spec["kind"] == "convmixer_latents":  # latents carry their source's labels
        return is_labelled(spec["source"])
    return spec["kind"] in LABELLED


def build(name: str, out: str | None = None) -> str:
    """Build dataset `name` and write it atomically to data/processed/<name>.pt."""
    spec = dict(dataset_spec(name))
    kind = spec.pop("kind")
    description = spec.pop("description", "")
    builder = KINDS[kind][1]
    if builder is None:
        raise ConfigError(f"dataset {name!r} ({kind}) must be downloaded; its download step "
                          "is not available in this version. Use an embedded dataset "
                          f"({', '.join(n for n in catalog() if KINDS[catalog()[n]['kind']][1])}).")
    result = builder(**spec)
    x_tr, y_tr, x_te, y_te, shape = result[:5]
    extra = dict(result[5]) if len(result) > 5 else {}
    n_classes = extra.pop("n_classes", int(y_tr.max()) + 1 if y_tr is not None else 0)
    blob = {
        "x_train": torch.from_numpy(x_tr), "x_test": torch.from_numpy(x_te),
        "y_train": None if y_tr is None else torch.from_numpy(y_tr),
        "y_test": None if y_te is None else torch.from_numpy(y_te),
        "meta": {"name": name, "kind": kind, "description": description, "shape": list(shape),
                 "n_classes": int(n_classes), **extra},
    }
    blob["meta"]["content_sha256"] = content_sha256(blob)
    out = out or paths.processed(name)
    save_torch(blob, out)  # atomic: a half-written dataset never carries the final name
    return out


def content_sha256(blob: dict) -> str:
    """SHA-256 over the dtype, shape and bytes of each tensor of a processed dataset."""
    h = hashlib.sha256()
    for key in TENSORS:
        t = blob.get(key)
        h.update(f"{key}:{None if t is None else (str(t.dtype), tuple(t.shape))};".encode())
        if t is not None:
            h.update(t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy())
    return h.hexdigest()


def _damaged(name: str, path: str, why: str) -> ConfigError:
    return ConfigError(f"processed dataset {path} is damaged ({why}). Rebuild it: "
                       f"`noisesparse data {name}` (it rewrites {path}), then run the "
                       "workflow again.")


def load(name: str, path: str | None = None) -> dict:
    path = path or paths.processed(name)
    if not Path(path).exists():
        raise ConfigError(f"dataset {name!r} not built: {path} is missing "
                          f"(run `noisesparse data {name}`)")
    try:
        blob = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as e:  # truncated zip, empty file, bytes torch cannot parse
        raise _damaged(name, path, f"torch.load failed: {type(e).__name__}: "
                       f"{str(e).splitlines()[0] if str(e) else 'unexpected end of file'}") from e
    if not isinstance(blob, dict) or "meta" not in blob or any(k not in blob for k in TENSORS):
        raise _damaged(name, path, "not a processed dataset: expected x_train, y_train, "
                       "x_test, y_test and meta")
    expected = blob["meta"].get("content_sha256")
    if expected is None:  # written before checksums were recorded: nothing to compare
        return blob
    actual = content_sha256(blob)
    if actual != expected:
        raise _damaged(name, path, f"its tensors hash to sha256 {actual}, but {expected} "
                       "was recorded when it was written")
    return blob
