"""Low & Lou benchmark: FFNN against the reference at fixed wall-clock budgets (metrics of
Schrijver et al. 2006, Sol. Phys. 235, 161).

    python benchmarks/lowlou.py --case 1 --budget 1800 --threads 2 --out benchmarks/out/case1

Case 1: all six faces from the reference. Case 2: bottom from the reference, four sides and
top from the potential field. The potential-field row and the FFNN rows at each snapshot
time (training wall time, evaluation excluded) are printed and written as JSON and Markdown.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from ffnn.products import summary
from ffnn.field.boundary import cube_faces, from_cube, merge_points
from ffnn.field.cube import model_cube
from ffnn.util.files import write_json, write_text
from ffnn.analysis.lowlou import lowlou_cube
from ffnn.analysis.metrics import cube_metrics
from ffnn.field.potential import potential_cube, potential_faces
from ffnn.util.settings import gather
from ffnn.field.train import TrainConfig, Trainer

CASES = {1: dict(n=1, m=1, l=0.3, phi=np.pi / 4), 2: dict(n=3, m=1, l=0.3, phi=4 * np.pi / 5)}
# the published rows of the workflow's Low & Lou table, keyed there by (n, boundary)
PUBLISHED = {1: summary.PUBLISHED[(1, "faces")], 2: summary.PUBLISHED[(3, "bottom")]}
KEYS = ("c_vec", "c_cs", "e_n_prime", "e_m_prime", "epsilon", "sigma_j")


# the boundary data of each case in the workflow's Low & Lou table
CASE_BOUNDARY = {1: "faces", 2: "bottom"}


def boundary_for(ref, boundary: str, pf_method: str = "fft"):
    """The training boundary of reference ``ref`` and its potential-field cube: ``faces``, all
    six reference faces; ``bottom``, the reference bottom with potential-field sides and top."""
    bottom = from_cube(ref)
    pf = potential_cube(bottom, pf_method, nz=ref.sizes["z"])
    if boundary == "faces":
        return cube_faces(ref), pf
    return merge_points([cube_faces(ref, ("bottom",)), potential_faces(bottom, pf_method, nz=ref.sizes["z"])]), pf


def fit_with_snapshots(trainer: Trainer, ref, marks):
    """Train; metrics against ``ref`` when the training time first passes each of ``marks``
    (s) and at the end. Returns (the TrainResult, the metrics dicts with wall_s and
    iteration), printing each as it comes."""
    marks = sorted(marks)
    results = []

    def snapshot(tr, force=False):
        if not (force or (marks and tr.elapsed_s >= marks[0])):
            return
        while marks and tr.elapsed_s >= marks[0]:
            marks.pop(0)
        m = cube_metrics(model_cube(tr.model, tr.metadata({}, None)), reference=ref)
        m.update(wall_s=tr.elapsed_s, iteration=tr.iteration)
        results.append(m)
        print(f"  t={tr.elapsed_s:7.1f} s it={tr.iteration:5d}  "
              + "  ".join(f"{k}={m[k]:.4f}" for k in KEYS), flush=True)

    result = trainer.fit(resume=False, callback=snapshot)
    if not results or results[-1]["iteration"] != trainer.iteration:
        snapshot(trainer, force=True)
    return result, results


def row(name, m, wall=""):
    return f"| {name} | " + " | ".join(f"{m[k]:.4f}" if k in m else "" for k in KEYS) + f" | {wall} |"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", type=int, choices=(1, 2), default=1)
    ap.add_argument("--shape", type=int, default=64, help="grid points per axis")
    ap.add_argument("--budget", type=float, default=1800.0, help="training wall-clock budget (s)")
    ap.add_argument("--snapshots", type=float, nargs="*", default=(60, 300, 900, 1800),
                    help="training times (s) at which metrics are taken")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--config", help="training settings (YAML)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", default=None, help="directory for results (JSON, Markdown, loss.csv)")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    ref = lowlou_cube(**CASES[args.case], shape=(args.shape,) * 3)
    boundary, pf = boundary_for(ref, CASE_BOUNDARY[args.case])
    pf_metrics = cube_metrics(pf, reference=ref)
    cfg = TrainConfig.from_dict(gather(args.config, "train", [*args.set, f"time_budget_s={args.budget}",
                                                              "progress=false"], threads=args.threads))
    out = Path(args.out) if args.out else None
    trainer = Trainer(boundary, cfg, out, potential=pf)
    marks = [s for s in args.snapshots if s <= args.budget] + [args.budget]

    print(f"Low & Lou case {args.case}, {args.shape}^3, budget {args.budget:.0f} s, "
          f"{args.threads} threads, {platform.processor() or platform.machine()}, torch {torch.__version__}")
    print(row("potential field", pf_metrics))
    t0 = time.perf_counter()
    result, results = fit_with_snapshots(trainer, ref, marks)
    total = time.perf_counter() - t0

    lines = [f"Low & Lou case {args.case} at {args.shape}^3 "
             f"({'six faces' if args.case == 1 else 'bottom + potential faces'}); "
             f"{args.threads} threads; {platform.machine()}; torch {torch.__version__}; "
             f"wall time incl. evaluations {total:.0f} s", "",
             "| method | C_vec | C_cs | E_n' | E_m' | eps | sigma_J | training time |",
             "|---|---|---|---|---|---|---|---|", row("potential field", pf_metrics)]
    lines += [f"| {name} | " + " | ".join(values) + f" |  | {when} |" for name, *values, when in PUBLISHED[args.case]]
    lines += [row(f"ffnn, it {m['iteration']}", m, f"{m['wall_s']:.0f} s") for m in results]
    table = "\n".join(lines)
    print(table)
    if out:
        write_text(table, out / "table.md")
        write_json({
            "case": args.case, "shape": args.shape, "threads": args.threads, "config": vars(cfg),
            "potential_field": pf_metrics, "snapshots": results, "stop_reason": result.stop_reason,
            "machine": platform.platform(), "cpus": os.cpu_count()}, out / "results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
