"""The region sheet of the workflow: one SHARP region per row of a tab-separated table.

Columns are described by ``workflow/schemas/regions.schema.yaml``: ``noaa`` and ``time``
(ISO 8601 UTC) are required; ``harpnum``, ``bin``, ``height_mm``, ``sharp_dir`` and
``train.<setting>`` are optional, and empty cells take the config's values. ``#`` starts a
comment, on a line of its own or after a row's cells (trailing empty cells are dropped
with it). Each row becomes the region ``ar<noaa>_<YYYYmmddTHHMM>``.

``sharp_dir`` names a directory holding one record's FITS files (a JSOC export, sunpy's
Fido, ...): the workflow then reads the record from their headers instead of asking JSOC.
A relative path is taken from the working directory; ``ffnn:<record>`` names a record
shipped inside the package (``ffnn/data/sharp/<record>``), found wherever ffnn is installed.

The series sheet (``workflow/schemas/series.schema.yaml``) lists time series: a region
(``noaa`` and/or ``harpnum``), ``start``, ``end`` and ``cadence`` (default 12 min), with
the same optional ``bin``, ``height_mm`` and ``train.<setting>`` columns and
``warm.<setting>`` overrides of the warm-start settings. Each row becomes the series
``ar<noaa>_<start>_<end>`` (:func:`ffnn.pipeline.series.series_id`), whose snapshots are regions
``<series>/<T_REC>`` found at run time: :class:`RegionTable` looks them up in the series'
record list when they are asked for.

Every problem is a :class:`~ffnn.util.errors.ConfigError` whose message is one line naming the
sheet, the row and the key or value (the workflow prints it as is).

:func:`region_table` is the workflow's table of every region: the sheet's rows and the
Low & Lou benchmark cases of the config.
"""

from __future__ import annotations

import datetime
import io
import re
from pathlib import Path

from ffnn.util.errors import ConfigError
from ffnn.util.settings import validate

# Cells read as text even when they look like numbers.
TEXT_COLUMNS = ("time", "sharp_dir")
SERIES_TEXT_COLUMNS = ("start", "end", "cadence")


def cell(text: str):
    """A sheet cell (text) as int, float, bool or str."""
    text = text.strip()
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return float(text)
    except ValueError:
        return text


def parse_time(text, what: str) -> datetime.datetime:
    """A sheet's time → naive UTC datetime, read by the commands' parser
    (:func:`ffnn.util.times.parse_time`: ISO 8601, with ``Z`` or ``+00:00`` if given, or JSOC's
    ``..._TAI``); ConfigError naming ``what`` if malformed."""
    from ffnn.util.times import parse_time as parse

    return parse(text, what).utc.to_datetime()


def region_id(noaa: int, when: datetime.datetime) -> str:
    """Region id of a sheet row: ``ar<noaa>_<YYYYmmddTHHMM>``."""
    return f"ar{int(noaa)}_{when:%Y%m%dT%H%M}"


def sharp_directory(value: str) -> str:
    """The directory a ``sharp_dir`` cell names (:func:`ffnn.io.sharp.record_directory`:
    ``ffnn:<record>`` is one shipped in the package). Existence is not checked here: a
    missing directory fails that region's job, not the whole batch."""
    from ffnn.io.sharp import record_directory

    return str(record_directory(value, check=False))


