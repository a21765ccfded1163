# One rule per figure: it reads the results of the runs the registry says it needs and
# writes PNG + PDF + its data (CSV + Markdown). PNGs and tables go into `snakemake --report`.
for _fig, _info in PLAN.figures.items():

    rule:
        name:
            f"figure_{_fig}"
        input:
            [paths.run_dir(r) for r in _info["runs"]],
            _info["inputs"],  # tables of the figures it reads (F18: F19, F20)
        output:
            [
                report(o, caption="../report/figure.rst", category="Figures",
                       labels={"figure": _fig, "file": "figure"})
                if o.endswith(".png") else
                report(o, caption="../report/figure.rst", category="Tables",
                       labels={"figure": _fig, "file": o.rsplit("/", 1)[1]})
                if o.endswith(".csv") else o
                for o in _info["outputs"]
            ],
        params:
            fig=_fig,
            opts=PLAN.cli_opts(figure=_fig),
            caption=PLAN.caption(_fig),
        log:
            f"results/logs/figures/{_fig}.log",
        shell:
            "noisesparse figure {params.fig} {params.opts} 2>&1 | tee {log}"
