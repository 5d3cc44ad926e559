"""Projected calcium thickness (mm) of one particle on a supersampled patch of the image grid.

Every particle is a solid whose chord through the detector plane is known in closed form: a
sphere (round, punctate, powdery, popcorn lobes), a spherical shell (skin calcifications with a
lucent centre), a capsule along a polyline (casts, rods, vessel walls) or a flat irregular
polygon (crushed-stone fragments). The patch is rendered at ``SUPERSAMPLE`` times the pixel
density and area-averaged: the detector element's box aperture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prognosis.simulate.phantom_view import segment_distance

SUPERSAMPLE = 3


@dataclass(frozen=True)
class Calc:
    """One calcification in 3D breast coordinates (mm): x chest wall -> nipple, y across, z height.

    Attributes
    ----------
    kind : {"sphere", "shell", "capsule", "fragment"}
        The solid (see the module docstring).
    shape : str
        The morphology it stands for (``popcorn``, ``rod``, ``round``, ``vascular``, ``skin``,
        ``cast_fragmented``, ``cast_continuous``, ``crushed``, ``powdery``).
    points_mm : ndarray, shape (n, 3)
        Sphere centres, polyline vertices or polygon vertices.
    width_mm : float
        Diameter of spheres and capsules; thickness of fragments.
    radii_mm : ndarray or None
        Per-centre radii of a sphere particle (lobes of popcorn); default ``width_mm / 2``.
    density : float
        Calcium per mm of chord relative to solid calcification (hazy specks < 1).
    inner_fraction : float
        Shells: inner radius / outer radius.
    role : {"lesion", "distractor"}
        Distractors (calcified vessels beside a lesion) do not change the breast's class.
    """

    kind: str
    shape: str
    points_mm: np.ndarray
    width_mm: float
    radii_mm: np.ndarray | None = None
    density: float = 1.0
    inner_fraction: float = 0.0
    role: str = "lesion"


def _chord(r: float | np.ndarray, d2: np.ndarray) -> np.ndarray:
    return 2 * np.sqrt(np.clip(r * r - d2, 0, None))


def thickness_patch(calc: Calc, pts: np.ndarray, spacing_mm: float) -> tuple[int, int, np.ndarray]:
    """Projected thickness of ``calc`` whose projected points are ``pts`` (mm, (col, row) order).

    Returns
    -------
    row0, col0 : int
        Pixel of the patch's upper-left corner (may lie outside the image).
    patch : ndarray of float32
        Calcium thickness in mm times ``density``, per pixel (area average).
    """
    radii = calc.radii_mm if calc.radii_mm is not None else np.full(len(pts), calc.width_mm / 2)
    pad = float(max(radii.max(), calc.width_mm)) + spacing_mm
    lo = np.floor((pts.min(axis=0) - pad) / spacing_mm).astype(int)
    hi = np.ceil((pts.max(axis=0) + pad) / spacing_mm).astype(int)
    s = SUPERSAMPLE
    cols = (np.arange(lo[0] * s, hi[0] * s) + 0.5) / s * spacing_mm
    rows = (np.arange(lo[1] * s, hi[1] * s) + 0.5) / s * spacing_mm
    px, py = np.meshgrid(cols, rows)
    if calc.kind in ("sphere", "shell"):
        thick = np.zeros_like(px)
        for (cx, cy), r in zip(pts, radii):
            d2 = (px - cx) ** 2 + (py - cy) ** 2
            chord = _chord(r, d2)
            if calc.kind == "shell":
                chord = chord - _chord(r * calc.inner_fraction, d2)
            thick = np.maximum(thick, chord)
    elif calc.kind == "capsule":
        dist = np.full_like(px, np.inf)
        for a, b in zip(pts[:-1], pts[1:]):
            dist = np.minimum(dist, segment_distance(px, py, a, b))
        thick = _chord(calc.width_mm / 2, dist ** 2)
    else:
        from skimage.measure import points_in_poly
        centre = pts.mean(axis=0)
        poly = pts[np.argsort(np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0]))]
        inside = points_in_poly(np.stack([px.ravel(), py.ravel()], 1), poly).reshape(px.shape)
        thick = inside * calc.width_mm
    thick = thick * calc.density
    h, w = thick.shape[0] // s, thick.shape[1] // s
    patch = thick[:h * s, :w * s].reshape(h, s, w, s).mean(axis=(1, 3)).astype(np.float32)
    return int(lo[1]), int(lo[0]), patch
