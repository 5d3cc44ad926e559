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
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from prognosis._csv import write_csv
from prognosis.imaging.dicom_write import write_mammogram
from prognosis.simulate.lesions import Lesion, Particle, PhantomParameters, duct_tree, make_lesion

logger = logging.getLogger(__name__)

CLASSES = ("none", "coarse_benign", "powdery", "crushed_stone", "casting")
SPACINGS_MM = (0.05, 0.07, 0.1)
SMALL_FIELD_MM = (64.0, 51.2)      # rows x columns: 640 x 512 pixels at 0.1 mm
FULL_FIELD_MM = (286.7, 232.96)    # 4096 x 3328 pixels at 0.07 mm
SUPERSAMPLE = 4


# --------------------------------------------------------------------------------------------
# projection and rendering
# --------------------------------------------------------------------------------------------

def project(points_mm: np.ndarray, view: str, mlo_angle_deg: float = 45.0) -> np.ndarray:
    """(x, y, z) breast coordinates -> (depth, across) in the image plane of the view."""
    if view == "CC":
        return points_mm[:, :2]
    a = math.radians(mlo_angle_deg)
    return np.stack([points_mm[:, 0], points_mm[:, 1] * math.cos(a) + points_mm[:, 2] * math.sin(a)], axis=1)


def _segment_distance(px: np.ndarray, py: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((px - a[0]) * ab[0] + (py - a[1]) * ab[1]) / max(ab @ ab, 1e-12), 0, 1)
    return np.hypot(px - (a[0] + t * ab[0]), py - (a[1] + t * ab[1]))


def _particle_thickness(p: Particle, pts: np.ndarray, spacing_mm: float):
    """Projected calcium thickness (mm) on a supersampled patch; returns (row0, col0, patch) or None."""
    if p.kind == "sphere":
        radii = p.radii_mm if p.radii_mm is not None else np.full(len(pts), p.width_mm / 2)
        pad = float(radii.max())
    else:
        pad = p.width_mm
    lo = np.floor((pts.min(axis=0) - pad) / spacing_mm).astype(int) - 1
    hi = np.ceil((pts.max(axis=0) + pad) / spacing_mm).astype(int) + 1
    s = SUPERSAMPLE
    cols = (np.arange(lo[0] * s, hi[0] * s) + 0.5) / s * spacing_mm
    rows = (np.arange(lo[1] * s, hi[1] * s) + 0.5) / s * spacing_mm
    px, py = np.meshgrid(cols, rows)
    thick = np.zeros_like(px)
    if p.kind == "sphere":
        for (cx, cy), r in zip(pts, radii):
            d2 = (px - cx) ** 2 + (py - cy) ** 2
            thick = np.maximum(thick, 2 * np.sqrt(np.clip(r * r - d2, 0, None)))
    elif p.kind == "cast":
        r = p.width_mm / 2
        dist = np.full_like(px, np.inf)
        for a, b in zip(pts[:-1], pts[1:]):
            dist = np.minimum(dist, _segment_distance(px, py, a, b))
        thick = 2 * np.sqrt(np.clip(r * r - dist ** 2, 0, None))
    else:  # polygon fragment of roughly uniform thickness, thinner at its rim
        from skimage.measure import points_in_poly
        from scipy.spatial import ConvexHull
        try:
            hull = pts[ConvexHull(pts).vertices]
        except Exception:  # noqa: BLE001 - degenerate (collinear) projection
            hull = pts
        # keep the concavities: use the vertices in angular order, not only the hull
        centre = pts.mean(axis=0)
        order = np.argsort(np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0]))
        poly = pts[order] if len(pts) >= 3 else hull
        inside = points_in_poly(np.stack([px.ravel(), py.ravel()], 1), poly).reshape(px.shape)
        thick = inside * p.width_mm
    thick = thick * p.density
    h, w = thick.shape[0] // s, thick.shape[1] // s
    patch = thick[:h * s, :w * s].reshape(h, s, w, s).mean(axis=(1, 3))
    return lo[1], lo[0], patch


def power_law_noise(shape: tuple[int, int], spacing_mm: float, beta: float, rng: np.random.Generator,
                    low_cut_per_mm: float = 1 / 40) -> np.ndarray:
    """Zero-mean, unit-variance noise with power spectrum ~ f**-beta (f in cycles/mm)."""
    amplitude = _amplitude(tuple(shape), float(spacing_mm), float(beta), float(low_cut_per_mm))
    white = rng.standard_normal(shape).astype(np.float32)
    field_ = np.fft.irfft2(np.fft.rfft2(white) * amplitude, s=shape).astype(np.float32)
    field_ -= field_.mean()
    return field_ / max(float(field_.std()), 1e-12)


@lru_cache(maxsize=8)
def _amplitude(shape: tuple[int, int], spacing_mm: float, beta: float, low_cut_per_mm: float) -> np.ndarray:
    """The filter of :func:`power_law_noise`: the same for every image of a size and spacing, so kept."""
    fy = np.fft.fftfreq(shape[0], d=spacing_mm)[:, None]
    fx = np.fft.rfftfreq(shape[1], d=spacing_mm)[None, :]
    f = np.sqrt(fx ** 2 + fy ** 2)
    amplitude = (np.maximum(f, low_cut_per_mm)) ** (-beta / 2)
    amplitude.setflags(write=False)      # shared between calls: nobody may change it
    return amplitude


