"""Faults a new user met (issue 26, items 1 to 6), each with the input that reproduced it.

1. blank edge strips of a SHARP map: cropped, and the NaN left inside held at 0 G by the
   potential field and the held bottom alike;
2. outputs that cannot be written (read-only or full file system): one line, exit 2,
   checked before long work;
3. NaN in a cube: ``ffnn derived`` with the Q slice on handles it as with ``--no-slice``;
4. files of the wrong kind: refused in one line naming what they are not;
5. degenerate or impossible sizes: refused before work, with the size needed;
6. an infinite pixel: not observed, masked like NaN.

The read-only and full file systems are real: small tmpfs mounts, where this process may
mount them (root in a container with the capability); elsewhere those tests are skipped.
"""

from __future__ import annotations

import logging
import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from astropy.io import fits

from ffnn import cli
from ffnn.io import sharp
from test_sharp_files import REAL, RECORD, carrington, write_scaled

FAST_TRAIN = ["--set", "hidden_layers=1", "--set", "width=8", "--set", "max_iterations=1",
              "--set", "warmup_iterations=0", "--set", "n_interior=64", "--set", "warmup_interior=64",
              "--set", "n_potential=256", "--set", "iterations_per_step=1", "--set", "progress=false",
              "--threads", "1"]


@pytest.fixture
def ffnn(capsys):
    """``ffnn(*argv)``: (exit status, stdout, stderr) of the command line run in this process."""
    def run(*argv):
        status = cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return status, out, err

    return run


def _header(hdu) -> dict:
    """The keywords of a shipped segment that FITS can write again (not R_VALUE = nan)."""
    return {k: v for k, v in sharp.header_keywords(hdu.header).items()
            if k != "BUNIT" and not (isinstance(v, float) and not math.isfinite(v))}


def _copy_record(directory: Path, change) -> Path:
    """The shipped record of NOAA 11158 rewritten into ``directory`` with ``change(data)``
    applied to every segment's image (FITS rows y, columns x)."""
    directory.mkdir(parents=True)
    for path in (p for p in REAL.glob("*.fits") if sharp.segment_of(p)):
        with fits.open(path) as hdul:
            hdu = hdul[1]
            header = _header(hdu)
            data = np.array(hdu.data, dtype=np.float64)
        change(data)
        write_scaled(directory / path.name, data, header)
    return directory


# ---------------------------------------------------------------- 1. blank edge strips

def _strips(data):
    """NaN in the left 30 % of the columns and the top (northmost) 15 rows, and a hole."""
    data[:, : int(0.3 * data.shape[1])] = np.nan
    data[-15:, :] = np.nan
    data[150:190, 400:440] = np.nan  # an interior hole: 5 x 5 pixels at bin 8


