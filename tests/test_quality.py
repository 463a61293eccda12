"""Trust checks (ffnn.analysis.quality): bottom fit against the observed map, flags, and their way
into quality.json, the log, the summary table and the report's checks table."""

import json

import numpy as np
import pytest
import xarray as xr

from ffnn.cli import app as cli  # COMMAND_MODULES lives in ffnn.cli.app since the move
from ffnn.analysis import quality
from ffnn.products import summary
from ffnn.field.cube import make_cube, model_cube


def observed_map(seed=0, n=24):
    rng = np.random.default_rng(seed)
    x = y = np.arange(n) * 0.5
    f = {c: rng.normal(0, 300, (n, n)) for c in ("Bx", "By", "Bz")}
    f["Bz"][:3, :3] = np.nan  # not observed
    errs = {f"{c}_err": np.full((n, n), 10.0) for c in ("Bx", "By", "Bz")}
    return xr.Dataset({k: (("x", "y"), v) for k, v in {**f, **errs}.items()}, coords={"x": x, "y": y})


def as_model(obs, factor=1.0, offset=0.0):
    return xr.Dataset({c: (("x", "y"), np.nan_to_num(obs[c].values) * factor + offset)
                       for c in ("Bx", "By", "Bz")}, coords=obs.coords)


def test_bottom_fit_of_the_data_itself_and_of_a_weaker_copy():
    obs = observed_map()
    same = quality.bottom_fit(obs, as_model(obs))
    assert same["c_vec_bottom"] == pytest.approx(1.0) and same["flux_error"] == pytest.approx(0.0)
    assert same["rms_residual_Bz"] == 0 and same["median_error_Bx"] == 10.0
    weak = quality.bottom_fit(obs, as_model(obs, 0.9))
    assert weak["flux_error"] == pytest.approx(-0.1)       # 10 % of the flux missing
    assert weak["c_vec_bottom"] == pytest.approx(1.0)      # C_vec is blind to a scale
    # only pixels above 3 sigma count for the flux: a weak pixel changed does not matter
    obs2 = obs.copy(deep=True)
    obs2["Bz"].values[5, 5] = 25.0  # below 3 x 10 G
    model = as_model(obs2)
    model["Bz"].values[5, 5] = 0.0
    assert quality.bottom_fit(obs2, model)["flux_error"] == pytest.approx(0.0)


def test_flags_follow_their_limits():
    # a converged classical solution of NOAA 11158 at bin 4 (pyAMaFiL, measured) passes
    good = {"c_vec_bottom": 0.99, "flux_error": -0.02, "e_over_epot": 1.11, "sigma_j": 0.374,
            "sigma_j_over_potential": 0.47, "mean_abs_fi": 3.0e-3, "mean_abs_div_over_b": 0.0125,
            "e_div_ratio": 0.121}
    assert quality.check(good, 100, 500) == []
    bad = {**good, "c_vec_bottom": 0.9, "flux_error": -0.2, "e_over_epot": 0.8, "sigma_j": 0.5}
    assert quality.check(bad) == ["bottom_c_vec", "bottom_flux", "negative_free_energy", "sigma_j"]
    worse = {**bad, "sigma_j_over_potential": 0.95, "mean_abs_div_over_b": 0.03, "e_div_ratio": 0.2}
    assert quality.check(worse)[4:] == ["no_better_than_potential", "divergence", "nonsolenoidal_energy"]
    # each meaning names what the figure is compared with
    assert "converged classical solutions" in quality.describe("sigma_j", bad)
    assert "potential field's on the same grid" in quality.describe("no_better_than_potential", worse)
    assert "6 <|f_i|>/dx, <|f_i|> = 0.003" in quality.describe("divergence", worse)
    assert "Valori et al. 2013" in quality.describe("nonsolenoidal_energy", worse)
    assert quality.check(good, warmup_iterations=100, iterations=100) == [quality.WARMUP_FLAG]
    # a figure not computed (a six-face benchmark has no observed bottom) raises nothing
    assert quality.check({"sigma_j": float("nan")}) == []
    assert "0.8, below 1" in quality.describe("negative_free_energy", bad)


