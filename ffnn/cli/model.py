"""Subcommands of every region's model (rules in workflow/rules/model.smk): ``boundary``,
``preprocess``, ``potential``, ``train``, ``cube``, ``quality``.

``boundary``
    the bottom map (boundary.nc) of a SHARP record's files, or of a cube's lowest layer;
``preprocess``
    the bottom map made force-free consistent and smooth (Wiegelmann et al. 2006), for the
    training (optional: ``sharp.preprocess``);
``potential``
    the potential field above a bottom map: its side and top faces, and its cube;
``train``
    the network fitted to boundary files (checkpoint, loss.csv, model.pt, train.json);
``cube``
    the trained model on its grid (cube.nc);
``quality``
    how far to trust a cube: reference-free figures of merit and trust checks (quality.json)
    and its height profiles (profiles.nc).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ffnn.cli import add_command
from ffnn.cli.options import int_at_least, positive_int
from ffnn.util.errors import ConfigError, DataError
from ffnn.util.files import check_output, check_output_dir, make_output_dir
from ffnn.field.preprocess import MU

log = logging.getLogger("ffnn")


@dataclass(frozen=True)
class SharpOptions:
    """The ``sharp:`` section of ``ffnn boundary --config`` (None: the default)."""

    bin: int | None = None
    height_mm: float | None = None


def register(subparsers) -> None:
    """Add this group's subcommands to the top-level parser."""
    p = add_command(subparsers, "boundary", cmd_boundary,
                    "bottom map (boundary.nc) of a SHARP record or of a cube",
                    inputs=("source", "record", "config"), outputs=("output",))
    p.add_argument("source", help="directory with one record's FITS files (<record>.Br.fits or Br.fits, "
                   "Bp, Bt, errors likewise; ffnn:<record> for one shipped in the package, as in the "
                   "region sheet), or a cube (NetCDF)")
    p.add_argument("-o", "--output", required=True, help="output NetCDF (boundary.nc)")
    sharp = p.add_argument_group("SHARP records")
    sharp.add_argument("--bin", type=int, help="bin factor, NaN-mean (default 2)")
    sharp.add_argument("--height-mm", type=float, help="box height in Mm (default 100)")
    sharp.add_argument("--record", help="record JSON (resolve.json) whose keywords complete the headers' "
                       "(default SOURCE/sharp.json when present)")
    sharp.add_argument("--config", help="YAML file: its 'sharp:' section, or bin and height_mm at the top level")

    p = add_command(subparsers, "preprocess", cmd_preprocess,
                    "bottom map preprocessed towards force-free consistency (Wiegelmann et al. 2006)",
                    inputs=("boundary",), outputs=("output",))
    p.add_argument("boundary", help="bottom map (boundary.nc)")
    p.add_argument("-o", "--output", required=True, help="output NetCDF (preprocessed.nc)")
    p.add_argument("--mu3", type=float, default=MU[2], help=f"weight of the observations (default {MU[2]:g})")
    p.add_argument("--mu4", type=float, default=MU[3], help=f"weight of the smoothing (default {MU[3]:g})")
    p.add_argument("--iterations", type=int, default=500, help="L-BFGS iterations at most (default 500)")

    p = add_command(subparsers, "potential", cmd_potential,
                    "potential-field faces (and cube) above a bottom map",
                    inputs=("boundary",), outputs=("output", "cube"))
    p.add_argument("boundary", help="bottom map (boundary.nc)")
    p.add_argument("-o", "--output", required=True, help="boundary points of the 4 sides and the top")
    p.add_argument("--cube", help="also write the full potential-field cube here")
    p.add_argument("--method", choices=("fft", "green"), default="fft")
    p.add_argument("--pad", type=int, default=4, help="zero padding factor of the fft method")
    p.add_argument("--nz", type=int_at_least(3), default=None,
                   help="heights, at least 3 (default: dz = pixel size)")

    p = add_command(subparsers, "train", cmd_train, "fit the force-free neural network to boundary data")
    p.add_argument("boundary", nargs="+", help="bottom maps and/or boundary-point files")
    p.add_argument("--outdir", required=True, help="directory for checkpoint, loss.csv, model.pt")
    p.add_argument("--config", help="YAML file with training settings (a 'train:' block or top level)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting")
    p.add_argument("--threads", type=int, help="CPU threads (default: torch's choice)")
    p.add_argument("--device", help="auto, cpu or cuda")
    p.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint")
    p.add_argument("--init-model", help="model.pt of the same network to start from (warm start)")
    p.add_argument("--potential", help="potential-field cube (ffnn potential --cube): fitted first "
                   "when potential_iterations > 0")
    _list_training_settings(p)

    p = add_command(subparsers, "cube", cmd_cube, "evaluate a trained model on its grid (NetCDF cube)",
                    inputs=("model",), outputs=("output",))
    p.add_argument("model", help="model.pt written by 'ffnn train'")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--chunk", type=positive_int, default=16384, help="points per evaluation batch")
    p.add_argument("--device", default="cpu")

    p = add_command(subparsers, "quality", cmd_quality,
                    "how far to trust a cube: figures of merit, checks, profiles",
                    inputs=("cube", "potential", "boundary", "train"), outputs=("output", "profiles"))
    p.add_argument("cube")
    p.add_argument("-o", "--output", required=True, help="quality JSON (quality.json)")
    p.add_argument("--profiles", help="also write the height profiles (NetCDF) here")
    p.add_argument("--potential", help="potential-field cube on the same grid (energies, E/E_pot)")
    p.add_argument("--boundary", help="the observed bottom map (boundary.nc): bottom-fit checks")
    p.add_argument("--train", help="train.json of the model: checks of how training stopped")
    p.add_argument("--region", default="", help="region name for the log lines")


