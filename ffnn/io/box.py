"""The box above a bottom map: the names of boundary variables and faces, the box's
extent in Mm, and the unit coordinates training uses.

The box [x_min, x_max] x [y_min, y_max] x [z_min, z_max] (Mm) maps to unit coordinates
((x - xc)/l0, (y - yc)/l0, (z - z_min)/l0) with l0 = max(half-width x, half-width y, height),
so the domain lies inside [-1, 1] x [-1, 1] x [0, 2], the FFNN method paper's unit domain
(docs page "The method", docs/explanation/method.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import xarray as xr

from ffnn.util.errors import DataError

FACES = {"bottom": 0, "top": 1, "x_min": 2, "x_max": 3, "y_min": 4, "y_max": 5}
SOURCES = {"observed": 0, "potential": 1}
BOX_KEYS = ("x_min", "x_max", "y_min", "y_max", "z_min", "z_max")
COMPONENTS = ("Bx", "By", "Bz")
ERRORS = ("Bx_err", "By_err", "Bz_err")


@dataclass(frozen=True)
class UnitBox:
    """The physical box and its map to the network's unit coordinates.

    Parameters
    ----------
    x_min, x_max, y_min, y_max, z_min, z_max : float
        The box's extent in Mm (x west and y north from the map's centre, z up).

    Attributes
    ----------
    l0 : float
        The unit length in Mm: max(half-width in x, half-width in y, height).
    centre : tuple of float
        The origin of unit coordinates (Mm): the centre of the bottom face.

    Notes
    -----
    Unit coordinates are ((x - xc)/l0, (y - yc)/l0, (z - z_min)/l0), inside
    [-1, 1] x [-1, 1] x [0, 2]; derivatives in unit coordinates are l0 times the physical
    ones. B is not rescaled.
    """

    x_min: float
    x_max: float
    y_min: float
    y_max: float
    z_min: float
    z_max: float

    @classmethod
    def from_attrs(cls, attrs) -> "UnitBox":
        """Read the box from dataset attributes ``x_min`` ... ``z_max`` (Mm)."""
        missing = [k for k in BOX_KEYS if k not in attrs]
        if missing:
            raise DataError(f"boundary data lacks box attribute(s) {missing}")
        box = cls(**{k: float(attrs[k]) for k in BOX_KEYS})
        if not (box.x_min < box.x_max and box.y_min < box.y_max and box.z_min < box.z_max):
            raise DataError(f"empty box {asdict(box)}")
        return box

    @property
    def l0(self) -> float:
        """The unit length in Mm."""
        return max((self.x_max - self.x_min) / 2, (self.y_max - self.y_min) / 2, self.z_max - self.z_min)

    @property
    def centre(self) -> tuple[float, float, float]:
        """The origin of unit coordinates (Mm): centre of the bottom face."""
        return ((self.x_min + self.x_max) / 2, (self.y_min + self.y_max) / 2, self.z_min)

    def to_unit(self, x, y, z) -> np.ndarray:
        """Physical points (Mm, arrays of one shape) as unit coordinates, shape (n, 3)."""
        c = self.centre
        return np.stack([(np.ravel(v) - c[i]) / self.l0 for i, v in enumerate((x, y, z))], axis=1)

    def unit_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper corners of the box in unit coordinates, each shape (3,)."""
        lo = self.to_unit(self.x_min, self.y_min, self.z_min)[0]
        hi = self.to_unit(self.x_max, self.y_max, self.z_max)[0]
        return lo, hi


def box_of_map(ds: xr.Dataset) -> dict[str, float]:
    """The box above a bottom map.

    Parameters
    ----------
    ds : `xarray.Dataset`
        A bottom map: coordinates ``x``, ``y`` (Mm), attribute ``height_mm``.

    Returns
    -------
    dict of str to float
        ``x_min``, ``x_max``, ``y_min``, ``y_max`` (the outer pixel centres), ``z_min`` = 0
        and ``z_max`` = ``height_mm``, in Mm.

    Raises
    ------
    ffnn.util.errors.DataError
        When the map has no ``height_mm``.
    """
    if "height_mm" not in ds.attrs:
        raise DataError("bottom map has no 'height_mm' attribute (box height in Mm)")
    x, y = ds["x"].values, ds["y"].values
    return dict(x_min=float(x.min()), x_max=float(x.max()), y_min=float(y.min()),
                y_max=float(y.max()), z_min=0.0, z_max=float(ds.attrs["height_mm"]))


def map_box_attrs(x, y, height_mm: float) -> dict[str, float]:
    """The box attributes of a bottom map on x, y (Mm): ``height_mm`` and ``l0_mm``, the
    unit length as training computes it (:class:`ffnn.io.box.UnitBox`)."""
    box = UnitBox(float(np.min(x)), float(np.max(x)), float(np.min(y)), float(np.max(y)), 0.0, float(height_mm))
    return {"height_mm": box.z_max, "l0_mm": box.l0}
