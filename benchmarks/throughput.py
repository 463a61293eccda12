"""Loss-and-gradient throughput against a matrix-product roofline measured in the same run.

    python benchmarks/throughput.py [--threads 2] [--points 20000]

For each network (case 1: 5x128; SHARP: 7x200) and precision, prints interior points per
second through the training hot path (B, its Jacobian, the physics loss and the parameter
gradient), the same for a plain double-backward autograd baseline, and the fraction of
the roofline: (matmul FLOP/s) / (12 x 2 x weights FLOP per point).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from ffnn.field.boundary import cube_faces
from ffnn.analysis.lowlou import lowlou_cube
from ffnn.field.model import curl_div, n_weights
from ffnn.field.train import TrainConfig, Trainer

NETS = {"case 1 (5x128)": (5, 128), "SHARP (7x200)": (7, 200)}


def matmul_flops(width: int, dtype, seconds: float = 1.0) -> float:
    """Sustained FLOP/s of (4096 x width) @ (width x width) products: the best of ten
    intervals of ``seconds`` / 10."""
    a, w = torch.randn(4096, width, dtype=dtype), torch.randn(width, width, dtype=dtype)
    for _ in range(5):
        a @ w
    best = 0.0
    for _ in range(10):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds / 10:
            a @ w
            n += 1
        best = max(best, 2 * 4096 * width * width * n / (time.perf_counter() - t0))
    return best


def timed(fn, reps: int) -> float:
    """Fastest of ``reps`` calls (s), after one warm-up call: the figure least disturbed by
    other work on the machine."""
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def plain_forward(model, x):
    """The network with torch's own layers and tanh, as a plain PINN writes it."""
    h = x
    for layer in model.hidden:
        h = torch.tanh(layer(h))
    return model.head(h) * model.scale + model.shift


def autograd_baseline(trainer: Trainer):
    """The same loss with the Jacobian from double backward (what a plain PINN does)."""
    model, x = trainer.model, trainer.samples.interior_xyz.clone().requires_grad_(True)

    def step():
        model.zero_grad()
        b = plain_forward(model, x)
        rows = [torch.autograd.grad(b[:, i].sum(), x, create_graph=True)[0] for i in range(3)]
        curl, div = curl_div(torch.stack(rows, dim=1))
        jxb = torch.linalg.cross(curl, b, dim=1)
        ((div * div).mean() + ((jxb * jxb).sum(1) / ((b * b).sum(1) + 1e-6)).mean()).backward()

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--points", type=int, default=20000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--chunk", type=int, default=0, help="interior points per pass (0: the trainer default)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    faces = cube_faces(lowlou_cube(shape=(16, 16, 16)))
    print(f"{args.threads} threads, {args.points} interior points in chunks of {args.chunk or 'default'}, "
          f"torch {torch.__version__}")
    print("| network | dtype | roofline pts/s | ffnn pts/s | fraction | autograd pts/s | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for name, (layers, width) in NETS.items():
        for dtype in ("float32", "float64"):
            cfg = TrainConfig(hidden_layers=layers, width=width, n_interior=args.points, dtype=dtype,
                              warmup_iterations=0, progress=False, threads=args.threads,
                              chunk_size=args.chunk)
            tr = Trainer(faces, cfg, None)
            for key in ("xb", "tb", "mb"):  # interior only
                setattr(tr.samples, key, getattr(tr.samples, key)[:1])
            roof = matmul_flops(width, getattr(torch, dtype)) / (12 * 2 * n_weights(tr.model))
            ours = args.points / timed(lambda: (tr.model.zero_grad(), tr.loss_terms(True)), args.reps)
            base = args.points / timed(autograd_baseline(tr), args.reps)
            print(f"| {name} | {dtype} | {roof:,.0f} | {ours:,.0f} | {ours / roof:.0%} | {base:,.0f} | "
                  f"{ours / base:.2f}x |", flush=True)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
