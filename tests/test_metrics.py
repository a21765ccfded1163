"""The metric functions of noisesparse.measures.metrics on small hand-built tensors.

Every expected value below is worked out by hand in the comments next to it.
"""

import math

import pytest
import torch

from noisesparse.measures import metrics as M

T, F = True, False


def close(actual, expected, tol=1e-6):
    expected = torch.as_tensor(expected, dtype=torch.float32)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    assert torch.allclose(actual.float(), expected, atol=tol, rtol=0, equal_nan=True), \
        (actual, expected)


# a [B=2, N=3]: ReLU units count as active where a > 0 (exact zeros are silent).
A = torch.tensor([[1.0, 0.0, -2.0],
                  [0.5, 3.0, 0.0]])
A_ACTIVE = torch.tensor([[T, F, F],
                         [T, T, F]])


def test_active_mask_relu_counts_positive_units():
    assert torch.equal(M.active_mask(A), A_ACTIVE)
    assert torch.equal(M.active_mask(A, "relu"), A_ACTIVE)
    # tiny positive values are still active for ReLU: no threshold is applied
    assert torch.equal(M.active_mask(torch.tensor([1e-9, 0.0, -1e-9]), "relu"),
                       torch.tensor([T, F, F]))


def test_active_mask_non_relu_uses_absolute_threshold():
    a = torch.tensor([[1e-5, -0.5, 0.0],
                      [2e-4, -1e-5, 1.0]])
    # |a| > 1e-4 (the default threshold)
    assert torch.equal(M.active_mask(a, "tanh"), torch.tensor([[F, T, F], [T, F, T]]))
    # a larger threshold switches off the 2e-4 and the -0.5 units
    assert torch.equal(M.active_mask(a, "gelu", threshold=0.6),
                       torch.tensor([[F, F, F], [F, F, T]]))


def test_fraction_active_single_and_ensemble():
    close(M.fraction_active(A_ACTIVE), 3 / 6)
    # a leading member dimension K = 2: one value per member
    ens = torch.stack([A_ACTIVE, torch.tensor([[T, T, T], [F, F, T]])])
    close(M.fraction_active(ens), [3 / 6, 4 / 6])


def test_activity_sum_relu_sums_and_others_count_as_the_authors_did():
    # ReLU clamps the -2 to 0: columns sum to 1 + 0.5, 0 + 3, 0 + 0
    close(M.activity_sum(A), [1.5, 3.0, 0.0])
    # other activations count the inputs with |a| > threshold (1e-4): 2, 1, 1 (the -2 counts)
    close(M.activity_sum(A, "tanh"), [2.0, 1.0, 1.0])
    close(M.activity_sum(A, "gelu", threshold=0.7), [1.0, 1.0, 1.0])
    ens = torch.stack([A, -A])  # [2, 2, 3]
    close(M.activity_sum(ens), [[1.5, 3.0, 0.0], [0.0, 0.0, 2.0]])


def test_dead_mask_and_fraction_dead():
    assert M.DEAD_THRESHOLD == 1e-5
    summed = torch.tensor([1.5, 3.0, 0.0, 5e-6, 2e-5])
    dead = M.dead_mask(summed)
    assert torch.equal(dead, torch.tensor([F, F, T, T, F]))
    close(M.fraction_dead(dead), 2 / 5)
    # a custom threshold
    assert torch.equal(M.dead_mask(summed, threshold=2.0), torch.tensor([T, F, T, T, T]))
    ens = torch.tensor([[T, F, F, F], [T, T, T, F]])
    close(M.fraction_dead(ens), [0.25, 0.75])


