"""The single source of truth for WHAT the workflow runs.

Studies (grids of runs) and figures are declared once in config/studies.yaml; a profile
(config/profiles/<name>.yaml) scales them. `build_plan(profile)` expands every study into
validated `RunConfig`s, deduplicates identical runs by content hash, packs runs that share
shapes into batched training groups, and lists the runs each figure needs. Snakemake and
DVC both read this plan, so the two engines describe the same pipeline.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .. import paths
from ..data import dataset_spec, sources
from ..errors import ConfigError
from ..training.config import RunConfig, check_keys, make_run_config
from .schema import validate

# The figure whose table holds the verdicts per claim. The summary computes the same
# verdicts (noisesparse.claims), so it reads the same figure tables as this figure.
VERDICT_FIGURE = "F18"


@dataclass
class Plan:
    profile: str
    description: str
    device: str
    precision: str = "tf32"
    compile: bool = False  # torch.compile the training step: forward, loss, fused update
    extras: tuple[str, ...] = ()  # switches of optional studies turned on (`with`)
    optional_on: set[str] = field(default_factory=set)  # the optional studies they turn on
    optional_runs: set[str] = field(default_factory=set)  # runs only those studies have
    runs: dict[str, RunConfig] = field(default_factory=dict)
    studies: dict[str, list[str]] = field(default_factory=dict)
    study_info: dict[str, str] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    figures: dict[str, dict] = field(default_factory=dict)
    summary_inputs: list[str] = field(default_factory=list)  # figure tables the summary reads

    @property
    def datasets(self) -> list[str]:
        """Every dataset the runs read, and those they are built from (a step each)."""
        todo, seen = [c.dataset for c in self.runs.values()], set()
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(sources(name))
        return sorted(seen)

    def group_of(self, run_id: str) -> str:
        for gid, members in self.groups.items():
            if run_id in members:
                return gid
        raise KeyError(run_id)

    def describe(self, run_ids) -> str:
        """Profile, data and scale of some runs, for a caption."""
        cfgs = [self.runs[r] for r in run_ids if r in self.runs]

        def values(field):
            return ", ".join(str(v) for v in sorted({getattr(c, field) for c in cfgs}, key=str))

        return (f"profile {self.profile}; data {values('dataset')}; width {values('width')}; "
                f"{values('steps')} steps of batch {values('batch_size')}; {len(cfgs)} runs")

    def reads(self, fig: str, role: str | None = None) -> list[str]:
        """The planned studies figure `fig` draws, or only those it reads as `role` (its
        `studies` mapping in config/studies.yaml): code names a role, never a study, so each
        study is named once. An optional study switched off, or a figure not drawn, reads
        nothing. The claims read F18's roles (VERDICT_FIGURE)."""
        info = self.figures.get(fig)
        if info is None:
            return []
        if role is None:
            return list(info["studies"])
        if role not in info["roles"]:
            raise ConfigError(f"figure {fig} declares no role {role!r} in config/studies.yaml; "
                              f"its roles: {', '.join(info['roles']) or 'none'}")
        return list(info["roles"][role])

    def read_runs(self, fig: str, role: str | None = None) -> list[str]:
        """The runs of `reads(fig, role)`, each once."""
        return list(dict.fromkeys(r for s in self.reads(fig, role) for r in self.studies[s]))

    def caption(self, fig: str) -> str:
        """A figure's caption for the report: what it shows and what made it."""
        info = self.figures[fig]
        studies = "; ".join(f"{s}: {self.study_info[s]}" for s in info["studies"])
        return f"{fig}. {info['title']}. Studies: {studies}. Made by {self.describe(info['runs'])}."

    def cli_opts(self, group: str | None = None, figure: str | None = None,
                 summary: bool = False) -> str:
        """Plan options of a pipeline step's command. `--with` only where the step needs an
        optional study, so that switching one on changes (and re-runs) no other step. A
        training group's precision is in its command, so that changing it re-runs the
        group in both engines (the language model has no precision setting)."""
        needs = ((group is not None and any(r in self.optional_runs for r in self.groups[group]))
                 or (figure is not None and any(s in self.optional_on
                                                for s in self.figures[figure]["studies"]))
                 or (summary and bool(self.extras)))  # the summary covers every study
        prec = (group is not None and self.runs[self.groups[group][0]].arch != "transformer")
        return (f"--profile {self.profile}" + (f" --with {','.join(self.extras)}" if needs else "")
                + (f" --precision {self.precision}" if prec else ""))

    def step_deps(self, group: str | None = None, figure: str | None = None,
                  dataset: str | None = None) -> list[str]:
        """Source and config files a step's result depends on besides its data and runs
        (noisesparse.plan.deps); Snakemake's inputs and DVC's deps both list them. No argument:
        the summary step's."""
        from . import deps
        if group is not None:
            return deps.train_code(self.runs[self.groups[group][0]].arch)
        if figure is not None:
            return deps.figure_code(figure)
        if dataset is None:
            return deps.summary_code()
        return ["config/datasets.yaml"] + deps.data_code(dataset_spec(dataset)["kind"])

    def to_dict(self) -> dict:
        return {
            "profile": self.profile,
            "with": list(self.extras),
            "description": self.description,
            "datasets": {d: paths.processed(d) for d in self.datasets},
            "runs": [{"id": rid, "hash": c.hash, "group": self.group_of(rid),
                      "dir": paths.run_dir(rid), "config": c.to_dict()}
                     for rid, c in self.runs.items()],
            "groups": {gid: {"runs": members, "dataset": self.runs[members[0]].dataset,
                             "outputs": [paths.run_dir(r) for r in members]}
                       for gid, members in self.groups.items()},
            "studies": {name: {"description": self.study_info[name], "runs": rids}
                        for name, rids in self.studies.items()},
            "figures": self.figures,
        }