def _sheet_rows(path, schema: dict, noun: str, key: str, text_columns) -> list[dict]:
    """The validated rows of a TSV sheet: each a dict of its non-empty cells (numbers as
    numbers, ``text_columns`` as text) with ``label`` (how messages name the row) added."""
    import pandas as pd

    sheet = Path(path)
    if not sheet.is_file():
        raise ConfigError(f"config {key}: {noun} {path} does not exist")
    try:
        # '#' starts a comment anywhere; trailing empty cells (a tab left at the end of a
        # line, or before a comment) are dropped, so that no row is longer than the header
        lines = [line.split("#", 1)[0].rstrip() for line in sheet.read_text().splitlines()]
        lines = [line for line in lines if line.strip()]
        width = len(lines[0].split("\t")) if lines else 0
        if width == 1 and any(sep in lines[0] for sep in ",; "):
            raise ConfigError(f"{noun} {path}: one column, {lines[0].strip()!r}: columns must be "
                              f"separated by tabs (a TSV), not commas or spaces")
        for i, line in enumerate(lines[1:], start=1):
            cells = line.split("\t")
            if len(cells) > width:
                raise ConfigError(f"{noun} {path} row {i}: {len(cells)} cells, but the header names "
                                  f"{width} columns: {cells[width:]} left over")
        table = pd.read_csv(io.StringIO("\n".join(lines)), sep="\t", dtype=str, keep_default_na=False,
                            index_col=False).fillna("")
    except (OSError, ValueError) as err:
        raise ConfigError(f"{noun} {path}: not a readable TSV: {str(err).splitlines()[0]}") from None
    table.columns = [str(c).strip() for c in table.columns]
    rows = []
    for i, raw in enumerate(table.to_dict("records"), start=1):
        row = {k: cell(v) for k, v in raw.items() if str(v).strip() != ""}
        for column in text_columns:
            if column in row:
                row[column] = str(raw[column]).strip()
        row["label"] = f"{noun} {path} row {i}" + (f" (noaa {row['noaa']})" if "noaa" in row else "")
        validate({k: v for k, v in row.items() if k != "label"}, schema, row["label"])
        rows.append(row)
    if not rows:
        raise ConfigError(f"{noun} {path} has no rows")
    return rows


def read_sheet(path, schema: dict) -> list[dict]:
    """The validated rows of a region sheet (``config/regions.tsv``).

    Parameters
    ----------
    path : path-like
        The TSV file: columns ``noaa``, ``time`` and optionally ``sharp_dir``, ``bin``,
        ``height_mm``, ``train.<setting>`` (config/README.md).
    schema : dict
        The sheet's JSON schema (``workflow/schemas/regions.schema.yaml``).

    Returns
    -------
    list of dict
        One per row: its non-empty cells (numbers as numbers; ``time`` and ``sharp_dir``
        as text), ``time`` as ``YYYY-mm-ddTHH:MM:SS``, with ``region`` (the region id)
        and ``label`` (how messages name the row) added.

    Raises
    ------
    ffnn.util.errors.ConfigError
        No such file, not a TSV, a row against the schema, or no rows.
    """
    rows = _sheet_rows(path, schema, "region sheet", "regions", TEXT_COLUMNS)
    for row in rows:
        when = parse_time(row["time"], row["label"])
        row.update(region=region_id(row["noaa"], when), time=when.strftime("%Y-%m-%dT%H:%M:%S"))
    return rows


def sharp_regions(rows: list[dict], sharp_defaults: dict) -> dict[str, dict]:
    """The workflow's region table entries of sheet rows: region id → settings.

    Each entry holds ``kind`` ("sharp"), ``noaa``, ``time``, ``harpnum`` (or None),
    ``sharp_dir`` (a directory, or None for JSOC), ``bin`` and ``height_mm`` (the row's, or
    ``sharp_defaults``'), ``train`` (the row's ``train.<setting>`` overrides) and ``label``.
    A region id that appears twice is a ConfigError.
    """
    table = {}
    for row in rows:
        if row["region"] in table:
            raise ConfigError(f"{row['label']}: region {row['region']} appears twice in the sheet")
        table[row["region"]] = {
            "kind": "sharp", "noaa": row["noaa"], "time": row["time"],
            "harpnum": row.get("harpnum"),
            "sharp_dir": sharp_directory(row["sharp_dir"]) if "sharp_dir" in row else None,
            "bin": row.get("bin", sharp_defaults["bin"]),
            "height_mm": row.get("height_mm", sharp_defaults["height_mm"]),
            "train": {k.split(".", 1)[1]: v for k, v in row.items() if k.startswith("train.")},
            "label": row["label"],
        }
    return table


# ---------------------------------------------------------------- time series

def parse_cadence(text, what: str) -> float:
    """A cadence (``12min``, ``1h``, ``6 h``, ``720s``) in seconds: a positive multiple of
    SHARP's 12 minutes, else ConfigError naming ``what``."""
    import pandas as pd

    from ffnn.pipeline.series import SHARP_CADENCE_S

    try:
        if re.fullmatch(r"[0-9.]+", str(text).strip()):  # pandas would read nanoseconds
            raise ValueError(text)
        seconds = pd.Timedelta(str(text).strip()).total_seconds()
    except ValueError:
        raise ConfigError(f"{what}: cannot read cadence {text!r}; use e.g. 12min, 1h, 6h") from None
    if not seconds > 0 or seconds % SHARP_CADENCE_S:
        raise ConfigError(f"{what}: cadence {text!r} is not a multiple of SHARP's 12 min")
    return seconds


