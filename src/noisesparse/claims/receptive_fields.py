"""Claim 6: noisy training on raw pixels gives Gabor and centre-surround receptive fields."""

from __future__ import annotations

from .common import row

CLAIM = 6
STATEMENT = "Noisy training on raw pixels gives Gabor and centre-surround receptive fields"
CRITERION = "qualitative: inspect F10 (no computed criterion)"


def judge(plan) -> dict:
    return row(CLAIM, STATEMENT, CRITERION, "see F10", [], verdict_text="inspect F10")
