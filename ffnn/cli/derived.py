"""Subcommands for the products computed from a cube: ``derived`` and ``export``.

``derived``
    alpha and current helicity in the volume, the twist number and squashing factor of
    the field lines rooted on the bottom, log10 Q on a vertical slice (derived.nc), and
    their figures over the observed bottom field;
``export``
    the cube for ParaView/VisIt (VTK: B, J, alpha) and the footpoint maps as FITS images
    with the region's WCS.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ffnn.cli import add_command
from ffnn.cli.options import percent, positive_int
from ffnn.util.errors import ConfigError

log = logging.getLogger("ffnn")


def register(subparsers) -> None:
    """Add this group's subcommands to the top-level parser."""
    p = add_command(subparsers, "derived", cmd_derived,
                    "alpha, current helicity, twist number Tw and squashing factor Q of a cube",
                    inputs=("cube", "boundary"), outputs=("output", "figures"))
    p.add_argument("cube", help="model cube (cube.nc)")
    p.add_argument("-o", "--output", required=True, help="derived.nc")
    p.add_argument("--boundary", help="bottom map (boundary.nc): the observed Bz under the figures")
    p.add_argument("--figures", metavar="DIR", help="write twist.png, log10_q.png, q_slice.png here "
                   "(needs --boundary)")
    for option, kind, default, text in (
            ("--oversample", float, 1.0, "footpoints per cube pixel along x and y (1: the cube's bottom grid)"),
            ("--step", float, 1.0, "RK4 step as a fraction of the grid spacing"),
            ("--delta", float, 0.25, "offset of the auxiliary lines of Q, fraction of the footpoint spacing"),
            ("--slice-every", int, 2, "the slice takes every n-th grid point in x and z"),
            ("--strong-field", float, 100.0, "|Bz| (G) of the strong-field footpoints of the Tw summary")):
        p.add_argument(option, type=kind, default=default, help=f"{text} (default {default:g})")
    p.add_argument("--slice-y", type=float, help="y (Mm) of the vertical slice of Q (default: the box centre)")
    p.add_argument("--no-slice", action="store_true", help="skip the vertical slice of Q")
    p.add_argument("--threads", type=int, help="tracing threads (default: all cores)")
    p.add_argument("--region", default="", help="region name for the figure titles and the log")
    p.add_argument("--dpi", type=positive_int, default=110)

    p = add_command(subparsers, "export", cmd_export,
                    "the cube as VTK (ParaView) and the footpoint maps as FITS (with WCS)",
                    inputs=("cube", "derived"), outputs=("outdir",))
    p.add_argument("cube", help="model cube (cube.nc)")
    p.add_argument("--format", nargs="+", choices=("vtk", "fits"), default=["vtk"], dest="formats",
                   help="vtk and/or fits (default vtk)")
    p.add_argument("--derived", help="derived.nc: alpha for the VTK file (else computed), maps for FITS")
    p.add_argument("--outdir", required=True, help="directory for the exported files")


def cmd_derived(args) -> int:
    """alpha = J.B/|B|^2 and current helicity B.J in the volume; Tw and log10 Q of the field
    line rooted at each footpoint of the bottom grid (and the face where it ends); log10
    Q on a vertical x-z slice; summary scalars. Optionally the figures over the observed
    bottom field."""
    from ffnn.analysis.fieldlines import set_threads

    if args.figures and not args.boundary:
        raise ConfigError("--figures needs --boundary (the observed bottom field drawn under the maps)")
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    from ffnn.util.files import check_output, check_output_dir, write_netcdf

    check_output(args.output, "-o")
    if args.figures:
        check_output_dir(args.figures, "--figures")
    set_threads(args.threads)
    from ffnn.field.boundary import read_map
    from ffnn.field.cube import read_cube
    from ffnn.analysis.derived import DerivedSettings, derived_dataset, encoding

    settings = DerivedSettings(oversample=args.oversample, step=args.step, delta=args.delta,
                               slice_y=args.slice_y, slice=not args.no_slice, slice_every=args.slice_every,
                               strong_field=args.strong_field)
    cube = read_cube(args.cube)
    bottom = read_map(args.boundary) if args.boundary else None
    if bottom is not None:
        from ffnn.products.figures import check_map_covers

        check_map_covers(bottom, cube, f"--boundary {args.boundary}")
    ds = derived_dataset(cube, settings, region=args.region)
    write_netcdf(ds, args.output, encoding=encoding(ds))
    log.info("wrote %s: mean |Tw| %.3g, max |Tw| %.3g over |Bz| >= %g G; area log10 Q > 3: %.4g Mm2; "
             "flux of |Tw| > 1 lines %.3g Mx; lines reaching no face %s, Q undefined %s",
             args.output, float(ds["mean_abs_twist"]), float(ds["max_abs_twist"]), settings.strong_field,
             float(ds["qsl_area"]), float(ds["twisted_flux"]), percent(ds.attrs["unfinished_line_fraction"]),
             percent(ds.attrs["undefined_q_fraction"]))
    if args.figures:
        from ffnn.products.figures import derived_figures

        for path in derived_figures(ds, bottom, args.figures, region=args.region, dpi=args.dpi):
            log.info("wrote %s", path)
    return 0


def cmd_export(args) -> int:
    """vtk: DIR/cube.vtk, a legacy binary VTK structured-points file with B, J and alpha. fits:
    DIR/<product>.fits for twist, log10_q, end_face and bz of derived.nc, with the
    region's heliographic WCS (opens with sunpy.map.Map)."""
    from ffnn.field.cube import read_cube
    from ffnn.products.export import check_derived, fits_map_header, write_fits_maps, write_vtk
    from ffnn.util.files import check_output_dir, read_dataset

    out = check_output_dir(args.outdir, "--outdir")
    cube = read_cube(args.cube)
    derived = read_dataset(args.derived, "--derived") if args.derived else None
    if "fits" in args.formats and derived is None:
        raise ConfigError("--format fits needs --derived derived.nc (the maps come from there)")
    # every check before the first file: an export is done whole or not at all
    if derived is not None:
        check_derived(derived, cube, args.formats, f"--derived {args.derived}", f"the cube {args.cube}")
    if "fits" in args.formats:
        fits_map_header(derived)
    if "vtk" in args.formats:
        alpha = derived["alpha"].transpose("x", "y", "z").values if derived is not None else None
        path = write_vtk(cube, out / "cube.vtk", alpha=alpha, title=f"ffnn cube {Path(args.cube)}")
        log.info("wrote %s", path)
    if "fits" in args.formats:
        for path in write_fits_maps(derived, out):
            log.info("wrote %s", path)
    return 0
