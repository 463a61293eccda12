"""Field lines of the figures: streamtracer (ffnn.analysis.fieldlines) against the hand-written RK4
loop that ffnn/products/figures.py used before issue 15, same seeds, same step, same lines.

    python benchmarks/fieldlines.py [--threads 2] [--lines 30] [--repeats 9]
        [--sharp ffnn/data/sharp/hmi.sharp_cea_720s.377.20110215_020000_TAI]

For Low & Lou case 1 on 16^3, 32^3 (the workflow's default grid) and 64^3, and with
``--sharp`` the potential field of a real SHARP record at bin 2: the figures' seeds
(:func:`ffnn.products.figures.seed_points`, 30 lines started upward), traced by both tracers at half
the smallest grid spacing; prints the fastest of ``--repeats`` timings of each, end to end
(the figures' call :func:`ffnn.products.figures.trace_field_lines`: field preparation and tracing)
and tracing alone (the field prepared once), their ratios, and how far the end points of
the two sets of lines lie apart. The baseline is a verbatim copy of the old loop (RK4,
scipy's RegularGridInterpolator, all lines advanced together, the last step clipped onto
the box).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def old_prepare(cube):
    """The old tracer's field preparation: coordinates and the interpolator of B."""
    from scipy.interpolate import RegularGridInterpolator

    axes = tuple(np.asarray(cube[c].values, dtype=np.float64) for c in ("x", "y", "z"))
    field = np.stack([cube[c].transpose("x", "y", "z").values.astype(np.float64) for c in ("Bx", "By", "Bz")],
                     axis=-1)
    return axes, RegularGridInterpolator(axes, field, method="linear", bounds_error=False, fill_value=np.nan)


def old_trace_field_lines(cube, seeds, direction=1.0, step=None, max_steps=None, prepared=None):
    """The field-line tracer of ffnn/products/figures.py before issue 15 (commit bd3e4d6), verbatim
    but for the helper names and the field preparation split off (``prepared``)."""
    (x, y, z), interp = prepared or old_prepare(cube)
    seeds = np.atleast_2d(np.asarray(seeds, dtype=np.float64))
    if seeds.size == 0:
        return []
    lo = np.array([x.min(), y.min(), z.min()])
    hi = np.array([x.max(), y.max(), z.max()])
    spacing = min(np.min(np.abs(np.diff(a))) for a in (x, y, z))
    h = float(step) if step else 0.5 * spacing
    if max_steps is None:
        max_steps = int(np.ceil(4 * np.linalg.norm(hi - lo) / h))
    sign = np.broadcast_to(np.asarray(direction, dtype=np.float64), (seeds.shape[0],)).copy()
    tol = 1e-9 * (hi - lo)

    def velocity(p, s):
        b = interp(p)
        norm = np.linalg.norm(b, axis=1)
        inside = np.all((p >= lo - tol) & (p <= hi + tol), axis=1)
        good = inside & np.isfinite(norm) & (norm > 0)
        v = np.zeros_like(p)
        v[good] = b[good] / norm[good, None] * s[good, None]
        return v, good

    points = [[s.copy()] for s in seeds]
    pos = seeds.copy()
    active = np.ones(seeds.shape[0], dtype=bool)
    for _ in range(max_steps):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        p, s = pos[idx], sign[idx]
        k1, g1 = velocity(p, s)
        k2, g2 = velocity(p + 0.5 * h * k1, s)
        k3, g3 = velocity(p + 0.5 * h * k2, s)
        k4, g4 = velocity(p + h * k3, s)
        new = p + h / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        inside = np.all((new >= lo - tol) & (new <= hi + tol), axis=1)
        ok = g1 & g2 & g3 & g4 & inside
        for j, i in enumerate(idx):
            if ok[j]:
                points[i].append(new[j])
            elif g1[j]:
                t = _exit_fraction(p[j], new[j], lo, hi)
                if t > 0:
                    points[i].append(p[j] + t * (new[j] - p[j]))
        pos[idx[ok]] = new[ok]
        active[idx[~ok]] = False
    return [np.asarray(line) for line in points]


def _exit_fraction(a, b, lo, hi) -> float:
    t = 1.0
    d = b - a
    for k in range(3):
        if d[k] > 0 and b[k] > hi[k]:
            t = min(t, (hi[k] - a[k]) / d[k])
        elif d[k] < 0 and b[k] < lo[k]:
            t = min(t, (lo[k] - a[k]) / d[k])
    return max(0.0, t)


