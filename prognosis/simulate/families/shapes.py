"""Calcification shape models per class, in 3D breast coordinates (mm).

Each class has several models (science.md §1), and each family says which it uses and with what
sizes (:class:`ShapeRanges`):

- ``casting``: *fragmented* casts (1-3 mm pieces with gaps along a branching duct) or
  *continuous* casts (long, beaded, branching Y/V), calibre < 0.5 mm, ducts toward the nipple;
- ``crushed_stone``: discrete irregular fragments of varying size and density, not linear;
- ``powdery``: many tiny faint specks, a hazy cluster;
- ``coarse_benign``: popcorn (lobulated, > 2 mm), rod-like secretory (thick smooth rods along
  ducts toward the nipple), round (smooth spheres 0.6-1.6 mm, scattered), punctate (dense round
  specks 0.3-0.5 mm, a few, scattered over centimetres, not grouped), vascular (tram-track
  walls of a vessel, long and parallel) and skin (shells with a lucent centre).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from prognosis.simulate.families.raster import Calc
from prognosis.simulate.lesions import duct_tree

COARSE_MODELS = ("popcorn", "rod", "round", "punctate", "vascular", "skin")
CAST_MODELS = ("cast_fragmented", "cast_continuous")


@dataclass(frozen=True)
class ShapeRanges:
    """Size and count ranges (mm, counts) a family draws its lesions from; pairs are (low, high)."""

    cast_models: tuple[str, ...] = CAST_MODELS
    cast_calibre_mm: tuple[float, float] = (0.2, 0.45)
    cast_extent_mm: tuple[float, float] = (12.0, 40.0)
    crushed_count: tuple[int, int] = (8, 25)
    crushed_size_mm: tuple[float, float] = (0.15, 0.6)
    crushed_spread_mm: tuple[float, float] = (2.0, 5.0)
    powdery_count: tuple[int, int] = (12, 40)
    powdery_size_mm: tuple[float, float] = (0.12, 0.28)
    powdery_density: tuple[float, float] = (0.4, 0.8)
    powdery_spread_mm: tuple[float, float] = (2.0, 6.0)
    coarse_models: tuple[str, ...] = COARSE_MODELS
    multifocal_probability: float = 0.2
    vascular_distractor_probability: float = 0.25


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def _u(rng: np.random.Generator, pair) -> float:
    return float(rng.uniform(*pair))


def _i(rng: np.random.Generator, pair) -> int:
    return int(rng.integers(pair[0], pair[1] + 1))


def casting(centre: np.ndarray, rng: np.random.Generator, r: ShapeRanges, extent_mm: float) -> list[Calc]:
    """Casts filling a branching duct that runs toward the nipple (+x)."""
    model = str(rng.choice(r.cast_models))
    start = centre - np.array([extent_mm / 2, 0, 0])
    ducts = duct_tree(start, np.array([1.0, rng.normal(0, 0.3), rng.normal(0, 0.3)]), extent_mm, rng)
    out = []
    for duct in ducts:
        calibre = _u(rng, r.cast_calibre_mm)
        i = int(rng.integers(0, 4))
        while i < len(duct) - 2:
            if model == "cast_fragmented":
                n_seg, gap = int(rng.integers(2, 7)), int(rng.integers(1, 4))      # 1-3 mm, gaps 0.5-1.5 mm
            else:
                n_seg, gap = int(rng.integers(8, 20)), int(rng.integers(0, 2))     # 4-10 mm, touching or nearly
            seg = duct[i:i + n_seg + 1]
            if len(seg) >= 2:
                out.append(Calc("capsule", model, seg + rng.normal(0, 0.03, seg.shape), calibre * rng.uniform(0.7, 1.1)))
            i += n_seg + gap
    return out


def _fragment(centre: np.ndarray, size_mm: float, rng: np.random.Generator, density: float) -> Calc:
    n = int(rng.integers(4, 9))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = size_mm / 2 * rng.uniform(0.35, 1.0, n)
    verts = np.stack([radii * np.cos(angles), radii * np.sin(angles), rng.normal(0, size_mm / 4, n)], axis=1)
    return Calc("fragment", "crushed", centre + verts, size_mm * rng.uniform(0.4, 0.9), density=density)


def crushed_stone(centre: np.ndarray, rng: np.random.Generator, r: ShapeRanges) -> list[Calc]:
    """Irregular fragments of varying size and density scattered round a centre."""
    spread = _u(rng, r.crushed_spread_mm)
    offsets = rng.normal(0, spread / 2, (_i(rng, r.crushed_count), 3))
    return [_fragment(centre + o, _u(rng, r.crushed_size_mm), rng, rng.uniform(0.6, 1.0)) for o in offsets]


def powdery(centre: np.ndarray, rng: np.random.Generator, r: ShapeRanges) -> list[Calc]:
    """Tiny, faint specks: too small or hazy to assign a shape."""
    spread = _u(rng, r.powdery_spread_mm)
    offsets = rng.normal(0, spread / 2, (_i(rng, r.powdery_count), 3))
    return [Calc("sphere", "powdery", (centre + o)[None], _u(rng, r.powdery_size_mm), density=_u(rng, r.powdery_density))
            for o in offsets]


def vascular(start: np.ndarray, rng: np.random.Generator, role: str = "lesion") -> list[Calc]:
    """Calcified vessel walls: two parallel dashed tracks ('tram lines') along a long smooth vessel."""
    path = duct_tree(start, np.array([1.0, rng.normal(0, 0.5), rng.normal(0, 0.2)]), rng.uniform(20, 45), rng, depth=2)[0]
    diameter = rng.uniform(1.5, 3.0)
    d = np.gradient(path, axis=0)
    normal = np.stack([-d[:, 1], d[:, 0], np.zeros(len(d))], axis=1)
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
    out = []
    for side in (-0.5, 0.5):
        wall = path + side * diameter * normal
        i = 0
        while i < len(wall) - 2:
            n_seg = int(rng.integers(3, 16))
            seg = wall[i:i + n_seg + 1]
            if len(seg) >= 2 and rng.random() < 0.8:
                out.append(Calc("capsule", "vascular", seg, rng.uniform(0.2, 0.4), role=role))
            i += n_seg + int(rng.integers(1, 5))
    return out


def coarse_benign(centre: np.ndarray, rng: np.random.Generator, r: ShapeRanges, spread_mm: float,
                  thickness_mm: float) -> list[Calc]:
    """One or two benign patterns of :data:`COARSE_MODELS` (as the family allows)."""
    out: list[Calc] = []
    for model in rng.choice(r.coarse_models, size=int(rng.integers(1, 3)), replace=False):
        where = centre + rng.normal(0, spread_mm, 3) * np.array([1, 1, 0.3])
        if model == "popcorn":
            n, size = int(rng.integers(4, 9)), rng.uniform(2.0, 5.0)
            out.append(Calc("sphere", "popcorn", where + rng.normal(0, size / 4, (n, 3)), size,
                            radii_mm=rng.uniform(0.3, 0.7, n) * size / 2))
        elif model == "rod":       # secretory: thick, smooth, along ducts toward the nipple
            for _ in range(int(rng.integers(2, 7))):
                d = _unit(np.array([1.0, rng.normal(0, 0.3), rng.normal(0, 0.3)]))
                a = where + rng.normal(0, 6, 3) * np.array([1, 1, 0.3])
                out.append(Calc("capsule", "rod", np.stack([a, a + rng.uniform(3, 12) * d]), rng.uniform(0.6, 1.3)))
        elif model == "round":
            for _ in range(int(rng.integers(2, 8))):
                a = where + rng.normal(0, 8, 3) * np.array([1, 1, 0.3])
                out.append(Calc("sphere", "round", a[None], rng.uniform(0.6, 1.6)))
        elif model == "punctate":
            for _ in range(int(rng.integers(2, 6))):
                a = where + rng.normal(0, 10, 3) * np.array([1, 1, 0.3])
                out.append(Calc("sphere", "punctate", a[None], rng.uniform(0.3, 0.5)))
        elif model == "vascular":
            out += vascular(where - np.array([10, 0, 0]), rng)
        else:                      # skin: shells with a lucent centre, at the skin surface
            z = np.sign(rng.normal()) * thickness_mm / 2
            for _ in range(int(rng.integers(3, 9))):
                a = where + rng.normal(0, 5, 3) * np.array([1, 1, 0])
                a[2] = z
                out.append(Calc("shell", "skin", a[None], rng.uniform(0.6, 2.0), inner_fraction=rng.uniform(0.5, 0.8)))
    return out


def make_calcs(cls: str, breast_depth_mm: float, breast_half_height_mm: float, thickness_mm: float,
               rng: np.random.Generator, r: ShapeRanges) -> tuple[list[Calc], int]:
    """The calcifications of a breast of class ``cls``: (particles, number of foci)."""
    def somewhere() -> np.ndarray:
        span = max(breast_half_height_mm * 0.6 - 10, 1.0)
        return np.array([rng.uniform(0.25, 0.7) * breast_depth_mm, rng.uniform(-span, span),
                         rng.uniform(-0.3, 0.3) * thickness_mm])

    if cls == "none":
        return [], 0
    if cls == "coarse_benign":
        return coarse_benign(somewhere(), rng, r, breast_half_height_mm * 0.25, thickness_mm), 0
    n_foci = 2 if rng.random() < r.multifocal_probability else 1
    calcs: list[Calc] = []
    first = somewhere()
    for k in range(n_foci):
        centre = first
        if k == 1:
            centre = first + np.array([0, rng.choice([-1, 1]) * rng.uniform(22, 30), 0])
            centre[1] = np.clip(centre[1], -breast_half_height_mm * 0.7, breast_half_height_mm * 0.7)
        if cls == "casting":
            high = max(min(r.cast_extent_mm[1], 0.6 * breast_depth_mm), r.cast_extent_mm[0] + 2)
            calcs += casting(centre, rng, r, rng.uniform(r.cast_extent_mm[0], high))
        elif cls == "crushed_stone":
            calcs += crushed_stone(centre, rng, r)
        elif cls == "powdery":
            calcs += powdery(centre, rng, r)
        else:
            raise ValueError(f"unknown calcification class {cls!r}")
    if rng.random() < r.vascular_distractor_probability:
        calcs += vascular(np.array([rng.uniform(0.05, 0.3) * breast_depth_mm, rng.uniform(-0.5, 0.5) * breast_half_height_mm,
                                    0.0]), rng, role="distractor")
    return calcs, n_foci
