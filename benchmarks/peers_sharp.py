"""FFNN against pyAMaFiL on a real SHARP region (the shipped NOAA 11158 record), same box, same run.

    python benchmarks/peers_sharp.py --bin 4 --multiples 1 3 --threads 2 --out benchmarks/out/peers_sharp

No reference field exists for real data, so both models are judged by the reference-free
figures of the workflow's trust checks (:mod:`ffnn.analysis.quality`): sigma_J, <|f_i|>, E/E_pot
and the free energy against the potential field of the observed bottom, and the bottom fit
(C_vec, unsigned-flux error over pixels above 3 sigma). pyAMaFiL starts from that potential
field with the observed vector map as its bottom (its default 10 % buffer zone at the sides
and top) and runs to its own convergence; ffnn trains with the workflow's settings for this
region on the same bottom map and potential-field sides and top, for pyAMaFiL's wall time
times each of ``--multiples`` (and ``--budgets``), evaluated on the same grid.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import numpy as np
import torch

from ffnn.field.boundary import from_sharp, map_to_points, merge_points
from ffnn.field.cube import make_cube, model_cube
from ffnn.util.files import write_json, write_text
from ffnn.analysis.metrics import cube_metrics, height_profiles
from ffnn.field.potential import potential_cube, potential_faces
from ffnn.analysis.quality import bottom_fit
from ffnn.pipeline.regions import sharp_directory
from ffnn.util.settings import gather
from ffnn.field.train import TrainConfig, make_trainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers import pyamafil_nlfff  # noqa: E402  (sibling)

RECORD = "ffnn:hmi.sharp_cea_720s.377.20110215_020000_TAI"
KEYS = ("sigma_j", "mean_abs_fi", "e_over_epot", "free_energy_erg", "c_vec_bottom", "flux_error")
LAYERS = (0, 2, 5, 10)  # pixels above the bottom where sigma_J is shown layer by layer


def figures(cube, pot, bottom) -> dict:
    """Reference-free figures of a cube: metrics against the potential field, the bottom fit
    and sigma_J in the layers ``LAYERS`` pixels above the bottom (``sigma_j_layers``)."""
    m = cube_metrics(cube, potential=pot)
    m.update(bottom_fit(bottom, cube[["Bx", "By", "Bz"]].isel(z=0, drop=True)))
    b = np.stack([cube[c].transpose("x", "y", "z").values for c in ("Bx", "By", "Bz")]).astype(np.float64)
    dxyz = [float(np.diff(cube[c].values).mean()) for c in ("x", "y", "z")]
    layers = height_profiles(b, dxyz, cube.z.values)["sigma_j"].values
    m["sigma_j_layers"] = [float(layers[k]) for k in LAYERS]
    return m


def line(name, m, when=""):
    cells = [f"{m['sigma_j']:.3f}", " / ".join(f"{v:.2f}" for v in m["sigma_j_layers"]), f"{m['mean_abs_fi']:.2e}",
             f"{m['e_over_epot']:.3f}", f"{m['free_energy_erg']:.3g}", f"{m['c_vec_bottom']:.4f}",
             f"{m['flux_error']:+.3f}"]
    return f"| {name} | " + " | ".join(cells) + f" | {when} |"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", type=int, default=4, help="binning of the SHARP map (the workflow's default run: 4)")
    ap.add_argument("--height-mm", type=float, default=100.0)
    ap.add_argument("--multiples", type=float, nargs="*", default=(1, 3),
                    help="ffnn budgets as multiples of pyAMaFiL's wall time in this run")
    ap.add_argument("--budgets", type=float, nargs="*", default=(), help="further ffnn budgets (s)")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--config", help="ffnn training settings (YAML; default: the shipped config's train block)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--skip-amafil", action="store_true")
    ap.add_argument("--amafil-wall", type=float, help="with --skip-amafil: its wall time from an earlier run (s)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    bottom = from_sharp(sharp_directory(RECORD), bin_factor=args.bin, height_mm=args.height_mm)
    pot = potential_cube(bottom)
    x, y, z = pot.x.values, pot.y.values, pot.z.values
    header = (f"NOAA 11158 (HARP 377, 2011-02-15 02:00 TAI), bin {args.bin}: {x.size}x{y.size}x{z.size} grid; "
              f"{args.threads} threads; {platform.machine()}, {os.cpu_count()} CPUs; torch {torch.__version__}")
    print(header, flush=True)
    table = [header, "", "| method | sigma_J | sigma_J at " + ", ".join(map(str, LAYERS)) + " px | <\\|f_i\\|> | E/E_pot | "
             "E - E_pot (erg) | bottom C_vec | flux error | wall time |", "|---|---|---|---|---|---|---|---|---|"]
    results = {"bin": args.bin, "grid": [x.size, y.size, z.size], "threads": args.threads}
    pf = figures(pot, pot, bottom)
    results["potential_field"] = pf
    table.append(line("potential field (observed Bz)", pf))
    wall = args.amafil_wall
    if not args.skip_amafil:
        start = {c: pot[c].transpose("x", "y", "z").values.copy() for c in ("Bx", "By", "Bz")}
        for c in start:
            start[c][:, :, 0] = np.nan_to_num(bottom[c].transpose("x", "y").values)
        fields, wall, cpu = pyamafil_nlfff(start, 0.1)
        m = figures(make_cube(fields, x, y, z), pot, bottom)
        results["pyamafil"] = {**m, "wall_s": wall, "cpu_s": cpu}
        table.append(line("pyAMaFiL 1.2.2 (converged, buffer 0.1)", m, f"{wall:.0f} s ({cpu:.0f} s CPU)"))
        print(table[-1], flush=True)
    budgets = sorted(set(args.budgets) | ({round(k * wall) for k in args.multiples} if wall else set()))
    if budgets:  # none: pyAMaFiL alone (--multiples and --budgets without values)
        results["ffnn"] = run_ffnn(args, bottom, pot, budgets, table)
    print("\n".join(table))
    if args.out:
        write_text("\n".join(table), Path(args.out) / "table.md")
        write_json(results, Path(args.out) / "results.json")
    return 0


def run_ffnn(args, bottom, pot, budgets, table) -> list[dict]:
    """Train ffnn on the region until the longest budget; figures at each budget (a row of
    ``table`` each, printed as it comes)."""
    x, y, z = pot.x.values, pot.y.values, pot.z.values
    cfg = TrainConfig.from_dict(gather(args.config or "config/config.yaml", "train", [*args.set, "progress=false"],
                                       threads=args.threads))
    cfg.time_budget_s, cfg.max_iterations = max(budgets), 10 ** 9
    points = merge_points([map_to_points(bottom), potential_faces(bottom)])
    trainer = make_trainer(points, cfg, None, potential=pot)  # as the workflow: the potential cube at hand
    marks, snaps = list(budgets), []

    def snapshot(tr):
        if marks and tr.elapsed_s >= marks[0]:
            marks.pop(0)
            cube = model_cube(tr.model, tr.metadata({}, None), x, y, z)
            m = figures(cube, pot, bottom)
            snaps.append({**m, "wall_s": tr.elapsed_s, "iteration": tr.iteration})
            table.append(line(f"ffnn {cfg.representation} at {tr.elapsed_s:.0f} s (it {tr.iteration})", m,
                              f"{tr.elapsed_s:.0f} s"))
            print(table[-1], flush=True)

    trainer.fit(resume=False, callback=snapshot)
    return snaps


if __name__ == "__main__":
    sys.exit(main())
