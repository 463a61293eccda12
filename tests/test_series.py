"""Time series of a region (ffnn.pipeline.series, the series sheet, the workflow's series stage).

* the series sheet: rows become series with the config's defaults; bad rows are one line;
* the record list comes from one keyword query of the real drms client to the fake JSOC
  (``[HARP][start-end@cadence]``, no export), QUALITY handled per jsoc.quality;
* the region table answers for snapshots from the record list: the first starts cold,
  every later one from the previous snapshot's model with the warm settings;
* series.nc is CF-1.8 with units UDUNITS reads, the figure marks the region's flares;
* the plateau stop of warm snapshots, and a warm start on the drifting Low & Lou series
  reaching the cold start's quality in a fraction of its iterations;
* a series through the fake JSOC runs end to end through the workflow, and a killed
  middle snapshot resumes from its checkpoint on rerun, with the chain continuing from it;
* the benchmark script's contract (results.json), at a toy size.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ffnn import cli
from ffnn.pipeline import regions, series
from ffnn.util.errors import ConfigError, DataError
from ffnn.io.jsoc import JsocSettings, SharpRecord, parse_time
from ffnn.util.settings import read_yaml
from jsoc_server import sharp_record

REPO = Path(__file__).resolve().parents[1]
SCHEMA = read_yaml(REPO / "workflow/schemas/series.schema.yaml")
SHARP = {"bin": 2, "height_mm": 100}
WARM = {"warmup_iterations": 0, "plateau_iterations": 40}


def sheet(tmp_path, text: str) -> dict:
    path = tmp_path / "series.tsv"
    path.write_text(text)
    return regions.series_table(regions.read_series_sheet(path, SCHEMA), SHARP, WARM)


# ---------------------------------------------------------------- the series sheet

def test_series_rows_become_series_with_the_config_defaults(tmp_path):
    got = sheet(tmp_path, "# NOAA 11158 around its X2.2 flare\n"
                          "noaa\tharpnum\tstart\tend\tcadence\tbin\ttrain.width\twarm.max_iterations\n"
                          "11158\t377\t2011-02-14T20:00\t2011-02-15T04:00Z\t1h\t4\t32\t300\n"
                          "\t401\t2011-02-14 20:00\t2011-02-14T22:00\t\t\t\t\n")
    assert list(got) == ["ar11158_20110214T2000_20110215T0400", "harp401_20110214T2000_20110214T2200"]
    first, second = got.values()
    assert first == {"noaa": 11158, "harpnum": 377, "start": "2011-02-14T20:00:00",
                     "end": "2011-02-15T04:00:00", "cadence_s": 3600.0, "bin": 4, "height_mm": 100,
                     "train": {"width": 32}, "warm": {**WARM, "max_iterations": 300},
                     "label": f"series sheet {tmp_path / 'series.tsv'} row 1 (noaa 11158)"}
    assert (second["noaa"], second["harpnum"], second["cadence_s"], second["bin"]) == (None, 401, 720.0, 2)
    assert second["train"] == {} and second["warm"] == WARM


def test_shipped_series_sheet_parses():
    rows = regions.read_series_sheet(REPO / "config/series_jsoc.tsv", SCHEMA)
    table = regions.series_table(rows, SHARP, WARM)
    assert table and all(v["cadence_s"] % 720 == 0 for v in table.values())


ROW = "series sheet {sheet} row 1 (noaa 11158)"
BAD_SHEETS = {
    "no region": ("start\tend\n2011-02-14T20:00\t2011-02-15T20:00\n",
                  "series sheet {sheet} row 1: name the region with noaa, harpnum or both"),
    "end before start": ("noaa\tstart\tend\n11158\t2011-02-15T20:00\t2011-02-14T20:00\n",
                         ROW + ": end 2011-02-14T20:00 is not after start 2011-02-15T20:00"),
    "cadence off the grid": ("noaa\tstart\tend\tcadence\n11158\t2011-02-14T20:00\t2011-02-15T20:00\t10min\n",
                             ROW + ": cadence '10min' is not a multiple of SHARP's 12 min"),
    "cadence unreadable": ("noaa\tstart\tend\tcadence\n11158\t2011-02-14T20:00\t2011-02-15T20:00\tsoon\n",
                           ROW + ": cannot read cadence 'soon'; use e.g. 12min, 1h, 6h"),
    "cadence without unit": ("noaa\tstart\tend\tcadence\n11158\t2011-02-14T20:00\t2011-02-15T20:00\t12\n",
                             ROW + ": cannot read cadence '12'; use e.g. 12min, 1h, 6h"),
    "malformed time": ("noaa\tstart\tend\n11158\t2011-02-30T20:00\t2011-03-01T20:00\n",
                       ROW + ": malformed time '2011-02-30T20:00'; use ISO 8601 UTC like 2011-02-14T20:00 "
                       "(a Z or +00:00 suffix allowed) or JSOC's T_REC like 2011.02.14_20:00:00_TAI"),
    "no end": ("noaa\tstart\n11158\t2011-02-14T20:00\n", ROW + ": 'end' is a required property"),
    "unknown column": ("noaa\tstart\tend\ttime\n11158\t2011-02-14T20:00\t2011-02-15T20:00\tx\n",
                       ROW + ": unknown key(s) 'time'; allowed: bin, cadence, end, harpnum, height_mm, "
                             "noaa, start, /^train\\.[a-z_]+$/, /^warm\\.[a-z_]+$/"),
    "twice": ("noaa\tstart\tend\tcadence\n11158\t2011-02-14T20:00\t2011-02-15T20:00\t1h\n"
              "11158\t2011-02-14T20:00\t2011-02-15T20:00\t6h\n",
              "series sheet {sheet} row 2 (noaa 11158): series ar11158_20110214T2000_20110215T2000 "
              "appears twice in the sheet"),
}


@pytest.mark.parametrize("case", list(BAD_SHEETS))
def test_a_bad_series_sheet_is_one_line_naming_the_row(tmp_path, case):
    text, message = BAD_SHEETS[case]
    with pytest.raises(ConfigError) as err:
        sheet(tmp_path, text)
    assert str(err.value) == message.format(sheet=tmp_path / "series.tsv")


# ---------------------------------------------------------------- the record list

START, END = parse_time("2011-02-14T19:30"), parse_time("2011-02-14T20:20")


def settings_for(server, **kw):
    return JsocSettings(url=server.url, retries=0, backoff_s=0.0, poll_s=0.0, **kw)


def test_record_list_is_one_keyword_query(jsoc_server):
    doc = series.query_records(settings_for(jsoc_server), harpnum=377, start=START, end=END)
    # 19:30 UTC is 19:30:34 TAI: the nearest slot of SHARP's 12-min grid is 19:36 TAI
    assert [r["t_rec"] for r in doc["records"]] == [
        "2011.02.14_19:36:00_TAI", "2011.02.14_19:48:00_TAI", "2011.02.14_20:00:00_TAI",
        "2011.02.14_20:12:00_TAI"]
    assert doc["query"] == "hmi.sharp_cea_720s[377][2011.02.14_19:36:00_TAI-2011.02.14_20:20:34_TAI@12m]"
    # on the hour: the record of that hour, 34 s before the UTC time asked for
    assert series.nearest_slot(parse_time("2011-02-14T20:00")).tai.isot == "2011-02-14T20:00:00.000"
    assert jsoc_server.count("rs_list") == 1 and jsoc_server.count("exp_request") == 0
    assert doc["series"] == "harp377_20110214T1930_20110214T2020" and doc["skipped"] == []
    rec = SharpRecord.from_dict(doc["records"][2])  # what resolve.json holds
    assert (rec.harpnum, rec.t_rec, rec.quality) == (377, "2011.02.14_20:00:00_TAI", 0)
    assert rec.keywords["USFLUX"] == pytest.approx(2.1e22) and rec.keywords["NOAA_ARS"] == "11158,11159"

    # by NOAA number: the HARP lookup, then the same single query; a coarser cadence
    jsoc_server.reset_log()
    doc = series.query_records(settings_for(jsoc_server), noaa=11158, start=START, end=END, cadence_s=1440)
    assert [r["t_rec"] for r in doc["records"]] == ["2011.02.14_19:36:00_TAI", "2011.02.14_20:00:00_TAI"]
    assert doc["harpnum"] == 377 and doc["query"].endswith("@24m]")
    assert jsoc_server.count("rs_list") == 2
    assert series.snapshot_ids(doc) == [
        "ar11158_20110214T1930_20110214T2020/20110214_193600_TAI",
        "ar11158_20110214T1930_20110214T2020/20110214_200000_TAI"]


def test_quality_flags_keep_or_leave_out_records(make_jsoc_server):
    times = ("2011.02.14_19:36:00_TAI", "2011.02.14_19:48:00_TAI", "2011.02.14_20:00:00_TAI")
    srv = make_jsoc_server([sharp_record(377, t, "11158", quality=0x400 if i == 1 else 0)
                            for i, t in enumerate(times)])
    kept = series.query_records(settings_for(srv), harpnum=377, start=START, end=END)
    assert [r["quality"] for r in kept["records"]] == [0, 0x400, 0]
    dropped = series.query_records(settings_for(srv, quality="fail"), harpnum=377, start=START, end=END)
    assert [r["t_rec"] for r in dropped["records"]] == [times[0], times[2]]
    assert dropped["skipped"] == [{"t_rec": times[1], "reason": "QUALITY 0x00000400"}]


def test_no_record_in_the_range_or_a_bad_range_is_one_line(jsoc_server):
    with pytest.raises(DataError, match=r"HARP 377: no SHARP record from 2011-02-15T19:30:00 to "
                                        r"2011-02-15T20:20:00 UTC \(query hmi.sharp_cea_720s\[377\]"):
        series.query_records(settings_for(jsoc_server), harpnum=377, start=parse_time("2011-02-15T19:30"),
                             end=parse_time("2011-02-15T20:20"))
    with pytest.raises(ConfigError, match="not a multiple of SHARP's 12 min"):
        series.query_records(settings_for(jsoc_server), harpnum=377, start=START, end=END, cadence_s=600)
    with pytest.raises(ConfigError, match="is not after its start"):
        series.query_records(settings_for(jsoc_server), harpnum=377, start=END, end=START)


# ---------------------------------------------------------------- snapshots in the region table

@pytest.fixture
def listed(tmp_path, jsoc_server):
    """A region table with one series whose record list (four records) is written."""
    table = regions.RegionTable(results=str(tmp_path / "results"))
    table.series.update(sheet(tmp_path, "noaa\tstart\tend\tbin\ttrain.width\n"
                                        "11158\t2011-02-14T19:30\t2011-02-14T20:20\t4\t32\n"))
    name = next(iter(table.series))
    doc = series.query_records(settings_for(jsoc_server), noaa=11158, start=START, end=END, name=name)
    series.write_records(doc, tmp_path / "results" / name / "records.json")
    return table, name


def test_snapshots_chain_their_training_first_cold_then_warm(listed, tmp_path):
    table, name = listed
    ids = table.snapshots(name)
    assert ids == [f"{name}/20110214_{t}00_TAI" for t in ("1936", "1948", "2000", "2012")]
    first, second = table[ids[0]], table[ids[1]]
    assert first["init_model"] is None and first["train"] == {"width": 32}
    assert second["init_model"] == f"{tmp_path / 'results'}/{ids[0]}/train/model.pt"
    assert second["train"] == {"width": 32, **WARM}
    assert (second["kind"], second["noaa"], second["harpnum"], second["sharp_dir"], second["bin"]) == \
        ("sharp", 11158, 377, None, 4)
    assert second["time"] == "2011-02-14T19:47:26"  # T_REC 19:48 TAI in UTC
    assert table[ids[3]]["init_model"].endswith(f"{ids[2]}/train/model.pt")
    assert list(table) == []  # iteration covers the regions put in, not the snapshots

    pattern = re.compile(table.snapshot_pattern())
    assert all(pattern.fullmatch(i) for i in ids)
    assert not pattern.fullmatch(name) and not pattern.fullmatch(f"{ids[0]}/train")
    assert not pattern.fullmatch(f"other/{ids[0].split('/')[1]}")
    with pytest.raises(KeyError):
        table["ar11158_20110214T2000"]
    with pytest.raises(DataError, match=f"series {name} has no snapshot 20110214_200600_TAI"):
        table[f"{name}/20110214_200600_TAI"]


def test_a_snapshot_before_its_record_list_names_what_to_ask_for(tmp_path):
    table = regions.RegionTable(results=str(tmp_path / "results"))
    table.series.update(sheet(tmp_path, "harpnum\tstart\tend\n377\t2011-02-14T19:30\t2011-02-14T20:20\n"))
    name = next(iter(table.series))
    with pytest.raises(ConfigError, match=f"series {name}: its record list .*records.json does not exist "
                                          f"yet; ask for .*{name}/series.nc"):
        table[f"{name}/20110214_193600_TAI"]
    assert regions.RegionTable().snapshot_pattern() is None


def test_snapshot_record_is_what_resolve_writes(listed, tmp_path, capsys):
    table, name = listed
    records = tmp_path / "results" / name / "records.json"
    assert cli.main(["snapshot-record", str(records), "--snapshot", "20110214_194800_TAI",
                     "-o", str(tmp_path / "resolve.json")]) == 0
    written = json.loads((tmp_path / "resolve.json").read_text())
    assert written == series.snapshot_record(series.read_records(records), "20110214_194800_TAI")
    assert "NOAA 11158 (HARP 377) 2011.02.14_19:48:00_TAI" in capsys.readouterr().out
    assert cli.main(["snapshot-record", str(records), "--snapshot", "20110214_194900_TAI",
                     "-o", str(tmp_path / "x.json")]) == 2
    assert "has no snapshot 20110214_194900_TAI" in capsys.readouterr().err


# ---------------------------------------------------------------- series.nc and the figure

def rows_of(n, twist=False):
    rows = []
    for k in range(n):
        row = {"energy_erg": 3e32 + k * 1e31, "energy_pot_erg": 2e32, "free_energy_erg": 1e32 + k * 1e31,
               "e_over_epot": 1.5, "unsigned_flux_mx": 2e22, "total_unsigned_current_a": 4e13,
               "sigma_j": 0.2 - 0.01 * k, "mean_abs_fi": 1e-4, "wall_time_s": 100.0 / (k + 1),
               "stop_reason": "plateau", "details": {"iterations": 500 - 100 * k}}
        if twist:
            row["mean_abs_tw"] = 0.5 + 0.1 * k
        rows.append(row)
    return rows


def test_series_nc_is_cf_with_udunits_units(tmp_path):
    import cf_units
    import xarray as xr

    times = ["2011-02-14T19:35:26", "2011-02-14T19:47:26", "2011-02-14T19:59:26"]
    ds = series.series_dataset(rows_of(3), times, warm=[False, True, True], snapshots=["a/1", "a/2", "a/3"],
                               t_rec=["t1", "t2", "t3"], attrs={"series": "a", "noaa": 11158, "harpnum": None})
    series.write_series(ds, tmp_path / "series.nc")
    back = xr.open_dataset(tmp_path / "series.nc")
    raw = xr.open_dataset(tmp_path / "series.nc", decode_times=False)
    assert back.attrs["Conventions"] == "CF-1.8" and back.attrs["noaa"] == 11158 and "harpnum" not in back.attrs
    assert raw["time"].attrs["units"].startswith("seconds since 1970-01-01")
    assert raw["time"].attrs["calendar"] == "standard"
    import netCDF4

    with netCDF4.Dataset(tmp_path / "series.nc") as nc:  # as written, not as xarray decodes it
        assert "_FillValue" not in nc["time"].ncattrs()  # a coordinate has no missing values
        assert nc["iterations"].getncattr("_FillValue") == -1
    assert back["time"].values[1] == np.datetime64("2011-02-14T19:47:26")
    for name in series.QUANTITIES:
        if name == "mean_abs_tw":
            assert name not in back  # no derived products: no twist
            continue
        unit = back[name].attrs["units"]
        cf_units.Unit(unit)  # UDUNITS must read it ("Mx" it would not: "maxwell")
        assert back[name].attrs["long_name"]
    assert cf_units.Unit(back["unsigned_flux"].attrs["units"]).convert(1.0, "Wb") == pytest.approx(1e-8)
    np.testing.assert_allclose(back["free_energy"], [1e32, 1.1e32, 1.2e32])
    assert list(back["iterations"].values) == [500, 400, 300]
    assert list(back["warm_start"].values) == [0, 1, 1]
    assert list(back["snapshot"].values) == ["a/1", "a/2", "a/3"]  # text as characters
    from test_files import cf_messages

    found = cf_messages(tmp_path / "series.nc")  # the CF checker, CF-1.8
    assert not found["FATAL"] and not found["ERROR"] and not found["WARN"], found
    assert back["warm_start"].attrs["flag_meanings"] == "cold_start warm_start"
    assert list(back["snapshot"].values) == ["a/1", "a/2", "a/3"]

    with_twist = series.series_dataset(rows_of(2, twist=True), times[:2], warm=[False, True])
    np.testing.assert_allclose(with_twist["mean_abs_tw"], [0.5, 0.6])
    with pytest.raises(DataError, match="not strictly increasing"):
        series.series_dataset(rows_of(2), times[1::-1], warm=[False, True])


FLARES = """Flare Class,Start Time,Peak Time,End Time,Active Region Number
M6.6,2011-02-13T17:28Z,2011-02-13T17:38Z,2011-02-13T17:47Z,11158
C6.6,2011-02-14T19:51Z,2011-02-14T19:58Z,2011-02-14T20:03Z,11158
B8.0,2011-02-14T19:40Z,2011-02-14T19:42Z,2011-02-14T19:45Z,11158
X2.2,2011-02-14T19:44Z,2011-02-14T19:56Z,2011-02-14T20:06Z,11159
C1.0,2011-02-14T19:50Z,2011-02-14T19:52Z,2011-02-14T19:55Z,11161
"""


def test_region_flares_and_the_figure(tmp_path):
    from ffnn.products.series_figure import plot_series, region_flares

    (tmp_path / "flares.csv").write_text(FLARES)
    flares = region_flares(tmp_path / "flares.csv", [11158, 11159], "2011-02-14T19:30Z", "2011-02-14T20:20")
    assert list(flares["class"]) == ["B8.0", "X2.2", "C6.6"]  # by peak; other regions and times left out
    assert flares["peak"][1] == np.datetime64("2011-02-14T19:56")
    (tmp_path / "bad.csv").write_text("class,peak\nC1.0,2011-02-14T19:52Z\n")
    with pytest.raises(DataError, match=r"bad.csv lacks column\(s\) 'Flare Class'"):
        region_flares(tmp_path / "bad.csv", [11158], "2011-02-14", "2011-02-15")
    # the shipped NCEI list: NOAA 11158's X2.2 of 2011-02-15 (peak 01:56)
    from ffnn.data import GOES_FLARES_1996_2022

    shipped = region_flares(GOES_FLARES_1996_2022, [11158], "2011-02-14T12:00", "2011-02-15T12:00")
    assert "X2.2" in list(shipped["class"])
    assert shipped.loc[shipped["class"] == "X2.2", "peak"].iloc[0] == np.datetime64("2011-02-15T01:56")
    times = ["2011-02-14T19:35:26", "2011-02-14T19:47:26", "2011-02-14T19:59:26"]
    ds = series.series_dataset(rows_of(3, twist=True), times, warm=[False, True, True])
    path = plot_series({"ffnn": ds, "other": ds}, tmp_path / "series.png", flares=flares, title="t", dpi=40)
    assert path.read_bytes()[:4] == b"\x89PNG"


# ---------------------------------------------------------------- training: plateau and warm start

SMALL = dict(hidden_layers=2, width=16, n_interior=300, progress=False, iterations_per_step=5,
             dtype="float64")


def drifting_boundaries(count, dphi, n=10):
    """The drifting Low & Lou series as case 2 gives it: bottom + potential-field faces."""
    from ffnn.field.boundary import cube_faces, from_cube, merge_points
    from ffnn.analysis.lowlou import lowlou_cube
    from ffnn.field.potential import potential_faces

    out = []
    for f in series.drifting_lowlou(count, dphi=dphi):
        ref = lowlou_cube(f.n, f.m, f.l, f.phi, shape=(n, n, n))
        bottom = from_cube(ref)
        out.append((ref, merge_points([cube_faces(ref, ("bottom",)), potential_faces(bottom, nz=n)])))
    return out


def test_drifting_lowlou_drifts_slowly_and_stays_exact():
    from ffnn.analysis.metrics import cube_metrics

    fields = series.drifting_lowlou(3, dphi=0.05, dl=0.01)
    assert [f.phi for f in fields] == pytest.approx([np.pi / 4, np.pi / 4 + 0.05, np.pi / 4 + 0.1])
    assert [f.l for f in fields] == pytest.approx([0.3, 0.31, 0.32])
    (a, _), (b, _) = drifting_boundaries(2, dphi=0.02, n=12)
    step = cube_metrics(b, reference=a)  # one snapshot against the next: close, not equal
    assert 0.9 < step["e_n_prime"] < 0.999
    with pytest.raises(ConfigError, match="must stay positive"):
        series.drifting_lowlou(4, l=0.1, dl=-0.05)


def test_plateau_stops_when_the_loss_stops_falling(tmp_path):
    from ffnn.field.train import TrainConfig, Trainer

    (_, boundary), = drifting_boundaries(1, 0.0)
    cfg = dict(SMALL, max_iterations=3000, warmup_iterations=20)
    result = Trainer(boundary, TrainConfig(**cfg, plateau_iterations=20, plateau_tolerance=0.05), None).fit()
    assert result.stop_reason == "plateau"
    losses = {h["iteration"]: h["loss"] for h in result.history}
    last = result.history[-1]["iteration"]
    assert last > 20 + 20  # not judged inside the warm-up
    best_before = min(v for it, v in losses.items() if 20 < it <= last - 20)
    assert losses[last] > 0.95 * best_before  # less than 5 % better than 20 iterations before
    with pytest.raises(ConfigError, match="plateau_tolerance"):
        TrainConfig.from_dict({"plateau_tolerance": 1.5})


@pytest.mark.slow
def test_a_warm_start_reaches_the_cold_quality_in_a_fraction_of_the_iterations(tmp_path):
    """Snapshot 1 of the drifting series (bottom + potential faces), trained cold and from
    snapshot 0's model: the warm run reaches the cold run's final E_n' and E_m' (within
    0.01) in at most 30 % of the cold run's iterations (counted, not timed, so that the
    machine's load does not matter; measured: 30-40 of 300)."""
    import torch

    from ffnn.field.cube import model_cube
    from ffnn.analysis.metrics import cube_metrics
    from ffnn.field.train import TrainConfig, Trainer, train

    torch.set_num_threads(1)
    (_, b0), (ref1, b1) = drifting_boundaries(2, dphi=0.1, n=12)
    # the Low & Lou settings (config.yaml's lowlou_case1): height weighting pays with six faces
    cold_cfg = dict(hidden_layers=3, width=32, n_interior=1000, progress=False, iterations_per_step=10,
                    first_layer_scale=3, max_iterations=300, warmup_iterations=50, height_weighting=1.0)
    train(b0, TrainConfig(**cold_cfg), tmp_path / "s0")

    def quality(tr):
        m = cube_metrics(model_cube(tr.model, tr.metadata({}, None)), reference=ref1)
        return m["e_n_prime"], m["e_m_prime"]

    cold = Trainer(b1, TrainConfig(**cold_cfg), None)
    cold.fit()
    target = quality(cold)
    assert target[0] > 0.3, target  # the cold run learnt the field
    warm = Trainer(b1, TrainConfig(**dict(cold_cfg, warmup_iterations=0, max_iterations=90)), None,
                   init_model=tmp_path / "s0" / "model.pt")
    reached = []

    def check(tr):
        if not reached and all(q >= t - 0.01 for q, t in zip(quality(tr), target)):
            reached.append(tr.iteration)

    check(warm)
    warm.fit(callback=check)
    assert reached and reached[0] <= 0.3 * cold.iteration, (reached, target, quality(warm))


