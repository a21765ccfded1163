# Datasets: built (or, for the paper profile, downloaded) into data/processed/<name>.pt.
from noisesparse.data import sources


rule data:
    input:
        lambda wc: [paths.processed(s) for s in sources(wc.name)],  # latents: their images
    output:
        "data/processed/{name}.pt",
    wildcard_constraints:
        name="|".join(PLAN.datasets),
    log:
        "results/logs/data/{name}.log",
    shell:
        "noisesparse data {wildcards.name} 2>&1 | tee {log}"
