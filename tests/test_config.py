"""Run configs (noisesparse.training.config), the registry's plans (noisesparse.plan.registry) and the
CLI's handling of a bad profile."""

import dataclasses
import json
import shutil
import signal
from pathlib import Path

import pytest
import yaml

from noisesparse.pipeline import cli
from noisesparse import paths
from noisesparse.training.config import MEMBER_FIELDS, RunConfig, make_run_config
from noisesparse.data import dataset_spec
from noisesparse.errors import ConfigError, MissingResults
from noisesparse.plan.registry import build_plan

REPO = Path(__file__).resolve().parents[1]
SMALL = {"dataset": "natural_grey6", "width": 16, "steps": 20, "batch_size": 32,
         "log_every": 10, "eval_size": 64}


@pytest.fixture(autouse=True)
def repo_root(monkeypatch):
    """Read the project's own config/ whatever the current directory."""
    monkeypatch.setenv("NOISESPARSE_ROOT", str(REPO))


# ----------------------------------------------------------------------- make_run_config


def test_make_run_config_builds_a_validated_config():
    c = make_run_config({**SMALL, "sigma": 0.3, "seed": 2})
    assert isinstance(c, RunConfig)
    assert (c.dataset, c.width, c.sigma, c.seed) == ("natural_grey6", 16, 0.3, 2)
    assert c.activation == "relu" and c.noise == "gaussian"  # defaults fill the rest
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.sigma = 1.0


def test_unknown_key_suggests_the_close_match():
    with pytest.raises(ConfigError) as e:
        make_run_config({**SMALL, "sigmaa": 0.3}, where="study X")
    msg = str(e.value)
    assert "'sigmaa'" in msg
    assert "did you mean 'sigma'?" in msg
    assert "study X" in msg
    with pytest.raises(ConfigError, match="did you mean 'batch_size'"):
        make_run_config({"batchsize": 8})


def test_unknown_key_without_close_match_lists_allowed():
    with pytest.raises(ConfigError) as e:
        make_run_config({"zzzzzz": 1})
    assert "did you mean" not in str(e.value)
    assert "allowed:" in str(e.value) and "sigma" in str(e.value)


@pytest.mark.parametrize("field", ["sigma", "sigma_end", "lr", "l1", "grad_clip", "momentum"])
def test_negative_numbers_rejected(field):
    with pytest.raises(ConfigError, match=f"{field} must be >= 0"):
        make_run_config({**SMALL, field: -0.5})


def test_bad_enum_values_rejected():
    with pytest.raises(ConfigError, match="activation='relu6' is not one of relu, gelu"):
        make_run_config({**SMALL, "activation": "relu6"})
    for field, bad in [("noise", "uniform"), ("schedule", "cosine"), ("optimizer", "rmsprop"),
                       ("task", "regression"), ("bias", "layer"), ("inhib", "lateral")]:
        with pytest.raises(ConfigError, match=f"{field}='{bad}'"):
            make_run_config({**SMALL, field: bad})


@pytest.mark.parametrize("values, match", [
    ({"width": 0}, "width must be a positive integer"),
    ({"steps": 2.5}, "steps must be a positive integer"),
    ({"lr": 0.0}, "lr must be > 0"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"ramp_start": 0.8, "ramp_end": 0.5}, "ramp_start <= ramp_end"),
    ({"beta1": 1.0}, "beta1 and beta2"),
    ({"topk": 32}, "topk must be an integer"),  # more than width 16
    ({"sigma": "abc"}, "sigma must be a number"),
    ({"sigma": float("nan")}, "sigma must be a number"),
    ({"task": "language_model"}, "arch transformer"),
])
def test_other_validation(values, match):
    with pytest.raises(ConfigError, match=match):
        make_run_config({**SMALL, **values})


FLOAT_FIELDS = [f.name for f in dataclasses.fields(RunConfig)
                if f.type in ("float", "float | None")]


