"""Datasets: a catalog of named datasets, their builders, and the processed-tensor store."""

from .catalog import build, dataset_names, dataset_spec, load, sources  # noqa: F401
from .transfer import fetch  # noqa: F401
