"""The Python API: the five-line notebook example on the shipped record, lazy imports,
the documented public names, and units at the boundary."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import xarray as xr

import ffnn
from ffnn.util.errors import ConfigError

RECORD = "ffnn:hmi.sharp_cea_720s.377.20110215_020000_TAI"
RECORD_DIR = Path(ffnn.__file__).parent / "data" / "sharp" / RECORD.removeprefix("ffnn:")
PACKAGES = ["ffnn", "ffnn.util", "ffnn.io", "ffnn.field", "ffnn.analysis", "ffnn.forecast", "ffnn.products",
            "ffnn.pipeline", "ffnn.cli"]
HEAVY = ("torch", "drms", "sunpy.net", "sklearn")
# Public names whose docstrings live in modules another change is rewriting (ffnn/field/train.py,
# ffnn/analysis/quality.py, ffnn/analysis/metrics.py): they fail the numpydoc check until then.
# strict: once documented, the test says so and the name must leave this set.
PENDING: set[str] = set()


# ---------------------------------------------------------------- the five-line example

@pytest.fixture(scope="module")
def example():
    """The README's example on the shipped record, at bin 8 with a small network and budget."""
    import torch

    torch.set_num_threads(1)
    bottom = ffnn.read_sharp(RECORD, bin=8)
    potential = ffnn.potential_field(bottom)
    config = ffnn.TrainConfig(max_iterations=12, warmup_iterations=6, hidden_layers=2, width=16, n_interior=500,
                              n_potential=1000, checkpoint_every=100, progress=False, device="cpu")
    model = ffnn.train(bottom, potential, config)
    cube = model.cube()
    checks = ffnn.trust_checks(cube, potential, bottom, model)
    return bottom, potential, model, cube, checks


def test_example_gives_datasets_with_units_and_wcs(example):
    bottom, potential, model, cube, checks = example
    for ds in (bottom, potential, cube):
        assert isinstance(ds, xr.Dataset)
        assert ds["Bz"].attrs["units"] == "gauss" and ds["x"].attrs["units"] == "Mm"
        assert ds.attrs["CTYPE1"] == "CRLN-CEA" and ds.attrs["CRPIX1"] == bottom.attrs["CRPIX1"]
    assert bottom.attrs["HARPNUM"] == 377 and bottom.attrs["T_REC"].startswith("2011.02.15_02:00:00")
    assert cube["Jz"].attrs["units"] == "gauss Mm-1"
    assert ffnn.as_quantity(cube["Bz"]).unit == u.G and ffnn.as_quantity(cube["Jz"]).unit == u.G / u.Mm
    # the cube lies on the map's grid and carries its WCS: the same pixel, the same place on the Sun
    np.testing.assert_array_equal(cube["x"].values, bottom["x"].values)
    np.testing.assert_allclose(cube["z"].values, potential["z"].values)
    sky_cube = ffnn.map_wcs(cube).pixel_to_world(10, 20)
    sky_map = ffnn.map_wcs(bottom).pixel_to_world(10, 20)
    assert sky_cube.separation(sky_map).to_value(u.arcsec) < 1e-6
    lon, lat = ffnn.io.heliographic_grid(bottom.attrs, bottom.sizes["x"], bottom.sizes["y"])
    np.testing.assert_allclose([sky_map.lon.to_value(u.deg), sky_map.lat.to_value(u.deg)], [lon[10, 20], lat[10, 20]])
    assert model.stop_reason == "max_iterations" and model.iterations == 12 and len(model.history) > 0


def test_example_holds_the_observed_bottom_and_checks_it(example):
    bottom, potential, model, cube, checks = example
    assert isinstance(checks, ffnn.TrustChecks)
    fit = checks["bottom_fit"]
    assert fit["held"]  # hold_bottom (default): the model's z = 0 layer is the observed map
    observed = bottom["Bz"].values
    finite = np.isfinite(observed)
    np.testing.assert_allclose(cube["Bz"].isel(z=0).values[finite], observed[finite], rtol=1e-5, atol=1e-2)
    assert fit["c_vec_bottom"] > 0.9999
    assert 0 <= checks["sigma_j"] <= 1 and checks["energy_pot_erg"] > 0
    # a dozen iterations make no force-free field: the checks say so
    assert not checks.passed and "sigma_j" in checks.flags and len(checks.flag_text) == len(checks.flags)
    assert set(checks.profiles.data_vars) >= {"div_free_factor", "force_free_factor"}


