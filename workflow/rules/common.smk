# Helpers of the rules (Snakemake's lint wants functions apart from rules).
from noisesparse.data import dataset_spec


def _runs_a_network(name):
    """ConvMixer latents run a network over every image: on a GPU where there is one."""
    return dataset_spec(name)["kind"] == "convmixer_latents"


# The report's menu sorts categories by name: the verdicts (F18, also the landing page's
# table: workflow/report/workflow.rst) come first, then the figures, then their tables.
VERDICTS_CATEGORY = "Claims and verdicts (F18)"


def _output(path, fig):
    """PNGs and CSV tables go into the report, labelled by figure; F18's in a category of
    their own."""
    if not path.endswith((".png", ".csv")):
        return path
    png = path.endswith(".png")
    return report(
        path,
        caption="../report/figure.rst",
        category=(
            VERDICTS_CATEGORY if fig == "F18" else ("Figures" if png else "Tables")
        ),
        labels={"figure": fig, "file": "figure" if png else path.rsplit("/", 1)[1]},
    )
