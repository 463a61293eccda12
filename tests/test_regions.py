"""The region sheet (ffnn.pipeline.regions): rows, region ids, local records, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ffnn.pipeline import regions
from ffnn.io import sharp
from ffnn.util.errors import ConfigError
from ffnn.util.settings import read_yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = read_yaml(REPO / "workflow/schemas/regions.schema.yaml")
DEFAULTS = {"bin": 2, "height_mm": 100}


def table(tmp_path, text: str) -> dict:
    sheet = tmp_path / "regions.tsv"
    sheet.write_text(text)
    return regions.sharp_regions(regions.read_sheet(sheet, SCHEMA), DEFAULTS)


def test_rows_become_regions_with_the_config_defaults(tmp_path):
    got = table(tmp_path, "# a comment\n"
                          "noaa\ttime\tharpnum\tbin\tsharp_dir\ttrain.width\n"
                          "11158\t2011-02-14T20:00Z\t377\t4\t\t32\n"
                          "\n"
                          "11166\t2011-03-09 00:00:00\t\t\t2011\t\n")
    assert list(got) == ["ar11158_20110214T2000", "ar11166_20110309T0000"]
    first, second = got.values()
    assert first == {"kind": "sharp", "noaa": 11158, "time": "2011-02-14T20:00:00",
                     "harpnum": 377, "sharp_dir": None, "bin": 4, "height_mm": 100,
                     "train": {"width": 32}, "label": f"region sheet {tmp_path / 'regions.tsv'} "
                                                      "row 1 (noaa 11158)"}
    assert (second["harpnum"], second["bin"], second["train"]) == (None, 2, {})
    assert second["sharp_dir"] == "2011"  # a directory name, even when it looks like a number


def test_trailing_comments_and_empty_cells_leave_the_columns_in_place(tmp_path):
    """A row ending in a tab, or in a tab and a comment, is the row without them (pandas
    would take the first column for an index and shift every cell)."""
    got = table(tmp_path, "noaa\ttime\tharpnum\tbin  # header comment\n"
                          "11158\t2011-02-15T02:00\t377\t4\t# trailing comment\n"
                          "11166\t2011-03-09T00:00\t\t\t\n"
                          "11167\t2011-03-10T00:00\t\t3 # bin three\n")
    assert [(v["noaa"], v["harpnum"], v["bin"]) for v in got.values()] == [(11158, 377, 4), (11166, None, 2),
                                                                          (11167, None, 3)]
    with pytest.raises(ConfigError, match=r"row 1: 4 cells, but the header names 3 columns: \['7'\] left over$"):
        table(tmp_path, "noaa\ttime\tbin\n11158\t2011-02-15T02:00\t4\t7\n")


@pytest.mark.parametrize("sep", [",", ";", "  "])
def test_a_sheet_separated_by_commas_or_spaces_is_told_to_use_tabs(tmp_path, sep):
    with pytest.raises(ConfigError, match=r"regions.tsv: one column, 'noaa.*time': columns must be "
                                          r"separated by tabs \(a TSV\)"):
        table(tmp_path, f"noaa{sep}time\n11158{sep}2011-02-15T02:00\n")


def test_sharp_dir_names_a_path_or_a_record_shipped_in_the_package(tmp_path):
    got = table(tmp_path, "noaa\ttime\tsharp_dir\n"
                          "11158\t2011-02-15T02:00\tffnn:hmi.sharp_cea_720s.377.20110215_020000_TAI\n"
                          "11158\t2011-02-15T03:00\tdata/my export\n")
    shipped, mine = (v["sharp_dir"] for v in got.values())
    assert Path(shipped) == REPO / "ffnn/data/sharp/hmi.sharp_cea_720s.377.20110215_020000_TAI"
    assert sorted(sharp.find_segments(shipped)) == sorted(sharp.SEGMENTS)
    assert mine == "data/my export"  # relative to the working directory, unchecked here


def test_the_sheet_reads_every_form_of_time_the_commands_read(tmp_path):
    """issue 26 item 8: ``ffnn resolve --time`` takes JSOC's T_REC and isoformat()'s
    +00:00; so does the sheet (one parser, ffnn.io.jsoc.parse_time). Times are UTC: the
    T_REC 02:00:00 TAI is 01:59:26 UTC."""
    got = table(tmp_path, "noaa\ttime\n11158\t2011.02.15_02:00:00_TAI\n11158\t2011-02-15T03:00:00+00:00\n"
                          "11158\t2011-02-15T05:00:00+01:00\n")
    assert [(r, v["time"]) for r, v in got.items()] == [
        ("ar11158_20110215T0159", "2011-02-15T01:59:26"), ("ar11158_20110215T0300", "2011-02-15T03:00:00"),
        ("ar11158_20110215T0400", "2011-02-15T04:00:00")]


def test_shipped_sheets_parse(tmp_path):
    default = regions.sharp_regions(regions.read_sheet(REPO / "config/regions.tsv", SCHEMA), DEFAULTS)
    assert list(default) == ["ar11158_20110215T0200"]
    assert Path(default["ar11158_20110215T0200"]["sharp_dir"]).is_dir()
    jsoc = regions.sharp_regions(regions.read_sheet(REPO / "config/regions_jsoc.tsv", SCHEMA),
                                 DEFAULTS)
    assert "ar11158_20110214T2000" in jsoc and all(v["sharp_dir"] is None for v in jsoc.values())


ROW = "region sheet {sheet} row 1 (noaa 11158)"
TIME_FORMS = ("ISO 8601 UTC like 2011-02-14T20:00 (a Z or +00:00 suffix allowed) "
              "or JSOC's T_REC like 2011.02.14_20:00:00_TAI")
BAD_SHEETS = {
    "unknown column": ("noaa\ttime\tbinning\n11158\t2011-02-14T20:00\t2\n",
                       ROW + ": unknown key(s) 'binning'; allowed: bin, harpnum, height_mm, noaa, "
                             "sharp_dir, time, /^train\\.[a-z_]+$/"),
    "time format": ("noaa\ttime\n11158\t14/02/2011 20:00\n",
                    ROW + ": malformed time '14/02/2011 20:00'; use " + TIME_FORMS),
    "impossible date": ("noaa\ttime\n11158\t2011-02-30T20:00\n",
                        ROW + ": malformed time '2011-02-30T20:00'; use " + TIME_FORMS),
    "no noaa": ("noaa\ttime\n\t2011-02-14T20:00\n",
                "region sheet {sheet} row 1: 'noaa' is a required property"),
    "bad value": ("noaa\ttime\tbin\n11158\t2011-02-14T20:00\t0\n",
                  ROW + ": bin = 0: 0 is less than the minimum of 1"),
    "twice": ("noaa\ttime\n11158\t2011-02-14T20:00\n11158\t2011-02-14T20:00:30\n",
              "region sheet {sheet} row 2 (noaa 11158): region ar11158_20110214T2000 appears "
              "twice in the sheet"),
    "no rows": ("noaa\ttime\n# nothing\n", "region sheet {sheet} has no rows"),
}


@pytest.mark.parametrize("case", list(BAD_SHEETS))
def test_a_bad_sheet_is_one_line_naming_the_row(tmp_path, case):
    text, message = BAD_SHEETS[case]
    with pytest.raises(ConfigError) as err:
        table(tmp_path, text)
    assert str(err.value) == message.format(sheet=tmp_path / "regions.tsv")


def test_a_missing_sheet_is_named(tmp_path):
    with pytest.raises(ConfigError, match="config regions: region sheet nowhere.tsv does not exist"):
        regions.read_sheet("nowhere.tsv", SCHEMA)
