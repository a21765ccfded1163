# Figures: each reads the results of the runs the registry says it needs.
rule figure:
    input:
        lambda wc: [paths.run_dir(r) for r in PLAN.figures[wc.fig]["runs"]],
    output:
        png="figures/{fig}.png",
        pdf="figures/{fig}.pdf",
        csv="results/tables/{fig}.csv",
        md="results/tables/{fig}.md",
    wildcard_constraints:
        fig="|".join(PLAN.figures),
    params:
        profile=PROFILE,
    log:
        "results/logs/figures/{fig}.log",
    shell:
        "noisesparse figure {wildcards.fig} --profile {params.profile} 2>&1 | tee {log}"
