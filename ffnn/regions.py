"""The region sheet of the workflow: one SHARP region per row of a tab-separated table.

Columns are described by ``workflow/schemas/regions.schema.yaml``: ``noaa`` and ``time``
(ISO 8601 UTC) are required; ``harpnum``, ``bin``, ``height_mm``, ``sharp_dir`` and
``train.<setting>`` are optional, and empty cells take the config's values. ``#`` starts a
comment line. Each row becomes the region ``ar<noaa>_<YYYYmmddTHHMM>``.

``sharp_dir`` names a directory holding one record's FITS files (a JSOC export, sunpy's
Fido, ...): the workflow then reads the record from their headers instead of asking JSOC.
A relative path is taken from the working directory; ``ffnn:<record>`` names a record
shipped inside the package (``ffnn/data/sharp/<record>``), found wherever ffnn is installed.

Every problem is a :class:`~ffnn.errors.ConfigError` whose message is one line naming the
sheet, the row and the key or value (the workflow prints it as is).

:func:`region_table` is the workflow's table of every region: the sheet's rows and the
Low & Lou benchmark cases of the config.
"""

from __future__ import annotations

import datetime
import re
from importlib import resources
from pathlib import Path

from ffnn.errors import ConfigError
from ffnn.settings import validate

PACKAGE_PREFIX = "ffnn:"
# Cells read as text even when they look like numbers.
TEXT_COLUMNS = ("time", "sharp_dir")


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
    """ISO time text → naive UTC datetime; ConfigError naming ``what`` if malformed."""
    text = str(text).strip()
    try:
        return datetime.datetime.fromisoformat(text.rstrip("Zz"))
    except ValueError:
        raise ConfigError(
            f"{what}: malformed time {text!r}; use ISO 8601 UTC like 2011-02-14T20:00"
        ) from None


def region_id(noaa: int, when: datetime.datetime) -> str:
    """Region id of a sheet row: ``ar<noaa>_<YYYYmmddTHHMM>``."""
    return f"ar{int(noaa)}_{when:%Y%m%dT%H%M}"


def sharp_directory(value: str) -> str:
    """The directory a ``sharp_dir`` cell names: ``ffnn:<record>`` → the record shipped in
    the package; anything else is a path, as given. Existence is not checked here: a
    missing directory fails that region's job, not the whole batch."""
    if value.startswith(PACKAGE_PREFIX):
        return str(resources.files("ffnn") / "data" / "sharp" / value[len(PACKAGE_PREFIX):])
    return value


def read_sheet(path, schema: dict) -> list[dict]:
    """The validated rows of a region sheet.

    Each row is a dict of its non-empty cells (numbers as numbers; ``time`` and
    ``sharp_dir`` as text), with ``time`` normalised to ``YYYY-mm-ddTHH:MM:SS`` and
    ``region`` (the region id) and ``label`` (how messages name the row) added.
    Raises ConfigError: no such file, not a TSV, a row against the schema, no rows.
    """
    import pandas as pd

    sheet = Path(path)
    if not sheet.is_file():
        raise ConfigError(f"config regions: region sheet {path} does not exist")
    try:
        table = pd.read_csv(sheet, sep="\t", comment="#", dtype=str, keep_default_na=False,
                            skip_blank_lines=True)
    except (OSError, ValueError) as err:
        raise ConfigError(f"region sheet {path}: not a readable TSV: {err}") from None
    table.columns = [str(c).strip() for c in table.columns]
    rows = []
    for i, raw in enumerate(table.to_dict("records"), start=1):
        row = {k: cell(v) for k, v in raw.items() if str(v).strip() != ""}
        for key in TEXT_COLUMNS:
            if key in row:
                row[key] = str(raw[key]).strip()
        label = f"region sheet {path} row {i}" + (f" (noaa {row['noaa']})" if "noaa" in row else "")
        validate(row, schema, label)
        when = parse_time(row["time"], label)
        row.update(region=region_id(row["noaa"], when), time=when.strftime("%Y-%m-%dT%H:%M:%S"),
                   label=label)
        rows.append(row)
    if not rows:
        raise ConfigError(f"region sheet {path} has no rows")
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


# Training settings the workflow sets itself (`ffnn train` options), never in a train block.
WORKFLOW_TRAIN_KEYS = {"threads": "resources.train.threads", "progress": "(always off in the workflow)"}


def check_train_block(block: dict, what: str) -> None:
    """ConfigError when a training block sets what the workflow sets itself."""
    for key, instead in WORKFLOW_TRAIN_KEYS.items():
        if key in block:
            raise ConfigError(f"{what}: '{key}' is set by the workflow, not in train: use {instead}")


def region_table(config: dict, sheet_schema: dict) -> dict[str, dict]:
    """Every region of a run: region id → settings, in the order of the sheet
    (:func:`sharp_regions` of config ``regions``; none when null) and then of config
    ``lowlou.regions``. A Low & Lou entry holds ``kind`` ("lowlou"), its case's ``n``, ``m``,
    ``l``, ``phi``, ``boundary``, ``train`` and a ``label``. Raises ConfigError for a bad
    sheet, an unknown case, or a train block that sets ``threads`` or ``progress``."""
    check_train_block(config["train"], "config train")
    table = {}
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
    return table
