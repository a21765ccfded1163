"""Batched-ensemble training (noisesparse.training.train, model, optim): a member of an ensemble
trains exactly as it would alone, resume from a checkpoint equals an uninterrupted run, a
diverged member is recorded without stopping the others, and the ensemble optimiser is
torch.optim's Adam and SGD."""

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from noisesparse.training.config import make_run_config
from noisesparse.data import build, load
from noisesparse.errors import ConfigError
from noisesparse.training.model import batched_linear
from noisesparse.training.optim import EnsembleOptimizer, clip_coefs, grad_norms
from noisesparse.runs.results import judgement
from noisesparse.training.train import (GroupTrainer, check_group, member_bytes, members_per_pass,
                               train_group)

from _host_syncs import HostSyncs

REPO = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")
SMALL = {"dataset": "natural_grey6", "width": 16, "steps": 20, "batch_size": 32,
         "log_every": 10, "eval_size": 64, "lr": 3e-3}
PARAMS = ("encoder.weight", "encoder.bias", "decoder.weight", "decoder.bias")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:  # the project's catalog, whatever the cwd
        mp.setenv("NOISESPARSE_ROOT", str(REPO))
        path = build("natural_grey6", out=str(tmp_path_factory.mktemp("data") / "d.pt"))
    d = load("natural_grey6", path=path)
    assert d["x_train"].shape == (2048, 36) and d["y_train"] is None
    return d


def cfg(**kw):
    return make_run_config({**SMALL, **kw})


def trainer(configs, data):
    return GroupTrainer(configs, data, CPU, precision="fp32")


def assert_same_params(a: dict, b: dict, atol=1e-5):
    assert set(a) == set(b) == set(PARAMS)
    for name in PARAMS:
        assert a[name].shape == b[name].shape, name
        err = (a[name] - b[name]).abs().max().item()
        assert err <= atol, f"{name}: max difference {err}"


# ------------------------------------------------------------------------- (a) ensemble


def test_ensemble_members_train_as_alone(data):
    c1, c2 = cfg(sigma=0.2, seed=0), cfg(sigma=0.5, seed=3)
    ens = trainer([c1, c2], data)
    ens.fit(progress=False)
    assert ens.step == 20
    alone = []
    for c in (c1, c2):
        t = trainer([c], data)
        t.fit(progress=False)
        alone.append(t)
    for k in range(2):
        assert_same_params(ens.model.member_state(k), alone[k].model.member_state(0))
    # the two members really are different runs, and training moved them from the init
    assert not torch.allclose(ens.model.member_state(0)["encoder.weight"],
                              ens.model.member_state(1)["encoder.weight"], atol=1e-3)
    init = trainer([c1], data).model.member_state(0)
    assert (init["encoder.weight"] - ens.model.member_state(0)["encoder.weight"]).abs().max() > 1e-3
    # the logged metric history of each member matches its lone run too
    assert len(ens.history) == 3  # steps 0, 10, 20
    for k in range(2):
        for row_e, row_a in zip(ens.history, alone[k].history):
            assert row_e["step"][k] == row_a["step"][0]
            assert row_e["sigma"][k] == pytest.approx(row_a["sigma"][0])
            assert row_e["loss_clean"][k] == pytest.approx(row_a["loss_clean"][0], rel=1e-4)
            assert row_e["frac_active_clean"][k] == pytest.approx(
                row_a["frac_active_clean"][0], abs=1e-6)


@pytest.mark.parametrize("bias_units", [5, 1], ids=["per-unit bias", "shared bias"])
def test_batched_linear_gradients_match_autograd_in_the_weights_layout(bias_units):
    g = torch.Generator().manual_seed(7)
    make = lambda *shape: torch.randn(*shape, dtype=torch.float64, generator=g,  # noqa: E731
                                      requires_grad=True)
    x, w, b = make(3, 4, 6), make(3, 5, 6), make(3, bias_units)
    assert torch.autograd.gradcheck(batched_linear, (x, w, b))
    y = batched_linear(x, w, b)
    gy = torch.randn(y.shape, dtype=torch.float64, generator=g)
    y.backward(gy)
    ref = [t.detach().clone().requires_grad_() for t in (x, w, b)]
    y_ref = torch.baddbmm(ref[2].unsqueeze(1), ref[0], ref[1].transpose(1, 2))
    y_ref.backward(gy)
    assert torch.allclose(y, y_ref)
    for t, r in zip((x, w, b), ref):
        assert torch.allclose(t.grad, r.grad)
    assert w.grad.is_contiguous()  # no copy into the weights' layout needed


