"""Warm starts along a time series: a drifting Low & Lou field trained cold and warm, one run.

    python benchmarks/series.py --snapshots 10 --shape 32 --threads 1 --out benchmarks/out/series

Snapshot k is the Low & Lou field with tilt phi + k dphi (``ffnn.pipeline.series.drifting_lowlou``;
default the case-1 field n=1, l=0.3, phi=pi/4, dphi=0.05 rad), given as in Low & Lou
case 2's set-up: its bottom, and potential-field sides and top (``lowlou.boundary_for``).
Every snapshot is trained twice:

* **cold**: from a random start with the workflow's ``train:`` settings (5,000 interior
  points), for ``--budget`` seconds of training (default 120: on one quiet core a 32^3
  run levels off well within it; ten snapshots then take about 25 min);
* **warm**: from the warm chain's model of the snapshot before (the chain's first
  snapshot is its cold run), with the workflow's warm settings (``config/config.yaml``
  ``series.warm``: no boundary warm-up, stop on a loss plateau; at most ``--budget``).

E_n' and E_m' against the exact field are measured after every L-BFGS step of 10
iterations (training time only: the evaluations are not counted). ``cold_s`` is the training time the cold run took to
come within 0.01 of its own final E_n' and E_m'; ``warm_s`` the time the warm run took to
come within 0.01 of the cold run's final E_n' and E_m' (0 when the previous snapshot's
model already did). Written to ``OUT``: ``results.json`` (``snapshots``: per snapshot
``cold_s``, ``warm_s``, the final ``e_n_prime_cold``/``_warm``, ``e_m_prime_cold``/``_warm``
and more), ``table.md``, ``series.nc`` / ``series_cold.nc`` (the warm and cold series in
the workflow's format) and ``series.png`` (both beside the exact field).
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from ffnn.field.cube import model_cube
from ffnn.util.files import write_json, write_text
from ffnn.analysis.lowlou import lowlou_cube
from ffnn.analysis.metrics import cube_metrics
from ffnn.io.box import UnitBox
from ffnn.pipeline.series import drifting_lowlou, series_dataset, write_series
from ffnn.products.series_figure import plot_series
from ffnn.field.train import TrainConfig, Trainer, save_model
from lowlou import CASES, boundary_for

REPO = Path(__file__).resolve().parents[1]
WITHIN = 0.01  # "reaches the cold start's quality": E_n' and E_m' within this
# the cold settings: the workflow's train block with 5,000 interior points, so that a cold
# run levels off within a few minutes on one thread at 32^3 (measured: E_n' within 0.01 of
# its final value after 75-85 s of a 150-s budget, on a third of a core)
COLD = {**yaml.safe_load((REPO / "config/config.yaml").read_text())["train"],
        "representation": "mlp",  # the warm starts measured here are the tanh network's
        "n_interior": 5000, "progress": False}
WARM = yaml.safe_load((REPO / "config/config.yaml").read_text())["series"]["warm"]
CADENCE = datetime.timedelta(minutes=12)
EPOCH = datetime.datetime(2011, 2, 14)  # the synthetic series' first time (labels only)


def settings(items) -> dict:
    """KEY=VALUE items (values read as YAML) as a dict."""
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key.strip()] = yaml.safe_load(value)
    return out


def quality(model, box: UnitBox, points: np.ndarray, ref_b: np.ndarray) -> tuple[float, float]:
    """(E_n', E_m') of the model against the reference field at ``points`` (Mm, (M, 3))."""
    p = next(model.parameters())
    with torch.no_grad():
        b = model(torch.as_tensor(box.to_unit(*points.T), dtype=p.dtype, device=p.device)).cpu().numpy()
    diff = np.linalg.norm(b - ref_b, axis=1)
    norm = np.linalg.norm(ref_b, axis=1)
    return float(1 - diff.sum() / norm.sum()), float(1 - np.mean(diff / np.maximum(norm, 1e-30)))


def run(trainer: Trainer, points, ref_b, target=None):
    """Fit; returns (TrainResult, trace of (training s, iteration, E_n', E_m', loss))."""
    trace = [(0.0, trainer.iteration, *quality(trainer.model, trainer.box, points, ref_b), math.nan)]

    def step(tr):
        trace.append((tr.elapsed_s, tr.iteration, *quality(tr.model, tr.box, points, ref_b), tr.history[-1]["loss"]))

    return trainer.fit(resume=False, callback=step), trace


def first_time(trace, e_n: float, e_m: float) -> float | None:
    """Training time at which E_n' >= e_n - WITHIN and E_m' >= e_m - WITHIN first held."""
    for t, _, a, b, _ in trace:
        if a >= e_n - WITHIN and b >= e_m - WITHIN:
            return t
    return None


def row_of(result, cube_metrics_row) -> dict:
    return {**cube_metrics_row, "iterations": result.meta["iterations"], "wall_time_s": result.elapsed_s,
            "stop_reason": result.stop_reason}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--snapshots", type=int, default=10)
    ap.add_argument("--shape", type=int, default=32, help="grid points per axis")
    ap.add_argument("--budget", type=float, default=120.0, help="cold training budget per snapshot (s)")
    ap.add_argument("--case", type=int, choices=(1, 2), default=1,
                    help="Low & Lou field of case 1 (n=1) or case 2 (n=3) to drift (default 1)")
    ap.add_argument("--dphi", type=float, default=0.05,
                    help="tilt step per snapshot (rad; default 0.05: the previous snapshot's model "
                    "is then 0.01-0.02 below the next one's cold quality)")
    ap.add_argument("--dl", type=float, default=0.0, help="source-depth step per snapshot")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="training setting of both runs")
    ap.add_argument("--warm-set", action="append", default=[], metavar="KEY=VALUE",
                    help="training setting of the warm runs (over config series.warm)")
    ap.add_argument("--out", required=True, help="directory for results.json, table.md, series.nc/png")
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    both = {**COLD, "threads": args.threads, **settings(args.set), "time_budget_s": args.budget}
    cold_cfg = TrainConfig.from_dict(both)
    warm_cfg = TrainConfig.from_dict({**both, **WARM, **settings(args.warm_set)})
    case = CASES[args.case]
    fields = drifting_lowlou(args.snapshots, n=case["n"], m=case["m"], l=case["l"], phi=case["phi"],
                             dphi=args.dphi, dl=args.dl)
    print(f"drifting Low & Lou (n={case['n']}, phi {case['phi']:.4f} + k {args.dphi:g} rad, "
          f"l {case['l']:g} + k {args.dl:g}), {args.snapshots} snapshots, {args.shape}^3, bottom + "
          f"potential faces; cold budget {args.budget:g} s; {args.threads} thread(s); "
          f"{platform.processor() or platform.machine()}, torch {torch.__version__}", flush=True)
    print(f"  warm settings: {WARM | settings(args.warm_set)}", flush=True)
    snapshots, rows = [], {"cold": [], "warm": [], "exact": []}
    scratch = tempfile.TemporaryDirectory(prefix="ffnn-series-")
    model_path = Path(scratch.name) / "model.pt"
    wall0 = time.perf_counter()
    for k, f in enumerate(fields):
        ref = lowlou_cube(f.n, f.m, f.l, f.phi, shape=(args.shape,) * 3)
        boundary, pf = boundary_for(ref, "bottom")
        X, Y, Z = np.meshgrid(ref.x.values, ref.y.values, ref.z.values, indexing="ij")
        points = np.stack([X.ravel(), Y.ravel(), Z.ravel()], axis=1)
        ref_b = np.stack([ref[c].values.ravel() for c in ("Bx", "By", "Bz")], axis=1)

        cold, cold_trace = run(Trainer(boundary, cold_cfg, None), points, ref_b)
        e_n_cold, e_m_cold = cold_trace[-1][2:4]
        entry = {"snapshot": k, "phi": f.phi, "l": f.l, "cold_s": first_time(cold_trace, e_n_cold, e_m_cold),
                 "cold_total_s": cold.elapsed_s, "cold_iterations": cold.meta["iterations"],
                 "e_n_prime_cold": e_n_cold, "e_m_prime_cold": e_m_cold}
        if k == 0:  # the chain starts cold
            warm, warm_trace = cold, cold_trace
            entry.update(warm_start=False, warm_s=entry["cold_s"], warm_total_s=cold.elapsed_s)
        else:
            warm, warm_trace = run(Trainer(boundary, warm_cfg, None, init_model=model_path), points, ref_b)
            entry.update(warm_start=True, warm_s=first_time(warm_trace, e_n_cold, e_m_cold),
                         warm_total_s=warm.elapsed_s)
        save_model(warm, model_path)
        entry.update(e_n_prime_warm=warm_trace[-1][2], e_m_prime_warm=warm_trace[-1][3],
                     e_n_prime_warm_start=warm_trace[0][2], e_m_prime_warm_start=warm_trace[0][3],
                     warm_iterations=warm.meta["iterations"], warm_stop_reason=warm.stop_reason)
        ratio = entry["warm_s"] / entry["cold_s"] if entry["warm_s"] is not None and entry["cold_s"] else None
        entry["ratio"] = ratio
        entry["traces"] = {"cold": _rounded(cold_trace), "warm": _rounded(warm_trace) if k else None}
        snapshots.append(entry)
        for name, result in (("cold", cold), ("warm", warm)):
            rows[name].append(row_of(result, cube_metrics(model_cube(result.model, result.meta),
                                                          reference=ref, potential=pf)))
        rows["exact"].append(cube_metrics(ref, potential=pf))
        reached = "not reached" if entry["warm_s"] is None else f"{entry['warm_s']:.1f} s"
        print(f"  snapshot {k}: cold E_n' {e_n_cold:.4f} E_m' {e_m_cold:.4f} (within 0.01 at "
              f"{entry['cold_s']:.1f} s of {cold.elapsed_s:.1f} s, it {cold.meta['iterations']}); "
              f"warm from E_n' {warm_trace[0][2]:.4f} E_m' {warm_trace[0][3]:.4f} to {warm_trace[-1][2]:.4f} "
              f"{warm_trace[-1][3]:.4f} in {warm.elapsed_s:.1f} s (it {warm.meta['iterations']}, "
              f"{warm.stop_reason}); cold quality {reached}"
              + (f" = {100 * ratio:.0f} % of cold" if ratio is not None and k else ""), flush=True)

    warm_ratios = [s["ratio"] for s in snapshots[1:]]
    summary = {
        "warm_snapshots": len(warm_ratios),
        "reached": sum(r is not None for r in warm_ratios),
        "max_ratio": max((r for r in warm_ratios if r is not None), default=None),
        "median_ratio": float(np.median([r for r in warm_ratios if r is not None])) if any(
            r is not None for r in warm_ratios) else None,
        "all_within_30_percent": bool(warm_ratios) and all(r is not None and r <= 0.3 for r in warm_ratios),
        "all_within_10_percent": bool(warm_ratios) and all(r is not None and r <= 0.1 for r in warm_ratios),
        "wall_s": time.perf_counter() - wall0,
    }
    lines = [f"Drifting Low & Lou series (n={case['n']}, dphi {args.dphi:g} rad/snapshot, dl {args.dl:g}), "
             f"{args.shape}^3, bottom + potential faces, {args.threads} thread(s), cold budget "
             f"{args.budget:g} s; {platform.machine()}, torch {torch.__version__}", "",
             "| snapshot | cold E_n' | cold E_m' | cold_s (of total) | warm start E_n' / E_m' | warm E_n' | "
             "warm E_m' | warm_s (total) | warm_s / cold_s |", "|---|---|---|---|---|---|---|---|---|"]
    for s in snapshots:
        warm_s = "–" if s["warm_s"] is None else f"{s['warm_s']:.1f}"
        lines.append(f"| {s['snapshot']}{'' if s['warm_start'] else ' (cold chain start)'} | "
                     f"{s['e_n_prime_cold']:.4f} | {s['e_m_prime_cold']:.4f} | {s['cold_s']:.1f} "
                     f"({s['cold_total_s']:.1f}) | {s['e_n_prime_warm_start']:.4f} / "
                     f"{s['e_m_prime_warm_start']:.4f} | {s['e_n_prime_warm']:.4f} | {s['e_m_prime_warm']:.4f} | "
                     f"{warm_s} ({s['warm_total_s']:.1f}) | "
                     + ("–" if not s["warm_start"] or s["ratio"] is None else f"{100 * s['ratio']:.0f} %") + " |")
    lines += ["", f"warm snapshots reaching the cold quality: {summary['reached']} of "
              f"{summary['warm_snapshots']}; warm_s / cold_s median "
              f"{_pct(summary['median_ratio'])}, max {_pct(summary['max_ratio'])} (target <= 30 %, goal <= 10 %)"]
    table = "\n".join(lines)
    print(table)

    times = [EPOCH + k * CADENCE for k in range(len(fields))]
    warm_flags = [s["warm_start"] for s in snapshots]
    sets = {name: series_dataset(rows[name], times, warm=warm_flags if name == "warm" else [False] * len(fields),
                                 attrs={"title": f"drifting Low & Lou series ({name})"})
            for name in ("warm", "cold", "exact")}
    write_series(sets["warm"], out / "series.nc")
    write_series(sets["cold"], out / "series_cold.nc")
    plot_series({"warm-started chain": sets["warm"], "cold starts": sets["cold"]}, out / "series.png",
                reference=("exact field", sets["exact"]), title=f"drifting Low & Lou field (n={case['n']}, tilt +{args.dphi:g} rad per "
                "12-min snapshot), bottom + potential faces, synthetic times")
    write_text(table, out / "table.md")
    write_json({
        "snapshots": snapshots, "summary": summary, "shape": args.shape, "case": args.case, "dphi": args.dphi,
        "dl": args.dl, "budget_s": args.budget, "threads": args.threads, "within": WITHIN,
        "cold_config": vars(cold_cfg), "warm_config": vars(warm_cfg), "machine": platform.platform(),
        "cpus": os.cpu_count()}, out / "results.json")
    return 0


def _rounded(trace):
    """A quality trace as [training s, iteration, E_n', E_m', loss] rows, rounded for JSON."""
    return [[round(t, 2), it, round(a, 4), round(b, 4), None if math.isnan(f) else float(f"{f:.5g}")]
            for t, it, a, b, f in trace]


def _pct(value) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.0f} %"


if __name__ == "__main__":
    sys.exit(main())
