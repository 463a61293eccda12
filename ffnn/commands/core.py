"""Core subcommands: Low & Lou fields, faces, potential fields, training, cubes, metrics."""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path

import numpy as np
import xarray as xr
import yaml

from ffnn.errors import ConfigError, DataError

log = logging.getLogger("ffnn")


def register(subparsers) -> None:
    """Add the core subcommands to the top-level parser."""
    p = subparsers.add_parser("lowlou", help="Low & Lou (1990) reference field on a grid")
    p.add_argument("--n", type=int, default=1)
    p.add_argument("--m", type=int, default=1)
    p.add_argument("--l", type=float, default=0.3, help="source depth below the photosphere")
    p.add_argument("--phi", type=float, default=math.pi / 4, help="axis tilt about y (rad)")
    p.add_argument("--shape", type=int, nargs=3, default=(64, 64, 64), metavar=("NX", "NY", "NZ"))
    p.add_argument("--bounds", type=float, nargs=6, default=(-1.0, 1.0, -1.0, 1.0, 0.0, 2.0),
                   metavar=("X0", "X1", "Y0", "Y1", "Z0", "Z1"))
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_lowlou)

    p = subparsers.add_parser("faces", help="boundary points on faces of a cube (e.g. a reference)")
    p.add_argument("cube")
    p.add_argument("--faces", nargs="+", default=["bottom", "top", "x_min", "x_max", "y_min", "y_max"])
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_faces)

    p = subparsers.add_parser("bottom", help="bottom map (boundary.nc format) from the z=0 layer of a cube")
    p.add_argument("cube")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_bottom)

    p = subparsers.add_parser("potential", help="potential-field faces (and cube) above a bottom map")
    p.add_argument("boundary", help="bottom map (boundary.nc)")
    p.add_argument("-o", "--output", required=True, help="boundary points of the 4 sides and the top")
    p.add_argument("--cube", help="also write the full potential-field cube here")
    p.add_argument("--method", choices=("fft", "green"), default="fft")
    p.add_argument("--pad", type=int, default=4, help="zero padding factor of the fft method")
    p.add_argument("--nz", type=int, default=None, help="heights (default: dz = pixel size)")
    p.set_defaults(func=cmd_potential)

    p = subparsers.add_parser("train", help="fit the force-free neural network to boundary data")
    p.add_argument("boundary", nargs="+", help="bottom maps and/or boundary-point files")
    p.add_argument("--out", required=True, help="directory for checkpoint, loss.csv, model.pt")
    p.add_argument("--config", help="YAML file with training settings (a 'train:' block or top level)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    p.add_argument("--threads", type=int, help="CPU threads (default: torch's choice)")
    p.add_argument("--device", help="auto, cpu or cuda")
    p.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint")
    p.add_argument("--init-model", help="model.pt of the same network to start from (warm start)")
    p.add_argument("--potential", help="potential-field cube (ffnn potential --cube): fitted first "
                   "when potential_iterations > 0")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("cube", help="evaluate a trained model on its grid (NetCDF cube)")
    p.add_argument("model", help="model.pt written by 'ffnn train'")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--chunk", type=int, default=16384, help="points per evaluation batch")
    p.add_argument("--device", default="cpu")
    p.set_defaults(func=cmd_cube)

    p = subparsers.add_parser("metrics", help="figures of merit of a cube (SPEC section 3)")
    p.add_argument("cube")
    p.add_argument("--reference", help="reference cube on the same grid")
    p.add_argument("--potential", help="potential-field cube on the same grid (energies, epsilon_p)")
    p.add_argument("--json", help="write the metrics here (default: print)")
    p.add_argument("--profiles", help="write height profiles (NetCDF) here; without --reference "
                   "the JSON holds the divergence- and force-free profiles too")
    p.add_argument("--boundary", help="the observed bottom map (boundary.nc): bottom-fit checks")
    p.add_argument("--train", help="train.json of the model: checks of how training stopped")
    p.add_argument("--region", default="", help="region name for the log lines")
    p.set_defaults(func=cmd_metrics)


def _write(ds: xr.Dataset, path, compress: bool = False) -> None:
    from ffnn.cube import compressed_encoding, write_atomic

    write_atomic(ds, path, encoding=compressed_encoding(ds) if compress else None)
    log.info("wrote %s", path)


def _write_json(obj, path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2, default=float) + "\n")
    os.replace(tmp, path)


def cmd_lowlou(args) -> int:
    from ffnn.lowlou import lowlou_cube

    _write(lowlou_cube(args.n, args.m, args.l, args.phi, tuple(args.shape), tuple(args.bounds)), args.output)
    return 0


def cmd_faces(args) -> int:
    from ffnn.boundary import cube_faces
    from ffnn.cube import read_cube

    _write(cube_faces(read_cube(args.cube), tuple(args.faces)), args.output)
    return 0


def bottom_map(cube: xr.Dataset) -> xr.Dataset:
    """The z = 0 layer of a cube as a bottom map (boundary.nc format), box height = cube's."""
    from ffnn.sampling import UnitBox

    z = cube["z"].values
    bottom = cube[["Bx", "By", "Bz"]].isel(z=0, drop=True).transpose("x", "y")
    x, y = cube["x"].values, cube["y"].values
    box = UnitBox(x.min(), x.max(), y.min(), y.max(), 0.0, float(z.max() - z.min()))
    bottom.attrs = {**cube.attrs, "height_mm": box.z_max, "l0_mm": box.l0}
    return bottom


def cmd_bottom(args) -> int:
    from ffnn.cube import read_cube

    _write(bottom_map(read_cube(args.cube)), args.output)
    return 0


def cmd_potential(args) -> int:
    from ffnn.boundary import COMPONENTS, is_map
    from ffnn.potential import potential_cube, potential_faces

    try:
        bottom = xr.load_dataset(args.boundary)
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read bottom map {args.boundary}: {err}") from err
    if not is_map(bottom) or any(c not in bottom for c in COMPONENTS):
        raise DataError(f"{args.boundary} is not a bottom map (needs Bx, By, Bz on x, y)")
    _write(potential_faces(bottom, args.method, args.nz, args.pad), args.output)
    if args.cube:
        _write(potential_cube(bottom, args.method, args.nz, args.pad), args.cube, compress=True)
    return 0


def load_train_config(path=None, overrides=(), **direct):
    """TrainConfig from a YAML file (its ``train:`` block, or the top level), KEY=VALUE
    overrides (values parsed as YAML) and keyword settings that are not None."""
    from ffnn.train import TrainConfig

    values = {}
    if path:
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"cannot read training settings {path}: {err}") from err
        values.update(data.get("train", data) if isinstance(data, dict) else {})
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        values[key.strip()] = yaml.safe_load(value)
    values.update({k: v for k, v in direct.items() if v is not None})
    return TrainConfig.from_dict(values)


