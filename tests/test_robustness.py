"""Claim 10's measurements: PGD attacks (foolbox and our reference ascent), Gaussian
noise at test time, the sparse decoder against the dense one, and the verdict's logic."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch

from noisesparse.measures import attacks as A
from noisesparse.measures import efficiency as E
from noisesparse.training.config import make_run_config
from noisesparse.errors import ConfigError
from noisesparse.training.model import SparseNet

EPS = [0, 0.01, 0.03, 0.06, 0.1, 0.15, 0.3, 0.6]


def _blobs(n, d=16, seed=0):
    """Four classes, each a bump on its own quarter of the features, values in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 4, (n,), generator=g)
    x = 0.25 + 0.1 * torch.rand(n, d, generator=g)
    for c in range(4):
        x[y == c, 4 * c:4 * c + 4] += 0.5
    return x.clamp(0, 1), y


def _train(task, steps=150):
    cfg = make_run_config({"dataset": "digits", "task": task, "width": 32, "seed": 0},
                          "test")
    x, y = _blobs(512)
    net = SparseNet([cfg], 16, 4 if task == "classification" else 16)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matmuls: threads only add overhead
    for _ in range(steps):
        out = net(x)[2][0]
        loss = (torch.nn.functional.cross_entropy(out, y) if task == "classification"
                else (out - x).pow(2).sum(-1).mean())
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.set_num_threads(threads)
    for p in net.parameters():
        p.requires_grad_(False)
    return net.eval()


@pytest.fixture(scope="module")
def classifier():
    return _train("classification")


@pytest.fixture(scope="module")
def autoencoder():
    return _train("reconstruction")


@pytest.fixture(scope="module")
def held_out():
    return _blobs(200, seed=1)


@pytest.mark.parametrize("norm", A.NORMS)
def test_an_attack_at_eps_zero_changes_nothing(classifier, autoencoder, held_out, norm):
    x, y = held_out
    assert torch.equal(A.attack_classifier(classifier, x, y, 0.0, norm, 10, 0.0, 1.0), x)
    xr = A.attack_reconstruction(autoencoder, x, 0.0, norm, 10, 0.0, 1.0)
    assert torch.allclose(xr, x, atol=1e-7, rtol=0)


@pytest.mark.parametrize("norm", A.NORMS)
def test_foolbox_pgd_matches_the_reference_pgd(classifier, held_out, norm):
    """foolbox's LinfPGD / L2PGD and our minimal PGD (used for reconstructions), same seed,
    same model, foolbox's loss (cross-entropy summed over the batch): the same adversarial
    inputs, bit for bit. Data range [-1, 2] to exercise the rescaling to the unit box."""
    x, y = held_out
    lo, hi = -1.0, 2.0
    ours = A.pgd(lambda xa: torch.nn.functional.cross_entropy(classifier(xa)[2][0], y,
                                                              reduction="sum"),
                 x, 0.1, norm, 10, lo, hi, seed=3)
    theirs = A.attack_classifier(classifier, x, y, 0.1, norm, 10, lo, hi, seed=3)
    assert torch.equal(ours, theirs)
    assert not torch.allclose(theirs, x, atol=1e-3)  # it did move the inputs
    other = A.attack_classifier(classifier, x, y, 0.1, norm, 10, lo, hi, seed=4)
    assert not torch.equal(other, theirs)  # the seed sets the random start


def test_the_l2_random_start_is_uniform_in_the_ball():
    """foolbox's L2 start: a uniform point of the n-ball, so the radius r has
    P(r <= t * eps) = t^n (n = 2: the median radius is eps / sqrt(2), not eps / 2 as for a
    uniform radius); and every start lies in the ball."""
    u0 = torch.full((20000, 2), 0.5)
    torch.manual_seed(0)
    r = (A._random_start(u0, 0.1, "l2") - u0).norm(dim=1)
    assert r.max() <= 0.1 + 1e-7
    assert float(r.median()) == pytest.approx(0.1 / math.sqrt(2), rel=0.02)
    d = A._random_start(u0, 0.1, "linf") - u0
    assert d.abs().max() <= 0.1 + 1e-7 and float(d.abs().mean()) == pytest.approx(0.05, rel=0.02)


def test_an_attack_leaves_the_parameters_and_the_callers_generator_alone(classifier,
                                                                        held_out):
    x, y = held_out
    for p in classifier.parameters():
        p.requires_grad_(True)
        p.grad = None
    try:
        state = torch.random.get_rng_state()
        A.attack_classifier(classifier, x, y, 0.1, "l2", 2, 0.0, 1.0)
        assert torch.equal(torch.random.get_rng_state(), state)
        assert all(p.grad is None and p.requires_grad for p in classifier.parameters())
    finally:
        for p in classifier.parameters():
            p.requires_grad_(False)


