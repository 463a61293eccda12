# ffnn: force-free neural network extrapolation of solar active-region magnetic fields.
#
#   snakemake --cores 2                                     # the offline default (NOAA 11158, Low & Lou)
#   JSOC_EMAIL=you@example.org snakemake --cores 8 --config regions=config/regions_jsoc.tsv
#   snakemake --profile config/profiles/slurm               # on a SLURM cluster
#   snakemake --report report.html                          # after a run
#
# Stages, one file each in workflow/rules/: lowlou.smk (benchmark references and their
# boundaries), sharp.smk (resolve, download, bottom map), model.smk (potential field,
# training, cube, profiles), products.smk (figures, summary rows and table), derived.smk
# (twist, squashing factor, alpha; optional VTK/FITS exports), classify.smk
# (optional flare classifier), series.smk (time series of a region: snapshots from one
# JSOC query, trained as a warm-started chain; series.nc). Helpers and validation:
# common.smk, and common_series.smk for the series. README.md explains the config keys
# and every output.

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/common_series.smk"
include: "workflow/rules/lowlou.smk"
include: "workflow/rules/sharp.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/products.smk"
include: "workflow/rules/derived.smk"
include: "workflow/rules/series.smk"
include: "workflow/rules/classify.smk"


wildcard_constraints:
    region=ALL_RE,
    model="ffnn|potential",


localrules:
    all,
    snapshot_record,


rule all:
    input:
        final_targets(),
        series_products,
    default_target: True
