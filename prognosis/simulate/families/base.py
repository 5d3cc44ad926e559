"""The shared renderer of the phantom families: a family is a set of ranges (:class:`FamilyRanges`).

For each breast the family draws its acquisition (:class:`Acquisition`: pixel pitch, background
model and texture, breast thickness, dose, electronic noise, MTF, calcium contrast, For
Presentation curve) from its own ranges with the breast's own ``numpy`` Generator, draws the
lesion of the breast's class from its shape models (:mod:`~prognosis.simulate.families.shapes`),
and renders a CC and an MLO view: Beer-Lambert attenuation of fat, glandular texture, ligaments,
vessels, pectoral muscle (MLO) and calcium; detector blur and noise; For Processing (raw) or For
Presentation (processed) pixels written by :func:`prognosis.imaging.dicom_write.write_mammogram`.
Both views of a breast share one acquisition (one device, one visit); noise and anatomy
texture are drawn per view.

Breast ``i`` of a run with seed ``s`` uses ``numpy.random.default_rng([s, i])``, so a breast
renders the same whatever the number of workers.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from prognosis._csv import write_csv
from prognosis.imaging.dicom_write import write_mammogram
from prognosis.simulate.families import acquisition as acq_mod
from prognosis.simulate.families.anatomy import clustered_lumpy, power_law_noise, strand_map
from prognosis.simulate.families.raster import thickness_patch
from prognosis.simulate.families.shapes import ShapeRanges, make_calcs
from prognosis.simulate.phantom import CLASSES, SMALL_FIELD_MM
from prognosis.simulate.phantom_view import add_patch, project

logger = logging.getLogger(__name__)

MU_FAT_PER_MM = 0.045
MU_GLAND_PER_MM = 0.075
CALC_COLUMNS = ["file", "patient_id", "view", "x_mm", "y_mm", "length_mm", "width_mm", "kind", "shape", "role"]


@dataclass(frozen=True)
class FamilyRanges:
    """What a family draws from; a pair is a uniform (low, high) range, a tuple of strings a choice."""

    spacings_mm: tuple[float, ...]
    background: tuple[str, ...]                         # "power_law", "lumpy", "mixed"
    beta: tuple[float, float] = (2.5, 3.5)
    lumpy_clusters_per_cm2: tuple[float, float] = (2.0, 6.0)
    lumpy_blob_sigma_mm: tuple[float, float] = (0.8, 2.5)
    lumpy_anisotropy: tuple[float, float] = (1.0, 3.0)
    gland_mean: tuple[float, float] = (0.2, 0.5)
    gland_sd: tuple[float, float] = (0.08, 0.16)
    thickness_mm: tuple[float, float] = (40.0, 65.0)
    n_ligaments: tuple[int, int] = (4, 10)
    ligament_width_mm: tuple[float, float] = (0.3, 1.0)
    n_vessels: tuple[int, int] = (1, 3)
    vessel_width_mm: tuple[float, float] = (1.0, 2.5)
    strand_mu_per_mm: tuple[float, float] = (0.03, 0.06)
    mu_calcium_per_mm: tuple[float, float] = (0.8, 1.4)
    photons_per_mm2: tuple[float, ...] = (5e6, 1e7, 2e7)   # dose levels
    electronic_noise: tuple[float, float] = (1.0, 4.0)
    mtf: tuple[str, ...] = ("gaussian",)
    mtf_sigma_mm: tuple[float, float] = (0.03, 0.06)
    aperture_px: tuple[float, float] = (1.0, 1.0)
    noise_before_blur: bool = False
    presentation_probability: float = 0.5
    luts: tuple[str, ...] = acq_mod.LUTS
    sigmoid_slope: tuple[float, float] = (3.0, 8.0)
    log_strength: tuple[float, float] = (2.0, 10.0)
    gamma: tuple[float, float] = (0.6, 1.6)
    unsharp_amount: tuple[float, float] = (0.0, 1.0)
    unsharp_sigma_mm: tuple[float, float] = (1.0, 5.0)
    lead_marker: bool = True
    shapes: ShapeRanges = field(default_factory=ShapeRanges)


@dataclass(frozen=True)
class Acquisition:
    """One breast's drawn acquisition (written per image to ``truth_images.csv``)."""

    spacing_mm: float
    background: str
    beta: float
    gland_mean: float
    gland_sd: float
    thickness_mm: float
    strand_mu_per_mm: float
    mu_calcium_per_mm: float
    photons_per_mm2: float
    electronic_noise: float
    mtf: str
    mtf_sigma_mm: float
    aperture_px: float
    noise_before_blur: bool
    intent: str
    lut: str
    lut_shape: float
    unsharp_amount: float
    unsharp_sigma_mm: float