@pytest.mark.parametrize("field", FLOAT_FIELDS)
@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), "1e400", float("nan")])
def test_every_real_field_must_be_finite(field, bad):
    """sigma = 1e400 (inf) used to pass validation; no real-valued field takes inf or NaN,
    whether written as a float, as YAML's .inf, or as a string that overflows."""
    with pytest.raises(ConfigError, match=f"{field} must be (finite|a number)"):
        make_run_config({**SMALL, field: bad})
    assert yaml.safe_load(f"{field}: .inf")[field] == float("inf")
    with pytest.raises(ConfigError, match=f"{field} must be finite"):
        make_run_config({**SMALL, **yaml.safe_load(f"{field}: .inf")})


def test_noise_refuses_a_non_finite_sigma():
    import torch

    from noisesparse.training import noise
    for bad in (float("inf"), float("nan")):
        with pytest.raises(ConfigError, match="sigma must be finite"):
            noise.sample("gaussian", bad, (2, 3))
        with pytest.raises(ConfigError, match="sigma must be finite"):
            noise.sample("gaussian", torch.tensor(bad), (2, 3))
    assert noise.sample("gaussian", 1e30, (2,)).isfinite().all()  # large but finite is fine


def test_numbers_written_as_strings_or_ints_are_coerced():
    a = make_run_config({**SMALL, "lr": "1e-3", "sigma": 1})
    b = make_run_config({**SMALL, "lr": 0.001, "sigma": 1.0})
    assert a.lr == 0.001 and isinstance(a.sigma, float)
    assert a == b and a.hash == b.hash


def test_unknown_dataset_is_rejected_by_the_catalog():
    assert dataset_spec("natural_grey6")["kind"] == "natural_patches"
    with pytest.raises(ConfigError, match="unknown dataset 'natural_grey7'") as e:
        dataset_spec("natural_grey7")
    assert "did you mean" in str(e.value)


def _edited_smoke(tmp_path, monkeypatch, edit) -> None:
    """A copy of config/ whose smoke profile `edit` (a function of its parsed YAML) changed,
    made the project root."""
    shutil.copytree(REPO / "config", tmp_path / "config")
    prof = tmp_path / "config" / "profiles" / "smoke.yaml"
    data = yaml.safe_load(prof.read_text())
    edit(data)
    prof.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("NOISESPARSE_ROOT", str(tmp_path))


def test_unknown_dataset_fails_the_plan(tmp_path, monkeypatch):
    _edited_smoke(tmp_path, monkeypatch,
                  lambda d: d["run_defaults"].update(dataset="natural_grey7"))
    with pytest.raises(ConfigError, match="unknown dataset 'natural_grey7'"):
        build_plan("smoke")


@pytest.mark.parametrize("value,ok", [(True, True), (False, True), ("yes", False), (1, False)])
def test_profile_compile_flag_must_be_a_boolean(tmp_path, monkeypatch, value, ok):
    _edited_smoke(tmp_path, monkeypatch, lambda d: d.update(compile=value))
    if ok:
        assert build_plan("smoke").compile is value
    else:
        with pytest.raises(ConfigError, match="profile smoke: compile: .* is not of type "
                                              "'boolean' \\(expected torch.compile"):
            build_plan("smoke")


# -------------------------------------------------------------------------- hash, run_id


