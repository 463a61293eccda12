# Helpers of the ffnn workflow (functions only; the stages are in the other .smk files).
#
# * validates the config against workflow/schemas/config.schema.yaml (filling defaults),
#   turning schema errors into one line that names the key or the value;
# * builds the region table: one entry per row of the region sheet (read and checked by
#   ffnn.regions; id ar<noaa>_<YYYYmmddTHHMM>) and per Low & Lou case (id lowlou_<name>),
#   and the series of the series sheet, whose snapshots it looks up once listed
#   (common_series.smk, series.smk);
# * checks every region's training settings against ffnn.train.TrainConfig;
# * gives the rules their inputs, parameters and resources.

import json
import re
import shlex
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from ffnn.errors import FFNNError
from ffnn.regions import (RegionTable, load_schema, read_series_sheet, read_sheet, schema_message,
                          series_table, sharp_regions)


# ---------------------------------------------------------------- schema errors


def _validated(data, schema, what):
    """Validate ``data`` (dict) against ``schema``, filling defaults; one-line errors."""
    try:
        validate(data, schema)
    except WorkflowError as err:
        cause = err.__context__
        if cause is not None and hasattr(cause, "validator"):
            raise WorkflowError(schema_message(cause, what)) from None
        raise
    return data


# ---------------------------------------------------------------- the config

_validated(config, "../schemas/config.schema.yaml", "config")

# Keys the workflow sets itself in `ffnn train`.
_WORKFLOW_TRAIN_KEYS = {"threads": "resources.train.threads", "progress": "(always off in the workflow)"}


def _check_train_block(block, what):
    for key, instead in _WORKFLOW_TRAIN_KEYS.items():
        if key in block:
            raise WorkflowError(f"{what}: '{key}' is set by the workflow, not in train: use {instead}")


_check_train_block(config["train"], "config train")


# ---------------------------------------------------------------- the region table

REGIONS = RegionTable()  # region id -> {"kind": "sharp"|"lowlou", ... settings}; series snapshots too
_SCHEMAS = Path(str(workflow.current_basedir)).parent / "schemas"

try:
    if config["regions"]:
        _schema = load_schema(_SCHEMAS / "regions.schema.yaml")
        REGIONS.update(sharp_regions(read_sheet(config["regions"], _schema), config["sharp"]))
    if config["series"]["sheet"]:
        _rows = read_series_sheet(config["series"]["sheet"], load_schema(_SCHEMAS / "series.schema.yaml"),
                                  config["series"]["cadence"])
        REGIONS.series.update(series_table(_rows, config["sharp"], config["series"]["warm"]))
except FFNNError as err:
    raise WorkflowError(str(err)) from None
for _info in REGIONS.values():
    _check_train_block(_info["train"], _info["label"])

for _name in config["lowlou"].get("regions", []):
    if _name not in config["lowlou"]["cases"]:
        raise WorkflowError(
            f"config lowlou.regions: no case {_name!r} in lowlou.cases "
            f"(defined: {', '.join(sorted(config['lowlou']['cases'])) or 'none'})"
        )
    _case = config["lowlou"]["cases"][_name]
    _check_train_block(_case["train"], f"config lowlou.cases.{_name}.train")
    REGIONS[_name] = {"kind": "lowlou", **_case, "label": f"config lowlou.cases.{_name}"}

SHARP_REGIONS = [r for r, v in REGIONS.items() if v["kind"] == "sharp"]
JSOC_REGIONS = [r for r in SHARP_REGIONS if not REGIONS[r]["sharp_dir"]]
LOWLOU_REGIONS = [r for r, v in REGIONS.items() if v["kind"] == "lowlou"]


def train_settings(region):
    """The training settings of a region: config train block, then its overrides."""
    return {**config["train"], **REGIONS[region]["train"]}