def test_batched_linear_under_bf16_autocast_matches_autograd():
    g = torch.Generator().manual_seed(8)
    x = torch.randn(2, 4, 6, generator=g)
    w, b = torch.randn(2, 5, 6, generator=g), torch.randn(2, 5, generator=g)
    grads = []
    for fn in (batched_linear,
               lambda x, w, b: torch.baddbmm(b.unsqueeze(1), x, w.transpose(1, 2))):
        wr, br = w.clone().requires_grad_(), b.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = fn(x, wr, br)
        assert y.dtype == torch.bfloat16
        y.float().square().sum().backward()
        grads.append((wr.grad, br.grad))
    for a, r in zip(*grads):
        assert a.dtype == torch.float32 and torch.allclose(a, r)


def test_compiled_step_trains_as_eager(data):
    """torch.compile fuses kernels, not the maths: same runs, same parameters and metrics."""
    configs = [cfg(sigma=0.3, seed=0), cfg(sigma=0.8, seed=1, l1=1e-3)]
    eager, comp = trainer(configs, data), GroupTrainer(configs, data, CPU, "fp32", compile=True)
    assert comp.compiled and not eager.compiled
    eager.fit(progress=False)
    comp.fit(progress=False)
    for k in range(2):
        assert_same_params(comp.model.member_state(k), eager.model.member_state(k), atol=1e-4)
    assert comp.history[-1]["loss_clean"] == pytest.approx(eager.history[-1]["loss_clean"],
                                                           rel=1e-3)
    # a decaying Top-K changes k as it trains: that schedule is left eager
    decaying = cfg(topk=4, topk_schedule="linear", normalize=True)
    assert not GroupTrainer([decaying], data, CPU, "fp32", compile=True).compiled


