"""Per-calcification features in physical units: size, shape, skeleton, orientation, contrast.

Columns of the calcification table (one row per candidate):

``x_mm``, ``y_mm``            centroid (column, row) in mm from the image's top-left corner
``area_mm2``                  area of the outline
``diameter_mm``               equivalent diameter (of the disc with that area)
``length_mm``                 largest Feret diameter
``width_mm``                  calibre: area / skeleton length for elongated particles, else the
                              minor axis of the fitted ellipse
``elongation``                length / width
``n_branch_points``           skeleton pixels with three or more skeleton neighbours
``orientation_deg``           angle of the major axis from the image x axis, in [0, 180)
``contrast``                  peak top-hat intensity (normalised intensity units)
``cnr``                       peak local contrast-to-noise ratio
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy import ndimage
from skimage.measure import regionprops
from skimage.morphology import skeletonize

from prognosis.imaging.detect import Detection

logger = logging.getLogger(__name__)

# calcification_id is the candidate's label in the detection's label image (ids of dropped
# candidates are skipped), so overlays can find each calcification's outline.
CALCIFICATION_COLUMNS = ("calcification_id", "x_mm", "y_mm", "area_mm2", "diameter_mm", "length_mm", "width_mm",
                         "elongation", "n_branch_points", "orientation_deg", "contrast", "cnr")
_NEIGHBOURS = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]])


def _skeleton_stats(mask: np.ndarray, spacing_mm: float) -> tuple[float, int]:
    """Skeleton length (mm, diagonal steps count sqrt 2) and number of branch points."""
    skeleton = skeletonize(np.pad(mask, 1))
    if not skeleton.any():
        return 0.0, 0
    neighbours = ndimage.convolve(skeleton.astype(np.uint8), _NEIGHBOURS, mode="constant") * skeleton
    branch = int(np.sum(neighbours >= 3))
    # length: straight links count 1, diagonal links sqrt(2); each link is seen twice
    straight = ndimage.convolve(skeleton.astype(np.uint8), np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]]), mode="constant")
    diagonal = ndimage.convolve(skeleton.astype(np.uint8), np.array([[1, 0, 1], [0, 0, 0], [1, 0, 1]]), mode="constant")
    length_px = (np.sum(straight * skeleton) + np.sqrt(2) * np.sum(diagonal * skeleton)) / 2
    return float(max(length_px, 1.0) * spacing_mm), branch


def measure_calcifications(detection: Detection, *, min_diameter_mm: float = 0.1,
                           max_length_mm: float = 8.0) -> pd.DataFrame:
    """Measure every candidate of ``detection`` and drop those outside the size limits.

    Parameters
    ----------
    detection : Detection
        Labels, top-hat and CNR at the working pixel size.
    min_diameter_mm, max_length_mm : float
        Candidates with a smaller equivalent diameter or a longer Feret diameter are dropped.

    Returns
    -------
    DataFrame
        One row per calcification, columns :data:`CALCIFICATION_COLUMNS`.
    """
    s = detection.spacing_mm
    rows = []
    for region in regionprops(detection.labels, intensity_image=detection.tophat):
        area_mm2 = region.area * s * s
        diameter_mm = float(np.sqrt(4 * area_mm2 / np.pi))
        if diameter_mm < min_diameter_mm:
            continue
        length_mm = float(max(region.feret_diameter_max, 1.0) * s) if region.area > 1 else s
        if length_mm > max_length_mm:
            continue
        skeleton_mm, n_branch = _skeleton_stats(region.image, s) if region.area >= 3 else (s, 0)
        minor_mm = float(max(region.axis_minor_length, 1.0) * s)
        width_mm = min(area_mm2 / max(skeleton_mm, length_mm * 0.5), minor_mm) if region.area >= 3 else diameter_mm
        width_mm = max(width_mm, s)
        # regionprops orientation: angle between the row axis and the major axis, in (-pi/2, pi/2]
        orientation_deg = float(np.degrees(np.pi / 2 - region.orientation) % 180)
        r0, c0, r1, c1 = region.bbox
        peak_cnr = float(detection.cnr[r0:r1, c0:c1][region.image].max())
        cy, cx = region.centroid
        rows.append((int(region.label), (cx + 0.5) * s, (cy + 0.5) * s, area_mm2, diameter_mm, length_mm, width_mm,
                     length_mm / width_mm, n_branch, orientation_deg, float(region.intensity_max), peak_cnr))
    frame = pd.DataFrame(rows, columns=list(CALCIFICATION_COLUMNS))
    return frame.astype({"calcification_id": "int64", "n_branch_points": "int64"})