def test_blank_edge_strips_are_cropped_and_every_product_holds_the_same_bottom(tmp_path, ffnn, caplog):
    record = _copy_record(tmp_path / "rec", _strips)
    with caplog.at_level(logging.INFO, logger="ffnn.io.sharp"):
        status, out, err = ffnn("boundary", record, "-o", tmp_path / "b.nc", "--bin", 8)
    assert status == 0, err
    br = fits.getdata(record / f"{RECORD}.Br.fits", 1)
    cols, rows = np.flatnonzero(np.isfinite(br).any(axis=0)), np.flatnonzero(np.isfinite(br).any(axis=1))
    f, (ny0, nx0) = 8, br.shape
    x0, x1, y1 = cols[0] // f, min(cols[-1] // f, nx0 // f - 1), rows[-1] // f
    nx, ny = x1 - x0 + 1, y1 + 1
    holes = int(np.isnan(sharp.bin_mean(br, f)[: y1 + 1, x0: x1 + 1]).sum())
    assert holes > 0  # the interior hole is left, not cropped
    crop = [r.getMessage() for r in caplog.records if "blank edge strips" in r.getMessage()]
    assert crop == [f"HARP 377 T_REC 2011.02.15_02:00:00_TAI: {(nx0 // f) * (ny0 // f) - nx * ny} of its "
                    f"{nx0 // f} x {ny0 // f} pixels (bin 8) lie in blank edge strips with no observed pixel; "
                    f"the map is cropped to the {nx} x {ny} pixels that hold the observations "
                    f"(x {x0} to {x1}, y 0 to {y1} of the binned map)"]
    bottom = xr.load_dataset(tmp_path / "b.nc")
    assert (bottom.sizes["x"], bottom.sizes["y"]) == (nx, ny)
    assert f"{nx} x {ny} pixels (bin 8), {holes} not observed (NaN)" in out
    bz = bottom["Bz"].values
    for edge in (bz[0], bz[-1], bz[:, 0], bz[:, -1]):
        assert np.isfinite(edge).any()  # no blank strip left
    # the cropped map still lies on the Sun where its pixels were
    lon, lat = sharp.wcs.heliographic_grid(bottom.attrs, nx, ny)
    sun_lon, sun_lat = carrington(record / f"{RECORD}.Br.fits", f * (x0 + np.array([0, nx - 1])) + 3.5,
                                  f * np.array([0, ny - 1]) + 3.5)
    np.testing.assert_allclose(lon[[0, -1], [0, -1]], sun_lon, atol=1e-8)
    np.testing.assert_allclose(lat[[0, -1], [0, -1]], sun_lat, atol=1e-8)

    # potential field, training (held bottom), cube, quality: one bottom for all of them
    assert ffnn("potential", tmp_path / "b.nc", "-o", tmp_path / "pf.nc", "--cube", tmp_path / "pfc.nc")[0] == 0
    with caplog.at_level(logging.WARNING, logger="ffnn.field.train"):
        status, _, err = ffnn("train", tmp_path / "b.nc", tmp_path / "pf.nc", "--outdir", tmp_path / "t", *FAST_TRAIN)
    assert status == 0, err
    assert f"held bottom: {3 * holes} of {3 * nx * ny} map values have no data and are held at 0 G" in caplog.text
    assert ffnn("cube", tmp_path / "t" / "model.pt", "-o", tmp_path / "cube.nc")[0] == 0
    cube, pot = xr.load_dataset(tmp_path / "cube.nc"), xr.load_dataset(tmp_path / "pfc.nc")
    np.testing.assert_array_equal(cube["x"].values, bottom["x"].values)
    np.testing.assert_allclose(cube["z"].values, pot["z"].values)
    held = cube["Bz"].isel(z=0).values
    hole = ~np.isfinite(bz)
    np.testing.assert_allclose(held[~hole], bz[~hole], atol=1e-3 * np.abs(bz[~hole]).max())
    assert np.abs(held[hole]).max() < 1e-5 * np.abs(bz[~hole]).max()  # 0 G to float32 rounding
    np.testing.assert_allclose(pot["Bz"].isel(z=0).values, held, atol=1e-3 * np.abs(bz[~hole]).max())
    status, _, err = ffnn("quality", tmp_path / "cube.nc", "--potential", tmp_path / "pfc.nc", "--boundary",
                          tmp_path / "b.nc", "-o", tmp_path / "q.json")
    assert status == 0, err


