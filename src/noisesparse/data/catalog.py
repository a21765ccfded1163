"""Named datasets (config/datasets.yaml) and how each is built into the processed store
(store.py: one checked file per dataset, data/processed/<name>.pt).

Builders live beside it (embedded, downloaded, corpus, folder) and are imported when a
dataset of their kind is built; none imports the catalog back. A dataset built from
another (a latents dataset's images) has that one built here first.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch
import yaml

from .. import paths
from ..errors import ConfigError
from . import embedded, store
from .store import content_sha256, load  # noqa: F401  (the store, read through the catalog)


def _text(source: str, val_fraction: float, **download):
    from .corpus import build_text
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
    # Downloaded datasets (data/transfer.py fetches into data/raw/, checked by sha256).
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
    for src in sources(name):  # built first when missing (the pipeline has a step for it)
        if not (paths.root() / paths.processed(src)).exists():
            build(src)
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
    return store.save(blob, out or str(paths.root() / paths.processed(name)))
