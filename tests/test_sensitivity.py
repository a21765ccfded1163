"""The sensitivity ladder's rule (claims/sensitivity.py) on hand-built rungs: every
conclusion is reachable, and each changes when one value of its table changes."""

from __future__ import annotations

import pytest

from noisesparse.claims import sensitivity as S

TIGHT = 0.01  # per-seed jitter small enough that a mean 0.1 from the threshold is decided


def r(axis, setting, order, mean, converged=True, q="q", thr=0.5, op="<="):
    return S.rung(q, axis, setting, order, [mean - TIGHT, mean, mean + TIGHT], converged,
                  thr, op)


def base(mean=0.8):  # long's stand-in, failing "<= 0.5" at 0.8
    return r("width", 128, 0, mean)


def test_holds_at_every_rung_and_can_fail():
    t = [r("width", 128, 0, 0.3), r("width", 512, 1, 0.2), r("init", "normal", None, 0.3)]
    assert S.conclude(t)[0] == S.HOLDS
    t[1] = r("width", 512, 1, 0.9)  # one rung fails: no longer holds
    assert S.conclude(t)[0] != S.HOLDS


def test_stand_in_when_the_departure_reaches_agreement_nearer_the_paper():
    t = [base(), r("width", 512, 1, 0.6), r("width", 2048, 2, 0.3)]
    word, detail = S.conclude(t)
    assert word == S.STAND_IN and "width toward" in detail
    t[2] = r("width", 2048, 2, 0.9)  # the nearest rung fails, no better: persists instead
    assert S.conclude(t)[0] == S.PERSISTS


def test_stand_in_when_the_margin_shrinks_to_an_inconclusive_rung():
    wide = S.rung("q", "lr", 1e-4, 1, [0.3, 0.5, 0.7], True, 0.5, "<=")  # straddles 0.5
    t = [r("lr", 1e-3, 0, 0.8), wide]
    assert wide.outcome == S.INCONCLUSIVE
    assert S.conclude(t)[0] == S.STAND_IN
    worse = S.rung("q", "lr", 1e-4, 1, [0.4, 0.9, 1.4], True, 0.5, "<=")  # margin shrinks
    assert worse.outcome == S.INCONCLUSIVE and S.conclude([t[0], worse])[0] == S.OPEN


def test_persists_when_the_departure_stays_or_grows():
    t = [base(0.8), r("batch", 256, 0, 0.8), r("width", 512, 1, 1.0),
         r("batch", 1024, 1, 0.8)]
    word, detail = S.conclude(t)
    assert word == S.PERSISTS and "width away" in detail and "batch away" in detail
    # a criterion that passes at the stand-in and fails nearer the paper also persists
    assert S.conclude([r("width", 128, 0, 0.3), r("width", 512, 1, 0.9)])[0] == S.PERSISTS
    t[2] = r("width", 512, 1, 0.2)  # width now reaches agreement: axes disagree, open
    assert S.conclude(t)[0] == S.OPEN


def test_sensitive_to_a_choice_the_paper_does_not_fix():
    t = [base(0.8), r("init", "torch", None, 0.8), r("init", "normal", None, 0.2)]
    assert S.conclude(t)[0] == "sensitive to init"
    t[2] = r("init", "normal", None, 0.7)  # both inits fail: no flip, nothing else: open
    assert S.conclude(t)[0] == S.OPEN


def test_open_names_the_paper_scale_rung_that_would_decide():
    t = [base(0.8), r("width", 512, 1, 0.8, converged=False), r("lr", 1e-3, 0, 0.8)]
    word, detail = S.conclude(t)
    assert word == S.OPEN
    assert "width 10000" in detail and "lr 0.0001" in detail
    assert "2 of 3 rungs counted" in detail
    # the same table with the width rung converged (and failing no better) persists
    t[1] = r("width", 512, 1, 0.8)
    assert S.conclude(t)[0] == S.PERSISTS


