"""Extractor throughput and memory on full-field phantoms (prints; not a test).

Run from the repository root: ``python benchmarks/imaging_throughput.py [N_IMAGES] [PHANTOM_DIR]``
(default 48 images). Writes N full-field phantoms (about 4096 x 3328 pixels at 0.07 mm), or
reuses the ``*.dcm`` files of PHANTOM_DIR (written there first if it has too few), then measures:
seconds per image on one core (in-process), peak resident memory of a worker process, and the
wall time of 1 vs 2 local Dask workers, with the cluster's start-up timed apart from the
extraction (the speed-up is reported both ways). The 1 vs 2 pair runs ROUNDS times (default 2),
alternating, because wall times on a shared virtual machine vary by 5-10% from run to run; and
the same images are also run as two plain processes of half the images each (no Dask): that
ratio is the machine's own ceiling (shared caches and memory bandwidth) against which Dask's
overhead can be read.
Targets (issue #5): >= 1 full-field image per second per core; peak memory < 1.5 GB per worker;
2 workers >= 1.8x one.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from prognosis.imaging.batch import WORKER_ENV, local_cluster, run_batch
from prognosis.imaging.extract import extract_image
from prognosis.simulate.phantom import simulate_phantoms

N = int(sys.argv[1]) if len(sys.argv) > 1 else 48
PHANTOM_DIR = Path(sys.argv[2]) if len(sys.argv) > 2 else None
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 2
# with a Dask worker's environment (distributed's pre-spawn variables and ours)
ENV = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536", **WORKER_ENV}
_BATCH = ("import sys, time; import prognosis.imaging.extract; from prognosis.imaging.batch import run_batch\n"
          "t = time.perf_counter(); run_batch(sys.argv[1], sys.argv[2]); print(time.perf_counter() - t)")


def _phantoms(folder: Path) -> list[Path]:
    if len(list(folder.glob("*.dcm"))) < N:
        start = time.perf_counter()
        simulate_phantoms(folder, n=max((N + 1) // 2, 1), seed=11, full_field=True, spacings_mm=(0.07,))
        print(f"full-field phantoms written in {time.perf_counter() - start:.0f} s")
    return sorted(folder.glob("*.dcm"))[:N]


def _dask_run(files: list[Path], tmp: Path, workers: int) -> tuple[float, float]:
    """(start-up seconds, extraction seconds) of ``files`` on a fresh local cluster of ``workers``."""
    folder = _link(files, tmp / f"in{workers}_{time.monotonic_ns()}")
    start = time.perf_counter()
    with local_cluster(workers, memory_limit="1.5GB") as cluster:
        cluster.wait_for_workers(workers)
        started = time.perf_counter()
        run_batch(folder, tmp / f"{folder.name}.parquet", scheduler=cluster.scheduler_address)
        done = time.perf_counter()
    return started - start, done - started


def _link(files: list[Path], folder: Path) -> Path:
    folder.mkdir()
    for f in files:
        os.symlink(f, folder / f.name)
    return folder


def _plain_processes(files: list[Path], tmp: Path, processes: int) -> float:
    """Wall time of ``processes`` plain Python processes, each extracting its share (no Dask)."""
    tag = f"p{processes}_{time.monotonic_ns()}"
    folders = [_link(files[i::processes], tmp / f"{tag}_{i}") for i in range(processes)]
    start = time.perf_counter()
    running = [subprocess.Popen([sys.executable, "-c", _BATCH, str(d), str(tmp / f"{d.name}.parquet")], env=ENV,
                                stdout=subprocess.DEVNULL) for d in folders]
    if any(p.wait() for p in running):
        raise RuntimeError("a plain extraction process failed")
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = PHANTOM_DIR or tmp / "ph"
        folder.mkdir(parents=True, exist_ok=True)
        files = _phantoms(folder)
        print(f"{len(files)} full-field phantoms")

        extract_image(files[0])   # warm up imports and caches
        times = []
        for f in files:
            r = extract_image(f)
            times.append(r.image["seconds"])
        print(f"one core, in process: {sum(times) / len(times):.2f} s per image "
              f"({len(times) / sum(times):.2f} images/s/core); target >= 1 image/s/core")

        probe = ("import resource, sys; from prognosis.imaging.extract import extract_image\n"
                 "for f in sys.argv[1:]: extract_image(f)\n"
                 "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
        peak_kb = int(subprocess.run([sys.executable, "-c", probe, *map(str, files)], capture_output=True, text=True,
                                     check=True, env=ENV).stdout.split()[-1])
        print(f"peak resident memory of a worker process: {peak_kb / 1024:.0f} MB; target < 1536 MB")

        dask_ratios, plain_ratios = [], []
        for round_ in range(1, ROUNDS + 1):
            startup, wall = {}, {}
            for workers in (1, 2):
                startup[workers], wall[workers] = _dask_run(files, tmp, workers)
                print(f"round {round_}: {workers} Dask worker(s): {wall[workers]:.1f} s for {len(files)} images "
                      f"({len(files) / wall[workers] / workers:.2f} images/s/worker) + {startup[workers]:.1f} s cluster start")
            dask_ratios.append(wall[1] / wall[2])
            print(f"round {round_}: speed-up 2 vs 1 workers, extraction only: {wall[1] / wall[2]:.2f}x; with cluster "
                  f"start: {(wall[1] + startup[1]) / (wall[2] + startup[2]):.2f}x")
            plain = {p: _plain_processes(files, tmp, p) for p in (1, 2)}
            plain_ratios.append(plain[1] / plain[2])
            print(f"round {round_}: plain processes, no Dask: 1 x {len(files)} images {plain[1]:.1f} s, "
                  f"2 x {len(files) // 2} images {plain[2]:.1f} s: {plain[1] / plain[2]:.2f}x (the machine's ceiling)")
        print(f"speed-up 2 vs 1 Dask workers, median of {ROUNDS} rounds: {statistics.median(dask_ratios):.2f}x "
              f"(rounds {', '.join(f'{r:.2f}' for r in dask_ratios)}); two plain processes: "
              f"{statistics.median(plain_ratios):.2f}x; target >= 1.8x (cores here: {os.cpu_count()})")

if __name__ == "__main__":   # Dask worker processes re-import this file
    main()