def test_a_unit_that_fires_only_on_noise_is_living_for_the_paper_and_silent_on_clean():
    # Three training inputs, two ReLU units. Unit 0 fires on clean and noisy inputs; unit 1
    # is 0 on every clean input but fires (0.2) on one noisy input.
    clean = torch.tensor([[0.4, 0.0],
                          [0.1, 0.0],
                          [0.0, 0.0]])
    noisy = torch.tensor([[0.3, 0.0],
                          [0.0, 0.2],
                          [0.2, 0.0]])
    dead_paper = M.dead_mask(M.activity_sum(noisy))  # sums 0.5, 0.2: neither is dead
    silent_ours = M.dead_mask(M.activity_sum(clean))  # sums 0.5, 0.0: unit 1 is silent
    assert torch.equal(dead_paper, torch.tensor([F, F]))
    assert torch.equal(silent_ours, torch.tensor([F, T]))
    close(M.fraction_dead(dead_paper), 0.0)
    close(M.fraction_dead(silent_ours), 0.5)
    # Fraction active on the clean inputs among the living: unit 0 is active 2 times of 3.
    counts = M.neuron_active_counts(M.active_mask(clean))  # [2, 0]
    close(M.fraction_active_living(counts, 3, dead_paper), 2 / 6)  # both units living
    close(M.fraction_active_living(counts, 3, silent_ours), 2 / 3)  # unit 0 alone


def test_a_gelu_unit_is_dead_when_never_above_the_threshold():
    # GELU never outputs exactly 0; the authors count a unit dead when |a| never exceeds the
    # threshold. Unit 0 stays within 1e-4 of 0 on every input; unit 1 exceeds it once.
    a = torch.tensor([[-5e-5, -0.17],
                      [8e-5, 2e-5],
                      [-1e-4, -3e-5]])  # -1e-4 is not > 1e-4
    summed = M.activity_sum(a, "gelu", 1e-4)
    close(summed, [0.0, 1.0])
    assert torch.equal(M.dead_mask(summed), torch.tensor([T, F]))
    # with the 0.01 threshold of one of their runs, unit 1 is dead too
    assert torch.equal(M.dead_mask(M.activity_sum(a, "gelu", 0.2)), torch.tensor([T, T]))


def test_neuron_active_counts():
    close(M.neuron_active_counts(A_ACTIVE), [2.0, 1.0, 0.0])
    ens = torch.stack([A_ACTIVE, ~A_ACTIVE])
    close(M.neuron_active_counts(ens), [[2.0, 1.0, 0.0], [0.0, 1.0, 2.0]])


def test_fraction_active_living_ignores_dead_neurons():
    counts = torch.tensor([2.0, 1.0, 0.0])
    dead = torch.tensor([F, F, T])
    # living neurons 0 and 1 are active (2 + 1) times out of 2 inputs x 2 living neurons
    close(M.fraction_active_living(counts, 2, dead), 0.75)
    # nothing dead: 3 / (2 * 3)
    close(M.fraction_active_living(counts, 2, torch.tensor([F, F, F])), 0.5)
    # all dead: NaN
    assert torch.isnan(M.fraction_active_living(counts, 2, torch.tensor([T, T, T])))
    # ensemble [K=2, N=3]
    out = M.fraction_active_living(torch.tensor([[2.0, 1.0, 0.0], [4.0, 4.0, 0.0]]), 4,
                                   torch.tensor([[F, F, T], [F, T, F]]))
    close(out, [3 / 8, 4 / 8])


def test_bias_stats():
    b = torch.tensor([-1.0, 0.0, 2.0, 3.0])
    s = M.bias_stats(b)
    assert set(s) == {"bias_mean", "bias_std", "bias_frac_negative"}
    close(s["bias_mean"], 1.0)
    # population std: deviations -2, -1, 1, 2 -> variance 10 / 4
    close(s["bias_std"], math.sqrt(2.5))
    close(s["bias_frac_negative"], 0.25)  # 0 is not negative
    ens = M.bias_stats(torch.tensor([[-1.0, -3.0], [2.0, 2.0]]))
    close(ens["bias_mean"], [-2.0, 2.0])
    close(ens["bias_std"], [1.0, 0.0])
    close(ens["bias_frac_negative"], [1.0, 0.0])


