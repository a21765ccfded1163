"""The byte-level tokenizer and the offline corpus.

The tokenizer is the simplest one that round-trips any text exactly: UTF-8 bytes, vocabulary
256. Offline corpus: the English documentation prose that ships with Python itself
(pydoc_data.topics, about 465 kB of text). Paper corpus: WikiText-103 raw, downloaded by the
data steps (data/corpus.py builds both into the processed store).
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
