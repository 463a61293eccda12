"""Free energy of NOAA 11158 over seeds and stopping iterations (issue 25).

    python benchmarks/sharp_spread.py --bin 4 --seeds 0 1 2 --stops 200 300 --threads 1 --set KEY=VALUE ...

Trains the workflow's SHARP settings (config/config.yaml's train block with ``--set``
overrides) once per seed up to the last of ``--stops`` iterations, and prints at each stop
sigma_J, <|f_i|>, E/E_pot, the free energy and the bottom fit (benchmarks/peers_sharp.py's
figures); then each stop's spread of the free energy over the seeds (max deviation from
their mean), and each seed's change between the stops.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from ffnn.field.boundary import from_sharp, map_to_points, merge_points
from ffnn.field.cube import model_cube
from ffnn.field.potential import potential_cube, potential_faces
from ffnn.field.train import TrainConfig, make_trainer
from ffnn.pipeline.regions import sharp_directory
from ffnn.util.files import write_json
from ffnn.util.settings import gather

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peers_sharp import RECORD, figures, line  # noqa: E402  (sibling)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", type=int, default=4)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--stops", type=int, nargs="+", default=[200, 300])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--config", default="config/config.yaml")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    bottom = from_sharp(sharp_directory(RECORD), bin_factor=args.bin, height_mm=100.0)
    pot = potential_cube(bottom)
    points = merge_points([map_to_points(bottom), potential_faces(bottom)])
    stops = sorted(args.stops)
    rows = {}
    print(f"NOAA 11158 bin {args.bin}, {pot.x.size}x{pot.y.size}x{pot.z.size}, settings {args.set}", flush=True)
    for seed in args.seeds:
        cfg = TrainConfig.from_dict(gather(args.config, "train", [*args.set, "progress=false", f"seed={seed}",
                                                                  f"max_iterations={stops[-1]}"],
                                           threads=args.threads))
        cfg.time_budget_s = None
        trainer = make_trainer(points, cfg, None, potential=pot)
        marks = list(stops)

        def snapshot(tr, seed=seed, marks=marks):
            if marks and tr.iteration >= marks[0]:
                marks.pop(0)
                m = figures(model_cube(tr.model, tr.metadata({}, None)), pot, bottom)
                rows[(seed, tr.iteration)] = {**m, "wall_s": tr.elapsed_s}
                print(line(f"seed {seed}, iteration {tr.iteration}", m, f"{tr.elapsed_s:.0f} s"), flush=True)

        trainer.fit(resume=False, callback=snapshot)
    for stop in stops:
        fe = np.array([rows[(s, stop)]["free_energy_erg"] for s in args.seeds if (s, stop) in rows])
        if fe.size:
            print(f"iteration {stop}: free energy {fe.mean():.3g} erg, seeds within "
                  f"{100 * np.abs(fe / fe.mean() - 1).max():.1f} % of their mean", flush=True)
    for seed in args.seeds:
        a, b = rows.get((seed, stops[0])), rows.get((seed, stops[-1]))
        if a and b:
            print(f"seed {seed}: free energy {a['free_energy_erg']:.3g} -> {b['free_energy_erg']:.3g} erg "
                  f"({100 * (b['free_energy_erg'] / a['free_energy_erg'] - 1):+.1f} %) from iteration "
                  f"{stops[0]} to {stops[-1]}", flush=True)
    if args.out:
        write_json({f"{s}/{i}": v for (s, i), v in rows.items()}, Path(args.out) / "spread.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
