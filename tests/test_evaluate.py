"""evaluate() and activity_sums() on a hand-set network: both dead-neuron definitions, the
living-neuron spread, and sparsity at x + E[noise] for non-zero-mean noise."""

import pytest
import torch

from noisesparse.training.config import make_run_config
from noisesparse.training.train import activity_sums, evaluate
from noisesparse.training.model import SparseNet


def _net(b1, noise="gaussian", width=2):
    cfg = make_run_config({"dataset": "natural_grey6", "width": width, "noise": noise})
    net = SparseNet([cfg], 1, 1)
    with torch.no_grad():
        net.w1.copy_(torch.ones(1, width, 1))   # every unit sees x (+ noise) with weight 1
        net.b1.copy_(torch.tensor([b1]))
    return net


def test_a_unit_firing_only_on_noise_is_living_for_the_paper_and_silent_on_clean():
    # Clean inputs are all 0. Unit 0 (bias +1) always fires; unit 1 (bias -0.5) never fires
    # on clean data, but Gaussian noise of sigma 1 exceeds 0.5 about 31% of the time.
    net = _net([1.0, -0.5])
    x = torch.zeros(400, 1)
    sigma = torch.tensor([1.0])
    noisy = activity_sums(net, x, 1e-4, "gaussian", sigma, [0])
    clean = activity_sums(net, x, 1e-4)
    assert clean[0, 0] == pytest.approx(400.0) and clean[0, 1] == 0
    assert noisy[0, 1] > 0
    ev = evaluate(net, x, None, sigma, "gaussian", [0], 1e-4)
    assert ev["frac_dead"].item() == 0.0            # the paper's: nothing dead
    assert ev["frac_silent_clean"].item() == 0.5    # ours: unit 1 silent on clean data
    # on the clean held-out inputs unit 0 is always active and unit 1 never
    assert ev["frac_active_clean"].item() == pytest.approx(0.5)
    assert ev["frac_active_living"].item() == pytest.approx(0.5)     # both living
    assert ev["frac_active_nonsilent"].item() == pytest.approx(1.0)  # unit 0 alone
    # per-neuron pre-activations on clean inputs: means 1 and -0.5, std 0; the lower median
    # of two neurons is -0.5, half the neurons have a negative mean
    assert ev["pre_neuron_mean_median"].item() == pytest.approx(-0.5)
    assert ev["pre_neuron_std_median"].item() == pytest.approx(0.0)
    assert ev["pre_neuron_frac_negative"].item() == pytest.approx(0.5)
    # on noisy inputs each neuron's pre-activation is its bias plus N(0, 1): means 1 and
    # -0.5, stds 1 (400 draws: within about 0.1)
    assert ev["pre_neuron_mean_median_noisy"].item() == pytest.approx(-0.5, abs=0.15)
    assert ev["pre_neuron_std_median_noisy"].item() == pytest.approx(1.0, abs=0.12)
    # living spread: biases 1 and -0.5 (std 0.75), norms both 1 (CV 0)
    assert ev["bias_std_living"].item() == pytest.approx(0.75)
    assert ev["wnorm_cv_living"].item() == pytest.approx(0.0)
    assert "frac_active_shifted" not in ev  # zero-mean noise: x + E[noise] is x


def test_non_zero_mean_noise_is_also_measured_at_the_shifted_input():
    # Exponential noise of mean 2 shifts inputs by +2: unit 1 (bias -1) is silent on clean
    # inputs (0 - 1 < 0) and active at x + E[noise] (2 - 1 > 0); unit 0 (bias -3) is off at
    # both (0 - 3, 2 - 3) but fires on noisy inputs whenever the noise exceeds 3.
    net = _net([-3.0, -1.0], noise="exponential")
    x = torch.zeros(300, 1)
    ev = evaluate(net, x, None, torch.tensor([2.0]), "exponential", [0], 1e-4)
    assert ev["frac_active_clean"].item() == 0.0
    assert ev["frac_active_shifted"].item() == pytest.approx(0.5)
    # on noisy inputs unit 1 fires when the noise exceeds 1 (P = e^-0.5 = 0.607), unit 0
    # when it exceeds 3 (e^-1.5 = 0.223): (0.607 + 0.223) / 2 = 0.415 expected of 300 draws
    assert ev["frac_active_noisy"].item() == pytest.approx(0.415, abs=0.06)
    assert ev["frac_silent_clean"].item() == 1.0
    assert ev["frac_dead"].item() == 0.0
    # GELU units are dead when never |a| > threshold: a bias of -50 keeps unit 0 there
    g = make_run_config({"dataset": "natural_grey6", "width": 2, "activation": "gelu"})
    net = SparseNet([g], 1, 1)
    with torch.no_grad():
        net.w1.copy_(torch.ones(1, 2, 1))
        net.b1.copy_(torch.tensor([[-50.0, 0.0]]))
    ev = evaluate(net, torch.ones(10, 1), None, torch.tensor([0.0]), "gaussian", [0], 1e-4)
    assert ev["frac_dead"].item() == 0.5 and ev["frac_silent_clean"].item() == 0.5
