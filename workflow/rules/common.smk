# Helpers of the rules (Snakemake's lint wants functions apart from rules).
from noisesparse.data import dataset_spec


def _runs_a_network(name):
    """ConvMixer latents run a network over every image: on a GPU where there is one."""
    return dataset_spec(name)["kind"] == "convmixer_latents"


def _output(path, fig):
    """PNGs and CSV tables go into the report, labelled by figure."""
    if path.endswith(".png"):
        return report(
            path,
            caption="../report/figure.rst",
            category="Figures",
            labels={"figure": fig, "file": "figure"},
        )
    if path.endswith(".csv"):
        return report(
            path,
            caption="../report/figure.rst",
            category="Tables",
            labels={"figure": fig, "file": path.rsplit("/", 1)[1]},
        )
    return path
