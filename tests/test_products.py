"""Products of a region: figures (field lines, PNGs) and summary rows/tables (ffnn.products.figures,
ffnn.products.summary, the ``figures``/``summary-row``/``summary``/``lowlou-table`` commands)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from ffnn.cli import main
from ffnn.field.cube import make_cube
from ffnn.util.files import write_netcdf
from ffnn.products.figures import (FIGURE_NAMES, fieldlines_3d_figure, fieldlines_xy_figure,
                          heliographic_overlay, loss_figure, model_bottom, region_figures,
                          seed_points, trace_field_lines)
from ffnn.analysis.metrics import height_profiles
from ffnn.products.summary import (COLUMNS, PUBLISHED, beats_potential, lowlou_table, read_row,
                          region_row, summary_table, table_dataset, write_row, write_summary)


def grid(n=9, zmax=2.0):
    return np.linspace(-1, 1, n), np.linspace(-1, 1, n), np.linspace(0, zmax, n)


def field_cube(fn, n=9, zmax=2.0):
    x, y, z = grid(n, zmax)
    X, Y, Z = np.meshgrid(x, y, z, indexing="ij")
    bx, by, bz = fn(X, Y, Z)
    return make_cube({"Bx": bx, "By": by, "Bz": bz}, x, y, z)


def dipole_like(X, Y, Z):
    """A smooth bipolar field (the field of two sources below the box)."""
    out = np.zeros((3,) + X.shape)
    for x0, q in ((-0.4, 1.0), (0.4, -1.0)):
        d = np.stack([X - x0, Y, Z + 0.5])
        r3 = np.sum(d * d, axis=0) ** 1.5
        out += 100.0 * q * d / r3
    return out


# ---------------------------------------------------------------- field lines

def test_uniform_vertical_field_gives_vertical_lines_to_the_top():
    cube = field_cube(lambda X, Y, Z: (0 * X, 0 * X, 1 + 0 * X))
    seeds = np.array([[0.0, 0.0, 0.0], [0.5, -0.25, 0.0]])
    lines = trace_field_lines(cube, seeds, direction=1.0)
    assert len(lines) == 2
    for seed, line in zip(seeds, lines):
        assert np.allclose(line[0], seed)
        assert np.allclose(line[:, :2], seed[:2], atol=1e-9)
        assert np.all(np.diff(line[:, 2]) > 0)
        assert line[-1, 2] == pytest.approx(2.0, abs=1e-9)  # clipped onto the top face


def test_direction_minus_one_goes_against_the_field():
    cube = field_cube(lambda X, Y, Z: (0 * X, 0 * X, 1 + 0 * X))
    down = trace_field_lines(cube, [[0.0, 0.0, 1.5]], direction=-1.0)[0]
    assert down[-1, 2] == pytest.approx(0.0, abs=1e-9)
    out = trace_field_lines(cube, [[0.0, 0.0, 0.0]], direction=-1.0)[0]
    assert len(out) == 1  # leaves the box at once: only the seed


def test_helical_field_keeps_its_radius():
    # B = (-y, x, 1): lines are helices about the z axis; a linear field is interpolated
    # exactly, so the radius is kept to RK4 accuracy
    cube = field_cube(lambda X, Y, Z: (-Y, X, 1 + 0 * X), n=17)
    line = trace_field_lines(cube, [[0.5, 0.0, 0.0]], 1.0, step=0.02)[0]
    radius = np.hypot(line[:, 0], line[:, 1])
    assert len(line) > 50
    assert np.max(np.abs(radius - 0.5)) < 1e-3
    assert line[-1, 2] == pytest.approx(2.0, abs=1e-6)


def test_lines_stop_at_zero_or_nan_field():
    cube = field_cube(lambda X, Y, Z: (0 * X, 0 * X, np.where(Z > 1.0, np.nan, 1.0)))
    line = trace_field_lines(cube, [[0.0, 0.0, 0.0]], 1.0)[0]
    assert 0.7 < line[-1, 2] <= 1.0 + 1e-9
    assert trace_field_lines(cube, np.zeros((0, 3))) == []


def test_seed_points_sit_on_strong_bottom_field_and_point_upward():
    cube = field_cube(dipole_like, n=17)
    seeds, sign = seed_points(cube, n=10, threshold=0.2)
    assert 1 <= len(seeds) <= 10
    assert np.all(seeds[:, 2] == 0.0)
    bz = cube["Bz"].isel(z=0)
    for (x, y, _), s in zip(seeds, sign):
        value = float(bz.sel(x=x, y=y))
        assert np.sign(value) == s
        assert abs(value) >= 0.2 * float(np.abs(bz).max())
    # lines started with the sign of Bz go upward first
    lines = trace_field_lines(cube, seeds, sign)
    assert all(line.shape[0] > 1 and line[1, 2] > line[0, 2] for line in lines)


def test_seed_points_none_asked_or_no_field():
    cube = field_cube(lambda X, Y, Z: (0 * X, 0 * X, 0 * X))
    assert seed_points(cube, n=5)[0].shape == (0, 3)
    assert seed_points(field_cube(dipole_like), n=0)[0].shape == (0, 3)


def test_model_bottom_interpolates_onto_the_map_grid():
    cube = field_cube(lambda X, Y, Z: (X + 2 * Y, 0 * X, 1 + 0 * X))
    x = np.linspace(-0.9, 0.9, 5)
    bottom = xr.Dataset({c: (("x", "y"), np.zeros((5, 5))) for c in ("Bx", "By", "Bz")},
                        coords={"x": x, "y": x})
    layer = model_bottom(cube, bottom)
    X, Y = np.meshgrid(x, x, indexing="ij")
    assert np.allclose(layer["Bx"].values, X + 2 * Y)


# ---------------------------------------------------------------- the figures

@pytest.fixture
def region_files(tmp_path):
    cube = field_cube(dipole_like, n=9)
    b = np.stack([cube[c].values for c in ("Bx", "By", "Bz")])
    d = (0.25, 0.25, 0.25)
    profiles = height_profiles(b, d, cube["z"].values, 0.9 * b)
    bottom = cube[["Bx", "By", "Bz"]].isel(z=0, drop=True)
    bottom["Bz"][0, 0] = np.nan  # an unobserved pixel
    history = pd.DataFrame({"iteration": [10, 20, 30], "evaluations": [12, 24, 35],
                            "elapsed_s": [1.0, 2.0, 3.0], "loss": [100.0, 10.0, 1.0],
                            "loss_bc": [90.0, 9.0, 0.9], "loss_div": [9.0, 0.9, 0.09],
                            "loss_ff": [0.5, 0.3, 0.2]})
    return {"cube": cube, "profiles": profiles, "bottom": bottom, "history": history}


def test_region_figures_writes_five_pngs(region_files, tmp_path):
    f = region_files
    written = region_figures(f["bottom"], f["cube"], f["profiles"], f["history"], tmp_path / "fig",
                             reference=f["cube"], region="test", lines=6, dpi=40)
    assert [p.name for p in written] == list(FIGURE_NAMES)
    for path in written:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in (tmp_path / "fig").iterdir() if p.name.startswith(".")]


def test_loss_figure_leaves_out_a_term_the_training_never_had(region_files):
    """A spline_grid training records loss_div 0 throughout (no divergence term); the
    figure drew it as an empty line with a legend entry, under an "L-BFGS iteration" axis
    that is Adam's there."""
    import matplotlib.pyplot as plt

    mlp = region_files["history"]
    grid = mlp.assign(loss_div=0.0)
    labels = {}
    for name, history in (("mlp", mlp), ("spline_grid", grid)):
        fig = loss_figure(history)
        ax = fig.axes[0]
        labels[name] = [t.get_text() for t in ax.get_legend().get_texts()]
        assert ax.get_xlabel() == "iteration"
        plt.close(fig)
    assert "divergence" in labels["mlp"] and "divergence" not in labels["spline_grid"]
    assert {"total", "boundary", "force-free"} <= set(labels["spline_grid"])


