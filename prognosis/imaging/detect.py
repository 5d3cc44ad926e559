"""Candidate microcalcifications: multi-scale matched filters, local contrast-to-noise, hysteresis.

Every size is in mm and every threshold a contrast-to-noise ratio (CNR), so the detector does
not depend on the pixel size: images are first area-averaged to one working pixel size
(:func:`resample_to_spacing`), then

1. a white top-hat (square of side ``tophat_size_mm``) removes the tissue background;
2. the top-hat is smoothed at each scale of ``detection_sigmas_mm`` (matched to particles of
   diameter ~2.8 sigma);
3. each response is turned into a local CNR, ``(response - local median) / (1.4826 * local MAD)``,
   median and MAD measured in blocks of ``noise_block_mm`` (robust: a cluster occupies a small
   part of a block), and the CNR is the maximum over scales;
4. a candidate is a connected set of pixels above ``grow_cnr`` at the finest scale (its outline)
   holding a pixel above ``seed_cnr`` at any scale (hysteresis).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, sparse

from prognosis.imaging.params import ExtractionParameters

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Detection:
    """Candidates of one image at the working pixel size.

    Attributes
    ----------
    labels : ndarray of int32
        0 = background, k = candidate k (1-based).
    tophat : ndarray of float32
        Background-removed intensity (contrast in normalised intensity units).
    cnr : ndarray of float32
        Local contrast-to-noise ratio, maximum over scales.
    spacing_mm : float
        Working pixel size.
    n_candidates : int
    """

    labels: np.ndarray
    tophat: np.ndarray
    cnr: np.ndarray
    spacing_mm: float
    n_candidates: int


def _box_matrix(n_in: int, factor: float) -> sparse.csr_matrix:
    """Area-averaging resampling matrix from n_in pixels to round(n_in * factor) pixels."""
    n_out = max(int(round(n_in * factor)), 1)
    edges_in = np.arange(n_in + 1, dtype=np.float64)
    edges_out = np.arange(n_out + 1, dtype=np.float64) / factor
    rows, cols, vals = [], [], []
    j = 0
    for i in range(n_out):
        lo, hi = edges_out[i], min(edges_out[i + 1], n_in)
        j = max(int(np.floor(lo)), 0)
        while j < n_in and edges_in[j] < hi:
            overlap = min(edges_in[j + 1], hi) - max(edges_in[j], lo)
            if overlap > 0:
                rows.append(i)
                cols.append(j)
                vals.append(overlap)
            j += 1
    m = sparse.csr_matrix((vals, (rows, cols)), shape=(n_out, n_in))
    m = sparse.diags(1.0 / np.maximum(np.asarray(m.sum(axis=1)).ravel(), 1e-12)) @ m
    return m.astype(np.float32).tocsr()


def resample_to_spacing(image: np.ndarray, spacing_mm: float, target_mm: float) -> tuple[np.ndarray, float]:
    """Area-average ``image`` to ``target_mm`` pixels (never upsample); returns (image, spacing)."""
    if spacing_mm >= target_mm * 0.999:
        return image.astype(np.float32, copy=False), spacing_mm
    factor = spacing_mm / target_mm
    rows = _box_matrix(image.shape[0], factor)
    cols = _box_matrix(image.shape[1], factor)
    out = (rows @ (cols @ image.astype(np.float32).T).T).astype(np.float32)
    return out, spacing_mm * image.shape[1] / out.shape[1]


def _local_median_mad(values: np.ndarray, mask: np.ndarray, block_px: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Median and MAD of ``values`` inside ``mask`` per block, interpolated back to full size."""
    rows, cols = values.shape
    nby, nbx = max(rows // block_px, 1), max(cols // block_px, 1)
    by = np.linspace(0, rows, nby + 1).astype(int)
    bx = np.linspace(0, cols, nbx + 1).astype(int)
    med = np.full((nby, nbx), np.nan, np.float32)
    mad = np.full((nby, nbx), np.nan, np.float32)
    for i in range(nby):
        for j in range(nbx):
            v = values[by[i]:by[i + 1]:stride, bx[j]:bx[j + 1]:stride]
            m = mask[by[i]:by[i + 1]:stride, bx[j]:bx[j + 1]:stride]
            v = v[m]
            if v.size >= 30:
                centre = np.median(v)
                med[i, j], mad[i, j] = centre, np.median(np.abs(v - centre))
    valid = np.isfinite(mad) & (mad > 0)
    if not valid.any():
        flat = values[mask] if mask.any() else values.ravel()
        centre = float(np.median(flat))
        spread = float(np.median(np.abs(flat - centre))) or 1e-6
        return np.full(values.shape, centre, np.float32), np.full(values.shape, spread, np.float32)
    # fill blocks outside the breast from their nearest valid neighbour
    idx = ndimage.distance_transform_edt(~valid, return_distances=False, return_indices=True)
    med, mad = med[tuple(idx)], mad[tuple(idx)]
    up_rows, up_cols = _linear_matrix(nby, rows), _linear_matrix(nbx, cols)
    med_full = np.asarray(up_rows @ (up_cols @ med.T).T, dtype=np.float32)
    mad_full = np.asarray(up_rows @ (up_cols @ mad.T).T, dtype=np.float32)
    return med_full, mad_full


def _linear_matrix(n_in: int, n_out: int) -> sparse.csr_matrix:
    """Sparse linear interpolation from n_in block centres to n_out pixel centres (edges held)."""
    position = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, n_in - 1)
    weight = position - low
    rows = np.concatenate([np.arange(n_out), np.arange(n_out)])
    return sparse.csr_matrix((np.concatenate([1 - weight, weight]).astype(np.float32),
                              (rows, np.concatenate([low, high]))), shape=(n_out, n_in))