def test_hash_and_run_id_are_deterministic_and_content_based():
    a = make_run_config({**SMALL, "sigma": 0.3})
    b = make_run_config({**SMALL, "sigma": 0.3})
    assert a.hash == b.hash and a.run_id == b.run_id
    assert len(a.hash) == 12 and a.run_id.endswith("-" + a.hash)
    assert a.run_id.startswith("natural_grey6-recon-n16-relu-gauss0.3-s0-")
    # stable across processes: the hash is of the sorted JSON of the fields, those added
    # after runs existed (config.LATE_DEFAULTS) left out at their default
    import hashlib
    fields = {k: v for k, v in a.to_dict().items() if k != "init"}
    blob = json.dumps(fields, sort_keys=True, default=str)
    assert a.hash == hashlib.sha256(blob.encode()).hexdigest()[:12]
    seen = {a.hash}
    for change in [{"sigma": 0.4}, {"seed": 1}, {"width": 17}, {"lr": 2e-4},
                   {"activation": "gelu"}, {"eval_size": 65}, {"beta2": 0.99},
                   {"init": "normal"}]:
        c = make_run_config({**SMALL, "sigma": 0.3, **change})
        assert c.hash not in seen, change
        assert c.run_id != a.run_id
        seen.add(c.hash)


def test_group_key_ignores_only_member_fields():
    a = make_run_config({**SMALL, "sigma": 0.3})
    assert set(MEMBER_FIELDS) >= {"sigma", "seed", "lr"}
    for change in [{"sigma": 0.8}, {"seed": 3}, {"lr": 0.01}, {"l1": 0.1}, {"grad_clip": 2.0},
                   {"sigma_end": 0.1}, {"bias_lr": 0.5}]:
        assert make_run_config({**SMALL, "sigma": 0.3, **change}).group_key() == a.group_key()
    for change in [{"width": 32}, {"noise": "laplace"}, {"steps": 21}]:
        assert make_run_config({**SMALL, "sigma": 0.3, **change}).group_key() != a.group_key()


# ------------------------------------------------------------------------------- plans


@pytest.mark.parametrize("profile", ["smoke", "quick", "long", "paper", "paper-lite",
                                     "long+sensitivity", "smoke+sensitivity"])
def test_build_plan(profile):
    profile, _, extra = profile.partition("+")
    plan = build_plan(profile, [extra] if extra else [])
    assert plan.profile == profile and plan.runs and plan.figures and plan.groups
    for rid, cfg in plan.runs.items():
        assert cfg.run_id == rid
    # every study's and figure's runs are in the plan
    for rids in plan.studies.values():
        assert set(rids) <= set(plan.runs)
    for fig, info in plan.figures.items():
        assert info["runs"], fig
        assert set(info["runs"]) <= set(plan.runs), fig
        assert set(info["studies"]) <= set(plan.studies)
    # every run is in exactly one group, and a group's members can share an ensemble
    members = [r for g in plan.groups.values() for r in g]
    assert len(members) == len(set(members)) == len(plan.runs)
    assert set(members) == set(plan.runs)
    for gid, g in plan.groups.items():
        assert len({plan.runs[r].group_key() for r in g}) == 1, gid
        assert plan.group_of(g[0]) == gid
    # identical runs are deduplicated by content hash
    assert len({c.hash for c in plan.runs.values()}) == len(plan.runs)
    d = plan.to_dict()
    assert len(d["runs"]) == len(plan.runs)
    assert set(d["datasets"]) == set(plan.datasets)


def test_smoke_plan_respects_max_members():
    plan = build_plan("smoke")
    assert max(len(g) for g in plan.groups.values()) <= 8
    assert "F1" in plan.figures
    assert set(plan.figures["F1"]["runs"]) == set(plan.studies["sigma_sweep"])