def test_the_held_bottom_holds_blank_edge_pixels_at_0_gauss_like_the_potential_field(tmp_path, ffnn):
    """A bottom map with a blank strip at its edge that is not cropped (written by another
    tool): the held bottom holds it at 0 G, as the potential field counts it, instead of
    carrying the first observed column across it."""
    from ffnn.field.boundary import from_sharp, write_map

    ds = from_sharp(REAL, bin_factor=8)
    strip = int(0.3 * ds.sizes["x"])
    for c in ("Bx", "By", "Bz", "Bx_err", "By_err", "Bz_err"):
        ds[c][:strip] = np.nan
    write_map(ds, tmp_path / "b.nc")
    assert ffnn("potential", tmp_path / "b.nc", "-o", tmp_path / "pf.nc", "--cube", tmp_path / "pfc.nc")[0] == 0
    status, _, err = ffnn("train", tmp_path / "b.nc", tmp_path / "pf.nc", "--outdir", tmp_path / "t", *FAST_TRAIN)
    assert status == 0, err
    assert ffnn("cube", tmp_path / "t" / "model.pt", "-o", tmp_path / "cube.nc")[0] == 0
    held = xr.load_dataset(tmp_path / "cube.nc")["Bz"].isel(z=0).values
    pot = xr.load_dataset(tmp_path / "pfc.nc")["Bz"].isel(z=0).values
    assert np.abs(held[:strip]).max() < 1e-5 * np.nanmax(np.abs(ds["Bz"].values))  # 0 G to float32 rounding
    observed = ds["Bz"].values[strip:]
    np.testing.assert_allclose(held[strip:], observed, atol=1e-3 * np.abs(observed).max())
    np.testing.assert_allclose(pot, held, atol=1e-3 * np.abs(observed).max())


# ---------------------------------------------------------------- 6. infinite pixels

def test_an_infinite_pixel_is_not_observed_like_nan(tmp_path, ffnn, caplog):
    def infinite(data):
        data[100:102, 300:302] = np.inf  # one bin-2 pixel

    record = _copy_record(tmp_path / "rec", lambda d: None)
    with fits.open(REAL / f"{RECORD}.Br.fits") as hdul:  # float32 stores an infinity as such
        header = _header(hdul[1])
        data = np.array(hdul[1].data, dtype=np.float32)
    infinite(data)
    fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, fits.Header(header))]).writeto(
        record / f"{RECORD}.Br.fits", overwrite=True)
    with caplog.at_level(logging.WARNING, logger="ffnn.io.sharp"):
        status, out, err = ffnn("boundary", record, "-o", tmp_path / "b.nc")
    assert status == 0, err
    assert "HARP 377 T_REC 2011.02.15_02:00:00_TAI: 4 pixel(s) of Br infinite: not observed, masked as NaN " \
           "like the pixels JSOC leaves blank" in caplog.text
    assert "1 not observed (NaN)" in out and "inf Mx" not in out
    ds = xr.load_dataset(tmp_path / "b.nc")
    assert not np.isinf(ds["Bz"].values).any() and np.isnan(ds["Bz"].values).sum() == 1
    assert math.isfinite(sharp.flux_summary(ds)["unsigned_mx"])


def test_an_infinite_value_in_a_boundary_file_is_refused(tmp_path, ffnn):
    from ffnn.field.boundary import from_sharp, write_map

    ds = from_sharp(REAL, bin_factor=8)
    ds["Bz"][5, 7] = -np.inf
    write_map(ds, tmp_path / "b.nc")
    status, _, err = ffnn("train", tmp_path / "b.nc", "--outdir", tmp_path / "t", *FAST_TRAIN)
    assert status == 2
    assert err.strip().splitlines() == [
        f"ffnn train: error: boundary file {tmp_path / 'b.nc'}: Bz = -inf G at x={float(ds.x[5]):.4g} Mm, "
        f"y={float(ds.y[7]):.4g} Mm (1 value(s) beyond ±100000 G): not a solar field; mask such pixels "
        "(NaN) or fix their units"]


# ---------------------------------------------------------------- 5. sizes

def test_a_bin_that_leaves_no_box_is_refused_with_the_largest_that_does(tmp_path, ffnn):
    status, _, err = ffnn("boundary", REAL, "-o", tmp_path / "b.nc", "--bin", 300)
    assert status == 2 and not (tmp_path / "b.nc").exists()
    assert err.strip().splitlines() == [
        "ffnn boundary: error: bin factor 300 leaves a 2 x 1 pixel map of the 744 x 377 pixel record; a box "
        "needs at least 3 x 3 pixels: bin 125 at most"]
    assert ffnn("boundary", REAL, "-o", tmp_path / "b.nc", "--bin", 125)[0] == 0