def cmd_boundary(args) -> int:
    """The bottom boundary map (Bx, By, Bz in G on x, y in Mm): from one SHARP record's FITS
    files (Bx = Bp, By = -Bt, Bz = Br, binned), or the lowest layer of a cube (a Low &
    Lou reference)."""
    from ffnn.field import boundary
    from ffnn.util.settings import from_mapping, gather

    from ffnn.io.sharp import record_directory

    check_output(args.output, "-o")
    source = record_directory(args.source)  # ffnn:<record>, as in the region sheet
    if not source.exists():
        raise DataError(f"{source} does not exist (neither a SHARP record directory nor a cube)")
    if source.is_dir():
        given = gather(args.config, "sharp", whole=False, bin=args.bin, height_mm=args.height_mm)
        opts = from_mapping(SharpOptions, given, "sharp setting")
        ds = boundary.from_sharp(source, bin_factor=opts.bin, height_mm=opts.height_mm, record=args.record)
        boundary.write_map(ds, args.output)
        _print_map(ds, args.output)
        return 0
    given = [o for o, v in (("--bin", args.bin), ("--height-mm", args.height_mm), ("--record", args.record),
                            ("--config", args.config)) if v is not None]
    if given:
        raise ConfigError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to a SHARP "
                          f"record's directory, not to the cube {source}")
    from ffnn.field.cube import read_cube
    from ffnn.util.files import write_netcdf

    write_netcdf(boundary.from_cube(read_cube(source)), args.output)
    log.info("wrote %s", args.output)
    return 0


def _print_map(ds, output) -> None:
    from ffnn.io.box import box_of_map
    from ffnn.io.sharp import flux_summary, record_name

    a = ds.attrs
    noaa = a.get("NOAA", a.get("NOAA_ARS"))
    noaa = f" (NOAA {noaa})" if noaa is not None else ""
    box = box_of_map(ds)
    flux = flux_summary(ds)
    print(f"{output}: {record_name(a, 'SHARP record')}{noaa}")
    print(f"  map    {ds.sizes['x']} x {ds.sizes['y']} pixels (bin {a['bin_factor']}), "
          f"{a['nan_pixels']} not observed (NaN)")
    print(f"  pixel  {a['pixel_mm_x']:.4f} x {a['pixel_mm_y']:.4f} Mm")
    print(f"  box    {box['x_max'] - box['x_min']:.1f} x {box['y_max'] - box['y_min']:.1f} x "
          f"{box['z_max']:g} Mm (x ±{box['x_max']:.4g}, y ±{box['y_max']:.4g}, z 0 to "
          f"{box['z_max']:g}; l0 {a['l0_mm']:.4g} Mm)")
    print(f"  Bz     flux {flux['signed_mx']:.3e} Mx signed, {flux['unsigned_mx']:.3e} Mx "
          f"unsigned: imbalance {100 * flux['imbalance']:+.2f} %")