def test_optional_studies_run_only_when_switched_on():
    off = build_plan("quick")
    on = build_plan("quick", "latents")  # a comma-separated string, as from --config
    assert "latents" not in off.studies and "natural_latents" not in off.datasets
    assert off.figures["F3"]["studies"] == ["datasets"]
    assert on.extras == ("latents",) and on.studies["latents"]
    assert {on.runs[r].dataset for r in on.studies["latents"]} == {"natural_latents"}
    # the latents are built from their images, each a pipeline step
    assert {"natural_latents", "natural_colour32"} <= set(on.datasets)
    assert on.figures["F3"]["studies"] == ["datasets", "latents"]
    assert set(on.studies["latents"]) <= set(on.figures["F3"]["runs"])
    # switching a study on adds runs, and changes none of the others
    assert set(off.runs) < set(on.runs) and set(off.groups) < set(on.groups)
    # one switch turns on every study of the latents: noise removal's too (claim 5)
    assert "noise_removal_latents" not in off.studies and on.studies["noise_removal_latents"]
    assert on.optional_on == {"latents", "noise_removal_latents"}
    assert on.figures["F9"]["studies"] == ["noise_removal", "noise_removal_latents"]
    # an optional study's own name switches on that study alone
    alone = build_plan("quick", "noise_removal_latents")
    assert "latents" not in alone.studies and alone.studies["noise_removal_latents"]
    assert alone.extras == ("noise_removal_latents",)
    # in the paper profile the latent study is not optional: always planned
    assert build_plan("paper").studies["latents"]
    with pytest.raises(ConfigError, match="did you mean 'latents'"):
        build_plan("quick", ["latent"])
    with pytest.raises(ConfigError, match="list of study names"):
        build_plan("quick", [3])


def test_unknown_profile_raises():
    with pytest.raises(ConfigError, match="unknown profile 'nope'") as e:
        build_plan("nope")
    for name in ("smoke", "quick", "long", "paper", "paper-lite"):
        assert name in str(e.value)


# --------------------------------------------------------------------------------- CLI


@pytest.fixture
def keep_sigpipe():
    """cli.main resets SIGPIPE for the process; put the test process's handler back."""
    old = signal.getsignal(signal.SIGPIPE)
    yield
    signal.signal(signal.SIGPIPE, old)