def _check_train_settings():
    if not REGIONS:
        return
    try:
        from ffnn.errors import FFNNError
        from ffnn.train import TrainConfig
    except ImportError as err:  # the package is not installed: ffnn train reports it later
        return
    for region, info in REGIONS.items():
        try:
            TrainConfig.from_dict(train_settings(region))
        except FFNNError as err:
            raise WorkflowError(f"{info['label']} (region {region}): {err}") from None


# Once, where the workflow starts: a cluster job parses the workflow again (twice under
# SLURM: the job and its srun step), and this check imports torch (seconds per parse).
if workflow.is_main_process:
    _check_train_settings()


def region_pattern(names, pattern=None):
    """A wildcard constraint matching exactly ``names`` and ``pattern`` (nothing when empty)."""
    alternatives = [re.escape(n) for n in names] + ([pattern] if pattern else [])
    return "|".join(alternatives) if alternatives else "(?!x)x"


# series snapshots are SHARP regions from JSOC
SNAPSHOT_RE = REGIONS.snapshot_pattern()
SHARP_RE = region_pattern(SHARP_REGIONS, SNAPSHOT_RE)
JSOC_RE = region_pattern(JSOC_REGIONS, SNAPSHOT_RE)
LOWLOU_RE = region_pattern(LOWLOU_REGIONS)
ALL_RE = region_pattern(list(REGIONS), SNAPSHOT_RE)


# ---------------------------------------------------------------- inputs and parameters


def quoted(words):
    return " ".join(shlex.quote(str(w)) for w in words)


def jsoc_args(wildcards):
    """Network options of ffnn resolve / fetch-sharp (email: see email_arg)."""
    jsoc = config["jsoc"]
    words = ["--jsoc-url", jsoc["url"]] if jsoc["url"] else []
    words += ["--retries", jsoc["retries"], "--backoff", jsoc["backoff_s"], "--poll", jsoc["poll_s"],
              "--busy-timeout", jsoc["busy_timeout_s"]]
    return quoted(words)


def record_args(wildcards):
    """Which record ffnn resolve describes: the sheet row's region and time, and its
    local FITS directory (sharp_dir) when it has one."""
    info = REGIONS[wildcards.region]
    words = ["--noaa", info["noaa"], "--time", info["time"],
             "--tolerance", config["jsoc"]["tolerance"], "--quality", config["jsoc"]["quality"]]
    if info["harpnum"]:
        words += ["--harpnum", info["harpnum"]]
    if info["sharp_dir"]:
        words += ["--sharp-dir", info["sharp_dir"]]
    return quoted(words)


def local_record_files(wildcards):
    """The FITS files of a region's local record (none for JSOC regions, or where the
    directory is missing: then its resolve job fails with one line, the others go on)."""
    directory = REGIONS[wildcards.region]["sharp_dir"]
    return sorted(str(p) for p in Path(directory).glob("*.fits")) if directory else []


def sharp_files(wildcards):
    """Where a SHARP region's FITS files lie: its sharp_dir, or what fetch_sharp downloads."""
    return REGIONS[wildcards.region]["sharp_dir"] or f"results/{wildcards.region}/sharp"


def boundary_input(wildcards):
    files = {"record": f"results/{wildcards.region}/resolve.json"}
    if not REGIONS[wildcards.region]["sharp_dir"]:
        files["download"] = f"results/{wildcards.region}/sharp/sharp.json"
    return files


def email_arg(wildcards):
    """--email from the config; without it ffnn reads JSOC_EMAIL from the environment."""
    return quoted(["--email", config["jsoc"]["email"]]) if config["jsoc"]["email"] else ""


def sharp_boundary_args(wildcards):
    info = REGIONS[wildcards.region]
    return quoted(["--bin", info["bin"], "--height-mm", info["height_mm"]])


def potential_args(wildcards):
    words = ["--method", config["potential"]["method"], "--pad", config["potential"]["pad"]]
    if REGIONS[wildcards.region]["kind"] == "lowlou":
        # the potential cube on the reference grid (dz = dx only for a cubic shape)
        words += ["--nz", config["lowlou"]["shape"][2]]
    return quoted(words)


