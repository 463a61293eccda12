"""The workflow's jobs: its config checked, its regions, and for each rule what it reads and
the command line it runs.

``workflow/rules/common.smk`` builds one :class:`Jobs` from Snakemake's ``config``; the rules
take their inputs, parameters, threads and resources from its methods. Methods that
Snakemake calls per job take its ``wildcards`` (any object with a ``region`` attribute), so
every decision of the workflow lives here, importable and tested without Snakemake
(tests/test_jobs.py).

Paths follow the workflow's layout: per region ``results/<region>/...`` (file names in
:data:`FILES`, as the rules declare them), across regions ``results/...``.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from ffnn.data import GOES_FLARES_1996_2022, SHARP_KEYWORDS_2010_2014
from ffnn.util.errors import ConfigError, FFNNError
from ffnn.pipeline.regions import region_table
from ffnn.util.settings import coerce_schema, read_yaml, validate

# The per-region files other rules read, as the rules that make them declare them.
FILES = {
    "resolve": "resolve.json", "download": "sharp/sharp.json", "reference": "reference.nc",
    "boundary": "boundary.nc", "preprocessed": "preprocessed.nc", "faces": "faces.nc", "pf_faces": "pf_faces.nc",
    "potential": "potential.nc", "train": "train/train.json", "cube": "cube.nc",
    "quality": "quality.json", "profiles": "profiles.nc", "derived": "derived.nc",
    "metrics_ffnn": "metrics_ffnn.json", "metrics_potential": "metrics_potential.json",
    "row": "row.json", "model": "train/model.pt",
}

# the summary rule's table of every region's trust checks (products.smk)
CHECKS_TABLE = "results/checks.tsv"


def region_file(region: str, name: str) -> str:
    """``results/<region>/<file>`` of the product ``name`` (a key of :data:`FILES`)."""
    return f"results/{region}/{FILES[name]}"


def region_pattern(names, pattern: str | None = None) -> str:
    """A wildcard constraint matching exactly ``names`` and the regular expression
    ``pattern`` (nothing when there are neither)."""
    alternatives = [re.escape(n) for n in names] + ([pattern] if pattern else [])
    return "|".join(alternatives) if alternatives else "(?!x)x"


# Keys of the config that name input files (relative to the working directory). In the
# shipped config they name files beside it (config/regions.tsv), so they are made absolute
# when it is read as the base layer of a run elsewhere (:func:`shipped_config`).
INPUT_PATHS = (("regions",), ("series", "sheet"), ("series", "flares"), ("classify", "table"), ("classify", "events"))


def shipped_config(path) -> dict:
    """The workflow's shipped config (``config/config.yaml`` of the repository ``path`` is
    in), with the relative paths of :data:`INPUT_PATHS` made absolute: its region sheet is
    the repository's, wherever the workflow runs. An empty file gives {}; ConfigError for
    a file :func:`ffnn.util.settings.read_yaml` refuses or that holds no mapping."""
    data = read_yaml(path) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} does not hold a mapping of settings")
    root = Path(path).resolve().parent.parent
    for keys in INPUT_PATHS:
        block = data
        for key in keys[:-1]:
            block = block.get(key) if isinstance(block, dict) else None
        value = block.get(keys[-1]) if isinstance(block, dict) else None
        if isinstance(value, str) and value.strip() and value != "hek" and not Path(value).is_absolute():
            block[keys[-1]] = str(root / value)
    return data


def merge_config(base: dict, over: dict) -> dict:
    """``over`` merged into a copy of ``base``: mappings key by key (recursively), any other
    value replaced, as Snakemake merges ``--configfile`` and ``--config`` over its config
    file (so a list, e.g. ``lowlou.regions``, replaces the shipped one whole)."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_config(out[key], value)
        else:
            out[key] = value
    return out


def command_line(words) -> str:
    """Words as one shell-quoted command-line fragment."""
    return shlex.join(str(w) for w in words)