@dataclass(frozen=True)
class Family:
    """A named phantom family: its patient-id prefix and ranges."""

    name: str
    prefix: str
    ranges: FamilyRanges
    description: str = ""

    def draw(self, rng: np.random.Generator) -> Acquisition:
        """Draw one breast's acquisition from the family's ranges."""
        r = self.ranges
        u = lambda pair: float(rng.uniform(*pair))   # noqa: E731 - a local shorthand
        lut = str(rng.choice(r.luts))
        shape = {"sigmoid": r.sigmoid_slope, "log": r.log_strength, "gamma": r.gamma}[lut]
        presentation = rng.random() < r.presentation_probability
        return Acquisition(
            spacing_mm=float(rng.choice(r.spacings_mm)), background=str(rng.choice(r.background)), beta=u(r.beta),
            gland_mean=u(r.gland_mean), gland_sd=u(r.gland_sd), thickness_mm=u(r.thickness_mm),
            strand_mu_per_mm=u(r.strand_mu_per_mm), mu_calcium_per_mm=u(r.mu_calcium_per_mm),
            photons_per_mm2=float(rng.choice(r.photons_per_mm2)), electronic_noise=u(r.electronic_noise),
            mtf=str(rng.choice(r.mtf)), mtf_sigma_mm=u(r.mtf_sigma_mm), aperture_px=u(r.aperture_px),
            noise_before_blur=r.noise_before_blur,
            intent="FOR PRESENTATION" if presentation else "FOR PROCESSING", lut=lut, lut_shape=u(shape),
            unsharp_amount=u(r.unsharp_amount), unsharp_sigma_mm=u(r.unsharp_sigma_mm))

    def simulate(self, out: str | Path, *, n: int, seed: int = 0, field_mm: tuple[float, float] = SMALL_FIELD_MM,
                 workers: int = 1) -> pd.DataFrame:
        """Render ``n`` breasts: :func:`simulate_family`."""
        return simulate_family(self, out, n=n, seed=seed, field_mm=field_mm, workers=workers)


def background_texture(acq: Acquisition, ranges: FamilyRanges, shape: tuple[int, int],
                       rng: np.random.Generator) -> np.ndarray:
    """Unit-variance glandular texture of the acquisition's background model."""
    def lumpy() -> np.ndarray:
        return clustered_lumpy(shape, acq.spacing_mm, rng, clusters_per_cm2=float(rng.uniform(*ranges.lumpy_clusters_per_cm2)),
                               blobs_per_cluster=(3, 12), blob_sigma_mm=ranges.lumpy_blob_sigma_mm,
                               anisotropy=ranges.lumpy_anisotropy, cluster_radius_mm=3.0)
    if acq.background == "power_law":
        return power_law_noise(shape, acq.spacing_mm, acq.beta, rng)
    if acq.background == "lumpy":
        return lumpy()
    mixed = power_law_noise(shape, acq.spacing_mm, acq.beta, rng) + lumpy()
    return mixed / max(float(mixed.std()), 1e-12)


@dataclass(frozen=True)
class View:
    """One rendered view: stored-to-be exposure, breast mask and truth of its particles."""

    exposure: np.ndarray
    particles: pd.DataFrame
    centre_mm: tuple[float, float]
    extent_mm: float


