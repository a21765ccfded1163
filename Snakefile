# noisesparse workflow. The registry (src/noisesparse/pipeline/registry.py + config/) says
# WHAT runs; this file only turns its plan into rules. Profile: params.yaml, or --config profile=NAME.
#
#   snakemake --cores 2                                  # the default (quick) profile, CPU
#   snakemake --cores 8 --resources gpu=2 --config profile=paper
#   snakemake --cores 2 --config with=latents          # plus the profile's optional studies
#
# profiles/default/ is loaded automatically (it re-runs jobs a kill left incomplete).
# Every rule names the project environment (environment.yml) for `--use-conda`.
from snakemake.utils import validate

from noisesparse import paths
from noisesparse.plan.registry import build_plan


configfile: "params.yaml"


# params.yaml (and --config): config/schemas/params.schema.yaml. build_plan checks the
# profile and config/studies.yaml against theirs (noisesparse.plan.schema).
validate(config, "config/schemas/params.schema.yaml")


report: "workflow/report/workflow.rst"


PROFILE = config["profile"]
PLAN = build_plan(PROFILE, config.get("with"))


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/summary.smk"


rule all:
    default_target: True
    input:
        [out for info in PLAN.figures.values() for out in info["outputs"]],
        [paths.run_dir(r) for r in PLAN.runs],  # every study, drawn yet or not
        SUMMARY,
    localrule: True
