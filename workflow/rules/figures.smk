# One rule per figure: it reads the results of the runs the registry says it needs and
# writes PNG + PDF + its data (CSV + Markdown). PNGs and tables go into `snakemake --report`.
# Its inputs include its figure module (and config/reference.yaml where that reads it), so
# editing either redraws it. Seconds of work: local, never sent to a cluster.
for _fig, _info in PLAN.figures.items():

    rule:
        name:
            f"figure_{_fig}"
        input:
            [paths.run_dir(r) for r in _info["runs"]],
            _info["inputs"],  # tables of the figures it reads (F18: F19, F20)
            PLAN.step_deps(figure=_fig),
        output:
            [_output(o, _fig) for o in _info["outputs"]],
        log:
            f"results/logs/figures/{_fig}.log",
        localrule: True
        conda:
            "../../environment.yml"
        params:
            fig=_fig,
            opts=PLAN.cli_opts(figure=_fig),
            caption=PLAN.caption(_fig),
        shell:
            "noisesparse figure {params.fig} {params.opts} 2>&1 | tee {log}"