def lowlou_args(wildcards):
    case = REGIONS[wildcards.region]
    shape = config["lowlou"]["shape"]
    return quoted(["--n", case["n"], "--m", case["m"], "--l", case["l"], "--phi", case["phi"],
                   "--shape", *shape])


def train_boundary(wildcards):
    """Boundary files of a region's training: SHARP and Low & Lou case 2 use the bottom
    map plus potential-field sides and top; Low & Lou case 1 uses the six reference faces."""
    info = REGIONS[wildcards.region]
    if info["kind"] == "lowlou" and info["boundary"] == "faces":
        return [f"results/{wildcards.region}/faces.nc"]
    return [f"results/{wildcards.region}/boundary.nc", f"results/{wildcards.region}/pf_faces.nc"]


def train_args(wildcards):
    """--set KEY=VALUE for every training setting of the region (values as JSON/YAML)."""
    words = []
    for key, value in sorted(train_settings(wildcards.region).items()):
        words += ["--set", f"{key}={json.dumps(value)}"]
    words += ["--set", "progress=false"]
    return quoted(words)


def train_resource(name):
    return config["resources"]["train"][name]


def default_resource(name):
    return config["resources"]["default"][name]


def figures_reference(wildcards):
    if REGIONS[wildcards.region]["kind"] == "lowlou":
        return [f"results/{wildcards.region}/reference.nc"]
    return []


def figures_args(wildcards):
    words = ["--region", wildcards.region, "--lines", config["figures"]["lines"],
             "--dpi", config["figures"]["dpi"]]
    for reference in figures_reference(wildcards):
        words += ["--reference", reference]
    return quoted(words)


def row_inputs(wildcards):
    """Files a region's summary row is made of."""
    region = wildcards.region
    base = f"results/{region}"
    files = {"train": f"{base}/train/train.json", "quality": f"{base}/quality.json",
             "profiles": f"{base}/profiles.nc"}
    if derived_enabled():
        files["derived"] = f"{base}/derived.nc"
    if REGIONS[region]["kind"] == "sharp":
        files["record"] = f"{base}/resolve.json"
    else:
        files["reference"] = f"{base}/metrics_ffnn.json"
        files["potential_reference"] = f"{base}/metrics_potential.json"
    return files


def row_args(wildcards, input):
    info = REGIONS[wildcards.region]
    words = ["--region", wildcards.region, "--meta", f"kind={info['kind']}"]
    if derived_enabled():
        words += ["--derived", input.derived]
    if info["kind"] == "sharp":
        words += ["--record", input.record, "--meta", f"noaa={info['noaa']}",
                  "--meta", f"requested_time={info['time']}"]
    else:
        shape = config["lowlou"]["shape"]
        words += ["--reference", input.reference, "--potential-reference", input.potential_reference,
                  "--meta", f"lowlou_n={info['n']}", "--meta", f"lowlou_m={info['m']}",
                  "--meta", f"lowlou_l={info['l']}", "--meta", f"lowlou_phi={info['phi']}",
                  "--meta", f"lowlou_boundary={info['boundary']}",
                  "--meta", f"lowlou_shape={json.dumps(list(shape))}"]
    return quoted(words)


def metrics_cube(wildcards):
    """The cube compared with the reference: the model's or the potential field's."""
    name = "cube.nc" if wildcards.model == "ffnn" else "potential.nc"
    return f"results/{wildcards.region}/{name}"


def final_targets():
    """What the default target asks for."""
    targets = []
    for region in REGIONS:
        targets += [f"results/{region}/cube.nc", f"results/{region}/profiles.nc",
                    f"results/{region}/row.json"]
        targets += [f"results/{region}/figures/{name}" for name in FIGURES]
        targets += derived_targets(region)
    if REGIONS:
        targets += ["results/summary.tsv", "results/summary.nc"]
    if LOWLOU_REGIONS:
        targets.append("results/lowlou/table.md")
    return targets + classify_targets() + series_targets()


