# One rule per training group: the runs of a group share data and shapes and train as one
# batched ensemble, so a rule has several outputs, one directory per run.
import re

for _gid, _members in PLAN.groups.items():

    rule:
        name:
            "train_" + re.sub(r"\W", "_", _gid)
        input:
            paths.processed(PLAN.runs[_members[0]].dataset),
        output:
            [directory(paths.run_dir(r)) for r in _members],
        params:
            group=_gid,
            opts=PLAN.cli_opts(group=_gid),  # --with only for an optional study's runs
        log:
            f"results/logs/train/{_gid}.log",
        threads: 4  # Snakemake lowers it to --cores when fewer are given
        resources:
            gpu=1,
        shell:
            "noisesparse train {params.opts} --group {params.group} "
            "--threads {threads} --no-progress 2>&1 | tee {log}"