def test_field_lines_are_drawn_over_the_observed_bottom(region_files):
    # issue 11: the figures show the observed Bz (boundary.nc), not the model's bottom layer
    f = region_files
    observed = f["bottom"].copy()
    observed["Bz"] = -2.0 * observed["Bz"]  # differs from the cube's bottom layer
    lines = trace_field_lines(f["cube"], *seed_points(f["cube"], 4))
    fig = fieldlines_xy_figure(observed, lines)
    shown = np.ma.filled(fig.axes[0].images[0].get_array(), np.nan)
    assert np.allclose(shown, observed["Bz"].transpose("x", "y").values.T, equal_nan=True)
    assert fig.axes[0].get_xlabel().startswith("x (west) [Mm]")
    assert not heliographic_overlay(fig.axes[0], observed)  # no WCS: Mm axes only
    fig3 = fieldlines_3d_figure(observed, f["cube"], lines)
    assert len(fig3.axes[0].lines) == len(lines)


def test_heliographic_grid_over_a_map_with_a_wcs(region_files):
    import matplotlib.pyplot as plt
    from matplotlib.contour import ContourSet

    from ffnn.io.wcs import binned, heliographic_grid
    from tests.jsoc_server import segment_header, sharp_keywords

    bottom = region_files["bottom"]
    nx, ny = bottom.sizes["x"], bottom.sizes["y"]
    keys = binned(segment_header(sharp_keywords(377, "2011.02.14_20:00:00_TAI", "11158", nx=nx, ny=ny),
                                 "Br", nx, ny), 1)
    bottom = bottom.assign_attrs(keys)
    fig, ax = plt.subplots()
    assert heliographic_overlay(ax, bottom)
    contours = [c for c in ax.get_children() if isinstance(c, ContourSet)]
    assert len(contours) == 2  # longitude and latitude
    lon, lat = heliographic_grid(keys, nx, ny)
    labels = []
    for cs, values in zip(contours, (lon, lat)):
        assert len(cs.levels) >= 1 and all(values.min() <= v <= values.max() for v in cs.levels)
        labels += [t.get_text() for t in cs.labelTexts]
    assert labels and all(t.endswith("°") for t in labels)
    plt.close(fig)