def test_quality_command_flags_a_poor_model(tmp_path, caplog, monkeypatch, capsys):
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("ffnn.cli.model",))
    obs = observed_map()
    obs.attrs["height_mm"] = 4.0
    obs.to_netcdf(tmp_path / "boundary.nc")
    x, y, z = obs.x.values, obs.y.values, np.arange(9) * 0.5
    shape = (x.size, y.size, z.size)
    decay = np.exp(-z / 2.0)[None, None, :]
    fields = {c: 0.5 * np.nan_to_num(obs[c].values)[:, :, None] * decay for c in ("Bx", "By", "Bz")}
    make_cube(fields, x, y, z).to_netcdf(tmp_path / "cube.nc")
    make_cube({c: np.broadcast_to(f, shape) * 2 for c, f in fields.items()}, x, y, z).to_netcdf(tmp_path / "pot.nc")
    (tmp_path / "train.json").write_text(json.dumps({"config": {"warmup_iterations": 100}, "iterations": 80}))
    status = cli.main(["quality", str(tmp_path / "cube.nc"), "--potential", str(tmp_path / "pot.nc"),
                       "--boundary", str(tmp_path / "boundary.nc"), "--train", str(tmp_path / "train.json"),
                       "--region", "ar1", "-o", str(tmp_path / "q.json")])
    assert status == 0
    q = json.loads((tmp_path / "q.json").read_text())
    assert {"bottom_flux", "negative_free_energy", quality.WARMUP_FLAG} <= set(q["flags"])
    assert q["bottom_fit"]["flux_error"] == pytest.approx(-0.5)
    assert "ar1: check failed: bottom fit: model/observed unsigned flux - 1" in caplog.text
    row = summary.region_row("ar1", train={}, quality=q)
    assert set(row["flags"].split(",")) == set(q["flags"])
    table = summary.checks_table([row])
    failed = table[table.status == "FAILED"]
    assert set(failed.check) == set(q["flags"]) and failed.meaning.str.len().min() > 20
    # without the observed map and the training record, the checks that need neither still run
    assert cli.main(["quality", str(tmp_path / "cube.nc"), "--potential", str(tmp_path / "pot.nc"),
                     "-o", str(tmp_path / "q2.json")]) == 0
    q2 = json.loads((tmp_path / "q2.json").read_text())
    assert "negative_free_energy" in q2["flags"] and "bottom_fit" not in q2
    assert not {"bottom_flux", quality.WARMUP_FLAG} & set(q2["flags"])
    # another model's training record is refused (it would set the warm-up and held-bottom checks)
    box = {"x_min": -134.8, "x_max": 134.8, "y_min": -67.8, "y_max": 67.8, "z_min": 0.0, "z_max": 100.0}
    (tmp_path / "other.json").write_text(json.dumps({"config": {}, "iterations": 80, "box": box}))
    assert cli.main(["quality", str(tmp_path / "cube.nc"), "--train", str(tmp_path / "other.json"),
                     "-o", str(tmp_path / "q3.json")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"ffnn quality: error: --train {tmp_path / 'other.json'} is another model's: its box's x spans "
        f"[-134.8, 134.8], the cube's [{x.min():g}, {x.max():g}]")
    assert cli.main(["quality", str(tmp_path / "cube.nc"), "--train", str(tmp_path / "q2.json"),
                     "-o", str(tmp_path / "q3.json")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"ffnn quality: error: --train {tmp_path / 'q2.json'} is not a training record (train.json of ffnn "
        "train: config, iterations)")


def test_a_held_bottom_reads_held_in_the_checks_table():
    obs = observed_map()
    x, y, z = obs.x.values, obs.y.values, np.arange(4) * 0.5
    cube = make_cube({c: np.repeat(np.nan_to_num(obs[c].values)[:, :, None], 4, 2) for c in ("Bx", "By", "Bz")},
                     x, y, z)
    rows = []
    for held in (0, 1):
        checks = quality.trust_checks(cube, {"sigma_j": 0.1}, obs, {"config": {"hold_bottom": held}})
        assert checks["bottom_fit"]["held"] is bool(held) and checks["flags"] == []
        train = {"iterations": 300, "config": {"warmup_iterations": 100}} if held else {}
        rows.append(summary.region_row(f"ar{held}", train=train, quality={"sigma_j": 0.1, **checks}))
    table = summary.checks_table(rows).set_index(["region", "check"])
    # the warm-up check has its line whether or not it failed
    assert tuple(table.loc[("ar1", quality.WARMUP_FLAG), ["value", "limit", "status"]]) == (300, 100, "passed")
    assert table.loc[("ar0", quality.WARMUP_FLAG), "status"] == "not computed"
    assert table.loc[("ar0", "bottom_c_vec"), "status"] == "passed"
    assert table.loc[("ar1", "bottom_c_vec"), "status"] == "held (exact by construction)"
    assert table.loc[("ar1", "bottom_flux"), "status"] == "held (exact by construction)"
    assert table.loc[("ar1", "sigma_j"), "status"] == "passed"


def test_a_spline_grid_bottom_is_checked_not_read_as_held():
    """hold_bottom is the tanh network's setting; the shipped train block sets it for
    every region, but a spline_grid field fits its bottom (C_vec 0.996 on NOAA 11158), so
    its bottom checks must not read "held (exact by construction)"."""
    obs = observed_map()
    x, y, z = obs.x.values, obs.y.values, np.arange(4) * 0.5
    cube = make_cube({c: np.repeat(np.nan_to_num(obs[c].values)[:, :, None], 4, 2) for c in ("Bx", "By", "Bz")},
                     x, y, z)
    config = {"hold_bottom": 1, "representation": "spline_grid"}
    checks = quality.trust_checks(cube, {"sigma_j": 0.1}, obs, {"config": config})
    assert checks["bottom_fit"]["held"] is False
    row = summary.region_row("ar", train={"config": config}, quality={"sigma_j": 0.1, **checks})
    table = summary.checks_table([row]).set_index(["region", "check"])
    assert table.loc[("ar", "bottom_c_vec"), "status"] == "passed"


def test_a_held_preprocessed_map_is_checked_against_the_observed_one(tmp_path, capsys):
    """The training held a preprocessed map: its record says so (boundary points ->
    train.json), and the bottom fit is a real check, failed here by a strong smoothing."""
    from ffnn.field.boundary import map_to_points, merge_points
    from ffnn.field.potential import potential_faces
    from ffnn.field.preprocess import preprocess_map
    from ffnn.field.train import TrainConfig, Trainer

    obs = observed_map()
    obs["Bz"].values[:3, :3] = 0.0
    obs = obs.assign_attrs(height_mm=6.0)
    smooth = preprocess_map(obs, mu=(1, 1, 1e-3, 1.0))
    points = merge_points([map_to_points(smooth), potential_faces(smooth)])
    trainer = Trainer(points, TrainConfig(hold_bottom=1, n_interior=64, progress=False))
    record = trainer.metadata({}, None)
    assert record["preprocessing"] == smooth.attrs["preprocessing"]
    assert model_cube(trainer.model, record, [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]).attrs[
        "training_bottom_preprocessing"] == smooth.attrs["preprocessing"]
    x, y, z = obs.x.values, obs.y.values, np.arange(4) * 0.5
    cube = make_cube({c: np.repeat(smooth[c].values[:, :, None], 4, 2) for c in ("Bx", "By", "Bz")}, x, y, z)
    checks = quality.trust_checks(cube, {"sigma_j": 0.1}, obs, {"config": {"hold_bottom": 1},
                                                                 "preprocessing": record["preprocessing"]})
    assert checks["bottom_fit"]["held"] is False
    assert checks["bottom_fit"]["c_vec_bottom"] < 0.98 and "bottom_c_vec" in checks["flags"]
    row = summary.region_row("ar1", train=record, quality={"sigma_j": 0.1, **checks})
    assert row["preprocessing"] == "Wiegelmann et al. 2006, mu1..mu4 = 1, 1, 0.001, 1"
    assert summary.region_row("ar0", train={}, quality={})["preprocessing"] == "none"
    table = summary.checks_table([row])
    assert table.set_index("check").loc["bottom_c_vec", "status"] == "FAILED"
    # the preprocessed map given to the checks as if observed: refused
    cube.to_netcdf(tmp_path / "cube.nc")
    smooth.to_netcdf(tmp_path / "preprocessed.nc")
    assert cli.main(["quality", str(tmp_path / "cube.nc"), "--boundary", str(tmp_path / "preprocessed.nc"),
                     "-o", str(tmp_path / "q.json")]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"ffnn quality: error: --boundary {tmp_path / 'preprocessed.nc'} is a preprocessed map: the checks "
        "compare the model with the observed one (boundary.nc)")
    assert not (tmp_path / "q.json").exists()


def test_quality_refuses_a_bottom_map_on_another_grid(tmp_path, capsys, monkeypatch):
    """A map binned otherwise than the cube was interpolated and raised a false bottom_c_vec
    flag; it is refused as --potential on another grid is."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("ffnn.cli.model",))
    obs = observed_map()
    x, y, z = obs.x.values, obs.y.values, np.arange(4) * 0.5
    make_cube({c: np.repeat(np.nan_to_num(obs[c].values)[:, :, None], 4, 2) for c in ("Bx", "By", "Bz")},
              x, y, z).to_netcdf(tmp_path / "cube.nc")
    coarse = obs.coarsen(x=2, y=2).mean()  # a bin-16 map beside a bin-8 cube
    coarse.to_netcdf(tmp_path / "b16.nc")
    status = cli.main(["quality", str(tmp_path / "cube.nc"), "--boundary", str(tmp_path / "b16.nc"),
                       "-o", str(tmp_path / "q.json")])
    assert status == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"ffnn quality: error: --boundary {tmp_path / 'b16.nc'} is on another grid: axis x has 12 points "
        "[0.25, 11.25] vs 24 points [0, 11.5]"]
    assert not (tmp_path / "q.json").exists()
    from ffnn.util.errors import DataError

    with pytest.raises(DataError, match="observed bottom map is on another grid"):
        quality.trust_checks(make_cube({c: np.zeros((24, 24, 4)) for c in ("Bx", "By", "Bz")}, x, y, z),
                             {"sigma_j": 0.1}, coarse)


def lowlou_in_a_solar_box(n=24, size_mm=100.0):
    """Low & Lou case 1 (SPEC section 2) with lengths scaled to an active region's box, and
    the potential field of its bottom on the same grid."""
    from ffnn.analysis.lowlou import lowlou_cube
    from ffnn.field.boundary import from_cube
    from ffnn.field.potential import potential_cube

    ll = lowlou_cube(shape=(n, n, n))
    s = size_mm / 2.0
    # placed on the Sun (a CEA map's WCS): the per-length divergence check applies
    wcs = {"CTYPE1": "CRLN-CEA", "CTYPE2": "CRLT-CEA", "CRPIX1": n / 2, "CRPIX2": n / 2, "CRVAL1": 30.0,
           "CRVAL2": -20.0, "CDELT1": 0.03, "CDELT2": 0.03}
    ref = make_cube({c: ll[c].values for c in ("Bx", "By", "Bz")}, ll.x.values * s, ll.y.values * s, ll.z.values * s,
                    attrs=wcs)
    return ref, potential_cube(from_cube(ref), nz=n)


FORCE_FREE_CHECKS = {"sigma_j", "no_better_than_potential", "divergence", "nonsolenoidal_energy"}


def test_force_free_checks_pass_a_force_free_field_and_fire_on_the_potential_one():
    ref, pf = lowlou_in_a_solar_box()
    exact, _ = quality.assess(ref, pf, region="ll")
    assert not FORCE_FREE_CHECKS & set(exact["flags"])
    assert exact["sigma_j_over_potential"] < 0.3 and exact["e_div_ratio"] < 0.02
    # the potential field's own finite-difference currents are far from aligned with B:
    # as a model it is no better than itself, and not force-free by the sigma_J limit
    pot, _ = quality.assess(pf, pf, region="pf")
    assert pot["sigma_j_potential"] > 0.8 and pot["sigma_j_over_potential"] == pytest.approx(1.0)
    assert {"sigma_j", "no_better_than_potential"} <= set(pot["flags"])
    assert "nonsolenoidal_energy" not in pot["flags"]
    # currents that are noise (the potential field with 5 % random perturbations) are no
    # better aligned with B than the potential field's own; a tenth of the force-free field's
    # currents are (sigma_J 0.73 here, 0.81 of the potential field's)
    rng = np.random.default_rng(0)
    noisy = make_cube({c: pf[c].values * (1 + 0.05 * rng.standard_normal(pf[c].shape)) for c in ("Bx", "By", "Bz")},
                      ref.x.values, ref.y.values, ref.z.values)
    assert "no_better_than_potential" in quality.assess(noisy, pf)[0]["flags"]
    tenth = make_cube({c: 0.1 * ref[c].values + 0.9 * pf[c].values for c in ("Bx", "By", "Bz")},
                      ref.x.values, ref.y.values, ref.z.values)
    assert "no_better_than_potential" not in quality.assess(tenth, pf)[0]["flags"]
    # the figures reach the summary row and the checks table, passed or failed
    rows = [summary.region_row(name, train={}, quality=q) for name, q in (("ll", exact), ("pf", pot))]
    assert rows[0]["e_div_ratio"] == pytest.approx(exact["e_div_ratio"])
    assert rows[0]["current_energy_erg"] == pytest.approx(exact["energy_decomposition"]["e_j_s"])
    assert rows[1]["sigma_j_potential"] == pytest.approx(pot["sigma_j_potential"])
    table = summary.checks_table(rows).set_index(["region", "check"])
    for check in FORCE_FREE_CHECKS:
        assert table.loc[("ll", check), "status"] == "passed"
    assert table.loc[("pf", "no_better_than_potential"), "status"] == "FAILED"
    assert table.loc[("pf", "no_better_than_potential"), "limit"] == 0.9


def test_added_divergence_raises_the_divergence_checks_and_poses_as_free_energy():
    ref, pf = lowlou_in_a_solar_box()
    x, y, z = ref.x.values, ref.y.values, ref.z.values
    b = np.stack([ref[c].values for c in ("Bx", "By", "Bz")])
    X, Y, Z = np.meshgrid(x, y, z, indexing="ij")
    chi = np.exp(-(X ** 2 + Y ** 2 + (Z - 20) ** 2) / (2 * 15.0 ** 2))
    grad = np.stack(np.gradient(chi, x, y, z, edge_order=2))
    grad *= 6 * np.sqrt((b * b).sum(axis=0)).mean() / np.abs(grad).max()
    bad = make_cube({c: b[k] + grad[k] for k, c in enumerate(("Bx", "By", "Bz"))}, x, y, z, attrs=ref.attrs)
    exact, divergent = quality.assess(ref, pf)[0], quality.assess(bad, pf)[0]
    assert {"divergence", "nonsolenoidal_energy"} <= set(divergent["flags"])
    assert divergent["mean_abs_div_over_b"] > 0.019 and divergent["e_div_ratio"] > quality.LIMITS["nonsolenoidal_energy"][1]
    # E - E_pot grows with the divergence; the energy of the solenoidal currents much less
    free = [q["energy_erg"] - q["energy_pot_erg"] for q in (exact, divergent)]
    current = [q["energy_decomposition"]["e_j_s"] for q in (exact, divergent)]
    assert free[1] - free[0] > 3 * abs(current[1] - current[0])


def test_the_per_length_divergence_needs_a_cube_on_the_sun():
    """A Low & Lou field's box units are Mm only nominally: the check in Mm^-1 is not
    computed there (the exact field at 32^3 would read 0.025 per box unit), and ⟨|f_i|⟩
    stays reported."""
    from ffnn.analysis.lowlou import lowlou_cube
    from ffnn.field.boundary import from_cube
    from ffnn.field.potential import potential_cube

    ll = lowlou_cube(shape=(32, 32, 32))
    figures, _ = quality.assess(ll, potential_cube(from_cube(ll), nz=32))
    assert np.isnan(figures["mean_abs_div_over_b"]) and figures["mean_abs_fi"] > 0
    assert "divergence" not in figures["flags"]
    row = summary.region_row("lowlou_case1", train={}, quality=figures)
    table = summary.checks_table([row]).set_index(["region", "check"])
    assert table.loc[("lowlou_case1", "divergence"), "status"] == "not computed"


def test_the_warm_up_of_a_spline_grid_training_is_its_boundary_decay():
    """spline_grid has no warm-up without physics: its boundary-dominated start is the fall
    of the boundary weight (boundary_decay_iterations), which the check reads instead."""
    grid = {"representation": "spline_grid", "boundary_decay_iterations": 100, "warmup_iterations": 5}
    assert quality.check({}, quality.warmup_of(grid), 50) == [quality.WARMUP_FLAG]
    assert quality.check({}, quality.warmup_of(grid), 300) == []
    assert quality.warmup_of({"warmup_iterations": 5, "boundary_decay_iterations": 100}) == 5