@pytest.mark.parametrize("kw", [
    {"l1": 1e-3}, {"noise": "laplace", "bias": "shared"}, {"noise": "poisson"},
    {"schedule": "linear", "sigma_end": 0.0, "ramp_start": 0.2, "ramp_end": 0.8},
    {"topk": 4, "topk_schedule": "linear", "normalize": True}, {"inhib": "interneuron"},
    {"optimizer": "sgd", "momentum": 0.9, "grad_clip": 0.0}, {"task": "classification"}],
    ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_step_loop_has_no_host_syncs(data, kw):
    """Between log steps the loop never reads a tensor's value on the host (tested on the CPU
    by intercepting every call that would; on a GPU each would wait for the device)."""
    if kw.get("task") == "classification":
        g = torch.Generator().manual_seed(0)
        data = {**data, "y_train": torch.randint(0, 3, (len(data["x_train"]),), generator=g),
                "y_test": torch.randint(0, 3, (len(data["x_test"]),), generator=g),
                "meta": {**data["meta"], "n_classes": 3}}
    configs = [cfg(sigma=0.5, seed=0, **kw), cfg(sigma=0.9, seed=1, **kw)]
    tr = GroupTrainer(configs, data, CPU, "fp32")
    tr.train_step(0)
    with HostSyncs() as mode:
        for step in range(1, 2 * tr.steps_per_epoch + 3):  # crosses epoch reshuffles
            tr.train_step(step)
    assert mode.seen == [], f"host syncs in the step loop: {sorted(set(mode.seen))}"
    with HostSyncs() as mode:
        tr.log_metrics()
    assert mode.seen  # the interception works: log steps do read values


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_step_loop_has_no_device_syncs_on_gpu(data):
    """The same on a GPU, by CUDA's own account: any synchronising call raises."""
    configs = [cfg(sigma=0.5, seed=0, l1=1e-3), cfg(sigma=0.9, seed=1)]
    tr = GroupTrainer(configs, data, torch.device("cuda"), "tf32")
    tr.train_step(0)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for step in range(1, 2 * tr.steps_per_epoch + 3):
            tr.train_step(step)
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize("where", ["loss", "update"])
def test_failed_compilation_falls_back_to_eager_from_the_same_state(data, caplog, where):
    """A machine where torch.compile cannot work (no C++ compiler, an unsupported GPU)
    still trains, eagerly, and exactly as an eager run would: no step lost or doubled."""
    configs = [cfg(sigma=0.3, seed=0), cfg(sigma=0.8, seed=1)]
    eager = trainer(configs, data)
    eager.fit(progress=False)
    comp = GroupTrainer(configs, data, CPU, "fp32", compile=True)

    def broken(*args, **kwargs):
        raise RuntimeError("InvalidCxxCompiler: No working C++ compiler found")
    if where == "loss":
        comp._loss_fn = broken
    else:
        comp.opt._update = broken
    with caplog.at_level("WARNING", logger="noisesparse"):
        comp.fit(progress=False)
    assert "torch.compile failed (RuntimeError: InvalidCxxCompiler" in caplog.text
    assert not comp.compiled and comp.step == eager.step and comp.opt.step_count == 20
    for k in range(2):
        assert_same_params(comp.model.member_state(k), eager.model.member_state(k), atol=1e-6)


def test_check_group_rejects_members_that_cannot_share_an_ensemble(data):
    check_group([cfg(sigma=0.1, seed=1, lr=1e-2), cfg(sigma=0.9)])  # member fields only
    with pytest.raises(ConfigError, match="share every field"):
        check_group([cfg(), cfg(width=32)])
    with pytest.raises(ConfigError):
        GroupTrainer([cfg(), cfg(noise="laplace")], data, CPU)


def test_batch_larger_than_data_rejected(data):
    with pytest.raises(ConfigError, match="batch_size"):
        trainer([cfg(batch_size=4096)], data)


# --------------------------------------------------------------------------- (b) resume


def test_members_per_pass_sizes_the_ensemble_to_free_memory(data):
    configs = [cfg(sigma=0.1 * k, seed=k) for k in range(5)]
    per = member_bytes(configs[0], 36, 36, 2048)
    assert per > 4 * 4 * 16 * 72  # at least the weights, gradients and Adam moments
    wide = member_bytes(cfg(width=1024), 36, 36, 2048)
    assert wide > 10 * per  # grows with the width
    assert members_per_pass(configs, data, 10**12, on_device=True) == 5
    assert members_per_pass(configs, data, int(2.5 * per / 0.7), on_device=False) == 2
    assert members_per_pass(configs, data, per, on_device=False) == 1  # never zero
    # on a GPU the data moves there too, and takes its share first
    data_bytes = data["x_train"].nbytes + data["x_test"].nbytes
    assert members_per_pass(configs, data, int((2.5 * per + data_bytes) / 0.7), True) == 2


def test_group_too_big_for_memory_trains_in_passes_as_in_one(data, tmp_path, monkeypatch,
                                                            caplog):
    """Members are independent, so splitting an ensemble into passes changes no result."""
    configs = [cfg(sigma=0.2 * k, seed=k) for k in range(3)]
    one = train_group(configs, data, [str(tmp_path / "one" / str(k)) for k in range(3)],
                      device="cpu", progress=False, precision="fp32")
    per = member_bytes(configs[0], 36, 36, 2048)
    monkeypatch.setenv("NOISESPARSE_FAKE_FREE_GB", str(2.5 * per / 0.7 / 2**30))
    ckpt = tmp_path / "partial" / "g.pt"
    with caplog.at_level("INFO", logger="noisesparse"):
        split = train_group(configs, data, [str(tmp_path / "split" / str(k)) for k in range(3)],
                            ckpt_path=str(ckpt), device="cpu", progress=False,
                            precision="fp32")
    assert "in 2 passes of up to 2 members" in caplog.text
    assert [r["train"]["members"] for r in split] == [2, 2, 1]
    for a, b in zip(one, split):
        assert a["run_id"] == b["run_id"]
        assert a["final"]["loss_clean"] == pytest.approx(b["final"]["loss_clean"], rel=1e-5)
    for k in range(3):
        pa = torch.load(tmp_path / "one" / str(k) / "model.pt", weights_only=True)["state"]
        pb = torch.load(tmp_path / "split" / str(k) / "model.pt", weights_only=True)["state"]
        assert_same_params(pa, pb)
    assert not list(ckpt.parent.glob("g.pt*"))  # finished: no partial checkpoints left


def test_resume_from_checkpoint_equals_uninterrupted(data, tmp_path):
    configs = [cfg(sigma=0.3, seed=1), cfg(sigma=0.8, seed=2)]
    ckpt = tmp_path / "partial" / "g.pt"

    first = trainer(configs, data)
    first.fit(str(ckpt), progress=False, stop_after=10)
    assert first.step == 10 and ckpt.exists()

    second = trainer(configs, data)
    assert second.step == 0
    steps_run = []
    inner = second.train_step
    second.train_step = lambda step: (steps_run.append(step), inner(step))
    second.fit(str(ckpt), progress=False)
    assert second.step == 20
    assert steps_run == list(range(10, 20))  # it picked up at step 10, not afresh

    full = trainer(configs, data)
    full.fit(progress=False)
    for k in range(2):
        assert_same_params(second.model.member_state(k), full.model.member_state(k), atol=1e-6)
    # the resumed history is the uninterrupted one: logged at steps 0, 10, 20 once each
    assert [r["step"][0] for r in second.history] == [0.0, 10.0, 20.0]
    for r2, rf in zip(second.history, full.history):
        assert r2["train_loss"] == pytest.approx(rf["train_loss"], rel=1e-5)
        assert r2["loss_clean"] == pytest.approx(rf["loss_clean"], rel=1e-5)
    # and a fresh start differs from the stopped-at-10 state (resume really continued)
    assert not torch.allclose(first.model.member_state(0)["encoder.weight"],
                              full.model.member_state(0)["encoder.weight"])


def test_checkpoint_of_other_runs_is_ignored(data, tmp_path):
    ckpt = tmp_path / "g.pt"
    trainer([cfg(sigma=0.3)], data).fit(str(ckpt), progress=False, stop_after=10)
    other = trainer([cfg(sigma=0.4)], data)
    other.fit(str(ckpt), progress=False, stop_after=1)
    assert other.step == 1  # started afresh rather than at step 10


# ----------------------------------------------------------------------- (c) divergence


def test_diverged_member_is_recorded_and_others_finish(data, tmp_path):
    bad, good = cfg(sigma=0.3, lr=1e30), cfg(sigma=0.3, seed=1)
    ens = trainer([bad, good], data)
    ens.fit(progress=False)
    assert ens.step == 20
    assert ens.diverged_at[0] == 10 and ens.diverged_at[1] is None
    dirs = [tmp_path / "bad", tmp_path / "good"]
    records = ens.write_results([str(d) for d in dirs])

    rb, rg = records
    assert rb["status"] == "diverged" and rb["diverged_at_step"] == 10
    assert rb["run_id"] == bad.run_id
    assert all(v is None for v in rb["final"].values())
    assert rg["status"] == "ok" and rg["diverged_at_step"] is None
    for name in ("loss_clean", "loss_noisy", "frac_active_clean", "frac_dead", "bias_mean"):
        v = rg["final"][name]
        assert v is not None and math.isfinite(v), name
    assert 0.0 <= rg["final"]["frac_active_clean"] <= 1.0
    # the zero predictor: outputs of zeros score the held-out inputs' mean square, clean
    # and noisy alike (both losses target the clean input); the relative error is the loss
    # over it. Judged when read (noisesparse.runs.results): the diverged run neither
    # converged nor beats it.
    zero = float(data["x_test"].pow(2).mean())
    assert all(r["loss_zero"] == pytest.approx(zero, rel=1e-5) for r in records)
    assert rg["final"]["loss_clean_rel"] == pytest.approx(rg["final"]["loss_clean"] / zero,
                                                          rel=1e-4)
    jb, jg = (judgement(r, pd.read_csv(d / "history.csv")) for r, d in zip(records, dirs))
    assert jg["loss_zero_noisy"] == jg["loss_zero_clean"] == rg["loss_zero"]
    assert jg["beats_zero_predictor"] == (rg["final"]["loss_clean"] < zero)
    assert {f"conv_{m}" for m in ("frac_active_clean", "frac_active_noisy", "loss_clean")} \
        <= set(jg)
    assert jb["converged"] is False and jb["beats_zero_predictor"] is False
    assert "checks" not in rb  # training records measurements, not judgements
    # the records are also on disk, with the history
    on_disk = json.loads((dirs[0] / "metrics.json").read_text())
    assert on_disk["status"] == "diverged"
    assert json.loads((dirs[1] / "metrics.json").read_text())["status"] == "ok"
    assert (dirs[1] / "history.csv").exists() and (dirs[1] / "model.pt").exists()
    # the diverged member did not disturb its neighbour: it equals the run trained alone
    alone = trainer([good], data)
    alone.fit(progress=False)
    assert_same_params(ens.model.member_state(1), alone.model.member_state(0))


def test_cosine_model_reconstructs_the_raw_input_with_unit_encoder_rows(data):
    """The authors' cosine model (SDM_DIFFUSION): the encoder sees x / |x| and unit rows,
    kept unit by a projection after every step, and reconstructs the RAW clean input."""
    topk = cfg(normalize=True, bias="shared", topk=4, topk_schedule="fixed", steps=200,
               sigma=0.3)
    shared = cfg(normalize=True, bias="shared", steps=200, sigma=0.3)  # LEARN_K_SHARED_BIAS
    plain = cfg(steps=200)
    for c in (topk, shared, plain):
        ens = trainer([c], data)
        if c.normalize:  # unit rows from the start, not only after the first step
            assert torch.allclose(ens.model.w1.norm(dim=-1), torch.ones(1), atol=1e-5)
        ens.fit(progress=False)
        norms = ens.model.w1.detach().norm(dim=-1)
        if c.normalize:
            assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)
        else:
            assert norms.std() > 1e-3  # the plain network's rows are left alone
        final = ens.final_metrics()  # on the whole held-out set
        x = ens.x_test
        assert torch.equal(ens.model.target(x), x)
        with torch.no_grad():
            out = ens.model(x)[2][0]
            # the encoder's drive is the cosine of the input with each (unit) row
            pre = ens.model.encode(x)[0][0] - ens.model.hidden_bias()[0]
        if c.normalize:
            cos = torch.nn.functional.normalize(x, dim=-1) @ ens.model.w1[0].detach().T
            assert torch.allclose(pre, cos, atol=1e-5)
        rel = float(final["loss_clean_rel"][0])
        assert rel == pytest.approx(float((out - x).pow(2).sum() / x.pow(2).sum()), rel=1e-4)
        assert float(final["loss_clean"][0]) == pytest.approx(float((out - x).pow(2).mean()),
                                                              rel=1e-4)
        assert 0 < rel < 0.8, (c.run_id, rel)  # it learned: far better than predicting zeros


