"""Fast filters of the calcification detector, each checked against the plain scipy/numpy version.

Area-averaging resampling to the working pixel size; Gaussian blurs as a cascade (each from the
previous, variances adding) with the wide ones on a half-resolution grid; block medians and
median absolute deviations interpolated back to full size. Used by :mod:`prognosis.imaging.detect`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, sparse


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
    image = image.astype(np.float32, copy=False)
    # columns first, a band of rows at a time: the same sums as cols @ image.T, without
    # scipy copying the whole transposed image (and the result's transpose) into a new array
    across = np.empty((image.shape[0], cols.shape[0]), np.float32)
    band = 256
    for r in range(0, image.shape[0], band):
        across[r:r + band] = (cols @ image[r:r + band].T).T
    out = np.asarray(rows @ across, dtype=np.float32)
    return out, spacing_mm * image.shape[1] / out.shape[1]


def block_median(values: np.ndarray) -> np.floating:
    """``np.median`` of a 1-D array (same value: the middle one, or the mean of the middle two),
    without its per-call overhead, which dominates on the small blocks here."""
    n = values.size
    k = n // 2
    if n % 2:
        return np.partition(values, k)[k]
    part = np.partition(values, (k - 1, k))
    return (part[k - 1] + part[k]) / 2


@dataclass(frozen=True)
class BlockGrid:
    """The noise blocks of one image, measured once and used for every scale.

    ``samples`` holds, per block with at least 30 masked samples, its index and the window
    coordinates of those samples; ``up_rows`` and ``up_cols`` interpolate block values back.
    """

    shape: tuple[int, int]
    samples: list[tuple[int, int, slice, slice, np.ndarray]]
    mask: np.ndarray
    up_rows: sparse.csr_matrix
    up_cols: sparse.csr_matrix


def block_grid(mask: np.ndarray, block_px: int, stride: int, *, full_shape: tuple[int, int] | None = None,
                offset: tuple[int, int] = (0, 0)) -> BlockGrid:
    """Blocks of ``block_px`` sampled every ``stride`` pixels, inside ``mask``.

    ``mask`` may be a window of a larger image (``full_shape``, window corner at ``offset``)
    that holds all of the mask: the blocks, their sample grid and the interpolation are those of
    the whole image, so the values are the whole image's cut to the window.
    """
    rows, cols = full_shape if full_shape is not None else mask.shape
    r_off, c_off = offset
    nby, nbx = max(rows // block_px, 1), max(cols // block_px, 1)
    by = np.linspace(0, rows, nby + 1).astype(int)
    bx = np.linspace(0, cols, nbx + 1).astype(int)

    def window(edges: np.ndarray, i: int, off: int, size: int) -> slice | None:
        # the block's stride-sampled positions, in window coordinates (None: outside the window)
        start, stop = edges[i] - off, min(edges[i + 1] - off, size)
        if start < 0:
            start += (-start + stride - 1) // stride * stride   # first sample inside the window
        return slice(start, stop, stride) if start < stop else None

    samples = []
    for i in range(nby):
        rs = window(by, i, r_off, mask.shape[0])
        if rs is None:
            continue
        for j in range(nbx):
            cs = window(bx, j, c_off, mask.shape[1])
            if cs is None:
                continue
            inside = mask[rs, cs]
            if np.count_nonzero(inside) >= 30:
                samples.append((i, j, rs, cs, inside))
    return BlockGrid((nby, nbx), samples, mask, _linear_matrix(nby, rows)[r_off:r_off + mask.shape[0]],
                      _linear_matrix(nbx, cols)[c_off:c_off + mask.shape[1]])


def local_median_mad(values: np.ndarray, grid: BlockGrid) -> tuple[np.ndarray, np.ndarray]:
    """Median and MAD of ``values`` inside the grid's mask per block, interpolated back to full size."""
    med = np.full(grid.shape, np.nan, np.float32)
    mad = np.full(grid.shape, np.nan, np.float32)
    for i, j, rs, cs, inside in grid.samples:
        v = values[rs, cs][inside]
        centre = block_median(v)
        med[i, j], mad[i, j] = centre, block_median(np.abs(v - centre))
    valid = np.isfinite(mad) & (mad > 0)
    if not valid.any():
        mask = grid.mask
        flat = values[mask] if mask.any() else values.ravel()
        centre = float(np.median(flat))
        spread = float(np.median(np.abs(flat - centre))) or 1e-6
        return np.full(values.shape, centre, np.float32), np.full(values.shape, spread, np.float32)
    # fill blocks outside the breast from their nearest valid neighbour
    idx = ndimage.distance_transform_edt(~valid, return_distances=False, return_indices=True)
    med, mad = med[tuple(idx)], mad[tuple(idx)]
    med_full = np.asarray(grid.up_rows @ (grid.up_cols @ med.T).T, dtype=np.float32)
    mad_full = np.asarray(grid.up_rows @ (grid.up_cols @ mad.T).T, dtype=np.float32)
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


def _cascade_steps(sigmas_mm: list[float], spacing_mm: float) -> list[tuple[float, float]]:
    """(sigma_mm, step_px) of each Gaussian of the cascade; a step of 0 reuses the previous blur."""
    steps, current_px = [], 0.0
    for sigma_mm in sigmas_mm:
        sigma_px = sigma_mm / spacing_mm
        step = float(np.sqrt(max(sigma_px ** 2 - current_px ** 2, 0.0)))
        if step >= 0.3:
            current_px = sigma_px
        else:
            step = 0.0
        steps.append((sigma_mm, step))
    return steps


