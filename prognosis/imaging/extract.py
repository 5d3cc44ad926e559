"""One image from file to tables: read, breast region, detection, features, clusters, classes.

:func:`extract_image` never raises for a bad file: it returns a result whose ``status`` is
``failed`` with the error and the DICOM tag at fault, so that a batch counts it and moves on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from prognosis.errors import DicomError
from prognosis.imaging.classify import classify_clusters, summarize_view
from prognosis.imaging.clusters import find_clusters
from prognosis.imaging.learned import classify_with_model
from prognosis.imaging.detect import Detection, detect_candidates
from prognosis.imaging.filters import resample_to_spacing
from prognosis.imaging.dicom import read_mammogram
from prognosis.imaging.features import measure_calcifications
from prognosis.imaging.params import ExtractionParameters
from prognosis.imaging.reader_messages import captured_messages
from prognosis.imaging.region import BreastRegion, find_breast

logger = logging.getLogger(__name__)

IMAGE_COLUMNS = ("file", "status", "error", "error_tag", "patient_id", "laterality", "laterality_source", "view",
                 "presentation_intent", "photometric", "presentation_lut_shape", "n_padding", "pixel_spacing_mm", "spacing_source", "working_spacing_mm",
                 "rows", "columns", "breast_area_mm2", "pectoral_fraction", "n_candidates", "calcification_class",
                 "n_calcifications", "n_clusters", "n_suspicious_clusters", "n_foci", "extent_mm", "focality",
                 "casting_score", "n_coarse", "max_coarse_benign_probability", "max_powdery_probability",
                 "max_crushed_stone_probability", "max_casting_probability", "seconds", "reader_messages")


@dataclass(frozen=True)
class ImageResult:
    """Everything extracted from one file.

    Attributes
    ----------
    image : dict
        One row of the image table (keys :data:`IMAGE_COLUMNS`).
    calcifications, clusters : DataFrame
        Calcification and cluster tables, each with a ``file`` column (empty when failed).
    """

    image: dict
    calcifications: pd.DataFrame
    clusters: pd.DataFrame

    @property
    def ok(self) -> bool:
        return self.image["status"] == "ok"


@dataclass(frozen=True)
class Analysis:
    """Intermediate arrays of one image, kept for overlays and debugging."""

    pixels: np.ndarray
    spacing_mm: float
    region: BreastRegion
    detection: Detection


def _failed(file: str, exc: Exception, started: float, messages: list[str] | None = None) -> ImageResult:
    row = dict.fromkeys(IMAGE_COLUMNS)
    row.update(file=file, status="failed", error=str(exc), error_tag=getattr(exc, "tag", None),
               seconds=time.perf_counter() - started, reader_messages="; ".join(messages) if messages else None)
    return ImageResult(row, pd.DataFrame(), pd.DataFrame())


def _fill_padding(pixels: np.ndarray, padding: np.ndarray) -> np.ndarray:
    """Padding (no image there) shown as air: the 1st percentile of the image's other pixels.

    The reader sets padding to 0; where air is brighter than that, the breast threshold (which
    leans toward the image minimum) would take air for tissue and the top-hat would see a step.
    """
    sample = pixels[::4, ::4][~padding[::4, ::4]]
    air = np.float32(np.percentile(sample, 1)) if sample.size else np.float32(0)
    filled = pixels.copy()
    filled[padding] = air
    return filled


def analyse(pixels: np.ndarray, spacing_mm: float, view: str, params: ExtractionParameters) -> tuple[Analysis, pd.DataFrame, pd.DataFrame, dict]:
    """Run region, detection, features, clusters and classes on an image in memory."""
    work, work_mm = resample_to_spacing(pixels, spacing_mm, params.working_spacing_mm)
    region = find_breast(work, work_mm, view=view, smoothing_mm=params.breast_smoothing_mm,
                         skin_margin_mm=params.skin_margin_mm, min_area_mm2=params.min_breast_area_mm2,
                         pectoral_max_fraction=params.pectoral_max_fraction,
                         full_thickness_fraction=params.full_thickness_fraction)
    detection = detect_candidates(work, work_mm, region.analysis, params)
    calcs = measure_calcifications(detection, min_diameter_mm=params.min_diameter_mm,
                                   max_length_mm=params.max_length_mm)
    cluster_id, clusters = find_clusters(calcs, params)
    calcs = calcs.assign(cluster_id=cluster_id.to_numpy())
    # how crowded the view is with candidates: in noisy or lumpy images, chance clusters are common
    breast_cm2 = max(float(region.breast.sum()) * work_mm ** 2 / 100, 1e-6)
    clusters = clusters.assign(view_candidates_per_cm2=detection.n_candidates / breast_cm2)
    clusters = classify_clusters(clusters, params)
    if params.classifier == "learned":
        clusters = classify_with_model(clusters)
    summary = summarize_view(calcs, clusters, params)
    return Analysis(work, work_mm, region, detection), calcs, clusters, summary


def extract_image(path: str | Path, params: ExtractionParameters = ExtractionParameters(), *,
                  file: str | None = None, overlay_dir: str | Path | None = None) -> ImageResult:
    """Extract the calcification tables of one DICOM file.

    Parameters
    ----------
    path : str or Path
        The DICOM file.
    params : ExtractionParameters
        Every threshold.
    file : str, optional
        Name recorded in the tables (default: ``path`` as given), e.g. the path relative to the
        input folder.
    overlay_dir : str or Path, optional
        Write a quality-review PNG there (see :mod:`prognosis.imaging.overlay`).

    Returns
    -------
    ImageResult
        ``status`` ``ok``, or ``failed`` with ``error`` and ``error_tag`` (never raises for a bad
        file).
    """
    started = time.perf_counter()
    file = file if file is not None else str(path)
    # what pydicom warns or logs about the file goes to its row, not to the terminal
    failure = None
    with captured_messages() as messages:
        try:
            image = read_mammogram(path, default_pixel_spacing_mm=params.default_pixel_spacing_mm)
        except DicomError as exc:
            failure = exc
    if failure is not None:
        # INFO, not WARNING: the batch reports every failure once, in its failures table
        logger.info("skipped %s: %s", file, failure.tag or "unreadable")
        return _failed(file, failure, started, messages)
    pixels = image.pixels
    if image.padding is not None:
        pixels = _fill_padding(pixels, image.padding)
    try:
        analysis, calcs, clusters, summary = analyse(pixels, image.pixel_spacing_mm, image.tags["view"], params)
    except Exception as exc:   # noqa: BLE001 - a pathological image must not stop a batch: it is reported
        logger.info("analysis failed for %s: %s", file, type(exc).__name__, exc_info=True)
        return _failed(file, DicomError(f"{file}: analysis failed ({type(exc).__name__}: {exc})", path=str(path)),
                       started, messages)
    tags = image.tags
    laterality, source = tags["laterality"], "header"
    if laterality not in ("L", "R"):
        # display convention: a left breast has its chest wall on the left of the image
        laterality, source = ("L" if analysis.region.chest_wall_left else "R"), "chest_wall_side"
    row = dict.fromkeys(IMAGE_COLUMNS)
    row.update(file=file, status="ok", patient_id=tags["patient_id"] or Path(file).stem, laterality=laterality,
               laterality_source=source, view=tags["view"], presentation_intent=tags["presentation_intent"],
               photometric=tags["photometric"], presentation_lut_shape=tags["presentation_lut_shape"],
               n_padding=tags["n_padding"], pixel_spacing_mm=image.pixel_spacing_mm,
               spacing_source=tags["spacing_source"], working_spacing_mm=analysis.spacing_mm,
               rows=int(image.pixels.shape[0]), columns=int(image.pixels.shape[1]),
               breast_area_mm2=float(analysis.region.breast.sum() * analysis.spacing_mm ** 2),
               pectoral_fraction=analysis.region.pectoral_fraction, n_candidates=analysis.detection.n_candidates,
               **summary)
    if overlay_dir is not None:
        from prognosis.imaging.overlay import overlay_name, write_overlay
        write_overlay(Path(overlay_dir) / overlay_name(file), analysis, calcs, clusters, image=row)
    row["seconds"] = time.perf_counter() - started
    row["reader_messages"] = "; ".join(messages) if messages else None
    return ImageResult(row, calcs.assign(file=file), clusters.assign(file=file))
