# Datasets: built (or, for the paper profile, downloaded) into data/processed/<name>.pt.
rule data:
    output:
        "data/processed/{name}.pt",
    wildcard_constraints:
        name="|".join(PLAN.datasets),
    log:
        "results/logs/data/{name}.log",
    shell:
        "noisesparse data {wildcards.name} 2>&1 | tee {log}"