def render_view(calcs, acq: Acquisition, ranges: FamilyRanges, *, view: str, laterality: str,
                field_mm: tuple[float, float], depth_mm: float, half_height_mm: float,
                rng: np.random.Generator) -> View:
    """Render one view (chest wall on the left for L, mirrored for R)."""
    s = acq.spacing_mm
    rows, cols = int(round(field_mm[0] / s)), int(round(field_mm[1] / s))
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    x_mm, y_mm = (xx + 0.5) * s, (yy + 0.5) * s
    centre_y = field_mm[0] / 2 + rng.uniform(-2, 2)
    r = np.sqrt((x_mm / depth_mm) ** 2 + ((y_mm - centre_y) / half_height_mm) ** 2)
    inside = np.clip(1 - r ** 2, 0, None)
    thickness = acq.thickness_mm * np.clip(np.sqrt(inside) * 3.0, 0, 1)
    breast = thickness > 0
    texture = background_texture(acq, ranges, (rows, cols), rng)
    gland = np.clip(acq.gland_mean + acq.gland_sd * texture + 0.1 * (1 - r), 0, 1)
    attenuation = thickness * (MU_FAT_PER_MM + gland * (MU_GLAND_PER_MM - MU_FAT_PER_MM))
    strands = strand_map((rows, cols), s, rng, depth_mm=depth_mm, centre_y_mm=centre_y, half_height_mm=half_height_mm,
                         n_ligaments=int(rng.integers(ranges.n_ligaments[0], ranges.n_ligaments[1] + 1)),
                         ligament_width_mm=ranges.ligament_width_mm,
                         n_vessels=int(rng.integers(ranges.n_vessels[0], ranges.n_vessels[1] + 1)),
                         vessel_width_mm=ranges.vessel_width_mm)
    attenuation += strands * acq.strand_mu_per_mm * breast
    if view == "MLO":      # pectoral muscle: a triangle in the upper chest-wall corner
        depth = rng.uniform(0.2, 0.35) * depth_mm
        height = rng.uniform(0.45, 0.7) * rows * s
        muscle = (x_mm / depth + y_mm / height) < 1
        attenuation = np.where(muscle, np.maximum(attenuation, acq.thickness_mm * MU_FAT_PER_MM), attenuation)
        attenuation += muscle * acq.thickness_mm * np.clip(1.2 - x_mm / depth, 0.4, 1) * (MU_GLAND_PER_MM - MU_FAT_PER_MM) * 1.5
    calc = np.zeros((rows, cols), np.float32)
    truth = []
    for c in calcs:
        pts = project(c.points_mm, view) + np.array([0.0, centre_y])
        centre = pts.mean(axis=0)
        if (centre[0] / depth_mm) ** 2 + ((centre[1] - centre_y) / half_height_mm) ** 2 >= 1:
            continue      # drawn past the skin line: no tissue, no calcification
        add_patch(calc, *thickness_patch(c, pts, s))
        length = float(np.sum(np.linalg.norm(np.diff(pts, axis=0), axis=1))) if c.kind == "capsule" else c.width_mm
        truth.append({"x_mm": centre[0], "y_mm": centre[1], "length_mm": max(length, c.width_mm),
                      "width_mm": c.width_mm, "kind": c.kind, "shape": c.shape, "role": c.role})
    attenuation += calc * acq.mu_calcium_per_mm * breast
    if ranges.lead_marker:
        m = int(3 / s)
        attenuation[rows - int(8 / s) - m: rows - m, cols - int(14 / s) - m: cols - m] = 6.0
    expected = (acq.photons_per_mm2 * s * s * np.exp(-attenuation)).astype(np.float32)
    exposure = acq_mod.detect(expected, s, rng, mtf=acq.mtf, mtf_sigma_mm=acq.mtf_sigma_mm, aperture_px=acq.aperture_px,
                              electronic_noise=acq.electronic_noise, noise_before_blur=acq.noise_before_blur)
    if acq.intent == "FOR PRESENTATION":
        display = acq_mod.present(exposure, breast, s, lut_kind=acq.lut, lut_shape=acq.lut_shape,
                                  unsharp_amount=acq.unsharp_amount, unsharp_sigma_mm=acq.unsharp_sigma_mm)
        exposure = acq_mod.display_as_exposure(display)
    frame = pd.DataFrame(truth, columns=["x_mm", "y_mm", "length_mm", "width_mm", "kind", "shape", "role"])
    if laterality == "R":
        exposure = exposure[:, ::-1].copy()
        frame["x_mm"] = cols * s - frame["x_mm"]
    lesion = frame[frame["role"] == "lesion"]
    if len(lesion):
        xy = lesion[["x_mm", "y_mm"]].to_numpy()
        centre_mm = (float(xy[:, 0].mean()), float(xy[:, 1].mean()))
        extent = float(np.max(np.linalg.norm(xy[:, None] - xy[None], axis=2))) if len(xy) > 1 else float(lesion["length_mm"].max())
    else:
        centre_mm, extent = (math.nan, math.nan), 0.0
    return View(exposure, frame, centre_mm, extent)


