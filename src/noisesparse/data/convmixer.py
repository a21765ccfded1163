"""The authors' ConvMixer feature extractor, for the CIFAR-10 latents dataset.

ConvMixer (Trockman & Kolter, "Patches are all you need?") with hidden dim 256, depth 8,
kernel 5, patch 2, GELU + BatchNorm, global average pooling; the authors pretrained it on
ImageNet32 with augmentations and released the state dict (keys features.*, classifier.*).
The module names below reproduce their key names exactly so load_state_dict(strict=True)
checks every tensor:

    features.0            patch embedding Conv2d(3, 256, kernel 2, stride 2)
    features.1, .2        GELU, BatchNorm2d
    features.3 .. .10     one block each:
        .0.fn.0/.1/.2     residual depthwise Conv2d(k=5, groups=256, "same"), GELU, BatchNorm
        .1/.2/.3          pointwise Conv2d(1x1), GELU, BatchNorm
    classifier            Linear(256, 1000) (ImageNet32 classes; unused for the latents)

A latent is the 256-d globally average-pooled output of `features`, computed in eval mode
(BatchNorm running statistics) on images normalised with the CIFAR-10 mean and std.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchvision.transforms import Normalize

from ..errors import ConfigError

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2471, 0.2435, 0.2616)
WEIGHTS_ENV = "NOISESPARSE_CONVMIXER_WEIGHTS"


class Residual(nn.Module):
    def __init__(self, fn: nn.Module):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x) + x


class ConvMixer(nn.Module):
    def __init__(self, dim: int = 256, depth: int = 8, kernel_size: int = 5, patch_size: int = 2,
                 n_classes: int = 1000):
        super().__init__()
        blocks = []
        for _ in range(depth):
            blocks.append(nn.Sequential(
                Residual(nn.Sequential(
                    nn.Conv2d(dim, dim, kernel_size, groups=dim, padding="same"),
                    nn.GELU(),
                    nn.BatchNorm2d(dim))),
                nn.Conv2d(dim, dim, kernel_size=1),
                nn.GELU(),
                nn.BatchNorm2d(dim)))
        self.features = nn.Sequential(
            nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size),
            nn.GELU(),
            nn.BatchNorm2d(dim),
            *blocks)
        self.classifier = nn.Linear(dim, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features [N, dim] of normalised images [N, 3, H, W]."""
        return self.features(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


def load_model(weights_path: str | os.PathLike, device="cpu") -> ConvMixer:
    state = torch.load(weights_path, weights_only=True, map_location="cpu")
    if not isinstance(state, dict) or "classifier.weight" not in state:
        raise ConfigError(f"{weights_path}: not a ConvMixer state dict (no classifier.weight)")
    dim = state["features.0.weight"].shape[0]
    patch = state["features.0.weight"].shape[-1]
    kernel = state["features.3.0.fn.0.weight"].shape[-1]
    depth = len({k.split(".")[1] for k in state if k.startswith("features.")}) - 2
    n_classes = state["classifier.weight"].shape[0]
    model = ConvMixer(dim, depth, kernel, patch, n_classes)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ConfigError(f"{weights_path}: does not match the ConvMixer ({e})") from e
    return model.to(device).eval()


def _as_images(images) -> torch.Tensor:
    """uint8 [N,3,32,32] (0..255) or float [N,3,32,32] / [N,3072] in [0, 1] -> float [0,1]."""
    x = torch.as_tensor(np.asarray(images) if not torch.is_tensor(images) else images)
    if x.dtype == torch.uint8:
        x = x.float() / 255.0
    else:
        x = x.float()
    if x.ndim == 2 and x.shape[1] == 3 * 32 * 32:
        x = x.reshape(-1, 3, 32, 32)
    if x.ndim != 4 or x.shape[1] != 3:
        raise ConfigError(f"ConvMixer input must be [N, 3, H, W] images, got {list(x.shape)}")
    return x


@torch.no_grad()
def embed(images, weights_path: str | os.PathLike, device="cpu", batch: int = 500,
          progress: bool = False) -> np.ndarray:
    """256-d ConvMixer latents (float32 [N, 256]) of CIFAR-format images, channel-first,
    uint8 or float in [0, 1]; normalised with the CIFAR-10 mean and std first."""
    device = torch.device(device)
    model = load_model(weights_path, device)
    x = _as_images(images)
    normalize = Normalize(MEAN, STD)  # per channel, as the authors' CIFAR-10 transform
    out = []
    from tqdm.auto import tqdm
    for i in tqdm(range(0, len(x), batch), desc="ConvMixer latents", disable=not progress,
                  leave=False):
        xb = normalize(x[i:i + batch].to(device))
        out.append(model.embed(xb).float().cpu())
    if not out:
        return np.zeros((0, model.classifier.in_features), np.float32)
    return torch.cat(out).numpy().astype(np.float32)


def weights_file(weights: dict | None, progress: bool = True) -> str:
    """Local path of the checked ConvMixer weights: $NOISESPARSE_CONVMIXER_WEIGHTS if set,
    else downloaded (via fetch, so $NOISESPARSE_MIRROR applies) into data/raw/."""
    from .transfer import fetch, raw_path, sha256_file, _file_name

    weights = weights or {}
    sha = weights.get("sha256")
    local = os.environ.get(WEIGHTS_ENV)
    if local:
        path = Path(local).expanduser()
        if not path.is_file():
            raise ConfigError(f"${WEIGHTS_ENV}={local}: no such file")
        if sha:
            actual = sha256_file(path)
            if actual != sha.lower():
                raise ConfigError(f"${WEIGHTS_ENV}={local}: checksum mismatch: expected "
                                  f"sha256 {sha}, got {actual}")
        return str(path)
    url = weights.get("url")
    if not url or not sha:
        raise ConfigError("datasets.yaml: a convmixer_latents dataset needs weights: {url, sha256} "
                          f"(or set ${WEIGHTS_ENV} to a local copy of the state dict)")
    return fetch(url, raw_path(_file_name(url)), sha, mirrors=weights.get("mirrors") or (),
                 progress=progress)
