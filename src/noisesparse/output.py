"""Writing results: files written atomically, and metric values made JSON-safe or
formatted for the log. Shared by both trainers, the dataset store, the figures and the
summary. Nothing here changes a number it is given (deps.NEUTRAL says why that matters).
"""

from __future__ import annotations

import math
import os
from pathlib import Path


def write_with(path: str | Path, write) -> Path:
    """Write `path` atomically: `write(tmp)` fills a temporary file beside it, which then
    takes the final name, so a reader (or a workflow engine checking its outputs) never
    sees a half-written file, and a crash leaves the old file or none. Makes the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Hidden, one per process (two writers never share one), and with the final suffix:
    # savefig and to_csv may read the format from it.
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # only left there when write or replace failed
    return path


def write_text(text: str, path: str | Path) -> Path:
    return write_with(path, lambda p: p.write_text(text))


def save_torch(obj, path: str | Path) -> Path:
    """torch.save, atomically (checkpoints, models, processed datasets)."""
    import torch  # here, not above: text and figure writers need no torch
    return write_with(path, lambda p: torch.save(obj, p))


def json_number(v) -> float | None:
    """A metric value as JSON holds it: the float itself (exact for float32 and float64),
    or null for NaN and infinities, which JSON has no number for."""
    v = float(v)
    return None if math.isnan(v) or math.isinf(v) else v


def fmt(v: float | None) -> str:
    """A metric for a log line: 4 significant digits; 'nan' for a missing (null) value."""
    return "nan" if v is None else f"{v:.4g}"