def cmd_preprocess(args) -> int:
    """The bottom map with its net force and torque removed and its small scales smoothed
    (Wiegelmann, Inhester & Sakurai 2006; weights mu1 = mu2 = 1, --mu3, --mu4): a boundary
    for the training. The trust checks still compare the model with the observed map; the
    log gives the preprocessed map's departure from it (C_vec, RMS, unsigned flux)."""
    import xarray as xr

    from ffnn.io.box import COMPONENTS
    from ffnn.util.files import read_dataset, write_netcdf
    from ffnn.field.preprocess import method, preprocess_map
    from ffnn.analysis.quality import bottom_fit

    for name in ("mu3", "mu4"):
        if not (np.isfinite(getattr(args, name)) and getattr(args, name) >= 0):
            raise ConfigError(f"--{name} {getattr(args, name):g}: must be a finite number >= 0")
    if args.iterations < 1:
        raise ConfigError(f"--iterations {args.iterations}: must be >= 1")
    if Path(args.output).resolve() == Path(args.boundary).resolve():
        raise ConfigError(f"-o {args.output} is the input: the observed map would be lost")
    check_output(args.output, "-o")
    observed = read_dataset(args.boundary, "bottom map")
    if set(observed.dims) != {"x", "y"}:
        raise DataError(f"{args.boundary} is not a bottom map (Bx, By, Bz on dims x, y): dims "
                        f"{tuple(observed.dims)}, variables {sorted(observed.data_vars)}")
    if "preprocessing" in observed.attrs:
        raise DataError(f"{args.boundary} is preprocessed already ({method(observed.attrs['preprocessing'])}): "
                        "give the observed map")
    try:
        out = preprocess_map(observed, mu=(MU[0], MU[1], args.mu3, args.mu4), iterations=args.iterations)
    except DataError as err:
        raise DataError(f"{args.boundary}: {err}") from None
    fit = bottom_fit(observed, xr.Dataset({c: out[c] for c in COMPONENTS}))
    log.info("preprocessed map against the observed: C_vec %.4f, RMS change Bx/By/Bz %.3g/%.3g/%.3g G, "
             "unsigned flux (|Bz| > 3 sigma) %+.1f %%", fit["c_vec_bottom"], fit["rms_residual_Bx"],
             fit["rms_residual_By"], fit["rms_residual_Bz"], 100 * fit["flux_error"])
    write_netcdf(out, args.output)
    log.info("wrote %s", args.output)
    return 0


def cmd_potential(args) -> int:
    from ffnn.io.box import COMPONENTS
    from ffnn.field.boundary import is_map
    from ffnn.field.cube import compressed_encoding
    from ffnn.util.files import read_dataset, write_netcdf
    from ffnn.field.potential import check_size, potential_cube, potential_faces

    check_output(args.output, "-o")
    if args.cube:
        check_output(args.cube, "--cube")
    bottom = read_dataset(args.boundary, "bottom map")
    if not is_map(bottom) or any(c not in bottom for c in COMPONENTS):
        raise DataError(f"{args.boundary} is not a bottom map (needs Bx, By, Bz on x, y)")
    check_size(bottom, args.nz, cube=bool(args.cube))  # the cube too, before the faces are written
    write_netcdf(potential_faces(bottom, args.method, args.nz, args.pad), args.output)
    log.info("wrote %s", args.output)
    if args.cube:
        cube = potential_cube(bottom, args.method, args.nz, args.pad)
        write_netcdf(cube, args.cube, encoding=compressed_encoding(cube))
        log.info("wrote %s", args.cube)
    return 0


def _list_training_settings(parser) -> None:
    """``ffnn train --help`` ends on every training setting with its default, unit and
    meaning (:func:`ffnn.field.train_settings.settings_help`), built when shown: it reads
    TrainConfig, whose module imports torch, which the other commands here need not load."""
    import argparse

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    shown = parser.format_help

    def format_help() -> str:
        from ffnn.field.train_settings import settings_help

        parser.epilog = settings_help()
        return shown()

    parser.format_help = format_help