@pytest.mark.parametrize("unit_norm", ["decoder", "encoder", "both"])
def test_unit_norm_keeps_the_dictionary_on_the_unit_sphere(data, unit_norm):
    """Sparse coding (`unit_norm`): the constrained weights start at unit norm and are
    projected back after every step, the others are left alone; the input is not
    normalised (unlike the cosine model), so the drive is W x + b on the raw input."""
    c = cfg(unit_norm=unit_norm, l1=1e-2, steps=60)
    ens = trainer([c], data)
    rows = lambda: ens.model.w1.detach()[0].norm(dim=-1)  # one per hidden unit
    cols = lambda: ens.model.w2.detach()[0].norm(dim=0)  # one per hidden unit
    unit_rows, unit_cols = unit_norm in ("encoder", "both"), unit_norm in ("decoder", "both")
    for check in ("init", "trained"):
        for norms, unit in ((rows(), unit_rows), (cols(), unit_cols)):
            if unit:
                assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5), check
            else:
                assert (norms - 1).abs().max() > 0.05, check
        if check == "init":
            ens.fit(progress=False)
    x = ens.x_test[:8]
    with torch.no_grad():
        pre = ens.model.encode(x)[0][0]
    assert torch.allclose(pre, x @ ens.model.w1[0].detach().T + ens.model.b1[0].detach(),
                          atol=1e-5)
    assert "unit" + unit_norm[:3] in c.run_id


