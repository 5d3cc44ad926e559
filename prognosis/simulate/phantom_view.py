"""One phantom view: project a lesion's 3D particles into CC or MLO and render the breast image
(thickness profile, power-law texture, ligaments, vessels, pectoral muscle, calcium, exposure and
quantum noise) as :mod:`prognosis.simulate.phantom` describes; the cohort of phantoms is drawn there."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from prognosis.simulate.lesions import Lesion, Particle, PhantomParameters, duct_tree

logger = logging.getLogger(__name__)

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


def segment_distance(px: np.ndarray, py: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
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
            dist = np.minimum(dist, segment_distance(px, py, a, b))
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
        add_patch(calc, r0, c0, patch)
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
    add_patch(target, lo[1], lo[0], 2 * np.sqrt(np.clip(r * r - dist_mm ** 2, 0, None)))


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


def add_patch(target: np.ndarray, r0: int, c0: int, patch: np.ndarray) -> None:
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