def cmd_train(args) -> int:
    from ffnn.boundary import load_boundary
    from ffnn.train import train

    cfg = load_train_config(args.config, args.set, threads=args.threads, device=args.device)
    boundary = load_boundary(args.boundary)
    potential = None
    if args.potential:
        from ffnn.cube import read_cube

        potential = read_cube(args.potential)
    elif cfg.potential_iterations:
        raise ConfigError(f"potential_iterations={cfg.potential_iterations} needs the potential-field "
                          "cube: give --potential")
    result = train(boundary, cfg, args.out, resume=not args.no_resume, init_model=args.init_model,
                   potential=potential)
    log.info("model in %s", Path(args.out) / "model.pt")
    return 0 if result.stop_reason else 1


def cmd_cube(args) -> int:
    from ffnn.evaluate import evaluate_cube
    from ffnn.train import load_model

    model, meta = load_model(args.model, args.device)
    cube = evaluate_cube(model, meta, chunk=args.chunk)
    for name in ("Bx", "By", "Bz"):
        if not np.isfinite(cube[name].values).all():
            raise DataError(f"model {args.model} gives non-finite {name}; the cube is not written")
    _write(cube, args.output, compress=True)
    return 0


def trust_checks(cube: xr.Dataset, metrics: dict, boundary_path=None, train_path=None,
                 region: str = "") -> dict:
    """Bottom fit against the observed map and the flags of :mod:`ffnn.quality`, each
    raised flag logged as a warning naming the region; returns ``bottom_fit``, ``flags``
    and ``flag_text`` for the metrics JSON."""
    from ffnn import quality

    out, values = {}, dict(metrics)
    if boundary_path:
        observed = xr.load_dataset(boundary_path)
        layer = cube[["Bx", "By", "Bz"]].isel(z=0, drop=True).interp(x=observed["x"], y=observed["y"])
        out["bottom_fit"] = quality.bottom_fit(observed, layer)
        values.update(out["bottom_fit"])
    train = json.loads(Path(train_path).read_text()) if train_path else {}
    flags = quality.check(values, (train.get("config") or {}).get("warmup_iterations"),
                          train.get("iterations"))
    out["flags"] = flags
    out["flag_text"] = [quality.describe(f, values) for f in flags]
    for text in out["flag_text"]:
        log.warning("%scheck failed: %s", f"{region}: " if region else "", text)
    return out


def cmd_metrics(args) -> int:
    from ffnn.cube import field_array, read_cube, spacing, write_atomic
    from ffnn.metrics import cube_metrics, height_profiles

    cube = read_cube(args.cube)
    reference = read_cube(args.reference) if args.reference else None
    potential = read_cube(args.potential) if args.potential else None
    result = cube_metrics(cube, reference, potential)
    prof = None
    if reference is None or args.profiles:  # the profiles repeat the finite differences: only on demand
        b_pot = field_array(potential) if potential is not None else None
        prof = height_profiles(field_array(cube), spacing(cube), cube["z"].values, b_pot)
    if args.boundary or args.train:
        result.update(trust_checks(cube, result, args.boundary, args.train, args.region))
    if reference is None:
        result["profiles"] = {"z_mm": prof["z"].values.tolist(),
                              "div_free_factor": prof["div_free_factor"].values.tolist(),
                              "force_free_factor": prof["force_free_factor"].values.tolist()}
    if args.json:
        _write_json(result, args.json)
    else:
        print(json.dumps(result, indent=2))
    if args.profiles:
        write_atomic(prof, args.profiles)
    return 0