# ---------------------------------------------------------------- the benchmark's contract

@pytest.mark.slow
def test_benchmark_writes_its_contract(tmp_path):
    out = tmp_path / "bench"
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks/series.py"), "--snapshots", "2", "--shape", "8",
                           "--budget", "2", "--threads", "1", "--out", str(out),
                           "--set", "n_interior=200", "--set", "hidden_layers=2", "--set", "width=8",
                           "--set", "warmup_iterations=10"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})
    assert proc.returncode == 0, proc.stderr
    results = json.loads((out / "results.json").read_text())
    assert len(results["snapshots"]) == 2
    for entry in results["snapshots"]:
        for key in ("cold_s", "warm_s", "e_n_prime_cold", "e_n_prime_warm", "e_m_prime_cold", "e_m_prime_warm"):
            assert key in entry, key
    assert results["snapshots"][0]["warm_start"] is False and results["snapshots"][1]["warm_start"] is True
    assert (out / "series.png").read_bytes()[:4] == b"\x89PNG" and (out / "series.nc").exists()
    assert "warm snapshots reaching the cold quality" in proc.stdout


# ---------------------------------------------------------------- the workflow

TINY_COLD = {"max_iterations": 20, "n_interior": 300, "hidden_layers": 2, "width": 16,
             "iterations_per_step": 5, "checkpoint_every": 10, "warmup_iterations": 10, "time_budget_s": None}
