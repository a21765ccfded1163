"""Parsers for the official files of the downloaded datasets, into float32 numpy arrays.

- CIFAR-10, python version (cifar-10-python.tar.gz): pickled dicts in cifar-10-batches-py/
  data_batch_1..5 and test_batch, b"data" uint8 [10000, 3072] (channel-first: 1024 red,
  1024 green, 1024 blue values, each row-major 32x32) and b"labels". Read straight out of
  the archive; the pickles are unpickled with a restricted unpickler that can only build
  numpy arrays, so a tampered archive cannot run code.
- MNIST idx files (train-images-idx3-ubyte.gz, ...): big-endian header, uint8 payload.
- WikiText-103 raw (wikitext-103-raw-v1.zip): wikitext-103-raw/wiki.{train,valid}.raw.
"""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np

from ..errors import ConfigError

CIFAR_DIR = "cifar-10-batches-py"
CIFAR_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR_TEST = "test_batch"

MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}

WIKITEXT_DIR = "wikitext-103-raw"


# ------------------------------------------------------------------------------ CIFAR-10


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("_codecs", "encode"), ("builtins", "bytearray"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        if module.startswith("numpy.core."):  # numpy 2 moved numpy.core to numpy._core
            try:
                return super().find_class(module.replace("numpy.core.", "numpy._core."), name)
            except (ImportError, AttributeError):
                pass
        return super().find_class(module, name)


def _load_batch(raw: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        d = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as e:
        raise ConfigError(f"{where}: not a CIFAR-10 python batch ({type(e).__name__}: {e})") from e
    if not isinstance(d, dict) or b"data" not in d or b"labels" not in d:
        raise ConfigError(f"{where}: expected a dict with b'data' and b'labels'")
    data = np.asarray(d[b"data"])
    labels = np.asarray(d[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise ConfigError(f"{where}: data must be uint8 [n, 3072], got {data.dtype} "
                          f"{list(data.shape)}")
    if len(labels) != len(data) or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise ConfigError(f"{where}: {len(labels)} labels in 0..9 expected for "
                          f"{len(data)} images")
    return data, labels


def cifar10_python(archive: str | Path):
    """(x_train [50000, 3072], y_train, x_test [10000, 3072], y_test) from the official
    archive: float32 in [0, 1] (uint8 / 255), channel-first as stored, int64 labels."""
    archive = str(archive)
    try:
        tf = tarfile.open(archive, "r:*")
    except (tarfile.TarError, OSError) as e:
        raise ConfigError(f"{archive}: not a CIFAR-10 archive ({e})") from e
    with tf:
        members = {m.name: m for m in tf.getmembers() if m.isfile()}

        def batch(name):
            m = members.get(f"{CIFAR_DIR}/{name}")
            if m is None:
                raise ConfigError(f"{archive}: missing {CIFAR_DIR}/{name}")
            return _load_batch(tf.extractfile(m).read(), f"{archive}:{m.name}")

        train = [batch(n) for n in CIFAR_TRAIN]
        x_te, y_te = batch(CIFAR_TEST)
    x_tr = np.concatenate([x for x, _ in train])
    y_tr = np.concatenate([y for _, y in train])
    return _unit(x_tr), y_tr, _unit(x_te), y_te


def _unit(x: np.ndarray) -> np.ndarray:
    out = x.astype(np.float32)
    out /= 255.0
    return out


# --------------------------------------------------------------------------------- MNIST

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
              0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """An idx file (gzipped or not) as a numpy array of its declared shape."""
    path = str(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise ConfigError(f"{path}: cannot read idx file ({e})") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ConfigError(f"{path}: not an idx file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ConfigError(f"{path}: idx header truncated")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    n = int(np.prod(dims)) if dims else 1
    if len(raw) - header != n * dtype.itemsize:
        raise ConfigError(f"{path}: idx payload has {len(raw) - header} bytes, header "
                          f"declares {dims} x {dtype.itemsize}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).copy()


def mnist_idx(files: dict[str, str | Path]):
    """(x_train [60000, 784], y_train, x_test [10000, 784], y_test) from the four idx files
    (keys x_train, y_train, x_test, y_test): float32 in [0, 1], int64 labels."""
    out = {}
    for key, path in files.items():
        a = read_idx(path)
        if key.startswith("x"):
            if a.dtype != np.uint8 or a.ndim != 3:
                raise ConfigError(f"{path}: MNIST images must be uint8 [n, rows, cols]")
            out[key] = _unit(a.reshape(len(a), -1))
        else:
            if a.ndim != 1:
                raise ConfigError(f"{path}: MNIST labels must be one-dimensional")
            out[key] = a.astype(np.int64)
    for split in ("train", "test"):
        if len(out[f"x_{split}"]) != len(out[f"y_{split}"]):
            raise ConfigError(f"MNIST {split}: {len(out[f'x_{split}'])} images but "
                              f"{len(out[f'y_{split}'])} labels")
    return out["x_train"], out["y_train"], out["x_test"], out["y_test"]


# --------------------------------------------------------------------------- WikiText-103


def wikitext103_raw(archive: str | Path) -> tuple[str, str]:
    """The UTF-8 text of the official train and validation splits of WikiText-103 raw."""
    archive = str(archive)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as e:
        raise ConfigError(f"{archive}: not a zip archive ({e})") from e
    with zf:
        texts = []
        for split in ("train", "valid"):
            name = f"{WIKITEXT_DIR}/wiki.{split}.raw"
            try:
                raw = zf.read(name)
            except KeyError:
                raise ConfigError(f"{archive}: missing {name}") from None
            try:
                texts.append(raw.decode("utf-8"))
            except UnicodeDecodeError as e:
                raise ConfigError(f"{archive}:{name} is not UTF-8 ({e})") from e
    return texts[0], texts[1]
