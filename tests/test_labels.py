"""Flare labels from GOES event lists (ffnn.forecast.labels): classes, the NCEI format, windows, HEK."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ffnn.io import keywords as kw
from ffnn.forecast import labels as lbl
from ffnn.util.errors import ConfigError, DataError, FFNNError

HEADER = "Flare Class,Start Time,Peak Time,End Time,Active Region Number\n"


def test_goes_classes_turn_into_fluxes_and_thresholds():
    assert lbl.goes_flux("M1.2") == pytest.approx(1.2e-5)
    assert lbl.goes_flux("x2.0") == pytest.approx(2e-4)
    assert lbl.goes_flux("") == 0.0 and lbl.goes_flux(None) == 0.0 and lbl.goes_flux(float("nan")) == 0.0
    assert lbl.goes_flux("C10") == lbl.goes_flux("M1.0") == lbl.goes_flux("M")  # exact, not merely close
    assert lbl.goes_flux("X14.4") == pytest.approx(1.44e-3)
    with pytest.raises(DataError, match="Q7"):
        lbl.goes_flux("Q7")
    for bad in ("big", ""):
        with pytest.raises(ConfigError):
            lbl.threshold_flux(bad)
    with pytest.raises(ConfigError, match="positive"):
        lbl.window_timedelta("-1h")


def _records(t_recs, noaa_ars):
    table = pd.DataFrame({"HARPNUM": range(len(t_recs)), "T_REC": t_recs, "NOAA_ARS": noaa_ars})
    return kw.records(table)


def test_labels_window_edges_multi_noaa_harp_and_tai(tmp_path):
    # T_REC 20:00:34 TAI is 20:00:00 UTC in 2011 (TAI - UTC = 34 s): the window is
    # (2011-02-14T20:00Z, 2011-02-15T20:00Z], open at the start, closed at the end.
    events = tmp_path / "events.csv"
    events.write_text(HEADER + "\n".join([
        "B1.0,2011-02-01T00:00Z,2011-02-01T00:05Z,2011-02-01T00:10Z,0",      # opens the list's coverage
        "X2.2,2011-02-14T19:50Z,2011-02-14T20:00Z,2011-02-14T20:10Z,11158",  # peak at T_REC: not after it
        "M2.0,2011-02-15T19:50Z,2011-02-15T20:00Z,2011-02-15T20:10Z,11159",  # exactly T_REC + 24 h, 2nd NOAA of the HARP
        "X5.0,2011-02-15T19:55Z,2011-02-15T20:01Z,2011-02-15T20:10Z,11158",  # one minute too late
        "X1.0,2011-02-15T01:00Z,2011-02-15T01:05Z,2011-02-15T01:10Z,0",      # no region: not attributable
        "X3.0,2011-02-15T01:00Z,2011-02-15T01:05Z,2011-02-15T01:10Z,1158",   # 1158 is not 11158
        "C5.0,2011-02-15T02:00Z,2011-02-15T02:06Z,2011-02-15T02:10Z,11161",
        "M9.0,2011-03-01T23:55Z,2011-03-01T00:04Z,2011-03-01T00:20Z,11162",  # one date for all: peak is 03-02 00:04
        "B1.0,2011-03-10T00:00Z,2011-03-10T00:05Z,2011-03-10T00:10Z,0",      # closes the coverage
    ]) + "\n")
    records = _records(
        ["2011.02.14_20:00:34_TAI", "2011.02.14_20:00:00_TAI", "2011-02-14T20:00:00", "2011.03.01_12:00:34_TAI",
         "2011.03.09_12:00:34_TAI", "2011.02.14_20:00:34_TAI"],
        ["11158,11159", "11159", "11161", "11162", "11158", ""])
    got = lbl.flare_labels(records, lbl.read_events(events))
    assert got["flare_class"].tolist()[:4] == ["M2.0", "", "C5.0", "M9.0"]
    assert got["label"].tolist()[:4] == [1.0, 0.0, 0.0, 1.0]
    # 20:00:00 TAI is 19:59:26 UTC: the M2.0 at 20:00 UTC is 34 s after the window closed.
    assert got["flare_class"].iloc[1] == ""
    # window past the end of the list, and a record without a NOAA number: unknown, not 0
    assert math.isnan(got["label"].iloc[4]) and math.isnan(got["label"].iloc[5])
    # a longer window and a lower threshold class are settings
    wide = lbl.flare_labels(records, lbl.read_events(events), window="24h1min", threshold_class="C1.0")
    assert wide["flare_class"].iloc[0] == "X5.0" and wide["label"].tolist()[:4] == [1.0, 1.0, 1.0, 1.0]


def test_flare_history_counts_flares_strictly_before_t_rec_of_every_noaa_region(tmp_path):
    # T_REC 20:00:34 TAI is 20:00:00 UTC in 2011. The history window is [T_REC - 24 h, T_REC):
    # the mirror of the label window (T_REC, T_REC + 24 h], so no flare is in both.
    events = tmp_path / "events.csv"
    events.write_text(HEADER + "\n".join([
        "B1.0,2011-02-01T00:00Z,2011-02-01T00:05Z,2011-02-01T00:10Z,0",      # opens the list's coverage
        "X5.0,2011-02-13T19:50Z,2011-02-13T19:59Z,2011-02-13T20:10Z,11158",  # 24 h + 1 min before: too early
        "C5.0,2011-02-13T19:50Z,2011-02-13T20:00Z,2011-02-13T20:10Z,11158",  # exactly T_REC - 24 h: counts
        "X1.0,2011-02-14T09:55Z,2011-02-14T10:00Z,2011-02-14T10:10Z,0",      # no region: not attributable
        "X3.0,2011-02-14T09:55Z,2011-02-14T10:00Z,2011-02-14T10:10Z,1158",   # 1158 is not 11158
        "M2.0,2011-02-14T19:50Z,2011-02-14T19:59Z,2011-02-14T20:10Z,11159",  # a minute before, 2nd NOAA of the HARP
        "X2.2,2011-02-14T19:50Z,2011-02-14T20:00Z,2011-02-14T20:10Z,11158",  # exactly at T_REC: not yet
        "B1.0,2011-03-10T00:00Z,2011-03-10T00:05Z,2011-03-10T00:10Z,0",      # closes the coverage
    ]) + "\n")
    records = _records(
        ["2011.02.14_20:00:34_TAI", "2011.02.14_20:00:34_TAI", "2011.02.14_20:01:34_TAI",
         "2011.02.01_12:00:34_TAI", "2011.02.14_20:00:34_TAI", "2011.03.10_12:00:34_TAI"],
        ["11158,11159", "11158", "11158", "11158", "", "11158"])
    listed = lbl.read_events(events)
    history = lbl.flare_history(records, listed)
    assert history.name == "flare_history_24h"
    assert history.tolist()[:3] == [pytest.approx(2.0e-5), pytest.approx(5.0e-6), pytest.approx(2.2e-4)]
    # the X2.2 at T_REC counts for neither the history nor the label of that record
    assert lbl.flare_labels(records, listed)["flare_class"].iloc[1] == ""
    # window reaching before the list, no NOAA number, T_REC after the list: unknown, not 0
    assert all(math.isnan(v) for v in history.tolist()[3:])
    wide = lbl.flare_history(records, listed, window="2 days")
    assert wide.name == "flare_history_48h" and wide.iloc[1] == pytest.approx(5.0e-4)
    quiet = lbl.flare_history(records, listed, window="30min")
    assert quiet.name == "flare_history_0.5h" and quiet.tolist()[:3] == [pytest.approx(2.0e-5), 0.0,
                                                                         pytest.approx(2.2e-4)]
    # the same column for a keyword table and a summary table
    table = pd.DataFrame({"HARPNUM": [377], "T_REC": ["2011.02.14_20:00:34_TAI"], "NOAA_ARS": ["11158,11159"]})
    summary = table.rename(columns={"HARPNUM": "harpnum", "T_REC": "t_rec", "NOAA_ARS": "noaa_ars"})
    for layout in (table, summary):
        added = lbl.add_flare_history(layout, listed)
        assert added["flare_history_24h"].tolist() == [pytest.approx(2.0e-5)]
        assert list(added.columns[:-1]) == list(layout.columns)


def test_read_events_drops_unreadable_rows_and_says_so(tmp_path, caplog):
    path = tmp_path / "events.csv"
    path.write_text(HEADER + "B8.4,1998-11-04T22:41Z,1998-11-04T//://Z,1998-11-04T23:59Z,18378\n"
                    "A0.0,2019-08-18T18:56Z,2019-08-18T18:56Z,2019-08-18T18:56Z,0\n"
                    "C1.2,2011-01-01T00:00Z,2011-01-01T00:05Z,2011-01-01T00:09Z,11140\n")
    events = lbl.read_events(path)
    assert events["flare_class"].tolist() == ["C1.2"] and int(events["noaa"].iloc[0]) == 11140
    assert events["peak"].iloc[0] == pd.Timestamp("2011-01-01T00:05Z")
    assert "1 event(s) without a readable peak time" in caplog.text
    assert "nonzero flare class" in caplog.text
    bad = tmp_path / "bad.csv"
    bad.write_text("class,peak\nM1.0,2011-01-01T00:00Z\n")
    with pytest.raises(DataError, match="lacks column.*'Flare Class'"):
        lbl.read_events(bad)
    with pytest.raises(DataError, match="does not exist"):
        lbl.read_events(tmp_path / "nope.csv")


def test_hek_events_come_through_sunpys_client_in_the_event_list_format(tmp_path):
    """The real sunpy HEKClient (sunpy's net extra, a dependency) against a server speaking
    HEK's search protocol (tests/hek_server.py): paged answers, the GOES filter, the window."""
    from hek_server import FakeHEK, goes_flare

    hek = FakeHEK([goes_flare("2011-02-15T01:56:00", "X2.2", 11158, 12, 10),
                   goes_flare("2011-02-13T17:38:00", "M6.6", 11158, 10, 9),
                   goes_flare("2011-02-14T12:00:00", "C1.0", 0),
                   goes_flare("2011-02-16T00:05:00", "C1.0", 0),  # its start is inside, its peak is past the end
                   {**goes_flare("2011-02-14T06:00:00", "M1.0", 11158), "obs_observatory": "RHESSI"}],
                  page_size=2).start()
    try:
        start, end = pd.Timestamp("2011-02-13T00:00Z"), pd.Timestamp("2011-02-16T00:00Z")
        events = lbl.fetch_hek_events(start, end, url=hek.url)
    finally:
        hek.stop()
    asked = hek.requests[0]
    assert (asked["event_type"], asked["param0"], asked["value0"]) == ("FL", "OBS_Observatory", "GOES")
    assert (asked["event_starttime"], asked["event_endtime"]) == ("2011-02-13T00:00:00", "2011-02-16T00:00:00")
    assert [r["page"] for r in hek.requests] == ["1", "2"]  # four GOES events, two per page
    lbl.write_events(events, tmp_path / "hek.csv")
    text = (tmp_path / "hek.csv").read_text().splitlines()
    assert text[0] == HEADER.strip()
    assert text[1:] == ["M6.6,2011-02-13T17:28Z,2011-02-13T17:38Z,2011-02-13T17:47Z,11158",
                        "C1.0,2011-02-14T11:50Z,2011-02-14T12:00Z,2011-02-14T12:20Z,0",
                        "X2.2,2011-02-15T01:44Z,2011-02-15T01:56Z,2011-02-15T02:06Z,11158"]
    again = lbl.read_events(tmp_path / "hek.csv")
    pd.testing.assert_frame_equal(again, events.sort_values("peak").reset_index(drop=True), check_dtype=False)
    with pytest.raises(FFNNError, match=r"at http://127.0.0.1:9/ failed .*rerun when online"):
        lbl.fetch_hek_events(start, end, url="http://127.0.0.1:9/")
