"""Preprocessing of a vector map (Wiegelmann et al. 2006): net force and torque removed,
the map kept close to the data, the small scales smoothed, bad input refused."""

import numpy as np
import pytest
import xarray as xr

from ffnn.util.errors import DataError
from ffnn.field.preprocess import preprocess_arrays, preprocess_map


def aly(bx, by, bz):
    """Net force (3) and torque (3) of a map over its magnetic energy, Aly (1989): all vanish
    for the bottom of a force-free field. Independent of the module's normalisation."""
    nx, ny = bz.shape
    x, y = np.meshgrid(np.linspace(0, 1, nx), np.linspace(0, 1, ny), indexing="ij")
    h2, z2 = bx ** 2 + by ** 2, bz ** 2
    e = (h2 + z2).sum()
    force = [(bx * bz).sum(), (by * bz).sum(), (z2 - h2).sum()]
    torque = [(x * (z2 - h2)).sum(), (y * (z2 - h2)).sum(), (y * bx * bz - x * by * bz).sum()]
    return np.abs(force) / e, np.abs(torque) / e


def sheared_map(n=40, seed=0):
    """A bipole with a sheared, noisy horizontal field: net force and torque far from zero."""
    rng = np.random.default_rng(seed)
    x, y = np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n), indexing="ij")
    bz = 1000 * (np.exp(-((x - 0.3) ** 2 + y ** 2) / 0.05) - 0.7 * np.exp(-((x + 0.3) ** 2 + y ** 2) / 0.08))
    bx = 600 * np.exp(-(x ** 2 + y ** 2) / 0.1) + 30 * rng.standard_normal((n, n))
    by = 300 * np.exp(-(x ** 2 + (y - 0.2) ** 2) / 0.1) + 30 * rng.standard_normal((n, n))
    return bx, by, bz


def test_net_force_and_torque_removed_and_map_kept():
    bx, by, bz = sheared_map()
    f0, t0 = aly(bx, by, bz)
    px, py, pz, info = preprocess_arrays(bx, by, bz, mu=(1, 1, 1e-3, 0.0))
    f1, t1 = aly(px, py, pz)
    assert f0.max() > 0.05 and t0.max() > 0.02  # the input is far from force-free
    assert f1.max() < 1e-2 * f0.max() and t1.max() < 1e-2 * t0.max()
    b, p = np.stack([bx, by, bz]), np.stack([px, py, pz])
    c_vec = (b * p).sum() / np.sqrt((b * b).sum() * (p * p).sum())
    assert c_vec > 0.95
    assert info["L1 force after"] < 1e-4 * info["L1 force before"]
    assert info["L3 observation before"] == 0 < info["L3 observation after"]


def test_smoothing_removes_small_scales_and_grows_with_its_weight():
    bx, by, bz = sheared_map()
    noise = []
    for mu4 in (0.0, 1e-3, 1e-1):
        px, py, _, _ = preprocess_arrays(bx, by, bz, mu=(1, 1, 1e-3, mu4))
        lap = px[2:, 1:-1] + px[:-2, 1:-1] + px[1:-1, 2:] + px[1:-1, :-2] - 4 * px[1:-1, 1:-1]
        noise.append(np.abs(lap).mean())
    assert noise[0] > 2 * noise[1] > 4 * noise[2]


def test_unobserved_pixels_stay_nan_and_the_rest_is_finite():
    bx, by, bz = sheared_map()
    by[3:6, 10:14] = np.nan
    px, py, pz, _ = preprocess_arrays(bx, by, bz)
    for p in (px, py, pz):
        assert np.isnan(p[3:6, 10:14]).all()
        p[3:6, 10:14] = 0
        assert np.isfinite(p).all()


def test_map_round_trip_keeps_layout_units_and_records_the_weights():
    bx, by, bz = sheared_map(24)
    coords = {"x": np.arange(24.0), "y": np.arange(24.0) * 2}
    ds = xr.Dataset({c: (("y", "x"), v.T.astype(np.float32), {"units": "G"})
                     for c, v in zip(("Bx", "By", "Bz"), (bx, by, bz))}, coords=coords, attrs={"noaa": "1"})
    ds["Bz_err"] = ds["Bz"] * 0 + 5
    out = preprocess_map(ds, mu=(1, 1, 0.01, 0.001))
    assert out["Bx"].dims == ("y", "x") and out["Bx"].dtype == np.float32
    assert out["Bz"].attrs["units"] == "G" and out.attrs["noaa"] == "1"
    assert "mu1..mu4 = 1, 1, 0.01, 0.001" in out.attrs["preprocessing"]
    np.testing.assert_array_equal(out["Bz_err"], ds["Bz_err"])
    assert not np.allclose(out["Bx"], ds["Bx"])


