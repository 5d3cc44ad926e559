"""Read one mammogram: pixels with bright = dense, the pixel size in mm and the tags we use.

The header readers are in :mod:`prognosis.imaging.dicom_tags`, the grayscale pipeline in
:mod:`prognosis.imaging.grayscale`.

References
----------
DICOM PS3.3 C.8.11.7 (Mammography Image Module), C.7.6.3 (Image Pixel Module); PS3.4 N.2.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from prognosis.errors import DicomError
from prognosis.imaging.dicom_checks import check_pixel_module, check_used_elements, tag_in_text, where_cut_short
from prognosis.imaging.dicom_tags import (VIEWS, read_intent, read_laterality, read_spacing_mm, read_view,
                                          tag_numbers, tag_text)
from prognosis.imaging.grayscale import display_pixels

__all__ = ["VIEWS", "Image", "read_intent", "read_laterality", "read_mammogram", "read_spacing_mm", "read_view"]

logger = logging.getLogger(__name__)


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


# numeric tags of the grayscale pipeline: a malformed one must fail as a DicomError naming it
_NUMERIC_TAGS = (("NumberOfFrames", "(0028,0008)"), ("RescaleSlope", "(0028,1053)"),
                 ("RescaleIntercept", "(0028,1052)"), ("WindowCenter", "(0028,1050)"),
                 ("WindowWidth", "(0028,1051)"), ("PixelPaddingValue", "(0028,0120)"),
                 ("PixelPaddingRangeLimit", "(0028,0121)"), ("PixelIntensityRelationshipSign", "(0028,1041)"))


def _check(ds: pydicom.Dataset, path: str) -> None:
    modality = tag_text(ds, "Modality")
    if modality != "MG":
        raise DicomError(f"{path}: Modality (0008,0060) is {modality or 'missing'!s}, not MG; "
                         "only mammograms are analysed", path=path, tag="(0008,0060)")
    for keyword, tag in _NUMERIC_TAGS:
        tag_numbers(ds, keyword, tag, path)
    # 0 is read as 1, as before: some writers put 0 in a single-frame image
    frames = (tag_numbers(ds, "NumberOfFrames", "(0028,0008)", path) or [1])[0] or 1
    if frames < 1 or not float(frames).is_integer():
        raise DicomError(f"{path}: Number of Frames (0028,0008) is {frames:g}; it must be a whole number from 1",
                         path=path, tag="(0028,0008)")
    if frames != 1:
        raise DicomError(f"{path}: {frames:.0f} frames (0028,0008); only single-frame 2D mammograms are "
                         "analysed (tomosynthesis is not supported)", path=path, tag="(0028,0008)")
    if "PixelData" not in ds:
        raise DicomError(f"{path}: no Pixel Data (7FE0,0010)", path=path, tag="(7FE0,0010)")
    photometric = tag_text(ds, "PhotometricInterpretation")
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise DicomError(f"{path}: Photometric Interpretation (0028,0004) {photometric or 'missing'} is "
                         "not MONOCHROME1/2", path=path, tag="(0028,0004)")


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
        Not DICOM, empty, cut short (``tag`` is the element the file ends inside), a header
        element that cannot be decoded, not MG, multi-frame, not monochrome, an Image Pixel
        Module out of range (Samples per Pixel, Bits Allocated/Stored, Rows/Columns beyond
        :data:`~prognosis.imaging.dicom_checks.MAX_SIDE_PIXELS`, ``MAX_PIXELS`` or
        ``MAX_ASPECT_RATIO``), undecodable, a malformed numeric tag or LUT, blank, or no
        spacing; ``tag`` names the tag at fault (None for a file that is not DICOM at all).
        Nothing else: whatever pydicom or numpy raise on a broken file becomes a DicomError.
    """
    path = str(path)
    try:
        return _read(path, default_pixel_spacing_mm=default_pixel_spacing_mm, log_for_processing=log_for_processing)
    except DicomError as exc:
        raise _cut_short(path, exc) or exc
    except Exception as exc:   # noqa: BLE001 - an untrusted file: whatever pydicom or numpy raises is its fault
        cut = _cut_short(path, exc)
        if cut is not None:
            raise cut from exc
        tag = tag_in_text(str(exc))
        raise DicomError(f"{path}: cannot be read ({type(exc).__name__}{f' at {tag}' if tag else ''}); the file is "
                         "corrupt or not a DICOM image", path=path, tag=tag) from exc


def _cut_short(path: str, exc: Exception) -> DicomError | None:
    """A DicomError naming where the file was cut, if it was (the cause of ``exc`` then), else None."""
    try:
        where = where_cut_short(path)
    except OSError:
        return None
    if where is None:
        return None
    tag, keyword = where
    # (0002,0000) is the group length that the File Meta Information falls short of
    element = "its File Meta Information, group length" if tag == "(0002,0000)" else keyword
    error = DicomError(f"{path}: the file is cut short inside {element} {tag} (its header promises more bytes "
                       "than the file holds); copy it again from the source", path=path, tag=tag)
    error.__cause__ = exc
    return error


def _read(path: str, *, default_pixel_spacing_mm: float | None, log_for_processing: bool) -> Image:
    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError as exc:
        what = "is empty" if os.path.getsize(path) == 0 else "has no DICOM File Meta Information ('DICM' at byte 128)"
        raise DicomError(f"{path}: not a DICOM file: it {what}", path=path) from exc
    except OSError as exc:
        raise DicomError(f"{path}: cannot be opened ({type(exc).__name__}: {exc.strerror or exc})", path=path) from exc
    except EOFError as exc:
        raise DicomError(f"{path}: not a readable DICOM file (it ends too early: {exc})", path=path) from exc
    check_used_elements(ds, path)
    _check(ds, path)
    check_pixel_module(ds, path)
    spacing_mm, source = read_spacing_mm(ds, path=path, default_mm=default_pixel_spacing_mm)
    pixels, padding, shape = display_pixels(ds, path, log_for_processing=log_for_processing)
    tags = {
        "patient_id": str(ds.get("PatientID", "") or ""),
        "laterality": read_laterality(ds),
        "view": read_view(ds),
        "presentation_intent": read_intent(ds),
        "photometric": tag_text(ds, "PhotometricInterpretation"),
        "presentation_lut_shape": shape,
        "sop_instance_uid": str(ds.get("SOPInstanceUID", "") or ""),
        "spacing_source": source,
        "transfer_syntax": str(ds.file_meta.get("TransferSyntaxUID", "")),
        "n_padding": int(padding.sum()) if padding is not None else 0,
    }
    logger.debug("read %s: %s, %.3f mm (%s)", path, pixels.shape, spacing_mm, source)
    return Image(pixels=pixels, pixel_spacing_mm=float(spacing_mm), tags=tags, padding=padding)
