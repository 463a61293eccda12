# ffnn: force-free neural network extrapolation of solar active-region magnetic fields.
#
#   snakemake --cores 2                                     # the offline default (NOAA 11158, Low & Lou)
#   JSOC_EMAIL=you@example.org snakemake --cores 8 --config regions=config/regions_jsoc.tsv
#   snakemake --profile config/profiles/slurm               # on a SLURM cluster
#   snakemake --report report.html                          # after a run
#
# Stages, one file each in workflow/rules/, each rule running the `ffnn` command of its
# name: sharp.smk (resolve, fetch_sharp), model.smk (boundary, potential, train, cube,
# quality), products.smk (figures, summary rows and table), lowlou.smk (the benchmark's
# reference field, faces, metrics and table), derived.smk (twist, squashing factor,
# alpha; VTK/FITS exports), series.smk (time series of a region: snapshots from one JSOC
# query, trained as a warm-started chain), classify.smk (flare forecast). common.smk reads
# the config (config/config.yaml) into ffnn.pipeline.jobs.Jobs, which gives every rule its inputs
# and command line. README.md has the table rule -> command -> function -> product, the
# config keys and every output.

from snakemake.utils import min_version

min_version("9.0")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/sharp.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/products.smk"
include: "workflow/rules/lowlou.smk"
include: "workflow/rules/derived.smk"
include: "workflow/rules/series.smk"
include: "workflow/rules/classify.smk"


wildcard_constraints:
    region=JOBS.patterns["all"],
    model="ffnn|potential",


onsuccess:
    shell(JOBS.checks_command())


onerror:
    shell(JOBS.failures_command())


localrules:
    all,
    snapshot_record,


rule all:
    default_target: True
    input:
        JOBS.final_targets(rules),
        series_products,
