"""The verdict framework (claims/verdict.py) on hand-built numbers and run tables: every
outcome and every verdict word is reachable, and each is reached for the stated reason."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from noisesparse.claims import verdict as V
from noisesparse.claims.verdict import row


def test_interval_is_the_student_t_interval_worked_by_hand():
    # values 1, 2, 3: mean 2, sd 1, se 1/sqrt(3); t(0.975, 2) = 4.302653
    m, lo, hi = V.interval([1.0, 2.0, 3.0])
    assert m == 2.0
    assert hi - m == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    assert m - lo == pytest.approx(hi - m)
    assert V.interval([5.0]) == (5.0, 5.0, 5.0)
    assert all(math.isnan(x) for x in V.interval([]))
    assert V.interval([1.0, float("nan"), 3.0])[0] == 2.0  # unfinished runs left out


def test_compare_passes_fails_and_straddles():
    tight_low = [0.10, 0.11, 0.12]
    assert V.compare(tight_low, 0.2, "<=") == V.PASS
    assert V.compare(tight_low, 0.05, "<=") == V.FAIL
    assert V.compare(tight_low, 0.2, ">=") == V.FAIL
    assert V.compare(tight_low, 0.05, ">=") == V.PASS
    wide = [0.0, 0.1, 0.3]  # mean 0.133, interval about [-0.25, 0.51]
    assert V.compare(wide, 0.2, "<=") == V.INCONCLUSIVE
    assert V.compare(wide, 0.2, ">=") == V.INCONCLUSIVE
    assert V.compare([0.1], 0.2, "<=") == V.PASS  # one seed: judged on its value
    assert V.compare([], 0.2, "<=") == V.NOT_MEASURED
    with pytest.raises(ValueError):
        V.compare(tight_low, 0.2, "==")


def test_threshold_check_says_interval_and_threshold():
    c = V.threshold_check("ratio", [0.1, 0.11, 0.12], 0.2, "<=", what="ratio")
    assert c.outcome == V.PASS
    assert "3 seeds" in c.measured and "<= 0.2" in c.measured
    one = V.threshold_check("ratio", [0.1], 0.2, "<=")
    assert "1 seed: no interval" in one.measured


def _runs(converged, beats=None, status=None):
    n = len(converged)
    df = pd.DataFrame({"seed": range(n), "status": status or ["ok"] * n,
                       "converged": converged, "x": [0.1 * (i + 1) for i in range(n)]})
    if beats is not None:
        df["beats_zero_predictor"] = beats
    return df


def test_gates_stop_unconverged_runs_and_failed_baselines():
    ok = _runs([True, True])
    assert V.gate(ok) == (None, "converged 2/2")
    assert V.gate(_runs([True, False]))[0] == V.NOT_CONVERGED
    good_base = _runs([True, True], beats=[True, True])
    bad_base = _runs([True, True], beats=[True, False])
    assert V.gate(ok, good_base)[0] is None
    assert V.gate(ok, bad_base)[0] == V.BASELINE_FAILED
    # a failed baseline is named even when the method has not converged either
    assert V.gate(_runs([False, False]), bad_base)[0] == V.BASELINE_FAILED
    assert V.gate(ok, _runs([False, True], beats=[True, True]))[0] == V.NOT_CONVERGED
    # a diverged run is not judged, and a table with no finished run is not measured
    assert V.gate(_runs([True, False], status=["ok", "diverged"]))[0] is None
    assert V.gate(_runs([True], status=["diverged"]))[0] == V.NOT_MEASURED
    # a run table that was not judged is an error, never a pass
    with pytest.raises(KeyError, match="converged"):
        V.gate(ok.drop(columns="converged"))
    with pytest.raises(ValueError, match="not judged"):
        V.gate(ok.assign(converged=[True, None]))


def test_gated_check_reports_the_measurement_beside_the_gate():
    decide = lambda: V.threshold_check("x", [0.1, 0.11, 0.12], 0.2, "<=")
    c = V.gated("x", _runs([True, False]), decide)
    assert c.outcome == V.NOT_CONVERGED and "converged 1/2" in c.measured
    assert "<= 0.2" in c.measured
    assert V.gated("x", _runs([True, True]), decide).outcome == V.PASS


@pytest.mark.parametrize("outcomes, word", [
    ([V.PASS, V.PASS], V.AGREES),
    ([V.PASS, V.FAIL], V.PARTLY),
    ([V.FAIL, V.FAIL], V.DISAGREES),
    ([V.FAIL, V.NOT_CONVERGED], V.DISAGREES),  # a decided failure outweighs a gate
    ([V.PASS, V.INCONCLUSIVE], V.INCONCLUSIVE),
    ([V.PASS, V.NOT_CONVERGED], V.NOT_CONVERGED),
    ([V.NOT_CONVERGED, V.BASELINE_FAILED], V.BASELINE_FAILED),
    ([V.INCONCLUSIVE, V.NOT_CONVERGED], V.NOT_CONVERGED),
    ([V.NOT_MEASURED], V.NOT_MEASURED),
    ([], V.NOT_MEASURED),
])
def test_combine_follows_the_rule(outcomes, word):
    assert V.combine([V.Check(f"c{i}", o) for i, o in enumerate(outcomes)]) == word


def test_reported_checks_do_not_decide():
    checks = [V.Check("main", V.PASS), V.Check("side", V.FAIL, essential=False)]
    assert V.combine(checks) == V.AGREES
    assert "side (reported): fail" in V.Check("side", V.FAIL, essential=False).text()


def test_every_verdict_word_is_reachable():
    reached = {V.combine([V.Check("a", a), V.Check("b", b)])
               for a in V.OUTCOMES for b in V.OUTCOMES}
    assert reached == set(V.VERDICTS)


def test_unknown_outcome_is_refused():
    with pytest.raises(ValueError):
        V.Check("x", "maybe")


def test_row_shows_checks_gates_rule_and_verdict():
    r = row(1, "s", "c", "m", [V.Check("a", V.PASS), V.Check("b", V.NOT_CONVERGED)])
    assert r["verdict"] == V.NOT_CONVERGED
    assert r["gates"] == "1 not converged"
    assert "a: pass" in r["checks"] and "b: not converged" in r["checks"]
    assert r["rule"] == V.RULE
    plain = row(1, "s", "c", "m", [True, False])
    assert plain["verdict"] == V.PARTLY and plain["gates"] == "passed"


def test_threshold_check_keeps_its_mean_interval_and_threshold():
    c = V.threshold_check("ratio", [1.0, 2.0, 3.0], 5.0, "<=")
    assert c.value == 2.0 and c.threshold == "<= 5"
    assert (c.low, c.high) == pytest.approx((2 - 4.302653 / math.sqrt(3),
                                             2 + 4.302653 / math.sqrt(3)), rel=1e-6)
    gated = V.gated("(a) ratio", _runs([True, False]), lambda: c)  # a gate keeps the numbers
    assert (gated.name, gated.outcome, gated.value) == ("(a) ratio", V.NOT_CONVERGED, 2.0)
    none = V.threshold_check("x", [], 1.0, ">=")
    assert none.value is None and none.outcome == V.NOT_MEASURED


@pytest.mark.parametrize("outcomes, essential, picked", [
    ([V.PASS, V.PASS], [True, True], 0),  # agrees: the main (first) check
    ([V.PASS, V.FAIL, V.FAIL], [True, True, True], 1),  # partly: the first failure
    ([V.FAIL, V.NOT_CONVERGED], [True, True], 0),  # disagrees: the failure, not the gate
    ([V.PASS, V.INCONCLUSIVE, V.NOT_CONVERGED], [True, True, True], 2),  # the gate first
    ([V.PASS, V.INCONCLUSIVE], [True, True], 1),
    ([V.NOT_CONVERGED, V.BASELINE_FAILED], [True, True], 1),
    ([V.FAIL, V.PASS], [False, True], 1),  # a reported check never decides
    ([V.NOT_MEASURED, V.FAIL], [True, False], 0),  # nothing judged: the first essential
])
def test_the_deciding_check_is_the_one_that_made_the_verdict(outcomes, essential, picked):
    checks = [V.Check(f"c{i}", o, essential=e)
              for i, (o, e) in enumerate(zip(outcomes, essential))]
    assert V.deciding(checks) is checks[picked]
    assert V.deciding([]) is None


def test_row_names_its_deciding_check_with_the_numbers():
    main = V.threshold_check("(a) ratio", [0.1, 0.11, 0.12], 0.2, "<=")
    side = V.threshold_check("(b) spread", [0.9, 1.0, 1.1], 0.5, "<=")
    r = row(1, "s", "c", "m", [main, side])
    assert r["verdict"] == V.PARTLY and r["deciding"] == side.text()
    assert (r["deciding_value"], r["deciding_threshold"]) == (pytest.approx(1.0), "<= 0.5")
    plain = row(1, "s", "c", "m", [True])
    assert plain["deciding"] == "check 1: pass" and plain["deciding_value"] is None