def test_weight_norm_stats():
    w = torch.tensor([[3.0, 4.0],   # norm 5
                      [0.0, 1.0]])  # norm 1
    s = M.weight_norm_stats(w)
    close(s["wnorm_mean"], 3.0)
    close(s["wnorm_cv"], 2.0 / 3.0)  # population std 2 over mean 3
    ens = M.weight_norm_stats(torch.stack([w, 2 * torch.eye(2)]))  # second: norms 2, 2
    close(ens["wnorm_mean"], [3.0, 2.0])
    close(ens["wnorm_cv"], [2.0 / 3.0, 0.0])


def test_living_spread_ignores_dead_neurons():
    b = torch.tensor([-1.0, -3.0, 7.0])
    w = torch.tensor([[3.0, 4.0],    # norm 5
                      [0.0, 1.0],    # norm 1
                      [9.0, 9.0]])   # dead: left out
    s = M.living_spread(b, w, torch.tensor([T, T, F]))
    close(s["bias_mean_living"], -2.0)
    close(s["bias_std_living"], 1.0)  # deviations +1, -1
    close(s["wnorm_mean_living"], 3.0)
    close(s["wnorm_cv_living"], 2.0 / 3.0)  # std 2 over mean 3
    # ensemble: the second member has one living neuron (spread 0) ...
    ens = M.living_spread(torch.stack([b, b]), torch.stack([w, w]),
                          torch.tensor([[T, T, T], [F, T, F]]))
    close(ens["bias_mean_living"], [1.0, -3.0])
    close(ens["bias_std_living"], [math.sqrt(((-2) ** 2 + (-4) ** 2 + 6 ** 2) / 3), 0.0])
    # ... and none living gives NaN
    assert torch.isnan(M.living_spread(b, w, torch.tensor([F, F, F]))["bias_std_living"])


def test_sign_flips():
    wx = torch.tensor([[1.0, -1.0, 2.0, -2.0],
                       [3.0, -3.0, 0.0, 0.5]])
    pre = torch.tensor([[-0.5, 0.5, 1.0, -1.0],
                        [2.0, -2.0, 0.1, 0.4]])
    # W x > 0 at (0,0), (0,2), (1,0), (1,3): of these only (0,0) is turned off -> 1/4.
    # W x <= 0 at (0,1), (0,3), (1,1), (1,2): (0,1) and (1,2) are turned on -> 2/4.
    s = M.sign_flips(wx, pre)
    close(s["flip_off"], 0.25)
    close(s["flip_on"], 0.5)
    # no bias (pre == wx): nothing flips
    s0 = M.sign_flips(torch.stack([wx, wx]), torch.stack([pre, wx]))
    close(s0["flip_off"], [0.25, 0.0])
    close(s0["flip_on"], [0.5, 0.0])


def test_preactivation_stats():
    pre = torch.tensor([[1.0, 2.0], [3.0, 6.0]])
    s = M.preactivation_stats(pre)
    close(s["pre_mean"], 3.0)
    # deviations -2, -1, 0, 3 -> population variance 14 / 4
    close(s["pre_std"], math.sqrt(3.5))
    ens = M.preactivation_stats(torch.stack([pre, -pre]))
    close(ens["pre_mean"], [3.0, -3.0])
    close(ens["pre_std"], [math.sqrt(3.5)] * 2)