@dataclass(frozen=True)
class RenderedView:
    """One rendered view: exposure (photons per pixel), its truth and its geometry."""

    exposure: np.ndarray
    spacing_mm: float
    view: str
    laterality: str
    particles: pd.DataFrame          # x_mm, y_mm (image coordinates), length_mm, width_mm, kind
    lesion_centre_mm: tuple[float, float]
    lesion_extent_mm: float


def render_view(lesion: Lesion, *, view: str, laterality: str, spacing_mm: float,
                field_mm: tuple[float, float], breast_depth_mm: float, breast_half_height_mm: float,
                rng: np.random.Generator, params: PhantomParameters = PhantomParameters()) -> RenderedView:
    """Render one view of a breast holding ``lesion``; chest wall on the left for L, right for R."""
    from scipy import ndimage

    rows, cols = int(round(field_mm[0] / spacing_mm)), int(round(field_mm[1] / spacing_mm))
    # a row and a column broadcast, not two full grids: the same float32 values, a fraction of the work
    x_mm = ((np.arange(cols, dtype=np.float32) + 0.5) * spacing_mm)[None, :]
    y_mm = ((np.arange(rows, dtype=np.float32) + 0.5) * spacing_mm)[:, None]
    centre_y = field_mm[0] / 2 + rng.uniform(-2, 2)
    # elliptical compressed breast: full thickness inside, thinning over the last few mm
    r = np.sqrt((x_mm / breast_depth_mm) ** 2 + ((y_mm - centre_y) / breast_half_height_mm) ** 2)
    inside = np.clip(1 - r ** 2, 0, None)
    thickness = params.breast_thickness_mm * np.clip(np.sqrt(inside) * 3.0, 0, 1)
    texture = power_law_noise((rows, cols), spacing_mm, params.texture_beta, rng)
    # projected glandular fraction: a 50 mm path averages many structures, so it varies modestly
    gland = np.clip(params.gland_fraction_mean + params.gland_fraction_sd * texture + 0.1 * (1 - r), 0, 1)
    attenuation = thickness * (params.mu_fat_per_mm + gland * (params.mu_gland_per_mm - params.mu_fat_per_mm))
    # Cooper's ligaments and vessels: long curvilinear soft-tissue strands, wider than casts
    strands = np.zeros((rows, cols), np.float32)
    for _ in range(params.n_ligaments):
        start = np.array([rng.uniform(0.1, 0.8) * breast_depth_mm, centre_y + rng.uniform(-0.7, 0.7) * breast_half_height_mm, 0])
        line = duct_tree(start, np.array([1.0, rng.normal(0, 0.6), 0]), rng.uniform(15, 50), rng, depth=2)[0]
        _add_strand(strands, line[:, :2], rng.uniform(0.6, 1.8), spacing_mm)
    attenuation += strands * params.strand_mu_per_mm * (thickness > 0)
    if view == "MLO":  # pectoral muscle: a triangle in the upper chest-wall corner
        depth = rng.uniform(0.2, 0.35) * breast_depth_mm
        height = rng.uniform(0.45, 0.7) * rows * spacing_mm
        muscle = (x_mm / depth + y_mm / height) < 1
        # the muscle is compressed with the breast: full thickness of muscle up to the image edge
        muscle_mm = muscle * params.breast_thickness_mm * np.clip(1.2 - x_mm / depth, 0.4, 1)
        attenuation = np.where(muscle, np.maximum(attenuation, params.breast_thickness_mm * params.mu_fat_per_mm), attenuation)
        attenuation += muscle_mm * (params.mu_gland_per_mm - params.mu_fat_per_mm) * 1.5
    # calcifications
    calc = np.zeros((rows, cols), np.float32)
    truth = []
    for p in lesion.particles:
        pts = project(p.points_mm, view)
        pts = pts + np.array([0.0, centre_y])
        centre = pts.mean(axis=0)
        if (centre[0] / breast_depth_mm) ** 2 + ((centre[1] - centre_y) / breast_half_height_mm) ** 2 >= 1:
            continue   # a duct drawn past the skin line: no tissue there, so no calcification either
        r0, c0, patch = _particle_thickness(p, pts, spacing_mm)
        _add_patch(calc, r0, c0, patch)
        length = float(np.sum(np.linalg.norm(np.diff(pts, axis=0), axis=1))) if p.kind == "cast" else p.width_mm
        truth.append({"x_mm": centre[0], "y_mm": centre[1], "length_mm": max(length, p.width_mm),
                      "width_mm": p.width_mm, "kind": p.kind})
    attenuation += calc * params.mu_calcium_per_mm * (thickness > 0)   # the part of a cast beyond the skin
    attenuation = ndimage.gaussian_filter(attenuation, params.psf_sigma_mm / spacing_mm)
    # lead marker (label) outside the breast, in the corner away from the chest wall
    mh, mw = int(8 / spacing_mm), int(14 / spacing_mm)
    attenuation[rows - mh - int(3 / spacing_mm): rows - int(3 / spacing_mm), cols - mw - int(3 / spacing_mm): cols - int(3 / spacing_mm)] = 6.0
    photons = params.photons_per_mm2 * spacing_mm ** 2
    expected = photons * np.exp(-attenuation)
    exposure = expected + rng.standard_normal(expected.shape) * np.sqrt(expected + params.electronic_noise_photons ** 2)
    exposure = np.clip(exposure, 0, None).astype(np.float32)
    truth_frame = pd.DataFrame(truth, columns=["x_mm", "y_mm", "length_mm", "width_mm", "kind"])
    if laterality == "R":   # mirror: chest wall on the right
        exposure = exposure[:, ::-1].copy()
        truth_frame["x_mm"] = cols * spacing_mm - truth_frame["x_mm"]
    if len(truth_frame):
        xy = truth_frame[["x_mm", "y_mm"]].to_numpy()
        centre_mm = tuple(float(v) for v in xy.mean(axis=0))
        extent = float(_max_distance(xy)) if len(xy) > 1 else float(truth_frame["length_mm"].max())
    else:
        centre_mm, extent = (float("nan"), float("nan")), 0.0
    return RenderedView(exposure, spacing_mm, view, laterality, truth_frame, centre_mm, extent)