# truncate at 3 sigma: the tails beyond hold 0.3% of the weight
_TRUNCATE = 3.0


# Blurs this wide (pixels) are computed on a grid of half the resolution and interpolated back:
# their content is low-frequency, and an eighth of the work (a quarter of the pixels, half the taps)
COARSE_MIN_SIGMA_PX = 4.0
# per-axis variance (fine px^2) added by the 2 x 2 mean (a box of 2: 1/4) and by the linear
# interpolation back (weights 3/4, 1/4 at 1/4 and 3/4 of a coarse pixel: 3/16 coarse px^2 = 3/4)
_HALVING_VARIANCE_PX2 = 0.25 + 0.75


def _halve(image: np.ndarray) -> np.ndarray:
    """2 x 2 mean (an odd last row or column is repeated); coarse pixel k is centred on fine k*2 + 0.5."""
    rows, cols = image.shape
    if rows % 2 or cols % 2:
        image = np.pad(image, ((0, rows % 2), (0, cols % 2)), mode="edge")
    out = image[0::2, 0::2] + image[1::2, 0::2]
    out += image[0::2, 1::2]
    out += image[1::2, 1::2]
    out *= np.float32(0.25)
    return out


def _double_axis(coarse: np.ndarray, n_out: int, axis: int) -> np.ndarray:
    """Linear interpolation of ``_halve``'s grid back to ``n_out`` pixels along ``axis`` (edges held)."""
    def take(sl: slice) -> tuple[slice, ...]:
        return (sl,) if axis == 0 else (slice(None), sl)

    n = coarse.shape[axis]
    shape = list(coarse.shape)
    shape[axis] = n_out
    out = np.empty(shape, np.float32)
    even, odd = take(slice(0, n_out, 2)), take(slice(1, n_out, 2))
    n_even, n_odd = (n_out + 1) // 2, n_out // 2
    # fine pixel 2k sits at coarse k - 1/4 and fine pixel 2k + 1 at coarse k + 1/4: weights 3/4, 1/4
    np.multiply(coarse[take(slice(0, n_even))], np.float32(0.75), out=out[even])
    out[even][take(slice(1, None))] += np.float32(0.25) * coarse[take(slice(0, n_even - 1))]
    out[even][take(slice(0, 1))] += np.float32(0.25) * coarse[take(slice(0, 1))]
    np.multiply(coarse[take(slice(0, n_odd))], np.float32(0.75), out=out[odd])
    last = min(n_odd, n - 1)
    out[odd][take(slice(0, last))] += np.float32(0.25) * coarse[take(slice(1, last + 1))]
    if last < n_odd:
        out[odd][take(slice(last, n_odd))] += np.float32(0.25) * coarse[take(slice(n - 1, n))]
    return out


def _double(coarse: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Back from ``_halve``'s grid to ``shape``: along the columns first, where the image is small."""
    return _double_axis(_double_axis(coarse, shape[1], axis=1), shape[0], axis=0)


def gaussian_cascade(image: np.ndarray, sigmas_mm: list[float], spacing_mm: float) -> dict[float, np.ndarray]:
    """Gaussian blurs at increasing scales, each from the previous (variances add): fewer taps.

    Blurs of at least ``COARSE_MIN_SIGMA_PX`` pixels continue on a half-resolution grid (the
    variance added by halving and interpolating back is taken off the Gaussian) and are
    interpolated back to full size.
    """
    out: dict[float, np.ndarray] = {}
    current, current_px = image, 0.0
    coarse, coarse_var = None, 0.0
    for sigma_mm, step in _cascade_steps(sigmas_mm, spacing_mm):
        sigma_px = sigma_mm / spacing_mm
        if step and sigma_px >= COARSE_MIN_SIGMA_PX:
            if coarse is None:
                coarse, coarse_var = _halve(current), current_px ** 2 + _HALVING_VARIANCE_PX2
            coarse_step = float(np.sqrt(max(sigma_px ** 2 - coarse_var, 0.0))) / 2
            if coarse_step >= 0.3:
                coarse = ndimage.gaussian_filter(coarse, coarse_step, truncate=_TRUNCATE)
            coarse_var = sigma_px ** 2
            current = _double(coarse, image.shape)
        elif step:
            current, current_px = ndimage.gaussian_filter(current, step, truncate=_TRUNCATE), sigma_px
        out[sigma_mm] = current
    return out


def support_px(sigmas_mm: list[float], spacing_mm: float, tophat_side_px: int) -> int:
    """How far (pixels) a pixel's CNR and top-hat reach: the margin kept around the analysed region."""
    # scipy's Gaussian kernel radius is int(truncate * sigma + 0.5); the cascade's radii add up
    cascade = sum(int(_TRUNCATE * step + 0.5) for _, step in _cascade_steps(sigmas_mm, spacing_mm) if step)
    tophat = 1 + 2 * (tophat_side_px // 2)     # 3 x 3 smoothing, then erosion and dilation
    # + the half-resolution detour of the wide blurs: its kernels reach as far (in fine pixels,
    # up to rounding), plus a pixel for the 2 x 2 mean and two for the interpolation back
    return max(cascade, tophat) + 8
