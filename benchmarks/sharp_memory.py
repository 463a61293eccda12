"""Memory and time of ``boundary`` + ``potential faces`` on a full-resolution SHARP.

Writes a synthetic SHARP record (Low & Lou field, default 1000 x 600 CEA pixels, NaN patch,
six compressed FITS segments as JSOC exports them) into a temporary directory, then runs in
a fresh Python process: FITS → bottom map (``ffnn.field.boundary.from_sharp``) → NetCDF,
and the potential field on the five other faces (``ffnn.field.potential.potential_faces``) →
NetCDF. That process reports its peak resident memory (``ru_maxrss``: interpreter and
libraries included) and the wall time of each step.

    python benchmarks/sharp_memory.py                      # 1000x600, bin 2, 100 Mm, fft
    python benchmarks/sharp_memory.py --bin 1 --method green
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_files(directory: Path, nx: int, ny: int) -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from jsoc_server import sharp_record  # the test suite's synthetic SHARP maker

    from ffnn.io.jsoc import SEGMENTS, SharpRecord, local_name

    record = sharp_record(377, "2011.02.14_20:00:00_TAI", "11158,11159", nx=nx, ny=ny)
    rec = SharpRecord(record.harpnum, record.t_rec, 0, dict(record.keywords))
    for seg in SEGMENTS:
        (directory / local_name(rec, seg)).write_bytes(record.file(seg))


def measure(directory: Path, bin_factor: int, height_mm: float, method: str) -> dict:
    """Run the two steps in this process; return timings (s) and peak RSS (MB)."""
    t_import = time.perf_counter()
    from ffnn.field import boundary
    from ffnn.util.files import write_netcdf
    from ffnn.field.potential import potential_faces

    rss_after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    bottom = boundary.from_sharp(directory, bin_factor=bin_factor, height_mm=height_mm)
    boundary.write_map(bottom, directory / "boundary.nc")
    t1 = time.perf_counter()
    faces = potential_faces(bottom, method=method)
    write_netcdf(faces, directory / "pf_faces.nc")
    t2 = time.perf_counter()
    return {"nx": bottom.sizes["x"], "ny": bottom.sizes["y"], "points": faces.sizes["point"],
            "import_s": t0 - t_import, "boundary_s": t1 - t0, "potential_s": t2 - t1,
            "wall_s": t2 - t0, "rss_after_import_mb": rss_after_import,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nx", type=int, default=1000, help="CEA pixels in longitude")
    p.add_argument("--ny", type=int, default=600, help="CEA pixels in latitude")
    p.add_argument("--bin", type=int, default=2, help="bin factor of the boundary step")
    p.add_argument("--height-mm", type=float, default=100.0, help="box height (Mm)")
    p.add_argument("--method", default="fft", choices=("fft", "green"))
    p.add_argument("--measure", help=argparse.SUPPRESS)  # internal: run the steps here
    p.add_argument("--make", help=argparse.SUPPRESS)  # internal: write the files here
    args = p.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(Path(args.measure), args.bin, args.height_mm, args.method)))
        return 0
    if args.make:
        make_files(Path(args.make), args.nx, args.ny)
        return 0
    # Both steps run in child processes of this small one: Linux carries the peak RSS of
    # a parent over into a forked child, so a parent that made the files would inflate it.
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        subprocess.run([sys.executable, __file__, "--make", tmp, "--nx", str(args.nx),
                        "--ny", str(args.ny)], check=True)
        made = time.perf_counter() - t
        proc = subprocess.run([sys.executable, __file__, "--measure", tmp, "--bin", str(args.bin),
                               "--height-mm", str(args.height_mm), "--method", args.method],
                              capture_output=True, text=True, check=False)
        if proc.returncode:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        r = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"SHARP {args.nx}x{args.ny} px (synthetic files made in {made:.1f} s), bin {args.bin} "
          f"-> {r['nx']}x{r['ny']} map, height {args.height_mm:g} Mm, potential {args.method}: "
          f"{r['points']} face points")
    print(f"boundary {r['boundary_s']:.2f} s, potential faces {r['potential_s']:.2f} s, "
          f"wall {r['wall_s']:.2f} s (imports {r['import_s']:.2f} s more)")
    print(f"peak RSS {r['peak_rss_mb']:.0f} MB (after imports {r['rss_after_import_mb']:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