FIGURES = ["bottom.png", "fieldlines_xy.png", "fieldlines_3d.png", "profiles.png", "loss.png"]


# ---------------------------------------------------------------- flare forecast
# `ffnn classify` fits and verifies the forecast on a SHARP keyword table with labels from a
# GOES event list: by default the 2010-2014 table and the GOES list shipped in
# ffnn/data/flares (offline); then it scores the SHARP regions of the summary table. The
# classify block goes to `ffnn classify --config` as JSON: ffnn checks and applies it.

CLASSIFY = config["classify"]
SHIPPED_FLARES = Path(workflow.current_basedir).parents[1] / "ffnn" / "data" / "flares"


def _check_classify_settings():
    try:
        from ffnn.classify import ClassifySettings
        from ffnn.errors import FFNNError
    except ImportError:  # the package is not installed: ffnn classify reports it later
        return
    try:
        ClassifySettings.from_mapping(CLASSIFY)
    except FFNNError as err:
        raise WorkflowError(f"config classify: {err}") from None


if workflow.is_main_process and CLASSIFY["enabled"]:
    _check_classify_settings()


def classify_table():
    """The keyword (or summary) table the forecast is fitted on."""
    return CLASSIFY["table"] or str(SHIPPED_FLARES / "sharp_keywords_2010_2014.csv.gz")


def classify_events():
    """The GOES event list of the labels: a file, HEK's (rule flare_events), or the shipped one."""
    if CLASSIFY["events"] == "hek":
        return CLASSIFY["events_cache"]
    return CLASSIFY["events"] or str(SHIPPED_FLARES / "goes_flares_1996_2022.csv.gz")


def classify_args():
    return quoted(["--config", json.dumps(CLASSIFY)])


def classify_targets():
    """The forecast's skill table, and the forecast of the SHARP regions when there are some."""
    if not CLASSIFY["enabled"]:
        return []
    targets = ["results/classify/skill.tsv"]
    if SHARP_REGIONS and CLASSIFY["predict_regions"]:
        targets.append("results/classify/regions/predictions.csv")
    return targets


# ---------------------------------------------------------------- derived products and exports
# Issue 15: `ffnn derived` on every region unless config derived.enabled is false;
# `ffnn export` only when config export.enabled is true (FITS maps only where the
# region has a WCS: SHARP regions).

DERIVED_FIGURES = ["twist.png", "log10_q.png", "q_slice.png"]


def derived_enabled():
    return bool(config["derived"]["enabled"])


def export_enabled():
    return bool(config["export"]["enabled"]) and derived_enabled()


def derived_targets(region):
    targets = []
    if derived_enabled():
        targets += [f"results/{region}/derived.nc"]
        targets += [f"results/{region}/figures/{name}" for name in DERIVED_FIGURES]
    if export_enabled() and export_formats(region):
        targets.append(f"results/{region}/export")
    return targets


def derived_threads():
    return config["derived"]["threads"]


def derived_args(wildcards):
    block = config["derived"]
    words = ["--region", wildcards.region, "--oversample", block["oversample"], "--step", block["step"],
             "--delta", block["delta"], "--strong-field", block["strong_field_g"],
             "--slice-every", block["slice_every"],
             "--dpi", config["figures"]["dpi"]]
    if not block["slice"]:
        words.append("--no-slice")
    return quoted(words)


def export_formats(region):
    formats = list(config["export"]["formats"])
    if REGIONS[region]["kind"] != "sharp":  # no WCS: no maps on the Sun
        formats = [f for f in formats if f != "fits"]
    return formats


def export_args(wildcards):
    return quoted(["--format", *export_formats(wildcards.region)])
