"""The breast region: background, labels and markers excluded; the pectoral muscle on MLO.

All sizes are in mm; the image is at ``spacing_mm`` per pixel.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BreastRegion:
    """Masks of one view (same shape as the image).

    Attributes
    ----------
    breast : ndarray of bool
        The breast, pectoral muscle excluded.
    analysis : ndarray of bool
        Where calcifications are searched: the breast minus a skin margin.
    chest_wall_left : bool
        Whether the chest wall is at column 0.
    pectoral_fraction : float
        Share of the breast covered by the pectoral muscle removed (0 on CC).
    """

    breast: np.ndarray
    analysis: np.ndarray
    chest_wall_left: bool
    pectoral_fraction: float


def _downsample(image: np.ndarray, factor: int) -> np.ndarray:
    if factor <= 1:
        return image
    h, w = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    return image[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def _pectoral(coarse: np.ndarray, mask: np.ndarray, max_fraction: float) -> np.ndarray:
    """Triangle in the upper chest-wall corner (chest wall at column 0) that is brighter than beyond.

    Searches lines from (row 0, column a) to (row b, column 0) and keeps the one whose triangle
    is brightest relative to a band of tissue just outside it; none if the contrast is weak.
    """
    rows, cols = coarse.shape
    yy, xx = np.mgrid[0:rows, 0:cols]
    breast_cols = np.nonzero(mask.any(axis=0))[0]
    depth = breast_cols.max() + 1 if len(breast_cols) else cols
    values = coarse[mask]
    if values.size < 50:
        return np.zeros_like(mask)
    spread = float(np.std(values)) or 1.0
    best, best_score = None, 1.0   # minimum contrast: one standard deviation of breast intensity
    for a in np.linspace(0.08, 0.6, 14) * depth:
        for b in np.linspace(0.15, 0.95, 17) * rows:
            s = xx / a + yy / b
            inside = (s < 1) & mask
            band = (s >= 1.05) & (s < 1.35) & mask
            if inside.sum() < 20 or band.sum() < 20 or inside.sum() > max_fraction * mask.sum():
                continue
            score = (coarse[inside].mean() - coarse[band].mean()) / spread
            if score > best_score:
                best, best_score = inside, score
    return best if best is not None else np.zeros_like(mask)


def find_breast(image: np.ndarray, spacing_mm: float, *, view: str, smoothing_mm: float = 2.0,
                skin_margin_mm: float = 3.0, min_area_mm2: float = 400.0,
                pectoral_max_fraction: float = 0.35, full_thickness_fraction: float = 0.8) -> BreastRegion:
    """Segment the breast of one view.

    Otsu's threshold on a smoothed, 1 mm copy of the image separates tissue from air; the
    largest connected component with its holes filled is the breast, so labels and markers
    (separate bright islands) drop out. On MLO the pectoral triangle is removed.

    Parameters
    ----------
    image : ndarray
        Intensity in [0, 1], bright = dense.
    spacing_mm : float
        Pixel size.
    view : str
        ``"MLO"`` triggers the pectoral search.
    smoothing_mm, skin_margin_mm, min_area_mm2, pectoral_max_fraction
        See :class:`prognosis.imaging.params.ExtractionParameters`.
    full_thickness_fraction : float
        The analysed region keeps pixels at least this far (as a fraction) from the air level
        to the median breast level, after smoothing: the thinning rim is left out.

    Returns
    -------
    BreastRegion
    """
    factor = max(int(round(1.0 / spacing_mm)), 1)           # analyse the outline on a ~1 mm grid
    coarse = _downsample(image, factor)
    coarse_mm = spacing_mm * factor
    smooth = ndimage.gaussian_filter(coarse, 0.5 / coarse_mm)
    try:
        level = threshold_otsu(smooth)
    except ValueError:
        level = float(smooth.mean())
    foreground = smooth > level * 0.6 + smooth.min() * 0.4   # lean low: keep the thin skin edge
    # cut thin bridges between the breast and a nearby marker before keeping the largest island
    foreground = ndimage.binary_opening(foreground, iterations=max(int(round(smoothing_mm / coarse_mm)), 1))
    labels, n = ndimage.label(foreground)
    if n == 0:
        empty = np.zeros(image.shape, bool)
        return BreastRegion(empty, empty, True, 0.0)
    sizes = ndimage.sum_labels(foreground, labels, index=np.arange(1, n + 1))
    mask = ndimage.binary_fill_holes(labels == (int(np.argmax(sizes)) + 1))
    if mask.sum() * coarse_mm ** 2 < min_area_mm2:
        logger.info("breast area %.0f mm2 below %.0f mm2", mask.sum() * coarse_mm ** 2, min_area_mm2)
    edge = max(1, mask.shape[1] // 20)
    chest_wall_left = bool(mask[:, :edge].sum() >= mask[:, -edge:].sum())
    pectoral_fraction = 0.0
    if view == "MLO":
        oriented = mask if chest_wall_left else mask[:, ::-1]
        values = coarse if chest_wall_left else coarse[:, ::-1]
        muscle = _pectoral(values, oriented, pectoral_max_fraction)
        muscle = muscle if chest_wall_left else muscle[:, ::-1]
        pectoral_fraction = float(muscle.sum() / max(mask.sum(), 1))
        mask = mask & ~muscle
    # the rim where the compressed breast thins is a bright-to-dark ramp: leave it out as well
    air = float(np.median(smooth[~mask])) if (~mask).any() else float(smooth.min())
    tissue = float(np.median(smooth[mask])) if mask.any() else float(smooth.max())
    thick = ndimage.gaussian_filter(coarse, smoothing_mm / coarse_mm) >= air + full_thickness_fraction * (tissue - air)
    inner = ndimage.binary_erosion(mask & thick, iterations=max(int(round(skin_margin_mm / coarse_mm)), 1))
    full = _upsample(mask, factor, image.shape)
    analysis = _upsample(inner, factor, image.shape)
    return BreastRegion(full, analysis, chest_wall_left, pectoral_fraction)


def _upsample(mask: np.ndarray, factor: int, shape: tuple[int, int]) -> np.ndarray:
    big = np.repeat(np.repeat(mask, factor, axis=0), factor, axis=1)
    out = np.zeros(shape, bool)
    h, w = min(big.shape[0], shape[0]), min(big.shape[1], shape[1])
    out[:h, :w] = big[:h, :w]
    if h < shape[0]:
        out[h:, :w] = out[h - 1:h, :w]
    if w < shape[1]:
        out[:, w:] = out[:, w - 1:w]
    return out