def render_breast(family: Family, out: str, index: int, patient_id: str, cls: str, seed: int,
                  field_mm: tuple[float, float]) -> tuple[dict, list[dict], list[pd.DataFrame]]:
    """Draw, render and write one breast (CC and MLO) with its own Generator; returns its truth rows."""
    rng = np.random.default_rng([seed, index])
    acq = family.draw(rng)
    laterality = str(rng.choice(["L", "R"]))
    depth = field_mm[1] * rng.uniform(0.75, 0.92)
    half_height = field_mm[0] * rng.uniform(0.36, 0.45)
    calcs, n_foci = make_calcs(cls, depth, half_height, acq.thickness_mm, rng, family.ranges.shapes)
    images, particles, extents = [], [], []
    for view in ("CC", "MLO"):
        v = render_view(calcs, acq, family.ranges, view=view, laterality=laterality, field_mm=field_mm,
                        depth_mm=depth, half_height_mm=half_height, rng=rng)
        name = f"{patient_id}_{laterality}_{view}.dcm"
        style = write_mammogram(Path(out) / name, v.exposure, spacing_mm=acq.spacing_mm, patient_id=patient_id,
                                laterality=laterality, view=view, rng=rng, intent=acq.intent)
        images.append({"file": name, "patient_id": patient_id, "laterality": laterality, "view": view,
                       "pixel_spacing_mm": acq.spacing_mm, "rows": v.exposure.shape[0], "columns": v.exposure.shape[1],
                       "centre_x_mm": v.centre_mm[0], "centre_y_mm": v.centre_mm[1], "extent_mm": v.extent_mm,
                       "n_particles": int((v.particles["role"] == "lesion").sum()), "family": family.name,
                       **style, **{k: val for k, val in asdict(acq).items() if k not in ("spacing_mm", "intent")}})
        particles.append(v.particles.assign(file=name, patient_id=patient_id, view=view))
        extents.append(v.extent_mm)
    suspicious = cls in ("casting", "crushed_stone", "powdery")
    breast = {"patient_id": patient_id, "laterality": laterality, "calcification_class": cls,
              "casting": "yes" if cls == "casting" else "no",
              "extent_mm": max(extents) if suspicious else math.nan,
              "focality": ("multifocal" if n_foci > 1 else "unifocal") if suspicious else "",
              "n_particles": sum(c.role == "lesion" for c in calcs), "pixel_spacing_mm": acq.spacing_mm,
              "tumour": "yes", "family": family.name}
    return breast, images, particles


def _render_star(args):
    return render_breast(*args)


def simulate_family(family: Family, out: str | Path, *, n: int, seed: int = 0,
                    field_mm: tuple[float, float] = SMALL_FIELD_MM, classes: tuple[str, ...] = CLASSES,
                    workers: int = 1) -> pd.DataFrame:
    """Write ``n`` breasts of ``family`` (CC and MLO DICOMs) and the truth tables to ``out``.

    Classes cycle through ``classes`` in an order shuffled by ``seed``. The tables are those of
    :func:`prognosis.simulate.phantom.simulate_phantoms` (``truth_breasts.csv``,
    ``truth_images.csv``, ``truth_calcifications.csv``, ``tumour_side.csv``) with a ``family``
    column, the drawn acquisition per image, and per particle its ``shape`` and ``role``
    (``distractor``: calcified vessel walls beside a lesion, which leave the breast's class as is).

    Returns
    -------
    DataFrame
        The per-breast truth.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    labels = [classes[i % len(classes)] for i in range(n)]
    np.random.default_rng(seed).shuffle(labels)
    jobs = [(family, str(out), i, f"{family.prefix}{i + 1:04d}", cls, seed, field_mm) for i, cls in enumerate(labels)]
    if workers > 1 and n > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_render_star, jobs))
    else:
        results = [render_breast(*job) for job in jobs]
    breasts = pd.DataFrame([b for b, _, _ in results])
    images = pd.DataFrame([row for _, views, _ in results for row in views])
    calcs = [p for _, _, parts in results for p in parts if len(p)]
    write_csv(breasts, out / "truth_breasts.csv", index=False)
    write_csv(breasts[["patient_id", "laterality"]], out / "tumour_side.csv", index=False)
    write_csv(images, out / "truth_images.csv", index=False)
    write_csv(pd.concat(calcs or [pd.DataFrame()], ignore_index=True).reindex(columns=CALC_COLUMNS),
              out / "truth_calcifications.csv", index=False)
    logger.info("family %s: %d breasts written to %s", family.name, n, out)
    return breasts