def figure_inputs(f, tmp_path) -> dict:
    """The region's files as ``ffnn figures`` reads them: option -> path."""
    paths = {"cube": tmp_path / "cube.nc", "boundary": tmp_path / "boundary.nc",
             "profiles": tmp_path / "profiles.nc", "loss": tmp_path / "loss.csv"}
    write_netcdf(f["cube"], paths["cube"])
    write_netcdf(f["bottom"], paths["boundary"])
    write_netcdf(f["profiles"], paths["profiles"])
    f["history"].to_csv(paths["loss"], index=False)
    return paths


def test_figures_command(region_files, tmp_path):
    f = region_files
    paths = figure_inputs(f, tmp_path)
    args = ["figures", *sum(([f"--{k}", str(v)] for k, v in paths.items()), []),
            "--lines", "4", "--dpi", "40", "--outdir", str(tmp_path / "out")]
    assert main(args) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(FIGURE_NAMES)


def test_figures_command_names_a_missing_file(region_files, tmp_path, capsys):
    write_netcdf(region_files["cube"], tmp_path / "cube.nc")
    rc = main(["figures", "--boundary", str(tmp_path / "nope.nc"), "--cube", str(tmp_path / "cube.nc"),
               "--profiles", "p.nc", "--loss", "l.csv", "--outdir", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and "nope.nc" in err[0] and "does not exist" in err[0]


# ---------------------------------------------------------------- summary rows

TRAIN = {"final": {"loss": 12.5, "loss_bc": 10.0, "loss_div": 2.0, "loss_ff": 0.5},
         "elapsed_s": 42.0, "iterations": 300, "stop_reason": "time_budget", "device": "cpu",
         "threads": 2, "config": {"width": 64}}
QUALITY = {"energy_erg": 2e32, "energy_pot_erg": 1.6e32, "free_energy_erg": 4e31, "e_over_epot": 1.25,
           "unsigned_flux_mx": 3e22, "total_unsigned_current_a": 4e13, "sigma_j": 0.3,
           "theta_j_deg": 17.5, "mean_abs_fi": 1e-4}
RECORD = {"noaa": 11158, "harpnum": 377, "t_rec": "2011.02.14_20:00:00_TAI",
          "t_rec_utc": "2011-02-14T19:59:26.000", "quality": 0, "quality_hex": "0x00000000",
          "keywords": {"HARPNUM": 377, "NOAA_ARS": "11158,11159", "LAT_FWT": -20.1, "LON_FWT": 33.8,
                       "USFLUX": 2.1e22, "MEANGAM": 34.2, "R_VALUE": 4.95, "TOTPOT": float("nan")}}


def test_sharp_row_has_identifiers_physics_loss_and_keywords():
    profiles = xr.Dataset({"div_free_factor": ("z", [0.1, 0.2]), "force_free_factor": ("z", [0.3, 0.4])})
    row = region_row("ar11158_20110214T2000", train=TRAIN, quality=QUALITY, record=RECORD,
                     profiles=profiles, meta={"kind": "sharp", "noaa": 11158})
    assert row["kind"] == "sharp" and row["noaa"] == 11158 and row["harpnum"] == 377
    assert row["t_rec"] == "2011.02.14_20:00:00_TAI" and row["noaa_ars"] == "11158,11159"
    assert row["quality"] == "0x00000000" and row["lat"] == -20.1 and row["lon"] == 33.8
    assert row["e_over_epot"] == 1.25 and row["free_energy_erg"] == 4e31
    assert row["div_free_factor"] == 0.2 and row["force_free_factor"] == 0.4  # whole cube
    assert row["loss_total"] == 12.5 and row["loss_ff"] == 0.5 and row["wall_time_s"] == 42.0
    assert row["USFLUX"] == 2.1e22 and row["MEANGAM"] == 34.2
    assert row["TOTPOT"] is None and row["MEANSHR"] is None  # NaN and absent keywords
    assert row["details"]["sharp_record"]["harpnum"] == 377
    assert set(row) - {"details"} <= set(COLUMNS)


def test_summary_table_tsv_nc_json(tmp_path):
    sharp = region_row("ar11158_20110214T2000", train=TRAIN, quality=QUALITY, record=RECORD)
    bench = region_row("lowlou_case1", train=TRAIN, quality=QUALITY,
                       reference={"c_vec": 0.99, "c_cs": 0.9, "e_n_prime": 0.8, "e_m_prime": 0.7,
                                  "epsilon": 1.01},
                       potential_reference={"c_vec": 0.85, "c_cs": 0.82, "e_n_prime": 0.45,
                                            "e_m_prime": 0.35, "epsilon": 0.77, "sigma_j": 0.9})
    for i, row in enumerate((sharp, bench)):
        write_row(row, tmp_path / f"row{i}.json")
    rows = [read_row(tmp_path / f"row{i}.json") for i in range(2)]
    table = write_summary(rows, tmp_path / "s.tsv", tmp_path / "s.nc", tmp_path / "s.json")
    assert list(table["region"]) == ["ar11158_20110214T2000", "lowlou_case1"]
    back = pd.read_csv(tmp_path / "s.tsv", sep="\t")
    assert back.loc[0, "harpnum"] == 377 and math.isnan(back.loc[1, "harpnum"])
    assert back.loc[0, "USFLUX"] == pytest.approx(2.1e22)
    assert back.loc[1, "pf_c_vec"] == pytest.approx(0.85)
    assert list(back.columns[:3]) == ["region", "kind", "noaa"]
    ds = xr.load_dataset(tmp_path / "s.nc")
    assert list(ds["region_id"].values) == ["ar11158_20110214T2000", "lowlou_case1"]
    assert ds["energy_erg"].attrs["units"] == "erg" and ds["USFLUX"].attrs["units"] == "maxwell"
    assert ds["t_rec"].values[0] == "2011.02.14_20:00:00_TAI"
    full = json.loads((tmp_path / "s.json").read_text())
    assert full["rows"][0]["details"]["sharp_record"]["keywords"]["NOAA_ARS"] == "11158,11159"
    assert full["columns"]["energy_erg"]["units"] == "erg"


def test_a_keyword_missing_in_every_row_stays_a_number(tmp_path):
    """JSOC writes R_VALUE = nan; a batch of such records alone made R_VALUE a text
    variable of summary.nc, and its type then depended on the mix of regions."""
    record = {**RECORD, "keywords": {**RECORD["keywords"], "R_VALUE": None}}
    rows = [region_row(f"ar11158_2011021{i}T2000", train=TRAIN, quality=QUALITY, record=record)
            for i in (4, 5)]
    for i, row in enumerate(rows):
        write_row(row, tmp_path / f"row{i}.json")
    write_summary([read_row(tmp_path / f"row{i}.json") for i in range(2)], nc=tmp_path / "s.nc")
    ds = xr.load_dataset(tmp_path / "s.nc")
    assert ds["R_VALUE"].dtype == np.float64 and np.isnan(ds["R_VALUE"].values).all()


def test_summary_table_rejects_duplicates_and_empty():
    from ffnn.util.errors import DataError

    row = region_row("a", train=TRAIN, quality=QUALITY)
    with pytest.raises(DataError, match="more than one"):
        summary_table([row, row])
    with pytest.raises(DataError, match="no summary rows"):
        summary_table([])


def test_loss_ff_is_documented_as_the_force_free_form_computes_it():
    """The summary's loss_ff said "1, mean sin^2 of the J-B angle", true only of
    ff_form angle: with the default Lorentz form the term is in G^2 and far above 1."""
    from ffnn.field.boundary import cube_faces
    from ffnn.analysis.lowlou import lowlou_cube
    from ffnn.field.train import TrainConfig, Trainer

    faces = cube_faces(lowlou_cube(shape=(8, 8, 8)))
    final = {}
    for form in ("lorentz", "angle"):
        cfg = TrainConfig(hidden_layers=1, width=8, n_interior=200, progress=False, max_iterations=2,
                          warmup_iterations=0, iterations_per_step=1, ff_form=form, height_weighting=0)
        final[form] = Trainer(faces, cfg).loss_terms(backward=False)["loss_ff"]
    assert 0 <= final["angle"] <= 1 < final["lorentz"]
    unit, text = COLUMNS["loss_ff"]
    assert unit == "" and "lorentz" in text and "G^2" in text and "angle" in text and "sin^2" in text
    ds = table_dataset(summary_table([region_row("a", train=TRAIN, quality=QUALITY)]))
    assert "units" not in ds["loss_ff"].attrs and "lorentz" in ds["loss_ff"].attrs["long_name"]


def test_table_dataset_numeric_and_text_columns():
    table = summary_table([region_row("a", train=TRAIN, quality=QUALITY)])
    ds = table_dataset(table)
    assert ds["energy_erg"].dtype == np.float64
    assert ds["stop_reason"].values[0] == "time_budget"


# ---------------------------------------------------------------- Low & Lou table

def lowlou_row(region, n, boundary, model, pf):
    keys = ("c_vec", "c_cs", "e_n_prime", "e_m_prime", "epsilon")
    return region_row(region, train=TRAIN, quality=QUALITY,
                      reference=dict(zip(keys, model)),
                      potential_reference={**dict(zip(keys, pf)), "sigma_j": 0.9},
                      meta={"kind": "lowlou", "lowlou_n": n, "lowlou_m": 1, "lowlou_l": 0.3,
                            "lowlou_phi": 0.785, "lowlou_boundary": boundary, "lowlou_shape": [32, 32, 32]})


def test_lowlou_table_has_this_run_and_published_rows():
    rows = [lowlou_row("lowlou_case1", 1, "faces", (0.99, 0.95, 0.8, 0.7, 1.0), (0.85, 0.82, 0.45, 0.35, 0.77)),
            lowlou_row("lowlou_case2", 3, "bottom", (0.95, 0.3, 0.6, -0.5, 1.0), (0.9, 0.35, 0.5, 0.1, 0.9))]
    text = lowlou_table(rows)
    assert "## lowlou_case1" in text and "## lowlou_case2" in text
    assert "32×32×32" in text
    assert "| FFNN (*this run*) | 0.990 | 0.950 | 0.800 | 0.700 | 1.000 |" in text
    assert "| potential field (*this run*) | 0.850 | 0.820 | 0.450 | 0.350 | 0.770 |" in text
    for name, *_ in PUBLISHED[(1, "faces")] + PUBLISHED[(3, "bottom")]:
        assert name in text
    assert "FFNN beats the potential field in C_vec, C_cs, E_n', E_m' (4 of 4)." in text
    assert "FFNN beats the potential field in C_vec, E_n' (2 of 4)." in text
    assert text.count("| FFNN paper (64³) |") == 2


def test_beats_potential_needs_both_numbers():
    assert beats_potential({"c_vec": 0.9, "pf_c_vec": 0.8, "c_cs": 0.1}) == ["c_vec"]
    assert beats_potential({}) == []


def test_summary_commands(tmp_path, capsys):
    (tmp_path / "train.json").write_text(json.dumps(TRAIN))
    (tmp_path / "quality.json").write_text(json.dumps(QUALITY))
    (tmp_path / "ref.json").write_text(json.dumps({"c_vec": 0.95, "c_cs": 0.9, "e_n_prime": 0.7,
                                                   "e_m_prime": 0.5, "epsilon": 1.0}))
    (tmp_path / "pf.json").write_text(json.dumps({"c_vec": 0.85, "c_cs": 0.82, "e_n_prime": 0.45,
                                                  "e_m_prime": 0.35, "epsilon": 0.77, "sigma_j": 0.9}))
    args = ["summary-row", "--region", "lowlou_case1", "--train", str(tmp_path / "train.json"),
            "--quality", str(tmp_path / "quality.json"), "--reference", str(tmp_path / "ref.json"),
            "--potential-reference", str(tmp_path / "pf.json"), "--meta", "kind=lowlou",
            "--meta", "lowlou_n=1", "--meta", "lowlou_boundary=faces", "--meta", "lowlou_shape=[12, 12, 12]",
            "-o", str(tmp_path / "row.json")]
    assert main(args) == 0
    row = read_row(tmp_path / "row.json")
    assert row["details"]["meta"]["lowlou_shape"] == [12, 12, 12]
    assert main(["lowlou-table", str(tmp_path / "row.json"), "-o", str(tmp_path / "t.md")]) == 0
    assert "FFNN paper (64³)" in (tmp_path / "t.md").read_text()
    assert main(["summary", str(tmp_path / "row.json"), "--tsv", str(tmp_path / "s.tsv")]) == 0
    assert (tmp_path / "s.tsv").read_text().startswith("region\tkind")
    capsys.readouterr()
    assert main(["summary-row", "--region", "x", "--train", str(tmp_path / "missing.json"),
                 "--quality", str(tmp_path / "quality.json"), "-o", str(tmp_path / "r.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.json" in err[0]
    assert main(["summary", str(tmp_path / "row.json")]) == 2


def test_figures_command_checks_every_input_before_the_first_figure(region_files, tmp_path, capsys):
    """--profiles naming a bottom map was a KeyError after bottom.png and two more figures
    were written; --dpi 0 a ValueError of matplotlib; a map beside the cube was drawn."""
    f = region_files
    paths = figure_inputs(f, tmp_path)
    shifted = f["bottom"].assign_coords(x=f["bottom"].x + 0.5)
    write_netcdf(shifted, tmp_path / "beside.nc")

    def figures(**given):
        args = {**paths, **given}
        return main(["figures", *sum(([f"--{k}", str(v)] for k, v in args.items()), []),
                     "--lines", "4", "--outdir", str(tmp_path / "out")])

    assert figures(profiles=paths["boundary"], dpi=40) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"ffnn figures: error: --profiles {paths['boundary']} is not a height-profiles file (ffnn quality "
        "--profiles): it lacks div_free_factor, force_free_factor, sigma_j, energy on z"]
    assert figures(boundary=tmp_path / "beside.nc", dpi=40) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "beside.nc is not the cube's map: its x pixels span [-0.625, 1.625]" in err[0]
    # another region's map around the cube (a SHARP map given with a Low & Lou cube)
    write_netcdf(f["bottom"].assign_coords(x=f["bottom"].x * 10, y=f["bottom"].y * 10), tmp_path / "wide.nc")
    assert figures(boundary=tmp_path / "wide.nc", dpi=40) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "wide.nc is not the cube's map: its x pixels span [-11.25, 11.25]" in err[0]
    profiles = xr.open_dataset(paths["profiles"]).load()
    write_netcdf(profiles.assign_coords(z=profiles.z * 2), tmp_path / "other_profiles.nc")
    assert figures(profiles=tmp_path / "other_profiles.nc", dpi=40) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "other_profiles.nc is another cube's: its" in err[0]
    # a cube where the bottom map belongs (a traceback), another box's reference field
    assert figures(boundary=paths["cube"], dpi=40) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"ffnn figures: error: --boundary {paths['cube']} is a cube (on x, y, z), not a bottom map (Bx, By, Bz "
        "on x, y)"]
    write_netcdf(f["cube"].assign_coords(x=f["cube"].x * 10), tmp_path / "wide_cube.nc")
    assert figures(reference=tmp_path / "wide_cube.nc", dpi=40) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--reference {tmp_path / 'wide_cube.nc'} is on another grid: axis x" in err[0]
    with pytest.raises(SystemExit):
        figures(dpi=0)
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "ffnn figures: error: argument --dpi: must be an integer >= 1, not 0")
    assert not (tmp_path / "out").exists()
    # a coarser map whose pixels cover the cube (bin 16 beside a bin-8 cube) is drawn
    write_netcdf(f["bottom"].isel(x=slice(1, None, 2), y=slice(1, None, 2)).assign_coords(
        x=np.linspace(-0.75, 0.75, 4), y=np.linspace(-0.75, 0.75, 4)), tmp_path / "coarse.nc")
    assert figures(boundary=tmp_path / "coarse.nc", dpi=30) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(FIGURE_NAMES)


def write_logs(logs, texts: dict) -> None:
    """Job logs under ``logs``: relative path -> text."""
    for path, text in texts.items():
        (logs / path).parent.mkdir(parents=True, exist_ok=True)
        (logs / path).write_text(text)


def test_failures_names_each_failed_job_with_its_error_line(tmp_path, capsys):
    from ffnn.cli import main

    logs = tmp_path / "logs"
    write_logs(logs, {
        "ar1/resolve.log": "2011 INFO ffnn: asking JSOC\nffnn resolve: error: NOAA 1: the region is in no HARP\n",
        "ar2/train.log": "INFO iteration 10\nTraceback (most recent call last):\n  File x\nRuntimeError: boom\n",
        "ar3/train.log": "INFO training stopped (max_iterations) after 10 iterations\n",
        # errors handled on the way: the job went on and its log ends in ordinary records
        "ar3/cube.log": "Traceback (most recent call last):\n  File x\nOSError: busy\n"
                        "2026-11-30 10:00:00,000 INFO ffnn: wrote results/ar3/cube.nc\n",
        "ar3/quality.log": "ffnn quality: error: old\n2026-11-30 10:00:01,000 INFO ffnn: wrote q.json\n",
        "gone/train.log": "ffnn train: error: stale, its region is no longer in the sheet\n",
        "summary.log": "ffnn summary: error: no summary rows to gather\n",
    })
    assert main(["failures", "--logs", str(logs), "ar1", "ar2", "ar3"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "ffnn: 3 job(s) failed; the last error line of each log:"
    assert out[1:4] == [f"  {logs}/ar1/resolve.log: ffnn resolve: error: NOAA 1: the region is in no HARP",
                        f"  {logs}/ar2/train.log: RuntimeError: boom",
                        f"  {logs}/summary.log: ffnn summary: error: no summary rows to gather"]
    assert main(["failures", "--logs", str(logs), "ar3"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "ffnn: 1 job(s) failed; the last error line of each log:"
    (logs / "summary.log").unlink()
    assert main(["failures", "--logs", str(logs), "ar3"]) == 0 and capsys.readouterr().out == ""


def test_failures_without_names_reads_every_log_and_refuses_a_name_or_directory_it_cannot_read(
        tmp_path, capsys, caplog, monkeypatch):
    """`ffnn failures` with no names printed nothing and exited 0 even when jobs had
    failed, and so did an unknown name, a missing --logs or a --logs naming a file."""
    import logging

    from ffnn.cli import main

    caplog.set_level(logging.INFO)
    logs = tmp_path / "logs"
    write_logs(logs, {
        "ar1/resolve.log": "ffnn resolve: error: NOAA 1: the region is in no HARP\n",
        "ar2/train.log": "INFO training stopped (max_iterations) after 10 iterations\n",
        "series_x/ar1_20110214T2000/train.log": "Traceback (most recent call last):\n  File x\nRuntimeError: boom\n",
        "summary.log": "ffnn summary: error: no summary rows to gather\n",
    })
    monkeypatch.chdir(tmp_path)  # the default --logs: logs
    assert main(["failures"]) == 0
    assert capsys.readouterr().out.splitlines()[:4] == [
        "ffnn: 3 job(s) failed; the last error line of each log:",
        "  logs/ar1/resolve.log: ffnn resolve: error: NOAA 1: the region is in no HARP",
        "  logs/series_x/ar1_20110214T2000/train.log: RuntimeError: boom",
        "  logs/summary.log: ffnn summary: error: no summary rows to gather"]
    # nothing failed: one line says so
    for path in ("ar1/resolve.log", "series_x/ar1_20110214T2000/train.log", "summary.log"):
        (logs / path).write_text("INFO wrote it\n")
    caplog.clear()
    assert main(["failures"]) == 0 and capsys.readouterr().out == ""
    assert [r.getMessage() for r in caplog.records] == ["none of the 4 job log(s) under logs ends in an error"]

    def refused(*argv):
        assert main(["failures", *argv]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        return err.strip().splitlines()

    assert refused("nosuchregion") == [
        "ffnn failures: error: no logs of nosuchregion under logs: no job of a region or series of that name "
        "has run there (it holds those of ar1, ar2, series_x)"]
    assert refused("--logs", str(tmp_path / "nonexistent")) == [
        f"ffnn failures: error: --logs {tmp_path / 'nonexistent'} does not exist: give the workflow's log "
        "directory (logs/ in the directory the workflow ran in)"]
    (tmp_path / "README.md").write_text("# a file\n")
    assert refused("--logs", "README.md") == [
        "ffnn failures: error: --logs README.md is a file, not a directory: give the workflow's log directory "
        "(logs/ in the directory the workflow ran in)"]
    # the workflow's call (onerror) names every region of the sheet: those that ran no job
    # (a run of other targets) are passed over, as long as one has logs
    (logs / "ar2" / "train.log").write_text("ffnn train: error: bad\n")
    caplog.clear()
    assert main(["failures", "--logs", "logs", "ar2", "ar_not_run", "series_x"]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == [
        "ffnn: 1 job(s) failed; the last error line of each log:", "  logs/ar2/train.log: ffnn train: error: bad"]
    assert [r.getMessage() for r in caplog.records] == ["no logs of ar_not_run under logs: none of its jobs has run"]
    # ... and so are they all when a whole-batch job failed (a run of the forecast alone)
    (logs / "classify.log").write_text("ffnn classify: error: too few rows\n")
    assert main(["failures", "--logs", "logs", "ar_not_run", "ar_not_run_either"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "  logs/classify.log: ffnn classify: error: too few rows"


def test_a_loss_history_pandas_cannot_parse_is_one_line(tmp_path):
    from ffnn.util.errors import DataError
    from ffnn.products.figures import read_loss

    (tmp_path / "loss.csv").write_text("iteration,loss\n1,2\n3,4,5\n")
    with pytest.raises(DataError) as err:
        read_loss(tmp_path / "loss.csv")
    assert str(err.value) == (f"cannot read loss history {tmp_path / 'loss.csv'}: Error tokenizing data. "
                              "C error: Expected 2 fields in line 3, saw 3")


def test_a_training_stopped_by_its_time_budget_is_named_in_the_summary_checks_and_run_end(tmp_path, capsys):
    """issue 26 item 9: a loaded machine stops a training on its time budget and gives
    another field; summary.tsv (flags), checks.tsv (the report's table) and the line that
    ends the run (ffnn failures --checks, the Snakefile's onsuccess) say so."""
    capped = {**TRAIN, "config": {"width": 64, "time_budget_s": 780.0, "max_iterations": 2000},
              "iterations": 1530}
    done = {**capped, "stop_reason": "max_iterations", "iterations": 2000}
    for name, train in (("ar11158_20110215T0200", capped), ("ar11161_20110215T0200", done)):
        (tmp_path / f"{name}.train.json").write_text(json.dumps(train))
        (tmp_path / "quality.json").write_text(json.dumps(QUALITY))
        assert main(["summary-row", "--region", name, "--train", str(tmp_path / f"{name}.train.json"),
                     "--quality", str(tmp_path / "quality.json"), "-o", str(tmp_path / f"{name}.json")]) == 0
    assert main(["summary", str(tmp_path / "ar11158_20110215T0200.json"), str(tmp_path / "ar11161_20110215T0200.json"),
                 "--tsv", str(tmp_path / "summary.tsv"), "--checks", str(tmp_path / "checks.tsv")]) == 0
    table = pd.read_csv(tmp_path / "summary.tsv", sep="\t", index_col="region")
    assert table.loc["ar11158_20110215T0200", "flags"] == "stopped_by_time_budget"
    assert table.loc["ar11161_20110215T0200", "flags"] == "none"
    checks = pd.read_csv(tmp_path / "checks.tsv", sep="\t", index_col=["region", "check"])
    line = checks.loc[("ar11158_20110215T0200", "stopped_by_time_budget")]
    assert (line["value"], line["limit"], line["status"]) == (1530, 2000, "FAILED")
    assert line["meaning"].startswith("training stopped by its time budget (time_budget_s = 780 s) after 1530 of "
                                      "2000 iterations, not at max_iterations")
    assert checks.loc[("ar11161_20110215T0200", "stopped_by_time_budget"), "status"] == "passed"
    capsys.readouterr()
    assert main(["failures", "--checks", str(tmp_path / "checks.tsv")]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "ffnn: training stopped by its time budget (train.time_budget_s), not at max_iterations, in "
        "ar11158_20110215T0200: a busier or slower machine gives another field; rerun where it reaches "
        "max_iterations, or raise time_budget_s")


def test_failures_lists_the_regions_whose_trust_checks_failed(tmp_path, capsys):
    from ffnn.cli import main

    checks = tmp_path / "checks.tsv"
    checks.write_text("region\tcheck\tvalue\tlimit\tstatus\tmeaning\n"
                      "ar1\tsigma_j\t0.6\t0.3\tFAILED\tsigma_J is 0.6\n"
                      "ar1\tdivergence\t0.007\t0.001\tFAILED\t<|f_i|> is 0.007\n"
                      "ar2\tsigma_j\t0.1\t0.3\tpassed\t\n"
                      "ar3\tq_below_2\t0.36\t0.05\tFAILED\tQ\n")
    assert main(["failures", "--checks", str(checks)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"ffnn: trust checks failed in 2 region(s); see {checks} and the report:",
        "  ar1: sigma_j, divergence", "  ar3: q_below_2"]
    checks.write_text("region\tcheck\tvalue\tlimit\tstatus\tmeaning\nar2\tsigma_j\t0.1\t0.3\tpassed\t\n")
    assert main(["failures", "--checks", str(checks)]) == 0 and capsys.readouterr().out == ""
    assert main(["failures", "--checks", str(tmp_path / "summary.tsv")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"ffnn failures: error: --checks {tmp_path / 'summary.tsv'} does not exist (ffnn summary --checks writes it)"]
    for text, why in (("", "is not a checks table: it lacks the columns region, check, status"),
                      ("region\tenergy_erg\nar1\t1e30\n", "is not a checks table: it lacks the columns region, "
                                                         "check, status"),
                      ("region\tcheck\tvalue\tlimit\tstatus\tmeaning\n", "has no rows: no region's checks to report")):
        checks.write_text(text)
        assert main(["failures", "--checks", str(checks)]) == 2
        assert capsys.readouterr().err.strip().splitlines() == [f"ffnn failures: error: --checks {checks} {why}"]
