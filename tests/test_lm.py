"""The Transformer language model: tokenizer, where the noise enters, per-layer metrics."""

import json
import math

import pandas as pd
import pytest
import torch

from noisesparse.measures import metrics as M
from noisesparse.training.config import make_run_config
from noisesparse.errors import ConfigError
from noisesparse.data import text
from noisesparse.training.lm.model import TransformerLM
from noisesparse.training.lm.train import LMTrainer, train_lm_group
from noisesparse.runs.results import judgement


def test_tokenizer_round_trips_any_text():
    s = "Noise makes ReLU units sparse — σ ≥ 0.8, naïve café 🙂\n\ttabs"
    tokens = text.encode(s)
    assert tokens.dtype == torch.int64 and int(tokens.max()) < text.VOCAB
    assert text.decode(tokens) == s


def test_pydoc_corpus_split_is_fixed_and_disjoint():
    corpus = text.pydoc_corpus()
    assert len(corpus) > 300_000
    tr, va = text.split_tokens(corpus, 0.1)
    tr2, va2 = text.split_tokens(corpus, 0.1)
    assert torch.equal(tr, tr2) and torch.equal(va, va2)
    assert len(tr) + len(va) == len(text.encode(corpus))
    assert text.decode(torch.cat([tr, va])) == corpus


def _model():
    return TransformerLM(text.VOCAB, context=8, n_layers=2, d_model=16, n_heads=2, d_ff=32, seed=0)


def test_noise_enters_each_mlp_input_after_its_layernorm():
    model = _model()
    idx = torch.randint(0, 256, (3, 8))
    seen = []
    for block in model.blocks:
        block.fc1.register_forward_pre_hook(lambda mod, args: seen.append(args[0].clone()))
    ln_out = []
    for block in model.blocks:
        block.ln2.register_forward_hook(lambda mod, args, out: ln_out.append(out.clone()))
    g = torch.Generator().manual_seed(1)
    model(idx, "gaussian", 0.5, g)
    assert len(seen) == 2
    for fc1_in, ln in zip(seen, ln_out):
        diff = fc1_in - ln  # exactly the injected noise
        assert diff.abs().max() > 0.1
        assert diff.std().item() == pytest.approx(0.5, rel=0.15)


def test_no_noise_at_evaluation_unless_asked():
    model = _model()
    idx = torch.randint(0, 256, (2, 8))
    a, _ = model(idx)
    b, _ = model(idx, "gaussian", 0.0, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    c, _ = model(idx, "gaussian", 1.0, torch.Generator().manual_seed(3))
    assert not torch.allclose(a, c)


def _cfg(**kw):
    base = dict(dataset="pydoc_text", arch="transformer", task="language_model", n_layers=2,
                d_model=16, n_heads=2, width=32, context=16, batch_size=8, lr=3e-3, steps=20,
                log_every=10, eval_size=512)
    return make_run_config({**base, **kw})


@pytest.fixture(scope="module")
def corpus():
    tr, va = text.split_tokens(text.pydoc_corpus()[:40_000], 0.1)
    return {"x_train": tr, "x_test": va, "y_train": None, "y_test": None,
            "meta": {"name": "pydoc_text", "kind": "text", "n_classes": 0}}


def test_per_layer_metrics_match_a_direct_computation(corpus):
    tr = LMTrainer(_cfg(), corpus, torch.device("cpu"))
    ev = tr.evaluate(16 * 4)  # 4 windows of 16 tokens
    w = tr.val_tokens[torch.arange(4)[:, None] * 16 + tr.offsets]
    with torch.no_grad():
        _, acts = tr.model(w[:, :-1])
    for layer, z in enumerate(acts):
        z = z.reshape(-1, 32)
        assert ev[f"frac_active_clean_L{layer}"] == pytest.approx(float((z > 0).float().mean()), abs=1e-6)
        dead = M.dead_mask(z.clamp(min=0).sum(0))
        assert ev[f"frac_dead_L{layer}"] == pytest.approx(float(dead.float().mean()), abs=1e-6)
        b = tr.model.blocks[layer].fc1.bias
        assert ev[f"bias_mean_L{layer}"] == pytest.approx(float(b.detach().mean()), abs=1e-6)
    assert ev["frac_active_clean"] == pytest.approx(
        (ev["frac_active_clean_L0"] + ev["frac_active_clean_L1"]) / 2, abs=1e-6)
    assert ev["frac_active_noisy"] == ev["frac_active_clean"]  # sigma 0: no noise


def test_training_writes_results_and_resumes_exactly(corpus, tmp_path):
    cfg = _cfg(sigma=1.0)
    full = LMTrainer(cfg, corpus, torch.device("cpu"))
    full.fit(progress=False)
    ckpt = tmp_path / "run.pt"
    part = LMTrainer(cfg, corpus, torch.device("cpu"))
    part.fit(str(ckpt), progress=False, stop_after=10)
    resumed = LMTrainer(cfg, corpus, torch.device("cpu"))
    resumed.fit(str(ckpt), progress=False)
    for (n, a), (_, b) in zip(full.model.state_dict().items(), resumed.model.state_dict().items()):
        assert torch.equal(a, b), n
    recs = train_lm_group([cfg, _cfg(sigma=0.0)], corpus, [tmp_path / "a", tmp_path / "b"],
                          str(tmp_path / "partial"), torch.device("cpu"), progress=False)
    assert [r["status"] for r in recs] == ["ok", "ok"]
    rec = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert 0 <= rec["final"]["frac_active_clean_L1"] <= 1
    # all-zero logits over the 256 byte values: log 256 (noisesparse.runs.results)
    assert rec["loss_zero"] == pytest.approx(math.log(256), rel=1e-6)
    hist = pd.read_csv(tmp_path / "a" / "history.csv")
    judged = judgement(rec, hist)  # when read, as results.load_final does
    assert judged["beats_zero_predictor"] == (rec["final"]["loss_clean"] < math.log(256))
    assert isinstance(judged["converged"], bool)
    assert list(hist["step"]) == [0, 10, 20]
    # Checkpoints, and the group's folder of them, are gone once the group is complete.
    assert not (tmp_path / "partial").exists()


def test_transformer_config_errors():
    with pytest.raises(ConfigError, match="language_model"):
        make_run_config({"arch": "transformer"})
    with pytest.raises(ConfigError, match="divisible"):
        _cfg(d_model=10, n_heads=4)
    with pytest.raises(ConfigError, match="do not apply"):
        _cfg(topk=4)


def test_text_dataset_needed(corpus):
    data = dict(corpus, meta={"name": "digits", "kind": "digits", "n_classes": 10})
    with pytest.raises(ConfigError, match="not a text corpus"):
        LMTrainer(_cfg(), data, torch.device("cpu"))


def test_the_mlp_trainer_refuses_a_transformer(corpus, tmp_path):
    """The CLI picks the trainer; called directly, the MLP's names the right one."""
    from noisesparse.training.train import train_group
    with pytest.raises(ConfigError, match="train_lm_group"):
        train_group([_cfg()], corpus, [str(tmp_path / "a")], device="cpu")
    assert not (tmp_path / "a").exists()


def test_step_loop_has_no_host_syncs(corpus):
    """Noise after each LayerNorm is drawn with sigma kept on the host: no device sync."""
    from _host_syncs import HostSyncs
    tr = LMTrainer(_cfg(sigma=0.5), corpus, torch.device("cpu"))
    tr.train_step(0)
    with HostSyncs() as mode:
        for step in range(1, 4):
            tr.train_step(step)
    assert mode.seen == [], sorted(set(mode.seen))
