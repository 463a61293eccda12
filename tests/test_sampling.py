"""Height weighting of the loss: the boundary's field-strength profile and its weights."""

import numpy as np
from ffnn.field.boundary import cube_faces
from ffnn.analysis.lowlou import lowlou_cube
from ffnn.io.box import UnitBox
from ffnn.field.sampling import boundary_arrays, height_profile, height_weights


def samples(faces):
    boundary = cube_faces(lowlou_cube(shape=(12, 12, 12)), faces)
    box = UnitBox.from_attrs(boundary.attrs)
    bd = boundary_arrays(boundary, box)
    return bd.xyz, bd.target, bd.mask


def test_profile_follows_the_side_faces_not_the_bottom():
    xb, tb, mb = samples(("bottom", "top", "x_min", "x_max", "y_min", "y_max"))
    knots, rms = height_profile(xb, tb, mb)
    assert knots[0] > 0 and np.all(np.diff(knots) > 0)
    # the Low & Lou field falls off with height; the profile must show it
    assert rms[0] > 4 * rms[-1] and np.all(np.diff(rms) < 0)
    # the bottom face (the active region's core) does not enter it
    stronger = tb.copy()
    stronger[xb[:, 2] == xb[:, 2].min()] *= 100
    np.testing.assert_array_equal(height_profile(xb, stronger, mb)[1], rms)


def test_weights_are_relative_to_the_lowest_knot():
    xb, tb, mb = samples(("bottom", "top", "x_min", "x_max", "y_min", "y_max"))
    profile = height_profile(xb, tb, mb)
    knots, rms = profile
    z = np.array([0.0, knots[0], knots[-1], 5.0])
    np.testing.assert_allclose(height_weights(z, profile, 0.0), 1.0)
    w = height_weights(z, profile, 1.0)
    np.testing.assert_allclose(w[:2], 1.0)
    np.testing.assert_allclose(w[2:], (rms[0] / rms[-1]) ** 2)
    np.testing.assert_allclose(height_weights(z, profile, 0.5), np.sqrt(w))


def test_bottom_map_alone_gives_flat_weights():
    xb, tb, mb = samples(("bottom",))
    profile = height_profile(xb, tb, mb)
    np.testing.assert_allclose(height_weights(np.linspace(0, 1, 7), profile, 1.0), 1.0)
