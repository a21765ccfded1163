"""Claim 7's judge (claims/topk.py) on hand-built run tables: matching Top-K across k to
the noise network's fraction active, and each verdict word and gate. Every expected value
is worked out by hand beside it."""

import pandas as pd
import pytest

from noisesparse.runs.results import beats_zero_on
from noisesparse.claims import topk as C7
from noisesparse.claims import verdict as V
from noisesparse.claims.verdict import row

ZERO = 1.0  # the zero predictor's MSE on these hand-built inputs, clean and noisy


def noise(loss_clean, frac_clean=0.05, converged=(True, True, True), sigma=0.3,
          loss_noisy=(0.2, 0.2, 0.2)):
    """Three noise seeds at one sigma; noisy inputs 50% active (above Top-K's range)."""
    n = len(loss_clean)
    return pd.DataFrame({"sigma": sigma, "seed": range(n), "status": "ok",
                         "frac_active_clean": frac_clean, "loss_clean": loss_clean,
                         "frac_active_noisy": 0.5, "loss_noisy": list(loss_noisy),
                         "converged": list(converged), "loss_zero_clean": ZERO,
                         "loss_zero_noisy": ZERO})


def topk(loss8=0.5, loss32=0.3, loss128=0.9, sigma=0.3, converged=True):
    """Top-K at k 8, 32, 128: 2.5%, 10% and 40% active on clean and on noisy inputs."""
    return pd.DataFrame({"sigma": sigma, "seed": 0, "status": "ok", "topk": [8, 32, 128],
                         "topk_schedule": "fixed",
                         "frac_active_clean": [0.025, 0.1, 0.4],
                         "loss_clean": [loss8, loss32, loss128],
                         "frac_active_noisy": [0.025, 0.1, 0.4],
                         "loss_noisy": [loss8, loss32, loss128], "converged": converged,
                         "loss_zero_clean": ZERO, "loss_zero_noisy": ZERO})


def verdict(noise_runs, topk_runs, authors=None):
    tables = {"topk": topk_runs}
    if authors is not None:
        tables["topk_normalised"] = authors
    checks = C7.checks_for(noise_runs, tables)
    return row(7, C7.STATEMENT, C7.CRITERION, "", checks, C7.RULE), checks


def test_top_k_is_interpolated_in_log_fraction_active_between_the_bracketing_k():
    tk = topk()
    pair = C7.bracket(tk, "clean", 0.05)
    assert list(pair.index) == [8, 32]  # 0.025 <= 0.05 <= 0.1
    # 0.05 is halfway between 0.025 and 0.1 in log space: halfway between 0.5 and 0.3
    assert C7.matched_loss(pair, "clean", 0.05) == pytest.approx(0.4)
    assert list(C7.bracket(tk, "clean", 0.2).index) == [32, 128]
    assert C7.bracket(tk, "clean", 0.5) is None and C7.bracket(tk, "clean", 0.01) is None
    # seeds at 0.05: 0.3 - 0.4, 0.31 - 0.4, 0.29 - 0.4
    diffs, ks = C7.differences(noise([0.3, 0.31, 0.29]), tk, "clean")
    assert diffs == pytest.approx([-0.1, -0.09, -0.11]) and ks == [8, 32]


def test_agrees_when_noise_beats_matched_top_k_and_unbracketed_inputs_are_not_judged():
    r, checks = verdict(noise([0.3, 0.31, 0.29]), topk())
    assert r["verdict"] == V.AGREES
    by = {c.name: c for c in checks}
    assert by["Top-K (noise network's architecture) sigma 0.3 clean"].outcome == V.PASS
    # noisy inputs: noise 50% active, Top-K at most 40%, and every sparser Top-K run
    # reconstructs worse (0.3-0.9 > 0.2): listed, not judged
    noisy = by["Top-K (noise network's architecture) sigma 0.3 noisy"]
    assert noisy.outcome == V.NOT_MEASURED and "not bracketed" in noisy.measured


def test_disagrees_when_a_sparser_top_k_run_reconstructs_better_unbracketed():
    # noisy inputs: noise 50% active at MSE 0.6; Top-K k 32 is 10% active at MSE 0.3:
    # sparser and better, every seed (0.6 - 0.3 = 0.3 > 0)
    r, checks = verdict(noise([0.3, 0.31, 0.29], loss_noisy=(0.6, 0.61, 0.59)), topk())
    noisy = checks[1]
    assert noisy.outcome == V.FAIL and "k [32]" in noisy.measured
    assert r["verdict"] == V.PARTLY  # clean passes, noisy fails
    # seeds 0.2, 0.3, 0.4 against 0.3: interval straddles 0
    r, checks = verdict(noise([0.3, 0.31, 0.29], loss_noisy=(0.2, 0.3, 0.4)), topk())
    assert checks[1].outcome == V.INCONCLUSIVE


def test_disagrees_when_matched_top_k_reconstructs_better():
    # noise 0.5 vs Top-K 0.4 at the same fraction active, every seed
    assert verdict(noise([0.5, 0.51, 0.49]), topk())[0]["verdict"] == V.DISAGREES


