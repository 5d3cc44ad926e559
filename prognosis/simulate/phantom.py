"""Synthetic mammograms (MG DICOM) with calcifications of known class, place and extent.

The renderer follows the morphology of science.md §1, not the detector: a lesion is a 3D set of
particles (casting: discontinuous casts filling a branching duct toward the nipple, calibre
< 0.5 mm; crushed stone: irregular fragments of varying size; powdery: tiny, faint, hazy specks;
coarse benign: popcorn, large round and smooth rod-like calcifications > 1 mm) projected into a
CC and an MLO view. Each particle's attenuation is its projected calcium thickness (a cylinder or
sphere chord), added to a compressed-breast thickness profile with power-law (beta = 3)
fibroglandular texture, Cooper's ligaments and vessels (long bright curvilinear structures),
a pectoral muscle on MLO and a lead marker outside the breast. Exposure follows Beer-Lambert
with quantum noise whose per-pixel variance scales with pixel area, so a 0.05 mm image is
noisier per pixel than a 0.1 mm one, as on a real detector.

``python -m prognosis.simulate.phantom --out DIR --n N --seed S`` or ``prognosis phantom``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from prognosis._csv import write_csv
from prognosis.imaging.dicom_write import write_mammogram
from prognosis.simulate.lesions import PhantomParameters, make_lesion
from prognosis.simulate.phantom_view import render_view

logger = logging.getLogger(__name__)

CLASSES = ("none", "coarse_benign", "powdery", "crushed_stone", "casting")
SPACINGS_MM = (0.05, 0.07, 0.1)
SMALL_FIELD_MM = (64.0, 51.2)      # rows x columns: 640 x 512 pixels at 0.1 mm
FULL_FIELD_MM = (286.7, 232.96)    # 4096 x 3328 pixels at 0.07 mm


def _render_breast(out: Path, patient_id: str, laterality: str, cls: str, spacing: float, field_mm: tuple[float, float],
                   rng: np.random.Generator, params: PhantomParameters) -> tuple[dict, list[dict], list[pd.DataFrame]]:
    """Draw and write one breast (CC and MLO); returns its truth row, image rows and particles."""
    depth = field_mm[1] * rng.uniform(0.75, 0.92)
    half_height = field_mm[0] * rng.uniform(0.36, 0.45)
    lesion = make_lesion(cls, depth, half_height, rng, params)
    images, calcs, extents = [], [], []
    for view in ("CC", "MLO"):
        rendered = render_view(lesion, view=view, laterality=laterality, spacing_mm=spacing, field_mm=field_mm,
                               breast_depth_mm=depth, breast_half_height_mm=half_height, rng=rng, params=params)
        name = f"{patient_id}_{laterality}_{view}.dcm"
        style = write_mammogram(out / name, rendered.exposure, spacing_mm=spacing, patient_id=patient_id,
                                laterality=laterality, view=view, rng=rng)
        images.append({"file": name, "patient_id": patient_id, "laterality": laterality, "view": view,
                       "pixel_spacing_mm": spacing, "rows": rendered.exposure.shape[0],
                       "columns": rendered.exposure.shape[1], "centre_x_mm": rendered.lesion_centre_mm[0],
                       "centre_y_mm": rendered.lesion_centre_mm[1], "extent_mm": rendered.lesion_extent_mm,
                       "n_particles": len(rendered.particles), **style})
        calcs.append(rendered.particles.assign(file=name, patient_id=patient_id, view=view))
        extents.append(rendered.lesion_extent_mm)
    suspicious = cls in ("casting", "crushed_stone", "powdery")
    breast = {"patient_id": patient_id, "laterality": laterality, "calcification_class": cls,
              "casting": "yes" if cls == "casting" else "no",
              "extent_mm": max(extents) if suspicious else float("nan"),
              "focality": ("multifocal" if lesion.n_foci > 1 else "unifocal") if suspicious else "",
              "n_particles": len(lesion.particles), "pixel_spacing_mm": spacing}
    logger.info("phantom %s: %s %s", patient_id, cls, laterality)
    return breast, images, calcs


def _render_case(out: Path, case: tuple[str, str | None, str], rng: np.random.Generator, *,
                 field_mm: tuple[float, float], spacings_mm: tuple[float, ...], params: PhantomParameters,
                 contralateral: bool) -> list[tuple[dict, list[dict], list[pd.DataFrame]]]:
    """Render one patient: the breast of ``case`` and, with ``contralateral``, the other one."""
    patient_id, side, cls = case
    laterality = side if side is not None else str(rng.choice(["L", "R"]))
    spacing = float(rng.choice(spacings_mm))
    breast, views, particles = _render_breast(out, patient_id, laterality, cls, spacing, field_mm, rng, params)
    done = [({**breast, "tumour": "yes"}, views, particles)]
    if contralateral:
        other = "R" if laterality == "L" else "L"
        benign = "coarse_benign" if rng.random() < params.contralateral_benign else "none"
        breast, views, particles = _render_breast(out, patient_id, other, benign, spacing, field_mm, rng, params)
        done.append(({**breast, "tumour": "no"}, views, particles))
    return done


def _render_on_dask(out: Path, cases: list, streams: list[np.random.Generator], *, workers: int | None,
                    scheduler: str | None, on_progress: Callable[[int, int], None] | None, n_images: int,
                    **options) -> list:
    """:func:`_render_case` of every case on a Dask cluster (as ``prognosis extract --workers``), in order."""
    from dask.distributed import Client, as_completed

    from prognosis.imaging.batch import local_cluster

    cluster = None if scheduler else local_cluster(workers or 1, memory_limit=_WORKER_MEMORY)
    client = Client(scheduler or cluster)
    try:
        n_workers = max(len(client.scheduler_info().get("workers", {})), 1)
        todo = iter(enumerate(zip(cases, streams)))
        futures, index = as_completed(), {}

        def submit(item) -> None:
            i, (case, stream) = item
            future = client.submit(_render_case, out, case, stream, pure=False, **options)
            index[future.key] = i
            futures.add(future)

        for item in [item for _, item in zip(range(4 * n_workers), todo)]:   # a bounded window in flight
            submit(item)
        rendered: list = [None] * len(cases)
        done = 0
        for future in futures:
            rendered[index.pop(future.key)] = result = future.result()
            done += 2 * len(result)
            future.release()
            if on_progress:
                on_progress(done, n_images)
            item = next(todo, None)
            if item is not None:
                submit(item)
        return rendered
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


_WORKER_MEMORY = "2GB"     # a full-field view holds a few 4096 x 3328 float arrays


def simulate_phantoms(out: str | Path, *, n: int, seed: int | np.random.Generator = 0,
                      full_field: bool = False, spacings_mm: tuple[float, ...] = SPACINGS_MM,
                      classes: tuple[str, ...] = CLASSES, patients: pd.DataFrame | None = None,
                      contralateral: bool = False,
                      params: PhantomParameters = PhantomParameters(),
                      on_progress: Callable[[int, int], None] | None = None, workers: int | None = None,
                      scheduler: str | None = None) -> pd.DataFrame:
    """Write ``n`` breasts (a CC and an MLO DICOM each) and the ground-truth tables to ``out``.

    Classes cycle through ``classes`` in a shuffled order; spacing, MONOCHROME1/2, For
    Processing/Presentation, the spacing tag and laterality vary at random.

    Parameters
    ----------
    patients : DataFrame, optional
        Render these patients instead: the first ``n`` rows of ``patient_id``, ``laterality`` (the
        tumour's side) and ``calcification_class``, e.g. a cohort's imaging table, so that images
        of a simulated cohort can be extracted and analysed with its clinical tables.
    contralateral : bool
        Also render each patient's other breast, without suspicious calcifications (coarse benign
        with probability ``params.contralateral_benign``, else none), as screening has both sides.
    on_progress : callable, optional
        Called as ``on_progress(images_written, images_total)`` before the first patient and after
        each one (two images per breast), e.g. to drive a progress bar; nothing is printed here.
    workers, scheduler : optional
        Render on a local Dask cluster of ``workers`` processes, or on the scheduler at that
        address, as ``prognosis extract`` does. Each patient then draws from a stream of its own
        (``Generator.spawn``): the files are the same for any number of workers, but differ from
        those of a sequential run with the same seed.

    Returns
    -------
    DataFrame
        The per-breast truth (also written as ``truth_breasts.csv``, with ``tumour`` saying which
        breast holds the lesion), with ``truth_images.csv`` (centre in mm, extent per view),
        ``truth_calcifications.csv`` and ``tumour_side.csv`` (patient_id, laterality) beside it.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    field_mm = FULL_FIELD_MM if full_field else SMALL_FIELD_MM
    if patients is None:
        labels = [classes[i % len(classes)] for i in range(n)]
        rng.shuffle(labels)
        cases = [(f"PH{i + 1:04d}", None, cls) for i, cls in enumerate(labels)]
    else:
        _check_patients(patients)
        rows = patients.head(n)
        cases = list(zip(rows["patient_id"].astype(str), rows["laterality"].astype(str),
                         rows["calcification_class"].astype(str)))
    breasts, images, calcs = [], [], []
    n_images = 2 * len(cases) * (2 if contralateral else 1)
    if on_progress:
        on_progress(0, n_images)
    if workers or scheduler:
        # one stream per patient (NumPy's spawned seed sequences): a patient's images do not depend
        # on which worker draws them or in which order, so any number of workers gives the same files
        # (but not those of a sequential run, whose single stream runs through every patient)
        rendered = _render_on_dask(out, cases, rng.spawn(len(cases)), field_mm=field_mm, spacings_mm=spacings_mm,
                                   params=params, contralateral=contralateral, workers=workers,
                                   scheduler=scheduler, on_progress=on_progress, n_images=n_images)
    else:
        rendered = []
        for case in cases:
            rendered.append(_render_case(out, case, rng, field_mm=field_mm, spacings_mm=spacings_mm,
                                         params=params, contralateral=contralateral))
            if on_progress:
                on_progress(2 * sum(len(r) for r in rendered), n_images)
    for case_breasts in rendered:
        for breast, views, particles in case_breasts:
            breasts.append(breast)
            images += views
            calcs += particles
    truth = pd.DataFrame(breasts)
    # patient ids may come from a user's table (--like): no cell may run as a formula (_csv.py)
    write_csv(truth, out / "truth_breasts.csv", index=False)
    write_csv(truth.loc[truth["tumour"] == "yes", ["patient_id", "laterality"]], out / "tumour_side.csv", index=False)
    write_csv(pd.DataFrame(images), out / "truth_images.csv", index=False)
    write_csv(pd.concat([c for c in calcs if len(c)] or [pd.DataFrame()], ignore_index=True).reindex(
        columns=["file", "patient_id", "view", "x_mm", "y_mm", "length_mm", "width_mm", "kind"]),
        out / "truth_calcifications.csv", index=False)
    return truth


def _check_patients(patients: pd.DataFrame) -> None:
    absent = [c for c in ("patient_id", "laterality", "calcification_class") if c not in patients.columns]
    if absent:
        raise ValueError(f"the patients table lacks column(s) {', '.join(absent)}")
    bad_side = ~patients["laterality"].astype(str).isin(["L", "R"])
    bad_class = ~patients["calcification_class"].astype(str).isin(CLASSES)
    if bad_side.any() or bad_class.any():
        row = int(np.flatnonzero(bad_side.to_numpy() | bad_class.to_numpy())[0])
        raise ValueError(f"patients table row {row + 2}: laterality must be L or R and calcification_class one of "
                         f"{', '.join(CLASSES)}")


def main(argv: list[str] | None = None) -> None:
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--full-field", action="store_true")
    args = parser.parse_args(argv)
    simulate_phantoms(args.out, n=args.n, seed=args.seed, full_field=args.full_field)


if __name__ == "__main__":
    main()
