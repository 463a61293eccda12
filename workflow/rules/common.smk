# Wiring of the ffnn workflow. Every decision (the config checked against
# workflow/schemas/config.schema.yaml and completed with its defaults, the region table, each
# rule's inputs and command line) is made by ffnn.pipeline.jobs.Jobs, tested in tests/test_jobs.py;
# here it is only built, and its errors shown as one line.

import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

from ffnn.util.errors import FFNNError
from ffnn.pipeline.jobs import Jobs, merge_config, shipped_config
from ffnn.util.settings import read_yaml

# The shipped settings (config/config.yaml of this repository) apply wherever the workflow
# runs: they are the base, and the working directory's config/config.yaml, the --configfile
# files and --config go over them, key by key. (Snakemake alone would read only the working
# directory's config/config.yaml, and fail without one.) Snakemake reads the files itself,
# keeping the last of a key given twice and naming neither file nor line for a YAML error:
# ffnn reads them first, to refuse either in one line.
SHIPPED_CONFIG = Path(workflow.basedir).parent / "config" / "config.yaml"
try:
    for path in ["config/config.yaml", *map(str, workflow.overwrite_configfiles)]:
        if Path(path).is_file():
            read_yaml(path)
    SHIPPED = shipped_config(SHIPPED_CONFIG) if SHIPPED_CONFIG.is_file() else {}
except FFNNError as err:
    raise WorkflowError(str(err)) from None

if Path("config/config.yaml").is_file():

    configfile: "config/config.yaml"


GIVEN = dict(config)
config.clear()
config.update(merge_config(SHIPPED, GIVEN))
if workflow.is_main_process and SHIPPED:
    if not Path("config/config.yaml").resolve() == SHIPPED_CONFIG.resolve():
        print(
            f"ffnn: the shipped settings of {SHIPPED_CONFIG} apply, with the working "
            "directory's config/config.yaml (if any), --configfile and --config over them",
            file=sys.stderr,
        )


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