# ---------------------------------------------------------------- 2. outputs that cannot be written

@pytest.fixture
def mount_tmpfs(tmp_path):
    """``mount_tmpfs(name, *options)``: a real tmpfs mounted at tmp_path/name (e.g. ``ro``,
    ``size=64k``); the test is skipped where this process may not mount one."""
    mounted = []

    def mount(name, *options):
        where = tmp_path / name
        where.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(("size=64k", *options)), "none", str(where)],
                              capture_output=True, text=True)
        if done.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        # lazily: a library may keep the file it failed to write open (NetCDF does)
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_read_only_outputs_are_one_line_before_any_work(tmp_path, ffnn, mount_tmpfs):
    ro = mount_tmpfs("ro", "ro")
    status, _, err = ffnn("boundary", REAL, "-o", ro / "b.nc", "--bin", 8)
    assert (status, err) == (2, f"ffnn boundary: error: -o {ro / 'b.nc'} cannot be written: {ro} is on a "
                                "read-only file system\n")
    assert ffnn("boundary", REAL, "-o", tmp_path / "b.nc", "--bin", 8)[0] == 0
    status, _, err = ffnn("train", tmp_path / "b.nc", "--outdir", ro / "run", *FAST_TRAIN)
    assert (status, err) == (2, f"ffnn train: error: --outdir {ro / 'run'} cannot be written: {ro} is on a "
                                "read-only file system\n")
    row = tmp_path / "row.json"
    row.write_text('{"region": "r1", "flags": "none", "details": {}}')
    status, _, err = ffnn("summary", row, "--tsv", tmp_path / "summary.tsv", "--nc", ro / "summary.nc")
    assert (status, err) == (2, f"ffnn summary: error: --nc {ro / 'summary.nc'} cannot be written: {ro} is on a "
                                "read-only file system\n")
    assert not (tmp_path / "summary.tsv").exists()  # checked before the first output


def test_a_directory_root_may_not_write_is_one_line(tmp_path, ffnn):
    """/sys refuses new files to every user, root included: the write itself fails."""
    target = Path("/sys/ffnn-test-output/b.nc")
    if not Path("/sys").is_dir() or Path("/sys/ffnn-test-output").exists():
        pytest.skip("no sysfs here")
    status, _, err = ffnn("boundary", REAL, "-o", target, "--bin", 8)
    # root: the write fails (EPERM, or EACCES); other users: refused before the work
    assert status == 2 and re.fullmatch(
        rf"ffnn boundary: error: (cannot write {target}: (Operation not permitted|Permission denied)|"
        rf"-o {target} cannot be written: /sys is not writable \(permission denied\))\n", err), err


def test_a_full_disk_is_one_line_naming_the_file(tmp_path, ffnn, mount_tmpfs):
    import torch

    from ffnn.util.errors import OutputError
    from ffnn.util.files import atomic_write

    full = mount_tmpfs("full")
    # NetCDF: "RuntimeError: NetCDF: HDF error" from the library
    status, _, err = ffnn("lowlou", "--shape", 16, 16, 16, "-o", full / "ref.nc")
    assert (status, err) == (2, f"ffnn lowlou: error: cannot write {full / 'ref.nc'}: No space left on device "
                                "(0 bytes free)\n")
    assert list(full.iterdir()) == []  # nothing half-written
    assert ffnn("lowlou", "--shape", 16, 16, 16, "-o", tmp_path / "ref.nc")[0] == 0
    # a plain write: OSError errno 28
    full = mount_tmpfs("full2")  # NetCDF keeps the file it could not close open: its room stays taken
    status, _, err = ffnn("export", tmp_path / "ref.nc", "--outdir", full / "e")
    assert (status, err) == (2, f"ffnn export: error: cannot write {full / 'e' / 'cube.vtk'}: No space left on "
                                "device (0 bytes free)\n")
    # torch.save: "RuntimeError: [enforce fail at inline_container.cc:...]"
    full = mount_tmpfs("full3")
    with pytest.raises(OutputError, match=r"^cannot write .*m\.pt: No space left on device \(0 bytes free\)$"):
        atomic_write(full / "m.pt", lambda tmp: torch.save(torch.zeros(100_000), tmp))
    # training: the room its checkpoint needs is checked before it starts
    full = mount_tmpfs("full4")
    assert ffnn("faces", tmp_path / "ref.nc", "-o", tmp_path / "faces.nc")[0] == 0
    status, _, err = ffnn("train", tmp_path / "faces.nc", "--outdir", full / "run", *FAST_TRAIN)
    assert status == 2 and err.startswith(f"ffnn train: error: --outdir {full / 'run'} cannot be written: the "
                                          "work needs about ")
    assert err.endswith(" there, the file system has 65.5 kB free\n")


