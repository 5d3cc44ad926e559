"""Anatomical backgrounds: power-law texture, clustered lumpy texture, ligaments and vessels.

- *Power-law* noise with spectrum ~ 1/f**beta (mammograms: beta about 2.5-3.5, Burgess 2001);
- *clustered lumpy* backgrounds (Bochud et al. 1999): cluster centres scattered at random, each
  holding a few elongated Gaussian blobs of one orientation, which mimics fibroglandular lobules;
- *Cooper's ligaments*: thin (0.3-1 mm) curvilinear strands, arcs across the fat;
- *vessels*: long, smooth tubes 1-3 mm wide running toward the nipple (their calcified walls are a
  shape model in :mod:`~prognosis.simulate.families.shapes`).
All fields are in mm of tissue path or unit-variance texture on the pixel grid.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from prognosis.simulate.lesions import duct_tree
from prognosis.simulate.phantom_view import power_law_noise

__all__ = ["clustered_lumpy", "power_law_noise", "strand_map", "spectral_slope"]


def clustered_lumpy(shape: tuple[int, int], spacing_mm: float, rng: np.random.Generator, *,
                    clusters_per_cm2: float, blobs_per_cluster: tuple[int, int], blob_sigma_mm: tuple[float, float],
                    anisotropy: tuple[float, float], cluster_radius_mm: float) -> np.ndarray:
    """Zero-mean, unit-variance clustered lumpy texture.

    Blobs are sorted into four orientation bins and each bin is convolved once with its
    anisotropic Gaussian, in the Fourier domain (periodic, as a texture may be), so the cost does
    not grow with the number or the size of the blobs.
    """
    rows, cols = shape
    area_cm2 = rows * cols * spacing_mm ** 2 / 100
    n_clusters = max(int(rng.poisson(clusters_per_cm2 * area_cm2)), 1)
    sigma_mm = rng.uniform(*blob_sigma_mm)
    ratio = rng.uniform(*anisotropy)
    fy = np.fft.fftfreq(rows, d=spacing_mm)[:, None]
    fx = np.fft.rfftfreq(cols, d=spacing_mm)[None, :]
    spectrum = np.zeros((rows, cols // 2 + 1), np.complex64)
    for angle in np.linspace(0, np.pi, 4, endpoint=False):
        impulses = np.zeros(shape, np.float32)
        centres = rng.uniform([0, 0], [rows, cols], (n_clusters // 4 + 1, 2))
        for c in centres:
            k = int(rng.integers(blobs_per_cluster[0], blobs_per_cluster[1] + 1))
            pts = np.rint(c + rng.normal(0, cluster_radius_mm / spacing_mm, (k, 2))).astype(int)
            ok = (pts[:, 0] >= 0) & (pts[:, 0] < rows) & (pts[:, 1] >= 0) & (pts[:, 1] < cols)
            np.add.at(impulses, (pts[ok, 0], pts[ok, 1]), rng.uniform(0.5, 1.5, int(ok.sum())))
        # the Fourier transform of an anisotropic Gaussian blob (sigma along u: ratio * sigma)
        fu, fv = fx * np.cos(angle) + fy * np.sin(angle), -fx * np.sin(angle) + fy * np.cos(angle)
        transfer = np.exp(-2 * np.pi ** 2 * sigma_mm ** 2 * ((ratio * fu) ** 2 + fv ** 2))
        spectrum += np.fft.rfft2(impulses) * transfer
    field_ = np.fft.irfft2(spectrum, s=shape).astype(np.float32)
    field_ -= field_.mean()
    return field_ / max(float(field_.std()), 1e-12)


def _polyline_tube(target: np.ndarray, points_mm: np.ndarray, width_mm: float, spacing_mm: float) -> None:
    """Add the chord (mm) of a tube of diameter ``width_mm`` around a polyline (points in (col, row) mm)."""
    from skimage.draw import line

    pix = points_mm / spacing_mm
    pad = int(np.ceil(width_mm / spacing_mm)) + 2
    lo = np.floor(pix.min(axis=0)).astype(int) - pad
    hi = np.ceil(pix.max(axis=0)).astype(int) + pad
    lo = np.maximum(lo, [0, 0])
    hi = np.minimum(hi, [target.shape[1], target.shape[0]])
    if np.any(hi - lo < 2):
        return
    axis = np.zeros((hi[1] - lo[1], hi[0] - lo[0]), bool)
    ij = np.rint(pix - lo).astype(int)
    for (c0, r0), (c1, r1) in zip(ij[:-1], ij[1:]):
        rr, cc = line(r0, c0, r1, c1)
        ok = (rr >= 0) & (rr < axis.shape[0]) & (cc >= 0) & (cc < axis.shape[1])
        axis[rr[ok], cc[ok]] = True
    if not axis.any():
        return
    dist = ndimage.distance_transform_edt(~axis) * spacing_mm
    r = width_mm / 2
    target[lo[1]:hi[1], lo[0]:hi[0]] += 2 * np.sqrt(np.clip(r * r - dist ** 2, 0, None)).astype(np.float32)


def strand_map(shape: tuple[int, int], spacing_mm: float, rng: np.random.Generator, *, depth_mm: float,
               centre_y_mm: float, half_height_mm: float, n_ligaments: int, ligament_width_mm: tuple[float, float],
               n_vessels: int, vessel_width_mm: tuple[float, float]) -> np.ndarray:
    """Soft-tissue path (mm) of Cooper's ligaments (thin arcs) and vessels (wide, toward the nipple)."""
    out = np.zeros(shape, np.float32)
    for _ in range(n_ligaments):
        # an arc: a circle segment whose chord crosses the breast obliquely
        c = np.array([rng.uniform(0.2, 0.9) * depth_mm, centre_y_mm + rng.uniform(-0.8, 0.8) * half_height_mm])
        radius = rng.uniform(8, 30)
        a0 = rng.uniform(0, 2 * np.pi)
        t = np.linspace(a0, a0 + rng.uniform(0.6, 1.8), 40)
        _polyline_tube(out, np.stack([c[0] + radius * np.cos(t), c[1] + radius * np.sin(t)], 1),
                       rng.uniform(*ligament_width_mm), spacing_mm)
    for _ in range(n_vessels):
        start = np.array([rng.uniform(0.0, 0.3) * depth_mm, centre_y_mm + rng.uniform(-0.7, 0.7) * half_height_mm, 0])
        path = duct_tree(start, np.array([1.0, rng.normal(0, 0.4), 0]), rng.uniform(25, 60), rng, depth=1)
        width = rng.uniform(*vessel_width_mm)
        for k, branch in enumerate(path):
            _polyline_tube(out, branch[:, :2], width * (0.6 if k else 1.0), spacing_mm)
    return out


def spectral_slope(image: np.ndarray, spacing_mm: float, band_per_mm: tuple[float, float] = (0.1, 1.0)) -> float:
    """Slope beta of the radially averaged power spectrum, P ~ f**-beta, fitted over a band (cycles/mm)."""
    x = image - image.mean()
    x = x * np.outer(np.hanning(x.shape[0]), np.hanning(x.shape[1]))
    power = np.abs(np.fft.rfft2(x)) ** 2
    fy = np.fft.fftfreq(x.shape[0], d=spacing_mm)[:, None]
    fx = np.fft.rfftfreq(x.shape[1], d=spacing_mm)[None, :]
    f = np.sqrt(fx ** 2 + fy ** 2)
    keep = (f >= band_per_mm[0]) & (f <= band_per_mm[1])
    slope = np.polyfit(np.log(f[keep]), np.log(power[keep] + 1e-30), 1)[0]
    return float(-slope)