def test_unconverged_rungs_are_shown_not_counted():
    t = [base(0.8), r("width", 512, 1, 0.2, converged=False)]
    assert S.conclude(t)[0] == S.OPEN  # the passing rung did not converge
    assert "stand-in's own rung" not in S.conclude(t)[1]  # the stand-in's rung counted
    # an unconverged stand-in rung: nothing to start a trend from, and the detail says so
    word, detail = S.conclude([r("width", 128, 0, 0.8, converged=False),
                               r("width", 512, 1, 0.2), r("lr", 1e-3, 0, 0.8)])
    assert word == S.OPEN and "the stand-in's own rung converged (width)" in detail
    # a stand-in rung with nothing measured (its axis's study did not train that sigma)
    # is not called unconverged
    empty = S.rung("q", "lr", 1e-3, 0, [], False, 0.5, "<=")
    assert S.unconverged_stand_in([empty, r("lr", 1e-4, 1, 0.8)]) == []
    # nor is an axis with its stand-in rung alone: its detail names the rung nearer the
    # paper that would decide it already
    alone = [r("width", 128, 0, 0.8, converged=False)]
    assert S.unconverged_stand_in(alone) == []
    assert "stand-in's own rung" not in S.conclude(alone)[1]
    t[1] = r("width", 512, 1, 0.2)
    assert S.conclude(t)[0] == S.STAND_IN
    tab = S.table("3", [base(0.8), r("width", 512, 1, 0.2, converged=False)])
    assert list(tab["counted"]) == [True, False] and list(tab["converged"]) == [True, False]
    assert tab["mean"].iloc[0] == pytest.approx(0.8) and tab["seeds"].iloc[0] == 3


def test_no_rung_at_all_is_open():
    assert S.conclude([])[0] == S.OPEN
    assert S.conclude_claim([])[0] == S.OPEN
    assert S.conclude([base(0.8)])[0] == S.OPEN  # one rung: no trend
    assert S.conclude([base(0.3)])[0] == S.HOLDS  # ... unless it passes


def test_one_seed_is_judged_on_its_value_and_ge_direction_works():
    lo = S.rung("f", "width", 128, 0, [1.8], True, 2.0, ">=")
    hi = S.rung("f", "width", 512, 1, [2.4], True, 2.0, ">=")
    assert lo.outcome == S.FAIL and hi.outcome == S.PASS and hi.margin == pytest.approx(0.4)
    assert S.conclude([lo, hi])[0] == S.STAND_IN
    assert S.conclude([lo, S.rung("f", "width", 512, 1, [1.5], True, 2.0, ">=")])[0] == S.PERSISTS


def test_a_claim_takes_the_first_word_of_claim_order_over_its_quantities():
    a = [r("width", 128, 0, 0.8, q="a"), r("width", 512, 1, 0.2, q="a")]  # stand-in
    b = [r("width", 128, 0, 0.3, q="b"), r("width", 512, 1, 0.2, q="b")]  # holds
    word, detail = S.conclude_claim(a + b)
    assert word == S.STAND_IN and detail.startswith("a: stand-in") and "b: holds" in detail
    c = [r("width", 128, 0, 0.8, q="c"), r("width", 512, 1, 0.9, q="c")]  # persists
    assert S.conclude_claim(a + b + c)[0] == S.PERSISTS
    d = [r("init", "torch", None, 0.8, q="d"), r("init", "normal", None, 0.2, q="d")]
    assert S.conclude_claim(a + c + d)[0] == "sensitive to init"


def test_readings_keep_each_quantitys_criterion_conclusion_and_rung_means():
    rs = [base(0.8), r("width", 512, 1, 0.2), r("lr", 0.0001, 1, 0.6, converged=False),
          S.rung("q", "init", "normal", None, [0.3], True, 0.5, "<="),
          r("width", 128, 0, 0.2, q="other")]
    out = S.readings(rs)
    assert list(out) == ["q", "other"]
    q = out["q"]
    assert q["criterion"] == "<= 0.5" and q["conclusion"] == S.conclude(rs[:4])[0]
    assert list(q["rungs"]) == ["width 128", "width 512", "lr 0.0001", "init normal"]
    w = q["rungs"]["width 128"]
    assert w["order"] == 0 and w["mean"] == pytest.approx(0.8) and w["seeds"] == 3
    assert w["mean_sd"] == pytest.approx(TIGHT) and w["converged"] is True
    assert q["rungs"]["lr 0.0001"]["converged"] is False
    one = q["rungs"]["init normal"]  # one seed: no spread recorded
    assert one["order"] is None and "mean_sd" not in one and one["seeds"] == 1
    missing = S.readings([S.rung("q", "width", 128, 0, [float("nan")], False, 0.5, "<=")])
    assert missing["q"]["rungs"]["width 128"]["mean"] is None
