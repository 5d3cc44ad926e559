"""Lesions of the phantoms in 3D: particles laid out after the morphology of science.md §1.

casting: discontinuous casts filling a branching duct toward the nipple, calibre < 0.5 mm;
crushed stone: irregular fragments of varying size; powdery: tiny, faint, hazy specks; coarse
benign: popcorn, large round and smooth rod-like calcifications > 1 mm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class PhantomParameters:
    """Physical constants of the phantom renderer (attenuation per mm, sizes in mm).

    ``photons_per_mm2`` sets the quantum noise: a pixel of side s mm receives
    ``photons_per_mm2 * s**2 * exp(-attenuation)`` photons.
    """

    mu_fat_per_mm: float = 0.045
    mu_gland_per_mm: float = 0.075
    mu_calcium_per_mm: float = 1.2
    breast_thickness_mm: float = 50.0
    texture_beta: float = 3.0
    gland_fraction_mean: float = 0.35
    gland_fraction_sd: float = 0.12
    strand_mu_per_mm: float = 0.05     # vessels and ligaments against fat
    photons_per_mm2: float = 1.0e7
    electronic_noise_photons: float = 2.0
    psf_sigma_mm: float = 0.04
    n_ligaments: int = 8
    powdery_density: float = 0.6       # powdery specks are hazy: less calcium per mm of chord
    # share of contralateral (tumour-free) breasts given coarse benign calcifications: an assumption
    # of the simulation, large enough that a worst-breast rule visibly differs from the tumour side
    contralateral_benign: float = 0.25


@dataclass
class Particle:
    """One calcification: a polyline (casts, rods), a polygon (fragments) or spheres (round, popcorn)."""

    kind: str
    points_mm: np.ndarray            # (n, 3) for polylines and sphere centres; polygon vertices (n, 3)
    width_mm: float                  # cylinder diameter / fragment thickness / sphere diameter
    density: float = 1.0
    radii_mm: np.ndarray | None = None


@dataclass
class Lesion:
    """A class label, its particles in breast coordinates (mm) and its number of foci."""

    cls: str
    particles: list[Particle] = field(default_factory=list)
    n_foci: int = 0


# --------------------------------------------------------------------------------------------
# lesions in 3D breast coordinates: x from the chest wall toward the nipple, y across, z height
# --------------------------------------------------------------------------------------------

def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(np.linalg.norm(v), 1e-9)


def duct_tree(start: np.ndarray, direction: np.ndarray, length_mm: float, rng: np.random.Generator,
               depth: int = 0) -> list[np.ndarray]:
    """Random-walk ducts (polylines, 0.5 mm steps) that branch a few times."""
    step = 0.5
    n = max(int(length_mm / step), 2)
    points = [start]
    d = _unit(direction)
    branches: list[np.ndarray] = []
    for i in range(n):
        d = _unit(d + rng.normal(0, 0.08, 3) * np.array([0.3, 1, 1]))
        points.append(points[-1] + step * d)
        if depth < 2 and i > 4 and rng.random() < 0.06:
            side = _unit(np.cross(d, rng.normal(size=3)))
            branches += duct_tree(points[-1], d + 0.9 * side, length_mm * rng.uniform(0.3, 0.6), rng, depth + 1)
    return [np.array(points)] + branches


def _casting_focus(centre: np.ndarray, rng: np.random.Generator, extent_mm: float) -> list[Particle]:
    # Ducts run toward the nipple (+x); the cast fills them discontinuously.
    start = centre - np.array([extent_mm / 2, 0, 0])
    ducts = duct_tree(start, np.array([1.0, rng.normal(0, 0.3), rng.normal(0, 0.3)]), extent_mm, rng)
    particles = []
    for duct in ducts:
        calibre = rng.uniform(0.2, 0.45)
        i = int(rng.integers(0, 4))
        while i < len(duct) - 2:
            n_seg = int(rng.integers(2, 7))      # 1-3 mm casts
            seg = duct[i:i + n_seg + 1]
            if len(seg) >= 2:
                width = calibre * rng.uniform(0.7, 1.1)
                particles.append(Particle("cast", seg + rng.normal(0, 0.03, seg.shape), width))
            i += n_seg + int(rng.integers(1, 4))  # gaps of 0.5-1.5 mm
    return particles


def _fragment(centre: np.ndarray, size_mm: float, rng: np.random.Generator) -> Particle:
    n = int(rng.integers(5, 9))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = size_mm / 2 * rng.uniform(0.45, 1.0, n)
    # an irregular lump roughly as deep as it is wide: its outline is similar in both views
    verts = np.stack([radii * np.cos(angles), radii * np.sin(angles), rng.normal(0, size_mm / 4, n)], axis=1)
    return Particle("fragment", centre + verts, width_mm=size_mm * rng.uniform(0.5, 0.9))


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


def _crushed_focus(centre: np.ndarray, rng: np.random.Generator, radius_mm: float) -> list[Particle]:
    n = int(rng.integers(8, 25))
    offsets = rng.normal(0, radius_mm / 2, (n, 3))
    return [_fragment(centre + o, rng.uniform(0.15, 0.6), rng) for o in offsets]


def _powdery_focus(centre: np.ndarray, rng: np.random.Generator, radius_mm: float,
                   density: float) -> list[Particle]:
    n = int(rng.integers(12, 35))
    offsets = rng.normal(0, radius_mm / 2, (n, 3))
    return [Particle("sphere", (centre + o)[None], rng.uniform(0.15, 0.28), density=density) for o in offsets]


def _coarse(centre: np.ndarray, rng: np.random.Generator, spread_mm: float) -> list[Particle]:
    particles = []
    for _ in range(int(rng.integers(2, 6))):
        where = centre + rng.normal(0, spread_mm, 3)
        kind = rng.choice(["popcorn", "round", "rod"])
        if kind == "popcorn":
            n = int(rng.integers(4, 8))
            size = rng.uniform(2.0, 4.0)
            centres = where + rng.normal(0, size / 4, (n, 3))
            particles.append(Particle("sphere", centres, size, radii_mm=rng.uniform(0.3, 0.7, n) * size / 2))
        elif kind == "round":
            particles.append(Particle("sphere", where[None], rng.uniform(1.2, 2.2)))
        else:
            d = _unit(np.array([1.0, rng.normal(0, 0.5), rng.normal(0, 0.5)]))
            length = rng.uniform(3.0, 7.0)
            particles.append(Particle("cast", np.stack([where, where + length * d]), rng.uniform(0.7, 1.1)))
    return particles


def make_lesion(cls: str, breast_depth_mm: float, breast_half_height_mm: float, rng: np.random.Generator,
                params: PhantomParameters) -> Lesion:
    """Draw one lesion of class ``cls`` inside a breast of the given size (mm)."""
    def somewhere(margin: float) -> np.ndarray:
        x = rng.uniform(0.25, 0.7) * breast_depth_mm
        span = max(breast_half_height_mm * 0.6 - margin, 1.0)
        return np.array([x, rng.uniform(-span, span), rng.uniform(-8, 8)])

    lesion = Lesion(cls)
    if cls == "none":
        return lesion
    if cls == "coarse_benign":
        lesion.particles = _coarse(somewhere(10), rng, spread_mm=breast_half_height_mm * 0.25)
        lesion.n_foci = 0
        return lesion
    n_foci = 2 if rng.random() < 0.2 else 1
    first_centre = None
    for k in range(n_foci):
        centre = somewhere(10)
        if k == 1:  # a second focus 22-30 mm from the first (multifocal)
            centre = first_centre + np.array([0, rng.choice([-1, 1]) * rng.uniform(22, 30), 0])
            centre[1] = np.clip(centre[1], -breast_half_height_mm * 0.7, breast_half_height_mm * 0.7)
        else:
            first_centre = centre
        if cls == "casting":
            extent = rng.uniform(12, max(min(0.6 * breast_depth_mm, 70), 14))
            lesion.particles += _casting_focus(centre, rng, extent)
        elif cls == "crushed_stone":
            lesion.particles += _crushed_focus(centre, rng, rng.uniform(2.0, 5.0))
        else:
            lesion.particles += _powdery_focus(centre, rng, rng.uniform(2.0, 5.0), params.powdery_density)
    lesion.n_foci = n_foci
    return lesion
