"""Candidate microcalcifications: multi-scale matched filters, local contrast-to-noise, hysteresis.

Every size is in mm and every threshold a contrast-to-noise ratio (CNR), so the detector does
not depend on the pixel size: images are first area-averaged to one working pixel size
(:func:`resample_to_spacing`), then

1. a white top-hat (square of side ``tophat_size_mm``) removes the tissue background;
2. the image is filtered at each scale of ``detection_sigmas_mm`` by a difference of Gaussians
   (centre sigma minus ``surround_ratio`` x sigma, or minus another centre's blur within 6% of
   that; matched to particles of diameter ~2.8 sigma);
3. each response is turned into a local CNR, ``(response - local median) / (1.4826 * local MAD)``,
   median and MAD measured in blocks of ``noise_block_mm`` (robust: a cluster occupies a small
   part of a block), and the CNR is the maximum over scales;
4. a region is a connected set of pixels above ``grow_cnr`` holding a seed pixel (hysteresis);
   its candidates are the connected parts brighter than ``outline_fraction`` of its peak top-hat
   (their outlines) that themselves hold a pixel above ``seed_cnr``, or only above
   ``faint_seed_cnr`` but with ``cluster_min_count - 1`` other outlines within
   ``faint_group_radius_mm`` (faint particles count as part of a group).

Speed (issue #5: one full-field image per second per core): only the bounding box of the
analysed region, grown by the filters' reach, is filtered (identical values inside the region);
Gaussians of 4 pixels or wider (the surrounds) run on a half-resolution grid and are
interpolated back, which moves the CNR by a few hundredths at most; the Gaussians are a
cascade, each blurring the previous one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from prognosis.imaging.filters import block_grid, gaussian_cascade, local_median_mad, support_px
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


# A surround within this ratio of a centre sigma uses that centre's blur: with the default scales,
# 3 x 0.07 = 0.21 and 3 x 0.12 = 0.36 mm become 0.2 and 0.35 mm (surround ratios 2.86 and 2.92),
# and two full-image Gaussian passes, a twentieth of the extraction time, are saved
_SHARED_BLUR_RATIO = 1.06


def _shared_blur(surround_mm: float, centres: list[float]) -> float:
    """The centre sigma within ``_SHARED_BLUR_RATIO`` of ``surround_mm`` (the smallest such), else ``surround_mm``."""
    close = [c for c in centres if c <= surround_mm <= c * _SHARED_BLUR_RATIO or surround_mm <= c <= surround_mm * _SHARED_BLUR_RATIO]
    return min(close) if close else surround_mm


def _bounding_window(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """Bounding box of ``mask`` grown by ``margin`` pixels, clipped to the image.

    It starts on even rows and columns, so the 2 x 2 grid of the wide blurs is the whole image's.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    r0, c0 = max(rows[0] - margin, 0), max(cols[0] - margin, 0)
    return (slice(r0 - r0 % 2, min(rows[-1] + 1 + margin, mask.shape[0])),
            slice(c0 - c0 % 2, min(cols[-1] + 1 + margin, mask.shape[1])))


def _accepted_outlines(labels: np.ndarray, n: int, seeds: np.ndarray, cnr: np.ndarray, spacing_mm: float,
                       params: ExtractionParameters) -> np.ndarray:
    """Which outlines (by label, index 0 unused) are candidates.

    The hysteresis holds for each outline, not only for its region: cutting a region at half its
    peak can leave pieces without a seed pixel (a faint shoulder, noise beside a bright particle),
    which would otherwise pass as faint calcifications and form clusters of their own. An outline
    whose peak reaches ``seed_cnr`` is a candidate; one that reaches only ``faint_seed_cnr`` is a
    candidate when at least ``cluster_min_count - 1`` other outlines lie within
    ``faint_group_radius_mm`` (faint particles count only as part of a group).
    """
    accepted = np.zeros(n + 1, bool)
    rows, cols = np.nonzero(seeds)
    ids = labels[rows, cols]
    inside = ids > 0
    rows, cols, ids = rows[inside], cols[inside], ids[inside]
    strong = cnr[rows, cols] >= params.seed_cnr
    accepted[ids[strong]] = True
    faint = np.zeros(n + 1, bool)
    faint[ids] = True
    faint &= ~accepted
    if faint.any() and params.cluster_min_count > 1:
        # each outline sits at the mean of its seed pixels (its brightest part)
        count = np.bincount(ids, minlength=n + 1)
        present = np.flatnonzero(count)
        centre = np.stack([np.bincount(ids, rows, n + 1)[present], np.bincount(ids, cols, n + 1)[present]], axis=1)
        centre /= count[present, None]
        tree = cKDTree(centre)
        neighbours = tree.query_ball_point(centre[faint[present]], params.faint_group_radius_mm / spacing_mm,
                                           return_length=True) - 1
        accepted[present[faint[present]][neighbours >= params.cluster_min_count - 1]] = True
    accepted[0] = False
    return accepted