def timed(*fns, repeats: int):
    """Fastest time of each function over ``repeats`` rounds (one warm-up call each), the
    functions called in turn within a round so that both see the same load on a shared
    machine; and their last results."""
    outs = [fn() for fn in fns]
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            outs[k] = fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best, outs


def face_of(point, lo, hi):
    """The face of the box nearest to ``point`` (0..5: x_min, x_max, y_min, ..., z_max)."""
    return int(np.argmin(np.concatenate([np.abs(point - lo), np.abs(point - hi)])[[0, 3, 1, 4, 2, 5]]))


def compare(name, cube, lines, repeats):
    """Time both tracers on the figures' seeds of ``cube``; print one row."""
    from ffnn.analysis.fieldlines import FieldGrid, default_step, trace
    from ffnn.products.figures import seed_points, trace_field_lines

    seeds, sign = seed_points(cube, lines)
    (t_old, t_new), (old, new) = timed(lambda: old_trace_field_lines(cube, seeds, sign),
                                       lambda: trace_field_lines(cube, seeds, sign), repeats=repeats)
    prepared = old_prepare(cube)
    grid = FieldGrid.from_cube(cube)
    (t_old_trace, t_new_trace), _ = timed(
        lambda: old_trace_field_lines(cube, seeds, sign, prepared=prepared),
        lambda: trace(grid, seeds, sign, step=default_step(grid), keep_points=True), repeats=repeats)
    lo = np.array([float(cube[c].min()) for c in "xyz"])
    hi = np.array([float(cube[c].max()) for c in "xyz"])
    dist = np.array([np.linalg.norm(a[-1] - b[-1]) for a, b in zip(old, new)]) / (hi[0] - lo[0])
    same = sum(face_of(a[-1], lo, hi) == face_of(b[-1], lo, hi) for a, b in zip(old, new))
    print(f"{name:>16} {1e3 * t_old:9.1f} {1e3 * t_new:9.2f} {t_old / t_new:6.1f}x "
          f"{1e3 * t_old_trace:9.1f} {1e3 * t_new_trace:9.2f} {t_old_trace / t_new_trace:6.1f}x "
          f"{np.median(dist):10.1e} / {dist.max():.1e} {same:>5}/{len(old)}")


def sharp_potential_cube(directory, bin_factor=2, height_mm=100.0):
    """The potential-field cube above a real SHARP record (Br, Bp, Bt read with sunpy)."""
    from pathlib import Path

    import sunpy.map

    from ffnn.field.potential import potential_cube
    from ffnn.io.sharp import segments_map

    segments = {}
    for seg in ("Br", "Bp", "Bt"):
        path = next(Path(directory).glob(f"*{seg}.fits"))
        smap = sunpy.map.Map(path)
        segments[seg] = (np.asarray(smap.data, dtype=np.float64), smap.fits_header)
    return potential_cube(segments_map(segments, bin_factor=bin_factor, height_mm=height_mm))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="streamtracer threads (RAYON_NUM_THREADS)")
    parser.add_argument("--lines", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--sharp", help="directory of a SHARP record (Br, Bp, Bt FITS): adds its "
                        "potential field at bin 2, e.g. the embedded "
                        "ffnn/data/sharp/hmi.sharp_cea_720s.377.20110215_020000_TAI")
    args = parser.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)  # before streamtracer's first call

    from ffnn.analysis.lowlou import lowlou_cube

    print(f"streamtracer threads: {args.threads} (RAYON_NUM_THREADS); load average "
          f"{os.getloadavg()[0]:.2f} at start; {args.lines} lines, best of {args.repeats}; times in ms")
    print(f"{'field':>16} {'old':>9} {'new':>9} {'ratio':>7} {'old trace':>9} {'new trace':>9} {'ratio':>7} "
          f"{'end-point distance':>20} {'face':>7}")
    for n in (16, 32, 64):
        compare(f"Low & Lou 1 {n}^3", lowlou_cube(n=1, m=1, l=0.3, phi=np.pi / 4, shape=(n, n, n)),
                args.lines, args.repeats)
    if args.sharp:
        cube = sharp_potential_cube(args.sharp)
        shape = "x".join(str(cube.sizes[c]) for c in "xyz")
        compare(f"11158 PF {shape}", cube, args.lines, max(1, args.repeats // 2))
    print("old/new: the figures' call (field preparation and tracing); trace: tracing alone, the "
          "field prepared once; end-point distance: median / max over the lines, in units of the "
          "box's x extent; face: lines ending on the same face of the box")


if __name__ == "__main__":
    main()