def cmd_train(args) -> int:
    from ffnn.field.boundary import load_boundary
    from ffnn.util.settings import gather
    from ffnn.field.train import TrainConfig, train

    cfg = TrainConfig.from_dict(gather(args.config, "train", args.set, threads=args.threads, device=args.device))
    check_output_dir(args.outdir, "--outdir")
    if args.init_model:
        _load_model(args.init_model, "cpu", "--init-model")
    boundary = load_boundary(args.boundary)
    potential = None
    if args.potential:
        import xarray as xr

        from ffnn.field.cube import check_same_grid, read_cube
        from ffnn.field.sampling import grid_of_points

        potential = read_cube(args.potential, "--potential")
        # the potential-field start samples the cube's own points: another box's field
        gx, gy, _ = grid_of_points(boundary)
        check_same_grid(xr.Dataset(coords={"x": gx, "y": gy}), potential, f"--potential {args.potential}",
                        axes=("x", "y"))
    elif cfg.potential_iterations:
        raise ConfigError(f"potential_iterations={cfg.potential_iterations} needs the potential-field "
                          "cube: give --potential")
    # made and written to once the inputs are read, not at the first checkpoint minutes into the training
    make_output_dir(args.outdir, "--outdir", need_bytes=_checkpoint_bytes(cfg))
    result = train(boundary, cfg, args.outdir, resume=not args.no_resume, init_model=args.init_model,
                   potential=potential)
    log.info("model in %s", Path(args.outdir) / "model.pt")
    return 0 if result.stop_reason else 1


def _checkpoint_bytes(cfg) -> int:
    """Room a training's files need at least: the checkpoint (weights and L-BFGS's
    2 history_size + 6 vectors of them), twice while the new one replaces the old, and
    model.pt."""
    from ffnn.field.model import FFNN, n_weights

    n = n_weights(FFNN(cfg.hidden_layers, cfg.width, cfg.quasi_output))
    itemsize = 8 if cfg.dtype == "float64" else 4
    return (2 * (2 * cfg.history_size + 6) + 1) * n * itemsize


def _load_model(path, device: str, what: str = "model"):
    """(model, metadata) of a model.pt, or DataError of one line; a training checkpoint
    (checkpoint.pt, beside model.pt) is named as such: it holds no grid or box."""
    from ffnn.field.train import load_model

    try:
        return load_model(path, device)
    except DataError:
        if _is_checkpoint(path):
            raise DataError(f"{what} {path} is a training checkpoint, not a model file: give the model.pt "
                            "that 'ffnn train' writes beside it") from None
        raise


def _is_checkpoint(path) -> bool:
    import torch

    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
    except Exception:  # unreadable: load_model's own message says so
        return False
    return isinstance(blob, dict) and "meta" not in blob and {"model", "optimizer"} <= set(blob)


def cmd_cube(args) -> int:
    from ffnn.field.cube import compressed_encoding, model_cube
    from ffnn.util.files import write_netcdf

    check_output(args.output, "-o")
    model, meta = _load_model(args.model, args.device)
    cube = model_cube(model, meta, chunk=args.chunk)
    for name in ("Bx", "By", "Bz"):
        if not np.isfinite(cube[name].values).all():
            raise DataError(f"model {args.model} gives non-finite {name}; the cube is not written")
    write_netcdf(cube, args.output, encoding=compressed_encoding(cube))
    log.info("wrote %s", args.output)
    return 0


def cmd_quality(args) -> int:
    """Reference-free figures of merit of a model cube (energies, E/E_pot, sigma_J and the
    potential field's, <|f_i|> and mean |div B|/|B|, the energy's non-solenoidal share,
    flux, current), the trust checks of ffnn.analysis.quality (bottom fit against the observed
    map, training stop) and height profiles."""
    from ffnn.field.boundary import read_map
    from ffnn.field.cube import read_cube
    from ffnn.util.files import read_json, write_json, write_netcdf
    from ffnn.analysis.quality import assess, check_map_grid, check_train_record

    check_output(args.output, "-o")
    if args.profiles:
        check_output(args.profiles, "--profiles")
    cube = read_cube(args.cube)
    potential = read_cube(args.potential, "--potential") if args.potential else None
    observed = read_map(args.boundary) if args.boundary else None
    if observed is not None and "preprocessing" in observed.attrs:
        raise DataError(f"--boundary {args.boundary} is a preprocessed map: the checks compare the model "
                        "with the observed one (boundary.nc)")
    if observed is not None:
        check_map_grid(cube, observed, f"--boundary {args.boundary}")
    train = read_json(args.train, "training record") if args.train else None
    if train is not None:
        check_train_record(cube, train, f"--train {args.train}")
    result, profiles = assess(cube, potential, observed, train, args.region)
    write_json(result, args.output)
    if args.profiles:
        write_netcdf(profiles, args.profiles)
    return 0
