"""noisesparse: noise turns a one-hidden-layer ReLU network into a sparse coding network.

A replication of Bricken, Schaeffer, Olshausen & Kreiman, "Emergence of Sparse
Representations from Noise" (ICML 2023). The library knows nothing of Snakemake or DVC;
see `noisesparse.plan.registry` for what the workflow runs.
"""

__version__ = "0.1.0"
