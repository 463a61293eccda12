"""Time and peak memory of ``ffnn derived`` on a real active region (issue 15).

    python benchmarks/derived_sharp.py --sharp ../shared/data/sharp/hmi.sharp_cea_720s.377.20110215_020000_TAI
    python benchmarks/derived_sharp.py --cube results/ar11158_.../cube.nc --boundary results/ar11158_.../boundary.nc

Without ``--cube``, builds the potential-field cube of the SHARP record at the workflow's
default bin 2 (Br, Bp, Bt read with sunpy; 100 Mm high; the CEA WCS binned with the map),
so that the field-line work (lengths, connectivity) is that of the real region. Then runs
``ffnn derived`` in a child process for each ``--threads`` value, twice: the Q and Tw maps
at the cube's bottom resolution alone (``--no-slice``), and with the vertical slice of Q
(the workflow's default). Prints wall time, the child's peak resident memory, the
summary scalars and the share of lines without a Q, and keeps derived.nc and the figures
in ``--out``. streamtracer's threads are rayon's (``--threads`` sets RAYON_NUM_THREADS).
CPU is the child's user + system time: on a shared machine, wall time depends on the load,
CPU time much less.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def potential_region(sharp_dir: Path, out: Path, bin_factor: int = 2, height_mm: float = 100.0):
    """boundary.nc and the potential-field cube.nc of a SHARP record (with its WCS)."""
    import sunpy.map

    from ffnn.field.cube import compressed_encoding
    from ffnn.util.files import write_netcdf
    from ffnn.field.potential import potential_cube
    from ffnn.io.sharp import segments_map
    from ffnn.io.wcs import binned, wcs_attrs

    segments = {}
    for seg in ("Br", "Bp", "Bt"):
        path = next(sharp_dir.glob(f"*{seg}.fits"))
        smap = sunpy.map.Map(path)
        segments[seg] = (np.asarray(smap.data, dtype=np.float64), smap.fits_header)
    bottom = segments_map(segments, bin_factor=bin_factor, height_mm=height_mm)
    keys = binned(wcs_attrs(segments["Br"][1]), bin_factor)  # the WCS of the binned grid
    bottom.attrs.update({k: v for k, v in keys.items()})
    cube = potential_cube(bottom)
    cube.attrs.update(keys)
    cube.attrs["title"] = f"potential field above {sharp_dir.name} (bin {bin_factor})"
    write_netcdf(bottom, out / "boundary.nc")
    write_netcdf(cube, out / "cube.nc", encoding=compressed_encoding(cube))
    return out / "cube.nc", out / "boundary.nc", cube.sizes


def run_derived(cube: Path, boundary: Path, out: Path, threads: int, extra: list[str]):
    """Run ``ffnn derived`` in a child; (wall s, CPU s, peak RSS MiB, derived dataset)."""
    import xarray as xr

    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "RAYON_NUM_THREADS": str(threads)}
    cmd = [sys.executable, "-m", "ffnn.cli", "derived", str(cube), "--boundary", str(boundary),
           "-o", str(out / "derived.nc"), "--figures", str(out), "--threads", str(threads), *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    log = proc.stdout.read()
    if status != 0:
        raise SystemExit(f"ffnn derived failed:\n{log}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, xr.load_dataset(out / "derived.nc")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sharp", type=Path, help="directory of a SHARP record (Br, Bp, Bt FITS)")
    parser.add_argument("--cube", type=Path, help="a cube.nc instead (e.g. a trained model's)")
    parser.add_argument("--boundary", type=Path, help="its boundary.nc (with --cube)")
    parser.add_argument("--threads", type=int, nargs="+", default=[2])
    parser.add_argument("--no-slice-run", action="store_true", help="only the maps, not the run with the slice")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/derived_sharp"))
    args = parser.parse_args()
    if not args.cube and not args.sharp:
        parser.error("give --sharp DIR or --cube CUBE --boundary BOUNDARY")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.cube:
        cube, boundary = args.cube, args.boundary
        import xarray as xr

        sizes = xr.open_dataset(cube).sizes
    else:
        t0 = time.perf_counter()
        cube, boundary, sizes = potential_region(args.sharp, args.out)
        print(f"potential-field cube of {args.sharp.name}: {sizes['x']} x {sizes['y']} x {sizes['z']} "
              f"({time.perf_counter() - t0:.0f} s to build)")
    print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f} at start")
    print(f"{'run':>28} {'threads':>7} {'wall [s]':>9} {'CPU [s]':>8} {'peak RSS [MiB]':>15} {'mean|Tw|':>9} "
          f"{'max|Tw|':>8} {'QSL area [Mm2]':>15} {'no Q [%]':>9} {'unfinished [%]':>15}")
    for threads in args.threads:
        runs = (("Q and Tw maps (no slice)", ["--no-slice"]), ("with the slice of Q", []))
        for name, extra in runs[:1] if args.no_slice_run else runs:
            wall, cpu, rss, ds = run_derived(cube, boundary, args.out / f"t{threads}{'_noslice' if extra else ''}",
                                        threads, extra)
            print(f"{name:>28} {threads:>7} {wall:9.1f} {cpu:8.1f} {rss:15.0f} {float(ds['mean_abs_twist']):9.3g} "
                  f"{float(ds['max_abs_twist']):8.3g} {float(ds['qsl_area']):15.4g} "
                  f"{100 * ds.attrs['undefined_q_fraction']:9.1f} {100 * ds.attrs['unfinished_line_fraction']:15.2f}")
    print(f"footpoints: {sizes['x']} x {sizes['y']} (the cube's bottom grid); wall time includes reading "
          f"the cube, alpha, writing derived.nc and the three figures; load average "
          f"{os.getloadavg()[0]:.2f} at the end; children's peak RSS "
          f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
