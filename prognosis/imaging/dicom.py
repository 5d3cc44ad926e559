"""Read one mammogram: pixels with bright = dense, the pixel size in mm and the tags we use.

References
----------
DICOM PS3.3 C.8.11.7 (Mammography Image Module), C.8.11.3 (DX Image Module: Pixel Intensity
Relationship, Presentation LUT Shape), C.7.6.3 (Image Pixel Module), C.7.5.1.1.2 (Pixel Padding
Value and Range Limit), C.11.1 (Modality LUT), C.11.2 (VOI LUT), C.11.6.1.2 (Presentation LUT
Shape INVERSE), 10.7.1 (Pixel Spacing calibration), C.8.11.4 (DX Detector: Imager Pixel Spacing)
and C.8.11.5 (Estimated Radiographic Magnification Factor); PS3.4 N.2 (the grayscale pipeline).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from pydicom.uid import (DigitalMammographyXRayImageStorageForPresentation,
                         DigitalMammographyXRayImageStorageForProcessing)

from prognosis.errors import DicomError

logger = logging.getLogger(__name__)

VIEWS = ("CC", "MLO")
# View Position values that mean CC or MLO (DICOM CID 4014 uses "CC", "MLO"; older files
# carry extensions such as "XCCL" or free text in View Code Sequence).
_VIEW_ALIASES = {"CC": "CC", "XCCL": "CC", "XCCM": "CC", "FB": "CC", "MLO": "MLO", "ML": "MLO",
                 "LM": "MLO", "LMO": "MLO", "SIO": "MLO"}


@dataclass(frozen=True)
class Image:
    """A mammogram ready for analysis.

    Attributes
    ----------
    pixels : ndarray of float32, shape (rows, columns)
        Intensity in [0, 1]; bright means more attenuating (dense tissue, calcium). Padding
        pixels are 0, the darkest value, and take no part in the scaling to [0, 1].
    pixel_spacing_mm : float
        Size of a pixel at the breast (isotropic; the mean of row and column spacing).
    tags : dict
        ``patient_id``, ``laterality`` (L/R), ``view`` (CC/MLO/other), ``presentation_intent``,
        ``photometric``, ``presentation_lut_shape``, ``sop_instance_uid``, ``spacing_source``,
        ``transfer_syntax`` and ``n_padding`` (pixels marked as padding).
    padding : ndarray of bool or None
        Pixels that Pixel Padding Value (0028,0120) / Range Limit (0028,0121) mark as padding
        (no image there, e.g. outside the collimated field); None when no pixel is.
    """

    pixels: np.ndarray
    pixel_spacing_mm: float
    tags: dict[str, Any] = field(default_factory=dict)
    padding: np.ndarray | None = None


def _text(ds: pydicom.Dataset, keyword: str) -> str:
    value = ds.get(keyword, "")
    if value is None:
        return ""
    return str(value).strip().upper()


def _numbers(ds: pydicom.Dataset, keyword: str, tag: str, path: str) -> list[float] | None:
    """The values of a numeric tag (None if absent or empty); DicomError if any is not a finite number."""
    value = ds.get(keyword)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    values = list(value) if isinstance(value, pydicom.multival.MultiValue) else [value]
    if not values:
        return None
    try:
        numbers = [float(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise DicomError(f"{path}: {keyword} {tag} is not numeric", path=path, tag=tag) from exc
    if not all(np.isfinite(numbers)):
        raise DicomError(f"{path}: {keyword} {tag} is not finite", path=path, tag=tag)
    return numbers


def read_spacing_mm(ds: pydicom.Dataset, *, path: str = "", default_mm: float | None = None) -> tuple[float, str]:
    """Pixel size at the breast in mm, and where it came from.

    Imager Pixel Spacing (0018,1164) is at the detector, so it is divided by the Estimated
    Radiographic Magnification Factor (0018,1114) when present. Pixel Spacing (0028,0030) is
    calibrated to the object, except when it equals Imager Pixel Spacing and no Pixel Spacing
    Calibration Type (0028,0A02) is given: PS3.3 10.7.1.1 says such a Pixel Spacing was not
    corrected for magnification, so it is divided by the factor as well.

    Raises
    ------
    DicomError
        No usable spacing and no ``default_mm``.
    """
    pairs = {}
    for keyword, tag in (("PixelSpacing", "(0028,0030)"), ("ImagerPixelSpacing", "(0018,1164)")):
        values = _numbers(ds, keyword, tag, path)
        if values is not None:
            if not all(v > 0 for v in values):
                raise DicomError(f"{path}: {keyword} {tag} must be positive", path=path, tag=tag)
            pairs[keyword] = (values[0], values[-1])
            if abs(values[0] - values[-1]) > 0.01 * max(values):
                # the analysis resamples to square pixels of the mean size: lengths err by up to half the gap
                logger.warning("%s: %s %s is not square (%s); the mean is used", path, keyword, tag, values)
    magnification = _numbers(ds, "EstimatedRadiographicMagnificationFactor", "(0018,1114)", path)
    magnification = magnification[0] if magnification and magnification[0] > 0 else None
    if "PixelSpacing" in pairs:
        pixel, imager = pairs["PixelSpacing"], pairs.get("ImagerPixelSpacing")
        at_detector = (imager is not None and np.allclose(pixel, imager, rtol=1e-6, atol=0)
                       and not _text(ds, "PixelSpacingCalibrationType"))
        if at_detector and magnification is not None:
            return sum(pixel) / 2 / magnification, "PixelSpacing/EstimatedRadiographicMagnificationFactor"
        return sum(pixel) / 2, "PixelSpacing"
    if "ImagerPixelSpacing" in pairs:
        spacing = sum(pairs["ImagerPixelSpacing"]) / 2
        if magnification is not None:
            return spacing / magnification, "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor"
        return spacing, "ImagerPixelSpacing"
    if default_mm is not None:
        return float(default_mm), "default"
    raise DicomError(f"{path}: no Pixel Spacing (0028,0030) or Imager Pixel Spacing (0018,1164); "
                     "pass a default pixel spacing to accept it", path=path, tag="(0028,0030)")


def read_laterality(ds: pydicom.Dataset) -> str:
    """L or R from Image Laterality, then Laterality, then the Frame/Series text; "" if unknown."""
    for keyword in ("ImageLaterality", "Laterality"):
        value = _text(ds, keyword)
        if value in ("L", "R"):
            return value
    for keyword in ("SeriesDescription", "ProtocolName", "ViewPosition"):
        words = _text(ds, keyword).replace("_", " ").split()
        for word in words:
            if word in ("L", "LEFT") or word in ("LCC", "LMLO"):
                return "L"
            if word in ("R", "RIGHT") or word in ("RCC", "RMLO"):
                return "R"
    return ""


def read_view(ds: pydicom.Dataset) -> str:
    """CC or MLO from View Position, then View Code Sequence, then the series text; else as found."""
    value = _text(ds, "ViewPosition")
    if value in _VIEW_ALIASES:
        return _VIEW_ALIASES[value]
    codes = ds.get("ViewCodeSequence")
    if codes:
        meaning = str(codes[0].get("CodeMeaning", "")).upper()
        if "CRANIO" in meaning:
            return "CC"
        if "OBLIQUE" in meaning or "MEDIO-LATERAL" in meaning or "MEDIOLATERAL" in meaning:
            return "MLO"
    for keyword in ("SeriesDescription", "ProtocolName"):
        for word in _text(ds, keyword).replace("_", " ").split():
            word = word.lstrip("LR") if word not in _VIEW_ALIASES else word
            if word in _VIEW_ALIASES:
                return _VIEW_ALIASES[word]
    return value or ""


# numeric tags of the grayscale pipeline: a malformed one must fail as a DicomError naming it
_NUMERIC_TAGS = (("NumberOfFrames", "(0028,0008)"), ("RescaleSlope", "(0028,1053)"),
                 ("RescaleIntercept", "(0028,1052)"), ("WindowCenter", "(0028,1050)"),
                 ("WindowWidth", "(0028,1051)"), ("PixelPaddingValue", "(0028,0120)"),
                 ("PixelPaddingRangeLimit", "(0028,0121)"), ("PixelIntensityRelationshipSign", "(0028,1041)"))


def _check(ds: pydicom.Dataset, path: str) -> None:
    modality = _text(ds, "Modality")
    if modality != "MG":
        raise DicomError(f"{path}: Modality (0008,0060) is {modality or 'missing'!s}, not MG; "
                         "only mammograms are analysed", path=path, tag="(0008,0060)")
    for keyword, tag in _NUMERIC_TAGS:
        _numbers(ds, keyword, tag, path)
    frames = int((_numbers(ds, "NumberOfFrames", "(0028,0008)", path) or [1])[0]) or 1
    if frames != 1:
        raise DicomError(f"{path}: {frames} frames (0028,0008); only single-frame 2D mammograms are "
                         "analysed (tomosynthesis is not supported)", path=path, tag="(0028,0008)")
    if "PixelData" not in ds:
        raise DicomError(f"{path}: no Pixel Data (7FE0,0010)", path=path, tag="(7FE0,0010)")
    photometric = _text(ds, "PhotometricInterpretation")
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise DicomError(f"{path}: Photometric Interpretation (0028,0004) {photometric or 'missing'} is "
                         "not MONOCHROME1/2", path=path, tag="(0028,0004)")


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
    function = _text(ds, "VOILUTFunction") or "LINEAR"
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
    value = _numbers(ds, "PixelPaddingValue", "(0028,0120)", path)
    if value is None:
        return None
    limit = _numbers(ds, "PixelPaddingRangeLimit", "(0028,0121)", path) or value
    # compared as the pixels are, with the bits above Bits Stored cleared
    ends = [int(v) & bit_mask if bit_mask is not None else int(v) for v in (value[0], limit[0])]
    low, high = min(ends), max(ends)
    padding = (stored == low) if low == high else ((stored >= low) & (stored <= high))
    return padding if padding.any() else None


def read_intent(ds: pydicom.Dataset) -> str:
    """FOR PROCESSING / FOR PRESENTATION from Presentation Intent Type, else from the SOP Class."""
    intent = _text(ds, "PresentationIntentType")
    if intent in ("FOR PROCESSING", "FOR PRESENTATION"):
        return intent
    return {DigitalMammographyXRayImageStorageForProcessing: "FOR PROCESSING",
            DigitalMammographyXRayImageStorageForPresentation: "FOR PRESENTATION"}.get(
        str(ds.get("SOPClassUID", "")), intent)


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
    photometric = _text(ds, "PhotometricInterpretation")
    shape = _text(ds, "PresentationLUTShape")
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
    relationship = _text(ds, "PixelIntensityRelationship")
    if relationship in ("LIN", "LOG"):
        sign = _numbers(ds, "PixelIntensityRelationshipSign", "(0028,1041)", path)
        return relationship == "LIN" and not (sign is not None and sign[0] < 0)
    return _text(ds, "PhotometricInterpretation") == "MONOCHROME1"


def _pixels(ds: pydicom.Dataset, path: str, *, log_for_processing: bool) -> tuple[np.ndarray, np.ndarray | None, str]:
    """The PS3.4 N.2 pipeline: stored -> Modality LUT -> VOI LUT -> Presentation LUT, bright = dense."""
    try:
        stored = ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - any decoder failure means the file is unusable
        syntax = ds.file_meta.get("TransferSyntaxUID", "unknown") if hasattr(ds, "file_meta") else "unknown"
        raise DicomError(f"{path}: cannot decode Pixel Data (transfer syntax {syntax}): {exc}",
                         path=path, tag="(7FE0,0010)") from exc
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


def read_mammogram(path: str | Path, *, default_pixel_spacing_mm: float | None = None,
                   log_for_processing: bool = True) -> Image:
    """Read one 2D mammogram.

    Parameters
    ----------
    path : str or Path
        A DICOM file (any transfer syntax pydicom or the pylibjpeg plugins decode: JPEG,
        JPEG-LS, JPEG 2000, RLE).
    default_pixel_spacing_mm : float, optional
        Pixel size to assume when the header gives none; otherwise such files are rejected.
    log_for_processing : bool
        Take the log of For Processing images whose values are linear in exposure (Pixel
        Intensity Relationship LIN; MONOCHROME1 when that tag is absent), instead of a VOI step.

    Returns
    -------
    Image
        Pixels in [0, 1] with bright = dense, following the display pipeline of PS3.4 N.2: bits
        above Bits Stored cleared, Rescale or Modality LUT, then the VOI LUT or window as the
        header says, then the Presentation LUT (MONOCHROME1 or Presentation LUT Shape INVERSE:
        the minimum is white), scaled to [0, 1] over the pixels that are not padding.

    Raises
    ------
    DicomError
        Not DICOM, corrupt, not MG, multi-frame, not monochrome, undecodable, a malformed
        numeric tag or LUT, blank, or no spacing; ``tag`` names the tag at fault.
    """
    path = str(path)
    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError) as exc:
        raise DicomError(f"{path}: not a readable DICOM file ({type(exc).__name__}: {exc})", path=path) from exc
    _check(ds, path)
    spacing_mm, source = read_spacing_mm(ds, path=path, default_mm=default_pixel_spacing_mm)
    pixels, padding, shape = _pixels(ds, path, log_for_processing=log_for_processing)
    tags = {
        "patient_id": str(ds.get("PatientID", "") or ""),
        "laterality": read_laterality(ds),
        "view": read_view(ds),
        "presentation_intent": read_intent(ds),
        "photometric": _text(ds, "PhotometricInterpretation"),
        "presentation_lut_shape": shape,
        "sop_instance_uid": str(ds.get("SOPInstanceUID", "") or ""),
        "spacing_source": source,
        "transfer_syntax": str(ds.file_meta.get("TransferSyntaxUID", "")),
        "n_padding": int(padding.sum()) if padding is not None else 0,
    }
    logger.debug("read %s: %s, %.3f mm (%s)", path, pixels.shape, spacing_mm, source)
    return Image(pixels=pixels, pixel_spacing_mm=float(spacing_mm), tags=tags, padding=padding)