def test_per_neuron_preactivation_summary():
    # 2 inputs, 3 neurons: each neuron's own mean and std over the inputs.
    pre = torch.tensor([[1.0, -2.0, -5.0],
                        [3.0, 0.0, -1.0]])
    # means 2, -1, -3; stds 1, 1, 2 -> median neuron: mean -1, std 1; negative means 2 of 3
    s1, s2 = M.neuron_moments(pre)
    close(s1, [4.0, -2.0, -6.0])
    close(s2, [10.0, 4.0, 26.0])
    s = M.neuron_preactivation_summary(s1, s2, 2)
    close(s["pre_neuron_mean_median"], -1.0)
    close(s["pre_neuron_std_median"], 1.0)
    close(s["pre_neuron_frac_negative"], 2 / 3)
    # moments add over chunks: two chunks of one input give the same
    a1, a2 = M.neuron_moments(pre[:1])
    b1, b2 = M.neuron_moments(pre[1:])
    close(M.neuron_preactivation_summary(a1 + b1, a2 + b2, 2)["pre_neuron_std_median"], 1.0)
    # pooled over neurons the same numbers have mean -4/6 and a far larger std: per neuron
    # is not pooled
    close(M.preactivation_stats(pre)["pre_mean"], -4 / 6)
    # ensemble [K=2, B=2, N=3]: the second member's neurons all shift by -10
    ens = M.neuron_preactivation_summary(*M.neuron_moments(torch.stack([pre, pre - 10])), 2)
    close(ens["pre_neuron_mean_median"], [-1.0, -11.0])
    close(ens["pre_neuron_frac_negative"], [2 / 3, 1.0])


def test_expected_noise_is_the_shift_of_non_zero_mean_noise():
    from noisesparse.training import noise as N
    # the mean of each noise at sigma 1.5: exponential's is sigma, Poisson's its rate sigma
    for kind, mean in {"gaussian": 0.0, "laplace": 0.0, "exponential": 1.5,
                       "poisson": 1.5}.items():
        assert N.expected_value(kind, 1.5) == mean
    close(N.expected_value("poisson", torch.tensor([0.0, 3.0])), [0.0, 3.0])
    close(N.expected_value("laplace", torch.tensor([0.5, 3.0])), [0.0, 0.0])


def test_topk_agreement():
    drive = torch.tensor([[4.0, 3.0, 2.0, 1.0]])
    # the two most driven units fire: agreement 1
    close(M.topk_agreement(drive, torch.tensor([[T, T, F, F]])), 1.0)
    # units 0 and 2 fire; the top-2 are 0 and 1: overlap 1 of k = 2
    close(M.topk_agreement(drive, torch.tensor([[T, F, T, F]])), 0.5)
    # the drive order need not be sorted: largest drives are units 3 and 1
    close(M.topk_agreement(torch.tensor([[0.1, 5.0, -1.0, 9.0]]),
                           torch.tensor([[F, T, F, T]])), 1.0)
    close(M.topk_agreement(torch.tensor([[0.1, 5.0, -1.0, 9.0]]),
                           torch.tensor([[T, F, T, F]])), 0.0)
    # per input, then averaged; an input with no active unit is skipped
    drive3 = drive.expand(3, 4)
    active3 = torch.tensor([[T, T, F, F], [T, F, T, F], [F, F, F, F]])
    close(M.topk_agreement(drive3, active3), 0.75)
    # nothing active anywhere: NaN
    assert torch.isnan(M.topk_agreement(drive, torch.tensor([[F, F, F, F]])))
    # ensemble [K=2, B=1, N=4]
    close(M.topk_agreement(torch.stack([drive, drive]),
                           torch.stack([torch.tensor([[T, T, F, F]]),
                                        torch.tensor([[T, F, T, F]])])), [1.0, 0.5])


def test_encoder_decoder_cosine():
    w_enc = torch.tensor([[1.0, 0.0],   # neuron 0
                          [1.0, 1.0],   # neuron 1
                          [0.0, 2.0]])  # neuron 2          [N=3, D=2]
    w_dec = torch.tensor([[1.0, -1.0, 0.0],
                          [0.0, 1.0, -3.0]])  # columns [1,0], [-1,1], [0,-3]  [D=2, N=3]
    close(M.encoder_decoder_cosine(w_enc, w_dec), [1.0, 0.0, -1.0])
    # scale-invariant, batched over members
    out = M.encoder_decoder_cosine(torch.stack([w_enc, 5 * w_enc]),
                                   torch.stack([w_dec, -w_dec]))
    close(out, [[1.0, 0.0, -1.0], [-1.0, 0.0, 1.0]])


