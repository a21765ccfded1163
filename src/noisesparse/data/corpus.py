"""Catalog builder for text corpora: the language model's byte tokens (lm/text.py) of
Python's own documentation (offline) or of WikiText-103 (downloaded)."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ConfigError
from .downloaded import wikitext103
from .text import VOCAB, pydoc_corpus, split_tokens


def build_text(source: str, val_fraction: float, url: str | None = None,
               sha256: str | None = None, mirrors=()):
    """Byte tokens as uint8 arrays (train, val).

    source "wikitext103": the raw corpus is downloaded from `url` (checked against
    `sha256`) and its official validation split validates (val_fraction must be 0)."""
    if source == "pydoc":
        text = pydoc_corpus()
    elif source == "wikitext103":
        if val_fraction:
            raise ConfigError("wikitext103 has an official validation split: set "
                              "val_fraction: 0")
        train_text, val_text = wikitext103(url, sha256, mirrors)
        return (_byte_tokens(train_text), None, _byte_tokens(val_text), None, [VOCAB])
    else:
        raise ConfigError(f"unknown text source {source!r}: use pydoc (offline) or "
                          "wikitext103 (downloaded)")
    train, val = split_tokens(text, val_fraction)
    # Stored as bytes (uint8): WikiText-103 is 0.5 GB so, 4 GB as int64; batches widen.
    return train.to(torch.uint8).numpy(), None, val.to(torch.uint8).numpy(), None, [VOCAB]


def _byte_tokens(text: str):
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()