def test_inconclusive_when_the_seed_interval_straddles_zero():
    # differences -0.1, +0.1, 0: mean 0, interval about [-0.25, 0.25]
    assert verdict(noise([0.3, 0.5, 0.4]), topk())[0]["verdict"] == V.INCONCLUSIVE


def test_not_converged_when_a_noise_seed_or_a_bracketing_top_k_run_still_moves():
    r, _ = verdict(noise([0.3, 0.31, 0.29], converged=(True, False, True)), topk())
    assert r["verdict"] == V.NOT_CONVERGED
    r, _ = verdict(noise([0.3, 0.31, 0.29]), topk(converged=[True, False, True]))
    assert r["verdict"] == V.NOT_CONVERGED  # k 32 brackets the seeds and has not converged
    # an unconverged k outside the bracket (128) does not stop the comparison
    r, _ = verdict(noise([0.3, 0.31, 0.29]), topk(converged=[True, True, False]))
    assert r["verdict"] == V.AGREES


def test_baseline_failed_when_a_bracketing_top_k_does_not_beat_the_zero_predictor():
    # k 8 at MSE 1.2, above the zero predictor's 1.0; matched it would lose to the noise
    r, checks = verdict(noise([0.3, 0.31, 0.29]), topk(loss8=1.2))
    assert r["verdict"] == V.BASELINE_FAILED
    assert "baseline beats zero predictor 1/2" in checks[0].measured
    # a failed k outside the bracket (128 at 1.2) does not stop it
    assert verdict(noise([0.3, 0.31, 0.29]), topk(loss128=1.2))[0]["verdict"] == V.AGREES


def test_the_authors_variant_is_reported_beside_and_not_counted():
    authors = topk(loss8=5.0, loss32=3.0)  # worse than the zero predictor on clean inputs
    r, checks = verdict(noise([0.3, 0.31, 0.29]), topk(), authors=authors)
    assert r["verdict"] == V.AGREES
    a = next(c for c in checks if c.name == "authors' normalised Top-K sigma 0.3 clean")
    assert a.outcome == V.BASELINE_FAILED and not a.essential
    assert "(reported)" in r["checks"]


def test_sigma_zero_and_sigmas_only_one_side_trained_are_not_compared():
    n = pd.concat([noise([0.3, 0.31, 0.29], sigma=0.0), noise([0.3, 0.31, 0.29], sigma=0.8)])
    assert C7.checks_for(n, {"topk": topk(sigma=0.0)}) == []


def test_beats_zero_on_judges_each_input_set_against_its_own_zero_predictor():
    runs = pd.DataFrame({"status": ["ok", "ok", "diverged"], "loss_clean": [0.5, 1.5, 0.1],
                         "loss_noisy": [1.5, 0.5, 0.1], "loss_zero_clean": 1.0,
                         "loss_zero_noisy": 1.0})
    assert list(beats_zero_on(runs, "clean")) == [True, False, False]
    assert list(beats_zero_on(runs, "noisy")) == [False, True, False]
    with pytest.raises(KeyError, match="loss_zero_noisy"):
        beats_zero_on(runs.drop(columns=["loss_zero_noisy"]), "noisy")
    with pytest.raises(ValueError):
        beats_zero_on(runs, "both")


def test_f11_marks_runs_that_fail_to_train_on_each_input_set():
    from noisesparse.figures.curves import _failed
    runs = pd.DataFrame({"status": ["ok", "ok"], "loss_clean": [0.5, 1.5],
                         "loss_noisy": [1.5, 0.5], "loss_zero_clean": 1.0,
                         "loss_zero_noisy": 1.0})
    out = _failed(runs)
    assert list(out["failed_clean"]) == [0.0, 1.0] and list(out["failed_noisy"]) == [1.0, 0.0]


def test_the_cosine_model_is_reported_with_what_failed_to_train():
    cos = topk().iloc[:1].assign(loss_clean=1.5, loss_noisy=0.5)  # clean above ZERO
    text = C7.cosine_report(cos)
    assert "MSE clean 1.5 (active 0.025, failed to train)" in text
    assert "noisy 0.5 (active 0.025)" in text


def test_a_sigma_that_did_not_converge_is_reported_where_another_was_judged():
    """verdict.judge_converged, as claim 7's judge applies it: sigma 0.3 judged (passes),
    sigma 0.8 stopped by 'not converged' and shown as reported; with none judged the gate
    stays the verdict."""
    n = pd.concat([noise([0.3, 0.31, 0.29]),
                   noise([0.3, 0.31, 0.29], sigma=0.8, converged=(False, True, True))])
    t = pd.concat([topk(), topk(sigma=0.8)])
    checks = V.judge_converged(C7.checks_for(n, {"topk": t}))
    late = next(c for c in checks if c.name.startswith(
        "Top-K (noise network's architecture) sigma 0.8 clean"))
    assert late.outcome == V.NOT_CONVERGED and not late.essential
    assert "[not converged: reported]" in late.name
    assert V.combine(checks) == V.AGREES
    only = V.judge_converged(C7.checks_for(n[n["sigma"] == 0.8], {"topk": t}))
    assert V.combine(only) == V.NOT_CONVERGED