# warm snapshots: one iteration per step and frequent checkpoints, so that one can be killed
# mid-way; no budget short enough to end before the kill
SLOW_WARM = {"warmup_iterations": 0, "plateau_iterations": 0, "max_iterations": 100000,
             "time_budget_s": 300, "iterations_per_step": 1, "checkpoint_every": 3}


def _pids_of(workdir: Path, snapshot: str) -> list[int]:
    from test_workflow import _train_pids

    pids = []
    for pid in _train_pids(workdir):
        try:
            if snapshot in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                pids.append(pid)
        except OSError:
            continue
    return pids


@pytest.mark.slow
def test_series_through_the_workflow_with_a_killed_middle_snapshot(tmp_path, jsoc_server):
    import cf_units
    import torch
    import xarray as xr

    from test_workflow import _env, _mtimes, job_counts, kill_training_at_checkpoint, snakemake, write_config

    (tmp_path / "series.tsv").write_text("noaa\tstart\tend\tbin\theight_mm\n"
                                         "11158\t2011-02-14T19:30\t2011-02-14T20:05\t4\t8\n")
    (tmp_path / "flares.csv").write_text(FLARES)
    config = {"regions": None, "lowlou": {"regions": []},
              "jsoc": {"url": jsoc_server.url, "email": "tester@example.org", "retries": 1, "backoff_s": 0,
                       "poll_s": 0},
              "train": TINY_COLD, "series": {"sheet": "series.tsv", "flares": "flares.csv", "warm": SLOW_WARM},
              "resources": {"train": {"threads": 1}}, "figures": {"lines": 4, "dpi": 40},
              "classify": {"enabled": False}}
    write_config(tmp_path / "run.yaml", config)
    name = "ar11158_20110214T1930_20110214T2005"
    base = tmp_path / "results" / name
    stamps = ["20110214_193600_TAI", "20110214_194800_TAI", "20110214_200000_TAI"]
    target = f"results/{name}/series.nc"

    # a dry run plans the record list first; the snapshots come after it
    rc, out = snakemake(tmp_path, "--configfile", "run.yaml", "-n", "--cores", "2")
    assert rc == 0, out
    assert job_counts(out).get("series_records") == 1 and "series" in job_counts(out), out

    # 1. the middle snapshot's training is killed after its first checkpoints
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"), "--workflow-profile", "none",
           "--configfile", "run.yaml", "--cores", "2", target]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=_env(), start_new_session=True)
    middle = base / stamps[1] / "train"
    out = kill_training_at_checkpoint(proc, middle / "checkpoint.pt", lambda: _pids_of(tmp_path, stamps[1]),
                                      wait_s=400, finish_s=300)
    assert proc.returncode != 0 and "Error in rule train" in out, out
    assert (base / stamps[0] / "train/model.pt").exists()
    assert (middle / "checkpoint.pt").exists() and not (middle / "model.pt").exists()
    assert not (base / stamps[2] / "train").exists()  # the chain waits for the middle snapshot
    done = torch.load(middle / "checkpoint.pt", weights_only=False)["history"][-1]["iteration"]
    assert done >= 3
    first = _mtimes([base / stamps[0] / "train/model.pt"])

    # 2. the rerun resumes the middle snapshot from its checkpoint and continues the chain
    config["series"]["warm"] = {**SLOW_WARM, "max_iterations": done + 6}
    write_config(tmp_path / "run.yaml", config)
    rc, out = snakemake(tmp_path, "--configfile", "run.yaml", "--cores", "2", target)
    assert rc == 0, out
    assert "series_records" not in job_counts(out) and job_counts(out)["train"] == 2, out
    assert _mtimes(list(first)) == first  # the first snapshot is not redone
    log = (tmp_path / "logs" / name / stamps[1] / "train.log").read_text()
    assert f"at iteration {done}" in log and "resumed from" in log, log
    trained = [json.loads((base / s / "train/train.json").read_text()) for s in stamps]
    assert [t["init_model"] for t in trained] == [
        None, f"results/{name}/{stamps[0]}/train/model.pt", f"results/{name}/{stamps[1]}/train/model.pt"]
    assert [t["iterations"] for t in trained] == [20, done + 6, done + 6]
    assert [t["config"]["warmup_iterations"] for t in trained] == [10, 0, 0]
    # one keyword query for the whole series (HARP lookup + records), one export per snapshot
    assert jsoc_server.count("rs_list") == 2 and jsoc_server.count("exp_request") == 3

    ds = xr.open_dataset(base / "series.nc")
    assert ds.attrs["Conventions"] == "CF-1.8" and ds.attrs["harpnum"] == 377
    assert list(ds["snapshot"].values) == [f"{name}/{s}" for s in stamps]
    assert list(ds["warm_start"].values) == [0, 1, 1] and list(ds["iterations"].values) == [20, done + 6, done + 6]
    rows = [json.loads((base / s / "row.json").read_text()) for s in stamps]
    np.testing.assert_allclose(ds["energy"].values, [r["energy_erg"] for r in rows])
    # twist from the derived products of every snapshot (NaN where a model has no
    # strong-field footpoint: the 20-iteration cold start)
    tw = [np.nan if r["mean_abs_tw"] is None else r["mean_abs_tw"] for r in rows]
    np.testing.assert_allclose(ds["mean_abs_tw"].values, tw)
    assert np.isfinite(ds["mean_abs_tw"].values[1:]).all()
    assert (ds["energy"] > 0).all() and np.isfinite(ds["sigma_j"]).all()
    for var in ds.data_vars.values():
        if "units" in var.attrs:
            cf_units.Unit(var.attrs["units"])
    assert (base / "series.png").read_bytes()[:4] == b"\x89PNG"
    assert "3 flare(s) of NOAA [11158, 11159]" in (tmp_path / "logs" / name / "series.log").read_text()

    # 3. the default target adds every snapshot's figures; the report holds the series figure
    rc, out = snakemake(tmp_path, "--configfile", "run.yaml", "--cores", "2")
    assert rc == 0, out
    assert set(job_counts(out)) == {"figures", "all"}, out  # derived.nc came with the rows
    rc, out = snakemake(tmp_path, "--configfile", "run.yaml", "--report", "report.html")
    assert rc == 0, out
    assert "WARNING/2" not in out and "ERROR/3" not in out, out
    assert (tmp_path / "report.html").stat().st_size > 10_000


BAD_SERIES = {
    "cadence": ({}, "cadence '10min' is not a multiple of SHARP's 12 min"),
    "warm setting": ({"warm": {"widht": 8}}, "config series.warm: unknown training setting(s) ['widht']"),
    "threads in warm": ({"warm": {"threads": 2}}, "config series.warm: 'threads' is set by the workflow"),
}


@pytest.mark.parametrize("case", list(BAD_SERIES))
def test_a_bad_series_stops_the_workflow_in_one_line(tmp_path, case):
    from test_workflow import snakemake, write_config

    block, message = BAD_SERIES[case]
    cadence = "10min" if case == "cadence" else "1h"
    (tmp_path / "series.tsv").write_text(f"noaa\tstart\tend\tcadence\n11158\t2011-02-14T20:00\t"
                                         f"2011-02-15T20:00\t{cadence}\n")
    write_config(tmp_path / "bad.yaml", {"regions": None, "lowlou": {"regions": []},
                                         "series": {"sheet": "series.tsv", **block}})
    rc, out = snakemake(tmp_path, "-n", "--configfile", "bad.yaml")
    assert rc != 0, out
    assert len([line for line in out.splitlines() if message in line]) == 1, out
    assert "Traceback" not in out, out
