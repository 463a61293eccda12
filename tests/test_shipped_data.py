"""The flare-forecast data shipped in ffnn/data/flares: packaged, as its README describes it,
and labelled as the README says."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest

from ffnn import data
from ffnn.io import keywords as kw
from ffnn.forecast import labels as lbl

ROOT = Path(__file__).resolve().parents[1]


def test_every_shipped_file_is_package_data():
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["ffnn.data"]
    files = [p.relative_to(data.FLARES.parent).as_posix() for p in data.FLARES.iterdir()]
    assert {"flares/README.md", "flares/sharp_keywords_2010_2014.csv.gz", "flares/goes_flares_1996_2022.csv.gz"} <= set(files)
    assert [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)] == []


def test_shipped_table_and_event_list_are_what_the_readme_says():
    table = kw.read_table(data.SHARP_KEYWORDS_2010_2014)
    records = kw.records(table)
    assert len(table) == 5690 and records["harpnum"].nunique() == 542
    assert records["t_rec"].str.endswith("_TAI").all()
    assert f"{records['time'].min():%Y-%m}" == "2010-05" and f"{records['time'].max():%Y-%m}" == "2014-12"
    events = lbl.read_events(data.GOES_FLARES_1996_2022)
    assert len(events) == 43084 - 25 - 1  # unreadable peaks and the A0.0 event dropped (README)
    label = lbl.flare_labels(records, events)["label"]
    assert label.notna().all()
    assert label.mean() == pytest.approx(0.23, abs=0.01)
    by_year = label.groupby(records["time"].dt.year).mean()
    assert by_year[2010] == pytest.approx(0.07, abs=0.01) and by_year[2014] == pytest.approx(0.37, abs=0.01)
