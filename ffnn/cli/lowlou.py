"""Subcommands of the Low & Lou benchmark (rules in workflow/rules/lowlou.smk): ``lowlou``,
``faces``, ``metrics``, ``lowlou-table``.

``lowlou``
    the Low & Lou (1990) reference field on a grid (reference.nc);
``faces``
    boundary points on faces of a cube (faces.nc: the six faces of the reference);
``metrics``
    a cube against a reference field on the same grid (the metrics of Schrijver et al.
    2006, Sol. Phys. 235, 161);
``lowlou-table``
    the benchmark table (Markdown) from the summary rows of the benchmark regions.
"""

from __future__ import annotations

import json
import logging
import math

from ffnn.cli import add_command
from ffnn.util.errors import DataError

log = logging.getLogger("ffnn")


def register(subparsers) -> None:
    """Add this group's subcommands to the top-level parser."""
    p = add_command(subparsers, "lowlou", cmd_lowlou, "Low & Lou (1990) reference field on a grid",
                    outputs=("output",))
    p.add_argument("--n", type=int, default=1)
    p.add_argument("--m", type=int, default=1)
    p.add_argument("--l", type=float, default=0.3, help="source depth below the photosphere")
    p.add_argument("--phi", type=float, default=math.pi / 4, help="axis tilt about y (rad)")
    p.add_argument("--shape", type=int, nargs=3, default=(64, 64, 64), metavar=("NX", "NY", "NZ"))
    p.add_argument("--bounds", type=float, nargs=6, default=(-1.0, 1.0, -1.0, 1.0, 0.0, 2.0),
                   metavar=("X0", "X1", "Y0", "Y1", "Z0", "Z1"))
    p.add_argument("-o", "--output", required=True)

    p = add_command(subparsers, "faces", cmd_faces, "boundary points on faces of a cube (e.g. a reference)",
                    inputs=("cube",), outputs=("output",))
    p.add_argument("cube")
    p.add_argument("--faces", nargs="+", default=["bottom", "top", "x_min", "x_max", "y_min", "y_max"])
    p.add_argument("-o", "--output", required=True)

    p = add_command(subparsers, "metrics", cmd_metrics, "a cube against a reference field (the metrics of Schrijver et al. 2006, Sol. Phys. 235, 161)",
                    inputs=("cube", "reference", "potential"), outputs=("output",))
    p.add_argument("cube")
    p.add_argument("--reference", help="reference cube on the same grid (without it: reference-free "
                   "figures only)")
    p.add_argument("--potential", help="potential-field cube on the same grid (energies, epsilon_p)")
    p.add_argument("-o", "--output", help="write the metrics (JSON) here (default: print them)")

    p = add_command(subparsers, "lowlou-table", cmd_lowlou_table, "Low & Lou benchmark table (Markdown)",
                    inputs=("rows",), outputs=("output",))
    p.add_argument("rows", nargs="+", help="row JSON files of the benchmark regions")
    p.add_argument("-o", "--output", required=True, help="Markdown file")


def cmd_lowlou(args) -> int:
    from ffnn.util.files import write_netcdf
    from ffnn.analysis.lowlou import lowlou_cube

    write_netcdf(lowlou_cube(args.n, args.m, args.l, args.phi, tuple(args.shape), tuple(args.bounds)),
                 args.output)
    log.info("wrote %s", args.output)
    return 0


def cmd_faces(args) -> int:
    from ffnn.field.boundary import cube_faces
    from ffnn.field.cube import read_cube
    from ffnn.util.files import write_netcdf

    write_netcdf(cube_faces(read_cube(args.cube), tuple(args.faces)), args.output)
    log.info("wrote %s", args.output)
    return 0


def cmd_metrics(args) -> int:
    from ffnn.field.cube import read_cube
    from ffnn.util.files import plain, write_json
    from ffnn.analysis.metrics import cube_metrics

    cube = read_cube(args.cube)
    reference = read_cube(args.reference, "--reference") if args.reference else None
    potential = read_cube(args.potential, "--potential") if args.potential else None
    result = cube_metrics(cube, reference, potential)
    if args.output:
        write_json(result, args.output)
    else:
        print(json.dumps(plain(result), indent=2))
    return 0


def cmd_lowlou_table(args) -> int:
    from ffnn.util.files import write_text
    from ffnn.products.summary import lowlou_table, read_row

    rows = [read_row(p) for p in args.rows]
    for path, row in zip(args.rows, rows):
        if row.get("kind") != "lowlou":
            raise DataError(f"summary row {path} is of a {row.get('kind') or 'unknown'} region ({row['region']}), "
                            "not of a Low & Lou benchmark region: the table compares those with published fields")
    write_text(lowlou_table(rows), args.output)
    log.info("wrote %s", args.output)
    return 0
