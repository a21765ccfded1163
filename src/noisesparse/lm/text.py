"""Text corpora and the byte-level tokenizer.

The tokenizer is the simplest one that round-trips any text exactly: UTF-8 bytes, vocabulary
256. Offline corpus: the English documentation prose that ships with Python itself
(pydoc_data.topics, about 465 kB of text). Paper corpus: WikiText-103 raw, downloaded by the
data steps.
"""

from __future__ import annotations

import torch

VOCAB = 256


def encode(text: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(text.encode("utf-8")), dtype=torch.uint8).long()


def decode(tokens: torch.Tensor) -> str:
    return bytes(tokens.to(torch.uint8).tolist()).decode("utf-8", errors="replace")


def pydoc_corpus() -> str:
    """Python's own documentation topics, in a fixed (sorted) order."""
    from pydoc_data.topics import topics
    return "\n\n".join(topics[k] for k in sorted(topics))


def split_tokens(text: str, val_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed split: the first (1 - val_fraction) of the text trains, the rest validates."""
    tokens = encode(text)
    cut = int(len(tokens) * (1 - val_fraction))
    return tokens[:cut].clone(), tokens[cut:].clone()


def build_text(source: str, val_fraction: float, url: str | None = None,
               sha256: str | None = None, mirrors=()):
    """Catalog builder for text corpora: byte tokens as int64 arrays (train, val).

    source "wikitext103": the raw corpus is downloaded from `url` (checked against
    `sha256`) and its official validation split validates (val_fraction must be 0)."""
    from ..errors import ConfigError
    if source == "pydoc":
        text = pydoc_corpus()
    elif source == "wikitext103":
        if val_fraction:
            raise ConfigError("wikitext103 has an official validation split: set "
                              "val_fraction: 0")
        from ..data.downloaded import wikitext103
        train_text, val_text = wikitext103(url, sha256, mirrors)
        return (_byte_tokens(train_text), None, _byte_tokens(val_text), None, [VOCAB])
    else:
        raise ConfigError(f"unknown text source {source!r}: use pydoc (offline) or "
                          "wikitext103 (downloaded)")
    train, val = split_tokens(text, val_fraction)
    # Stored as bytes (uint8): WikiText-103 is 0.5 GB so, 4 GB as int64; batches widen.
    return train.to(torch.uint8).numpy(), None, val.to(torch.uint8).numpy(), None, [VOCAB]


def _byte_tokens(text: str):
    import numpy as np
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()