def test_inputs_outside_the_attack_box_are_a_clear_error(classifier, held_out):
    x, y = held_out
    with pytest.raises(ConfigError, match="outside the attack box"):
        A.attack_classifier(classifier, x + 2, y, 0.1, "linf", 10, 0.0, 1.0)
    assert A.data_range(torch.tensor([0.0, 1.0]), torch.tensor([-0.5, 0.2])) == (-0.5, 1.0)


@pytest.mark.parametrize("norm", A.NORMS)
def test_adversarial_inputs_stay_in_the_ball_and_the_data_range(classifier, autoencoder,
                                                                held_out, norm):
    x, y = held_out
    for xa in (A.attack_classifier(classifier, x, y, 0.3, norm, 10, 0.0, 1.0),
               A.attack_reconstruction(autoencoder, x, 0.3, norm, 10, 0.0, 1.0)):
        d = xa - x
        size = d.abs().amax(1) if norm == "linf" else d.norm(dim=1)
        assert (size <= 0.3 + 1e-5).all()
        assert xa.min() >= 0 and xa.max() <= 1


def test_accuracy_under_attack_never_exceeds_clean_and_larger_eps_never_helps(
        classifier, held_out):
    x, y = held_out
    rows = pd.DataFrame(A.attack_curves(classifier, "classification", x, y, EPS, 10, 0.0, 1.0))
    clean = float((classifier(x)[2][0].argmax(-1) == y).float().mean())
    assert clean > 0.9  # the toy classifier works
    for attack, c in rows.groupby("attack"):
        c = c.sort_values("eps")
        assert c["value"].iloc[0] == pytest.approx(clean)
        assert (c["value"] <= clean + 1e-9).all()
        assert (c["value_raw"] <= clean + 1e-9).all()  # raw PGD too, on this model
        assert (c["value"].diff().dropna() <= 1e-9).all()  # never rises with eps
    # and the attack bites: an L-inf radius of 0.6 on [0, 1] inputs moves every input
    # anywhere (the classes' bumps are 0.5 high); the L2 ball of 0.6 is too small for that.
    assert rows[rows["attack"] == "pgd_linf"]["value"].iloc[-1] < clean - 0.3


def test_reconstruction_error_under_attack_grows_with_eps(autoencoder, held_out):
    x, _ = held_out
    rows = pd.DataFrame(A.attack_curves(autoencoder, "reconstruction", x, None, EPS, 10,
                                        0.0, 1.0))
    out = autoencoder(x)[2][0]
    clean = float((out - x).pow(2).sum() / x.pow(2).sum())
    for _, c in rows.groupby("attack"):
        c = c.sort_values("eps")
        assert c["value"].iloc[0] == pytest.approx(clean, rel=1e-5)
        assert (c["value_raw"] >= clean * (1 - 1e-5)).all()
        assert (c["value"].diff().dropna() >= -1e-9).all()
        assert c["value"].iloc[-1] > 2 * clean


def test_worst_case_is_the_running_worst_over_smaller_eps():
    # rows: eps 0, 0.1, 0.3; columns: 3 inputs. Input 0 is fooled at 0.1 but not at 0.3
    # (a weaker raw attack at the larger eps); the 0.1-ball lies inside the 0.3-ball, so
    # it counts as fooled at 0.3. Input 2 is fooled clean already.
    correct = torch.tensor([[1., 1., 0.],
                            [0., 1., 1.],
                            [1., 0., 1.]])
    assert torch.equal(A.worst_case(correct, higher_is_worse=False),
                       torch.tensor([[1., 1., 0.], [0., 1., 0.], [0., 0., 0.]]))
    err = torch.tensor([[1., 2.], [3., 1.], [2., 5.]])
    assert torch.equal(A.worst_case(err, higher_is_worse=True),
                       torch.tensor([[1., 2.], [3., 2.], [3., 5.]]))


def test_bad_attack_settings_are_clear_errors(classifier, held_out):
    x, y = held_out
    with pytest.raises(ConfigError, match="norm"):
        A.attack_classifier(classifier, x, y, 0.1, "l1", 10, 0.0, 1.0)
    with pytest.raises(ConfigError, match="eps grid"):
        A.attack_curves(classifier, "classification", x, y, [0.1, 0.3], 10, 0.0, 1.0)
    with pytest.raises(ConfigError, match="constant"):
        A.data_range(torch.ones(4, 3))


def test_noise_at_test_time_sigma_zero_is_clean(classifier, held_out):
    x, y = held_out
    rows = A.noise_curve(classifier, "classification", x, y, [0, 0.5, 3.0])
    clean = float((classifier(x)[2][0].argmax(-1) == y).float().mean())
    assert rows[0]["value"] == pytest.approx(clean)
    assert rows[2]["value"] < clean  # sigma 3 on [0, 1] inputs: accuracy falls


