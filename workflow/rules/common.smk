# Helpers of the ffnn workflow (functions only; the stages are in the other .smk files).
#
# * validates the config against workflow/schemas/config.schema.yaml (filling defaults)
#   and the region sheet against workflow/schemas/regions.schema.yaml, turning schema
#   errors into one line that names the key, the row or the value;
# * builds the region table: one entry per SHARP sheet row (id ar<noaa>_<YYYYmmddTHHMM>)
#   and per Low & Lou case (id lowlou_<name>);
# * checks every region's training settings against ffnn.train.TrainConfig;
# * gives the rules their inputs, parameters and resources.

import datetime
import json
import math
import re
import shlex
from pathlib import Path

import pandas as pd
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate


# ---------------------------------------------------------------- schema errors


def _schema_message(err, what):
    """One line for a jsonschema ValidationError ``err`` in ``what`` (config / sheet row)."""
    path = [str(p) for p in err.absolute_path]
    where = ".".join(path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        known = sorted(err.schema.get("properties", {}))
        patterns = list(err.schema.get("patternProperties", {}))
        unknown = sorted(
            k for k in err.instance
            if k not in known and not any(re.search(p, k) for p in patterns)
        )
        inside = f" in '{where}'" if where else ""
        allowed = ", ".join(known + [f"/{p}/" for p in patterns])
        return f"{what}: unknown key(s) {', '.join(repr(k) for k in unknown)}{inside}; allowed: {allowed}"
    if err.validator == "pattern" and path and path[-1] == "time":
        return (f"{what}: malformed time {err.instance!r}; use ISO 8601 UTC like 2011-02-14T20:00")
    if err.validator == "required":
        return f"{what} {where}: {err.message}" if where else f"{what}: {err.message}"
    value = json.dumps(err.instance, default=str)
    return f"{what}: {where or 'top level'} = {value}: {err.message}"


def _validated(data, schema, what):
    """Validate ``data`` (dict) against ``schema``, filling defaults; one-line errors."""
    try:
        validate(data, schema)
    except WorkflowError as err:
        cause = err.__context__
        if cause is not None and hasattr(cause, "validator"):
            raise WorkflowError(_schema_message(cause, what)) from None
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


# ---------------------------------------------------------------- the region sheet


def _cell(value):
    """A sheet cell as int, float, bool or str (the sheet is read as text)."""
    text = value.strip()
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return float(text)
    except ValueError:
        return text


def parse_region_time(text, what):
    """ISO time text -> datetime (UTC, naive); WorkflowError naming ``what`` if malformed."""
    text = str(text).strip()
    try:
        return datetime.datetime.fromisoformat(text.rstrip("Zz"))
    except ValueError:
        raise WorkflowError(
            f"{what}: malformed time {text!r}; use ISO 8601 UTC like 2011-02-14T20:00"
        ) from None


def sharp_region_id(noaa, when):
    """Region id of a sheet row: ar<noaa>_<YYYYmmddTHHMM>."""
    return f"ar{int(noaa)}_{when:%Y%m%dT%H%M}"


def read_region_sheet(path):
    """The validated rows of a region sheet: a list of dicts with ``region`` added."""
    sheet = Path(path)
    if not sheet.is_file():
        raise WorkflowError(f"config regions: region sheet {path} does not exist")
    try:
        table = pd.read_csv(sheet, sep="\t", comment="#", dtype=str, keep_default_na=False,
                            skip_blank_lines=True)
    except (OSError, ValueError) as err:
        raise WorkflowError(f"region sheet {path}: not a readable TSV: {err}") from None
    table.columns = [str(c).strip() for c in table.columns]
    rows = []
    for i, raw in enumerate(table.to_dict("records"), start=1):
        record = {k: _cell(v) for k, v in raw.items() if str(v).strip() != ""}
        if "time" in record:
            record["time"] = str(raw["time"]).strip()
        label = f"region sheet {path} row {i}" + (f" (noaa {record['noaa']})" if "noaa" in record else "")
        _validated(record, "../schemas/regions.schema.yaml", label)
        when = parse_region_time(record["time"], label)
        record["region"] = sharp_region_id(record["noaa"], when)
        record["time"] = when.strftime("%Y-%m-%dT%H:%M:%S")
        record["label"] = label
        rows.append(record)
    if not rows:
        raise WorkflowError(f"region sheet {path} has no rows")
    return rows


# ---------------------------------------------------------------- the region table

REGIONS = {}  # region id -> {"kind": "sharp"|"lowlou", ... settings}

if config["regions"]:
    for row in read_region_sheet(config["regions"]):
        if row["region"] in REGIONS:
            raise WorkflowError(f"{row['label']}: region {row['region']} appears twice in the sheet")
        overrides = {k.split(".", 1)[1]: v for k, v in row.items() if k.startswith("train.")}
        _check_train_block(overrides, row["label"])
        REGIONS[row["region"]] = {
            "kind": "sharp", "noaa": row["noaa"], "time": row["time"],
            "harpnum": row.get("harpnum"),
            "bin": row.get("bin", config["sharp"]["bin"]),
            "height_mm": row.get("height_mm", config["sharp"]["height_mm"]),
            "train": overrides, "label": row["label"],
        }

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


def region_pattern(names):
    """A wildcard constraint matching exactly ``names`` (nothing when empty)."""
    return "|".join(re.escape(n) for n in names) if names else "(?!x)x"


SHARP_RE = region_pattern(SHARP_REGIONS)
LOWLOU_RE = region_pattern(LOWLOU_REGIONS)
ALL_RE = region_pattern(list(REGIONS))


# ---------------------------------------------------------------- inputs and parameters


def quoted(words):
    return " ".join(shlex.quote(str(w)) for w in words)


def jsoc_args(wildcards):
    """Options of ffnn resolve / fetch-sharp for a SHARP region (email: see email_arg)."""
    info = REGIONS[wildcards.region]
    jsoc = config["jsoc"]
    words = ["--noaa", info["noaa"], "--time", info["time"]]
    if info.get("harpnum"):
        words += ["--harpnum", info["harpnum"]]
    if jsoc["url"]:
        words += ["--jsoc-url", jsoc["url"]]
    words += ["--tolerance", jsoc["tolerance"], "--quality", jsoc["quality"],
              "--retries", jsoc["retries"], "--backoff", jsoc["backoff_s"], "--poll", jsoc["poll_s"]]
    return quoted(words)


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
    return targets + classify_targets()


FIGURES = ["bottom.png", "fieldlines_xy.png", "fieldlines_3d.png", "profiles.png", "loss.png"]


# ---------------------------------------------------------------- flare classification
# Issue 5: does a region produce a flare >= M1.0 within 24 h? The stage is off unless
# config classify.labels names a label source (a CSV path, or "hek"). All logic is in
# `ffnn classify`; these helpers map the config block onto its options.

CLASSIFY_CONFIG = config.get("classify") or {}

# config key -> ffnn classify option; keys absent or null keep the command's defaults.
CLASSIFY_OPTIONS = {
    "labels": "--labels",
    "hek_cache": "--hek-cache",
    "features": "--features",
    "exclude": "--exclude",
    "categorical": "--categorical",
    "threshold_class": "--threshold-class",
    "probability_threshold": "--probability-threshold",
    "test_size": "--test-size",
    "seed": "--seed",
    "C": "--C",
    "solver": "--solver",
    "class_weight": "--class-weight",
    "imputer_strategy": "--imputer-strategy",
    "max_iter": "--max-iter",
    "label_tolerance": "--label-tolerance",
    "min_rows": "--min-rows",
    "on_insufficient": "--on-insufficient",
}


def classify_enabled():
    """True when the config names a label source, i.e. the classify stage should run."""
    return bool(CLASSIFY_CONFIG.get("labels")) and bool(REGIONS)


def classify_targets():
    """What the default target asks for from this stage: results/classify/ when enabled."""
    return ["results/classify"] if classify_enabled() else []


def classify_label_input(wildcards):
    # A label CSV is a real input (edits rerun the stage); HEK labels come from a cache
    # that must survive reruns, so it is neither input nor output of the stage.
    labels = CLASSIFY_CONFIG.get("labels")
    if labels and str(labels).strip().lower() != "hek":
        return [labels]
    return []


def classify_args():
    """The config block as ffnn classify options, shell-quoted."""
    words = []
    for key, option in CLASSIFY_OPTIONS.items():
        if key not in CLASSIFY_CONFIG:
            continue
        value = CLASSIFY_CONFIG[key]
        if value is None:
            if key == "class_weight":
                words += [option, "none"]
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        words += [option, str(value)]
    return quoted(words)


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