def _add_strand(target: np.ndarray, points_mm: np.ndarray, width_mm: float, spacing_mm: float) -> None:
    """Add a long cylinder (ligament, vessel): projected chord from the distance to its centreline."""
    from skimage.draw import line

    pix = points_mm / spacing_mm
    pad = int(np.ceil(width_mm / spacing_mm)) + 2
    lo = np.floor(pix.min(axis=0)).astype(int) - pad
    hi = np.ceil(pix.max(axis=0)).astype(int) + pad
    centre = np.zeros((hi[1] - lo[1], hi[0] - lo[0]), bool)
    ij = np.rint(pix - lo).astype(int)
    for (c0, r0), (c1, r1) in zip(ij[:-1], ij[1:]):
        rr, cc = line(r0, c0, r1, c1)
        centre[rr, cc] = True
    r = width_mm / 2
    dist_mm = _distance_near(centre, int(np.ceil(r / spacing_mm)) + 1) * spacing_mm
    _add_patch(target, lo[1], lo[0], 2 * np.sqrt(np.clip(r * r - dist_mm ** 2, 0, None)))


_BLOCK = 64


def _distance_near(centre: np.ndarray, reach_px: int) -> np.ndarray:
    """Euclidean distance (pixels) to the nearest ``centre`` pixel, exact below ``reach_px``, else >= it.

    A strand's chord is zero beyond its radius, so only distances below it matter. The bounding
    box of a long oblique strand is mostly far from it: the transform is computed block by block,
    each block with a margin of ``reach_px`` (a centre pixel nearer than that lies in the margin, so
    the distance is exactly the whole box's), and blocks with no centre pixel within reach are
    left at infinity. Same values as ``distance_transform_edt(~centre)`` wherever they are below
    ``reach_px``, for a fraction of the work.
    """
    from scipy import ndimage

    rows, cols = centre.shape
    dist = np.full(centre.shape, np.inf)
    for r0 in range(0, rows, _BLOCK):
        for c0 in range(0, cols, _BLOCK):
            w0, w1 = max(r0 - reach_px, 0), min(r0 + _BLOCK + reach_px, rows)
            v0, v1 = max(c0 - reach_px, 0), min(c0 + _BLOCK + reach_px, cols)
            window = centre[w0:w1, v0:v1]
            if not window.any():
                continue
            near = ndimage.distance_transform_edt(~window)
            r1, c1 = min(r0 + _BLOCK, rows), min(c0 + _BLOCK, cols)
            dist[r0:r1, c0:c1] = near[r0 - w0:r1 - w0, c0 - v0:c1 - v0]
    return dist


def _add_patch(target: np.ndarray, r0: int, c0: int, patch: np.ndarray) -> None:
    r1, c1 = r0 + patch.shape[0], c0 + patch.shape[1]
    rr0, cc0 = max(r0, 0), max(c0, 0)
    rr1, cc1 = min(r1, target.shape[0]), min(c1, target.shape[1])
    if rr1 > rr0 and cc1 > cc0:
        target[rr0:rr1, cc0:cc1] += patch[rr0 - r0:rr1 - r0, cc0 - c0:cc1 - c0]


def _max_distance(xy: np.ndarray) -> float:
    from scipy.spatial import ConvexHull
    from scipy.spatial.distance import pdist
    if len(xy) > 3:
        try:
            xy = xy[ConvexHull(xy).vertices]
        except Exception:  # noqa: BLE001 - collinear points
            pass
    return float(pdist(xy).max()) if len(xy) > 1 else 0.0


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