# ---- efficiency --------------------------------------------------------------------------

@pytest.mark.parametrize("batch", [1, 7, 256])
def test_sparse_decoders_equal_the_dense_one(autoencoder, held_out, batch):
    x = held_out[0].repeat(2, 1)[:batch]
    with torch.no_grad():
        z = autoencoder.encode(x)[1][0]
    assert (z == 0).any() and (z != 0).any()
    w2t, b2 = autoencoder.w2[0].t().contiguous(), autoencoder.b2[0]
    dense = E.dense_decode(z, w2t, b2)
    assert torch.allclose(dense, autoencoder.decode(z.unsqueeze(0))[0], atol=1e-5)
    for m in ("gather", "csr"):
        assert torch.allclose(E.DECODERS[m](z, w2t, b2), dense, rtol=1e-5, atol=1e-6), m


def test_sparse_decoders_with_no_unit_active_give_the_bias():
    z, w2t, b2 = torch.zeros(3, 8), torch.randn(8, 5), torch.randn(5)
    for m in E.METHODS:
        assert torch.allclose(E.DECODERS[m](z, w2t, b2), b2.expand(3, 5)), m


def test_synthetic_activations_have_the_asked_sparsity():
    z = E.synthetic_activations(5, 200, 0.03)
    assert ((z != 0).sum(1) == 6).all() and (z >= 0).all()
    assert ((E.synthetic_activations(2, 50, 0.001) != 0).sum(1) == 1).all()  # at least one
    with pytest.raises(ConfigError):
        E.synthetic_activations(2, 50, 0.0)


def test_multiply_adds_by_hand():
    # encoder 100 x 10 = 1000, decoder 10 x 100 = 1000; 10% active: decoder 100.
    m = E.multiply_adds(0.1, d_in=10, width=100, d_out=10)
    assert m["macs_dense"] == 2000 and m["macs_sparse"] == pytest.approx(1100)
    assert m["decoder_macs_saved"] == pytest.approx(0.9)
    assert m["network_macs_saved"] == pytest.approx(0.45)


def test_break_even_by_hand():
    # sparse/dense = 0.5, 2, 4 at fractions 0.01, 0.1, 1: log ratio -ln2, +ln2: crosses
    # halfway between log(0.01) and log(0.1), i.e. at sqrt(0.001).
    assert E.break_even([0.01, 0.1, 1], [1, 1, 1], [0.5, 2, 4]) == pytest.approx(
        math.sqrt(0.001))
    assert E.break_even([0.01, 1], [1, 1], [2, 3]) == 0.0  # never faster
    assert E.break_even([0.01, 1], [1, 1], [0.2, 0.9]) == 1.0  # always faster


def test_median_time_is_positive_and_ordered():
    small = E.median_time(lambda: torch.ones(10).sum(), repeats=3)
    big = E.median_time(lambda: torch.ones(300, 300) @ torch.ones(300, 300), repeats=3)
    assert 0 < small < big


# ---- the registry: F18 reads F19's and F20's tables ---------------------------------------

def test_f18_depends_on_the_tables_of_the_figures_it_reads(tmp_path, monkeypatch):
    import shutil
    from pathlib import Path

    from noisesparse.pipeline.cli import dvc_yaml_dict
    from noisesparse.plan.registry import build_plan
    repo = Path(__file__).resolve().parents[1]
    plan = build_plan("smoke")
    reads = plan.figures["F18"]["inputs"]
    # claim 6 reads F10's fitted fields, claims 10a and 10b F19's and F20's tables
    assert set(reads) == {"results/tables/F10.csv", "results/tables/F10_fields.csv",
                          "results/tables/F19.csv", "results/tables/F19_runs.csv",
                          "results/tables/F20.csv", "results/tables/F20_synthetic.csv"}
    assert set(reads) <= set(plan.figures["F10"]["outputs"] + plan.figures["F19"]["outputs"]
                             + plan.figures["F20"]["outputs"])
    assert set(reads) <= set(dvc_yaml_dict("smoke")["stages"]["figure_F18"]["deps"])
    # A figure that reads an unknown figure is a clear error.
    shutil.copytree(repo / "config", tmp_path / "config")
    path = tmp_path / "config/studies.yaml"
    path.write_text(path.read_text().replace("reads: [F10, F19, F20]", "reads: [F10, F19, F99]"))
    monkeypatch.setenv("NOISESPARSE_ROOT", str(tmp_path))
    with pytest.raises(ConfigError, match="F99"):
        build_plan("smoke")
