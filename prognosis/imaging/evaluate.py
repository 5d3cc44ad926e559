"""Score the extractor against phantom ground truth: FROC of detection, confusion of classes.

A detection *hits* a true particle when its centroid lies within
``max(min_hit_distance_mm, length_mm / 2 + hit_margin_mm)`` of the particle's centre; a true
particle is *found* when any detection hits it; a detection that hits nothing is a false
positive. Only the analysed breast region counts: truths outside any analysed region are kept
(they count as misses), so sensitivity is not flattered.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from prognosis.imaging.classify import CLASSES

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Froc:
    """FROC curve: sensitivity against false positives per image, over CNR thresholds.

    Attributes
    ----------
    thresholds, sensitivity, fp_per_image : ndarray
        One value per CNR threshold (increasing thresholds, decreasing rates).
    n_images, n_true : int
    """

    thresholds: np.ndarray
    sensitivity: np.ndarray
    fp_per_image: np.ndarray
    n_images: int
    n_true: int

    def sensitivity_at(self, fp_per_image: float) -> float:
        """Best sensitivity with at most ``fp_per_image`` false positives per image."""
        ok = self.fp_per_image <= fp_per_image
        return float(self.sensitivity[ok].max()) if ok.any() else 0.0

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"cnr_threshold": self.thresholds, "sensitivity": self.sensitivity,
                             "fp_per_image": self.fp_per_image})


def match_detections(detections: pd.DataFrame, truth: pd.DataFrame, *, min_hit_distance_mm: float = 0.5,
                     hit_margin_mm: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """For one image: per detection, the index of a hit truth particle (-1 none); per truth, hit or not."""
    hit_truth = np.full(len(detections), -1)
    found = np.zeros(len(truth), bool)
    if len(detections) == 0 or len(truth) == 0:
        return hit_truth, found
    txy = truth[["x_mm", "y_mm"]].to_numpy()
    radius = np.maximum(min_hit_distance_mm, truth["length_mm"].to_numpy() / 2 + hit_margin_mm)
    tree = cKDTree(txy)
    dxy = detections[["x_mm", "y_mm"]].to_numpy()
    for i, candidates in enumerate(tree.query_ball_point(dxy, r=float(radius.max()))):
        if not candidates:
            continue
        candidates = np.asarray(candidates)
        dist = np.hypot(*(txy[candidates] - dxy[i]).T)
        ok = candidates[dist <= radius[candidates]]
        if len(ok):
            hit_truth[i] = ok[np.argmin(np.hypot(*(txy[ok] - dxy[i]).T))]
    return hit_truth, found


def froc(calcifications: pd.DataFrame, truth: pd.DataFrame, files: list[str],
         thresholds: np.ndarray | None = None) -> Froc:
    """FROC over ``files`` from the calcification table and the phantom's truth_calcifications table.

    Both tables carry a ``file`` column; ``calcifications`` a ``cnr`` column.
    """
    thresholds = np.arange(4.0, 12.01, 0.5) if thresholds is None else np.asarray(thresholds, float)
    per_threshold_found = np.zeros(len(thresholds))
    per_threshold_fp = np.zeros(len(thresholds))
    n_true = 0
    for file in files:
        det = calcifications[calcifications["file"] == file] if len(calcifications) else calcifications
        tru = truth[truth["file"] == file]
        n_true += len(tru)
        hit, _ = match_detections(det, tru) if len(det) else (np.zeros(0, int), None)
        cnr = det["cnr"].to_numpy() if len(det) else np.zeros(0)
        for k, t in enumerate(thresholds):
            keep = cnr >= t
            per_threshold_fp[k] += int(np.sum(keep & (hit < 0)))
            per_threshold_found[k] += len(np.unique(hit[keep & (hit >= 0)]))
    sensitivity = per_threshold_found / max(n_true, 1)
    return Froc(thresholds, sensitivity, per_threshold_fp / max(len(files), 1), len(files), n_true)


def confusion(truth: pd.Series, predicted: pd.Series, classes: tuple[str, ...] = CLASSES) -> pd.DataFrame:
    """Confusion matrix: rows true class, columns predicted class."""
    return pd.crosstab(pd.Categorical(truth, classes), pd.Categorical(predicted, classes), dropna=False,
                       rownames=["true"], colnames=["predicted"])


def casting_operating_point(truth_casting: np.ndarray, score: np.ndarray, *, min_specificity: float = 0.9
                            ) -> tuple[float, float, float]:
    """Threshold on the casting score with the best sensitivity at ``min_specificity``: (threshold, sens, spec)."""
    truth_casting = np.asarray(truth_casting, bool)
    best = (np.inf, 0.0, 1.0)
    for t in np.unique(np.concatenate([score, [np.inf]])):
        pred = score >= t
        spec = float(np.mean(~pred[~truth_casting])) if (~truth_casting).any() else 1.0
        sens = float(np.mean(pred[truth_casting])) if truth_casting.any() else 0.0
        if spec >= min_specificity and sens >= best[1]:
            best = (float(t), sens, spec)
    return best