class Jobs:
    """The workflow of one ``config`` (Snakemake's, its texts read as the schema's types
    (:func:`ffnn.util.settings.coerce_schema`), validated here and completed with the schema's
    defaults in place).

    ``schemas``: the directory of ``config.schema.yaml`` and ``regions.schema.yaml``.
    ``check_settings``: also check every region's training settings and the classify
    block against their dataclasses (imports torch: the workflow does it once, in its
    main process). Raises :class:`~ffnn.util.errors.FFNNError` (one line) for any bad setting.
    """

    def __init__(self, config: dict, schemas, *, check_settings: bool = True):
        schemas = Path(schemas)
        schema = read_yaml(schemas / "config.schema.yaml")
        # Snakemake hands inline --config values over as text: read them as the file's are
        coerced = coerce_schema(config, schema)
        config.clear()
        config.update(coerced)
        validate(config, schema, "config", defaults=True)
        self.config = config
        self.regions = region_table(config, read_yaml(schemas / "regions.schema.yaml"),
                                    read_yaml(schemas / "series.schema.yaml"))
        self.sharp = [r for r, v in self.regions.items() if v["kind"] == "sharp"]
        self.jsoc = [r for r in self.sharp if not self.regions[r]["sharp_dir"]]
        self.lowlou = [r for r, v in self.regions.items() if v["kind"] == "lowlou"]
        self.resources = config["resources"]  # "train" and "default": threads, mem_mb, runtime, gpu
        snapshots = self.regions.snapshot_pattern()  # series snapshots: SHARP regions from JSOC
        self.patterns = {"sharp": region_pattern(self.sharp, snapshots), "jsoc": region_pattern(self.jsoc, snapshots),
                         "lowlou": region_pattern(self.lowlou), "all": region_pattern(self.regions, snapshots),
                         "series": region_pattern(self.regions.series)}
        if check_settings:
            self.check_settings()

    # ------------------------------------------------------------ settings

    def train_settings(self, region: str) -> dict:
        """The training settings of a region: the config's train block, then its overrides,
        each as the type of its :class:`ffnn.field.train.TrainConfig` field (an inline
        ``--config 'train={width: 64}'`` hands text over)."""
        from ffnn.field.train import TrainConfig

        settings = {**self.config["train"], **self.regions[region]["train"]}
        typed = TrainConfig.from_dict(settings)
        return {key: getattr(typed, key) for key in settings}

    def check_settings(self) -> None:
        """Every region's training settings (:class:`ffnn.field.train.TrainConfig`), those of
        every series' first and later snapshots, and the classify block
        (:class:`ffnn.forecast.classify.ClassifySettings`, when enabled)."""
        from ffnn.field.train import TrainConfig

        # the config's own blocks first, so that an error is not blamed on a region, and
        # whether or not a region uses them (a mistyped key is refused before it matters)
        try:
            TrainConfig.from_dict(self.config["train"])
        except FFNNError as err:
            raise ConfigError(f"config train: {err}") from None
        try:
            TrainConfig.from_dict({**self.config["train"], **self.config["series"]["warm"]})
        except FFNNError as err:
            raise ConfigError(f"config series.warm: {err}") from None
        for case, block in self.config["lowlou"]["cases"].items():
            if case not in self.regions:  # a case defined but not run: its settings alike
                try:
                    TrainConfig.from_dict({**self.config["train"], **block.get("train", {})})
                except FFNNError as err:
                    raise ConfigError(f"config lowlou.cases.{case}.train: {err}") from None
        for region, info in self.regions.items():
            try:
                self.train_settings(region)  # read through TrainConfig, so checked
            except FFNNError as err:
                raise ConfigError(f"{info['label']} (region {region}): {err}") from None
        for name, info in self.regions.series.items():
            try:
                TrainConfig.from_dict({**self.config["train"], **info["train"], **info["warm"]})
            except FFNNError as err:
                raise ConfigError(f"{info['label']} (series {name}): {err}") from None
        if self.config["classify"]["enabled"]:
            from ffnn.forecast.classify import ClassifySettings

            try:
                ClassifySettings.from_mapping(self.config["classify"])
            except FFNNError as err:
                raise ConfigError(f"config classify: {err}") from None

    # ------------------------------------------------------------ SHARP regions

    def jsoc_args(self, wildcards) -> str:
        """Network options of ``ffnn resolve`` / ``fetch-sharp`` (the email: :meth:`email_arg`)."""
        jsoc = self.config["jsoc"]
        words = ["--jsoc-url", jsoc["url"]] if jsoc["url"] else []
        words += ["--retries", jsoc["retries"], "--backoff", jsoc["backoff_s"], "--poll", jsoc["poll_s"],
                  "--busy-timeout", jsoc["busy_timeout_s"]]
        return command_line(words)

    def email_arg(self, wildcards) -> str:
        """``--email`` from the config; without it ffnn reads JSOC_EMAIL from the environment."""
        email = self.config["jsoc"]["email"]
        return command_line(["--email", email]) if email else ""

    def record_args(self, wildcards) -> str:
        """Which record ``ffnn resolve`` describes: the sheet row's region and time, and its
        local FITS directory (``sharp_dir``) when it has one."""
        info = self.regions[wildcards.region]
        words = ["--noaa", info["noaa"], "--time", info["time"],
                 "--tolerance", self.config["jsoc"]["tolerance"], "--quality", self.config["jsoc"]["quality"]]
        if info["harpnum"]:
            words += ["--harpnum", info["harpnum"]]
        if info["sharp_dir"]:
            words += ["--sharp-dir", info["sharp_dir"]]
        return command_line(words)

    def local_record_files(self, wildcards) -> list[str]:
        """The FITS files of a region's local record (none for JSOC regions, or where the
        directory is missing: then its resolve job fails with one line, the others go on)."""
        directory = self.regions[wildcards.region]["sharp_dir"]
        return sorted(str(p) for p in Path(directory).glob("*.fits")) if directory else []

    # ------------------------------------------------------------ every region

    def boundary_input(self, wildcards) -> dict[str, str]:
        """Inputs of ``boundary``: a SHARP region's record (and download), or a Low & Lou
        region's reference field."""
        region = wildcards.region
        info = self.regions[region]
        if info["kind"] == "lowlou":
            return {"source": region_file(region, "reference")}
        files = {"record": region_file(region, "resolve")}
        if not info["sharp_dir"]:
            files["download"] = region_file(region, "download")
        return files

    def boundary_args(self, wildcards) -> str:
        """``ffnn boundary``'s source and options: a SHARP record's directory (its
        ``sharp_dir``, or where ``fetch_sharp`` downloads) with its record, bin and box
        height; a Low & Lou reference cube."""
        region = wildcards.region
        info = self.regions[region]
        if info["kind"] == "lowlou":
            return command_line([region_file(region, "reference")])
        source = info["sharp_dir"] or str(Path(region_file(region, "download")).parent)
        return command_line([source, "--record", region_file(region, "resolve"), "--bin", info["bin"],
                             "--height-mm", info["height_mm"]])

    def potential_args(self, wildcards) -> str:
        potential = self.config["potential"]
        words = ["--method", potential["method"], "--pad", potential["pad"]]
        if self.regions[wildcards.region]["kind"] == "lowlou":
            # the potential cube on the reference grid (dz = dx only for a cubic shape)
            words += ["--nz", self.config["lowlou"]["shape"][2]]
        return command_line(words)

    def train_boundary(self, wildcards) -> list[str]:
        """Boundary files of a region's training: SHARP and Low & Lou case 2 use the bottom
        map (a SHARP region's preprocessed one where ``sharp.preprocess`` is set) plus
        potential-field sides and top; Low & Lou case 1 the six reference faces."""
        region = wildcards.region
        info = self.regions[region]
        if info["kind"] == "lowlou" and info["boundary"] == "faces":
            return [region_file(region, "faces")]
        bottom = "preprocessed" if info["kind"] == "sharp" and self.config["sharp"]["preprocess"] else "boundary"
        return [region_file(region, bottom), region_file(region, "pf_faces")]

    def preprocess_args(self, wildcards) -> str:
        """``ffnn preprocess``'s weights (``sharp.preprocess``)."""
        weights = self.config["sharp"]["preprocess"] or {}
        return command_line([w for key in ("mu3", "mu4") for w in (f"--{key}", weights[key])])

    def init_model(self, wildcards) -> list[str]:
        """The model a region's training starts from: a series snapshot's, the previous
        snapshot's model (the first starts cold); none for any other region."""
        model = self.regions[wildcards.region].get("init_model")
        return [model] if model else []

    def init_model_arg(self, wildcards, input) -> str:
        return command_line(["--init-model", input.init]) if input.init else ""

    def train_args(self, wildcards) -> str:
        """``--set KEY=VALUE`` for every training setting of the region (values as JSON)."""
        words = []
        for key, value in sorted(self.train_settings(wildcards.region).items()):
            words += ["--set", f"{key}={json.dumps(value)}"]
        return command_line(words + ["--set", "progress=false"])

    def figures_reference(self, wildcards) -> list[str]:
        """The reference field whose lines the figures draw beside the model's (Low & Lou)."""
        region = wildcards.region
        return [region_file(region, "reference")] if self.regions[region]["kind"] == "lowlou" else []

    def figures_args(self, wildcards) -> str:
        figures = self.config["figures"]
        words = ["--region", wildcards.region, "--lines", figures["lines"], "--dpi", figures["dpi"]]
        for reference in self.figures_reference(wildcards):
            words += ["--reference", reference]
        return command_line(words)

    def row_inputs(self, wildcards) -> dict[str, str]:
        """Files a region's summary row is made of."""
        region = wildcards.region
        names = ["train", "quality", "profiles"] + (["derived"] if self.derived_enabled else [])
        if self.regions[region]["kind"] == "sharp":
            names.append("resolve")
        else:
            names += ["metrics_ffnn", "metrics_potential"]
        return {name: region_file(region, name) for name in names}

    def row_args(self, wildcards) -> str:
        region = wildcards.region
        info = self.regions[region]
        words = ["--region", region, "--meta", f"kind={info['kind']}"]
        if self.derived_enabled:
            words += ["--derived", region_file(region, "derived")]
        if info["kind"] == "sharp":
            words += ["--record", region_file(region, "resolve"), "--meta", f"noaa={info['noaa']}",
                      "--meta", f"requested_time={info['time']}"]
        else:
            meta = {"lowlou_n": info["n"], "lowlou_m": info["m"], "lowlou_l": info["l"],
                    "lowlou_phi": info["phi"], "lowlou_boundary": info["boundary"],
                    "lowlou_shape": json.dumps(list(self.config["lowlou"]["shape"]))}
            words += ["--reference", region_file(region, "metrics_ffnn"),
                      "--potential-reference", region_file(region, "metrics_potential")]
            for key, value in meta.items():
                words += ["--meta", f"{key}={value}"]
        return command_line(words)

    # ------------------------------------------------------------ Low & Lou regions

    def lowlou_args(self, wildcards) -> str:
        case = self.regions[wildcards.region]
        return command_line(["--n", case["n"], "--m", case["m"], "--l", case["l"], "--phi", case["phi"],
                             "--shape", *self.config["lowlou"]["shape"]])

    def metrics_cube(self, wildcards) -> str:
        """The cube compared with the reference: the model's or the potential field's."""
        return region_file(wildcards.region, "cube" if wildcards.model == "ffnn" else "potential")

    # ------------------------------------------------------------ derived products and exports

    @property
    def derived_enabled(self) -> bool:
        """``ffnn derived`` on every region (config ``derived.enabled``)."""
        return bool(self.config["derived"]["enabled"])

    def export_formats(self, region: str) -> list[str]:
        """The formats ``ffnn export`` writes for a region: none unless config
        ``export.enabled`` (and ``derived.enabled``); FITS maps only where the region has a
        WCS (SHARP regions)."""
        if not (self.config["export"]["enabled"] and self.derived_enabled):
            return []
        formats = list(self.config["export"]["formats"])
        return formats if self.regions[region]["kind"] == "sharp" else [f for f in formats if f != "fits"]

    def derived_args(self, wildcards) -> str:
        block = self.config["derived"]
        words = ["--region", wildcards.region, "--oversample", block["oversample"], "--step", block["step"],
                 "--delta", block["delta"], "--strong-field", block["strong_field_g"],
                 "--slice-every", block["slice_every"], "--dpi", self.config["figures"]["dpi"]]
        if not block["slice"]:
            words.append("--no-slice")
        return command_line(words)

    def export_args(self, wildcards) -> str:
        return command_line(["--format", *self.export_formats(wildcards.region)])

    # ------------------------------------------------------------ flare forecast
    # `ffnn classify` fits and verifies the forecast on a SHARP keyword table with labels from a
    # GOES event list (by default the 2010-2014 data shipped in ffnn/data/flares, offline),
    # then scores the SHARP regions of the summary table. The classify block goes to
    # `ffnn classify --config` as JSON: ffnn checks and applies it.

    @property
    def classify_table(self) -> str:
        """The keyword (or summary) table the forecast is fitted on."""
        return self.config["classify"]["table"] or str(SHARP_KEYWORDS_2010_2014)

    @property
    def classify_events(self) -> str:
        """The GOES event list of the labels: a file, HEK's (rule flare_events), or the shipped one."""
        block = self.config["classify"]
        if block["events"] == "hek":
            return block["events_cache"]
        return block["events"] or str(GOES_FLARES_1996_2022)

    @property
    def classify_args(self) -> str:
        return command_line(["--config", json.dumps(self.config["classify"])])

    # ------------------------------------------------------------ time series
    # A series' snapshots are known once its checkpoint series_records has listed them:
    # the input functions below are called by common.smk after it has asked for it.

    def series_records_args(self, wildcards) -> str:
        info = self.regions.series[wildcards.series]
        words = ["--name", wildcards.series, "--start", info["start"], "--end", info["end"],
                 "--cadence", f"{info['cadence_s']:g}s", "--quality", self.config["jsoc"]["quality"],
                 "--tolerance", self.config["jsoc"]["tolerance"]]
        for key in ("noaa", "harpnum"):
            if info[key]:
                words += [f"--{key}", info[key]]
        return command_line(words)

    @property
    def series_flares(self) -> str:
        """The GOES event list of the series figure: the config's, or the one shipped."""
        return self.config["series"]["flares"] or str(GOES_FLARES_1996_2022)

    def series_rows(self, series: str) -> list[str]:
        """The summary rows of the snapshots of ``series`` (listed)."""
        return [region_file(r, "row") for r in self.regions.snapshots(series)]

    def series_products(self, rules) -> list[str]:
        """The figures and derived products of every snapshot of every series (listed)."""
        patterns = [*rules.figures.output, *(rules.derived.output if self.derived_enabled else [])]
        return [str(p).format(region=r) for series in self.regions.series for r in self.regions.snapshots(series)
                for p in patterns]

    # ------------------------------------------------------------ the default target

    def final_targets(self, rules) -> list[str]:
        """What the default target asks for. ``rules``: Snakemake's ``rules`` (each rule's
        ``output`` lists its file patterns)."""
        targets = []
        per_region = [rules.cube.output[0], rules.quality.output.profiles, rules.summary_row.output[0],
                      *rules.figures.output]
        if self.derived_enabled:
            per_region += list(rules.derived.output)
        for region in self.regions:
            targets += [str(p).format(region=region) for p in per_region]
            if self.export_formats(region):
                targets.append(str(rules.export.output[0]).format(region=region))
        if self.regions:
            targets += [rules.summary.output.tsv, rules.summary.output.nc]
        if self.lowlou:
            targets.append(rules.lowlou_table.output[0])
        targets += [str(p).format(series=s) for s in self.regions.series for p in rules.series.output]
        classify = self.config["classify"]
        if classify["enabled"]:
            targets.append(rules.classify.output.skill)
            if self.sharp and classify["predict_regions"]:
                targets.append(rules.classify_predict.output[0])
        return [str(t) for t in targets]

    def checks_command(self) -> str:
        """The command the Snakefile's ``onsuccess`` runs: ``ffnn failures --checks`` over the
        sheet's trust checks, so that a finished run ends on the regions not to trust
        (nothing to run when this run made no summary)."""
        if not Path(CHECKS_TABLE).is_file():
            return "true"
        return command_line(["ffnn", "failures", "--checks", CHECKS_TABLE])

    def failures_command(self) -> str:
        """The command the Snakefile's ``onerror`` runs: ``ffnn failures`` over the logs of
        this run's regions and series, so that the end of a failed run's output says which
        jobs failed and why (:mod:`ffnn.pipeline.failures`). Nothing to run when the run failed
        before any job wrote a log (``ffnn failures`` refuses a missing log directory)."""
        if not Path("logs").is_dir():
            return "true"
        return command_line(["ffnn", "failures", "--logs", "logs", *self.regions, *self.regions.series])
