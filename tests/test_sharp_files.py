"""SHARP files as JSOC writes them, and the real record shipped in the package.

Each header or naming case of a real export has a small file here that reproduces it,
written with astropy the way JSOC writes it (scaled integers, RICE tiles, cards such as
``R_VALUE = nan`` injected byte for byte); the record of NOAA 11158 in
``ffnn/data/sharp/`` is read untouched.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import re
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import sunpy.map
import xarray as xr
from astropy.io import fits

from conftest import write_record
from ffnn.field import boundary
from ffnn.io.box import BOX_KEYS
from ffnn.io import sharp, wcs
from ffnn.util.errors import DataError
from jsoc_server import (SEGMENTS, inject_cards, segment_header, sharp_field, sharp_keywords,
                         sharp_record)

REPO = Path(__file__).resolve().parents[1]
RECORD = "hmi.sharp_cea_720s.377.20110215_020000_TAI"
REAL = REPO / "ffnn" / "data" / "sharp" / RECORD
T0 = "2011.02.14_20:00:00_TAI"
PREFIX = "hmi.sharp_cea_720s.377.20110214_200000_TAI"
# the cards JSOC writes that astropy refuses or calls non-standard (as in the
# shipped record of HARP 377)
JSOC_CARDS = {"R_VALUE": "nan", "GWILL": "nan", "CRDER1": "nan", "CSYSER2": "nan",
              "USFLUX": "2.714760e+22", "BADVAL": "1.2.3"}


def write_scaled(path: Path, values, header: dict, *, compressed=True, raw_cards=None,
                 bscale=0.01):
    """One segment file as JSOC writes it: 32-bit integers scaled by BSCALE, BLANK where
    NaN, tile-compressed (RICE) after an empty primary HDU or a plain primary image."""
    blank = -(2**31)
    ints = np.where(np.isfinite(values), np.round(np.nan_to_num(values) / bscale), blank)
    hdu = (fits.CompImageHDU(ints.astype(np.int32), compression_type="RICE_1") if compressed
           else fits.PrimaryHDU(ints.astype(np.int32)))
    for key, value in {**header, **{k: "" for k in raw_cards or {}}}.items():
        hdu.header[key] = value
    hdu.header.update(BLANK=blank, BZERO=0.0, BSCALE=bscale)  # after the data: kept as is
    buf = io.BytesIO()
    fits.HDUList([fits.PrimaryHDU(), hdu] if compressed else [hdu]).writeto(buf)
    path.write_bytes(inject_cards(buf.getvalue(), raw_cards or {}))
    return path


def jsoc_record(directory: Path, *, names="jsoc", compressed=True, raw_cards=None,
                mirror=(False, False), nx=41, ny=25) -> Path:
    """A small record (Low & Lou bottom field, a NaN patch) in ``directory``. ``mirror``
    stores it mirrored along x / y: data reversed, CDELT negated, CRPIX → n + 1 − CRPIX."""
    directory.mkdir(parents=True, exist_ok=True)
    keywords = sharp_keywords(377, T0, "11158", nx=nx, ny=ny)
    br, bp, bt = sharp_field(nx, ny, peak_g=2000.0)
    arrays = {"Br": br, "Bp": bp, "Bt": bt}
    arrays.update({f"{k}_err": 8.0 + 0.02 * np.abs(v) for k, v in arrays.items()})
    for seg in SEGMENTS:
        data = np.array(arrays[seg], dtype=np.float64)
        data[3:7, 5:11] = np.nan
        header = {**segment_header(keywords, seg, nx, ny), "CRPIX1": 12.5, "CRPIX2": 9.0}
        for k, (axis, n) in enumerate(((1, nx), (2, ny))):
            if mirror[k]:
                data = np.flip(data, axis=1 - k)
                header[f"CDELT{axis}"] = -header[f"CDELT{axis}"]
                header[f"CRPIX{axis}"] = n + 1 - header[f"CRPIX{axis}"]
        name = f"{PREFIX}.{seg}.fits" if names == "jsoc" else f"{seg}.fits"
        write_scaled(directory / name, data, header, compressed=compressed, raw_cards=raw_cards)
    return directory


def carrington(path: Path, x_pix, y_pix):
    """Carrington longitude and latitude (deg) of 0-based pixel positions, by sunpy."""
    world = sunpy.map.Map(path).pixel_to_world(np.asarray(x_pix) * u.pix, np.asarray(y_pix) * u.pix)
    return world.lon.to_value(u.deg), world.lat.to_value(u.deg)


def same_angle(a, b, atol=1e-8):
    np.testing.assert_allclose((np.asarray(a) - np.asarray(b) + 180.0) % 360.0 - 180.0, 0.0,
                               atol=atol)


# ---------------------------------------------------------------- header cases

def test_cards_astropy_refuses_are_kept_when_they_parse(tmp_path, run):
    directory = jsoc_record(tmp_path / "rec", raw_cards=JSOC_CARDS)
    with fits.open(directory / f"{PREFIX}.Br.fits") as hdul:  # the file reproduces the crash
        with pytest.raises(fits.verify.VerifyError, match="R_VALUE"):
            hdul[1].header["R_VALUE"]
    status, out, err = run("boundary", directory, "-o", tmp_path / "b.nc")
    assert status == 0, err
    attrs = xr.load_dataset(tmp_path / "b.nc").attrs
    for key in ("R_VALUE", "GWILL", "CRDER1", "CSYSER2"):
        assert isinstance(attrs[key], float) and math.isnan(attrs[key]), key
    assert attrs["USFLUX"] == 2.71476e22  # non-standard exponent, still a number
    assert "BADVAL" not in attrs  # neither FITS nor a number: skipped, nothing else lost
    assert (attrs["HARPNUM"], attrs["T_REC"], attrs["MEANGAM"]) == (377, T0, 34.2)


def test_scaled_integers_compressed_or_plain_give_the_same_map(tmp_path):
    maps = [boundary.from_sharp(jsoc_record(tmp_path / str(c), compressed=c), bin_factor=1)
            for c in (True, False)]
    compressed, plain = (tmp_path / str(c) / f"{PREFIX}.Br.fits" for c in (True, False))
    assert b"ZCMPTYPE= 'RICE_1  '" in compressed.read_bytes()
    for path, hdu in ((compressed, 1), (plain, 0)):
        with fits.open(path) as hdul:
            assert len(hdul) == hdu + 1 and hdul[hdu].header["BITPIX"] == 32
            assert hdul[hdu].header["BSCALE"] == 0.01
    br = np.array(sharp_field(41, 25, peak_g=2000.0)[0], dtype=np.float64)
    br[3:7, 5:11] = np.nan
    for ds in maps:  # the stored integers times BSCALE; BLANK pixels are NaN, not -2^31 / 100
        np.testing.assert_allclose(ds["Bz"].values, (np.round(br / 0.01) * 0.01).T, rtol=1e-12)
    np.testing.assert_array_equal(maps[0]["Bz"].values, maps[1]["Bz"].values)
    assert maps[0].attrs["nan_pixels"] == 4 * 6


def test_export_names_and_as_is_names_read_alike(tmp_path):
    exported = jsoc_record(tmp_path / "export")
    as_is = jsoc_record(tmp_path / "as_is", names="as-is")
    (as_is / "bitmap.fits").write_bytes(b"not read")  # other segments and files are ignored
    (as_is / "README.md").write_text("provenance")
    a, b = boundary.from_sharp(exported), boundary.from_sharp(as_is)
    assert a.attrs.pop("source_files").startswith(f"{PREFIX}.Br.fits")
    assert b.attrs.pop("source_files") == " ".join(f"{s}.fits" for s in SEGMENTS)
    assert a.identical(b)
    (as_is / f"{PREFIX}.Br.fits").write_bytes((exported / f"{PREFIX}.Br.fits").read_bytes())
    with pytest.raises(DataError, match=rf"holds 2 records \(\(as-is names\), {PREFIX}\); "
                                        "give one record's directory"):
        boundary.from_sharp(as_is)


def test_segment_with_a_header_but_no_image_is_one_line(tmp_path, run):
    record = sharp_record(377, T0, "11158", nx=16, ny=12, quality=0x400, without_image=("Bt",))
    write_record(record, tmp_path / "rec")
    status, _, err = run("boundary", tmp_path / "rec", "-o", tmp_path / "b.nc")
    assert status == 2
    lines = [line for line in err.splitlines() if line.startswith("ffnn ")]
    assert len(lines) == 1 and lines[0].startswith(
        f"ffnn boundary: error: HARP 377 T_REC {T0} has no data for segment Bt: ")
    assert lines[0].endswith("holds the record's header but no image (QUALITY 0x00000400)")
    assert not (tmp_path / "b.nc").exists()


def test_a_missing_error_segment_is_one_warning_and_training_says_so(tmp_path, caplog):
    """Without Br_err the map has no Bz_err: said at read time, naming the directory, and
    in training, where bc_errors 'component' then weights the components equally."""
    from ffnn.io.box import UnitBox
    from ffnn.field.sampling import boundary_arrays
    from ffnn.field.train import TrainConfig, boundary_weights

    directory = jsoc_record(tmp_path / "rec")
    (directory / f"{PREFIX}.Br_err.fits").unlink()
    with caplog.at_level(logging.WARNING):
        ds = boundary.from_sharp(directory)
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert lines == [f"SHARP directory {directory} has no error segment(s) Br_err: the boundary has "
                     "no Bz_err, and training's bc_errors 'component' counts the components equally"]
    assert "Bz_err" not in ds and "Bx_err" in ds
    points = boundary.map_to_points(ds)
    assert np.isnan(points["Bz_err"].values).all() and np.isfinite(points["Bx_err"].values).any()
    caplog.clear()
    box = UnitBox(*(points.attrs[k] for k in BOX_KEYS))
    bd = boundary_arrays(points, box)
    flat = (np.zeros(1), np.ones(1))
    with caplog.at_level(logging.WARNING, logger="ffnn.field.train"):
        w = boundary_weights(bd, flat, TrainConfig(bc_errors="component"))
    assert [r.getMessage() for r in caplog.records] == [
        "bc_errors 'component': the observed boundary data carry no errors of Bz; the components count equally"]
    np.testing.assert_array_equal(w, bd.mask)


def _rewrite(path: Path, data=None, **cards):
    """The segment file ``path`` rewritten with other ``data`` and/or header ``cards``."""
    with fits.open(path) as hdul:
        hdu = hdul[1]
        header = {k: v for k, v in hdu.header.items()
                  if not sharp._STRUCTURAL.match(k) and k != "BUNIT"}
        values = hdu.data if data is None else data(hdu.data)
    write_scaled(path, values, {**header, **cards})


def test_segments_of_different_records_are_refused(tmp_path, run):
    directory = jsoc_record(tmp_path / "rec", names="as-is")
    _rewrite(directory / "Bp.fits", HARPNUM=401)
    status, _, err = run("boundary", directory, "-o", tmp_path / "b.nc")
    assert status == 2 and not (tmp_path / "b.nc").exists()
    assert err.strip().splitlines() == [
        f"ffnn boundary: error: SHARP directory {directory}: segment Bp has HARPNUM 401, Br has 377: "
        "segments of different records"]
    _rewrite(directory / "Bp.fits", HARPNUM=377, T_REC="2011.02.14_21:00:00_TAI")
    with pytest.raises(DataError, match=rf"^SHARP directory {directory}: segment Bp has T_REC "
                                        rf"2011.02.14_21:00:00_TAI, Br has {T0}: segments of different records$"):
        boundary.from_sharp(directory)


def test_segments_of_other_shapes_name_the_directory(tmp_path, run):
    directory = jsoc_record(tmp_path / "rec", names="as-is")
    _rewrite(directory / "Bt.fits", data=lambda a: a[:-2, :-3])
    status, _, err = run("boundary", directory, "-o", tmp_path / "b.nc")
    assert status == 2 and not (tmp_path / "b.nc").exists()
    assert err.strip().splitlines() == [
        f"ffnn boundary: error: SHARP directory {directory}: segment Bt is (23, 38) pixels, Br is (25, 41)"]


@pytest.mark.parametrize("cut", ["header", "data"])
def test_a_truncated_segment_is_one_line_naming_the_file(tmp_path, run, cut):
    """astropy's text for a damaged file spans lines (a header cut short), or comes as two
    warnings before a reshape error (data cut short): one line here, naming the file."""
    directory = jsoc_record(tmp_path / "rec", compressed=False, nx=120, ny=90)
    path = directory / f"{PREFIX}.Br.fits"
    data = path.read_bytes()
    path.write_bytes(data[:2880 + 1000] if cut == "header" else data[:len(data) // 2])
    status, _, err = run("boundary", directory, "-o", tmp_path / "b.nc")
    assert status == 2 and not (tmp_path / "b.nc").exists()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        f"ffnn boundary: error: cannot read SHARP file {path}: truncated or damaged FITS ("), err
    assert ("Error validating header" if cut == "header" else "File may have been truncated") in lines[0]


def test_a_file_that_is_not_netcdf_is_one_line(tmp_path, run):
    fits_file = jsoc_record(tmp_path / "rec") / f"{PREFIX}.Br.fits"
    status, _, err = run("boundary", fits_file, "-o", tmp_path / "b.nc")
    assert status == 2 and err.strip().splitlines() == [f"ffnn boundary: error: cube {fits_file} is not a NetCDF file"]
    (tmp_path / "loss.csv").write_text("iteration,loss\n1,0.5\n")
    with pytest.raises(DataError, match=rf"^boundary file {tmp_path / 'loss.csv'} is not a NetCDF file$"):
        boundary.load_boundary([tmp_path / "loss.csv"])


def test_sharp_degree_units_read_without_astropy_warnings(tmp_path):
    import warnings

    attrs = boundary.from_sharp(jsoc_record(tmp_path / "rec")).attrs
    assert attrs["CUNIT1"] == "degree"
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        lon, lat = wcs.heliographic_grid(attrs, 4, 3)
    assert lon.shape == (4, 3) and np.isfinite(lat).all()
    assert not [w for w in said if "'degree' -> 'deg'" in str(w.message)]


def test_a_record_file_that_does_not_exist_is_an_error(tmp_path, run):
    directory = jsoc_record(tmp_path / "rec")
    missing = tmp_path / "does" / "not" / "exist.json"
    status, _, err = run("boundary", directory, "-o", tmp_path / "b.nc", "--record", missing)
    assert status == 2 and not (tmp_path / "b.nc").exists()
    assert err.strip().splitlines() == [f"ffnn boundary: error: record file {missing} does not exist"]


@pytest.mark.parametrize("bin_factor", [1, 3])
@pytest.mark.parametrize("mirror", [(True, False), (False, True), (True, True)])
def test_mirrored_storage_gives_the_identical_boundary(tmp_path, run, caplog, mirror, bin_factor):
    """Bp is westward and Bt southward whatever the storage: a file written mirrored, with
    negative CDELT and CRPIX to match, is the same observation and the same boundary.nc
    (41 × 25 pixels leave remainders at bin 3, so the flip must come before binning)."""
    plain = jsoc_record(tmp_path / "plain")
    mirrored = jsoc_record(tmp_path / "mirrored", mirror=mirror)
    with fits.open(mirrored / f"{PREFIX}.Br.fits") as hdul:
        assert (hdul[1].header["CDELT1"] < 0, hdul[1].header["CDELT2"] < 0) == mirror
    with caplog.at_level(logging.INFO, logger="ffnn.io.sharp"):
        for name, directory in (("plain", plain), ("mirrored", mirrored)):
            status, _, err = run("boundary", directory, "-o", tmp_path / f"{name}.nc",
                                 "--bin", bin_factor)
            assert status == 0, err
    assert "stored mirrored (negative CDELT)" in caplog.text
    a, b = (xr.load_dataset(tmp_path / f"{n}.nc") for n in ("plain", "mirrored"))
    assert a.identical(b)
    assert (tmp_path / "plain.nc").read_bytes() == (tmp_path / "mirrored.nc").read_bytes()
    # and the WCS kept in it places the mirrored file's pixels where sunpy does
    f, (nx, ny) = bin_factor, (b.sizes["x"], b.sizes["y"])
    lon, lat = wcs.heliographic_grid(b.attrs, nx, ny)
    i, j = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    x_pix, y_pix = f * i + (f - 1) / 2, f * j + (f - 1) / 2
    x_pix = 41 - 1 - x_pix if mirror[0] else x_pix
    y_pix = 25 - 1 - y_pix if mirror[1] else y_pix
    sun_lon, sun_lat = carrington(mirrored / f"{PREFIX}.Br.fits", x_pix, y_pix)
    same_angle(lon, sun_lon)
    np.testing.assert_allclose(lat, sun_lat, atol=1e-8)


@pytest.mark.parametrize("bin_factor", [1, 2, 3])
def test_boundary_keeps_the_wcs_of_the_map(tmp_path, bin_factor):
    """Pixel (i, j) of boundary.nc lies at the Carrington longitude and latitude that
    sunpy gives for the centre of the same f × f pixels of the FITS map."""
    directory = jsoc_record(tmp_path / "rec")
    ds = boundary.from_sharp(directory, bin_factor=bin_factor)
    nx, ny, f = ds.sizes["x"], ds.sizes["y"], bin_factor
    assert set(wcs.WCS_KEYS) <= set(ds.attrs)
    assert ds.attrs["CDELT1"] == pytest.approx(0.03 * f) and ds.attrs["CTYPE1"] == "CRLN-CEA"
    lon, lat = wcs.heliographic_grid(ds.attrs, nx, ny)
    i, j = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    sun_lon, sun_lat = carrington(directory / f"{PREFIX}.Br.fits", f * i + (f - 1) / 2,
                                  f * j + (f - 1) / 2)
    same_angle(lon, sun_lon)
    np.testing.assert_allclose(lat, sun_lat, atol=1e-8)
    assert np.ptp(lon) > 0.03 * (nx - 2) * f  # a real spread of positions, not one point


# ---------------------------------------------------------------- the shipped record

def test_potential_cube_of_a_sharp_region_keeps_its_wcs(tmp_path, run):
    directory = jsoc_record(tmp_path / "rec")
    assert run("boundary", directory, "-o", tmp_path / "b.nc")[0] == 0
    assert run("potential", tmp_path / "b.nc", "-o", tmp_path / "pf.nc", "--cube", tmp_path / "pfc.nc",
               "--nz", 4)[0] == 0
    bottom, cube = xr.load_dataset(tmp_path / "b.nc"), xr.load_dataset(tmp_path / "pfc.nc")
    assert wcs.has_wcs(cube.attrs)
    assert wcs.wcs_attrs(cube.attrs) == wcs.wcs_attrs(bottom.attrs)
    np.testing.assert_array_equal(cube["x"].values, bottom["x"].values)


def test_shipped_record_is_the_untouched_jsoc_export():
    listed = dict(line.split()[::-1] for line in (REAL.parent / "README.md").read_text().splitlines()
                  if re.fullmatch(r"[0-9a-f]{64}  \S+\.fits", line))
    files = {p.name: p for p in REAL.glob("*.fits")}
    assert sorted(listed) == sorted(files) and len(files) == 8
    for name, path in files.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == listed[name], name
    raw = (REAL / f"{RECORD}.Br.fits").read_bytes()
    assert b"R_VALUE = nan" in raw and b"ZCMPTYPE= 'RICE_1  '" in raw
    assert sorted(sharp.find_segments(REAL)) == sorted(SEGMENTS)


def test_boundary_command_on_the_shipped_record(tmp_path, run):
    status, out, err = run("boundary", REAL, "-o", tmp_path / "b.nc", "--bin", 1)
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == f"{tmp_path / 'b.nc'}: HARP 377 T_REC 2011.02.15_02:00:00_TAI (NOAA 11158)"
    assert lines[1].startswith("  map    744 x 377 pixels (bin 1)")
    assert lines[2] == "  pixel  0.3644 x 0.3644 Mm"
    # fluxes against sunpy's reading of the same file: Σ Br dA, dA = (0.03° R_sun)²
    br = sunpy.map.Map(REAL / f"{RECORD}.Br.fits").data.astype(np.float64)
    area = (0.03 * math.pi / 180 * 696.0e8) ** 2
    signed, unsigned = (float(v) for v in re.findall(r"([-+0-9.e]+) Mx", lines[4]))
    assert signed == pytest.approx(np.nansum(br) * area, rel=1e-3)
    assert unsigned == pytest.approx(np.nansum(np.abs(br)) * area, rel=1e-3)
    assert f"imbalance {100 * np.nansum(br) / np.nansum(np.abs(br)):+.2f} %" in lines[4]
    ds = xr.load_dataset(tmp_path / "b.nc")
    assert math.isnan(ds.attrs["R_VALUE"]) and ds.attrs["USFLUX"] == 2.71476e22
    np.testing.assert_array_equal(ds["Bz"].values, br.T)

    status, out, _ = run("boundary", REAL, "-o", tmp_path / "b2.nc")  # the workflow's bin 2
    assert status == 0 and "372 x 188 pixels (bin 2)" in out and "0.7288 x 0.7288 Mm" in out
    assert "box    270.4 x 136.3 x 100 Mm" in out


def test_boundary_source_names_what_it_is(tmp_path, run):
    """A missing source is neither a record directory nor a cube; ffnn:<record> names a
    record shipped in the package, as in the region sheet."""
    status, _, err = run("boundary", tmp_path / "nope", "-o", tmp_path / "b.nc")
    assert status == 2 and err.strip().splitlines() == [
        f"ffnn boundary: error: {tmp_path / 'nope'} does not exist (neither a SHARP record directory nor a cube)"]
    status, _, err = run("boundary", f"ffnn:{RECORD}", "--bin", 4, "-o", tmp_path / "b.nc")
    assert status == 0, err
    assert xr.load_dataset(tmp_path / "b.nc").attrs["bin_factor"] == 4
    status, _, err = run("boundary", "ffnn:no_such_record", "-o", tmp_path / "c.nc")
    assert status == 2 and err.strip().splitlines() == [
        f"ffnn boundary: error: no SHARP record ffnn:no_such_record in the package; it ships ffnn:{RECORD}"]
    status, _, err = run("boundary", tmp_path / "b.nc", "--bin", 4, "-o", tmp_path / "c.nc")
    assert status == 2 and err.strip().splitlines() == [
        f"ffnn boundary: error: --bin applies to a SHARP record's directory, not to the cube {tmp_path / 'b.nc'}"]


def test_shipped_record_pixels_lie_where_sunpy_puts_them():
    ds = boundary.from_sharp(REAL)  # bin 2
    nx, ny = ds.sizes["x"], ds.sizes["y"]
    lon, lat = wcs.heliographic_grid(ds.attrs, nx, ny)
    i, j = np.meshgrid(np.arange(0, nx, 7), np.arange(0, ny, 7), indexing="ij")
    sun_lon, sun_lat = carrington(REAL / f"{RECORD}.Br.fits", 2 * i + 0.5, 2 * j + 0.5)
    same_angle(lon[i, j], sun_lon)
    np.testing.assert_allclose(lat[i, j], sun_lat, atol=1e-8)
    # around the HARP's flux-weighted centre (LAT_FWT -20.2°, Carrington CRVAL2 -21.1°)
    assert lat.min() < ds.attrs["CRVAL2"] < lat.max() and -27 < lat.min() < lat.max() < -15


def test_a_sharp_dir_that_is_a_file_or_missing_says_which(tmp_path, run):
    """A regular file was reported as a directory that "does not exist"."""
    (tmp_path / "afile").write_text("x")
    with pytest.raises(DataError, match="^SHARP directory .*afile is not a directory"):
        sharp.find_segments(tmp_path / "afile")
    with pytest.raises(DataError, match="^SHARP directory .*nope does not exist$"):
        sharp.find_segments(tmp_path / "nope")
    for where, what in (("afile", "is not a directory"), ("nope", "does not exist")):
        status, _, err = run("resolve", "--noaa", "11158", "--time", "2011-02-15T02:00",
                             "--sharp-dir", tmp_path / where)
        assert status == 2 and err.strip().splitlines() == [
            f"ffnn resolve: error: SHARP directory {tmp_path / where} {what}"
            + (" (a file: give the directory holding the record's FITS files)" if where == "afile" else "")]
