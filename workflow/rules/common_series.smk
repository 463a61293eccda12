# Helpers of the time-series stage (series.smk): inputs and parameters of its rules, the
# warm-start input of train (model.smk), and the series targets. Functions only; the
# snapshots' settings are looked up by REGIONS (ffnn.regions.RegionTable).

from ffnn.data import GOES_FLARES_1996_2022

SERIES_RE = region_pattern(list(REGIONS.series))

_check_train_block(config["series"]["warm"], "config series.warm")
for _info in REGIONS.series.values():
    _check_train_block({**_info["train"], **_info["warm"]}, _info["label"])


def _check_series_settings():
    """The training settings of every series' cold and warm snapshots, as TrainConfig."""
    from ffnn.train import TrainConfig

    for name, info in REGIONS.series.items():
        try:
            TrainConfig.from_dict({**config["train"], **info["train"], **info["warm"]})
        except FFNNError as err:
            raise WorkflowError(f"{info['label']} (series {name}): {err}") from None


if workflow.is_main_process and REGIONS.series:  # imports torch: once (see common.smk)
    _check_series_settings()


def series_targets():
    return [f"results/{s}/{name}" for s in REGIONS.series for name in ("series.nc", "series.png")]


def snapshots(series):
    """The snapshots of a series (known once the checkpoint has written its record list)."""
    checkpoints.series_records.get(series=series)
    return REGIONS.snapshots(series)


def series_rows(wildcards):
    return [f"results/{r}/row.json" for r in snapshots(wildcards.series)]


def series_products(wildcards):
    """The figures and derived products of every snapshot of every series (for the
    default target)."""
    regions = [r for series in REGIONS.series for r in snapshots(series)]
    return [f"results/{r}/figures/{name}" for r in regions for name in FIGURES] + [
        path for r in regions for path in derived_targets(r)]


def init_model(wildcards):
    """The model a snapshot's training starts from (the previous snapshot's), else none."""
    return REGIONS[wildcards.region].get("init_model") or []


def init_model_arg(wildcards, input):
    return quoted(["--init-model", input.init]) if input.init else ""


def series_records_args(wildcards):
    info = REGIONS.series[wildcards.series]
    words = ["--name", wildcards.series, "--start", info["start"], "--end", info["end"],
             "--cadence", f"{info['cadence_s']:g}s", "--quality", config["jsoc"]["quality"],
             "--tolerance", config["jsoc"]["tolerance"]]
    for key in ("noaa", "harpnum"):
        if info[key]:
            words += [f"--{key}", info[key]]
    return quoted(words)


def series_flares(wildcards):
    """The GOES event list of the series figure: the config's, or the one shipped."""
    return config["series"]["flares"] or str(GOES_FLARES_1996_2022)
