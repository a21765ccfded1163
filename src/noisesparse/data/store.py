"""The processed store: one file data/processed/<name>.pt per dataset, holding float32
inputs [M, D], optional int64 labels, and metadata; it loads with weights_only=True. The
metadata records a SHA-256 of the tensors (`content_sha256`), computed when the file is
written and checked when it is read, so a truncated or damaged file is an error that names
the file and the command that rebuilds it, never a crash deep inside torch or silently
wrong data.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from .. import paths
from ..errors import ConfigError
from ..output import save_torch

TENSORS = ("x_train", "y_train", "x_test", "y_test")


def save(blob: dict, out: str) -> str:
    """Record the tensors' SHA-256 in the blob's metadata, and write it to `out`."""
    blob["meta"]["content_sha256"] = content_sha256(blob)
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
    path = path or str(paths.root() / paths.processed(name))
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
    if expected is None:
        raise _damaged(name, path, "it records no content_sha256 to check its tensors against")
    actual = content_sha256(blob)
    if actual != expected:
        raise _damaged(name, path, f"its tensors hash to sha256 {actual}, but {expected} "
                       "was recorded when it was written")
    return blob
