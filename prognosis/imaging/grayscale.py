"""The grayscale pipeline of a mammogram: stored values to intensity in [0, 1], bright = dense.

References
----------
DICOM PS3.4 N.2 (the grayscale pipeline); PS3.3 C.7.6.3 (Image Pixel Module), C.7.5.1.1.2 (Pixel
Padding Value and Range Limit), C.11.1 (Modality LUT), C.11.2 (VOI LUT), C.11.6.1.2 (Presentation
LUT Shape INVERSE), C.8.11.3 (DX Image Module: Pixel Intensity Relationship, Presentation LUT Shape).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pydicom
from pydicom.pixels import apply_modality_lut, apply_voi_lut, get_decoder
from pydicom.uid import JPEGLSLossless, JPEGLSNearLossless

from prognosis.errors import DicomError
from prognosis.imaging.dicom_checks import tag_in_text
from prognosis.imaging.dicom_tags import read_intent, tag_numbers, tag_text

logger = logging.getLogger(__name__)


def _float(ds: pydicom.Dataset, keyword: str, default: float) -> float | None:
    """A numeric tag as float (``default`` if absent, None if unreadable)."""
    value = ds.get(keyword, None)
    if value is None:
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _linear_window(values: np.ndarray, ds: pydicom.Dataset) -> np.ndarray | None:
    """The first linear VOI window, as pydicom's ``apply_windowing`` computes it, in row chunks.

    PS3.3 C.11.2.1.2.1 (LINEAR) and C.11.2.1.3.2 (LINEAR_EXACT). pydicom converts the whole image
    to float64 and assigns through boolean masks, which costs a quarter of a second and 100 MB
    per full-field image; this does the same float64 arithmetic (so the same float32 result) a
    few rows at a time. A VOI LUT or Modality LUT Sequence, SIGMOID, several windows or a width
    pydicom rejects return None (left to pydicom).
    """
    if any(k in ds for k in ("VOILUTSequence", "ModalityLUTSequence")) or "WindowCenter" not in ds \
            or "WindowWidth" not in ds:
        return None
    function = tag_text(ds, "VOILUTFunction") or "LINEAR"
    if function not in ("LINEAR", "LINEAR_EXACT"):
        return None
    centre, width = ds.WindowCenter, ds.WindowWidth
    if isinstance(centre, pydicom.multival.MultiValue) or isinstance(width, pydicom.multival.MultiValue):
        return None
    try:
        centre, width = float(centre), float(width)
        bits_stored = int(ds.BitsStored)
    except (TypeError, ValueError, AttributeError):
        return None
    if function == "LINEAR":
        if width < 1:
            return None
        centre, width = centre - 0.5, width - 1
    if not width > 0:
        return None
    if int(ds.get("PixelRepresentation", 0)) == 0:
        y_min, y_max = 0.0, float(2 ** bits_stored - 1)
    else:
        y_min, y_max = float(-(2 ** (bits_stored - 1))), float(2 ** (bits_stored - 1) - 1)
    slope, intercept = ds.get("RescaleSlope", None), ds.get("RescaleIntercept", None)
    if slope is not None and intercept is not None:
        y_min, y_max = y_min * float(slope) + float(intercept), y_max * float(slope) + float(intercept)
    y_range = y_max - y_min
    low, high = centre - width / 2, centre + width / 2
    step = max(1, (1 << 20) // max(values.shape[1], 1))
    for r in range(0, values.shape[0], step):
        x = values[r:r + step].astype(np.float64)
        y = ((x - centre) / width + 0.5) * y_range + y_min
        y = np.where(x <= low, y_min, np.where(x > high, y_max, y))
        values[r:r + step] = y
    return values


def _padding(ds: pydicom.Dataset, stored: np.ndarray, bit_mask: int | None, path: str) -> np.ndarray | None:
    """Pixels whose stored value is Pixel Padding Value, or within it and the Range Limit; None if none.

    PS3.3 C.7.5.1.1.2: both are stored values (before the Modality LUT), and padding "is not
    part of the image": it must not count as tissue nor take part in any scaling.
    """
    value = tag_numbers(ds, "PixelPaddingValue", "(0028,0120)", path)
    if value is None:
        return None
    limit = tag_numbers(ds, "PixelPaddingRangeLimit", "(0028,0121)", path) or value
    # compared as the pixels are, with the bits above Bits Stored cleared
    ends = [int(v) & bit_mask if bit_mask is not None else int(v) for v in (value[0], limit[0])]
    low, high = min(ends), max(ends)
    padding = (stored == low) if low == high else ((stored >= low) & (stored <= high))
    return padding if padding.any() else None


def _display_inverted(ds: pydicom.Dataset, path: str) -> tuple[bool, str]:
    """Whether the display pipeline shows the lowest value as white, and the Presentation LUT Shape.

    MONOCHROME1 means the minimum is white (PS3.3 C.7.6.3.1.2), and INVERSE means P-Value =
    maximum - value (C.11.6.1.2). In an MG image the shape "accounts for" Photometric
    Interpretation (DX Image Module, C.8.11.3): INVERSE goes with MONOCHROME1 and IDENTITY
    with MONOCHROME2, so a conforming MONOCHROME1 + INVERSE is inverted once, not twice. The
    two non-conforming pairs both read as inverted: INVERSE on MONOCHROME2 inverts the display
    as C.11.6.1.2 says, and IDENTITY on MONOCHROME1 is an identity "other than to account for"
    MONOCHROME1, which still shows the minimum as white.
    """
    photometric = tag_text(ds, "PhotometricInterpretation")
    shape = tag_text(ds, "PresentationLUTShape")
    if shape not in ("", "IDENTITY", "INVERSE"):
        logger.info("%s: Presentation LUT Shape (2050,0020) %s is not IDENTITY or INVERSE; ignored", path, shape)
        shape = ""
    if shape and (shape == "INVERSE") != (photometric == "MONOCHROME1"):
        logger.info("%s: Presentation LUT Shape (2050,0020) %s with %s (C.8.11.3 pairs INVERSE with "
                    "MONOCHROME1); shown with the minimum white", path, shape, photometric)
    return photometric == "MONOCHROME1" or shape == "INVERSE", shape


def _exposure_linear(ds: pydicom.Dataset, path: str) -> bool:
    """Whether stored values grow in proportion to the X-ray intensity (raw detector data).

    Pixel Intensity Relationship (0028,1040) LIN / LOG says so (C.8.11.3.1.2); a LIN image whose
    Sign (0028,1041) is -1 falls as intensity grows, so its log means nothing and it is left
    alone. Without the tag, raw For Processing data are taken as linear when MONOCHROME1 (high
    exposure dark), as the detectors write them.
    """
    relationship = tag_text(ds, "PixelIntensityRelationship")
    if relationship in ("LIN", "LOG"):
        sign = tag_numbers(ds, "PixelIntensityRelationshipSign", "(0028,1041)", path)
        return relationship == "LIN" and not (sign is not None and sign[0] < 0)
    return tag_text(ds, "PhotometricInterpretation") == "MONOCHROME1"


# Decoders to prefer where pydicom has several: for a full-field JPEG-LS mammogram CharLS
# (pyjpegls) takes 0.23 s and libjpeg (pylibjpeg, pydicom's default choice) 0.84 s
_PREFERRED_DECODERS = {JPEGLSLossless: "pyjpegls", JPEGLSNearLossless: "pyjpegls"}


def _prefer_fastest_decoder(ds: pydicom.Dataset) -> None:
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    plugin = _PREFERRED_DECODERS.get(syntax)
    if plugin is not None and plugin in get_decoder(syntax).available_plugins:
        ds.pixel_array_options(decoding_plugin=plugin)


def display_pixels(ds: pydicom.Dataset, path: str, *, log_for_processing: bool) -> tuple[np.ndarray, np.ndarray | None, str]:
    """The PS3.4 N.2 pipeline: stored -> Modality LUT -> VOI LUT -> Presentation LUT, bright = dense."""
    _prefer_fastest_decoder(ds)
    try:
        stored = ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - any decoder failure means the file is unusable
        syntax = ds.file_meta.get("TransferSyntaxUID", "unknown") if hasattr(ds, "file_meta") else "unknown"
        # pydicom names the element it found wrong, e.g. "(0028,0006) 'Planar Configuration'"
        raise DicomError(f"{path}: cannot decode Pixel Data (7FE0,0010) (transfer syntax {syntax}): {exc}",
                         path=path, tag=tag_in_text(str(exc)) or "(7FE0,0010)") from exc
    if stored.ndim != 2:
        raise DicomError(f"{path}: pixel data has shape {stored.shape}, expected 2D", path=path, tag="(7FE0,0010)")
    bits_stored = int(ds.get("BitsStored", stored.dtype.itemsize * 8))
    bit_mask = None
    if int(ds.get("PixelRepresentation", 0)) == 0 and bits_stored < stored.dtype.itemsize * 8:
        # Unused high bits may hold overlays or garbage (PS3.5 8.1.1); pydicom leaves them.
        bit_mask = (1 << bits_stored) - 1
        stored = stored & np.asarray(bit_mask, dtype=stored.dtype)
    padding = _padding(ds, stored, bit_mask, path)
    # float32 throughout: a full-field image is 13.6 Mpixel, and float64 copies double the memory
    identity = "ModalityLUTSequence" not in ds and _float(ds, "RescaleSlope", 1.0) == 1.0 \
        and _float(ds, "RescaleIntercept", 0.0) == 0.0
    if identity:
        # the identity rescale: pydicom would make a float64 copy of the image only to multiply by 1
        values = stored.astype(np.float32)
    else:
        tag = "(0028,3000)" if "ModalityLUTSequence" in ds else "(0028,1053)"
        values = np.asarray(_pydicom_step(apply_modality_lut, stored, ds, path, tag), dtype=np.float32)
    inverted, shape = _display_inverted(ds, path)
    intent = read_intent(ds)
    if intent == "FOR PROCESSING" and log_for_processing and _exposure_linear(ds, path):
        # Raw detector values are linear in exposure; -log(exposure) is linear in attenuation.
        values = np.log1p(np.maximum(values, 0.0))
    elif "WindowCenter" in ds or "VOILUTSequence" in ds:
        windowed = _linear_window(values, ds)
        if windowed is None:
            tag = "(0028,3010)" if "VOILUTSequence" in ds else "(0028,1050)"
            # a VOI LUT indexes by value: give it the integers when the rescale was the identity
            windowed = np.asarray(_pydicom_step(apply_voi_lut, stored if identity else values, ds, path, tag),
                                  dtype=np.float32)
        values = windowed
    # the Presentation LUT step and the scaling to [0, 1] in one pass, padding left out of both
    inside = None if padding is None else ~padding
    low = float(np.min(values, where=inside, initial=np.inf) if inside is not None else values.min())
    high = float(np.max(values, where=inside, initial=-np.inf) if inside is not None else values.max())
    if not high > low:
        where = " outside the padding" if padding is not None else ""
        raise DicomError(f"{path}: the image is blank (all pixels{where} {low})", path=path, tag="(7FE0,0010)")
    if inverted:
        np.subtract(np.float32(high), values, out=values)
    else:
        values -= np.float32(low)
    values /= np.float32(high - low)
    if padding is not None:
        values[padding] = 0.0
    return values, padding, shape


def _pydicom_step(step: Any, values: np.ndarray, ds: pydicom.Dataset, path: str, tag: str) -> np.ndarray:
    """Run a pydicom LUT step; a malformed LUT or window is the file's fault, named by its tag."""
    try:
        return step(values, ds)
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, NotImplementedError) as exc:
        raise DicomError(f"{path}: cannot apply {tag}: {exc}", path=path, tag=tag) from exc