def _read_yaml(path: Path, what: str) -> dict:
    if not path.exists():
        raise ConfigError(f"{what} not found: {path}")
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def profile_names() -> list[str]:
    return sorted(p.stem for p in (paths.config_dir() / "profiles").glob("*.yaml"))


MERGED = ("vars", "run_defaults")  # the keys a profile that `extends` another merges key by key


def load_profile(name: str, _seen: tuple = ()) -> dict:
    """A profile of config/profiles/, validated. One that `extends` another is that profile
    with its own keys in place of the other's, but `vars` and `run_defaults` merged key by
    key (e.g. paper-lite-smoke: paper-lite's studies at smoke size)."""
    path = paths.config_dir() / "profiles" / f"{name}.yaml"
    if not path.exists():
        raise ConfigError(f"unknown profile {name!r}; choose one of {', '.join(profile_names())}")
    prof = _read_yaml(path, "profile")
    validate(prof, "profile", f"profile {name}")
    parent = prof.pop("extends", None)
    if parent is None:
        return prof
    if parent in _seen + (name,):
        raise ConfigError(f"profile {name}: extends {parent!r}, which extends it back")
    base = load_profile(parent, _seen + (name,))
    merged = {**base, **prof}
    for key in MERGED:
        merged[key] = {**(base.get(key) or {}), **(prof.get(key) or {})}
    return merged


class UndefinedVar(ConfigError):
    """A study names a $var its profile does not set (`var`: the name)."""

    def __init__(self, var: str, message: str):
        super().__init__(message)
        self.var = var


def _resolve(value, vars_: dict, where: str):
    """`$name` is a profile var; `$name.i` its i-th element."""
    if isinstance(value, str) and value.startswith("$"):
        key, _, index = value[1:].partition(".")
        if key not in vars_:
            raise UndefinedVar(key, f"{where}: {value} is not defined in the profile's vars "
                                    f"({', '.join(vars_) or 'none'})")
        if not index:
            return vars_[key]
        try:
            return vars_[key][int(index)]
        except (ValueError, IndexError, TypeError):
            raise ConfigError(f"{where}: {value}: {key} has no element {index}") from None
    return value


