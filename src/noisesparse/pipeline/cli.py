"""Command line: one sub-command per pipeline step, called by Snakemake and DVC alike."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import yaml

from .. import paths
from ..errors import ConfigError

log = logging.getLogger("noisesparse")
DVC_YAML = "dvc.yaml"


def _params() -> dict:
    """params.yaml, checked against config/schemas/params.schema.yaml (as the Snakefile
    checks Snakemake's config)."""
    from ..plan.schema import validate
    p = paths.root() / "params.yaml"
    params = (yaml.safe_load(p.read_text()) or {}) if p.exists() else {}
    if params:
        validate(params, "params", str(p))
    return params


def default_profile() -> str:
    return _params().get("profile", "quick")


def default_extras() -> tuple[str, ...]:
    from ..plan.registry import parse_extras
    return parse_extras(_params().get("with"))


def cmd_plan(args):
    from ..plan.registry import build_plan
    plan = build_plan(args.profile, args.extras)
    if args.json:
        json.dump(plan.to_dict(), sys.stdout, indent=1)
        print()
        return
    print(f"profile {plan.profile}: {len(plan.runs)} runs in {len(plan.groups)} training "
          f"groups, {len(plan.figures)} figures, datasets {', '.join(plan.datasets)}")
    for name, rids in plan.studies.items():
        print(f"  study {name:<14} {len(rids):4d} runs  {plan.study_info[name]}")
    for gid, members in plan.groups.items():
        c = plan.runs[members[0]]
        print(f"  group {gid}: {len(members)} members x {c.steps} steps, width {c.width}")
    for fig, info in plan.figures.items():
        print(f"  figure {fig:<4} {len(info['runs']):4d} runs  {info['title']}")
    _print_estimate(plan, args.bench)


def _print_estimate(plan, bench: str | None):
    from .estimate import estimate, latest_bench, throughput_from_bench
    path = bench or latest_bench()
    device, rate = throughput_from_bench(path) if path else ("(no benchmark)", None)
    table = estimate(plan, rate)
    print(f"compute estimate: {table.iloc[-1]['pflop']:.3g} PFLOP"
          + (f", {table.iloc[-1]['hours']:.2f} h on {device} at the {rate / 1e12:.1f} TFLOP/s "
             f"our trainer measured ({path})" if rate else
             "; run `noisesparse bench` on the target device for a time estimate"))
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


# Curve tables that `dvc plots show / diff` draw: (table, x, y, fields telling curves apart).
# Each colour grouping has its own Vega-Lite template in workflow/plots/ (dvc-plan writes it).
PLOTS = [("F1", "step", "frac_active_clean_mean", ("sigma",)),
         ("F1", "step", "frac_active_noisy_mean", ("sigma",)),
         ("F2", "sigma", "frac_active_clean_mean", ("width",)),
         ("F2", "sigma", "frac_dead_mean", ("width",)),
         ("F7_spread", "step", "bias_mean", ("sigma",)),
         ("F7_spread", "step", "wnorm_cv", ("sigma",)),
         ("F9", "step", "frac_active_clean", ("schedule", "sigma")),
         ("F14", "sigma", "frac_active_living_mean", ()),
         ("F14", "sigma", "frac_dead_mean", ())]
PLOT_DIR = "workflow/plots"


def plot_template(fields: tuple[str, ...]) -> tuple[str, dict]:
    """(path, Vega-Lite template) of a line chart with one curve per value of `fields`,
    dashed per revision in `dvc plots diff`."""
    name = "by_" + "_".join(fields) if fields else "line"
    series = " + ' ' + ".join(f"'{f}=' + datum.{f}" for f in fields) or "'all'"
    tpl = {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "data": {"values": "<DVC_METRIC_DATA>"},
        "title": "<DVC_METRIC_TITLE>",
        "width": 360, "height": 260,
        "transform": [{"calculate": series, "as": "curve"}],
        "mark": {"type": "line", "point": True, "tooltip": True},
        "encoding": {
            "x": {"field": "<DVC_METRIC_X>", "type": "quantitative",
                  "title": "<DVC_METRIC_X_LABEL>"},
            "y": {"field": "<DVC_METRIC_Y>", "type": "quantitative",
                  "title": "<DVC_METRIC_Y_LABEL>"},
            "color": {"field": "curve", "type": "nominal"},
            "strokeDash": {"field": "rev", "type": "nominal"},
        },
    }
    return f"{PLOT_DIR}/{name}.json", tpl


def dvc_params(opts: str) -> list:
    """params.yaml keys a step's command takes: the profile always, `with` when passed."""
    return ["profile"] + (["with"] if "--with" in opts else [])


def dvc_yaml_dict(profile: str, extras=()) -> dict:
    """dvc.yaml for the profile (and optional studies switched on): one stage per dataset,
    training group and figure, and the summary (DVC metrics), with the same commands,
    inputs and output paths as the Snakefile (both read the registry's plan); the curve
    tables as DVC plots."""
    from ..report import summary
    from ..data import sources
    from ..report.landing import LANDING
    from ..plan.registry import build_plan
    plan = build_plan(profile, extras)
    d = plan.to_dict()
    stages = {}
    for name, path in d["datasets"].items():
        stages[f"data_{name}"] = {"cmd": f"noisesparse data {name}",
                                  "deps": plan.step_deps(dataset=name)
                                  + [paths.processed(s) for s in sources(name)],
                                  "outs": [path]}
    for gid, g in d["groups"].items():
        opts = plan.cli_opts(group=gid)
        stages[f"train_{gid}"] = {
            "cmd": f"noisesparse train {opts} --group {gid} --no-progress",
            "deps": [paths.processed(g["dataset"])] + plan.step_deps(group=gid),
            "params": dvc_params(opts), "outs": g["outputs"]}
    for fig, info in d["figures"].items():
        opts = plan.cli_opts(figure=fig)
        stages[f"figure_{fig}"] = {
            "cmd": f"noisesparse figure {fig} {opts}",
            "deps": [paths.run_dir(r) for r in info["runs"]] + info["inputs"]
            + plan.step_deps(figure=fig),
            "params": dvc_params(opts), "outs": info["outputs"]}
    opts = plan.cli_opts(summary=True)
    stages["summary"] = {
        "cmd": f"noisesparse summary {opts}",
        "deps": [paths.run_dir(r) for r in plan.runs] + plan.summary_inputs
        + plan.step_deps(),
        "params": ["profile", "with"], "outs": [LANDING], "metrics": [summary.SUMMARY]}
    outs = {o for info in d["figures"].values() for o in info["outputs"]}
    plots = []
    for table, x, y, fields in PLOTS:
        path = f"results/tables/{table}.csv"
        if path in outs:
            plots.append({f"{table}_{y}": {"template": plot_template(fields)[0], "x": x,
                                           "y": {path: y}, "title": f"{table}: {y} vs {x}"}})
    return {"stages": stages, "plots": plots}


def _set_params(profile: str, extras) -> None:
    """Point params.yaml at the profile (and optional studies) dvc.yaml is written for,
    keeping its comments."""
    import re
    p = paths.root() / "params.yaml"
    text = p.read_text() if p.exists() else "profile: quick\nwith: []\n"
    for key, value in (("profile", profile), ("with", "[" + ", ".join(extras) + "]")):
        line = f"{key}: {value}"
        text, n = re.subn(rf"(?m)^{key}:.*$", line, text)
        if not n:
            text += line + "\n"
    p.write_text(text)


def cmd_dvc_plan(args):
    text = (f"# Generated by `noisesparse dvc-plan` from the registry for profile "
            f"{args.profile!r}{' with ' + ','.join(args.extras) if args.extras else ''} "
            "(params.yaml).\n# Do not edit: regenerate it. "
            "tests/test_workflow.py fails if it drifts from the registry.\n"
            + yaml.safe_dump(dvc_yaml_dict(args.profile, args.extras), sort_keys=False,
                             width=1000))
    templates = {path: json.dumps(tpl, indent=1, ensure_ascii=False) + "\n"
                 for path, tpl in (plot_template(f) for *_, f in PLOTS)}
    target = paths.root() / DVC_YAML
    if args.check:
        stale = [str(p) for p, t in [(target, text)] + [(paths.root() / k, v)
                                                        for k, v in templates.items()]
                 if not p.exists() or p.read_text() != t]
        if stale:
            raise ConfigError(f"{', '.join(stale)} out of date for profile {args.profile}"
                              f"{' --with ' + ','.join(args.extras) if args.extras else ''}: "
                              "run `noisesparse dvc-plan`")
        print(f"{DVC_YAML} is up to date ({args.profile})")
        return
    if args.explicit:  # keep params.yaml (what the stages read and DVC tracks) in step
        _set_params(args.profile, args.extras)
    for path, t in templates.items():
        (paths.root() / path).parent.mkdir(parents=True, exist_ok=True)
        (paths.root() / path).write_text(t)
    target.write_text(text)
    print(f"wrote {DVC_YAML} for profile {args.profile}"
          + (" and set it in params.yaml" if args.explicit else ""))


def cmd_summary(args):
    """The summary (--out), and the report's landing written from it (landing.LANDING)."""
    from ..report import summary
    from ..claims import verdicts
    from ..report.landing import LANDING, landing_html
    from ..output import write_text
    from ..plan.registry import build_plan
    plan = build_plan(args.profile, args.extras)
    table = verdicts(plan)
    result = summary.summarise(plan, table)
    out = summary.write(result, paths.root() / args.out)
    write_text(landing_html(result, table.to_dict("records")), paths.root() / LANDING)
    print(out)


def cmd_regress(args):
    """The CI check: every output of the plan's figures exists, and the summary agrees with
    the committed one within the declared tolerances."""
    from ..report import summary
    from ..plan.registry import build_plan
    plan = build_plan(args.profile, args.extras)
    root = paths.root()
    missing = [o for info in plan.figures.values() for o in info["outputs"]
               if not (root / o).exists() or (root / o).stat().st_size == 0]
    if not (root / "results/tables/F18_verdicts.csv").exists():
        missing.append("results/tables/F18_verdicts.csv")
    expected = args.expected or str(root / summary.regression_file(plan.profile, plan.extras))
    problems = summary.compare(summary.read(root / args.summary), summary.read(expected),
                               summary.load_tolerances(args.tolerances
                                                       or root / summary.TOLERANCES))
    for m in missing:
        print(f"missing output: {m}")
    for p in problems:
        print(f"regression: {p}")
    if missing or problems:
        print(f"noisesparse regress: {len(missing)} missing outputs, {len(problems)} results "
              f"differ from {expected}. An intended change: regenerate it (docs/workflow.md, CI).",
              file=sys.stderr)
        sys.exit(1)
    print(f"{sum(len(i['outputs']) for i in plan.figures.values())} figure outputs present; "
          f"summary agrees with {expected}")


def cmd_readme_results(args):
    """README.md's results tables from the committed summaries (summary.regression_file of
    each README profile)."""
    from ..report.findings import README_PROFILES, update_readme
    ok = update_readme(paths.root(), check=args.check)
    profiles = ", ".join(README_PROFILES.values())
    if args.check and not ok:
        print(f"README.md's results tables differ from {profiles}: run `noisesparse "
              "readme-results`", file=sys.stderr)
        sys.exit(1)
    print(f"README.md's results tables {'match' if args.check else 'written from'} {profiles}")


def cmd_slurm_check(args):
    from .slurm import check, profile_requests
    req = profile_requests(Path(args.profile_file))
    found = check(Path(args.profile_file))
    for line in found:
        print(f"noisesparse slurm-check: {line}", file=sys.stderr)
    if found:
        sys.exit(1)
    print(f"every job's request fits partition {req['partition']!r}: {req['cpus']} CPUs, "
          f"{req['mem_mb']} MB, {req['runtime']} min; training jobs also 1 GPU")


def cmd_data(args):
    from ..data import build
    print(build(args.name))


def cmd_train(args):
    import torch

    from ..data import load
    from ..devices import cpu_threads
    from ..plan.registry import build_plan
    torch.set_num_threads(cpu_threads(args.threads))  # the CPUs this job was given
    log.info("%d CPU thread(s)", torch.get_num_threads())
    plan = build_plan(args.profile, args.extras)
    if args.group not in plan.groups:
        raise ConfigError(f"no training group {args.group!r} in profile {args.profile}")
    configs = [plan.runs[r] for r in plan.groups[args.group]]
    data = load(configs[0].dataset)
    root = paths.root()  # where results are read (runs.results), whatever the cwd
    out_dirs = [str(root / paths.run_dir(c.run_id)) for c in configs]
    device, progress = args.device or plan.device, not args.no_progress
    compiled = plan.compile if args.compile is None else args.compile
    if configs[0].arch == "transformer":  # the language model has its own trainer
        from ..training.lm.train import train_lm_group
        if compiled:
            log.info("torch.compile covers the one-hidden-layer network only: the "
                     "Transformer group %s trains eagerly", args.group)
        train_lm_group(configs, data, out_dirs, str(root / paths.partial_dir(args.group)),
                       device, progress, ckpt_every=args.checkpoint_every)
        return
    from ..training.train import train_group
    train_group(configs, data, out_dirs, ckpt_path=str(root / paths.partial_ckpt(args.group)),
                device=device, progress=progress, ckpt_every=args.checkpoint_every,
                precision=args.precision or plan.precision, compile=compiled)


def cmd_figure(args):
    from ..figures import draw
    from ..plan.registry import build_plan
    plan = build_plan(args.profile, args.extras)
    if args.figure not in plan.figures:
        raise ConfigError(f"unknown figure {args.figure!r}; the registry has "
                          f"{', '.join(plan.figures)}")
    for out in draw(args.figure, plan):
        print(out)


def cmd_bench(args):
    import torch

    from .bench import run
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.precision_check:
        from .bench import precision_check
        precision_check(device=args.device, steps=args.check_steps, out_dir=args.out)
        return
    run(d=args.in_dim, width=args.width, batch=args.batch, steps=args.steps,
        members=tuple(args.members), device=args.device, out_dir=args.out,
        precision=args.precision, compile=args.compile)


def _dvc_guard(profile: str) -> None:
    """Under DVC a stage's command names the profile dvc.yaml was generated for; params.yaml
    naming another (`dvc exp run -S profile=...`) means dvc.yaml is stale."""
    wanted = default_profile()
    if wanted != profile:
        raise ConfigError(f"params.yaml says profile {wanted!r} but dvc.yaml was generated "
                          f"for {profile!r}: DVC cannot change its stages from a parameter. "
                          f"Run `noisesparse dvc-plan --profile {wanted}`, then `dvc exp run` "
                          "(or `dvc repro`)")


def main(argv=None):
    import signal
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `noisesparse plan | head` exits quietly
    logging.basicConfig(level=logging.INFO, format="%(asctime)s noisesparse %(message)s",
                        datefmt="%H:%M:%S")
    ap = argparse.ArgumentParser(prog="noisesparse", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def with_profile(p):
        p.add_argument("--profile", default=None,
                       help="a profile of config/profiles/ (default: params.yaml's profile)")
        p.add_argument("--with", dest="extras", default=None, metavar="STUDY[,STUDY]",
                       help="switch on optional studies of the profile, e.g. latents "
                            "(default: params.yaml's `with`)")
        return p

    p = with_profile(sub.add_parser("plan", help="list the runs, training groups and figures"))
    p.add_argument("--json", action="store_true", help="machine-readable plan")
    p.add_argument("--bench", default=None,
                   help="bench CSV giving the device's throughput (default: newest in benchmarks/)")
    p.set_defaults(fn=cmd_plan)
    p = with_profile(sub.add_parser("dvc-plan", help=f"write {DVC_YAML} from the registry"))
    p.add_argument("--check", action="store_true", help="fail if the committed file drifted")
    p.set_defaults(fn=cmd_dvc_plan)
    p = with_profile(sub.add_parser("summary", help="verdict per claim and key numbers per "
                                    "study, as JSON (the DVC metrics file)"))
    p.add_argument("--out", default="results/summary.json", help="where to write it")
    p.set_defaults(fn=cmd_summary)
    p = with_profile(sub.add_parser("regress", help="CI: every figure output exists and the "
                                    "summary matches the committed one within tolerances"))
    p.add_argument("--summary", default="results/summary.json", help="the regenerated summary")
    p.add_argument("--expected", default=None,
                   help="the committed summary (default: regression/<profile>.json)")
    p.add_argument("--tolerances", default=None,
                   help="tolerance per key (default: regression/tolerances.yaml)")
    p.set_defaults(fn=cmd_regress)
    p = sub.add_parser("readme-results", help="write README.md's results tables from the "
                       "committed summaries (regression/quick.json, long+sens_data+sensitivity.json)")
    p.add_argument("--check", action="store_true", help="fail if the README differs")
    p.set_defaults(fn=cmd_readme_results)
    p = sub.add_parser("slurm-check", help="the SLURM profile's requests against sinfo's "
                       "limits: fails, saying why, where no node could ever run a job")
    p.add_argument("--profile-file", default="workflow/profiles/slurm/config.yaml")
    p.set_defaults(fn=cmd_slurm_check)
    p = sub.add_parser("data", help="build one dataset into data/processed/")
    p.add_argument("name")
    p.set_defaults(fn=cmd_data)
    p = with_profile(sub.add_parser("train", help="train one group of runs as a batched ensemble"))
    p.add_argument("--group", required=True)
    p.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:1 (default: profile's)")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads for torch, at most the CPUs this job was given (0: all)")
    p.add_argument("--checkpoint-every", default=None,
                   help="e.g. 120s or 500steps (default: $NOISESPARSE_CHECKPOINT_EVERY, else "
                        "120s); changes no result")
    p.add_argument("--precision", choices=["fp32", "tf32", "bf16"], default=None,
                   help="GPU matmul precision (default: the profile's, tf32)")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="torch.compile the step: forward, loss and the fused update "
                        "(default: the profile's)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(fn=cmd_train)
    p = with_profile(sub.add_parser("figure", help="draw one figure and write its table"))
    p.add_argument("figure")
    p.set_defaults(fn=cmd_figure)
    p = sub.add_parser("bench", help="trainer vs reference loop vs matmul-only time")
    p.add_argument("--in-dim", type=int, default=256)
    p.add_argument("--width", type=int, default=10_000)
    p.add_argument("--batch", type=int, default=1024)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--members", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", default="benchmarks", help="folder for the CSV")
    p.add_argument("--precision", choices=["fp32", "tf32", "bf16"], default="tf32")
    p.add_argument("--compile", action="store_true",
                   help="also time our trainer under torch.compile (rows ours_compiled)")
    p.add_argument("--precision-check", action="store_true",
                   help="instead: train a short σ sweep in fp32, tf32 and bf16 and compare "
                        "fraction active and loss side by side")
    p.add_argument("--check-steps", type=int, default=2000)
    p.set_defaults(fn=cmd_bench)
    args = ap.parse_args(argv)
    try:
        args.explicit = (getattr(args, "profile", None) is not None
                         or getattr(args, "extras", None) is not None)
        if getattr(args, "profile", "x") is None:
            args.profile = default_profile()
        if hasattr(args, "extras"):
            from ..plan.registry import parse_extras
            args.extras = default_extras() if args.extras is None else parse_extras(args.extras)
        if os.environ.get("DVC_STAGE") and hasattr(args, "profile"):
            _dvc_guard(args.profile)
        args.fn(args)
    except ConfigError as e:
        print(f"noisesparse: error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
