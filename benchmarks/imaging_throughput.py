"""Extractor throughput and memory on full-field phantoms (prints; not a test).

Run from the repository root: ``python benchmarks/imaging_throughput.py [N_IMAGES]`` (default 8).
Writes N full-field phantoms (about 4096 x 3328 pixels at 0.07 mm; 0.05 and 0.1 mm fields of the
same size in mm), then measures: seconds per image on one core (in-process), peak resident memory
of a worker process, and the wall time of 1 vs 2 local Dask workers.
Targets (issue #5): >= 1 full-field image per second per core; peak memory < 1.5 GB per worker;
2 workers >= 1.8x one.
"""

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from prognosis.imaging.batch import run_batch
from prognosis.imaging.extract import extract_image
from prognosis.simulate.phantom import simulate_phantoms

N = int(sys.argv[1]) if len(sys.argv) > 1 else 8


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        simulate_phantoms(tmp / "ph", n=max(N // 2, 1), seed=11, full_field=True, spacings_mm=(0.07,))
        files = sorted((tmp / "ph").glob("*.dcm"))
        print(f"{len(files)} full-field phantoms written in {time.perf_counter() - start:.0f} s")

        extract_image(files[0])   # warm up imports and caches
        times = []
        for f in files:
            r = extract_image(f)
            times.append(r.image["seconds"])
        print(f"one core, in process: {sum(times) / len(times):.2f} s per image "
              f"({len(times) / sum(times):.2f} images/s); target >= 1 image/s/core")

        probe = ("import resource, sys; from prognosis.imaging.extract import extract_image\n"
                 "for f in sys.argv[1:]: extract_image(f)\n"
                 "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
        peak_kb = int(subprocess.run([sys.executable, "-c", probe, *map(str, files)], capture_output=True, text=True,
                                     check=True).stdout.split()[-1])
        print(f"peak resident memory of a worker process: {peak_kb / 1024:.0f} MB; target < 1536 MB")

        wall = {}
        for workers in (1, 2):
            start = time.perf_counter()
            run_batch(tmp / "ph", tmp / f"w{workers}.parquet", workers=workers)
            wall[workers] = time.perf_counter() - start
            print(f"{workers} Dask worker(s): {wall[workers]:.1f} s for {len(files)} images (cluster start included)")
        print(f"speed-up 2 vs 1 workers: {wall[1] / wall[2]:.2f}x; target >= 1.8x (cores here: {os.cpu_count()})")


if __name__ == "__main__":   # Dask worker processes re-import this file
    main()