def resolve(profile: str, value, where: str = "reference"):
    """Resolve a `$var` against a profile (used by the replication table)."""
    return _resolve(value, load_profile(profile).get("vars") or {}, where)


def _expand(name: str, study: dict, defaults: dict, vars_: dict) -> list[RunConfig]:
    base = {**defaults, **{k: _resolve(v, vars_, f"study {name}")
                           for k, v in (study.get("base") or {}).items()}}
    grid = {k: _resolve(v, vars_, f"study {name}") for k, v in (study.get("grid") or {}).items()}
    for k, v in grid.items():
        if not isinstance(v, list) or not v:
            raise ConfigError(f"study {name}: grid {k} must be a non-empty list, got {v!r}")
    variants = study.get("variants") or [{}]  # a list of mappings (the schema)
    runs = []
    for variant, combo in itertools.product(variants, itertools.product(*grid.values())):
        values = {**base, **{k: _resolve(v, vars_, f"study {name}") for k, v in variant.items()},
                  **dict(zip(grid, combo))}
        cfg = make_run_config(values, f"study {name}")
        dataset_spec(cfg.dataset)  # unknown dataset: a clear error at plan time
        runs.append(cfg)
    return runs


def _expand_switched(name: str, study: dict, defaults: dict, vars_: dict, profile: str,
                     switch: str | None) -> list[RunConfig]:
    """_expand; for an optional study switched on by `with` (its word: `switch`) whose $vars
    this profile does not set, an error that says which profiles run it."""
    try:
        return _expand(name, study, defaults, vars_)
    except UndefinedVar as e:
        if not switch:
            raise
        var = e.var
        where = [p for p in profile_names() if var in (load_profile(p).get("vars") or {})]
        raise ConfigError(f"study {name}, switched on by `with`, needs ${var}, which profile "
                          f"{profile} does not set: run it with a profile that does "
                          f"({', '.join(where) or 'none'}), e.g. `snakemake --cores 2 --config "
                          f"profile={where[0] if where else '<profile>'} with={switch}`") from None


def _group_id(members: list[RunConfig]) -> str:
    c = members[0]
    h = hashlib.sha256("".join(m.hash for m in members).encode()).hexdigest()[:10]
    return f"{c.dataset}-n{c.width}-{c.task[:5]}-{h}"


def parse_extras(value) -> tuple[str, ...]:
    """`with` as given on a command line, in params.yaml or Snakemake's --config: a list,
    a comma-separated string, or nothing."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"`with` must be a list of study names, got {value!r}")
    return tuple(dict.fromkeys(v.strip() for v in value if v.strip()))


def optional_switches(prof: dict, studies: dict, profile: str) -> dict[str, list[str]]:
    """A profile's `optional_studies`: a list of study names, each its own switch, or a
    mapping from a switch (the word `with` takes) to the studies it turns on, e.g.
    {latents: [latents, noise_removal_latents]}: every study on the ConvMixer latents.
    Its shape is the schema's (config/schemas/profile.schema.yaml)."""
    optional = prof.get("optional_studies") or []
    switches = ({s: [s] for s in optional} if isinstance(optional, list)
                else {k: list(v) for k, v in optional.items()})
    for names in switches.values():
        check_keys(names, studies, f"profile {profile}: optional_studies")
    return switches


