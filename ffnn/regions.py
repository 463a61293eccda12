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
"""

from __future__ import annotations

import datetime
import json
import re
from importlib import resources
from pathlib import Path

from ffnn.errors import ConfigError

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


def schema_message(err, what: str) -> str:
    """One line for a jsonschema ``ValidationError`` ``err`` in ``what`` (a config or a
    sheet row): the unknown keys with the allowed ones, a malformed time, a missing key,
    or the offending value with the schema's complaint."""
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
        return (f"{what}: unknown key(s) {', '.join(repr(k) for k in unknown)}{inside}; "
                f"allowed: {allowed}")
    if err.validator == "pattern" and path and path[-1] == "time":
        return f"{what}: malformed time {err.instance!r}; use ISO 8601 UTC like 2011-02-14T20:00"
    if err.validator == "required":
        return f"{what} {where}: {err.message}" if where else f"{what}: {err.message}"
    value = json.dumps(err.instance, default=str)
    return f"{what}: {where or 'top level'} = {value}: {err.message}"


def load_schema(path) -> dict:
    """A JSON schema from a YAML file."""
    import yaml

    try:
        return yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"cannot read schema {path}: {err}") from None


def validate(data: dict, schema: dict, what: str) -> None:
    """Check ``data`` against ``schema``; ConfigError with :func:`schema_message` of the
    first error (the one Snakemake's ``validate`` reports)."""
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    error = next(iter(validator.iter_errors(data)), None)
    if error is not None:
        raise ConfigError(schema_message(error, what))


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
