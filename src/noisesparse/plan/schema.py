"""The config files' schemas (config/schemas/*.schema.yaml, JSON Schema): what keys a
profile, config/studies.yaml and params.yaml may hold, and of what type. The registry checks
the profile and the studies against them for every command and both engines' plans; the
Snakefile checks params.yaml with Snakemake's own `validate`. An unknown key is named with
the closest allowed one (config.check_keys); any other error names where it is and what was
expected.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jsonschema
import yaml
from referencing import Registry, Resource

from .. import paths
from ..errors import ConfigError
from ..training.config import check_keys

NAMES = ("profile", "studies", "params")


def schema_path(name: str) -> Path:
    return paths.config_dir() / "schemas" / f"{name}.schema.yaml"


@functools.cache
def _validator(folder: Path, name: str) -> jsonschema.protocols.Validator:
    schemas = {n: yaml.safe_load((folder / f"{n}.schema.yaml").read_text()) for n in NAMES}
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values() if "$id" in s)
    cls = jsonschema.validators.validator_for(schemas[name])
    cls.check_schema(schemas[name])
    return cls(schemas[name], registry=registry)


def validate(data, name: str, where: str) -> None:
    """Raise a ConfigError for the most relevant way `data` breaks schema `name`."""
    validator = _validator(schema_path(name).parent, name)
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is None:
        return
    loc = ": ".join(str(p) for p in error.absolute_path)
    at = f"{where}: {loc}" if loc else where
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        check_keys(error.instance, set(error.schema.get("properties", {})), at)
    expected = error.schema.get("description") if isinstance(error.schema, dict) else None
    raise ConfigError(f"{at}: {error.message}" + (f" (expected {expected})" if expected else ""))
