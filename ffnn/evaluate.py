"""Evaluate a trained network on a grid: B, J = curl B and div B as a NetCDF-ready cube."""

from __future__ import annotations

import json

import numpy as np
import torch
import xarray as xr

from ffnn import __version__
from ffnn.cube import make_cube
from ffnn.model import FFNN, curl_div
from ffnn.sampling import UnitBox


def evaluate_points(model: FFNN, box: UnitBox, x, y, z, chunk: int = 16384):
    """B (G), curl B and div B (G/Mm) at physical points (Mm, equal-shape arrays).

    Returns three arrays of shape (3, *x.shape), (3, *x.shape), x.shape. Points go through
    the network ``chunk`` at a time, so memory is bounded whatever the grid size.
    """
    shape = np.shape(x)
    unit = box.to_unit(x, y, z)
    p = next(model.parameters())
    out_b = np.empty((unit.shape[0], 3))
    out_j = np.empty((unit.shape[0], 3))
    out_d = np.empty(unit.shape[0])
    for start in range(0, unit.shape[0], chunk):
        xs = torch.as_tensor(unit[start:start + chunk], dtype=p.dtype, device=p.device)
        with torch.no_grad():
            b, jac = model.field_and_jacobian(xs)
            curl, div = curl_div(jac)
        sl = slice(start, start + xs.shape[0])
        out_b[sl] = b.cpu().numpy()
        out_j[sl] = curl.cpu().numpy() / box.l0  # unit-coordinate derivatives -> per Mm
        out_d[sl] = div.cpu().numpy() / box.l0
    return (out_b.T.reshape((3, *shape)), out_j.T.reshape((3, *shape)), out_d.reshape(shape))


def evaluate_cube(model: FFNN, meta: dict, x=None, y=None, z=None, chunk: int = 16384) -> xr.Dataset:
    """The model on the grid x, y, z (1-D, Mm; default: the training data's grid) as a cube.

    Variables Bx, By, Bz (G), Jx, Jy, Jz (curl B, G/Mm), divB (G/Mm); the training settings,
    final loss terms, package version and the bottom map's WCS keywords (:mod:`ffnn.wcs`,
    valid for the cube's x, y grid) go into the attributes.
    """
    grid = meta["grid"]
    x = np.asarray(grid["x"] if x is None else x, dtype=np.float64)
    y = np.asarray(grid["y"] if y is None else y, dtype=np.float64)
    z = np.asarray(grid["z"] if z is None else z, dtype=np.float64)
    box = UnitBox(**meta["box"])
    X, Y, Z = np.meshgrid(x, y, z, indexing="ij")
    b, j, d = evaluate_points(model, box, X, Y, Z, chunk)
    fields = {"Bx": b[0], "By": b[1], "Bz": b[2], "Jx": j[0], "Jy": j[1], "Jz": j[2], "divB": d}
    attrs = {
        "title": "force-free neural network extrapolation",
        "source": f"ffnn {__version__}",
        "ffnn_version": __version__,
        "training_config": json.dumps(meta["config"]),
        "training_final_loss": json.dumps(meta.get("final", {})),
        "training_iterations": int(meta.get("iterations", 0)),
        "training_wall_time_s": float(meta.get("elapsed_s", 0.0)),
        "training_stop_reason": str(meta.get("stop_reason")),
        "architecture": meta.get("architecture", ""),
        "l0_mm": box.l0,
        **{k: v.item() if isinstance(v, np.generic) else v for k, v in (meta.get("wcs") or {}).items()},
    }
    return make_cube(fields, x, y, z, attrs=attrs)
