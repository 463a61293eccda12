"""What converged classical solutions of an unpreprocessed HMI map reach: the anchors of the
trust checks (:data:`ffnn.analysis.quality.LIMITS`), measured on the shipped NOAA 11158 record.

    taskset -c 1 python benchmarks/checks_sharp.py --bins 8 4 2 --out benchmarks/out/checks_sharp

For each binning: the potential field of the observed bottom Bz (``potential_cube``) and
pyAMaFiL (Stupishin's weighted Wiegelmann optimisation, run to its own convergence from
that potential field with the observed vector map as its bottom, buffer 0.1, as
benchmarks/peers_sharp.py) on the same grid, each with the figures the checks read:
sigma_J (and by layer at 0, 2, 5 and 10 pixels above the bottom), <|f_i|> and the
divergence per length mean |div B|/|B|, E/E_pot, sigma_J over the potential field's, and
the energy's non-solenoidal share E_div/E (Valori et al. 2013). pyAMaFiL runs on as many
threads as it finds: pin the process to one core (taskset) for one-thread figures.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import numpy as np

from ffnn.analysis.energy_decomposition import energy_decomposition
from ffnn.analysis.metrics import cube_metrics, derivatives, height_profiles
from ffnn.field.boundary import from_sharp
from ffnn.field.cube import field_array, make_cube, spacing
from ffnn.field.potential import potential_cube
from ffnn.pipeline.regions import sharp_directory
from ffnn.util.files import write_json, write_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import pyamafil_nlfff  # noqa: E402  (sibling)

RECORD = "ffnn:hmi.sharp_cea_720s.377.20110215_020000_TAI"
LAYERS = (0, 2, 5, 10)


def figures(cube, pot, sigma_j_pot=None) -> dict:
    """The checks' figures of ``cube`` against the potential cube ``pot``."""
    b, dxyz = field_array(cube), spacing(cube)
    derivs = derivatives(b, dxyz)
    m = cube_metrics(cube, potential=pot, derivs=derivs)
    layers = height_profiles(b, dxyz, cube.z.values, derivs=derivs)["sigma_j"].values
    m["sigma_j_layers"] = {k: float(layers[k]) for k in LAYERS}
    m["sigma_j_over_potential"] = m["sigma_j"] / (sigma_j_pot or m["sigma_j"])
    m["energy_decomposition"] = energy_decomposition(b, dxyz)
    m["e_div_ratio"] = m["energy_decomposition"]["e_div_ratio"]
    return m


def line(name, m, when=""):
    layers = " / ".join(f"{m['sigma_j_layers'][k]:.2f}" for k in LAYERS)
    cells = [f"{m['sigma_j']:.3f}", layers, f"{m['sigma_j_over_potential']:.2f}", f"{m['mean_abs_fi']:.2e}",
             f"{m['mean_abs_div_over_b']:.4f}", f"{m['e_over_epot']:.3f}", f"{m['e_div_ratio']:.3f}"]
    return f"| {name} | " + " | ".join(cells) + f" | {when} |"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bins", type=int, nargs="+", default=(8, 4, 2))
    ap.add_argument("--height-mm", type=float, default=100.0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    header = (f"NOAA 11158 (HARP 377, 2011-02-15 02:00 TAI), unpreprocessed; {platform.machine()}, "
              f"{os.cpu_count()} CPUs, affinity {len(os.sched_getaffinity(0))} core(s)")
    table = [header, "", "| field | sigma_J | sigma_J at 0 / 2 / 5 / 10 px | over the potential's | <\\|f_i\\|> | "
             "mean \\|div B\\|/\\|B\\| (Mm^-1) | E/E_pot | E_div/E | wall |", "|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(table), flush=True)
    results = {}
    for binning in args.bins:
        bottom = from_sharp(sharp_directory(RECORD), bin_factor=binning, height_mm=args.height_mm)
        pot = potential_cube(bottom)
        x, y, z = pot.x.values, pot.y.values, pot.z.values
        grid = f"bin {binning}, {x.size}x{y.size}x{z.size}, {x[1] - x[0]:.2f} Mm"
        pf = figures(pot, pot)
        table.append(line(f"potential field, {grid}", pf))
        print(table[-1], flush=True)
        start = {c: pot[c].transpose("x", "y", "z").values.copy() for c in ("Bx", "By", "Bz")}
        for c in start:
            start[c][:, :, 0] = np.nan_to_num(bottom[c].transpose("x", "y").values)
        fields, wall, cpu = pyamafil_nlfff(start, 0.1)
        am = figures(make_cube(fields, x, y, z), pot, pf["sigma_j"])
        table.append(line(f"pyAMaFiL 1.2.2 converged, {grid}", am, f"{wall:.0f} s ({cpu:.0f} s CPU)"))
        print(table[-1], flush=True)
        results[binning] = {"grid": [x.size, y.size, z.size], "potential": pf,
                            "pyamafil": {**am, "wall_s": wall, "cpu_s": cpu}}
    if args.out:
        write_text("\n".join(table), Path(args.out) / "table.md")
        write_json(results, Path(args.out) / "results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