def read_series_sheet(path, schema: dict, default_cadence: str = "12min") -> list[dict]:
    """The validated rows of a series sheet.

    Each row is a dict of its non-empty cells with ``start`` and ``end`` normalised to
    ``YYYY-mm-ddTHH:MM:SS``, ``cadence_s`` (seconds; ``default_cadence`` when the cell is
    empty), ``series`` (the series id) and ``label`` added. Raises ConfigError: no such
    file, not a TSV, a row against the schema, neither noaa nor harpnum, an end not after
    the start, a cadence that is not a multiple of 12 min, no rows.
    """
    from ffnn.pipeline.series import series_id

    rows = _sheet_rows(path, schema, "series sheet", "series.sheet", SERIES_TEXT_COLUMNS)
    for row in rows:
        label = row["label"]
        if "noaa" not in row and "harpnum" not in row:
            raise ConfigError(f"{label}: name the region with noaa, harpnum or both")
        start, end = (parse_time(row[k], label) for k in ("start", "end"))
        if end <= start:
            raise ConfigError(f"{label}: end {row['end']} is not after start {row['start']}")
        row.update(start=start.strftime("%Y-%m-%dT%H:%M:%S"), end=end.strftime("%Y-%m-%dT%H:%M:%S"),
                   cadence_s=parse_cadence(row.get("cadence", default_cadence), label),
                   series=series_id(row.get("noaa"), row.get("harpnum"), start, end))
    return rows


def series_table(rows: list[dict], sharp_defaults: dict, warm: dict) -> dict[str, dict]:
    """The series of sheet rows: series id → settings.

    Each entry holds ``noaa`` and ``harpnum`` (either may be None), ``start``, ``end``,
    ``cadence_s``, ``bin`` and ``height_mm`` (the row's, or ``sharp_defaults``'),
    ``train`` (the row's ``train.<setting>`` overrides, every snapshot), ``warm`` (the
    config's warm-start settings ``warm`` with the row's ``warm.<setting>`` overrides,
    every snapshot but the first) and ``label``. A series id that appears twice is a
    ConfigError.
    """
    table = {}
    for row in rows:
        if row["series"] in table:
            raise ConfigError(f"{row['label']}: series {row['series']} appears twice in the sheet")

        def prefixed(prefix):
            return {k.split(".", 1)[1]: v for k, v in row.items() if k.startswith(prefix + ".")}

        table[row["series"]] = {
            "noaa": row.get("noaa"), "harpnum": row.get("harpnum"), "start": row["start"],
            "end": row["end"], "cadence_s": row["cadence_s"],
            "bin": row.get("bin", sharp_defaults["bin"]),
            "height_mm": row.get("height_mm", sharp_defaults["height_mm"]),
            "train": prefixed("train"), "warm": {**warm, **prefixed("warm")}, "label": row["label"],
        }
    return table


