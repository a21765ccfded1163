"""Catalog builders for the downloaded datasets: CIFAR-10, MNIST, ConvMixer latents (of
CIFAR-10 or of natural-image patches) and the WikiText-103 corpus. Files are fetched
(checked against the sha256 pinned in config/datasets.yaml) into data/raw/, then parsed by
`formats`.

Each builder returns (x_train, y_train, x_test, y_test, shape, extra_meta).
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from . import formats
from .transfer import _file_name, fetch, raw_path


def _need(kind: str, **values) -> None:
    missing = [k for k, v in values.items() if not v]
    if missing:
        raise ConfigError(f"datasets.yaml: a {kind} dataset needs {', '.join(missing)} "
                          "(the official URL and its sha256)")


def _source(url: str, sha256: str) -> dict:
    return {"file": _file_name(url), "url": url, "sha256": sha256}


def cifar10(url: str | None = None, sha256: str | None = None, mirrors=()):
    """CIFAR-10 raw pixels: 3072 values in [0, 1] (uint8 / 255), official split."""
    _need("cifar10", url=url, sha256=sha256)
    path = fetch(url, raw_path(_file_name(url)), sha256, mirrors=mirrors or ())
    x_tr, y_tr, x_te, y_te = formats.cifar10_python(path)
    return x_tr, y_tr, x_te, y_te, [3, 32, 32], {"n_classes": 10,
                                                "sources": [_source(url, sha256)]}


def mnist(base_url: str | None = None, files: dict | None = None, mirrors=()):
    """MNIST: 784 values in [0, 1] (uint8 / 255), official split. `files` maps each of
    the four idx file names to its sha256; they are fetched from base_url + name."""
    _need("mnist", base_url=base_url, files=files)
    if not base_url.endswith("/"):
        base_url += "/"
    paths, sources = {}, []
    for role, name in formats.MNIST_FILES.items():
        sha = (files or {}).get(name)
        if not sha:
            raise ConfigError(f"datasets.yaml: mnist files must give the sha256 of {name}")
        url = base_url + name
        paths[role] = fetch(url, raw_path(name), sha, mirrors=mirrors or ())
        sources.append(_source(url, sha))
    x_tr, y_tr, x_te, y_te = formats.mnist_idx(paths)
    side = int(round(np.sqrt(x_tr.shape[1])))
    return x_tr, y_tr, x_te, y_te, [1, side, side], {"n_classes": 10, "sources": sources}


def wikitext103(url: str | None = None, sha256: str | None = None, mirrors=()):
    """The official train and validation text of WikiText-103 (raw)."""
    _need("wikitext103 text", url=url, sha256=sha256)
    path = fetch(url, raw_path(_file_name(url)), sha256, mirrors=mirrors or ())
    return formats.wikitext103_raw(path)


def convmixer_latents(source: str = "cifar10", weights: dict | None = None, batch: int = 500,
                      device: str = "auto"):
    """256-d ConvMixer latents of both splits of the `source` dataset (CIFAR-format images:
    CIFAR-10, or 32x32 colour natural-image patches), read from the store (the catalog
    builds it first)."""
    from .. import devices
    from . import convmixer, store

    wpath = convmixer.weights_file(weights)  # fail on missing weights before embedding
    data = store.load(source)
    shape = list(data["meta"]["shape"])
    if shape != [3, 32, 32]:
        raise ConfigError(f"convmixer_latents: source {source!r} has shape {shape}; the "
                          "ConvMixer needs CIFAR-format [3, 32, 32] images")
    lease = devices.acquire(device)
    try:
        z_tr = convmixer.embed(data["x_train"], wpath, lease.device, batch, progress=True)
        z_te = convmixer.embed(data["x_test"], wpath, lease.device, batch, progress=True)
    finally:
        lease.release()
    y_tr, y_te = data["y_train"], data["y_test"]
    return (z_tr, None if y_tr is None else y_tr.numpy(), z_te,
            None if y_te is None else y_te.numpy(), [z_tr.shape[1]],
            {"n_classes": int(data["meta"].get("n_classes", 0)), "source": source,
             "weights": {k: v for k, v in (weights or {}).items() if k in ("url", "sha256")}})
