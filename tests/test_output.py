"""Shared output helpers: atomic writes, and metric values written to JSON unchanged.
deps.NEUTRAL leaves output.py out of every step's dependencies on that promise."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch

from noisesparse.plan import deps
from noisesparse.output import fmt, json_number, save_torch, write_text, write_with


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = write_text("old\n", tmp_path / "sub" / "metrics.json")  # makes the folder
    assert path.read_text() == "old\n"

    def crash(p):
        p.write_text("half")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError, match="mid-write"):
        write_with(path, crash)
    assert path.read_text() == "old\n"
    assert os.listdir(path.parent) == ["metrics.json"]


def test_torch_objects_round_trip(tmp_path):
    state = {"w": torch.arange(6.0).reshape(2, 3), "step": 7}
    path = save_torch(state, tmp_path / "model.pt")
    back = torch.load(path, weights_only=True)
    assert torch.equal(back["w"], state["w"]) and back["step"] == 7
    assert os.listdir(tmp_path) == ["model.pt"]


def test_json_numbers_are_the_values_themselves():
    # float32 values (what the trainers hold) widen to float64 exactly: 0.1f is not 0.1
    v32 = torch.tensor([0.1, 1 / 3, 1e-30, -2.5e7], dtype=torch.float32)
    out = [json_number(v) for v in v32]
    assert out == [float(np.float32(x)) for x in (0.1, 1 / 3, 1e-30, -2.5e7)]
    assert out[0] != 0.1 and json.loads(json.dumps(out)) == out
    assert json_number(np.float64(0.1)) == 0.1 and json_number(3) == 3.0
    # JSON has no NaN or infinity: they are written as null
    assert [json_number(x) for x in (math.nan, math.inf, -math.inf)] == [None, None, None]


def test_log_format():
    assert fmt(0.123456) == "0.1235" and fmt(12345.0) == "1.234e+04" and fmt(None) == "nan"


def test_output_is_neutral_and_a_leaf():
    """Left out of the dependencies as it changes no number; it must then import nothing
    of the package that does."""
    assert "noisesparse.output" in deps.NEUTRAL
    assert deps.imports("noisesparse.output") == set()
