"""Every figure of the paper (F1-F18), the Transformer's per-layer figure, claim 10's
robustness (F19) and efficiency (F20) figures, claim 9's implicit loss terms (F21) and the
sensitivity ladder (F22), each a
small function that reads run results and writes PNG + PDF + its data table (CSV + Markdown)."""

from __future__ import annotations

from ..errors import ConfigError
from . import curves, implicit, robustness, sensitivity, table, weights

DRAW = {
    "F1": curves.f1_training, "F2": curves.f2_width, "F3": curves.f3_datasets,
    "F4": curves.f4_noise, "F5": curves.f5_tasks, "F5_layers": curves.f5_layers,
    "F6": curves.f6_activations, "F7": weights.f7_synchronisation,
    "F8": curves.f8_shared_bias, "F9": curves.f9_noise_removal,
    "F10": weights.f10_receptive_fields, "F11": curves.f11_baselines,
    "F12": curves.f12_inhibition, "F13": weights.f13_preactivations, "F14": curves.f14_dead,
    "F15": curves.f15_optimisers, "F16": weights.f16_reconstructions, "F17": weights.f17_norms,
    "F18": table.f18_replication, "F19": robustness.f19_robustness,
    "F20": robustness.f20_efficiency, "F21": implicit.f21_implicit,
    "F22": sensitivity.f22_sensitivity,
}


def draw(fig_id: str, plan) -> list[str]:
    """Draw one figure of the plan; returns the files written."""
    if fig_id not in DRAW:
        raise ConfigError(f"no drawing code for figure {fig_id!r}; known: {', '.join(DRAW)}")
    return DRAW[fig_id](plan, fig_id, plan.figures[fig_id]["title"])