def test_mse_per_sample_mean_then_batch_mean():
    y = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    x = torch.tensor([[1.0, 0.0], [0.0, 4.0]])
    # per sample: (0 + 4) / 2 = 2 and (9 + 0) / 2 = 4.5; mean 3.25
    close(M.mse(y, x), 3.25)
    close(M.mse(torch.stack([y, x]), torch.stack([x, x])), [3.25, 0.0])


def test_error_and_energy_give_a_scale_free_relative_error():
    y = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    x = torch.tensor([[1.0, 0.0], [0.0, 4.0]])
    err, energy = M.error_and_energy(y, x)
    close(err, 4.0 + 9.0)
    close(energy, 1.0 + 16.0)
    # per member on a stacked batch; predicting zeros gives a ratio of exactly 1,
    # and scaling prediction and target together leaves the ratio unchanged
    err, energy = M.error_and_energy(torch.stack([torch.zeros_like(x), 10 * y]),
                                     torch.stack([x, 10 * x]))
    close(err / energy, [1.0, 13.0 / 17.0])


def test_cross_entropy_matches_torch():
    # uniform logits over 4 classes: log 4
    close(M.cross_entropy(torch.zeros(3, 4), torch.tensor([0, 1, 3])), math.log(4))
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 3, generator=g)  # [K=2, B=5, C=3]
    labels = torch.tensor([0, 2, 1, 1, 0])
    out = M.cross_entropy(logits, labels)  # labels [B] shared by both members
    expected = torch.stack([torch.nn.functional.cross_entropy(logits[k], labels)
                            for k in range(2)])
    close(out, expected, tol=1e-5)
    # per-member labels [K, B]
    labels2 = torch.tensor([[0, 2, 1, 1, 0], [2, 2, 0, 1, 1]])
    expected2 = torch.stack([torch.nn.functional.cross_entropy(logits[k], labels2[k])
                             for k in range(2)])
    close(M.cross_entropy(logits, labels2), expected2, tol=1e-5)


def test_accuracy():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])  # argmax 0, 1, 0
    close(M.accuracy(logits, torch.tensor([0, 0, 0])), 2 / 3)
    close(M.accuracy(logits, torch.tensor([0, 1, 0])), 1.0)
    ens = torch.stack([logits, -logits])  # second member: argmax 1, 0, 1
    close(M.accuracy(ens, torch.tensor([0, 1, 0])), [1.0, 0.0])


def test_same_setting_as_the_paper_needs_the_paper_profile_and_as_many_epochs():
    from noisesparse.claims.replication import same_setting
    assert same_setting("paper", 800.0, 800)
    assert not same_setting("paper", 800.0, 2800)          # the reference trained longer
    assert not same_setting("paper", 800.0, [800, 1000])   # it may have trained 1,000
    assert same_setting("paper", 1000.0, [800, 1000])
    assert not same_setting("paper", 5000.0, None)         # not stated: never the same
    assert not same_setting("quick", 5000.0, 800)          # stand-in data
    assert not same_setting("paper", float("nan"), 800)    # no runs of ours


def test_the_paper_epoch_keeps_the_partial_batch():
    from noisesparse.training.train import paper_epoch_steps
    assert paper_epoch_steps(50_000, 1024) == 49   # the paper's 49 steps per epoch
    assert paper_epoch_steps(2048, 128) == 16      # no partial batch
    assert paper_epoch_steps(2049, 128) == 17


def test_zero_predictor_losses():
    # outputs of zeros score the mean of each input's mean square: members [K=2, B=2, D=2]
    # (1 + 1) / 2 = 1, (4 + 0) / 2 = 2 -> 1.5; and 0, (9 + 9) / 2 = 9 -> 4.5
    t = torch.tensor([[[1.0, -1.0], [2.0, 0.0]], [[0.0, 0.0], [3.0, -3.0]]])
    close(M.zero_output_mse(t), [1.5, 4.5])
    # all-zero logits: every class has probability 1/C, the loss is log C for any labels
    close(M.zero_logits_cross_entropy(torch.tensor([0, 1, 9]), 10), math.log(10))
    with pytest.raises(ValueError, match="2 classes"):
        M.zero_logits_cross_entropy(torch.tensor([0]), 1)