def _gaussian_cascade(image: np.ndarray, sigmas_mm: list[float], spacing_mm: float) -> dict[float, np.ndarray]:
    """Gaussian blurs at increasing scales, each from the previous (variances add): fewer taps."""
    out: dict[float, np.ndarray] = {}
    current, current_px = image, 0.0
    for sigma_mm in sigmas_mm:
        sigma_px = sigma_mm / spacing_mm
        step = float(np.sqrt(max(sigma_px ** 2 - current_px ** 2, 0.0)))
        if step >= 0.3:
            # truncate at 3 sigma: the tails beyond hold 0.3% of the weight
            current, current_px = ndimage.gaussian_filter(current, step, truncate=3.0), sigma_px
        out[sigma_mm] = current
    return out


def detect_candidates(image: np.ndarray, spacing_mm: float, analysis_mask: np.ndarray,
                      params: ExtractionParameters = ExtractionParameters()) -> Detection:
    """Find candidate calcifications in an image already at the working pixel size.

    Parameters
    ----------
    image : ndarray
        Intensity in [0, 1], bright = dense, at ``spacing_mm`` per pixel.
    analysis_mask : ndarray of bool
        Where to search (the breast minus its skin margin).
    params : ExtractionParameters
        ``tophat_size_mm``, ``detection_sigmas_mm``, ``noise_block_mm``, ``seed_cnr``, ``grow_cnr``.

    Returns
    -------
    Detection
    """
    image = image.astype(np.float32, copy=False)
    side = max(int(round(params.tophat_size_mm / spacing_mm)) | 1, 3)
    # the opening of a smoothed copy: single noisy dark pixels do not dig holes in the background
    background = ndimage.grey_opening(ndimage.uniform_filter(image, 3 if spacing_mm < 0.2 else 1), size=(side, side))
    tophat = np.clip(image - background, 0, None)
    block_px = max(int(round(params.noise_block_mm / spacing_mm)), 8)
    stride = max(block_px // 24, 1)
    centres = [float(s_) for s_ in params.detection_sigmas_mm]
    blurred = _gaussian_cascade(image, sorted(set(centres + [c * params.surround_ratio for c in centres])), spacing_mm)
    cnr = None
    for sigma_mm in centres:
        # centre-surround (difference of Gaussians): texture broader than the surround cancels
        response = blurred[sigma_mm] - blurred[sigma_mm * params.surround_ratio]
        med, mad = _local_median_mad(response, analysis_mask, block_px, stride)
        scale_cnr = (response - med) / (1.4826 * np.maximum(mad, 1e-6))
        cnr = scale_cnr if cnr is None else np.maximum(cnr, scale_cnr)
    del blurred
    assert cnr is not None
    seeds = (cnr >= params.seed_cnr) & analysis_mask
    grow = ((cnr >= params.grow_cnr) | seeds) & analysis_mask
    labels, n = ndimage.label(grow, structure=np.ones((3, 3)))
    if n:
        keep = np.zeros(n + 1, bool)
        keep[np.unique(labels[seeds])] = True
        keep[0] = False
        # outline: the part of each seeded region brighter than half its peak top-hat (FWHM)
        peak = np.zeros(n + 1, np.float32)
        where = labels > 0
        np.maximum.at(peak, labels[where], tophat[where])
        inside = keep[labels] & (tophat >= params.outline_fraction * peak[labels])
        labels, n = ndimage.label(inside, structure=np.ones((3, 3)))
    logger.debug("%d candidates", n)
    return Detection(labels.astype(np.int32), tophat.astype(np.float32), cnr.astype(np.float32), spacing_mm, int(n))
