"""Potential fields: a buried dipole against its closed form; faces against the full cube."""

import numpy as np
import pytest
import xarray as xr

from ffnn.io.box import FACES
from ffnn.util.errors import DataError
from ffnn.field.potential import potential_cube, potential_faces

DEPTH = 0.25  # dipole below the surface (box units)


def dipole(x, y, z, m=(0.3, 0.0, 1.0)):
    """Field of a point dipole at (0, 0, -DEPTH): a potential field in z > -DEPTH."""
    r = np.stack(np.broadcast_arrays(x, y, z + DEPTH))
    rn = np.linalg.norm(r, axis=0)
    m = np.asarray(m)[:, None, None] if r.ndim == 3 else np.asarray(m).reshape(3, *([1] * (r.ndim - 1)))
    mr = (m * r).sum(axis=0)
    return (3 * r * mr / rn ** 5 - m / rn ** 3)


def bottom(n=96, half=2.0, height=1.0):
    x = y = np.linspace(-half, half, n)
    X, Y = np.meshgrid(x, y, indexing="ij")
    b = dipole(X, Y, np.zeros_like(X))
    return xr.Dataset({c: (("x", "y"), b[i]) for i, c in enumerate(("Bx", "By", "Bz"))},
                      coords={"x": x, "y": y}, attrs={"height_mm": height})


@pytest.mark.parametrize("method", ["fft", "green"])
def test_buried_dipole_matches_closed_form(method):
    b = bottom()
    pf = potential_cube(b, method=method, nz=11)
    X, Y, Z = np.meshgrid(pf.x, pf.y, pf.z, indexing="ij")
    exact = dipole(X, Y, Z)
    # above the first layers the discretised source is a good stand-in for the point dipole;
    # the flux outside the finite map is the main error left
    sel = pf.z.values >= 0.2
    got = np.stack([pf[c].values for c in ("Bx", "By", "Bz")])[..., sel]
    scale = np.abs(exact[..., sel]).max()
    assert np.abs(got - exact[..., sel]).max() < 0.02 * scale


def test_green_bottom_layer_reproduces_map():
    b = bottom(n=32)
    pf = potential_cube(b, method="green", nz=3)
    np.testing.assert_allclose(pf.Bz.isel(z=0).values, b.Bz.values, atol=1e-9 * float(abs(b.Bz).max()))


@pytest.mark.parametrize("method", ["fft", "green"])
def test_faces_match_cube(method):
    b = bottom(n=24).isel(y=slice(0, 20))
    pf = potential_cube(b, method=method)
    faces = potential_faces(b, method=method)
    assert set(np.unique(faces.face.values)) == {FACES[f] for f in ("top", "x_min", "x_max", "y_min", "y_max")}
    assert faces.z.values.min() > 0  # the bottom is observed data, not a potential face
    at = {c: xr.DataArray(faces[c].values, dims="p") for c in ("x", "y", "z")}
    for c in ("Bx", "By", "Bz"):
        np.testing.assert_allclose(faces[c].values, pf[c].sel(**at, method="nearest").values,
                                   atol=1e-5 * float(abs(pf[c]).max()))
    # each face point once: as many as the cube's boundary minus its bottom layer
    nx, ny, nz = pf.sizes["x"], pf.sizes["y"], pf.sizes["z"]
    assert faces.sizes["point"] == nx * ny * nz - (nx - 2) * (ny - 2) * (nz - 2) - nx * ny


def test_nan_pixels_and_bad_maps():
    b = bottom(n=16)
    b["Bz"][3:5, 3:5] = np.nan
    pf = potential_cube(b, nz=4)
    assert np.isfinite(pf.Bz.values).all()
    b["Bz"][:] = np.nan
    with pytest.raises(DataError, match="no finite pixel"):
        potential_cube(b, nz=4)
    with pytest.raises(DataError, match="unknown potential-field method"):
        potential_cube(bottom(n=8), method="magic")


def test_fewer_than_three_heights_are_refused(tmp_path, capsys):
    """--nz 0 or 1 was an IndexError, --nz -3 a ValueError of numpy."""
    from ffnn import cli

    for nz in (0, 1, 2):
        with pytest.raises(DataError, match=f"at least 3 heights \\(nz\\), got {nz}"):
            potential_faces(bottom(n=8), nz=nz)
    bottom(n=8).to_netcdf(tmp_path / "b.nc")
    for nz in ("0", "1", "-3"):
        with pytest.raises(SystemExit) as exit_:
            cli.main(["potential", str(tmp_path / "b.nc"), "-o", str(tmp_path / "p.nc"), "--nz", nz])
        assert exit_.value.code == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == (
            f"ffnn potential: error: argument --nz: must be an integer >= 3, not {nz}")
    assert not (tmp_path / "p.nc").exists()
