"""SHARP keyword tables (ffnn.io.keywords, ``ffnn sharp-keywords``): the real drms client against
the JSOC look-alike on 127.0.0.1, and both table layouts read back."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pandas as pd
import pytest

from ffnn.io import keywords as kw
from ffnn.util.errors import ConfigError, DataError
from jsoc_server import format_tai, parse_tai, sharp_record

T0 = "2011.02.14_18:00:00_TAI"


def _records(n=16):
    """HARP 377 (NOAA 11158, 11159) and 401 (NOAA 11161) every 12 minutes for n slots from T0."""
    start = parse_tai(T0)
    out = []
    for k in range(n):
        t = format_tai(start + pd.Timedelta(minutes=12 * k).to_pytimedelta())
        out.append(sharp_record(377, t, "11158,11159", quality=4 if k == 5 else 0))
        out.append(sharp_record(401, t, "11161", lon=60.0, lat=15.0))
    return out


def _main(argv):
    from ffnn import cli

    return cli.main(argv)


def _queries(server):
    return [parse_qs(urlsplit(path).query)["ds"][0] for kind, path in server.requests if kind == "rs_list"]


def test_sharp_keywords_time_range_harps_and_cadence(make_jsoc_server, tmp_path):
    server = make_jsoc_server(_records())
    out = tmp_path / "keywords.csv"
    # 18:00 .. 20:00 TAI given in UTC (TAI - 34 s), hourly, HARP 377 only
    assert _main(["sharp-keywords", "--start", "2011-02-14T17:59:26", "--end", "2011-02-14T19:59:26",
                  "--harpnum", "377", "--cadence", "1h", "--jsoc-url", server.url, "-o", str(out)]) == 0
    table = kw.read_table(out)
    assert list(table.columns) == list(kw.QUERY_KEYWORDS)
    assert table["T_REC"].tolist() == ["2011.02.14_18:00:00_TAI", "2011.02.14_19:00:00_TAI",
                                       "2011.02.14_20:00:00_TAI"]  # both ends included
    assert set(table["HARPNUM"]) == {377} and set(table["NOAA_ARS"]) == {"11158,11159"}
    assert table["USFLUX"].tolist() == [2.1e22] * 3
    assert table["QUALITY"].astype(int).tolist() == [0, 4, 0]  # JSOC's hex 0x00000004 as a number
    assert [ds.endswith("@1h]") and "[377]" in ds for ds in _queries(server)] == [True]
    assert server.count("exp_request") == 0  # keywords only: no export, no email

    # every record of every HARP, asked for in pieces of 1 h: nothing lost or listed twice
    server.reset_log()
    assert _main(["sharp-keywords", "--start", "2011.02.14_18:00:00_TAI", "--end", "2011.02.14_21:00:00_TAI",
                  "--chunk-days", str(1 / 24), "--jsoc-url", server.url, "--retries", "0", "-o", str(out)]) == 0
    table = kw.read_table(out)
    assert len(_queries(server)) == 4
    assert len(table) == 2 * 16 and not table.duplicated(["HARPNUM", "T_REC"]).any()
    assert table.groupby("HARPNUM").size().to_dict() == {377: 16, 401: 16}


def test_sharp_keywords_retries_and_errors(make_jsoc_server, tmp_path, capsys):
    server = make_jsoc_server(_records(3))
    server.fail_first(1, status=503, match="rs_list")
    out = tmp_path / "k.csv"
    args = ["sharp-keywords", "--start", "2011.02.14_18:00:00_TAI", "--end", "2011.02.14_18:24:00_TAI",
            "--jsoc-url", server.url, "--backoff", "0", "-o", str(out)]
    assert _main(args) == 0 and len(kw.read_table(out)) == 6
    assert _main(args[:-2] + ["--cadence", "hourly", "-o", str(out)]) == 2
    assert "cadence 'hourly'" in capsys.readouterr().err
    server.down = True
    assert _main(args[:-2] + ["--retries", "1", "-o", str(tmp_path / "none.csv")]) == 2
    err = capsys.readouterr().err
    assert "failed after 2 attempt(s)" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "none.csv").exists()


def test_both_table_layouts_give_the_same_records(tmp_path):
    keywords = pd.DataFrame({"HARPNUM": [377, 377], "T_REC": ["2011.02.14_20:00:00_TAI", "2012.07.01_00:00:35_TAI"],
                             "NOAA_AR": [11158, 11158], "NOAA_ARS": ["11158,11159", "11158"], "USFLUX": [1e22, 2e22]})
    summary = keywords.rename(columns={"HARPNUM": "harpnum", "T_REC": "t_rec", "NOAA_AR": "noaa", "NOAA_ARS": "noaa_ars"})
    summary.insert(0, "region", ["a", "b"])
    keywords.to_csv(tmp_path / "k.csv", index=False)
    summary.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    a, b = kw.records(kw.read_table(tmp_path / "k.csv")), kw.records(kw.read_table(tmp_path / "s.tsv"))
    pd.testing.assert_frame_equal(a, b.drop(columns="region"))
    # TAI -> UTC: 34 s in 2011, 35 s after the leap second of 2012-06-30
    assert a["time"].tolist() == [pd.Timestamp("2011-02-14T19:59:26Z"), pd.Timestamp("2012-07-01T00:00:00Z")]
    assert a["noaa_ars"].tolist() == ["11158,11159", "11158"]
    assert kw.noaa_numbers("111580, 0,11158") == [111580, 11158]
    (tmp_path / "bad.csv").write_text("HARPNUM,T_REC\n1,yesterday\n")
    with pytest.raises(DataError, match="unreadable T_REC 'yesterday'"):
        kw.records(kw.read_table(tmp_path / "bad.csv"))
    (tmp_path / "no_trec.csv").write_text("HARPNUM,USFLUX\n1,2\n")
    with pytest.raises(DataError, match="no T_REC"):
        kw.read_table(tmp_path / "no_trec.csv")
    with pytest.raises(ConfigError):
        kw.cadence_seconds("1 hour")
