"""The files every ffnn command writes (ffnn.util.files): readable for the group as the umask
says, CF-1.8-clean NetCDF, and found done on a rerun.

Every command but ``train``'s options runs once, in-process, on tiny inputs (a Low & Lou
8^3 field, a SHARP record served by the JSOC look-alike, the record shipped in the
package, synthetic flare tables, a HEK look-alike), under umask 022 and under 002:

* every file written has mode 0666 minus the umask (``tempfile.mkstemp`` made NetCDF
  products and downloads 0600 whatever the umask);
* every kind of NetCDF product passes the CF checker for CF-1.8 with no error, its
  warnings only CF's dimension-order recommendation (x, y, z is the order of every
  product; README);
* running every command again with the same arguments changes no file; a changed
  argument or a removed output makes the command work again.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from ffnn import cli
from ffnn.pipeline.regions import sharp_directory
from flare_data import synthetic_flares
from hek_server import FakeHEK, goes_flare
from jsoc_server import FakeJSOC, default_records

CF_TABLES = Path(__file__).parent / "data" / "cf"
SHIPPED = sharp_directory("ffnn:hmi.sharp_cea_720s.377.20110215_020000_TAI")
TINY_TRAIN = ["--threads", "1"] + [w for kv in ("max_iterations=4", "hidden_layers=1", "width=8", "n_interior=64",
                                                 "warmup_iterations=2", "warmup_interior=32", "iterations_per_step=2",
                                                 "checkpoint_every=2", "progress=false", "device=cpu",
                                                 "time_budget_s=null") for w in ("--set", kv)]


def commands(t: Path, jsoc_url: str, hek_url: str) -> list[list[str]]:
    """Every command of a run, in order, writing under ``t``."""
    L, S, T, K, C = (t / d for d in ("lowlou", "sharp", "tables", "flares", "classify"))
    region = ["--noaa", "11159", "--time", "2011-02-14T20:00", "--jsoc-url", jsoc_url, "--retries", "0",
              "--backoff", "0", "--poll", "0"]
    model = []
    for d, boundary in ((L, [L / "faces.nc"]), (S, [S / "boundary.nc", S / "pf_faces.nc"])):
        model += [
            ["train", *boundary, "--outdir", d / "train", *TINY_TRAIN],
            ["cube", d / "train/model.pt", "-o", d / "cube.nc"],
            ["quality", d / "cube.nc", "--potential", d / "potential.nc", "--boundary", d / "boundary.nc",
             "--train", d / "train/train.json", "-o", d / "quality.json", "--profiles", d / "profiles.nc"],
            ["figures", "--boundary", d / "boundary.nc", "--cube", d / "cube.nc", "--profiles", d / "profiles.nc",
             "--loss", d / "train/loss.csv", "--lines", "3", "--dpi", "30", "--outdir", d / "figures"],
            ["derived", d / "cube.nc", "--boundary", d / "boundary.nc", "-o", d / "derived.nc",
             "--figures", d / "figures", "--dpi", "30", "--threads", "1", "--slice-every", "3"],
        ]
    row = ["summary-row", "--train", "train/train.json", "--quality", "quality.json", "--profiles", "profiles.nc",
           "--derived", "derived.nc", "-o", "row.json"]
    return [
        ["lowlou", "--shape", "8", "8", "8", "-o", L / "reference.nc"],
        ["boundary", L / "reference.nc", "-o", L / "boundary.nc"],
        ["faces", L / "reference.nc", "-o", L / "faces.nc"],
        ["potential", L / "boundary.nc", "-o", L / "pf_faces.nc", "--cube", L / "potential.nc", "--nz", "8"],
        ["resolve", *region, "-o", S / "resolve.json"],
        ["fetch-sharp", "--record", S / "resolve.json", *region[4:], "--email", "t@example.org", "--outdir", S / "sharp"],
        ["boundary", S / "sharp", "--record", S / "resolve.json", "--bin", "8", "--height-mm", "8",
         "-o", S / "boundary.nc"],
        ["resolve", "--noaa", "11158", "--time", "2011-02-15T02:00", "--sharp-dir", SHIPPED, "-o", t / "shipped.json"],
        ["boundary", SHIPPED, "--bin", "16", "--height-mm", "20", "-o", t / "shipped_boundary.nc"],
        ["preprocess", t / "shipped_boundary.nc", "-o", t / "shipped_preprocessed.nc"],
        ["potential", S / "boundary.nc", "-o", S / "pf_faces.nc", "--cube", S / "potential.nc"],
        *model,
        ["metrics", L / "cube.nc", "--reference", L / "reference.nc", "--potential", L / "potential.nc",
         "-o", L / "metrics_ffnn.json"],
        ["metrics", L / "potential.nc", "--reference", L / "reference.nc", "--potential", L / "potential.nc",
         "-o", L / "metrics_potential.json"],
        ["export", S / "cube.nc", "--derived", S / "derived.nc", "--format", "vtk", "fits", "--outdir", S / "export"],
        [*(str(L / a) if a.endswith((".json", ".nc")) else a for a in row), "--region", "lowlou_x",
         "--reference", L / "metrics_ffnn.json", "--potential-reference", L / "metrics_potential.json",
         "--meta", "kind=lowlou", "--meta", "lowlou_n=1", "--meta", "lowlou_boundary=faces",
         "--meta", "lowlou_shape=[8, 8, 8]"],
        [*(str(S / a) if a.endswith((".json", ".nc")) else a for a in row), "--region", "ar11159_x",
         "--record", S / "resolve.json", "--meta", "kind=sharp"],
        ["summary", L / "row.json", S / "row.json", "--tsv", T / "summary.tsv", "--nc", T / "summary.nc",
         "--json", T / "summary.json", "--checks", T / "checks.tsv"],
        ["lowlou-table", L / "row.json", "-o", T / "table.md"],
        ["sharp-keywords", "--start", "2011-02-14T19:30", "--end", "2011-02-14T20:30", "--jsoc-url", jsoc_url,
         "--retries", "0", "--backoff", "0", "-o", K / "keywords.csv"],
        ["flare-events", "--start", "2011-02-13T00:00", "--end", "2011-02-16T00:00", "--hek-url", hek_url,
         "-o", K / "events.csv"],
        ["classify", K / "table.csv", "--events", K / "goes.csv", "--outdir", C, "--folds", "2", "--repeats", "1",
         "--config", "{min_rows: 10}"],
        ["classify", "--predict", "--model", C / "model.skops", K / "table.csv", "--events", K / "goes.csv",
         "--outdir", C / "predict"],
    ]


def run(argv) -> int:
    return cli.main([str(a) for a in argv])


def tree(root: Path) -> dict[Path, tuple[int, int, int]]:
    """Every file under ``root``: (mode bits, size, modification time in ns)."""
    return {p: (stat.S_IMODE(p.stat().st_mode), p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def make(umask: int, t: Path):
    """(umask, work directory, commands, the files before the run): every command run once
    under ``umask``, in ``t``."""
    table, events, _ = synthetic_flares(n_harps=20, per_harp=6)
    (t / "flares").mkdir()
    table.to_csv(t / "flares/table.csv", index=False)
    events.to_csv(t / "flares/goes.csv", index=False)
    inputs = set(tree(t))
    jsoc = FakeJSOC(default_records())
    hek = FakeHEK([goes_flare("2011-02-15T01:56:00", "X2.2", 11158), goes_flare("2011-02-13T17:38:00", "M6.6", 11158)])
    jsoc.start()
    hek.start()
    old = os.umask(umask)
    try:
        argvs = commands(t, jsoc.url, hek.url)
        for argv in argvs:
            assert run(argv) == 0, argv
    finally:
        os.umask(old)
        jsoc.stop()
        hek.stop()
    return umask, t, argvs, inputs


@pytest.fixture(scope="module")
def made022(tmp_path_factory):
    return make(0o022, tmp_path_factory.mktemp("umask022"))


@pytest.fixture(scope="module")
def made002(tmp_path_factory):
    return make(0o002, tmp_path_factory.mktemp("umask002"))


@pytest.mark.parametrize("made", ["made022", "made002"])
def test_every_output_is_as_readable_as_the_umask_says(made, request):
    umask, t, _, inputs = request.getfixturevalue(made)
    files = {p: mode for p, (mode, _, _) in tree(t).items() if p not in inputs}
    assert len(files) > 70
    assert {p.suffix for p in files} >= {".nc", ".json", ".csv", ".tsv", ".png", ".pt", ".fits", ".vtk",
                                         ".skops", ".md"}
    wrong = {str(p.relative_to(t)): f"{mode:o}" for p, mode in files.items() if mode != 0o666 & ~umask}
    assert not wrong, f"umask {umask:03o}: files not {0o666 & ~umask:o}: {wrong}"


def cf_messages(path: Path) -> dict[str, list[str]]:
    """The CF checker's (cfchecks, CF-1.8) ERROR and WARN messages on ``path``, with the
    variable they concern."""
    try:
        from cfchecker.cfchecks import CFChecker
    except (ImportError, OSError) as err:  # cfunits needs Debian's libudunits2-0
        pytest.skip(f"the CF checker cannot load ({err}); .ci/run installs libudunits2-0")
    checker = CFChecker(cfStandardNamesXML=str(CF_TABLES / "cf-standard-name-table.xml"),
                        cfAreaTypesXML=str(CF_TABLES / "area-type-table.xml"),
                        cfRegionNamesXML=str(CF_TABLES / "standardized-region-list.xml"),
                        version="1.8", silent=True)
    checker.checker(str(path))
    results = checker.all_results[str(path)]
    sections = [("", results["global"]), *results["variables"].items()]
    return {cat: [f"{name}: {m}" for name, res in sections for m in res[cat]] for cat in ("FATAL", "ERROR", "WARN")}


def test_every_netcdf_product_is_cf_clean(made022):
    _, t, _, _ = made022
    products = sorted(p for p in t.rglob("*.nc"))
    kinds = {p.name for p in products}
    assert kinds >= {"reference.nc", "boundary.nc", "faces.nc", "pf_faces.nc", "potential.nc", "cube.nc",
                     "profiles.nc", "derived.nc", "summary.nc", "shipped_boundary.nc", "shipped_preprocessed.nc"}
    for path in products:
        found = cf_messages(path)
        assert not found["FATAL"] and not found["ERROR"], (path, found)
        # CF recommends the order T, Z, Y, X; ffnn keeps x, y, z (README: CF-1.8)
        other = [w for w in found["WARN"] if "(2.4): space/time dimensions appear in incorrect order" not in w]
        assert not other, (path, other)


def test_run_again_every_command_finds_its_work_done(made002, caplog):
    _, t, argvs, _ = made002
    before = tree(t)
    caplog.set_level(logging.INFO)
    for argv in argvs:
        assert run(argv) == 0, argv
    assert tree(t) == before  # not a byte, a mode or a time changed
    done = [r for r in caplog.records if "nothing to do" in r.getMessage()]
    assert len(done) == len(argvs), [a[0] for a in argvs]

    # a changed argument, or an output gone, is work to do again
    lowlou = next(a for a in argvs if a[0] == "lowlou")
    assert run([*lowlou[:2], "8", "8", "9", *lowlou[5:]]) == 0
    assert tree(t)[t / "lowlou/reference.nc"] != before[t / "lowlou/reference.nc"]
    (t / "lowlou/figures/loss.png").unlink()
    assert run(next(a for a in argvs if a[0] == "figures")) == 0
    assert (t / "lowlou/figures/loss.png").read_bytes()[:4] == b"\x89PNG"


def test_an_integer_keyword_beyond_64_bits_is_kept_as_text(tmp_path, caplog):
    """A record header with a keyword NetCDF cannot store as an integer (netCDF4 raised an
    OverflowError deep in xarray): boundary.nc keeps it as text, with one warning naming it."""
    from astropy.io import fits

    from conftest import write_record
    from jsoc_server import sharp_record

    paths = write_record(sharp_record(377, "2011.02.14_20:00:00_TAI", "11158,11159", nx=16, ny=12), tmp_path / "rec")
    with fits.open(paths["Br"], mode="update") as hdul:
        hdul[-1].header["BIGCOUNT"] = 12345678901234567890123  # astropy writes any integer
    caplog.set_level(logging.WARNING)
    assert run(["boundary", tmp_path / "rec", "--bin", "4", "-o", tmp_path / "b.nc"]) == 0
    import xarray as xr

    ds = xr.load_dataset(tmp_path / "b.nc")
    assert ds.attrs["BIGCOUNT"] == "12345678901234567890123" and ds.attrs["HARPNUM"] == 377
    lines = [r.getMessage() for r in caplog.records if "BIGCOUNT" in r.getMessage()]
    assert lines == ["b.nc: attribute BIGCOUNT = 12345678901234567890123 is beyond a 64-bit integer: kept as text"]
    assert np.isfinite(ds["Bz"].values).any()


# ---------------------------------------------------------------- wrong output names

def tiny_cube(path):
    from ffnn.field.cube import make_cube
    from ffnn.util.files import write_netcdf

    x = np.linspace(-1.0, 1.0, 5)
    X, Y, Z = np.meshgrid(x, x, x + 1.0, indexing="ij")
    return write_netcdf(make_cube({"Bx": 0 * X, "By": 0 * X, "Bz": 1 + 0 * X + 0.1 * Y}, x, x, x + 1.0), path)


def error_lines(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


def test_an_output_named_like_an_existing_directory_or_file_is_one_line(tmp_path, capsys):
    """-o naming a directory (IsADirectoryError at the rename) and --outdir naming a file
    (FileExistsError at mkdir) were tracebacks, after the work; now one line, before it."""
    from ffnn.util.errors import DataError
    from ffnn.util.files import atomic_write, check_output_dir

    (tmp_path / "somedir").mkdir()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DataError, match="is a directory: give a file name"):
        atomic_write(tmp_path / "somedir", lambda tmp: tmp.write_text("y"))
    with pytest.raises(DataError, match="afile is a file, not a directory"):
        atomic_write(tmp_path / "afile" / "x.txt", lambda tmp: tmp.write_text("y"))
    with pytest.raises(DataError, match="afile is a file, not a directory"):
        check_output_dir(tmp_path / "afile" / "sub")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "somedir"]  # no temporary left

    cube = tiny_cube(tmp_path / "cube.nc")
    assert run(["boundary", cube, "-o", tmp_path / "somedir"]) == 2
    assert error_lines(capsys) == [f"ffnn boundary: error: -o {tmp_path / 'somedir'} is a directory: give a file name"]
    assert run(["cube", tmp_path / "model.pt", "-o", tmp_path / "somedir"]) == 2
    assert error_lines(capsys) == [f"ffnn cube: error: -o {tmp_path / 'somedir'} is a directory: give a file name"]
    assert run(["train", tmp_path / "b.nc", "--outdir", tmp_path / "afile"]) == 2
    assert error_lines(capsys) == [f"ffnn train: error: --outdir {tmp_path / 'afile'} is a file, not a directory"]
    assert run(["export", cube, "--outdir", tmp_path / "afile"]) == 2
    assert error_lines(capsys) == [f"ffnn export: error: --outdir {tmp_path / 'afile'} is a file, not a directory"]
    assert not list((tmp_path / "somedir").iterdir()) and (tmp_path / "afile").read_text() == "x"


@pytest.mark.parametrize("chunk", ["0", "-5"])
def test_cube_refuses_a_chunk_below_one(tmp_path, capsys, chunk):
    """--chunk -5 wrote a cube of uninitialised B (range(0, n, -5) is empty) and --chunk 0
    raised ValueError from range()."""
    from ffnn.field.cube import evaluate_points
    from ffnn.util.errors import ConfigError

    with pytest.raises(SystemExit) as exit_:
        run(["cube", tmp_path / "model.pt", "-o", tmp_path / "c.nc", "--chunk", chunk])
    assert exit_.value.code == 2
    assert error_lines(capsys)[-1] == f"ffnn cube: error: argument --chunk: must be an integer >= 1, not {chunk}"
    assert not (tmp_path / "c.nc").exists()
    with pytest.raises(ConfigError, match="chunk"):
        evaluate_points(None, None, np.zeros(4), np.zeros(4), np.zeros(4), chunk=int(chunk))


def test_cube_names_a_training_checkpoint_and_train_a_cube_given_as_boundary(tmp_path, capsys):
    import torch

    torch.save({"model": {}, "optimizer": {}, "history": [], "config": {}}, tmp_path / "checkpoint.pt")
    assert run(["cube", tmp_path / "checkpoint.pt", "-o", tmp_path / "c.nc"]) == 2
    assert error_lines(capsys) == [
        f"ffnn cube: error: model {tmp_path / 'checkpoint.pt'} is a training checkpoint, not a model file: "
        "give the model.pt that 'ffnn train' writes beside it"]
    cube = tiny_cube(tmp_path / "cube.nc")
    assert run(["train", cube, "--outdir", tmp_path / "u1"]) == 2
    err = error_lines(capsys)
    assert len(err) == 1 and err[0].startswith(f"ffnn train: error: boundary file {cube} is neither a bottom map")
    assert "Bx has dims ('x', 'y', 'z')" in err[0] and not (tmp_path / "u1").exists()


def test_a_bottom_map_or_derived_products_given_as_a_cube_are_named(tmp_path, capsys):
    """A bottom map given as the potential cube said "Bx has dims ('x', 'y'); a cube
    needs (x, y, z)", derived.nc given as a cube "cube lacks variable(s) ['Bx', 'By',
    'Bz']": neither named the file nor said what it is."""
    cube = tiny_cube(tmp_path / "cube.nc")
    bottom = tmp_path / "boundary.nc"
    assert run(["boundary", cube, "-o", bottom]) == 0
    assert run(["quality", cube, "--potential", bottom, "-o", tmp_path / "q.json"]) == 2
    assert error_lines(capsys) == [
        f"ffnn quality: error: --potential {bottom} is a bottom map (Bx, By, Bz on x, y), not a cube (Bx, By, Bz on x, y, z)"]
    assert run(["derived", cube, "-o", tmp_path / "derived.nc", "--no-slice", "--threads", "1"]) == 0
    capsys.readouterr()
    assert run(["export", tmp_path / "derived.nc", "--format", "vtk", "--outdir", tmp_path / "out"]) == 2
    assert error_lines(capsys) == [
        f"ffnn export: error: cube {tmp_path / 'derived.nc'} holds derived products of 'ffnn derived' "
        "(alpha, twist, log10_q, ...), not a cube (Bx, By, Bz on x, y, z): give the cube they were made from"]
    assert run(["faces", tmp_path / "q.nc", "-o", tmp_path / "f.nc"]) == 2
    assert error_lines(capsys) == [f"ffnn faces: error: cube {tmp_path / 'q.nc'} does not exist"]
    assert not (tmp_path / "q.json").exists() and not (tmp_path / "out").exists()