def test_unit_norm_rejects_a_dictionary_without_reconstruction():
    with pytest.raises(ConfigError, match="reconstruction only"):
        cfg(unit_norm="decoder", task="classification")
    with pytest.raises(ConfigError, match="unit_norm"):
        cfg(unit_norm="rows")


# ------------------------------------------------------------------------ (d) optimiser


def _pairs(seed=0, K=1):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(K, 3, 4, generator=g)
    b = torch.randn(K, 3, generator=g)
    grads = [(torch.randn(K, 3, 4, generator=g), torch.randn(K, 3, generator=g))
             for _ in range(6)]
    return w, b, grads


def _run_ensemble(kind, w, b, grads, lr, bias_lr, **kw):
    pw, pb = torch.nn.Parameter(w.clone()), torch.nn.Parameter(b.clone())
    opt = EnsembleOptimizer([pw, pb], [pb], kind, lr=lr, bias_lr=bias_lr, **kw)
    for gw, gb in grads:
        pw.grad, pb.grad = gw.clone(), gb.clone()
        opt.step()
    return pw.detach(), pb.detach()


def _run_torch(make_opt, w, b, grads, lr, bias_lr):
    pw, pb = torch.nn.Parameter(w.clone()), torch.nn.Parameter(b.clone())
    opt = make_opt([{"params": [pw], "lr": lr}, {"params": [pb], "lr": bias_lr}])
    for gw, gb in grads:
        pw.grad, pb.grad = gw.clone(), gb.clone()
        opt.step()
    return pw.detach(), pb.detach()