@pytest.mark.parametrize("args, kwargs, message", [
    ((np.ones((5, 5)), np.ones((5, 5)), np.ones((5, 4))), {}, "same shape"),
    ((np.ones((2, 5)),) * 3, {}, "at least 3 x 3"),
    ((np.ones((5, 5)),) * 3, {"mu": (1, 1, -1, 0)}, "finite non-negative"),
    ((np.ones((5, 5)),) * 3, {"mu": (1, 1, float("nan"), 0)}, "finite non-negative"),
    ((np.full((5, 5), np.nan),) * 3, {}, "no pixel where all three components are finite"),
    ((np.zeros((5, 5)),) * 3, {}, "no field"),
])
def test_bad_input_is_refused(args, kwargs, message):
    with pytest.raises(DataError, match=message):
        preprocess_arrays(*args, **kwargs)


def test_command_writes_the_map_and_says_how_far_it_moved(tmp_path, caplog, capsys):
    import logging

    from ffnn import cli

    bx, by, bz = sheared_map(24)
    err = np.full(bz.shape, 10.0)
    ds = xr.Dataset({**{c: (("x", "y"), v, {"units": "G"}) for c, v in zip(("Bx", "By", "Bz"), (bx, by, bz))},
                     **{f"{c}_err": (("x", "y"), err) for c in ("Bx", "By", "Bz")}},
                    coords={"x": np.arange(24.0), "y": np.arange(24.0)}, attrs={"height_mm": 10.0})
    ds.to_netcdf(tmp_path / "boundary.nc")
    out = tmp_path / "preprocessed.nc"
    with caplog.at_level(logging.INFO, logger="ffnn"):
        assert cli.main(["preprocess", str(tmp_path / "boundary.nc"), "-o", str(out), "--mu4", "0.001"]) == 0
    written = xr.open_dataset(out)
    assert "mu1..mu4 = 1, 1, 0.001, 0.001" in written.attrs["preprocessing"]
    assert written.attrs["height_mm"] == 10.0
    f1, _ = aly(*(written[c].values for c in ("Bx", "By", "Bz")))
    assert f1.max() < 1e-2 * aly(bx, by, bz)[0].max()
    assert "preprocessed map against the observed: C_vec 0.9" in caplog.text
    capsys.readouterr()
    bad = [(["--mu3", "-1"], "--mu3 -1: must be a finite number >= 0"),
           (["--mu4", "nan"], "--mu4 nan: must be a finite number >= 0"),
           (["--iterations", "0"], "--iterations 0: must be >= 1")]
    for extra, line in bad:
        assert cli.main(["preprocess", str(tmp_path / "boundary.nc"), "-o", str(tmp_path / "x.nc"), *extra]) == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == f"ffnn preprocess: error: {line}"
    ds.Bx.to_dataset().expand_dims(z=[0.0]).to_netcdf(tmp_path / "cube.nc")
    for source, line in [(out, f"{out} is preprocessed already (Wiegelmann et al. 2006, mu1..mu4 = 1, 1, 0.001, "
                               "0.001): give the observed map"),
                         (tmp_path / "cube.nc", f"{tmp_path / 'cube.nc'} is not a bottom map (Bx, By, Bz on dims "
                                                "x, y): dims ('z', 'x', 'y'), variables ['Bx']")]:
        assert cli.main(["preprocess", str(source), "-o", str(tmp_path / "x.nc")]) == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == f"ffnn preprocess: error: {line}"
    assert cli.main(["preprocess", str(tmp_path / "boundary.nc"), "-o", str(tmp_path / "boundary.nc")]) == 2
    assert "is the input: the observed map would be lost" in capsys.readouterr().err
    assert not (tmp_path / "x.nc").exists()
