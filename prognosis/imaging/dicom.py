"""Read one mammogram: pixels with bright = dense, the pixel size in mm and the tags we use.

References
----------
DICOM PS3.3 C.8.11.7 (Mammography Image Module), C.7.6.3 (Image Pixel Module),
C.11.2 (VOI LUT Module), C.8.11.4 (DX Detector: Imager Pixel Spacing) and
C.8.11.5 (Estimated Radiographic Magnification Factor).
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
        Intensity in [0, 1]; bright means more attenuating (dense tissue, calcium).
    pixel_spacing_mm : float
        Size of a pixel at the breast (isotropic; the mean of row and column spacing).
    tags : dict
        ``patient_id``, ``laterality`` (L/R), ``view`` (CC/MLO/other), ``presentation_intent``,
        ``photometric``, ``sop_instance_uid``, ``spacing_source`` and ``transfer_syntax``.
    """

    pixels: np.ndarray
    pixel_spacing_mm: float
    tags: dict[str, Any] = field(default_factory=dict)


def _text(ds: pydicom.Dataset, keyword: str) -> str:
    value = ds.get(keyword, "")
    if value is None:
        return ""
    return str(value).strip().upper()


def read_spacing_mm(ds: pydicom.Dataset, *, path: str = "", default_mm: float | None = None) -> tuple[float, str]:
    """Pixel size at the breast in mm, and where it came from.

    Pixel Spacing (0028,0030) is already calibrated to the object; Imager Pixel Spacing
    (0018,1164) is at the detector, so it is divided by the Estimated Radiographic
    Magnification Factor (0018,1114) when present.

    Raises
    ------
    DicomError
        No usable spacing and no ``default_mm``.
    """
    for keyword, tag in (("PixelSpacing", "(0028,0030)"), ("ImagerPixelSpacing", "(0018,1164)")):
        value = ds.get(keyword)
        if value is None or len(value) == 0:
            continue
        try:
            row, col = (float(value[0]), float(value[-1]))
        except (TypeError, ValueError) as exc:
            raise DicomError(f"{path}: {keyword} {tag} is not numeric", path=path, tag=tag) from exc
        if not (row > 0 and col > 0 and np.isfinite(row) and np.isfinite(col)):
            raise DicomError(f"{path}: {keyword} {tag} must be positive", path=path, tag=tag)
        spacing = (row + col) / 2
        if keyword == "ImagerPixelSpacing":
            magnification = ds.get("EstimatedRadiographicMagnificationFactor")
            if magnification is not None and float(magnification) > 0:
                spacing /= float(magnification)
                return spacing, "ImagerPixelSpacing/EstimatedRadiographicMagnificationFactor"
        return spacing, keyword
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


def _check(ds: pydicom.Dataset, path: str) -> None:
    modality = _text(ds, "Modality")
    if modality != "MG":
        raise DicomError(f"{path}: Modality (0008,0060) is {modality or 'missing'!s}, not MG; "
                         "only mammograms are analysed", path=path, tag="(0008,0060)")
    frames = int(ds.get("NumberOfFrames", 1) or 1)
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


def _pixels(ds: pydicom.Dataset, path: str, *, log_for_processing: bool) -> np.ndarray:
    try:
        stored = ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - any decoder failure means the file is unusable
        syntax = ds.file_meta.get("TransferSyntaxUID", "unknown") if hasattr(ds, "file_meta") else "unknown"
        raise DicomError(f"{path}: cannot decode Pixel Data (transfer syntax {syntax}): {exc}",
                         path=path, tag="(7FE0,0010)") from exc
    if stored.ndim != 2:
        raise DicomError(f"{path}: pixel data has shape {stored.shape}, expected 2D", path=path, tag="(7FE0,0010)")
    bits_stored = int(ds.get("BitsStored", stored.dtype.itemsize * 8))
    if int(ds.get("PixelRepresentation", 0)) == 0 and bits_stored < stored.dtype.itemsize * 8:
        # Unused high bits may hold overlays or garbage (PS3.5 8.1.1); pydicom leaves them.
        stored = stored & np.asarray((1 << bits_stored) - 1, dtype=stored.dtype)
    # float32 throughout: a full-field image is 13.6 Mpixel, and float64 copies double the memory
    if "ModalityLUTSequence" not in ds and _float(ds, "RescaleSlope", 1.0) == 1.0 \
            and _float(ds, "RescaleIntercept", 0.0) == 0.0:
        # the identity rescale: pydicom would make a float64 copy of the image only to multiply by 1
        values = stored.astype(np.float32)
    else:
        values = np.asarray(apply_modality_lut(stored, ds), dtype=np.float32)
    photometric = _text(ds, "PhotometricInterpretation")
    intent = _text(ds, "PresentationIntentType")
    if intent == "FOR PROCESSING" and photometric == "MONOCHROME1" and log_for_processing:
        # Raw detector values are linear in exposure; -log(exposure) is linear in attenuation.
        values = np.log1p(np.maximum(values, 0.0))
    elif "WindowCenter" in ds or "VOILUTSequence" in ds:
        windowed = _linear_window(values, ds)
        values = windowed if windowed is not None else np.asarray(apply_voi_lut(values, ds), dtype=np.float32)
    if photometric == "MONOCHROME1":
        values = np.float32(values.max()) - values
    low, high = float(values.min()), float(values.max())
    if high <= low:
        raise DicomError(f"{path}: the image is blank (all pixels {low})", path=path, tag="(7FE0,0010)")
    values -= low
    values /= np.float32(high - low)
    return values


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
        Take the log of For Processing MONOCHROME1 images (raw, exposure-linear values).

    Returns
    -------
    Image
        Pixels in [0, 1] with bright = dense: Rescale (Modality LUT) applied, then the VOI LUT or
        window as the header says, then MONOCHROME1 inverted; BitsStored honoured.

    Raises
    ------
    DicomError
        Not DICOM, corrupt, not MG, multi-frame, not monochrome, undecodable, or no spacing.
    """
    path = str(path)
    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, EOFError, OSError, ValueError, KeyError, TypeError) as exc:
        raise DicomError(f"{path}: not a readable DICOM file ({type(exc).__name__}: {exc})", path=path) from exc
    _check(ds, path)
    spacing_mm, source = read_spacing_mm(ds, path=path, default_mm=default_pixel_spacing_mm)
    pixels = _pixels(ds, path, log_for_processing=log_for_processing)
    tags = {
        "patient_id": str(ds.get("PatientID", "") or ""),
        "laterality": read_laterality(ds),
        "view": read_view(ds),
        "presentation_intent": _text(ds, "PresentationIntentType"),
        "photometric": _text(ds, "PhotometricInterpretation"),
        "sop_instance_uid": str(ds.get("SOPInstanceUID", "") or ""),
        "spacing_source": source,
        "transfer_syntax": str(ds.file_meta.get("TransferSyntaxUID", "")),
    }
    logger.debug("read %s: %s, %.3f mm (%s)", path, pixels.shape, spacing_mm, source)
    return Image(pixels=pixels, pixel_spacing_mm=float(spacing_mm), tags=tags)
