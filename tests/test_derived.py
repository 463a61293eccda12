"""Derived products (ffnn.analysis.fieldlines, ffnn.analysis.derived, ffnn.products.export, ``ffnn derived``/``export``).

Analytic checks (Titov, Hornig & Demoulin 2002; Berger & Prior 2006): a uniform field has Q = 2 and Tw = 0; an inclined
uniform field has Q = bz/bx + bx/bz on the lines leaving through a side (the boundary-plane
Q of Pariat & Demoulin 2012 between faces at right angles); a Gold-Hoyle flux tube (uniform
twist) and a linear force-free arcade have known alpha and Tw; the Q of a potential field of
two dipoles matches an independent scipy ODE integration of the analytic field. Then the
file itself: CF attributes and UDUNITS units (parsed by cf_units), the VTK export read back
by meshio, the FITS maps opened by sunpy with the right coordinates, the summary columns,
the commands and the Snakemake rules.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from scipy.integrate import solve_ivp

from ffnn.cli import main
from ffnn.field.cube import make_cube
from ffnn.util.files import write_netcdf
from ffnn.analysis.derived import (SUMMARY, DerivedSettings, bottom_mapping, derived_dataset, footpoint_wcs,
                          summary_values)
from ffnn.util.errors import ConfigError, DataError
from ffnn.analysis.fieldlines import FACE_CODES, UNFINISHED, FieldGrid, trace
from ffnn.io.wcs import binned, heliographic_grid

REPO = Path(__file__).resolve().parents[1]


def cube_of(fn, x, y, z, attrs=None):
    X, Y, Z = np.meshgrid(x, y, z, indexing="ij")
    bx, by, bz = fn(X, Y, Z)
    return make_cube({"Bx": bx, "By": by, "Bz": bz}, x, y, z, attrs=attrs)


def unit_box(n=17, zmax=2.0, nz=None):
    return np.linspace(-1, 1, n), np.linspace(-1, 1, n), np.linspace(0, zmax, nz or n)


def uniform(bx=0.0, by=0.0, bz=1.0):
    return lambda X, Y, Z: (bx + 0 * X, by + 0 * X, bz + 0 * X)


# ---------------------------------------------------------------- tracing


def test_lines_end_exactly_on_the_face_they_cross():
    # B = (1, 0, -(1 + 3 z^2)): dz/dx = -(1 + 3 z^2), so a line from (x0, y, z0) reaches
    # the bottom at x0 + atan(sqrt(3) z0)/sqrt(3). The field is not linear in z: a line
    # about to cross the bottom must not read the field of the top of the box (streamtracer
    # looks positions below the grid up in its last cell; the grid is padded for that).
    cube = cube_of(lambda X, Y, Z: (1 + 0 * X, 0 * X, -(1 + 3 * Z ** 2)), *unit_box(33, 1.0))
    grid = FieldGrid.from_cube(cube)
    z0 = np.array([0.2, 0.5, 0.8])
    seeds = np.stack([np.full(3, -0.9), np.zeros(3), z0], axis=1)
    lines = trace(grid, seeds, 1, keep_points=True)
    expected = -0.9 + np.arctan(np.sqrt(3) * z0) / np.sqrt(3)
    assert np.all(lines.face == FACE_CODES["bottom"])
    assert np.all(lines.end[:, 2] == 0.0)
    assert np.allclose(lines.end[:, 0], expected, atol=2e-3)
    for line, end in zip(lines.points, lines.end):
        assert np.array_equal(line[-1], end) and np.all(line[:, 2] >= 0)
    # the other way the lines leave through the top or x_min; against B from the bottom at once
    back = trace(grid, seeds, -1)
    assert set(back.face) <= {FACE_CODES["top"], FACE_CODES["x_min"]}
    on_bottom = trace(grid, [[0.0, 0.0, 0.0]], 1, keep_points=True)
    assert on_bottom.face[0] == FACE_CODES["bottom"] and len(on_bottom.points[0]) == 1
    assert on_bottom.length[0] == 0.0


def test_long_lines_are_continued_and_integrals_follow_them():
    # helix B = (-y, x, 1): lines of radius r climb 2 over a length 2 sqrt(1 + r^2), much
    # longer than one streamtracer buffer at a tiny step
    cube = cube_of(lambda X, Y, Z: (-Y, X, 1 + 0 * X), *unit_box(17))
    grid = FieldGrid.from_cube(cube)
    ones = np.ones(grid.padded.shape[:3])[1:-1, 1:-1, 1:-1]
    lines = trace(grid, [[0.5, 0.0, 0.0], [0.0, 0.3, 0.0]], 1, step=0.004, integrand=ones)
    r = np.array([0.5, 0.3])
    length = 2 * np.sqrt(1 + r ** 2)
    assert np.all(lines.face == FACE_CODES["top"])
    assert np.allclose(lines.length, length, rtol=1e-3)
    assert np.allclose(lines.integral, lines.length, rtol=1e-9)
    assert np.allclose(np.hypot(lines.end[:, 0], lines.end[:, 1]), r, atol=1e-3)
    # a cap on the length leaves them unfinished
    short = trace(grid, [[0.5, 0.0, 0.0]], 1, step=0.004, max_length=1.0)
    assert short.face[0] == UNFINISHED and short.length[0] == pytest.approx(1.0, abs=0.01)


def test_nan_field_stops_a_line_unfinished_and_bad_seeds_are_refused():
    cube = cube_of(lambda X, Y, Z: (0 * X, 0 * X, np.where(Z > 1.0, np.nan, 1.0)), *unit_box(9))
    grid = FieldGrid.from_cube(cube)
    lines = trace(grid, [[0.0, 0.0, 0.0]], 1)
    assert lines.face[0] == UNFINISHED and 0.7 < lines.end[0, 2] <= 1.0
    with pytest.raises(DataError, match="outside the box"):
        trace(grid, [[0.0, 0.0, -0.5]])
    with pytest.raises(DataError, match="step"):
        trace(grid, [[0.0, 0.0, 0.0]], step=1.0)


def test_a_line_into_a_null_stays_unfinished_instead_of_tracing_for_ever():
    # B = -(x, y, z - 1) runs into a null at (0, 0, 1): streamtracer's steps shrink to nothing
    # there and it returns a full buffer of the same point, call after call
    import signal

    cube = cube_of(lambda X, Y, Z: (-X, -Y, 1.0 - Z), *unit_box(9))
    grid = FieldGrid.from_cube(cube)

    def hang(*_):
        raise TimeoutError("trace does not return")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(60)
    try:
        lines = trace(grid, [[0.3, 0.2, 1.1], [0.3, 0.2, 1.1]], [1, -1])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert lines.face[0] == UNFINISHED and np.allclose(lines.end[0], [0.0, 0.0, 1.0], atol=0.1)
    assert lines.length[0] < 0.5
    assert lines.face[1] != UNFINISHED  # away from the null: out of the box


def test_streamtracer_class_and_compiled_core_give_the_same_lines(monkeypatch):
    from ffnn.analysis import fieldlines

    cube = cube_of(dipoles, *unit_box(17, 1.0))
    grid = FieldGrid.from_cube(cube)
    seeds = np.stack(np.meshgrid(np.linspace(-0.8, 0.8, 5), np.linspace(-0.8, 0.8, 5), [0.0],
                                 indexing="ij"), axis=-1).reshape(-1, 3)
    sign = np.sign(grid.field_at(seeds)[:, 2])
    ones = np.ones(cube["Bx"].shape)
    core = trace(grid, seeds, sign, keep_points=True, integrand=ones, max_length=1.0)
    assert fieldlines._compiled_core() is not None
    monkeypatch.setattr(fieldlines, "_compiled_core", lambda: None)
    public = trace(grid, seeds, sign, keep_points=True, integrand=ones, max_length=1.0)
    assert np.array_equal(core.face, public.face) and (core.face == UNFINISHED).any()
    assert np.allclose(core.end, public.end) and np.allclose(core.integral, public.integral)
    assert all(np.allclose(a, b) for a, b in zip(core.points, public.points))


# ---------------------------------------------------------------- analytic checks


def test_uniform_field_has_q_two_and_no_twist():
    ds = derived_dataset(cube_of(uniform(bz=200.0), *unit_box(13)), DerivedSettings(slice_every=1))
    assert np.all(ds["end_face"].values == FACE_CODES["top"])
    assert np.allclose(10 ** ds["log10_q"].values, 2.0, rtol=1e-9)
    assert np.allclose(ds["twist"].values, 0.0, atol=1e-12)
    assert np.allclose(ds["alpha"].values, 0.0) and np.allclose(ds["current_helicity"].values, 0.0)
    q_slice = 10 ** ds["log10_q_slice"].values
    inner = q_slice[1:-1, 1:-1]  # the rim is NaN: auxiliary starts would leave the box
    assert np.isfinite(inner).all() and np.allclose(inner, 2.0, rtol=1e-9)
    assert float(ds["qsl_area"]) == 0.0 and float(ds["max_abs_twist"]) == 0.0


def test_inclined_uniform_field_q_on_top_and_on_a_side_face():
    bx, bz = 0.5, 1.0
    ds = derived_dataset(cube_of(uniform(bx=bx, bz=bz), *unit_box(17)), DerivedSettings(slice=False))
    face = ds["end_face"].values
    q = 10 ** ds["log10_q"].values
    top, side = face == FACE_CODES["top"], face == FACE_CODES["x_max"]
    assert top.any() and side.any() and np.all(top | side)
    assert np.allclose(q[top], 2.0, rtol=1e-9)
    # (x, y) on the bottom -> (y, z) on x_max: D = [[0, 1], [-bz/bx, 0]], Bn1/Bn2 = bz/bx;
    # footpoints on the x_max edge leave at once (length 0): no Q
    edge = np.isclose(ds["x_foot"].values, 1.0)[:, None] & np.ones(face.shape, bool)
    assert np.allclose(q[side & ~edge], bz / bx + bx / bz, rtol=1e-9)
    assert np.isnan(q[edge]).all()
    assert np.allclose(ds["end_x"].values[side], 1.0)
    assert np.allclose(ds["twist"].values, 0.0, atol=1e-12)


def test_gold_hoyle_flux_tube_alpha_twist_and_q():
    # uniformly twisted force-free tube: B_phi = b r/(1 + b^2 r^2), B_z = 1/(1 + b^2 r^2);
    # alpha = 2b/(1 + b^2 r^2); every line turns by b per unit height, so over the height H
    # Tw(r) = b H / (2 pi sqrt(1 + b^2 r^2)) and the bottom-to-top mapping is a rotation (Q = 2)
    b, height = 2.0, 4.0

    def tube(X, Y, Z):
        den = 1 + b * b * (X ** 2 + Y ** 2)
        return -b * Y / den, b * X / den, 1 / den

    x = np.linspace(-1, 1, 41)
    ds = derived_dataset(cube_of(tube, x, x, np.linspace(0, height, 81)), DerivedSettings(slice=False))
    X, Y, _ = np.meshgrid(ds["x"], ds["y"], ds["z"], indexing="ij")
    alpha_true = 2 * b / (1 + b * b * (X ** 2 + Y ** 2))
    core = np.hypot(X, Y) < 0.8
    assert np.abs(ds["alpha"].values[core] / alpha_true[core] - 1).max() < 0.02
    XF, YF = np.meshgrid(ds["x_foot"], ds["y_foot"], indexing="ij")
    r = np.hypot(XF, YF)
    tw_true = b * height / (2 * np.pi * np.sqrt(1 + b * b * r ** 2))
    lines = (r < 0.8) & (ds["end_face"].values == FACE_CODES["top"])
    assert lines.sum() > 500
    assert np.abs(ds["twist"].values[lines] / tw_true[lines] - 1).max() < 0.02
    assert ds["twist"].values[lines].max() > 1.2  # a flux rope: |Tw| > 1 on the axis
    assert np.allclose(10 ** ds["log10_q"].values[lines], 2.0, rtol=0.05)
    # summary: the strong-field footpoints are the tube's core (|Bz| >= 0.5 => b r <= 1)
    s = summary_values(ds["twist"].values, ds["log10_q"].values, ds["bz"].values,
                       ds["end_face"].values, 0.05 * 0.05, strong_field=0.5)
    assert s["max_abs_twist"] == pytest.approx(b * height / (2 * np.pi), rel=0.02)
    assert s["twisted_flux"] > 0


def test_linear_force_free_arcade_alpha_and_twist():
    # B = (l/k sin kx, alpha/k sin kx, cos kx) e^(-l z), l^2 = k^2 - alpha^2: curl B = alpha B.
    # The line from x0 returns to the bottom at x1 = pi/k - x0, shifted in y by
    # (alpha/l)(x1 - x0), after a length L = ln(tan(k x1/2)/tan(k x0/2))/l (ds/dx = k/(l sin kx));
    # Tw = alpha L/(4 pi).
    k = np.pi
    alpha = 0.9 * k
    el = np.sqrt(k * k - alpha * alpha)

    def arcade(X, Y, Z):
        e = np.exp(-el * Z)
        return el / k * np.sin(k * X) * e, alpha / k * np.sin(k * X) * e, np.cos(k * X) * e

    cube = cube_of(arcade, np.linspace(-1, 1, 41), np.linspace(-1.5, 1.5, 61), np.linspace(0, 1.5, 31))
    ds = derived_dataset(cube, DerivedSettings(slice=False))
    assert np.abs(ds["alpha"].values / alpha - 1).max() < 0.02
    X, Y = np.meshgrid(ds["x_foot"], ds["y_foot"], indexing="ij")
    closed = (X >= 0.1) & (X <= 0.4) & (Y <= -0.8)
    assert np.all(ds["end_face"].values[closed] == FACE_CODES["bottom"])
    x1 = np.pi / k - X[closed]
    length = np.log(np.tan(k * x1 / 2) / np.tan(k * X[closed] / 2)) / el
    assert np.allclose(ds["end_x"].values[closed], x1, atol=2e-3)
    assert np.allclose(ds["end_y"].values[closed], Y[closed] + alpha / el * (x1 - X[closed]), atol=2e-3)
    assert np.abs(ds["line_length"].values[closed] / length - 1).max() < 0.01
    assert np.abs(ds["twist"].values[closed] / (alpha * length / (4 * np.pi)) - 1).max() < 0.02


DIPOLES = (((-0.35, 0.0, -0.45), (1.0, 0.0, 0.0)), ((0.4, 0.2, -0.5), (0.3, -1.0, 0.0)))


def dipoles(X, Y, Z):
    """Potential field of two point dipoles below the bottom (moments DIPOLES)."""
    out = np.zeros((3,) + np.shape(X))
    for r0, m in DIPOLES:
        d = np.stack([X - r0[0], Y - r0[1], Z - r0[2]])
        r = np.sqrt((d * d).sum(axis=0))
        mr = sum(m[i] * d[i] for i in range(3))
        for i in range(3):
            out[i] += 3 * mr * d[i] / r ** 5 - m[i] / r ** 3
    return out


def _ode_end(p, sign, lo, hi):
    """End point and face code of the line from ``p`` in the analytic dipole field
    (scipy's DOP853 at rtol 1e-11, stopped by events on the six faces)."""
    faces = {(0, 0): 2, (0, 1): 3, (1, 0): 4, (1, 1): 5, (2, 0): 0, (2, 1): 1}
    events = []
    for (axis, side), code in faces.items():
        def event(t, r, axis=axis, bound=(lo, hi)[side][axis]):
            return r[axis] - bound
        event.terminal, event.direction = True, (-1.0 if side == 0 else 1.0)
        events.append((event, code))

    def rhs(t, r):
        b = dipoles(*r)
        return sign * b / np.linalg.norm(b)

    sol = solve_ivp(rhs, (0, 50), p, method="DOP853", events=[e for e, _ in events], rtol=1e-11,
                    atol=1e-12, first_step=1e-6)
    hits = [(t, y, code) for (_, code), ts, ys in zip(events, sol.t_events, sol.y_events)
            for t, y in zip(ts, ys) if t > 1e-7]
    t, y, code = min(hits, key=lambda h: h[0])
    return y, code


def _ode_q(x0, y0, h, lo, hi):
    """Q at footpoint (x0, y0) by central differences over +-h of the ODE mapping; NaN
    where the four neighbours do not end on the centre's face (not smooth over h)."""
    from ffnn.analysis.fieldlines import FACE_AXIS, FACE_UV

    b0 = dipoles(x0, y0, 0.0)
    sign = np.sign(b0[2])
    end, face = _ode_end(np.array([x0, y0, 0.0]), sign, lo, hi)
    uv = []
    for dx, dy in ((h, 0), (-h, 0), (0, h), (0, -h)):
        e, f = _ode_end(np.array([x0 + dx, y0 + dy, 0.0]), sign, lo, hi)
        if f != face:
            return np.nan
        uv.append(e[list(FACE_UV[face])])
    ac, bd = (uv[0] - uv[1]) / (2 * h), (uv[2] - uv[3]) / (2 * h)
    return float(np.sum(ac ** 2) + np.sum(bd ** 2)) * abs(dipoles(*end)[FACE_AXIS[face]]) / abs(b0[2])


def test_q_of_two_dipoles_matches_an_independent_ode_integration():
    x = np.linspace(-1, 1, 61)
    z = np.linspace(0, 1.5, 46)
    settings = DerivedSettings(slice=False)
    ds = derived_dataset(cube_of(dipoles, x, x, z), settings)
    q = 10 ** ds["log10_q"].values
    bz = ds["bz"].values
    assert np.nanmax(ds["log10_q"].values) > 3  # the configuration has QSLs
    assert set(np.unique(ds["end_face"].values)) >= {0, 1, 2}  # closed and open lines
    strong = np.argwhere(np.isfinite(q) & (np.abs(bz) > 0.1 * np.abs(bz).max()))
    pick = strong[np.random.default_rng(1).choice(len(strong), 40, replace=False)]
    h = settings.delta * (x[1] - x[0])  # the same offset as the grid's auxiliary lines
    lo, hi = np.array([-1.0, -1.0, 0.0]), np.array([1.0, 1.0, 1.5])
    rel = []
    for i, j in pick:
        ref = _ode_q(ds["x_foot"].values[i], ds["y_foot"].values[j], h, lo, hi)
        if np.isfinite(ref):
            rel.append(q[i, j] / ref - 1)
    rel = np.abs(rel)
    assert len(rel) >= 30
    assert np.median(rel) < 0.02 and rel.max() < 0.1, np.sort(rel)


def test_short_loops_on_inversion_lines_have_no_q():
    # on the inversion lines the loops are shorter than the span of their auxiliary lines,
    # which then straddle both ends (Q can come out below 2): Q is left undefined there
    ds = derived_dataset(cube_of(dipoles, *unit_box(25, 1.0)), DerivedSettings(slice=False))
    finite = np.isfinite(ds["log10_q"].values)
    short = ds["line_length"].values < 2 * 0.25 * (2 / 24)
    assert short.sum() >= 5 and not finite[short].any()
    assert finite[~short].mean() > 0.95
    assert ds.attrs["undefined_q_fraction"] == pytest.approx(1 - finite.mean())


# ---------------------------------------------------------------- the file


def sharp_wcs(nx, ny):
    """WCS attributes of a synthetic SHARP CEA map of nx x ny pixels (as tests/jsoc_server)."""
    from tests.jsoc_server import segment_header, sharp_keywords

    keywords = sharp_keywords(377, "2011.02.14_20:00:00_TAI", "11158", nx=nx, ny=ny)
    return binned(segment_header(keywords, "Br", nx, ny), 1)


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    """A small dipole region with a SHARP WCS: cube.nc, boundary.nc and derived.nc (oversample 2)."""
    tmp = tmp_path_factory.mktemp("region")
    nx, ny = 17, 13
    dx = 0.03 * np.pi / 180 * 696.0
    x = (np.arange(nx) - (nx - 1) / 2) * dx
    y = (np.arange(ny) - (ny - 1) / 2) * dx
    z = np.arange(9) * dx
    scale = 2.0 / (x[-1] - x[0])
    attrs = sharp_wcs(nx, ny)
    cube = cube_of(lambda X, Y, Z: 100 * dipoles(X * scale, Y * scale, Z * scale), x, y, z, attrs)
    bottom = cube[["Bx", "By", "Bz"]].isel(z=0, drop=True)
    bottom.attrs.update(attrs, height_mm=float(z[-1]))
    write_netcdf(cube, tmp / "cube.nc")
    write_netcdf(bottom, tmp / "boundary.nc")
    rc = main(["derived", str(tmp / "cube.nc"), "--boundary", str(tmp / "boundary.nc"), "-o",
               str(tmp / "derived.nc"), "--figures", str(tmp / "fig"), "--oversample", "2",
               "--dpi", "40", "--threads", "1"])
    assert rc == 0
    return tmp


def test_derived_file_is_cf_with_udunits_units(region):
    import cf_units

    ds = xr.open_dataset(region / "derived.nc")
    assert ds.attrs["Conventions"] == "CF-1.8"
    assert ds.sizes["x_foot"] == 33 and ds.sizes["y_foot"] == 25  # oversample 2
    for name in list(ds.data_vars) + list(ds.coords):
        units = ds[name].attrs.get("units")
        if name == "end_face":
            assert units is None  # flags carry no unit
            continue
        assert units is not None, name
        cf_units.Unit(units)  # raises on anything UDUNITS cannot parse (e.g. "G")
        assert ds[name].attrs.get("long_name"), name
    assert ds["current_helicity"].attrs["units"] == "gauss2 Mm-1"
    flags = ds["end_face"]
    meanings = flags.attrs["flag_meanings"].split()
    assert dict(zip(meanings, flags.attrs["flag_values"].tolist())) == FACE_CODES
    assert set(np.unique(flags.values)) <= set(FACE_CODES.values())
    for name in SUMMARY:
        assert ds[name].dims == () and np.isfinite(ds[name].values)
    assert ds["alpha"].dtype == np.float32 and ds["alpha"].encoding.get("zlib")
    assert 0 <= ds.attrs["undefined_q_fraction"] < 0.5 and ds.attrs["unfinished_line_fraction"] == 0
    assert "finite differences" in ds.attrs["current_source"]  # the cube has no J
    for name in ("twist.png", "log10_q.png", "q_slice.png"):
        assert (region / "fig" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_vtk_export_reads_back_with_meshio(region):
    import meshio

    assert main(["export", str(region / "cube.nc"), "--format", "vtk", "--derived",
                 str(region / "derived.nc"), "--outdir", str(region / "export")]) == 0
    mesh = meshio.read(region / "export" / "cube.vtk")
    cube = xr.open_dataset(region / "cube.nc")
    derived = xr.open_dataset(region / "derived.nc")
    nx, ny, nz = (cube.sizes[c] for c in ("x", "y", "z"))
    assert mesh.points.shape == (nx * ny * nz, 3)
    assert {"B", "J", "alpha"} <= set(mesh.point_data)
    rng = np.random.default_rng(0)
    for k in rng.choice(nx * ny * nz, 25, replace=False):
        px, py, pz = mesh.points[k]
        i, j, m = (int(np.argmin(np.abs(cube[c].values - p))) for c, p in zip("xyz", (px, py, pz)))
        assert np.allclose([px, py, pz], [cube[c].values[n] for c, n in zip("xyz", (i, j, m))], atol=1e-4)
        b = [float(cube[c].values[i, j, m]) for c in ("Bx", "By", "Bz")]
        assert np.allclose(mesh.point_data["B"][k], b, rtol=1e-5, atol=1e-5)
        assert np.isclose(mesh.point_data["alpha"][k, 0], derived["alpha"].values[i, j, m], rtol=1e-5)


def test_fits_maps_open_with_sunpy_at_the_right_place(region):
    import astropy.units as u
    import sunpy.map

    assert main(["export", str(region / "cube.nc"), "--format", "fits", "--derived",
                 str(region / "derived.nc"), "--outdir", str(region / "fits")]) == 0
    derived = xr.open_dataset(region / "derived.nc")
    cube = xr.open_dataset(region / "cube.nc")
    smap = sunpy.map.Map(region / "fits" / "log10_q.fits")
    assert smap.data.shape == (derived.sizes["y_foot"], derived.sizes["x_foot"])
    data = derived["log10_q"].values  # (x_foot, y_foot)
    assert np.allclose(smap.data, data.T.astype(np.float32), equal_nan=True)
    # footpoint (2i, 2j) of the oversampled grid is cube pixel (i, j): same place on the Sun
    lon, lat = heliographic_grid(cube.attrs, cube.sizes["x"], cube.sizes["y"])
    for i, j in ((0, 0), (8, 6), (16, 12), (3, 10)):
        world = smap.pixel_to_world(2 * i * u.pix, 2 * j * u.pix)
        assert world.lon.deg == pytest.approx(lon[i, j], abs=1e-6)
        assert world.lat.deg == pytest.approx(lat[i, j], abs=1e-6)
    assert footpoint_wcs(derived)["CDELT1"] == pytest.approx(cube.attrs["CDELT1"] / 2)
    tw = sunpy.map.Map(region / "fits" / "twist.fits")
    assert np.allclose(tw.data, derived["twist"].values.T, equal_nan=True)


def test_fits_export_without_a_wcs_is_one_clear_line(tmp_path, capsys):
    cube = cube_of(uniform(), *unit_box(9))
    write_netcdf(cube, tmp_path / "cube.nc")
    assert main(["derived", str(tmp_path / "cube.nc"), "-o", str(tmp_path / "d.nc"), "--no-slice"]) == 0
    capsys.readouterr()
    for formats in (["fits"], ["vtk", "fits"]):  # the VTK file too is not written: nothing half-done
        rc = main(["export", str(tmp_path / "cube.nc"), "--format", *formats, "--derived",
                   str(tmp_path / "d.nc"), "--outdir", str(tmp_path / "out")])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == 2 and err == [
            "ffnn export: error: the cube and its derived products carry no WCS (CTYPE, CRPIX, CRVAL, CDELT), "
            "so their maps cannot be placed on the Sun; FITS maps need one, e.g. a SHARP region's cube"]
        assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_derived_command_errors_name_their_cause(tmp_path, capsys):
    rc = main(["derived", str(tmp_path / "nope.nc"), "-o", str(tmp_path / "d.nc")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "nope.nc" in err[0]
    write_netcdf(cube_of(uniform(), *unit_box(9)), tmp_path / "cube.nc")
    rc = main(["derived", str(tmp_path / "cube.nc"), "-o", str(tmp_path / "d.nc"), "--figures", "f"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--boundary" in err[0]
    from ffnn.field.boundary import from_cube

    bottom = from_cube(xr.open_dataset(tmp_path / "cube.nc"))
    write_netcdf(bottom.assign_coords(x=bottom.x * 10, y=bottom.y * 10), tmp_path / "other.nc")  # around the cube
    rc = main(["derived", str(tmp_path / "cube.nc"), "-o", str(tmp_path / "d.nc"), "--boundary",
               str(tmp_path / "other.nc")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and f"--boundary {tmp_path / 'other.nc'} is not the cube's map" in err[0]
    rc = main(["derived", str(tmp_path / "cube.nc"), "-o", str(tmp_path / "d.nc"), "--slice-y", "5"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "slice y = 5" in err[0]
    assert not (tmp_path / "d.nc").exists()
    with pytest.raises(ConfigError, match="oversample"):
        DerivedSettings(oversample=0)


def test_summary_row_takes_the_derived_columns(region, tmp_path):
    from ffnn.products.summary import COLUMNS, region_row, summary_table

    derived = xr.open_dataset(region / "derived.nc")
    row = region_row("lowlou_case1", train={"final": {}}, quality={}, derived=derived)
    for column, name in (("mean_abs_tw", "mean_abs_twist"), ("max_abs_tw", "max_abs_twist"),
                         ("qsl_area_mm2", "qsl_area"), ("flux_tw_gt1_mx", "twisted_flux")):
        assert column in COLUMNS and row[column] == pytest.approx(float(derived[name]))
    assert row["qsl_area_mm2"] > 0  # the dipole pair has QSLs
    table = summary_table([row])
    assert "mean_abs_tw" in table.columns


def test_summary_row_refuses_derived_products_of_another_cube(region, tmp_path, capsys):
    """Another region's derived.nc gave this region its Tw and Q columns and flags."""
    import json

    cube = xr.open_dataset(region / "cube.nc")
    box = {f"{c}_{e}": float(getattr(cube[c], e)()) for c in "xyz" for e in ("min", "max")}
    (tmp_path / "quality.json").write_text('{"flags": []}')
    for name, b in (("train.json", box), ("other.json", {**box, "x_min": -134.8, "x_max": 134.8})):
        (tmp_path / name).write_text(json.dumps({"config": {}, "iterations": 10, "box": b}))

    def row(train, derived):
        return main(["summary-row", "--region", "r", "--train", str(tmp_path / train), "--quality",
                     str(tmp_path / "quality.json"), "--derived", str(derived), "-o", str(tmp_path / "row.json")])

    assert row("train.json", region / "derived.nc") == 0
    assert row("other.json", region / "derived.nc") == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"ffnn summary-row: error: --derived {region / 'derived.nc'} was made from another cube: its x spans "
        f"[{box['x_min']:g}, {box['x_max']:g}], the training box of --train {tmp_path / 'other.json'} "
        "[-134.8, 134.8]")
    assert row("train.json", region / "cube.nc") == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"ffnn summary-row: error: --derived {region / 'cube.nc'} is not the derived.nc of 'ffnn derived': it "
        "lacks mean_abs_twist, max_abs_twist, qsl_area, twisted_flux")

def test_failed_checks_of_the_derived_products_reach_the_flags_and_the_checks_table(region):
    """36 % of Q below 1.9 (a trained SHARP cube's, measured) was only a warning in the log."""
    from ffnn.analysis.quality import DERIVED_LIMITS
    from ffnn.products.summary import checks_table, region_row

    derived = xr.open_dataset(region / "derived.nc").assign_attrs(
        unfinished_line_fraction=0.0, undefined_q_fraction_strong_field=0.02, q_below_1p9_fraction=0.01)
    rows = [region_row("good", train={}, quality={"flags": ["sigma_j"], "sigma_j": 0.5}, derived=derived),
            region_row("bad", train={}, quality={"flags": ["sigma_j"], "sigma_j": 0.5},
                       derived=derived.assign_attrs(q_below_1p9_fraction=0.361)),
            region_row("none", train={}, quality={})]
    assert [r["flags"] for r in rows] == ["sigma_j", "sigma_j,q_below_2", "none"]
    table = checks_table(rows).set_index(["region", "check"])
    assert set(DERIVED_LIMITS) <= set(table.loc["good"].index)
    assert (table.loc["good"].loc[list(DERIVED_LIMITS), "status"] == "passed").all()
    assert tuple(table.loc[("bad", "q_below_2"), ["value", "limit", "status"]]) == (0.361, 0.05, "FAILED")
    assert table.loc[("bad", "q_below_2"), "meaning"].startswith(
        "derived: share of the defined Q values below 1.9 (Q >= 2 exactly for a divergence-free field")
    assert table.loc[("bad", "q_below_2"), "meaning"].endswith("is 0.361, above 0.05")
    assert table.loc[("none", "q_below_2"), "status"] == "not computed"


# ---------------------------------------------------------------- the rules


@pytest.mark.slow
def test_derived_and_export_rules_run_in_snakemake(region, tmp_path):
    import shutil

    import yaml

    shutil.copytree(REPO / "config", tmp_path / "config")
    base = tmp_path / "results" / "lowlou_case1"
    base.mkdir(parents=True)
    for name in ("cube.nc", "boundary.nc"):
        shutil.copy(region / name, base / name)
    (tmp_path / "run.yaml").write_text(yaml.safe_dump({
        "lowlou": {"regions": ["lowlou_case1"]}, "export": {"enabled": True},
        "derived": {"threads": 1}, "figures": {"dpi": 40}}))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile"), "--workflow-profile",
           "none", "--configfile", "config/config.yaml", "run.yaml", "--cores", "1",
           "--allowed-rules", "derived", "export", "--",
           "results/lowlou_case1/derived.nc", "results/lowlou_case1/export"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ds = xr.open_dataset(base / "derived.nc")
    assert {"twist", "log10_q", "end_face", "log10_q_slice", "alpha"} <= set(ds.data_vars)
    assert (base / "export" / "cube.vtk").stat().st_size > 0
    assert not (base / "export" / "log10_q.fits").exists()  # a Low & Lou region: no WCS, no FITS
    assert (base / "figures" / "twist.png").exists()
    assert "wrote" in (tmp_path / "logs" / "lowlou_case1" / "derived.log").read_text()


def test_bottom_mapping_of_a_tilted_uniform_field_without_alpha():
    grid = FieldGrid.from_cube(cube_of(uniform(by=0.25), *unit_box(9)))
    out = bottom_mapping(grid, np.linspace(-0.5, 0.5, 5), np.linspace(-0.5, 0.5, 5))
    assert "twist" not in out and np.allclose(out["q"], 2.0)
    assert np.allclose(out["end"][..., 1] - np.linspace(-0.5, 0.5, 5)[None, :], 0.5)


def test_derived_and_export_refuse_an_output_on_a_directory_or_a_file(tmp_path, capsys):
    """-o naming a directory was an IsADirectoryError after the tracing, --outdir naming a
    file a FileExistsError, --dpi 0 a ValueError of matplotlib: each one line, first."""
    write_netcdf(cube_of(uniform(), *unit_box(9)), tmp_path / "cube.nc")
    (tmp_path / "somedir").mkdir()
    (tmp_path / "afile").write_text("x")
    rc = main(["derived", str(tmp_path / "cube.nc"), "-o", str(tmp_path / "somedir"), "--no-slice"])
    assert rc == 2 and capsys.readouterr().err.strip().splitlines() == [
        f"ffnn derived: error: -o {tmp_path / 'somedir'} is a directory: give a file name"]
    rc = main(["export", str(tmp_path / "cube.nc"), "--outdir", str(tmp_path / "afile")])
    assert rc == 2 and capsys.readouterr().err.strip().splitlines() == [
        f"ffnn export: error: --outdir {tmp_path / 'afile'} is a file, not a directory"]
    with pytest.raises(SystemExit):
        main(["derived", str(tmp_path / "cube.nc"), "-o", str(tmp_path / "d.nc"), "--dpi", "0"])
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "ffnn derived: error: argument --dpi: must be an integer >= 1, not 0")
    assert not list((tmp_path / "somedir").iterdir()) and not (tmp_path / "d.nc").exists()


def test_end_face_fits_carries_the_key_of_its_codes(region):
    """end_face.fits (float32, -1..5) said only "face of the box where the field line
    rooted here ends": what each code means was in derived.nc's flag attributes alone."""
    import sunpy.map
    from astropy.io import fits

    assert main(["export", str(region / "cube.nc"), "--format", "fits", "--derived",
                 str(region / "derived.nc"), "--outdir", str(region / "fits_key")]) == 0
    flags = xr.open_dataset(region / "derived.nc")["end_face"]
    key = list(zip(flags.attrs["flag_values"].tolist(), flags.attrs["flag_meanings"].split()))
    assert dict((m, v) for v, m in key) == FACE_CODES
    header = fits.getheader(region / "fits_key" / "end_face.fits")
    cards = [(header[f"FLAGVAL{n}"], header[f"FLAGNAM{n}"]) for n in range(1, len(key) + 1)]
    assert cards == key and f"FLAGVAL{len(key) + 1}" not in header
    comments = [str(c) for c in header["COMMENT"]]
    assert [c for c in comments if c.startswith("end_face = ")] == [f"end_face = {v}: {m}" for v, m in key]
    assert "end_face = -1: unfinished" in comments and "end_face = 0: bottom" in comments
    data = fits.getdata(region / "fits_key" / "end_face.fits")
    assert data.dtype.kind == "i" and set(np.unique(data).tolist()) <= {v for v, _ in key}
    assert (data.T == flags.transpose("x_foot", "y_foot").values).all()
    smap = sunpy.map.Map(region / "fits_key" / "end_face.fits")
    assert [(smap.meta[f"flagval{n}"], smap.meta[f"flagnam{n}"]) for n in range(1, len(key) + 1)] == key
    # the other maps are no flags: no key
    assert "FLAGVAL1" not in fits.getheader(region / "fits_key" / "twist.fits")


def test_export_names_a_file_given_in_the_wrong_place(region, tmp_path, capsys):
    """derived.nc given as the cube said "cube lacks variable(s) ['Bx', 'By', 'Bz']", a
    bottom map "Bx has dims ('x', 'y'); a cube needs (x, y, z)", neither naming the file;
    a SHARP cube with the derived.nc of another grid "the cube and its derived products
    carry no WCS", although the cube has one."""
    cube, derived = region / "cube.nc", region / "derived.nc"

    def export(cube_path, *args):
        rc = main(["export", str(cube_path), *args, "--outdir", str(tmp_path / "out")])
        err = capsys.readouterr().err.strip().splitlines()
        assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
        return rc, err

    assert export(derived, "--format", "vtk") == (2, [
        f"ffnn export: error: cube {derived} holds derived products of 'ffnn derived' (alpha, twist, log10_q, ...), "
        "not a cube (Bx, By, Bz on x, y, z): give the cube they were made from"])
    assert export(region / "boundary.nc", "--format", "vtk") == (2, [
        f"ffnn export: error: cube {region / 'boundary.nc'} is a bottom map (Bx, By, Bz on x, y), "
        "not a cube (Bx, By, Bz on x, y, z)"])
    assert export(cube, "--format", "vtk", "--derived", str(cube)) == (2, [
        f"ffnn export: error: --derived {cube} lacks alpha: not the derived.nc of 'ffnn derived' (it is a cube)"])
    # the derived products of another cube (no WCS, another grid) with the SHARP cube
    write_netcdf(cube_of(uniform(), *unit_box(9)), tmp_path / "other.nc")
    assert main(["derived", str(tmp_path / "other.nc"), "-o", str(tmp_path / "other_derived.nc"), "--no-slice"]) == 0
    capsys.readouterr()
    x = xr.open_dataset(cube)["x"].values
    for formats in (["fits"], ["vtk"], ["vtk", "fits"]):
        assert export(cube, "--format", *formats, "--derived", str(tmp_path / "other_derived.nc")) == (2, [
            f"ffnn export: error: --derived {tmp_path / 'other_derived.nc'} is on another grid: axis x has 9 points "
            f"[-1, 1] vs the cube's 17 points [{x.min():g}, {x.max():g}]: it was made from another cube than "
            f"the cube {cube}"])
    # on the cube's grid but without its WCS
    xr.load_dataset(derived).drop_attrs().to_netcdf(tmp_path / "no_wcs.nc")
    assert export(cube, "--format", "fits", "--derived", str(tmp_path / "no_wcs.nc")) == (2, [
        f"ffnn export: error: --derived {tmp_path / 'no_wcs.nc'} carries no WCS (CTYPE, CRPIX, CRVAL, CDELT) though "
        f"the cube {cube} has one: made from another cube, so its maps cannot be placed on the Sun"])
    assert main(["export", str(cube), "--format", "vtk", "--derived", str(tmp_path / "no_wcs.nc"),
                 "--outdir", str(tmp_path / "vtk")]) == 0  # VTK needs no WCS
    # on the cube's grid, with its WCS, but of another field (a Low & Lou case's for another's)
    ds = xr.load_dataset(derived)
    write_netcdf(ds.assign(bz=-ds["bz"]), tmp_path / "other_field.nc")
    rc, err = export(cube, "--format", "vtk", "fits", "--derived", str(tmp_path / "other_field.nc"))
    assert rc == 2 and len(err) == 1 and err[0].startswith(
        f"ffnn export: error: --derived {tmp_path / 'other_field.nc'} was made from another cube than the cube "
        f"{cube}: its footpoints' bz differs from the cube's bottom Bz by up to ")
