"""Header readers of a mammogram: pixel size, laterality, view and presentation intent.

References
----------
DICOM PS3.3 C.8.11.7 (Mammography Image Module), 10.7.1 (Pixel Spacing calibration), C.8.11.4
(DX Detector: Imager Pixel Spacing), C.8.11.5 (Estimated Radiographic Magnification Factor).
"""

from __future__ import annotations

import logging

import numpy as np
import pydicom
from pydicom.uid import (DigitalMammographyXRayImageStorageForPresentation,
                         DigitalMammographyXRayImageStorageForProcessing)

from prognosis.errors import DicomError

logger = logging.getLogger(__name__)

VIEWS = ("CC", "MLO")
# View Position values that mean CC or MLO (DICOM CID 4014 uses "CC", "MLO"; older files
# carry extensions such as "XCCL" or free text in View Code Sequence).
_VIEW_ALIASES = {"CC": "CC", "XCCL": "CC", "XCCM": "CC", "FB": "CC", "MLO": "MLO", "ML": "MLO",
                 "LM": "MLO", "LMO": "MLO", "SIO": "MLO"}


def tag_text(ds: pydicom.Dataset, keyword: str) -> str:
    """A text tag, stripped and upper-case ("" if absent)."""
    value = ds.get(keyword, "")
    if value is None:
        return ""
    return str(value).strip().upper()


def tag_numbers(ds: pydicom.Dataset, keyword: str, tag: str, path: str) -> list[float] | None:
    """The values of a numeric tag (None if absent or empty); DicomError if any is not a finite number."""
    try:
        value = ds.get(keyword)
    except Exception as exc:   # noqa: BLE001 - pydicom decodes on access: an IS of "inf" raises OverflowError
        raise DicomError(f"{path}: {keyword} {tag} cannot be decoded ({type(exc).__name__})", path=path,
                         tag=tag) from exc
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    values = list(value) if isinstance(value, pydicom.multival.MultiValue) else [value]
    if not values:
        return None
    try:
        numbers = [float(v) for v in values]
    except (TypeError, ValueError, OverflowError) as exc:
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
        values = tag_numbers(ds, keyword, tag, path)
        if values is not None:
            if not all(v > 0 for v in values):
                raise DicomError(f"{path}: {keyword} {tag} must be positive", path=path, tag=tag)
            pairs[keyword] = (values[0], values[-1])
            if abs(values[0] - values[-1]) > 0.01 * max(values):
                # the analysis resamples to square pixels of the mean size: lengths err by up to half the gap
                logger.warning("%s: %s %s is not square (%s); the mean is used", path, keyword, tag, values)
    magnification = tag_numbers(ds, "EstimatedRadiographicMagnificationFactor", "(0018,1114)", path)
    magnification = magnification[0] if magnification and magnification[0] > 0 else None
    if "PixelSpacing" in pairs:
        pixel, imager = pairs["PixelSpacing"], pairs.get("ImagerPixelSpacing")
        at_detector = (imager is not None and np.allclose(pixel, imager, rtol=1e-6, atol=0)
                       and not tag_text(ds, "PixelSpacingCalibrationType"))
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
        value = tag_text(ds, keyword)
        if value in ("L", "R"):
            return value
    for keyword in ("SeriesDescription", "ProtocolName", "ViewPosition"):
        words = tag_text(ds, keyword).replace("_", " ").split()
        for word in words:
            if word in ("L", "LEFT") or word in ("LCC", "LMLO"):
                return "L"
            if word in ("R", "RIGHT") or word in ("RCC", "RMLO"):
                return "R"
    return ""


def read_view(ds: pydicom.Dataset) -> str:
    """CC or MLO from View Position, then View Code Sequence, then the series text; else as found."""
    value = tag_text(ds, "ViewPosition")
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
        for word in tag_text(ds, keyword).replace("_", " ").split():
            word = word.lstrip("LR") if word not in _VIEW_ALIASES else word
            if word in _VIEW_ALIASES:
                return _VIEW_ALIASES[word]
    return value or ""


def read_intent(ds: pydicom.Dataset) -> str:
    """FOR PROCESSING / FOR PRESENTATION from Presentation Intent Type, else from the SOP Class."""
    intent = tag_text(ds, "PresentationIntentType")
    if intent in ("FOR PROCESSING", "FOR PRESENTATION"):
        return intent
    return {DigitalMammographyXRayImageStorageForProcessing: "FOR PROCESSING",
            DigitalMammographyXRayImageStorageForPresentation: "FOR PRESENTATION"}.get(
        str(ds.get("SOPClassUID", "")), intent)