class RegionTable(dict):
    """The workflow's regions: region id → settings (as :func:`sharp_regions` gives them).

    Besides the regions put in as in a dict, it answers for the snapshots of its
    ``series`` (:func:`series_table`), ids ``<series>/<T_REC stamp>``, which are only known
    once the series' record list ``<results>/<series>/records.json`` exists: a snapshot
    is looked up there when it is first asked for (:func:`ffnn.pipeline.series.snapshot_settings`).
    Iterating goes over the regions put in only.
    """

    def __init__(self, *args, results: str = "results", **kwargs):
        super().__init__(*args, **kwargs)
        self.series: dict[str, dict] = {}
        self.results = results
        self._lists: dict[str, tuple[int, dict, dict]] = {}  # series -> (mtime, record list, snapshots)

    def snapshot_pattern(self) -> str | None:
        """A regular expression matching exactly the snapshot ids of the series (None
        without series)."""
        from ffnn.pipeline.series import STAMP_PATTERN

        if not self.series:
            return None
        names = "|".join(re.escape(name) for name in self.series)
        return f"(?:{names})/{STAMP_PATTERN}"

    def _listed(self, series: str) -> tuple[int, dict, dict]:
        from ffnn.pipeline.series import read_records

        path = Path(self.results) / series / "records.json"
        try:
            mtime = path.stat().st_mtime_ns
        except FileNotFoundError:
            raise ConfigError(f"series {series}: its record list {path} does not exist yet; ask "
                              f"for {Path(self.results) / series / 'series.nc'}, which lists the "
                              "records first") from None
        if series not in self._lists or self._lists[series][0] != mtime:
            self._lists[series] = (mtime, read_records(path), {})
        return self._lists[series]

    def records(self, series: str) -> dict:
        """The record list of ``series`` (read again when the file changes)."""
        return self._listed(series)[1]

    def snapshots(self, series: str) -> list[str]:
        """Region ids of the snapshots of ``series``, in time order (from its record list)."""
        from ffnn.pipeline.series import snapshot_ids

        return snapshot_ids(self.records(series))

    def __missing__(self, region):
        from ffnn.pipeline.series import snapshot_settings

        series, _, snapshot = str(region).rpartition("/")
        if series not in self.series:
            raise KeyError(region)
        _, doc, known = self._listed(series)
        if snapshot not in known:  # input functions ask for the same snapshot many times
            known[snapshot] = snapshot_settings(self.series[series], doc, snapshot, self.results)
        return known[snapshot]


# Training settings the workflow sets itself (`ffnn train` options), never in a train block.
WORKFLOW_TRAIN_KEYS = {"threads": "resources.train.threads", "progress": "(always off in the workflow)"}


def check_train_block(block: dict, what: str) -> None:
    """ConfigError when a training block sets what the workflow sets itself."""
    for key, instead in WORKFLOW_TRAIN_KEYS.items():
        if key in block:
            raise ConfigError(f"{what}: '{key}' is set by the workflow, not in train: use {instead}")


def region_table(config: dict, sheet_schema: dict, series_schema: dict | None = None) -> RegionTable:
    """Every region a workflow configuration runs.

    Parameters
    ----------
    config : dict
        The workflow's configuration (``config/config.yaml`` with its defaults): keys
        ``regions``, ``sharp``, ``lowlou``, ``train``, ``series``.
    sheet_schema : dict
        The region sheet's JSON schema.
    series_schema : dict, optional
        The series sheet's JSON schema (needed when ``series.sheet`` is set).

    Returns
    -------
    RegionTable
        Region id -> settings, in the order of the sheet (:func:`sharp_regions` of
        config ``regions``; none when null) and then of config ``lowlou.regions``; the
        series of config ``series.sheet`` (:func:`series_table`), whose snapshots the
        table answers for once listed. A Low & Lou entry holds ``kind`` ("lowlou"), its
        case's ``n``, ``m``, ``l``, ``phi``, ``boundary``, ``train`` and a ``label``.

    Raises
    ------
    ffnn.util.errors.ConfigError
        For a bad sheet, an unknown case, or a train block that sets ``threads`` or
        ``progress``.
    """
    check_train_block(config["train"], "config train")
    table = RegionTable()
    if config["regions"]:
        table.update(sharp_regions(read_sheet(config["regions"], sheet_schema), config["sharp"]))
    for info in table.values():
        check_train_block(info["train"], info["label"])
    cases = config["lowlou"]["cases"]
    for name in config["lowlou"].get("regions", []):
        if name not in cases:
            raise ConfigError(f"config lowlou.regions: no case {name!r} in lowlou.cases "
                              f"(defined: {', '.join(sorted(cases)) or 'none'})")
        check_train_block(cases[name]["train"], f"config lowlou.cases.{name}.train")
        table[name] = {"kind": "lowlou", **cases[name], "label": f"config lowlou.cases.{name}"}
    series = config.get("series") or {}
    check_train_block(series.get("warm") or {}, "config series.warm")
    if series.get("sheet"):
        rows = read_series_sheet(series["sheet"], series_schema, series["cadence"])
        table.series.update(series_table(rows, config["sharp"], series["warm"]))
        for info in table.series.values():
            check_train_block({**info["train"], **info["warm"]}, info["label"])
    return table