@pytest.mark.parametrize("kind", ["adam", "sgd"])
def test_ensemble_optimizer_matches_torch_on_one_member(kind):
    w, b, grads = _pairs()
    if kind == "adam":
        ew, eb = _run_ensemble("adam", w, b, grads, [0.01], [0.05], betas=(0.8, 0.99))
        make = lambda groups: torch.optim.Adam(groups, betas=(0.8, 0.99), eps=1e-8)  # noqa
    else:
        ew, eb = _run_ensemble("sgd", w, b, grads, [0.01], [0.05], momentum=0.9)
        make = lambda groups: torch.optim.SGD(groups, momentum=0.9)  # noqa
    tw, tb = _run_torch(make, w[0], b[0], grads=[(gw[0], gb[0]) for gw, gb in grads],
                        lr=0.01, bias_lr=0.05)
    assert torch.allclose(ew[0], tw, atol=1e-6, rtol=0)
    assert torch.allclose(eb[0], tb, atol=1e-6, rtol=0)
    assert (ew[0] - w[0]).abs().max() > 1e-3  # it moved


def test_plain_sgd_matches_torch():
    w, b, grads = _pairs(seed=1)
    ew, eb = _run_ensemble("sgd", w, b, grads, [0.1], [0.1], momentum=0.0)
    tw, tb = _run_torch(lambda g: torch.optim.SGD(g), w[0], b[0],
                        [(gw[0], gb[0]) for gw, gb in grads], 0.1, 0.1)
    assert torch.allclose(ew[0], tw, atol=1e-6) and torch.allclose(eb[0], tb, atol=1e-6)


@pytest.mark.parametrize("kind", ["adam", "sgd"])
def test_ensemble_optimizer_per_member_learning_rates(kind):
    w, b, grads = _pairs(seed=2, K=2)
    lrs, bias_lrs = [0.01, 0.002], [0.03, 0.1]
    ew, eb = _run_ensemble(kind, w, b, grads, lrs, bias_lrs, momentum=0.5)
    for k in range(2):
        make = ((lambda g: torch.optim.Adam(g)) if kind == "adam"
                else (lambda g: torch.optim.SGD(g, momentum=0.5)))
        tw, tb = _run_torch(make, w[k], b[k], [(gw[k], gb[k]) for gw, gb in grads],
                            lrs[k], bias_lrs[k])
        assert torch.allclose(ew[k], tw, atol=1e-6), k
        assert torch.allclose(eb[k], tb, atol=1e-6), k


