"""Shared fixtures: a JSOC look-alike server and synthetic SHARP data.

Fixtures
--------
``jsoc_server``
    A started :class:`jsoc_server.FakeJSOC` on 127.0.0.1 (random port) serving
    :func:`jsoc_server.default_records`: HARP 377 (NOAA 11158 and 11159) and HARP 401
    (NOAA 11161), records every 12 min from 2011.02.14_19:36 to 20:24 TAI, 96×64-pixel
    maps with a NaN patch. ``jsoc_server.url`` is the base URL to give ``ffnn`` (the
    ``--jsoc-url`` option or ``JsocSettings(url=...)``); failure knobs and request counts
    are described in ``tests/jsoc_server.py``. Stopped after the test.

``make_jsoc_server``
    Factory for servers with other records: ``make_jsoc_server(records, **kw)`` where
    ``records`` is a list of :func:`jsoc_server.sharp_record` results (any HARPs, NOAA
    lists, times, QUALITY, sizes); ``kw`` goes to ``FakeJSOC`` (e.g. ``pending_polls``).
    Example::

        from jsoc_server import sharp_record
        def test_x(make_jsoc_server):
            srv = make_jsoc_server([sharp_record(12, "2014.01.01_00:00:00_TAI", "11950")])

``jsoc_settings``
    ``ffnn.io.jsoc.JsocSettings`` pointing at ``jsoc_server`` with an email, no backoff delay
    and no export polling delay (fast tests).

``run``
    ``run(*argv)`` runs ``ffnn`` in this process with the commands of the SHARP stage
    (``resolve``, ``fetch-sharp``, ``boundary``) and no JSOC_EMAIL or JSOC_URL in the
    environment; returns (exit status, stdout, stderr).

``fast_jsoc_args``
    The same as command-line arguments for ``ffnn resolve`` / ``ffnn fetch-sharp``:
    ``["--jsoc-url", <url>, "--email", ..., "--retries", "2", "--backoff", "0", "--poll",
    "0"]`` (``FAST_JSOC_ARGS`` is the part without the URL, e.g. for a workflow config).
    A Snakemake test can equally export ``JSOC_URL`` and ``JSOC_EMAIL`` in the environment.

``write_record(record, directory)`` (a plain function)
    Writes a record's six FITS files under JSOC's names, without a server.

``sharp_dir``
    A directory holding the six FITS segments of the HARP 377 record at 20:00 TAI, written
    straight from the synthetic record (no server), as ``fetch-sharp`` would leave them.

Tests in this directory can ``import jsoc_server`` (pytest puts ``tests/`` on sys.path).
"""

from __future__ import annotations

import pytest

from jsoc_server import FakeJSOC, default_records, sharp_record

# Command-line options that make the sharp commands fast against the fake server.
FAST_JSOC_ARGS = ["--email", "tester@example.org", "--retries", "2", "--backoff", "0",
                  "--poll", "0"]


@pytest.fixture
def make_jsoc_server():
    servers = []

    def make(records=None, **kw):
        srv = FakeJSOC(default_records() if records is None else records, **kw)
        srv.start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


@pytest.fixture
def jsoc_server(make_jsoc_server):
    return make_jsoc_server()


@pytest.fixture
def jsoc_settings(jsoc_server):
    from ffnn.io.jsoc import JsocSettings

    return JsocSettings(url=jsoc_server.url, email="tester@example.org", retries=2,
                        backoff_s=0.0, poll_s=0.0, http_timeout_s=10.0)


@pytest.fixture
def run(monkeypatch, capsys):
    from ffnn.cli import app as cli  # COMMAND_MODULES lives in ffnn.cli.app since the move

    monkeypatch.setattr(cli, "COMMAND_MODULES", ("ffnn.cli.sharp", "ffnn.cli.model"))
    monkeypatch.delenv("JSOC_EMAIL", raising=False)
    monkeypatch.delenv("JSOC_URL", raising=False)

    def run_(*argv):
        status = cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return status, out, err

    return run_


@pytest.fixture
def fast_jsoc_args(jsoc_server):
    """CLI arguments for the sharp commands against ``jsoc_server``."""
    return ["--jsoc-url", jsoc_server.url, *FAST_JSOC_ARGS]


def write_record(record, directory, segments=None):
    """Write a FakeRecord's segment files into ``directory`` under JSOC's names."""
    from ffnn.io.jsoc import SEGMENTS, SharpRecord, local_name

    directory.mkdir(parents=True, exist_ok=True)
    rec = SharpRecord(record.harpnum, record.t_rec, record.keywords.get("QUALITY"),
                      dict(record.keywords))
    paths = {}
    for seg in segments or SEGMENTS:
        paths[seg] = directory / local_name(rec, seg)
        paths[seg].write_bytes(record.file(seg))
    return paths


@pytest.fixture
def sharp_dir(tmp_path):
    record = sharp_record(377, "2011.02.14_20:00:00_TAI", "11158,11159")
    write_record(record, tmp_path / "sharp")
    return tmp_path / "sharp"