def test_any_grid_in_any_length_unit(example, tmp_path):
    bottom, potential, model, cube, checks = example
    x, y, z = cube["x"].values, cube["y"].values, cube["z"].values
    # a sub-grid given in cm and km evaluates to the same field at the same points
    part = ffnn.evaluate(model, x=x[5:9] * 1e8 * u.cm, y=y[3:6] * 1e3 * u.km, z=z[:4] * u.Mm)
    np.testing.assert_allclose(part["x"].values, x[5:9])
    np.testing.assert_allclose(part["Bx"].values, cube["Bx"].values[5:9, 3:6, :4], rtol=1e-5, atol=1e-3)
    # saved and read back: the same model
    again = ffnn.load_model(model.save(tmp_path / "model.pt"))
    np.testing.assert_array_equal(again.cube(x[:3], y[:3], z[:3])["Bz"].values, cube["Bz"].values[:3, :3, :3])
    with pytest.raises(ConfigError, match="^z = .* s: not convertible to Mm"):
        model.cube(z=[1, 2, 3] * u.s)


# ---------------------------------------------------------------- units at the boundary

def test_lengths_take_quantities_and_refuse_other_units():
    bottom = ffnn.read_sharp(RECORD, bin=16, height=1e10 * u.cm)
    assert bottom.attrs["height_mm"] == pytest.approx(100.0) and bottom.attrs["bin_factor"] == 16
    with pytest.raises(ConfigError) as err:
        ffnn.read_sharp(RECORD, bin=16, height=5 * u.s)
    assert str(err.value).count("\n") == 0 and str(err.value).startswith("height = 5.0 s: not convertible to Mm")
    with pytest.raises(ConfigError, match="bin factor must be a positive integer"):
        ffnn.read_sharp(RECORD, bin=2.5)
    with pytest.raises(ffnn.DataError, match="no SHARP record ffnn:nothing in the package; it ships ffnn:hmi"):
        ffnn.read_sharp("ffnn:nothing")


def test_sunpy_maps_give_the_bottom_map_of_the_files():
    import sunpy.map

    maps = {s: sunpy.map.Map(str(next(RECORD_DIR.glob(f"*.{s}.fits")))) for s in ("Bp", "Bt", "Br", "Br_err")}
    from_maps = ffnn.from_maps(maps["Bp"], maps["Bt"], maps["Br"], br_err=maps["Br_err"], bin=16, height=50 * u.Mm)
    from_files = ffnn.read_sharp(RECORD_DIR, bin=16, height=50)
    for name in ("Bx", "By", "Bz", "Bz_err"):
        np.testing.assert_array_equal(from_maps[name].values, from_files[name].values)
    for key in ("CRPIX1", "CRPIX2", "CDELT1", "CRVAL2", "height_mm", "l0_mm"):
        assert from_maps.attrs[key] == from_files.attrs[key]
    assert "Bx_err" not in from_maps  # errors only where given
    # read_sharp takes the maps too, by segment name
    by_name = ffnn.read_sharp(maps, bin=16, height=50 * u.Mm)
    np.testing.assert_array_equal(by_name["By"].values, from_files["By"].values)
    with pytest.raises(ConfigError, match="Bt missing"):
        ffnn.read_sharp({"Bp": maps["Bp"], "Br": maps["Br"]})


# ---------------------------------------------------------------- imports and public names

