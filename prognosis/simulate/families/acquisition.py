"""Detector and display: MTF blur, quantum and electronic noise, For Presentation processing.

- MTF: a Gaussian (focal spot and light spread of an indirect CsI detector) or a sinc-like
  aperture (a direct a-Se detector: box aperture of about the pixel pitch) times a small Gaussian;
- noise: quantum (Poisson, variance = mean photons) and electronic (additive Gaussian). On an
  indirect detector the light spread blurs the quantum noise too (``noise_before_blur``), so the
  noise is correlated; on a direct one it stays white;
- For Presentation: the log image, windowed over the breast, enhanced by an unsharp mask and
  mapped through a vendor-like curve (sigmoid, log or gamma), as real processed images are.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

LUTS = ("sigmoid", "log", "gamma")


def apply_mtf(image: np.ndarray, spacing_mm: float, kind: str, sigma_mm: float, aperture_px: float) -> np.ndarray:
    """Blur ``image`` by a Gaussian MTF (``kind="gaussian"``) or a sinc aperture times a Gaussian (``"sinc"``)."""
    if kind == "gaussian":
        return ndimage.gaussian_filter(image, sigma_mm / spacing_mm)
    fy = np.fft.fftfreq(image.shape[0], d=spacing_mm)[:, None]
    fx = np.fft.rfftfreq(image.shape[1], d=spacing_mm)[None, :]
    a = aperture_px * spacing_mm
    mtf = np.abs(np.sinc(fx * a) * np.sinc(fy * a)) * np.exp(-2 * (np.pi * sigma_mm) ** 2 * (fx ** 2 + fy ** 2))
    return np.fft.irfft2(np.fft.rfft2(image) * mtf, s=image.shape).astype(np.float32)


def detect(expected: np.ndarray, spacing_mm: float, rng: np.random.Generator, *, mtf: str, mtf_sigma_mm: float,
           aperture_px: float, electronic_noise: float, noise_before_blur: bool) -> np.ndarray:
    """Photons per pixel as read out: blur, quantum noise and electronic noise (see the module docstring)."""
    if noise_before_blur:
        noisy = expected + rng.standard_normal(expected.shape).astype(np.float32) * np.sqrt(expected)
        signal = apply_mtf(noisy, spacing_mm, mtf, mtf_sigma_mm, aperture_px)
        out = signal + rng.standard_normal(expected.shape).astype(np.float32) * electronic_noise
    else:
        signal = apply_mtf(expected, spacing_mm, mtf, mtf_sigma_mm, aperture_px)
        sd = np.sqrt(np.clip(signal, 0, None) + electronic_noise ** 2)
        out = signal + rng.standard_normal(expected.shape).astype(np.float32) * sd
    return np.clip(out, 0, None).astype(np.float32)


def lut(t: np.ndarray, kind: str, shape: float) -> np.ndarray:
    """Map normalised density ``t`` (0 fat .. 1 densest breast tissue) to display in about [0, 1]."""
    t = np.clip(t, -0.5, 1.5)
    if kind == "sigmoid":          # shape: slope; centre 0.5
        lo, hi = 1 / (1 + np.exp(shape * 0.5)), 1 / (1 + np.exp(-shape * 0.5))
        return (1 / (1 + np.exp(-shape * (t - 0.5))) - lo) / (hi - lo)
    if kind == "log":              # shape: strength; lifts the fatty end
        return np.sign(t) * np.log1p(shape * np.abs(t)) / np.log1p(shape)
    return np.sign(t) * np.abs(t) ** shape     # gamma


def _smooth(image: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian low-pass of a wide sigma, computed on a grid coarse enough for it (4 px per sigma)."""
    step = max(int(sigma_px // 4), 1)
    if step == 1:
        return ndimage.gaussian_filter(image, sigma_px)
    rows, cols = image.shape
    pad = (-rows % step, -cols % step)
    small = np.pad(image, ((0, pad[0]), (0, pad[1])), mode="edge")
    small = small.reshape(small.shape[0] // step, step, small.shape[1] // step, step).mean(axis=(1, 3))
    small = ndimage.gaussian_filter(small, sigma_px / step)
    zoomed = ndimage.zoom(small, step, order=1, grid_mode=True, mode="nearest")
    return zoomed[:rows, :cols]


def present(exposure: np.ndarray, breast: np.ndarray, spacing_mm: float, *, lut_kind: str, lut_shape: float,
            unsharp_amount: float, unsharp_sigma_mm: float) -> np.ndarray:
    """For Presentation display values (about 0..1, bright = dense) from the read-out exposure."""
    density = -np.log(np.maximum(exposure, 0.5))
    lo, hi = np.percentile(density[breast], [0.5, 99.5]) if breast.any() else (density.min(), density.max())
    t = (density - lo) / max(hi - lo, 1e-9)
    if unsharp_amount > 0:
        t = t + unsharp_amount * (t - _smooth(t, unsharp_sigma_mm / spacing_mm))
    return lut(t, lut_kind, lut_shape).astype(np.float32)


def display_as_exposure(display: np.ndarray) -> np.ndarray:
    """An exposure whose log is linear in ``display``, for ``write_mammogram`` (which writes -log exposure).

    The writer's For Presentation path stores ``-log(exposure)`` windowed linearly; feeding it
    ``1e6 * exp(-5 * display)`` stores the processed display values themselves (clipped to the
    range a 12-bit window keeps), so the vendor curve is what the file holds.
    """
    return (1e6 * np.exp(-5.0 * np.clip(display, -0.2, 1.2))).astype(np.float32)