def detect_candidates(image: np.ndarray, spacing_mm: float, analysis_mask: np.ndarray,
                      params: ExtractionParameters = ExtractionParameters()) -> Detection:
    """Find candidate calcifications in an image already at the working pixel size.

    Only the bounding box of ``analysis_mask``, grown by the reach of the filters, is filtered
    (about half of a full-field image): inside the mask every value equals that of filtering the
    whole image, and the noise blocks keep the whole image's grid. Outside the box the returned
    ``tophat`` and ``cnr`` are 0.

    Parameters
    ----------
    image : ndarray
        Intensity in [0, 1], bright = dense, at ``spacing_mm`` per pixel.
    analysis_mask : ndarray of bool
        Where to search (the breast minus its skin margin).
    params : ExtractionParameters
        ``tophat_size_mm``, ``detection_sigmas_mm``, ``surround_ratio``, ``noise_block_mm``,
        ``seed_cnr``, ``grow_cnr``, ``outline_fraction``, ``faint_seed_cnr``,
        ``faint_group_radius_mm`` and ``cluster_min_count``.

    Returns
    -------
    Detection
    """
    image = image.astype(np.float32, copy=False)
    side = max(int(round(params.tophat_size_mm / spacing_mm)) | 1, 3)
    centres = [float(s_) for s_ in params.detection_sigmas_mm]
    surrounds = {c: _shared_blur(c * params.surround_ratio, centres) for c in centres}
    sigmas = sorted(set(centres) | set(surrounds.values()))
    if analysis_mask.any():
        window = _bounding_window(analysis_mask, support_px(sigmas, spacing_mm, side))
    else:
        window = (slice(0, image.shape[0]), slice(0, image.shape[1]))
    offset = (window[0].start, window[1].start)
    sub, mask = image[window], analysis_mask[window]
    # the opening of a smoothed copy: single noisy dark pixels do not dig holes in the background
    background = ndimage.grey_opening(ndimage.uniform_filter(sub, 3 if spacing_mm < 0.2 else 1), size=(side, side))
    tophat = np.clip(sub - background, 0, None)
    del background
    block_px = max(int(round(params.noise_block_mm / spacing_mm)), 8)
    stride = max(block_px // 24, 1)
    blurred = gaussian_cascade(sub, sigmas, spacing_mm)
    grid = block_grid(mask, block_px, stride, full_shape=image.shape, offset=offset)
    cnr = None
    for sigma_mm in centres:
        # centre-surround (difference of Gaussians): texture broader than the surround cancels
        response = blurred[sigma_mm] - blurred[surrounds[sigma_mm]]
        med, mad = local_median_mad(response, grid)
        # (response - med) / (1.4826 * max(mad, 1e-6)), in place: no full-size temporaries
        response -= med
        np.maximum(mad, np.float32(1e-6), out=mad)
        mad *= np.float32(1.4826)
        response /= mad
        cnr = response if cnr is None else np.maximum(cnr, response, out=cnr)
    del blurred, response, med, mad
    assert cnr is not None
    faint_cnr = min(params.faint_seed_cnr, params.seed_cnr)
    seeds = (cnr >= faint_cnr) & mask
    grow = ((cnr >= params.grow_cnr) | seeds) & mask
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
        accepted = _accepted_outlines(labels, n, seeds, cnr, spacing_mm, params)
        if n and not accepted[1:].all():
            renumber = np.where(accepted, np.cumsum(accepted), 0).astype(labels.dtype)
            labels = renumber[labels]
            n = int(accepted.sum())
    logger.debug("%d candidates", n)
    full_labels = np.zeros(image.shape, np.int32)
    full_tophat = np.zeros(image.shape, np.float32)
    full_cnr = np.zeros(image.shape, np.float32)
    full_labels[window], full_tophat[window], full_cnr[window] = labels, tophat, cnr
    return Detection(full_labels, full_tophat, full_cnr, spacing_mm, int(n))