@pytest.mark.parametrize("package", PACKAGES)
def test_import_is_light(package):
    """Importing a package, and listing its names, imports none of the heavy libraries."""
    code = (f"import sys, {package} as p; dir(p); "
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "", f"import {package} imported {run.stdout.strip()}"


def _exports():
    for package in PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            mark = [pytest.mark.xfail(strict=True, reason="docstring pending")] if name in PENDING else []
            yield pytest.param(package, name, marks=mark, id=f"{package}.{name}")


def _documented_params(doc) -> set[str]:
    names = set()
    for p in doc["Parameters"] + doc["Other Parameters"]:
        names |= {n.strip().lstrip("*") for n in p.name.split(",")}
    return names


@pytest.mark.parametrize("package,name", list(_exports()))
def test_public_name_has_numpydoc(package, name):
    """Every public name exists and has a numpydoc docstring: a summary, every parameter
    under Parameters, and Returns when it returns something."""
    from numpydoc.docscrape import ClassDoc, FunctionDoc

    obj = getattr(importlib.import_module(package), name)
    assert name in dir(importlib.import_module(package))
    if inspect.isclass(obj) and issubclass(obj, Exception):
        assert inspect.getdoc(obj), f"{package}.{name} has no docstring"
        return
    doc = ClassDoc(obj) if inspect.isclass(obj) else FunctionDoc(obj)
    assert " ".join(doc["Summary"]).strip(), f"{package}.{name}: no summary line"
    target = obj.__init__ if inspect.isclass(obj) else obj
    params = [p for p in inspect.signature(target).parameters.values() if p.name not in ("self", "cls")]
    missing = {p.name for p in params} - _documented_params(doc)
    assert not missing, f"{package}.{name}: parameters {sorted(missing)} not under Parameters"
    if not inspect.isclass(obj):
        returns = inspect.signature(obj).return_annotation
        if returns not in ("None", None):
            assert doc["Returns"] or doc["Yields"], f"{package}.{name}: no Returns section"


def test_api_and_command_line_make_the_same_products(example, tmp_path):
    """A model trained from Python into a directory is what ``ffnn cube`` and ``ffnn
    quality`` read: the same cube, the same checks; a second call finds the training done."""
    from ffnn.cli import main
    from ffnn.field.boundary import write_map
    from ffnn.util.files import read_json, write_netcdf

    bottom, potential, _, _, _ = example
    out = tmp_path / "train"
    settings = dict(max_iterations=4, warmup_iterations=2, hidden_layers=2, width=8, n_interior=200,
                    n_potential=500, progress=False, device="cpu")
    model = ffnn.train(bottom, potential, out_dir=out, **settings)
    assert {"model.pt", "train.json", "loss.csv", "checkpoint.pt"} <= {p.name for p in out.iterdir()}
    stamp = (out / "model.pt").stat().st_mtime_ns
    again = ffnn.train(bottom, potential, out_dir=out, **settings)  # finished: loaded, not retrained
    assert (out / "model.pt").stat().st_mtime_ns == stamp and again.iterations == model.iterations == 4

    assert main(["cube", str(out / "model.pt"), "-o", str(tmp_path / "cube.nc")]) == 0
    cube = model.cube()
    from_cli = ffnn.read_cube(tmp_path / "cube.nc")
    np.testing.assert_allclose(from_cli["Bz"].values, cube["Bz"].values, rtol=1e-6, atol=1e-4)

    write_map(bottom, tmp_path / "boundary.nc")
    write_netcdf(potential, tmp_path / "potential.nc")
    assert main(["quality", str(tmp_path / "cube.nc"), "--potential", str(tmp_path / "potential.nc"),
                 "--boundary", str(tmp_path / "boundary.nc"), "--train", str(out / "train.json"),
                 "-o", str(tmp_path / "quality.json")]) == 0
    quality = read_json(tmp_path / "quality.json")
    checks = ffnn.trust_checks(from_cli, potential, bottom, again)
    assert quality["flags"] == checks.flags
    for name in ("sigma_j", "mean_abs_fi", "e_over_epot"):
        assert quality[name] == pytest.approx(checks[name], rel=1e-6)
