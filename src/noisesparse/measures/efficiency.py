"""Compute saved by sparse activations: a decoder that touches only the active units.

The dense decoder computes y = z W2^T + b2 over all N hidden units. The sparse ones use
only the units that are active (z != 0, exact for ReLU):
- `gather`: the active units of the batch (their union; at batch 1, that input's own set),
  index_select of those rows of W2^T, then a dense matmul on them;
- `csr`: z as a compressed-sparse-row matrix times W2^T (each input its own active set).
Both give the dense output to float tolerance (tested). The encoder stays dense: every
pre-activation must be computed to know which units fire, so the whole network saves at
most the decoder's share.

Timings are medians of repeats (a workflow step may share the machine with other jobs) and
include finding the active units and building the index or CSR structure from a dense z.
"""

from __future__ import annotations

import statistics
import time
import warnings

import numpy as np
import torch

from ..errors import ConfigError

METHODS = ("dense", "gather", "csr")
# CSR matmuls are "beta" in PyTorch; their results are checked against dense ones (tests).
warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")


def dense_decode(z: torch.Tensor, w2t: torch.Tensor, b2: torch.Tensor) -> torch.Tensor:
    """z [B, N], w2t [N, O] (the decoder weight transposed, contiguous), b2 [O] -> [B, O]."""
    return torch.addmm(b2, z, w2t)


def gather_decode(z: torch.Tensor, w2t: torch.Tensor, b2: torch.Tensor) -> torch.Tensor:
    """Only the rows of W2^T of units active for some input of the batch."""
    idx = (z != 0).any(0).nonzero().squeeze(1)
    return torch.addmm(b2, z.index_select(1, idx), w2t.index_select(0, idx))


def csr_decode(z: torch.Tensor, w2t: torch.Tensor, b2: torch.Tensor) -> torch.Tensor:
    """z as a CSR sparse matrix (its non-zeros only) times W2^T."""
    return torch.addmm(b2, z.to_sparse_csr(), w2t)


DECODERS = {"dense": dense_decode, "gather": gather_decode, "csr": csr_decode}


def multiply_adds(frac_active: float, d_in: int, width: int, d_out: int) -> dict:
    """Multiply-adds per input: the dense network, and the same with a decoder that skips
    inactive units (the encoder is always dense)."""
    enc, dec = width * d_in, width * d_out
    return {"macs_dense": enc + dec, "macs_sparse": enc + frac_active * dec,
            "decoder_macs_saved": 1 - frac_active,
            "network_macs_saved": (1 - frac_active) * dec / (enc + dec)}


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def median_time(fn, device="cpu", repeats: int = 15, min_time: float = 0.01) -> float:
    """Median seconds per call of fn(): calls are grouped so one measurement lasts about
    min_time, then `repeats` measurements give the median (robust to other jobs)."""
    fn()
    _sync(device)
    number, t = 1, 0.0
    while True:  # calibrate the group size
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        _sync(device)
        t = time.perf_counter() - t0
        if t >= min_time or number >= 1 << 16:
            break
        number *= 2
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        _sync(device)
        times.append((time.perf_counter() - t0) / number)
    return statistics.median(times)


def decoder_times(z, w2t, b2, device="cpu", repeats: int = 15,
                  methods=METHODS) -> dict[str, float]:
    """Median time of each decoder on the same activations z."""
    z, w2t, b2 = z.to(device), w2t.to(device).contiguous(), b2.to(device)
    return {m: median_time(lambda m=m: DECODERS[m](z, w2t, b2), device, repeats)
            for m in methods}


def synthetic_activations(batch: int, width: int, frac: float, seed: int = 0,
                          device="cpu") -> torch.Tensor:
    """[batch, width] activations with exactly round(frac * width) (at least 1) active units
    per input at random places, positive values: sparsity under control."""
    if not 0 < frac <= 1:
        raise ConfigError(f"fraction active must lie in (0, 1], got {frac}")
    g = torch.Generator().manual_seed(seed)
    k = max(1, round(frac * width))
    idx = torch.rand(batch, width, generator=g).argsort(1)[:, :k]
    z = torch.zeros(batch, width).scatter_(1, idx, torch.rand(batch, k, generator=g) + 0.1)
    return z.to(device)


def break_even(fracs, dense_t, sparse_t) -> float:
    """The fraction active at which the sparse path takes as long as the dense one, by linear
    interpolation of log(sparse / dense) in log(fraction) between the grid points where it
    changes sign; nan when it never does (0 below the grid: always slower; 1 above it)."""
    f = np.log(np.asarray(fracs, float))
    r = np.log(np.asarray(sparse_t, float) / np.asarray(dense_t, float))
    order = np.argsort(f)
    f, r = f[order], r[order]
    if (r < 0).all():
        return 1.0
    if (r >= 0).all():
        return 0.0
    # The last crossing from faster (r < 0) to slower (r >= 0) as sparsity falls.
    i = max(j for j in range(len(r) - 1) if r[j] < 0 <= r[j + 1])
    t = r[i] / (r[i] - r[i + 1])
    return float(np.exp(f[i] + t * (f[i + 1] - f[i])))
