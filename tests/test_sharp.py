"""SHARP FITS → bottom map, and the whole chain resolve → download → boundary → potential."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from astropy.io import fits

from conftest import write_record
from ffnn.field import boundary as bnd
from ffnn.io.box import FACES, box_of_map
from ffnn.io import sharp
from ffnn.util.errors import ConfigError, DataError
from jsoc_server import sharp_record

REPO = Path(__file__).resolve().parents[1]
PIXEL_MM = 0.03 * math.pi / 180 * 696.0  # 0.36442 Mm per unbinned CEA pixel


def served(directory, seg):
    path = next(Path(directory).glob(f"*.{seg}.fits"))
    with fits.open(path) as hdul:
        return np.asarray(hdul[1].data, dtype=np.float64)


def ref_bin(a, f):
    """Independent NaN-mean of f×f blocks (loops, no reshaping tricks)."""
    ny, nx = a.shape[0] // f, a.shape[1] // f
    out = np.full((ny, nx), np.nan)
    for j in range(ny):
        for i in range(nx):
            block = a[j * f:(j + 1) * f, i * f:(i + 1) * f]
            if np.isfinite(block).any():
                out[j, i] = np.nanmean(block)
    return out


# ---------------------------------------------------------------- geometry and headers

def test_cea_pixel_is_0_3644_mm():
    hdr = {"CDELT1": 0.03, "CDELT2": 0.03, "CUNIT1": "degree", "CUNIT2": "degree",
           "RSUN_REF": 696000000.0}
    dx, dy, r = sharp.pixel_size_mm(hdr)
    assert dx == dy == pytest.approx(0.3644, abs=5e-5) and r == 696.0
    del hdr["RSUN_REF"]  # absent: 696 Mm
    assert sharp.pixel_size_mm(hdr)[0] == pytest.approx(PIXEL_MM, rel=1e-12)
    hdr["RSUN_REF"] = 6.955e8  # present: used
    assert sharp.pixel_size_mm(hdr)[0] == pytest.approx(0.03 * math.pi / 180 * 695.5)
    with pytest.raises(DataError, match="CUNIT1"):
        sharp.pixel_size_mm({**hdr, "CUNIT1": "arcsec"})


def test_synthetic_files_carry_a_cea_wcs_and_sharp_keywords(sharp_dir):
    from astropy.wcs import WCS

    with fits.open(next(sharp_dir.glob("*.Br.fits"))) as hdul:
        hdr = hdul[1].header
        data = hdul[1].data
    assert isinstance(hdul[1], fits.CompImageHDU) and data.shape == (64, 96)
    assert hdr["INSTRUME"].startswith("HMI") and hdr["TELESCOP"] == "SDO/HMI"
    for key in ("DATE-OBS", "RSUN_REF", "CRLN_OBS", "CRLT_OBS", "DSUN_OBS", "BUNIT"):
        assert key in hdr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wcs = WCS(hdr)
    assert wcs.wcs.ctype[0] == "CRLN-CEA" and wcs.wcs.ctype[1] == "CRLT-CEA"
    lon, lat = wcs.wcs_pix2world([[47.5, 31.5]], 0)[0]  # map centre → CRVAL
    assert lon == pytest.approx(hdr["CRVAL1"]) and lat == pytest.approx(hdr["CRVAL2"])
    assert np.isnan(data[5:13, 9:21]).all() and np.isfinite(data[:5]).all()
    assert np.nanmax(np.abs(data)) == pytest.approx(1500.0, rel=1e-6)


# ---------------------------------------------------------------- the bottom map

def test_unbinned_components_are_the_served_segments_exactly(sharp_dir):
    ds = bnd.from_sharp(sharp_dir, bin_factor=1, height_mm=50.0)
    assert ds["Bx"].dims == ("x", "y") and ds.sizes == {"x": 96, "y": 64}
    np.testing.assert_array_equal(ds["Bz"].values, served(sharp_dir, "Br").T)
    np.testing.assert_array_equal(ds["Bx"].values, served(sharp_dir, "Bp").T)
    np.testing.assert_array_equal(ds["By"].values, -served(sharp_dir, "Bt").T)
    np.testing.assert_array_equal(ds["Bz_err"].values, served(sharp_dir, "Br_err").T)
    np.testing.assert_array_equal(ds["Bx_err"].values, served(sharp_dir, "Bp_err").T)
    np.testing.assert_array_equal(ds["By_err"].values, served(sharp_dir, "Bt_err").T)
    assert (ds["By_err"].values[np.isfinite(ds["By_err"].values)] > 0).all()  # not flipped
    nan = ~np.isfinite(ds["Bz"].values)
    assert nan.sum() == 8 * 12 and nan[9:21, 5:13].all()  # the patch, transposed; no fill
    x, y = ds["x"].values, ds["y"].values
    np.testing.assert_allclose(np.diff(x), PIXEL_MM, rtol=1e-12)
    np.testing.assert_allclose(np.diff(y), PIXEL_MM, rtol=1e-12)
    assert x.mean() == pytest.approx(0, abs=1e-12) and y.mean() == pytest.approx(0, abs=1e-12)
    assert ds["x"].attrs["units"] == "Mm" and ds["Bz"].attrs["units"] == "gauss"


def test_binning_is_a_nan_mean_and_keeps_the_mask(sharp_dir):
    ds = bnd.from_sharp(sharp_dir)  # default 2×2
    assert ds.attrs["bin_factor"] == 2 and ds.sizes == {"x": 48, "y": 32}
    br, bp, bt = (served(sharp_dir, s) for s in ("Br", "Bp", "Bt"))
    np.testing.assert_allclose(ds["Bz"].values, ref_bin(br, 2).T, rtol=1e-13, atol=0)
    np.testing.assert_allclose(ds["Bx"].values, ref_bin(bp, 2).T, rtol=1e-13, atol=0)
    np.testing.assert_array_equal(ds["By"].values, -sharp.bin_mean(bt, 2).T)
    np.testing.assert_array_equal(ds["Bz"].values, sharp.bin_mean(br, 2).T)
    # patch rows 5..12, cols 9..20: blocks with only NaN stay NaN, partial ones are finite
    bz = ds["Bz"].values
    assert np.isnan(bz[5:10, 3:6]).all()
    assert np.isfinite(bz[4, 2:7]).all() and np.isfinite(bz[10, 2:7]).all()
    assert np.isfinite(bz[5:10, 2]).all() and np.isfinite(bz[5:10, 6]).all()
    np.testing.assert_allclose(np.diff(ds["x"].values), 2 * PIXEL_MM, rtol=1e-12)


def test_error_maps_combine_as_independent():
    err = np.full((4, 4), 3.0)
    err[0, 0] = np.nan
    b = sharp.bin_error(err, 2)
    assert b[0, 0] == pytest.approx(math.sqrt(3 * 9.0) / 3) and b[1, 1] == pytest.approx(1.5)
    assert np.isnan(sharp.bin_error(np.full((2, 2), np.nan), 2)).all()


def test_odd_sizes_drop_the_last_row_and_column():
    a = np.arange(35, dtype=float).reshape(5, 7)
    assert sharp.bin_mean(a, 2).shape == (2, 3)
    assert sharp.bin_mean(a, 2)[0, 0] == (0 + 1 + 7 + 8) / 4


def test_attributes_box_and_netcdf_round_trip(sharp_dir, tmp_path):
    ds = bnd.from_sharp(sharp_dir, height_mm=40.0)
    path = bnd.write_map(ds, tmp_path / "boundary.nc")
    back = xr.load_dataset(path)
    for key, value in (("HARPNUM", 377), ("T_REC", "2011.02.14_20:00:00_TAI"),
                       ("NOAA_ARS", "11158,11159"), ("QUALITY", 0), ("USFLUX", 2.1e22),
                       ("TOTUSJH", 2140.5), ("MEANGAM", 34.2), ("R_VALUE", 4.95),
                       ("LAT_FWT", -20.1), ("height_mm", 40.0)):
        assert back.attrs[key] == (pytest.approx(value) if isinstance(value, float) else value), key
    assert "DATE_OBS" in back.attrs and "NAXIS1" not in back.attrs
    box = box_of_map(back)
    assert back.attrs["l0_mm"] == max(box["x_max"], box["y_max"], box["z_max"])
    assert box["x_max"] == pytest.approx(47 / 2 * 2 * PIXEL_MM) and box["z_max"] == 40.0
    np.testing.assert_array_equal(back["Bz"].values, ds["Bz"].values)  # NaN survives
    assert back["Bz_err"].attrs["units"] == "gauss"
    pts = bnd.load_boundary([path])  # the training side reads it
    assert pts.sizes["point"] == 48 * 32 and (pts["face"] == FACES["bottom"]).all()


def test_boundary_command_and_config(sharp_dir, tmp_path, run):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("sharp:\n  bin: 4\n  height_mm: 30\n")
    status, out, _ = run("boundary", sharp_dir, "-o", tmp_path / "b.nc", "--config", cfg)
    assert status == 0 and "24 x 16 pixels (bin 4)" in out
    ds = xr.load_dataset(tmp_path / "b.nc")
    assert ds.attrs["bin_factor"] == 4 and ds.attrs["height_mm"] == 30.0
    status, _, _ = run("boundary", sharp_dir, "-o", tmp_path / "c.nc", "--config", cfg,
                       "--bin", 1, "--height-mm", 12.5)
    ds = xr.load_dataset(tmp_path / "c.nc")
    assert ds.attrs["bin_factor"] == 1 and ds.attrs["height_mm"] == 12.5
    assert ds.attrs["l0_mm"] == pytest.approx(95 / 2 * PIXEL_MM)  # wider than high


def test_boundary_failures_are_clear(sharp_dir, tmp_path, run):
    (next(sharp_dir.glob("*.Bp.fits"))).unlink()
    status, _, err = run("boundary", sharp_dir, "-o", tmp_path / "b.nc")
    assert status == 2 and "no SHARP segment file(s) for ['Bp']" in err

    other = tmp_path / "two"
    write_record(sharp_record(377, "2011.02.14_20:00:00_TAI", "11158"), other)
    write_record(sharp_record(377, "2011.02.14_20:12:00_TAI", "11158"), other)
    status, _, err = run("boundary", other, "-o", tmp_path / "b.nc")
    assert status == 2 and "holds 2 records (hmi.sharp_cea_720s.377.20110214_200000_TAI," in err

    cut = tmp_path / "cut"
    paths = write_record(sharp_record(377, "2011.02.14_20:00:00_TAI", "11158"), cut)
    paths["Br"].write_bytes(paths["Br"].read_bytes()[:2880 * 2])
    with pytest.raises(DataError, match="cannot read SHARP file"):
        bnd.from_sharp(cut)
    good = tmp_path / "good"
    write_record(sharp_record(377, "2011.02.14_20:00:00_TAI", "11158"), good)
    with pytest.raises(ConfigError, match="height"):
        bnd.from_sharp(good, height_mm=-1.0)
    with pytest.raises(ConfigError, match="bin factor"):
        bnd.from_sharp(good, bin_factor=0)


# ---------------------------------------------------------------- potential faces

def test_potential_faces_lie_on_the_potential_cube(sharp_dir):
    from ffnn.field.potential import potential_cube, potential_faces

    bottom = bnd.from_sharp(sharp_dir, height_mm=12.0)
    for method in ("fft", "green"):
        faces = potential_faces(bottom, method=method)
        cube = potential_cube(bottom, method=method)
        x, y, z = (cube[c].values for c in ("x", "y", "z"))
        ix = np.searchsorted(x, faces["x"].values)
        iy = np.searchsorted(y, faces["y"].values)
        iz = np.searchsorted(z, faces["z"].values)
        np.testing.assert_array_equal(x[ix], faces["x"].values)
        np.testing.assert_array_equal(z[iz], faces["z"].values)
        on_side = (ix == 0) | (ix == x.size - 1) | (iy == 0) | (iy == y.size - 1)
        assert (on_side | (iz == z.size - 1)).all() and (iz > 0).all()
        # the fft faces are synthesised in single precision (~1e-8 of the peak field)
        for c in ("Bx", "By", "Bz"):
            np.testing.assert_allclose(faces[c].values, cube[c].values[ix, iy, iz],
                                       rtol=1e-6, atol=1e-6 * float(np.nanmax(abs(bottom.Bz))))
        n_expected = x.size * y.size + (2 * x.size + 2 * y.size - 4) * (z.size - 2)
        assert faces.sizes["point"] == n_expected
        assert np.isfinite(faces["Bz"].values).all()  # the NaN patch does not leak


def dipole(x, y, z, depth, m=1e5):
    """Vertical point dipole m (G Mm^3) at (0, 0, -depth): B = (3(m·r̂)r̂ − m)/r³."""
    zz = z + depth
    r = np.sqrt(x * x + y * y + zz * zz)
    return 3 * m * zz * x / r**5, 3 * m * zz * y / r**5, (3 * m * zz * zz / r**2 - m) / r**3


@pytest.mark.parametrize("method", ["fft", "green"])
def test_buried_dipole_faces_match_the_closed_form(method):
    from ffnn.field.potential import potential_faces

    n, d = 128, 4.0
    x = (np.arange(n) - (n - 1) / 2) * 1.0
    X, Y = np.meshgrid(x, x, indexing="ij")
    bx, by, bz = dipole(X, Y, 0 * X, d)
    bottom = xr.Dataset({"Bx": (("x", "y"), bx), "By": (("x", "y"), by),
                         "Bz": (("x", "y"), bz)}, coords={"x": x, "y": x},
                        attrs={"height_mm": 16.0, "l0_mm": 63.5})
    faces = potential_faces(bottom, method=method)
    exact = np.stack(dipole(faces["x"].values, faces["y"].values, faces["z"].values, d))
    got = np.stack([faces[c].values for c in ("Bx", "By", "Bz")])
    err = np.linalg.norm(got - exact, axis=0)
    scale = np.linalg.norm(exact, axis=0).max()
    # the flux returning outside the 128-pixel map is missing: that, not the solver,
    # limits the agreement at the foot of the side faces
    assert err.max() < 0.02 * scale
    top = faces["face"].values == FACES["top"]
    assert err[top].max() < 0.01 * np.linalg.norm(exact[:, top], axis=0).max()


# ---------------------------------------------------------------- end to end

def test_resolve_fetch_boundary_potential(jsoc_server, run, tmp_path, fast_jsoc_args):
    """NOAA 11159 shares HARP 377 with 11158: the real drms client against the fake JSOC."""
    from ffnn.field.potential import potential_faces

    rec_json = tmp_path / "rec.json"
    status, out, _ = run("resolve", "--noaa", 11159, "--time", "2011-02-14T20:00",
                         "-o", rec_json, *fast_jsoc_args[:2])
    assert status == 0 and "HARP 377" in out
    out_dir = tmp_path / "sharp"
    status, _, _ = run("fetch-sharp", "--noaa", 11159, "--time", "2011-02-14T20:00",
                       "--outdir", out_dir, *fast_jsoc_args)
    assert status == 0
    status, _, _ = run("boundary", out_dir, "-o", tmp_path / "boundary.nc", "--height-mm", 20)
    assert status == 0
    ds = xr.load_dataset(tmp_path / "boundary.nc")
    record = next(r for r in jsoc_server.records
                  if r.harpnum == 377 and r.t_rec == "2011.02.14_20:00:00_TAI")
    with fits.open(__import__("io").BytesIO(record.file("Br"))) as hdul:
        br = np.asarray(hdul[1].data, dtype=np.float64)
    np.testing.assert_array_equal(ds["Bz"].values, sharp.bin_mean(br, 2).T)
    np.testing.assert_allclose(ds["Bz"].values, ref_bin(br, 2).T, rtol=1e-13)
    np.testing.assert_array_equal(ds["Bx"].values, sharp.bin_mean(served(out_dir, "Bp"), 2).T)
    np.testing.assert_array_equal(ds["By"].values, -sharp.bin_mean(served(out_dir, "Bt"), 2).T)
    np.testing.assert_allclose(np.diff(ds["x"].values), 2 * 0.3644, rtol=2e-4)
    assert ds.attrs["NOAA"] == 11159 and ds.attrs["HARPNUM"] == 377
    assert ds.attrs["NOAA_ARS"] == "11158,11159" and ds.attrs["QUALITY"] == 0

    pf = potential_faces(ds)
    assert set(np.unique(pf["face"].values)) == {FACES[f] for f in
                                                 ("top", "x_min", "x_max", "y_min", "y_max")}
    assert np.isfinite(np.stack([pf[c].values for c in ("Bx", "By", "Bz")])).all()
    merged = bnd.load_boundary([tmp_path / "boundary.nc"])
    assert bnd.merge_points([merged, pf]).sizes["point"] == merged.sizes["point"] + pf.sizes["point"]


def test_memory_benchmark_runs_small():
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "sharp_memory.py"),
                           "--nx", "200", "--ny", "120", "--height-mm", "20"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "peak RSS" in proc.stdout and "wall" in proc.stdout