def test_cli_plan_unknown_profile_exits_2(capsys, keep_sigpipe):
    with pytest.raises(SystemExit) as e:
        cli.main(["plan", "--profile", "nope"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "noisesparse: error:" in err and "unknown profile 'nope'" in err


def test_cli_plan_json_lists_the_plan(capsys, keep_sigpipe):
    cli.main(["plan", "--profile", "smoke", "--json"])
    d = json.loads(capsys.readouterr().out)
    plan = build_plan("smoke")
    assert d["profile"] == "smoke"
    assert {r["id"] for r in d["runs"]} == set(plan.runs)
    assert set(d["groups"]) == set(plan.groups)


@pytest.mark.parametrize("field", ["beta1", "ramp_start", "topk_decay"])
def test_non_numeric_fields_are_config_errors(field):
    with pytest.raises(ConfigError, match=field):
        make_run_config({field: None})


# ------------------------------------------------------------------------ damaged results


def test_truncated_metrics_json_names_the_file_and_what_to_do(tmp_path, monkeypatch):
    """A truncated metrics.json used to raise a bare JSONDecodeError naming no file."""
    from noisesparse import paths
    from noisesparse.runs import results
    monkeypatch.setenv("NOISESPARSE_ROOT", str(tmp_path))
    run = tmp_path / paths.run_dir("r1")
    run.mkdir(parents=True)
    good = {"run_id": "r1", "status": "ok", "config": {"sigma": 0.1}, "final": {"loss": 1.0},
            "loss_zero": 2.0}
    text = json.dumps(good, indent=2)
    (run / "metrics.json").write_text(text)
    assert results.load_record("r1") == good
    for damaged, why in [(text[:len(text) // 2], "not valid JSON"), ("", "not valid JSON"),
                         (json.dumps({"run_id": "r1"}),
                          "missing status, config, final, loss_zero")]:
        (run / "metrics.json").write_text(damaged)
        with pytest.raises(MissingResults) as e:  # a ConfigError: the CLI says it plainly
            results.load_record("r1")
        msg = str(e.value)
        assert f"{run / 'metrics.json'} is damaged ({why}" in msg
        assert "delete results/runs/r1" in msg and "snakemake --cores 2" in msg
    (run / "metrics.json").write_text(text)
    (run / "history.csv").write_text("")
    with pytest.raises(MissingResults, match="history.csv is damaged"):
        results.load_history(["r1"])
    with pytest.raises(MissingResults, match="results of run r2 are missing"):
        results.load_record("r2")
    assert issubclass(MissingResults, ConfigError)


@pytest.mark.parametrize("value,error", [
    ("latents", "expected a list of study names, or a mapping"),  # neither list nor mapping
    ({"latents": "latents"}, "optional_studies: latents: 'latents' is not of type 'array'"),
    ({"latents": ["latentz"]}, "did you mean 'latents'"),  # an unknown study
])
def test_optional_studies_must_name_studies(tmp_path, monkeypatch, value, error):
    _edited_smoke(tmp_path, monkeypatch, lambda d: d.update(optional_studies=value))
    with pytest.raises(ConfigError, match=error):
        build_plan("smoke")


@pytest.mark.parametrize("edit,error", [
    # an unknown key: named, with the closest allowed one
    (lambda d: d.update(max_member=4), r"unknown key\(s\) in profile smoke: 'max_member' "
                                       r"\(did you mean 'max_members'\?\)"),
    (lambda d: d.setdefault("studies", {}).update(width={"grids": {}}),
     r"profile smoke: studies: width: 'grids' \(did you mean 'grid'\?\)"),
    # a wrong type: where, what it is, what was expected
    (lambda d: d.update(max_members="eight"), r"profile smoke: max_members: 'eight' is not of "
                                               r"type 'integer' \(expected the most runs"),
    (lambda d: d.update(max_members=0), r"max_members: 0 is less than the minimum of 1"),
    (lambda d: d.update(precision="fp16"), r"precision: 'fp16' is not one of"),
    (lambda d: d["run_defaults"].update(width=[64]), r"run_defaults: width: \[64\] is not of "
                                                     "type"),
])
def test_the_profile_schema_names_an_unknown_key_or_a_wrong_type(tmp_path, monkeypatch, edit,
                                                                 error):
    _edited_smoke(tmp_path, monkeypatch, edit)
    with pytest.raises(ConfigError, match=error):
        build_plan("smoke")


@pytest.mark.parametrize("edit,error", [
    (lambda d: d["figures"]["F1"].update(studys=["width"]),
     r"studies.yaml: figures: F1: 'studys' \(did you mean 'studies'\?\)"),
    (lambda d: d["studies"]["width"].update(grid={"sigma": []}),
     r"studies.yaml: studies: width: grid: sigma: \[\] should be non-empty"),
    (lambda d: d["figures"]["F1"].update(studies="sigma_sweep"),
     r"studies.yaml: figures: F1: studies: 'sigma_sweep' is not valid under any of the given "
     r"schemas \(expected the studies it draws: a list, or a mapping from the names"),
    (lambda d: d["figures"]["F11"]["studies"].update(noise="sigma_sweep"),
     r"studies.yaml: figures: F11: studies: noise: 'sigma_sweep' is not of type 'array'"),
    (lambda d: d["figures"]["F11"]["studies"].update(noise=["sigma_swep"]),
     r"figure F11 needs unknown studies \['sigma_swep'\]"),
])
def test_the_studies_schema_names_an_unknown_key_or_a_wrong_type(tmp_path, monkeypatch, edit,
                                                                 error):
    shutil.copytree(REPO / "config", tmp_path / "config")
    path = tmp_path / "config" / "studies.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data))
    monkeypatch.setenv("NOISESPARSE_ROOT", str(tmp_path))
    with pytest.raises(ConfigError, match=error):
        build_plan("smoke")


def test_every_profile_and_the_studies_meet_their_schemas():
    from noisesparse.plan.registry import load_profile, profile_names
    from noisesparse.plan.schema import validate
    for name in profile_names():
        load_profile(name)  # validates
    validate(yaml.safe_load((REPO / "config/studies.yaml").read_text()), "studies", "studies")
    validate(yaml.safe_load((REPO / "params.yaml").read_text()), "params", "params.yaml")


def test_init_option_keeps_every_default_run_id_and_names_the_other():
    import hashlib
    import json

    from noisesparse.training.config import RunConfig
    c = RunConfig(dataset="natural_grey6", width=16, sigma=0.8)
    old = {k: v for k, v in c.to_dict().items() if k != "init"}  # the hash before `init`
    assert c.hash == hashlib.sha256(json.dumps(old, sort_keys=True, default=str)
                                    .encode()).hexdigest()[:12]
    n = RunConfig(dataset="natural_grey6", width=16, sigma=0.8, init="normal")
    assert n.hash != c.hash and "initnormal" in n.run_id and "init" not in c.run_id
    with pytest.raises(ConfigError):
        RunConfig(init="xavier")
    with pytest.raises(ConfigError):
        RunConfig(arch="transformer", task="language_model", init="normal")


def test_normal_init_draws_weights_at_one_over_fan_in_and_zero_biases():
    from noisesparse.training.config import RunConfig
    from noisesparse.training.model import SparseNet
    cfg = RunConfig(dataset="natural_grey6", width=512, init="normal")
    net = SparseNet([cfg], 144, 144)
    assert float(net.w1.detach().std()) == pytest.approx(144 ** -0.5, rel=0.02)
    assert float(net.w2.detach().std()) == pytest.approx(512 ** -0.5, rel=0.02)
    assert float(net.b1.detach().abs().max()) == 0 == float(net.b2.detach().abs().max())
    torch_ = SparseNet([RunConfig(dataset="natural_grey6", width=512)], 144, 144)
    assert float(torch_.b1.detach().abs().max()) > 0  # the default keeps PyTorch's uniform biases


def test_paper_lite_plans_the_departing_claims_at_the_papers_settings():
    from noisesparse.pipeline.estimate import estimate
    from noisesparse.plan.registry import build_plan
    plan = build_plan("paper-lite")
    assert set(plan.studies) == {"sigma_sweep", "shared_bias", "noise_removal",
                                 "preactivations", "robustness"}
    for c in plan.runs.values():
        assert (c.dataset, c.width, c.lr, c.batch_size) == ("cifar10_latents", 10000, 1e-4, 1024)
        assert c.steps >= 39200  # 800 epochs of 49 steps (noise removal: 2,000)
    # figures whose studies are off are not drawn, and F18 reads only the tables drawn
    assert {"F10", "F11", "F12", "F22"}.isdisjoint(plan.figures)
    read = {p.split("/")[-1].split("_")[0].split(".")[0] for p in plan.figures["F18"]["inputs"]}
    assert read == {"F19", "F20"}
    # two hours on one GPU need at most 10 TFLOP/s sustained (docs/studies.md)
    pflop = float(estimate(plan)["pflop"].iloc[-1])
    assert pflop * 1e15 / (2 * 3600) <= 10e12


def test_a_profile_that_extends_another_merges_its_vars_and_run_defaults(tmp_path, monkeypatch):
    from noisesparse.plan.registry import load_profile
    (tmp_path / "profiles").mkdir()
    shutil.copy(paths.config_dir() / "studies.yaml", tmp_path / "studies.yaml")
    shutil.copytree(paths.config_dir() / "schemas", tmp_path / "schemas")
    (tmp_path / "profiles/base.yaml").write_text(
        "device: cuda\ncompile: true\nvars: {a: 1, b: [2]}\nrun_defaults: {width: 8, steps: 5}\n")
    (tmp_path / "profiles/small.yaml").write_text(
        "extends: base\ncompile: false\nvars: {b: [3]}\nrun_defaults: {steps: 2}\n")
    (tmp_path / "profiles/loop.yaml").write_text("extends: loop2\n")
    (tmp_path / "profiles/loop2.yaml").write_text("extends: loop\n")
    (tmp_path / "profiles/orphan.yaml").write_text("extends: nowhere\n")
    monkeypatch.setattr(paths, "config_dir", lambda: tmp_path)
    assert load_profile("small") == {"device": "cuda", "compile": False,
                                     "vars": {"a": 1, "b": [3]},
                                     "run_defaults": {"width": 8, "steps": 2}}
    with pytest.raises(ConfigError, match="profile loop2: extends 'loop', which extends it back"):
        load_profile("loop")
    with pytest.raises(ConfigError, match="unknown profile 'nowhere'"):
        load_profile("orphan")


def test_a_noise_schedule_written_in_steps_is_the_fraction_it_means():
    steps = make_run_config({"steps": 7500, "schedule": "linear", "sigma_end": 0.0,
                             "ramp_start_step": 4000, "ramp_end_step": 6000})
    fractions = make_run_config({"steps": 7500, "schedule": "linear", "sigma_end": 0.0,
                                 "ramp_start": 0.5333333333333333, "ramp_end": 0.8})
    assert steps == fractions and steps.hash == fractions.hash  # the same run, trained once
    with pytest.raises(ConfigError, match="ramp_end_step must be a step between 0 and steps "
                                          r"\(100\), got 101"):
        make_run_config({"steps": 100, "ramp_end_step": 101})
    with pytest.raises(ConfigError, match="give ramp_start .* or ramp_start_step, not both"):
        make_run_config({"steps": 100, "ramp_start": 0.5, "ramp_start_step": 50})


def test_an_optional_study_without_its_vars_names_the_profiles_that_run_it():
    with pytest.raises(ConfigError, match=r"study sens_width, switched on by `with`, needs "
                       r"\$sens_widths, which profile quick does not set: run it with a "
                       r"profile that does \(long, smoke\), e.g. `snakemake --cores 2 "
                       r"--config profile=long with=sensitivity`"):
        build_plan("quick", ["sensitivity"])


def test_a_figure_reads_its_studies_by_role_and_an_undeclared_role_is_named():
    """A figure's `studies` mapping: each role gives the planned studies it names, in order;
    the flat list is their union; a switched-off optional study drops out of its role."""
    off, on = build_plan("quick"), build_plan("quick", "latents")
    assert on.reads("F19", "reconstruction") == ["sigma_sweep", "latents"]
    assert off.reads("F19", "reconstruction") == ["sigma_sweep"]
    assert on.reads("F19") == ["robustness", "sigma_sweep", "latents"]
    assert set(on.read_runs("F19", "classifiers")) == set(on.studies["robustness"])
    assert off.reads("F18", "removal_latents") == []
    assert off.read_runs("F18", "removal_latents") == []
    assert off.reads("no such figure", "sweep") == []
    with pytest.raises(ConfigError, match=r"F18 declares no role 'sweeps'.*its roles: sweep,"):
        off.reads("F18", "sweeps")


def _study_names_in_code(folders) -> list[str]:
    """String constants equal to a study name in the modules under `folders` (of the
    package), except names that are also run fields (the `width` study and field)."""
    import ast

    studies = set(yaml.safe_load((REPO / "config/studies.yaml").read_text())["studies"])
    names = studies - {f.name for f in dataclasses.fields(RunConfig)}
    out = []
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and node.value in names:
                    out.append(f"{path.name}:{node.lineno}: {node.value!r}")
    return out


def test_no_claim_figure_or_report_module_names_a_study(tmp_path):
    """Each study is named once, in config/studies.yaml: the code above the plan reads it by
    role (Plan.reads). The scan finds a study named in a hand-built module, and none in ours."""
    (tmp_path / "bad.py").write_text('runs = plan.studies["noise_removal"]\n')
    assert _study_names_in_code([tmp_path]) == ["bad.py:1: 'noise_removal'"]
    pkg = REPO / "src/noisesparse"
    assert _study_names_in_code([pkg / d for d in ("claims", "figures", "report", "runs",
                                                   "measures")]) == []
