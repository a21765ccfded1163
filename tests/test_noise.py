"""Input noise (noisesparse.training.noise): distributions, seeding, validation, the sigma schedule."""

import math

import pytest
import torch

from noisesparse.training import noise as N
from noisesparse.errors import ConfigError

KINDS = ("gaussian", "laplace", "exponential", "poisson")
SIGMA = 1.5
SHAPE = (200_000,)


def noise_mean_std(kind: str, sigma: float) -> tuple[float, float]:
    """The reference: analytic mean and standard deviation of one noise coordinate."""
    return {"gaussian": (0.0, sigma), "laplace": (0.0, sigma * math.sqrt(2.0)),
            "exponential": (sigma, sigma), "poisson": (sigma, math.sqrt(sigma))}[kind]


@pytest.mark.parametrize("kind", KINDS)
def test_sample_moments_match_analytic(kind):
    g = torch.Generator().manual_seed(123)
    x = N.sample(kind, SIGMA, SHAPE, generator=g)
    assert x.shape == SHAPE and x.dtype == torch.float32
    mean, std = noise_mean_std(kind, SIGMA)
    # standard error of the mean is std / sqrt(2e5) ~ 0.003; allow ~10 of them
    assert x.mean().item() == pytest.approx(mean, abs=0.03)
    assert x.std().item() == pytest.approx(std, rel=0.02)


@pytest.mark.parametrize("kind", KINDS)
def test_sample_accepts_zero_dim_tensor_sigma(kind):
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    a = N.sample(kind, SIGMA, (1000,), generator=g1)
    b = N.sample(kind, torch.tensor(SIGMA), (1000,), generator=g2)
    assert torch.equal(a, b)


def test_sample_support():
    g = torch.Generator().manual_seed(0)
    assert (N.sample("exponential", SIGMA, (10_000,), g) >= 0).all()
    p = N.sample("poisson", SIGMA, (10_000,), g)
    assert (p >= 0).all() and torch.equal(p, p.round())  # non-negative integers
    assert (N.sample("gaussian", SIGMA, (10_000,), g) < 0).any()
    assert (N.sample("laplace", SIGMA, (10_000,), g) < 0).any()


def test_is_zero_mean():
    assert N.is_zero_mean("gaussian") is True
    assert N.is_zero_mean("laplace") is True
    assert N.is_zero_mean("exponential") is False
    assert N.is_zero_mean("poisson") is False


@pytest.mark.parametrize("kind", KINDS)
def test_sigma_zero_gives_zeros(kind):
    x = N.sample(kind, 0.0, (3, 50), generator=torch.Generator().manual_seed(1))
    assert x.shape == (3, 50)
    assert torch.equal(x, torch.zeros(3, 50))


@pytest.mark.parametrize("kind", KINDS)
def test_negative_sigma_raises(kind):
    with pytest.raises(ConfigError, match="sigma"):
        N.sample(kind, -0.1, (10,))
    with pytest.raises(ConfigError, match="sigma"):
        N.sample(kind, torch.tensor(-0.1), (10,))


def test_unknown_kind_raises():
    for call in (lambda: N.sample("uniform", 1.0, (10,)),
                 lambda: N.is_zero_mean("uniform")):
        with pytest.raises(ConfigError, match="uniform"):
            call()


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_samples(kind):
    a = N.sample(kind, SIGMA, (4, 7), generator=torch.Generator().manual_seed(42))
    b = N.sample(kind, SIGMA, (4, 7), generator=torch.Generator().manual_seed(42))
    c = N.sample(kind, SIGMA, (4, 7), generator=torch.Generator().manual_seed(43))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    # a generator advances: two draws from one generator differ
    g = torch.Generator().manual_seed(42)
    assert not torch.equal(N.sample(kind, SIGMA, (4, 7), g), N.sample(kind, SIGMA, (4, 7), g))


def test_sigma_at_constant():
    for step in (0, 10, 99, 100):
        assert N.sigma_at(step, 100, 0.7, "constant", 0.0, 0.5, 1.0) == 0.7


def test_sigma_at_linear():
    f = lambda step: N.sigma_at(step, 100, 2.0, "linear", 0.0, 0.5, 0.9)  # noqa: E731
    # held at sigma until 50, linear to 0 at 90, then 0
    assert f(0) == 2.0
    assert f(30) == 2.0
    assert f(50) == 2.0
    assert f(60) == pytest.approx(1.5)
    assert f(70) == pytest.approx(1.0)
    assert f(80) == pytest.approx(0.5)
    assert f(90) == 0.0
    assert f(99) == 0.0
    # ramping up works the same way
    assert N.sigma_at(75, 100, 0.0, "linear", 1.0, 0.5, 1.0) == pytest.approx(0.5)
    # a zero-length ramp jumps straight after ramp_start
    assert N.sigma_at(50, 100, 2.0, "linear", 0.3, 0.5, 0.5) == 2.0
    assert N.sigma_at(51, 100, 2.0, "linear", 0.3, 0.5, 0.5) == 0.3


def test_sigma_at_linear_on_member_tensors():
    s0, s1 = torch.tensor([2.0, 4.0]), torch.tensor([0.0, 1.0])
    mid = N.sigma_at(70, 100, s0, "linear", s1, 0.5, 0.9)
    assert torch.allclose(mid, torch.tensor([1.0, 2.5]))
    assert torch.equal(N.sigma_at(10, 100, s0, "linear", s1, 0.5, 0.9), s0)
    assert torch.equal(N.sigma_at(95, 100, s0, "linear", s1, 0.5, 0.9), s1)


def test_sigma_at_unknown_schedule_raises():
    with pytest.raises(ConfigError, match="cosine"):
        N.sigma_at(0, 100, 1.0, "cosine", 0.0, 0.5, 1.0)
