# Datasets: built (or, for the paper profile, downloaded) into data/processed/<name>.pt.
from noisesparse.data import sources


rule data:
    input:
        lambda wc: [paths.processed(s) for s in sources(wc.name)],  # latents: their images
        lambda wc: PLAN.step_deps(dataset=wc.name),  # datasets.yaml, the code building it
    output:
        "data/processed/{name}.pt",
    log:
        "results/logs/data/{name}.log",
    wildcard_constraints:
        name="|".join(PLAN.datasets),
    conda:
        "../../environment.yml"
    resources:
        gpu=lambda wc: int(_runs_a_network(wc.name)),
    shell:
        "noisesparse data {wildcards.name} 2>&1 | tee {log}"
