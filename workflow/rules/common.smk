# Wiring of the ffnn workflow. Every decision (the config checked against
# workflow/schemas/config.schema.yaml and completed with its defaults, the region table, each
# rule's inputs and command line) is made by ffnn.pipeline.jobs.Jobs, tested in tests/test_jobs.py;
# here it is only built, and its errors shown as one line.

from pathlib import Path

from snakemake.exceptions import WorkflowError

from ffnn.util.errors import FFNNError
from ffnn.pipeline.jobs import Jobs
from ffnn.util.settings import read_yaml

# Snakemake reads the config file itself, with a generic message for a YAML error: ffnn
# reads it first, to name the file and the line.
if Path("config/config.yaml").exists():
    try:
        read_yaml("config/config.yaml")
    except FFNNError as err:
        raise WorkflowError(str(err)) from None


configfile: "config/config.yaml"


# Settings are checked against their dataclasses once, where the workflow starts (a cluster
# job parses the workflow again, and the training check imports torch).
try:
    JOBS = Jobs(
        config,
        Path(str(workflow.current_basedir)).parent / "schemas",
        check_settings=workflow.is_main_process,
    )
except FFNNError as err:
    raise WorkflowError(str(err)) from None


# Input functions that need a series' snapshots, known once its checkpoint has listed them
# (series.smk): asking the checkpoint makes Snakemake list them first.
def series_rows(wildcards):
    checkpoints.series_records.get(series=wildcards.series)
    return JOBS.series_rows(wildcards.series)


def series_products(wildcards):
    for series in JOBS.regions.series:
        checkpoints.series_records.get(series=series)
    return JOBS.series_products(rules)
