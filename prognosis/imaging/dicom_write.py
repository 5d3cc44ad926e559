"""Write synthetic mammograms as MG DICOM files (for phantoms and tests, never for patients).

Given an exposure image (photons per pixel), writes either a *For Processing* image (raw,
exposure-linear, 14 bits, as detectors deliver it) or a *For Presentation* image (log-converted,
12 bits, with a VOI window), as MONOCHROME1 or MONOCHROME2, with Pixel Spacing or Imager Pixel
Spacing plus an Estimated Radiographic Magnification Factor, the DX Image Module's Pixel
Intensity Relationship (Sign) and Presentation LUT Shape, optionally padded (Pixel Padding
Value) and compressed (any lossless transfer syntax pydicom can encode).

References
----------
DICOM PS3.3 A.26 (Digital Mammography X-Ray Image IOD), C.8.11.3 (DX Image Module),
C.7.5.1.1.2 (Pixel Padding Value).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (ExplicitVRLittleEndian, DigitalMammographyXRayImageStorageForPresentation,
                         DigitalMammographyXRayImageStorageForProcessing, UID, generate_uid)

logger = logging.getLogger(__name__)


def _base_dataset(sop_class: str, patient_id: str, laterality: str, view: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientID = patient_id
    ds.PatientName = "PHANTOM^" + patient_id
    ds.Modality = "MG"
    ds.ImageLaterality = laterality
    ds.ViewPosition = view
    ds.SeriesDescription = f"{laterality}{view} synthetic phantom"
    ds.SamplesPerPixel = 1
    ds.BitsAllocated = 16
    ds.PixelRepresentation = 0
    return ds


def write_mammogram(path: str | Path, exposure: np.ndarray, *, spacing_mm: float, patient_id: str,
                    laterality: str, view: str, rng: np.random.Generator,
                    intent: str | None = None, photometric: str | None = None,
                    spacing_tag: str | None = None, modality: str = "MG",
                    padding: np.ndarray | None = None, padding_value: int | None = None,
                    transfer_syntax: str = ExplicitVRLittleEndian) -> dict[str, Any]:
    """Write one synthetic mammogram; options left ``None`` are drawn from ``rng``.

    Parameters
    ----------
    padding : ndarray of bool, optional
        Pixels to overwrite with ``padding_value`` and declare as Pixel Padding Value (0028,0120),
        as For Presentation images do outside the collimated field. ``padding_value`` defaults
        to black: the largest stored value on MONOCHROME1, 0 on MONOCHROME2.
    transfer_syntax : str
        A transfer syntax UID; a compressed one is encoded by ``Dataset.compress`` (JPEG-LS
        needs ``pyjpegls``, JPEG 2000 ``pylibjpeg-openjpeg``).

    Returns
    -------
    dict
        The choices made: ``presentation_intent``, ``photometric``, ``spacing_tag``, ``magnification``.
    """
    intent = intent or str(rng.choice(["FOR PROCESSING", "FOR PRESENTATION"]))
    photometric = photometric or str(rng.choice(["MONOCHROME1", "MONOCHROME2"]))
    spacing_tag = spacing_tag or str(rng.choice(["PixelSpacing", "ImagerPixelSpacing"]))
    if intent == "FOR PROCESSING":
        sop = DigitalMammographyXRayImageStorageForProcessing
        raw = exposure / max(float(np.percentile(exposure, 99.9)), 1e-9) * 16000.0
        if photometric == "MONOCHROME1":       # bright display = low exposure = dense
            stored = raw
        else:                                  # MONOCHROME2 raw data stored already log-converted
            stored = -np.log(np.maximum(exposure, 0.5))
            stored = (stored - stored.min()) / max(float(np.ptp(stored)), 1e-9) * 16000.0
        stored = np.clip(np.rint(stored), 0, 16383).astype(np.uint16)
        bits = 14
    else:
        sop = DigitalMammographyXRayImageStorageForPresentation
        density = -np.log(np.maximum(exposure, 0.5))
        low, high = np.percentile(density, [0.5, 99.95])
        display = np.clip((density - low) / max(high - low, 1e-9), 0, 1) * 4000.0
        stored = display if photometric == "MONOCHROME2" else 4000.0 - display
        stored = np.clip(np.rint(stored), 0, 4095).astype(np.uint16)
        bits = 12
    ds = _base_dataset(sop, patient_id, laterality, view)
    ds.Modality = modality
    ds.PresentationIntentType = intent
    ds.PhotometricInterpretation = photometric
    ds.Rows, ds.Columns = stored.shape
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    magnification = 1.0
    if spacing_tag == "PixelSpacing":
        ds.PixelSpacing = [f"{spacing_mm:.6g}", f"{spacing_mm:.6g}"]
    else:
        magnification = float(rng.choice([1.0, 1.08, 1.15]))
        imager = spacing_mm * magnification
        ds.ImagerPixelSpacing = [f"{imager:.6g}", f"{imager:.6g}"]
        ds.EstimatedRadiographicMagnificationFactor = f"{magnification:.6g}"
    # DX Image Module (Type 1): raw MONOCHROME1 data grow with exposure; the others are log data
    # that fall with it (MONOCHROME2) or grow with it (For Presentation MONOCHROME1)
    exposure_linear = intent == "FOR PROCESSING" and photometric == "MONOCHROME1"
    ds.PixelIntensityRelationship = "LIN" if exposure_linear else "LOG"
    ds.PixelIntensityRelationshipSign = 1 if photometric == "MONOCHROME1" else -1
    ds.PresentationLUTShape = "INVERSE" if photometric == "MONOCHROME1" else "IDENTITY"
    if padding is not None:
        if padding_value is None:      # shown black, as devices pad
            padding_value = (1 << bits) - 1 if photometric == "MONOCHROME1" else 0
        stored = np.where(padding, np.uint16(padding_value), stored).astype(np.uint16)
        ds.add_new(0x00280120, "US", padding_value)      # Pixel Padding Value: US as the pixels are
    if intent == "FOR PRESENTATION":
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "0", "1", "US"
        # the window covers the breast; the lead marker and air may clip, as on real images
        ds.WindowCenter, ds.WindowWidth = "2000", "4000"
        ds.VOILUTFunction = "LINEAR"
    ds.PixelData = stored.tobytes()
    if UID(transfer_syntax) != ExplicitVRLittleEndian:
        ds.compress(transfer_syntax)
    ds.save_as(str(path), enforce_file_format=True)
    return {"presentation_intent": intent, "photometric": photometric, "spacing_tag": spacing_tag,
            "magnification": magnification}
