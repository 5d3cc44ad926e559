"""Digitised screen-film mammograms (PGM/PNG-like grey arrays) as extractor :class:`~prognosis.imaging.dicom.Image`.

Digitised film is not DICOM, or is DICOM without the mammography header (CBIS-DDSM: Secondary
Capture, no Pixel Spacing, the view only in Patient Orientation). Its grey values are the
scanner's own optical-density scale, already a presentation image: bright means dense. So the
mapping is the For Presentation one with no VOI window to apply: the stored grey ``g`` of an image
of maximum value ``maxval`` becomes ``g / maxval`` in [0, 1], bright = dense, nothing inverted and
no log (the film already took the log of exposure; the scanner is close to linear in optical
density). The pixel size is not in the file and must be given (mini-MIAS: 0.2 mm, documented;
CBIS-DDSM: 0.042-0.050 mm by scanner, not recorded, 0.05 assumed). Laterality and view come from
the caller (mini-MIAS: even number left, odd right, all MLO).

:func:`analyse_film` runs the extractor's in-memory path (:func:`prognosis.imaging.extract.analyse`)
on such an image, so films are analysed where they are, without writing a copy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from prognosis.errors import DicomError
from prognosis.imaging.dicom import Image, read_mammogram
from prognosis.imaging.extract import Analysis, analyse
from prognosis.imaging.params import ExtractionParameters

__all__ = ["analyse_film", "film_image", "read_film", "read_pgm"]


def _pgm_tokens(data: bytes, count: int, path: str) -> tuple[list[int], int]:
    """The first ``count`` whitespace-separated header integers of a PGM and where the raster starts."""
    tokens, pos = [], 2
    while len(tokens) < count:
        while pos < len(data) and data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":      # a comment runs to the end of the line
            pos = data.find(b"\n", pos) + 1 or len(data)
            continue
        start = pos
        while pos < len(data) and data[pos:pos + 1].isdigit():
            pos += 1
        if start == pos:
            raise DicomError(f"{path}: PGM header is malformed (expected width, height and maxval)", path=path)
        tokens.append(int(data[start:pos]))
    return tokens, pos + 1     # one whitespace byte separates the header from a binary raster


def read_pgm(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a binary (P5) or plain (P2) PGM image.

    Parameters
    ----------
    path : str or Path
        The file.

    Returns
    -------
    pixels : ndarray of uint8 or uint16, shape (height, width)
        The stored grey values, first row at the top (as PGM stores them).
    maxval : int
        The header's maximum grey value (255 for 8-bit films).

    Raises
    ------
    DicomError
        Not a PGM, a malformed header, or fewer raster bytes than the header promises (``tag`` is None:
        the file has no DICOM tags; DicomError is what the extractor counts as an unreadable image).
    """
    path = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DicomError(f"{path}: cannot be opened ({exc.strerror or exc})", path=path) from exc
    magic = data[:2]
    if magic not in (b"P5", b"P2"):
        raise DicomError(f"{path}: not a PGM image (starts with {magic!r}, not P5 or P2)", path=path)
    (width, height, maxval), start = _pgm_tokens(data, 3, path)
    if width < 1 or height < 1 or not 0 < maxval < 65536:
        raise DicomError(f"{path}: PGM header gives {width} x {height}, maxval {maxval}; expected a positive size "
                         "and maxval 1..65535", path=path)
    if magic == b"P2":
        values = np.array(data[start - 1:].split(), dtype=np.int64)
    else:
        # 16-bit binary PGM is big-endian (netpbm)
        dtype = np.dtype(np.uint8) if maxval < 256 else np.dtype(">u2")
        values = np.frombuffer(data, dtype=dtype, count=min(width * height, (len(data) - start) // dtype.itemsize),
                               offset=start)
    if values.size < width * height:
        raise DicomError(f"{path}: PGM raster holds {values.size} of {width * height} pixels; the file is cut short",
                         path=path)
    pixels = values[:width * height].reshape(height, width)
    return pixels.astype(np.uint8 if maxval < 256 else np.uint16, copy=False), int(maxval)


def film_image(grey: np.ndarray, spacing_mm: float, *, maxval: float | None = None, laterality: str = "",
               view: str = "", patient_id: str = "") -> Image:
    """Wrap a digitised film's grey array and pixel size as the extractor's :class:`Image`.

    Parameters
    ----------
    grey : ndarray, shape (rows, columns)
        Stored grey values, bright = dense (the scanner's optical-density scale).
    spacing_mm : float
        Pixel size at the film, in mm.
    maxval : float, optional
        The grey scale's maximum (a PGM's maxval); default: the array's maximum.
    laterality, view, patient_id : str
        ``L``/``R``, ``CC``/``MLO`` and an identifier, as the source documents them.

    Returns
    -------
    Image
        ``pixels`` = ``grey / maxval`` as float32 in [0, 1]; ``spacing_source`` ``"given"``,
        ``presentation_intent`` ``"FOR PRESENTATION"`` (film is a presentation image).
    """
    grey = np.asarray(grey)
    if grey.ndim != 2 or grey.size == 0:
        raise DicomError(f"film {patient_id or '(unnamed)'}: expected a 2-D grey image, got shape {grey.shape}")
    if not spacing_mm > 0:
        raise DicomError(f"film {patient_id or '(unnamed)'}: pixel spacing must be positive, got {spacing_mm}")
    top = float(maxval) if maxval is not None else float(grey.max())
    pixels = (grey.astype(np.float32) / np.float32(top if top > 0 else 1.0)).clip(0, 1)
    tags = {"patient_id": patient_id, "laterality": laterality, "view": view,
            "presentation_intent": "FOR PRESENTATION", "photometric": "MONOCHROME2", "presentation_lut_shape": "",
            "sop_instance_uid": "", "spacing_source": "given", "transfer_syntax": "", "n_padding": 0}
    return Image(pixels=pixels, pixel_spacing_mm=float(spacing_mm), tags=tags, padding=None)


def read_film(path: str | Path, spacing_mm: float, *, laterality: str = "", view: str = "") -> Image:
    """Read a digitised film, a PGM or a DICOM without mammography header, as an :class:`Image`.

    Parameters
    ----------
    path : str or Path
        ``.pgm`` (mini-MIAS) or DICOM (CBIS-DDSM full-field ``.dcm``).
    spacing_mm : float
        Pixel size in mm, used when the file gives none (a PGM never does).
    laterality, view : str
        Fill the header's gaps: a PGM has neither, a CBIS-DDSM DICOM has its view only in Patient
        Orientation, which the DICOM reader does not use.

    Returns
    -------
    Image
    """
    path = Path(path)
    if path.suffix.lower() == ".pgm":
        grey, maxval = read_pgm(path)
        return film_image(grey, spacing_mm, maxval=maxval, laterality=laterality, view=view, patient_id=path.stem)
    image = read_mammogram(path, default_pixel_spacing_mm=spacing_mm)
    tags = dict(image.tags)
    tags["laterality"] = tags["laterality"] or laterality
    tags["view"] = tags["view"] if tags["view"] in ("CC", "MLO") else view
    return Image(pixels=image.pixels, pixel_spacing_mm=image.pixel_spacing_mm, tags=tags, padding=image.padding)


def analyse_film(image: Image, params: ExtractionParameters = ExtractionParameters()
                 ) -> tuple[Analysis, pd.DataFrame, pd.DataFrame, dict]:
    """Run the extractor on a film in memory (resampled to ``params.working_spacing_mm``).

    Returns
    -------
    analysis, calcifications, clusters, summary
        As :func:`prognosis.imaging.extract.analyse`: ``summary["calcification_class"]`` is the
        view's call; cluster centres ``x_mm``, ``y_mm`` are from the image's top-left corner.
    """
    return analyse(image.pixels, image.pixel_spacing_mm, image.tags.get("view", ""), params)