def test_sizes_beyond_reason_are_refused_before_work(tmp_path, ffnn):
    assert ffnn("lowlou", "--shape", 12, 12, 12, "-o", tmp_path / "ref.nc")[0] == 0
    # 10^6 footpoints per pixel: petabytes
    status, _, err = ffnn("derived", tmp_path / "ref.nc", "-o", tmp_path / "d.nc", "--oversample", 1e6,
                          "--threads", 1)
    assert status == 2 and not (tmp_path / "d.nc").exists()
    assert re.fullmatch(r"ffnn derived: error: --oversample 1e\+06 gives 11000001 x 11000001 footpoints, which needs "
                        r"about [0-9.]+ PB of memory; this machine has [0-9.]+ [kMGT]B available: --oversample "
                        r"[0-9.e+]+ at most\n", err), err
    # layers a thousandth of a pixel apart
    assert ffnn("boundary", REAL, "-o", tmp_path / "b.nc", "--bin", 8)[0] == 0
    status, _, err = ffnn("potential", tmp_path / "b.nc", "-o", tmp_path / "pf.nc", "--nz", 100000)
    assert status == 2 and not (tmp_path / "pf.nc").exists()
    assert err == ("ffnn potential: error: --nz 100000 gives layers 0.001 Mm apart, 1/2915 of the 2.915 Mm pixel: "
                   "a potential field has no structure finer than the map's pixels; --nz 138 at most (1/4 pixel)\n")
    # a cube beyond the memory is refused before the faces are written
    status, _, err = ffnn("potential", tmp_path / "b.nc", "-o", tmp_path / "pf.nc", "--cube", tmp_path / "pfc.nc",
                          "--nz", 138, "--pad", 1)
    assert status == 0, err  # 93 x 47 x 138: fits
    status, _, err = ffnn("lowlou", "--shape", 5000, 5000, 5000, "-o", tmp_path / "big.nc")
    assert status == 2 and re.fullmatch(
        r"ffnn lowlou: error: --shape 5000 5000 5000 gives 125,000,000,000 grid points, which needs about 30 TB "
        r"of memory; this machine has [0-9.]+ [kMGT]B available\n", err), err


@pytest.mark.parametrize("args, message", [
    (["--l", "-1"], "Low & Lou source depth l must be > 0 (the singular source lies at z = -l, below the "
                    "photosphere), got l=-1"),
    (["--l", "0"], "Low & Lou source depth l must be > 0 (the singular source lies at z = -l, below the "
                   "photosphere), got l=0"),
    (["--bounds", "-1", "1", "-1", "1", "-0.5", "1"], "bounds reach z = -0.5, at or below the singular source "
                                                      "at z = -l = -0.3: the box must lie above it"),
])
def test_a_low_lou_field_with_its_source_in_the_box_is_refused(tmp_path, ffnn, args, message):
    status, _, err = ffnn("lowlou", "--shape", 8, 8, 8, *args, "-o", tmp_path / "ref.nc")
    assert (status, err) == (2, f"ffnn lowlou: error: {message}\n") and not (tmp_path / "ref.nc").exists()


# ---------------------------------------------------------------- 3. NaN in a cube