def test_topk_agreement_corrected_for_chance():
    drive = torch.tensor([[4.0, 3.0, 2.0, 1.0]])
    # the top two fire: a = 1, chance k/N = 0.5 -> (1 - 0.5) / 0.5 = 1
    close(M.topk_agreement_corrected(drive, torch.tensor([[T, T, F, F]])), 1.0)
    # units 0 and 2: a = 0.5 = chance -> 0
    close(M.topk_agreement_corrected(drive, torch.tensor([[T, F, T, F]])), 0.0)
    # the two least driven: a = 0 -> (0 - 0.5) / 0.5 = -1
    close(M.topk_agreement_corrected(drive, torch.tensor([[F, F, T, T]])), -1.0)
    # k = 1 of 4 and the wrong unit: a = 0, chance 0.25 -> -1/3; the right one: 1
    close(M.topk_agreement_corrected(drive, torch.tensor([[F, T, F, F]])), -1 / 3)
    close(M.topk_agreement_corrected(drive, torch.tensor([[T, F, F, F]])), 1.0)
    # k = 3 of 4 with units 0, 1, 3: a = 2/3, chance 0.75 -> (2/3 - 3/4) / (1/4) = -1/3
    close(M.topk_agreement_corrected(drive, torch.tensor([[T, T, F, T]])), -1 / 3)
    # inputs with none or all active are skipped; the rest averaged: (1 + 0) / 2
    active = torch.tensor([[T, T, F, F], [T, F, T, F], [F, F, F, F], [T, T, T, T]])
    close(M.topk_agreement_corrected(drive.expand(4, 4), active), 0.5)
    assert torch.isnan(M.topk_agreement_corrected(drive, torch.tensor([[T, T, T, T]])))


def test_drive_spread_is_the_std_across_units_mean_over_inputs():
    # input 1: 1, 3 -> std 1; input 2: 0, 0, -> 0; mean 0.5
    close(M.drive_spread(torch.tensor([[1.0, 3.0], [0.0, 0.0]])), 0.5)
    # ensemble [K=2, B=1, N=2]: std 1 and 2
    close(M.drive_spread(torch.tensor([[[1.0, 3.0]], [[0.0, 4.0]]])), [1.0, 2.0])


def test_lifetime_sparsity_tells_sparse_coding_from_dead_units():
    # 4 inputs. Every unit fires on 1 of 4 inputs: share 0.25 each, spread 0.
    even = M.lifetime_sparsity(torch.tensor([1.0, 1.0, 1.0, 1.0]), 4)
    close(even["lifetime_share_std"], 0.0)
    close(even["lifetime_dispersion"], 0.0)
    # The same mean share 0.25 from one always-on unit and three dead ones: std
    # sqrt(0.25 * 0.75) = 0.4330, its largest possible: dispersion 1.
    dead = M.lifetime_sparsity(torch.tensor([4.0, 0.0, 0.0, 0.0]), 4)
    close(dead["lifetime_share_std"], math.sqrt(0.25 * 0.75))
    close(dead["lifetime_dispersion"], 1.0)
    # shares 0.5, 0, 0.5, 0: mean 0.25, std 0.25 -> 0.25 / 0.4330 = 0.5774
    half = M.lifetime_sparsity(torch.tensor([2.0, 0.0, 2.0, 0.0]), 4)
    close(half["lifetime_dispersion"], 0.25 / math.sqrt(0.25 * 0.75))
    # nothing fires: no sparsity to explain
    assert torch.isnan(M.lifetime_sparsity(torch.zeros(3), 4)["lifetime_dispersion"])
    # ensemble [K=2, N=4]
    close(M.lifetime_sparsity(torch.tensor([[1.0, 1, 1, 1], [4.0, 0, 0, 0]]), 4)
          ["lifetime_dispersion"], [0.0, 1.0])
