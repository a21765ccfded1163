# The results in one JSON file: the verdict per claim and key numbers per study. DVC's
# metrics file (`dvc metrics show / diff`), and what CI compares with regression/. Beside
# it, the report's landing written from it (workflow/report/workflow.rst shows it first).
from noisesparse.report.landing import LANDING
from noisesparse.report.summary import SUMMARY


rule summary:
    input:
        [paths.run_dir(r) for r in PLAN.runs],
        PLAN.summary_inputs,  # figure tables its verdicts read (F18's: F10, F19, F20)
        PLAN.step_deps(),
    output:
        SUMMARY,
        LANDING,
    log:
        "results/logs/summary.log",
    localrule: True
    conda:
        "../../environment.yml"
    params:
        opts=PLAN.cli_opts(summary=True),
    shell:
        "noisesparse summary {params.opts} 2>&1 | tee {log}"