def test_derived_handles_nan_in_a_cube_alike_with_and_without_the_slice(tmp_path, ffnn, caplog):
    assert ffnn("lowlou", "--shape", 12, 12, 12, "-o", tmp_path / "ref.nc")[0] == 0
    cube = xr.load_dataset(tmp_path / "ref.nc")
    for c in ("Bx", "By", "Bz"):
        cube[c][:, :, 8:] = np.nan  # no field in the upper third
    cube.to_netcdf(tmp_path / "nan.nc")
    with caplog.at_level(logging.WARNING, logger="ffnn"):
        status, _, err = ffnn("derived", tmp_path / "nan.nc", "-o", tmp_path / "d.nc", "--threads", 1,
                              "--slice-every", 1)
    assert status == 0, err
    assert "the cube has no finite B at 576 of its 1728 grid points: field lines reaching them end unfinished, " \
           "and Tw and Q are undefined (NaN) there" in caplog.text
    ds = xr.load_dataset(tmp_path / "d.nc")
    q = ds["log10_q_slice"].transpose("x_slice", "z_slice").values
    assert np.isnan(q[:, 8:]).all()  # undefined where there is no field
    assert np.isfinite(q[:, :4]).any()  # defined below it
    status, _, err = ffnn("derived", tmp_path / "nan.nc", "-o", tmp_path / "d2.nc", "--threads", 1, "--no-slice")
    assert status == 0, err
    np.testing.assert_array_equal(xr.load_dataset(tmp_path / "d2.nc")["log10_q"].values, ds["log10_q"].values)


# ---------------------------------------------------------------- 4. files of the wrong kind

def test_files_of_another_kind_are_named_as_such(tmp_path, ffnn):
    import json

    row = {"region": "ar11158", "kind": "sharp", "flags": "negative_free_energy", "details": {}}
    (tmp_path / "row.json").write_text(json.dumps(row))
    (tmp_path / "train.json").write_text(json.dumps({"config": {}, "iterations": 10}))
    status, _, err = ffnn("summary-row", "--region", "r", "--train", tmp_path / "train.json", "--quality",
                          tmp_path / "row.json", "-o", tmp_path / "out.json")
    assert (status, err) == (2, f"ffnn summary-row: error: --quality {tmp_path / 'row.json'} is not the quality "
                                "JSON of 'ffnn quality' (its figures, flags as a list): it is a summary row "
                                "('ffnn summary-row')\n")
    assert not (tmp_path / "out.json").exists()
    status, _, err = ffnn("summary-row", "--region", "r", "--train", tmp_path / "row.json", "--quality",
                          tmp_path / "row.json", "-o", tmp_path / "out.json")
    assert err == (f"ffnn summary-row: error: --train {tmp_path / 'row.json'} is not a training record "
                   "(train.json of 'ffnn train'): it is a summary row ('ffnn summary-row')\n")
    status, _, err = ffnn("lowlou-table", tmp_path / "row.json", "-o", tmp_path / "table.md")
    assert (status, err) == (2, f"ffnn lowlou-table: error: summary row {tmp_path / 'row.json'} is of a sharp "
                                "region (ar11158), not of a Low & Lou benchmark region: the table compares those "
                                "with published fields\n")
    assert not (tmp_path / "table.md").exists()
    status, _, err = ffnn("summary", tmp_path / "train.json", "--tsv", tmp_path / "s.tsv")
    assert (status, err) == (2, f"ffnn summary: error: summary row {tmp_path / 'train.json'} is not a summary row "
                                "('ffnn summary-row'): it is a training record (train.json of 'ffnn train')\n")
    row_nc = tmp_path / "summary.nc"
    assert ffnn("lowlou", "--shape", 4, 4, 4, "-o", row_nc)[0] == 0
    status, out, err = ffnn("failures", "--checks", row_nc)
    assert (status, err) == (2, f"ffnn failures: error: --checks {row_nc} is not a checks table "
                                "(results/checks.tsv): it is a NetCDF file\n")