def build_plan(profile: str, extras=()) -> Plan:
    """The runs, training groups and figures of a profile. Studies the profile lists under
    `optional_studies` are left out unless their switch (or their own name) is in `extras`
    (e.g. the quick profile's latent-space studies, which need the authors' ConvMixer
    weights)."""
    prof = load_profile(profile)
    spec = _read_yaml(paths.config_dir() / "studies.yaml", "study registry")
    validate(spec, "studies", "studies.yaml")
    studies = spec.get("studies") or {}
    overrides = prof.get("studies") or {}
    check_keys(overrides, studies, f"profile {profile}: studies")
    switches = optional_switches(prof, studies, profile)
    optional = {s for names in switches.values() for s in names}
    for s in optional:  # an optional study's own name switches it on too
        switches.setdefault(s, [s])
    extras = parse_extras(extras)
    check_keys(extras, set(studies) | set(switches), "`with` (study names)")
    extras = tuple(s for s in extras if s in switches)  # naming a planned study: a no-op
    on = {s for e in extras for s in switches[e]}
    skipped = optional - on
    vars_ = prof.get("vars") or {}
    defaults = prof.get("run_defaults") or {}
    max_members = prof.get("max_members", 8)
    plan = Plan(profile, (prof.get("description") or "").strip(), prof.get("device", "auto"),
                prof.get("precision", "tf32"), prof.get("compile", False), extras, on)

    for name, study in studies.items():
        if name in skipped:
            continue
        ov = overrides.get(name) or {}
        merged = {"base": {**(study.get("base") or {}), **(ov.get("base") or {})},
                  "variants": ov.get("variants", study.get("variants")),
                  "grid": {**(study.get("grid") or {}), **(ov.get("grid") or {})}}
        rids = []
        switch = next((e for e in extras if name in switches[e]), None)
        for cfg in _expand_switched(name, merged, defaults, vars_, profile, switch):
            plan.runs.setdefault(cfg.run_id, cfg)  # identical runs train once
            if cfg.run_id not in rids:
                rids.append(cfg.run_id)
        plan.studies[name] = rids
        plan.study_info[name] = study.get("description", "")
    base = {r for name, rids in plan.studies.items() if name not in on for r in rids}
    plan.optional_runs = set(plan.runs) - base

    by_key: dict[str, list[RunConfig]] = {}
    for cfg in plan.runs.values():
        by_key.setdefault(cfg.group_key(), []).append(cfg)
    for members in by_key.values():
        members.sort(key=lambda c: (c.sigma, c.sigma_end, c.seed, c.lr, c.l1, c.hash))
        for i in range(0, len(members), max_members):
            chunk = members[i:i + max_members]
            plan.groups[_group_id(chunk)] = [c.run_id for c in chunk]

    for fig, info in (spec.get("figures") or {}).items():
        roles = info["studies"] if isinstance(info["studies"], dict) else {}
        declared = list(dict.fromkeys(s for names in roles.values() for s in names)
                        if roles else info["studies"])
        missing = [s for s in declared if s not in studies]
        if missing:
            raise ConfigError(f"figure {fig} needs unknown studies {missing}")
        fig_studies = [s for s in declared if s not in skipped]
        if not fig_studies:
            continue  # every study it draws is optional and off
        needs = info.get("needs") or []
        if needs and all(s in skipped for s in needs):
            continue  # drawn only beside one of these (F22: the sensitivity ladder's)
        runs = list(dict.fromkeys(r for s in fig_studies for r in plan.studies[s]))
        tables = info.get("tables") or []
        # `reads`: figures whose data tables this one reads (F18's claims 6 and 10 read
        # F10's fitted fields, F19's attacks and F20's timings): their CSVs become inputs.
        reads = info.get("reads") or []
        unknown = [f for f in reads if f not in (spec.get("figures") or {})]
        if unknown:
            raise ConfigError(f"figure {fig} reads unknown figures {unknown}")
        inputs = [o for f in reads if f in plan.figures  # a figure not drawn here: not read
                  for o in paths.figure_files(f, spec["figures"][f].get("tables") or [])
                  if o.endswith(".csv")]
        plan.figures[fig] = {"title": info.get("title", fig), "studies": fig_studies,
                             "roles": {role: [s for s in names if s not in skipped]
                                       for role, names in roles.items()},
                             "runs": runs, "tables": tables, "inputs": inputs,
                             "outputs": paths.figure_files(fig, tables)}
    if VERDICT_FIGURE in plan.figures:
        plan.summary_inputs = list(plan.figures[VERDICT_FIGURE]["inputs"])
    return plan
