# One rule per training group: the runs of a group share data and shapes and train as one
# batched ensemble, so a rule has several outputs, one directory per run. Its inputs are
# the data and the source files that define training (noisesparse.plan.deps): editing those
# re-runs it; its command carries the precision, so changing that re-runs it too.
import re

for _gid, _members in PLAN.groups.items():

    rule:
        name:
            "train_" + re.sub(r"\W", "_", _gid)
        input:
            paths.processed(PLAN.runs[_members[0]].dataset),
            PLAN.step_deps(group=_gid),
        output:
            [directory(paths.run_dir(r)) for r in _members],
        log:
            f"results/logs/train/{_gid}.log",
        conda:
            "../../environment.yml"
        threads: 4  # Snakemake scales it down to --cores
        resources:
            gpu=1,
        params:
            group=_gid,
            opts=PLAN.cli_opts(group=_gid),  # --with only for an optional study's runs
        shell:
            "noisesparse train {params.opts} --group {params.group} "
            "--threads {threads} --no-progress 2>&1 | tee {log}"
