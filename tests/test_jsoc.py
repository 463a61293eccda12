"""Resolve and download SHARP records with the real drms client against the fake JSOC."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from ffnn.io import jsoc
from ffnn.util.errors import ConfigError, DataError, FFNNError
from conftest import write_record
from jsoc_server import FakeJSOC, sharp_record

T0 = "2011.02.14_20:00:00_TAI"


def error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("ffnn ")]
    assert len(lines) == 1, err
    return lines[0]


# ---------------------------------------------------------------- pure helpers

def test_noaa_ars_is_split_on_commas_never_matched_as_substring():
    assert jsoc.noaa_list("11158,11159") == [11158, 11159]
    assert jsoc.noaa_list(" 11158 , 11159 ") == [11158, 11159]
    assert 11158 not in jsoc.noaa_list("111580")
    assert 1115 not in jsoc.noaa_list("11158,11159")
    assert jsoc.noaa_list("") == [] and jsoc.noaa_list(None) == []


def test_hex_keywords_are_parsed_without_pandas():
    assert jsoc.parse_hex("0x00000000") == 0
    assert jsoc.parse_hex("0x00010400") == 0x10400
    assert jsoc.parse_hex("1024") == 1024
    assert jsoc.parse_hex(np.int64(7)) == 7
    assert jsoc.parse_hex(float("nan")) is None
    assert jsoc.parse_hex("MISSING") is None


def test_utc_is_converted_to_tai_with_leap_seconds():
    t = jsoc.parse_time("2011-02-14T20:00")
    assert jsoc.jsoc_time(t) == "2011.02.14_20:00:34_TAI"  # TAI - UTC = 34 s in 2011
    assert jsoc.parse_trec(T0).utc.isot == "2011-02-14T19:59:26.000"
    assert jsoc.parse_time(T0).utc.isot == "2011-02-14T19:59:26.000"  # _TAI input stays TAI
    assert jsoc.compact_trec(T0) == "20110214_200000_TAI"
    with pytest.raises(ConfigError) as err:
        jsoc.parse_time("yesterday", "--time")
    assert str(err.value) == ("--time: malformed time 'yesterday'; use ISO 8601 UTC like 2011-02-14T20:00 "
                              "(a Z or +00:00 suffix allowed) or JSOC's T_REC like 2011.02.14_20:00:00_TAI")


def test_durations_and_settings_validation():
    assert jsoc.parse_duration("1h") == 3600 and jsoc.parse_duration("30 min") == 1800
    assert jsoc.parse_duration(90) == 90
    with pytest.raises(ConfigError):
        jsoc.parse_duration("soon")
    s = jsoc.JsocSettings.from_mapping({"tolerance": "20min", "quality": "fail"}, retries=1,
                                       email=None)
    assert (s.tolerance_s, s.quality, s.retries, s.email) == (1200, "fail", 1, None)
    with pytest.raises(ConfigError, match="unknown jsoc setting"):
        jsoc.JsocSettings.from_mapping({"emial": "x@y"})
    with pytest.raises(ConfigError, match="quality"):
        jsoc.JsocSettings(quality="ignore")


def test_retries_back_off_exponentially_and_give_up_with_the_cause():
    import urllib.error

    delays, calls = [], []
    settings = jsoc.JsocSettings(retries=4, backoff_s=0.5, max_backoff_s=3.0)

    def flaky():
        calls.append(1)
        raise urllib.error.HTTPError("http://x/", 503, "Service Unavailable", {}, None)

    with pytest.raises(FFNNError, match="NOAA 1: JSOC at .* failed after 5 attempt.*HTTP 503"):
        jsoc.with_retries(flaky, what="NOAA 1", settings=settings, sleep=delays.append)
    assert len(calls) == 5 and delays == [0.5, 1.0, 2.0, 3.0]

    def not_found():  # 4xx is not transient: no retry
        calls.append(1)
        raise urllib.error.HTTPError("http://x/", 404, "Not Found", {}, None)

    calls.clear()
    with pytest.raises(FFNNError, match="x: JSOC at .* answered HTTP 404 Not Found"):
        jsoc.with_retries(not_found, what="x", settings=settings, sleep=delays.append)
    assert len(calls) == 1


# ---------------------------------------------------------------- resolve

@pytest.mark.parametrize("noaa, harp", [(11158, 377), (11159, 377), (11161, 401)])
def test_resolve_finds_the_harp_holding_the_region(jsoc_server, jsoc_settings, noaa, harp):
    rec = jsoc.resolve(noaa, jsoc.parse_time("2011-02-14T20:00"), jsoc_settings)
    assert (rec.noaa, rec.harpnum, rec.t_rec, rec.quality) == (noaa, harp, T0, 0)
    served = next(r for r in jsoc_server.records if r.harpnum == harp and r.t_rec == T0)
    for key in ("USFLUX", "TOTUSJH", "MEANGAM", "R_VALUE", "LAT_FWT", "LON_FWT", "CRVAL1",
                "ERRVF", "MEANSHR"):
        assert rec.keywords[key] == pytest.approx(served.keywords[key], rel=1e-12), key
    assert rec.keywords["NOAA_ARS"] == served.keywords["NOAA_ARS"]
    assert isinstance(rec.keywords["QUALITY"], int)


def test_nearest_record_is_chosen_in_tai(jsoc_settings):
    # 20:05:50 UTC = 20:06:24 TAI: 20:12 TAI is nearer (5:36) than 20:00 TAI (6:24), the
    # opposite of a naive comparison of the UTC clock time with the TAI stamps
    rec = jsoc.resolve(11158, jsoc.parse_time("2011-02-14T20:05:50"), jsoc_settings)
    assert rec.t_rec == "2011.02.14_20:12:00_TAI"
    rec = jsoc.resolve(11158, jsoc.parse_time("2011-02-14T20:05:10"), jsoc_settings)
    assert rec.t_rec == T0


def test_harpnum_given_directly_skips_the_noaa_lookup(jsoc_server, jsoc_settings):
    rec = jsoc.resolve(None, jsoc.parse_time("2011-02-14T19:40"), jsoc_settings, harpnum=401)
    assert (rec.harpnum, rec.t_rec, rec.label) == (401, "2011.02.14_19:36:00_TAI", "HARP 401")
    assert not any("hmi.sharp_720s%5B%5D" in p for _, p in jsoc_server.requests)


def test_region_in_two_harps_takes_the_nearest_record(make_jsoc_server, jsoc_settings):
    srv = make_jsoc_server([sharp_record(500, "2011.02.14_19:36:00_TAI", "11170", nx=8, ny=8),
                            sharp_record(501, "2011.02.14_20:12:00_TAI", "11171,11170", nx=8,
                                         ny=8)])
    settings = jsoc.JsocSettings(url=srv.url, retries=0)
    rec = jsoc.resolve(11170, jsoc.parse_time("2011-02-14T20:00"), settings)
    assert (rec.harpnum, rec.t_rec) == (501, "2011.02.14_20:12:00_TAI")


def test_harpnum_and_noaa_must_agree(jsoc_settings):
    with pytest.raises(DataError, match=r"NOAA 11161 \(HARP 377\): HARP 377 does not hold "
                                        r"NOAA 11161 .*'11158,11159'"):
        jsoc.resolve(11161, jsoc.parse_time("2011-02-14T20:00"), jsoc_settings, harpnum=377)


def test_resolve_prints_and_writes_json(jsoc_server, run, tmp_path):
    out_json = tmp_path / "rec.json"
    status, out, _ = run("resolve", "--noaa", 11159, "--time", "2011-02-14T20:00",
                         "--jsoc-url", jsoc_server.url, "-o", out_json)
    assert status == 0
    assert "NOAA 11159 -> HARP 377" in out and f"T_REC    {T0}" in out
    assert "QUALITY  0x00000000" in out and "USFLUX" in out and "R_VALUE" in out
    d = json.loads(out_json.read_text())
    assert (d["harpnum"], d["t_rec"], d["quality"], d["noaa"]) == (377, T0, 0, 11159)
    assert d["keywords"]["TOTUSJH"] == pytest.approx(2140.5)
    assert d["keywords"]["NOAA_ARS"] == "11158,11159"
    assert jsoc.read_record(out_json).harpnum == 377


@pytest.mark.parametrize("noaa", [1115, 11160, 111580])
def test_region_in_no_harp_is_one_clear_line(jsoc_server, run, noaa):
    status, _, err = run("resolve", "--noaa", noaa, "--time", "2011-02-14T20:00",
                         "--jsoc-url", jsoc_server.url)
    assert status == 2
    line = error_line(err)
    assert line.startswith(f"ffnn resolve: error: NOAA {noaa}: the region is in no HARP")
    assert "±1 h of 2011-02-14T20:00:00 UTC" in line


def test_no_record_within_tolerance(jsoc_server, run):
    status, _, err = run("resolve", "--noaa", 11158, "--time", "2011-02-14T23:00",
                         "--jsoc-url", jsoc_server.url)
    assert status == 2
    assert "NOAA 11158: no SHARP record within ±1 h of 2011-02-14T23:00:00 UTC" in error_line(err)
    # a tighter tolerance between two 12-minute slots
    status, _, err = run("resolve", "--harpnum", 377, "--time", "2011-02-14T20:05:26",
                         "--tolerance", "5min", "--jsoc-url", jsoc_server.url)
    assert status == 2
    assert "HARP 377: no SHARP record within ±5 min" in error_line(err)


def test_empty_answer_from_jsoc(jsoc_server, jsoc_settings):
    jsoc_server.empty = True
    with pytest.raises(DataError, match="NOAA 11158: no SHARP record within"):
        jsoc.resolve(11158, jsoc.parse_time("2011-02-14T20:00"), jsoc_settings)


@pytest.fixture
def flagged_server(make_jsoc_server):
    return make_jsoc_server([sharp_record(377, T0, "11158,11159", quality=0x400)])


def test_quality_flag_fails_when_configured(flagged_server, run):
    status, _, err = run("resolve", "--noaa", 11158, "--time", "2011-02-14T20:00",
                         "--jsoc-url", flagged_server.url, "--quality", "fail")
    assert status == 2
    line = error_line(err)
    assert "NOAA 11158 (HARP 377): QUALITY flag 0x00000400 set on record" in line


def test_quality_flag_warns_by_default(flagged_server, run, caplog, tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(f"jsoc:\n  url: {flagged_server.url}\n  quality: warn\n")
    with caplog.at_level(logging.WARNING, logger="ffnn.io.jsoc"):
        status, out, _ = run("resolve", "--noaa", 11158, "--time", "2011-02-14T20:00",
                             "--config", cfg)
    assert status == 0 and "QUALITY  0x00000400" in out
    assert any("QUALITY flag 0x00000400" in r.getMessage() for r in caplog.records)


def test_transient_500s_are_retried(jsoc_server, jsoc_settings):
    jsoc_server.fail_first(2, status=502)
    rec = jsoc.resolve(11158, jsoc.parse_time("2011-02-14T20:00"), jsoc_settings)
    assert rec.harpnum == 377
    assert jsoc_server.requests[0][0] == jsoc_server.requests[1][0] == "rs_list"


def test_jsoc_down_after_retries(jsoc_server, run):
    jsoc_server.down = True
    status, _, err = run("resolve", "--noaa", 11158, "--time", "2011-02-14T20:00",
                         "--jsoc-url", jsoc_server.url, "--retries", 2, "--backoff", 0)
    assert status == 2
    line = error_line(err)
    assert f"NOAA 11158: JSOC at {jsoc_server.url} failed after 3 attempt(s): HTTP 500" in line
    assert len(jsoc_server.requests) == 3


def test_jsoc_unreachable(run):
    srv = FakeJSOC([])
    url = srv.start()
    srv.stop()  # nothing listens on that port any more
    status, _, err = run("resolve", "--noaa", 11158, "--time", "2011-02-14T20:00",
                         "--jsoc-url", url, "--retries", 1, "--backoff", 0)
    assert status == 2
    assert "NOAA 11158: JSOC at" in error_line(err) and "after 2 attempt(s)" in err
    assert "refused" in err.lower()


# ---------------------------------------------------------------- download

def served_bytes(server, harp, t_rec, seg):
    return next(r for r in server.records if r.harpnum == harp and r.t_rec == t_rec).file(seg)


def test_fetch_downloads_six_fits_files_once(jsoc_server, run, tmp_path, fast_jsoc_args):
    out = tmp_path / "sharp"
    args = ("fetch-sharp", "--noaa", 11159, "--time", "2011-02-14T20:00", "--outdir", out,
            *fast_jsoc_args)
    status, text, _ = run(*args)
    assert status == 0 and "6 of 6 file(s) downloaded" in text
    for seg in jsoc.SEGMENTS:
        path = out / f"hmi.sharp_cea_720s.377.20110214_200000_TAI.{seg}.fits"
        assert path.read_bytes() == served_bytes(jsoc_server, 377, T0, seg)
        with fits.open(path) as hdul:  # protocol fits: keywords travel in the header
            assert hdul[1].header["HARPNUM"] == 377 and hdul[1].header["T_REC"] == T0
    assert json.loads((out / "sharp.json").read_text())["noaa"] == 11159
    assert jsoc_server.count("exp_request") == 1 and jsoc_server.count("file") == 6
    assert not list(out.glob(".*"))  # no temporary files left

    jsoc_server.reset_log()
    status, text, _ = run(*args)  # the same command again: its work is done
    assert status == 0 and not text and not jsoc_server.requests
    status, text, _ = run(*args, "--segments", "Br", "Bp", "Bt")  # another, whose files are there
    assert status == 0 and "0 of 3 file(s) downloaded" in text
    assert jsoc_server.count("exp_request") == 0 and jsoc_server.count("file") == 0


@pytest.mark.parametrize("mode", ["file", "body"])
def test_truncated_download_is_detected_and_fetched_again(jsoc_server, jsoc_settings,
                                                          tmp_path, mode):
    jsoc_server.truncate_next(1, mode=mode)
    rec = jsoc.resolve(11158, jsoc.parse_time("2011-02-14T20:00"), jsoc_settings)
    result = jsoc.fetch_sharp(rec, tmp_path, jsoc_settings)
    assert jsoc_server.count("file") == 7  # the first file twice
    for seg, path in result.paths.items():
        assert path.read_bytes() == served_bytes(jsoc_server, 377, T0, seg)
        assert jsoc.fits_problem(path) is None


def test_always_truncated_download_is_never_passed_on(jsoc_server, jsoc_settings, tmp_path):
    jsoc_server.truncate_next(100, mode="file")
    rec = jsoc.resolve(11158, jsoc.parse_time("2011-02-14T20:00"), jsoc_settings)
    with pytest.raises(FFNNError, match=r"NOAA 11158 \(HARP 377\): download of Br: .*after 3 "
                                        r"attempt\(s\): incomplete file"):
        jsoc.fetch_sharp(rec, tmp_path, jsoc_settings)
    assert list(tmp_path.iterdir()) == []  # complete or absent


def test_incomplete_local_file_is_replaced(jsoc_server, jsoc_settings, tmp_path):
    rec = jsoc.resolve(11158, jsoc.parse_time("2011-02-14T20:00"), jsoc_settings)
    jsoc.fetch_sharp(rec, tmp_path, jsoc_settings)
    bt = tmp_path / jsoc.local_name(rec, "Bt")
    bt.write_bytes(bt.read_bytes()[:2880 * 2])  # e.g. a copy that was interrupted
    jsoc_server.reset_log()
    result = jsoc.fetch_sharp(rec, tmp_path, jsoc_settings)
    assert result.downloaded == ["Bt"] and jsoc_server.count("file") == 1
    assert bt.read_bytes() == served_bytes(jsoc_server, 377, T0, "Bt")


def test_server_errors_during_export_and_download_are_retried(jsoc_server, jsoc_settings,
                                                              tmp_path):
    jsoc_server.fail_first(1, match="op=exp_request")
    jsoc_server.fail_first(1, match="op=exp_status")
    jsoc_server.fail_first(2, match="Bp.fits")
    rec = jsoc.resolve(11158, jsoc.parse_time("2011-02-14T20:00"), jsoc_settings)
    result = jsoc.fetch_sharp(rec, tmp_path, jsoc_settings)
    assert sorted(result.downloaded) == sorted(jsoc.SEGMENTS)
    assert jsoc_server.count("exp_request") == 2


def test_missing_file_on_the_server_is_not_retried(jsoc_server, jsoc_settings, tmp_path):
    jsoc_server.fail_first(1, status=404, match="Br.fits")
    rec = jsoc.resolve(11158, jsoc.parse_time("2011-02-14T20:00"), jsoc_settings)
    with pytest.raises(FFNNError, match=r"NOAA 11158 \(HARP 377\): download of Br: .* "
                                        r"answered HTTP 404"):
        jsoc.fetch_sharp(rec, tmp_path, jsoc_settings)
    assert jsoc_server.count("file") == 1 and not list(tmp_path.iterdir())


def test_missing_email_is_one_clear_line(jsoc_server, run, tmp_path):
    status, _, err = run("fetch-sharp", "--noaa", 11158, "--time", "2011-02-14T20:00",
                         "--outdir", tmp_path, "--jsoc-url", jsoc_server.url)
    assert status == 2
    line = error_line(err)
    assert line.startswith("ffnn fetch-sharp: error: NOAA 11158 (HARP 377):")
    assert "needs an export email" in line and "JSOC_EMAIL" in line
    assert jsoc_server.count("exp_request") == 0


def test_email_from_the_environment(jsoc_server, run, tmp_path, monkeypatch):
    monkeypatch.setenv("JSOC_EMAIL", "env.user@example.org")
    monkeypatch.setenv("JSOC_URL", jsoc_server.url)
    status, _, _ = run("fetch-sharp", "--harpnum", 401, "--time", "2011-02-14T20:00",
                       "--outdir", tmp_path, "--poll", 0, "--segments", "Br", "Bp", "Bt")
    assert status == 0
    request = next(p for k, p in jsoc_server.requests if k == "exp_request")
    assert "notify=env.user%40example.org" in request
    assert len(list(tmp_path.glob("*.fits"))) == 3


def test_export_error_status(jsoc_server, run, tmp_path, fast_jsoc_args):
    jsoc_server.export_error = "Bad record-set subset specification"
    status, _, err = run("fetch-sharp", "--noaa", 11158, "--time", "2011-02-14T20:00",
                         "--outdir", tmp_path, *fast_jsoc_args)
    assert status == 2
    line = error_line(err)
    assert "NOAA 11158 (HARP 377): export of 2011.02.14_20:00:00_TAI: JSOC export failed" in line
    assert "Bad record-set subset specification [status=4]" in line
    assert not list(Path(tmp_path).glob("*.fits"))


# ---------------------------------------------------------------- JSOC's transient states

def test_try_later_answers_are_waited_out_and_logged(jsoc_server, jsoc_settings, tmp_path,
                                                     caplog):
    """Status 7 (an export of the same user pending) clears by itself: ask again."""
    jsoc_server.busy_next(2)
    rec = jsoc.resolve(11158, jsoc.parse_time("2011-02-14T20:00"), jsoc_settings)
    with caplog.at_level(logging.WARNING, logger="ffnn.io.jsoc"):
        result = jsoc.fetch_sharp(rec, tmp_path, jsoc_settings)
    assert sorted(result.downloaded) == sorted(jsoc.SEGMENTS)
    assert jsoc_server.count("exp_request") == 3 and jsoc_server.count("file") == 6
    waits = [r.getMessage() for r in caplog.records if "try later" in r.getMessage()]
    assert len(waits) == 2
    assert "has 1 pending export requests" in waits[0] and "[status=7]" in waits[0]
    assert "export request 2 again" in waits[0] and "export request 3 again" in waits[1]


def test_try_later_gives_up_after_the_busy_timeout(jsoc_server, run, tmp_path):
    jsoc_server.busy_next(10**6)
    status, _, err = run("fetch-sharp", "--noaa", 11158, "--time", "2011-02-14T20:00",
                         "--outdir", tmp_path, "--jsoc-url", jsoc_server.url, "--email",
                         "tester@example.org", "--retries", 0, "--backoff", 0.05,
                         "--busy-timeout", 0.3, "--poll", 0)
    assert status == 2
    line = error_line(err)
    assert line.startswith(f"ffnn fetch-sharp: error: NOAA 11158 (HARP 377): export of {T0}: "
                           "JSOC still answers 'try later' after 3 export request(s) in 0 s "
                           "(jsoc busy_timeout_s = 0.3 s): User tester@example.org has 1 "
                           "pending export requests")
    assert line.endswith("[status=7]")
    assert jsoc_server.count("exp_request") == 3  # waits 0.05, 0.1; the next 0.2 overruns
    assert not list(tmp_path.glob("*.fits"))


def test_segment_without_image_data_is_one_line_and_not_retried(make_jsoc_server, run,
                                                                tmp_path):
    srv = make_jsoc_server([sharp_record(377, T0, "11158", nx=16, ny=12, quality=0x400,
                                         without_image=("Bp",))])
    status, _, err = run("fetch-sharp", "--noaa", 11158, "--time", "2011-02-14T20:00",
                         "--outdir", tmp_path, "--jsoc-url", srv.url, "--email", "a@b.org",
                         "--retries", 3, "--backoff", 0, "--poll", 0)
    assert status == 2
    assert error_line(err) == (
        "ffnn fetch-sharp: error: NOAA 11158 (HARP 377): record "
        f"hmi.sharp_cea_720s[377][{T0}] has no data for segment Bp (QUALITY 0x00000400): "
        "JSOC served its header without an image; not retried")
    assert "incomplete" not in err and "retry" not in err.replace("not retried", "")
    assert sum(1 for k, p in srv.requests if k == "file" and p.endswith(".Bp.fits")) == 1
    assert [p.name.split(".")[-2] for p in tmp_path.glob("*.fits")] == ["Br"]  # complete ones


# ---------------------------------------------------------------- the record resolve found

def test_fetch_downloads_the_resolved_record_without_a_second_query(jsoc_server, run,
                                                                   tmp_path, fast_jsoc_args):
    record = tmp_path / "resolve.json"
    status, _, _ = run("resolve", "--noaa", 11159, "--time", "2011-02-14T20:00", "-o",
                       record, "--jsoc-url", jsoc_server.url)
    assert status == 0 and json.loads(record.read_text())["t_rec"] == T0
    # a record nearer the time appears afterwards: asking again would pick it
    jsoc_server.add(sharp_record(377, "2011.02.14_20:00:30_TAI", "11158,11159", nx=8, ny=8))
    jsoc_server.reset_log()
    out = tmp_path / "sharp"
    status, text, _ = run("fetch-sharp", "--record", record, "--outdir", out, *fast_jsoc_args)
    assert status == 0 and "6 of 6 file(s) downloaded" in text
    assert {k for k, _ in jsoc_server.requests} == {"exp_request", "exp_status", "file"}
    assert jsoc_server.count("exp_request") == 1
    for seg in jsoc.SEGMENTS:
        path = out / f"hmi.sharp_cea_720s.377.20110214_200000_TAI.{seg}.fits"
        assert path.read_bytes() == served_bytes(jsoc_server, 377, T0, seg)
    assert jsoc.read_record(out / "sharp.json") == jsoc.read_record(record)

    status, _, err = run("fetch-sharp", "--record", record, "--noaa", 11159, "--outdir", out,
                         *fast_jsoc_args)
    assert status == 2 and "give --record, or --noaa/--harpnum with --time, not both" in err


# ---------------------------------------------------------------- records already on disk

def test_local_record_is_described_as_jsoc_describes_it(jsoc_server, jsoc_settings, tmp_path):
    t = jsoc.parse_time("2011-02-14T20:00")
    at_jsoc = jsoc.resolve(11159, t, jsoc_settings)
    served = next(r for r in jsoc_server.records if r.harpnum == 377 and r.t_rec == T0)
    write_record(served, tmp_path / "rec")
    jsoc_server.reset_log()
    local = jsoc.resolve_local(tmp_path / "rec", 11159, t, jsoc_settings)
    assert jsoc_server.requests == []
    a, b = local.to_dict(), at_jsoc.to_dict()
    assert a.pop("keywords").keys() == b.pop("keywords").keys() == set(jsoc.KEYWORDS)
    assert a == b
    for key, value in at_jsoc.keywords.items():  # header floats are printed to 16 digits
        assert local.keywords[key] == (pytest.approx(value, rel=1e-15)
                                       if isinstance(value, float) else value), key
        assert type(local.keywords[key]) is type(value), key


@pytest.mark.parametrize("args, message", [
    (("--noaa", 11161), "NOAA 11161 (HARP 377): the record in {d} does not hold NOAA 11161 "
                        "(NOAA_ARS = '11158,11159')"),
    (("--noaa", 11158, "--harpnum", 401), "NOAA 11158 (HARP 377): the record in {d} is of HARP "
                                          "377, not HARP 401"),
    (("--noaa", 11158, "--time", "2011-02-14T22:00"),
     "NOAA 11158 (HARP 377): the record in {d} has T_REC 2011.02.14_20:00:00_TAI, 120 min 34 s from "
     "2011-02-14T22:00:00 UTC (tolerance ±1 h)"),
    # a miss just past the tolerance reads as one (it read "60 min")
    (("--noaa", 11158, "--time", "2011-02-14T20:59:52"),
     "NOAA 11158 (HARP 377): the record in {d} has T_REC 2011.02.14_20:00:00_TAI, 60 min 26 s from "
     "2011-02-14T20:59:52 UTC (tolerance ±1 h)"),
])
def test_local_record_that_does_not_match_the_row_is_one_line(run, tmp_path, args, message):
    write_record(sharp_record(377, T0, "11158,11159", nx=8, ny=8), tmp_path / "rec")
    argv = ["resolve", "--sharp-dir", tmp_path / "rec", *args]
    if "--time" not in args:
        argv += ["--time", "2011-02-14T20:00"]
    status, _, err = run(*argv)
    assert status == 2
    assert error_line(err) == f"ffnn resolve: error: {message.format(d=tmp_path / 'rec')}"


def test_every_form_of_a_time_and_of_a_record_directory_is_read_alike(run, tmp_path):
    """issue 26 item 8: what one input takes, every input takes. ``resolve --sharp-dir``
    reads ``ffnn:<record>`` as boundary and the region sheet do; ``--time`` reads what
    ``datetime.isoformat()`` writes (``+00:00``) and the JSOC form, as the sheet does
    (tests/test_regions.py)."""
    import datetime

    shipped = "ffnn:hmi.sharp_cea_720s.377.20110215_020000_TAI"
    utc = datetime.datetime(2011, 2, 15, 2, 0, tzinfo=datetime.timezone.utc)
    records = []
    for i, when in enumerate((utc.isoformat(), "2011-02-15T02:00Z", "2011-02-15T03:00:00+01:00",
                              "2011.02.15_02:00:00_TAI", "2011-02-15T02:00")):
        out = tmp_path / f"{i}.json"
        status, text, err = run("resolve", "--sharp-dir", shipped, "--noaa", 11158, "--time", when,
                                "--jsoc-url", "http://127.0.0.1:9/", "-o", out)
        assert status == 0, (when, err)
        records.append(json.loads(out.read_text()))
    asked = [r.pop("requested_utc") for r in records]  # 02:00 TAI is 01:59:26 UTC
    assert asked == ["2011-02-15T02:00:00.000"] * 3 + ["2011-02-15T01:59:26.000", "2011-02-15T02:00:00.000"]
    assert all(r == records[0] for r in records) and records[0]["harpnum"] == 377
    assert jsoc.parse_time(utc.isoformat()).utc.isot == "2011-02-15T02:00:00.000"
    assert jsoc.parse_time("2011-02-15T03:00:00+01:00").utc.isot == "2011-02-15T02:00:00.000"

    status, _, err = run("resolve", "--sharp-dir", "ffnn:hmi.sharp_cea_720s.1.20110215_020000_TAI",
                         "--noaa", 11158, "--time", "2011-02-15T02:00")
    assert status == 2
    assert error_line(err) == ("ffnn resolve: error: no SHARP record ffnn:hmi.sharp_cea_720s.1.20110215_020000_TAI "
                               f"in the package; it ships {shipped}")


def test_shipped_record_resolves_offline(run, tmp_path):
    shipped = Path(__file__).resolve().parents[1] / "ffnn/data/sharp" / \
        "hmi.sharp_cea_720s.377.20110215_020000_TAI"
    out = tmp_path / "resolve.json"
    status, text, _ = run("resolve", "--sharp-dir", shipped, "--noaa", 11158, "--time",
                          "2011-02-15T02:00", "--jsoc-url", "http://127.0.0.1:9/", "-o", out)
    assert status == 0 and "NOAA 11158 -> HARP 377" in text
    d = json.loads(out.read_text())
    assert (d["harpnum"], d["t_rec"], d["quality"], d["series"]) == \
        (377, "2011.02.15_02:00:00_TAI", 0, "hmi.sharp_cea_720s")
    assert d["t_rec_utc"] == "2011-02-15T01:59:26.000" and d["keywords"]["NOAA_ARS"] == "11158"
    assert d["keywords"]["USFLUX"] == 2.71476e22 and d["keywords"]["R_VALUE"] is None  # nan
    assert set(d["keywords"]) == set(jsoc.KEYWORDS)