def test_inactive_member_is_frozen():
    w, b, grads = _pairs(seed=3, K=2)
    pw, pb = torch.nn.Parameter(w.clone()), torch.nn.Parameter(b.clone())
    opt = EnsembleOptimizer([pw, pb], [pb], "adam", lr=[0.01, 0.01], bias_lr=[0.01, 0.01])
    opt.active = torch.tensor([0.0, 1.0])
    for gw, gb in grads:
        pw.grad, pb.grad = gw.clone(), gb.clone()
        opt.step()
    assert torch.equal(pw[0].detach(), w[0]) and torch.equal(pb[0].detach(), b[0])
    assert not torch.allclose(pw[1].detach(), w[1])


def clip_grad_norm_per_member(params, max_norm) -> torch.Tensor:
    """The reference: clip each member's global gradient norm (all its parameters together),
    as torch.nn.utils.clip_grad_norm_ does for a lone model, from the optimiser's own norms
    and coefficients. Returns the [K] norms."""
    norms = grad_norms([p.grad for p in params])
    coef = clip_coefs(norms, max_norm)
    for p in params:
        p.grad.mul_(coef.view(-1, *([1] * (p.dim() - 1))))
    return norms


def test_clip_grad_norm_per_member_matches_torch():
    g = torch.Generator().manual_seed(4)
    w = torch.nn.Parameter(torch.zeros(2, 3, 4))
    b = torch.nn.Parameter(torch.zeros(2, 3))
    w.grad, b.grad = torch.randn(2, 3, 4, generator=g), torch.randn(2, 3, generator=g)
    ref = [(w.grad[k].clone(), b.grad[k].clone()) for k in range(2)]
    max_norms = torch.tensor([0.5, 100.0])  # member 0 is clipped, member 1 is not
    norms = clip_grad_norm_per_member([w, b], max_norms)
    for k in range(2):
        rw, rb = (torch.nn.Parameter(torch.zeros(3, 4)), torch.nn.Parameter(torch.zeros(3)))
        rw.grad, rb.grad = ref[k]
        total = torch.nn.utils.clip_grad_norm_([rw, rb], max_norms[k].item())
        assert norms[k].item() == pytest.approx(total.item(), rel=1e-6)
        assert torch.allclose(w.grad[k], rw.grad, atol=1e-6)
        assert torch.allclose(b.grad[k], rb.grad, atol=1e-6)
    clipped = torch.cat([w.grad[0].flatten(), b.grad[0]]).norm().item()
    assert clipped == pytest.approx(0.5, rel=1e-4)


@pytest.mark.parametrize("kind", ["adam", "sgd"])
def test_clip_folded_into_update_matches_clip_then_step(kind):
    """step(max_norm=...) clips inside the update: same as clipping the grads, then stepping."""
    w, b, grads = _pairs(seed=5, K=2)
    max_norm = torch.tensor([0.3, 0.0])  # member 0 clipped hard, member 1 never
    folded = [torch.nn.Parameter(w.clone()), torch.nn.Parameter(b.clone())]
    apart = [torch.nn.Parameter(w.clone()), torch.nn.Parameter(b.clone())]
    o1 = EnsembleOptimizer(folded, [folded[1]], kind, lr=[0.05, 0.01], bias_lr=[0.1, 0.1],
                           momentum=0.9)
    o2 = EnsembleOptimizer(apart, [apart[1]], kind, lr=[0.05, 0.01], bias_lr=[0.1, 0.1],
                           momentum=0.9)
    for gw, gb in grads:
        (folded[0].grad, folded[1].grad), (apart[0].grad, apart[1].grad) = (
            (gw.clone(), gb.clone()), (gw.clone(), gb.clone()))
        o1.step(max_norm=max_norm)
        clip_grad_norm_per_member(apart, max_norm)
        o2.step()
    for a, c in zip(folded, apart):
        assert torch.allclose(a, c, atol=1e-6)
    assert not torch.allclose(folded[0][0], w[0])


