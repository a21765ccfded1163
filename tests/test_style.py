"""figures.style on hand-built tables: seed means carry whether their runs converged, and
points of unconverged runs are drawn hollow with a legend entry and a caption note."""

import numpy as np
import pandas as pd
import pytest

from noisesparse.figures import style as S


def test_summarise_counts_unconverged_seeds_per_point():
    df = pd.DataFrame({
        "status": ["ok", "ok", "ok", "ok", "diverged"],
        "sigma": [0.0, 0.0, 0.8, 0.8, 3.0],
        "frac_active_clean": [0.5, 0.7, 0.2, 0.4, np.nan],
        # sigma 0: both converged; 0.8: one of two did not; 3: its only run diverged
        "converged": [True, True, True, False, False],
    })
    t = S.summarise(df, ["sigma"], ["frac_active_clean"]).set_index("sigma")
    assert list(t["unconverged"]) == [0, 1, 0]
    assert list(t["converged"]) == [True, False, False]
    assert t.loc[0.8, "frac_active_clean_mean"] == pytest.approx(0.3)  # both seeds
    # a table without convergence (no column, or NaN): nothing counted, nothing marked
    assert "converged" not in S.summarise(df.drop(columns="converged"), ["sigma"],
                                          ["frac_active_clean"])
    old = S.summarise(df.assign(converged=np.nan), ["sigma"], ["frac_active_clean"])
    assert list(old["unconverged"]) == [0, 0, 0]


def test_unconverged_points_are_hollow_and_said_so():
    fig, (ax,) = S.panels(1)
    S.curve(ax, [0, 0.8, 3], [0.5, 0.3, 0.1], colour="C0", label="a",
            converged=pd.Series([True, False, np.nan]))
    S.curve(ax, [0, 0.8, 3], [0.6, 0.4, 0.2], colour="C1", label="b",
            converged=[True, False, False])
    hollow = [c for c in ax.collections if c.get_gid() == S.UNCONVERGED_GID]
    # the second point of the first curve; the last two of the second
    assert [h.get_offsets().tolist() for h in hollow] == [[[0.8, 0.3]], [[0.8, 0.4], [3, 0.2]]]
    assert all((h.get_facecolor()[:, :3] == 1).all() for h in hollow)  # white faces
    _, labels = ax.get_legend_handles_labels()
    assert labels == ["a", "b", S.UNCONVERGED_LABEL]  # one entry, after the curves
    assert S.has_unconverged(fig)
    # an x has no face to empty: a ring around it, its face left transparent
    S.curve(ax, [1.0], [0.7], colour="C2", marker="x", converged=[False])
    ring = [c for c in ax.collections if c.get_gid() == S.UNCONVERGED_GID][-1]
    assert ring.get_offsets().tolist() == [[1.0, 0.7]] and ring.get_facecolor().size == 0
    fig2, (ax2,) = S.panels(1)
    S.curve(ax2, [0, 1], [1, 2], converged=[True, True])
    S.curve(ax2, [0, 1], [1, 2], converged=None)
    assert not S.has_unconverged(fig2)