@pytest.mark.parametrize("kind", ["adam", "sgd"])
def test_compiled_update_matches_eager_and_never_recompiles(kind):
    """torch.compile fuses each parameter's clip + update; the step count lives on the
    device, so the graph is reused as it grows (a recompile would raise here)."""
    w, b, grads = _pairs(seed=6, K=2)
    runs = []
    for compile in (False, True):
        ps = [torch.nn.Parameter(w.clone()), torch.nn.Parameter(b.clone())]
        opt = EnsembleOptimizer(ps, [ps[1]], kind, lr=[0.05, 0.01], bias_lr=[0.1, 0.2],
                                momentum=0.9, compile=compile)
        opt.active = torch.tensor([1.0, 0.0])
        for i, (gw, gb) in enumerate(grads):  # after step 1, a recompile raises
            ps[0].grad, ps[1].grad = gw.clone(), gb.clone()
            with torch._dynamo.config.patch(error_on_recompile=i > 0):
                opt.step(max_norm=torch.tensor([0.5, 0.5]))
        runs.append([p.detach() for p in ps])
    for e, c in zip(*runs):
        assert torch.allclose(e, c, atol=1e-6)
    assert torch.equal(runs[1][0][1], w[1])  # the inactive member stayed frozen


def test_grad_clip_zero_means_no_clipping():
    w = torch.nn.Parameter(torch.zeros(2, 3))
    w.grad = torch.tensor([[30.0, 40.0, 0.0], [0.3, 0.4, 0.0]])
    clip_grad_norm_per_member([w], torch.tensor([0.0, 1.0]))
    assert torch.allclose(w.grad[0], torch.tensor([30.0, 40.0, 0.0]))  # unclipped
    assert torch.allclose(w.grad[1], torch.tensor([0.3, 0.4, 0.0]))  # norm 0.5 < 1


def test_topk_activation_on_hand_built_drives():
    from noisesparse.training.model import topk_activation
    pre = torch.tensor([[3.0, -1.0, 2.0, 0.5], [-1.0, -2.0, -3.0, -4.0]], requires_grad=True)
    out = topk_activation(pre, 2, "mask")
    assert torch.equal(out.detach(), torch.tensor([[3.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 0.0]]))
    out.sum().backward()  # the gradient reaches the k kept, positive units only
    assert torch.equal(pre.grad, torch.tensor([[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0]]))
    # subtract: relu(pre - the (k+1)-th largest): 0.5 in the first row, -3 in the second
    assert torch.equal(topk_activation(pre.detach(), 2, "subtract"),
                       torch.tensor([[2.5, 0.0, 1.5, 0.0], [2.0, 1.0, 0.0, 0.0]]))
    assert torch.equal(topk_activation(pre.detach(), 4), torch.relu(pre.detach()))


def test_cli_training_from_another_directory_writes_under_the_project_root(tmp_path):
    """NOISESPARSE_ROOT names the project: `noisesparse data` and `noisesparse train` run from
    another directory put the dataset, the runs and the checkpoints under it, where results
    are read (runs.results), and nothing beside the caller."""
    from noisesparse.plan.registry import build_plan
    from noisesparse.runs.results import load_final

    root, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    shutil.copytree(REPO / "config", root / "config")
    elsewhere.mkdir()
    plan = build_plan("smoke")
    group = min((g for g, rs in plan.groups.items()
                 if plan.runs[rs[0]].dataset == "natural_grey6"),
                key=lambda g: (plan.runs[plan.groups[g][0]].width, len(plan.groups[g])))
    env = {**os.environ, "NOISESPARSE_ROOT": str(root)}
    for args in (["data", "natural_grey6"],
                 ["train", "--profile", "smoke", "--group", group, "--threads", "1",
                  "--no-progress"]):
        done = subprocess.run([sys.executable, "-m", "noisesparse", *args], cwd=elsewhere,
                              env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    assert (root / "data/processed/natural_grey6.pt").exists()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NOISESPARSE_ROOT", str(root))
        runs = load_final(plan.groups[group])
    assert len(runs) == len(plan.groups[group]) and (runs["status"] == "ok").all()
    assert not any(elsewhere.iterdir())
