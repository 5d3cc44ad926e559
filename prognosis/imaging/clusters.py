"""Clusters of calcifications and their arrangement, in mm.

Calcifications closer than ``link_distance_mm`` (centroid to centroid) are linked; the connected
groups of at least ``min_count`` are clusters (single linkage; BI-RADS "grouped" is >= 5 within
1 cm). Columns of the cluster table:

``cluster_id``, ``n_calcifications``, ``x_mm``, ``y_mm`` (centroid)
``extent_mm``               largest distance between two member centroids plus the mean particle length
``area_cm2``, ``density_per_cm2``   convex hull (at least 0.25 cm², so two particles are not infinitely dense)
``axis_deg``                principal axis of the member centroids, from the x axis, in [0, 180)
``linearity``               1 - lambda2 / lambda1 of the centroid covariance (0 round, 1 a line)
``alignment``               mean cos(2 (theta_i - axis)) over elongated particles: 1 all along the
                            axis, 0 random, -1 across (0 when none is elongated)
``fraction_elongated``      share of fine (calibre < ``fine_max_width_mm``) elongated particles
``fraction_branching``      share of particles whose skeleton branches
``fraction_coarse``         share of coarse particles (:func:`is_coarse`)
``coarse_area_fraction``    share of the members' area in coarse particles (a popcorn or dystrophic
                            calcification often shows as one large particle with a few small
                            fragments of its lobes or rim beside it, which would outnumber it)
``median_width_mm``, ``median_diameter_mm``, ``median_cnr``, ``area_cv`` (pleomorphism)
``upper_cnr``               75th percentile of the members' peak CNR: how conspicuous the brighter
                            particles are (crushed stone varies in size, so some stand out; powdery
                            calcifications are uniformly faint)
``max_cnr``, ``max_length_mm``, ``max_diameter_mm``, ``median_elongation``
``width_cv``                coefficient of variation of the calibre (a calcified vessel wall keeps its
                            calibre; casts and crushed stone vary)
``orientation_coherence``   length of the mean of exp(2i theta) over the elongated particles: 1 all
                            parallel, 0 random, whatever the cluster's axis (0 when none is elongated)
``median_spacing_mm``       median distance from each member to its nearest fellow member
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import ConvexHull, cKDTree
from scipy.spatial.distance import pdist

from prognosis.imaging.params import ExtractionParameters

logger = logging.getLogger(__name__)

CLUSTER_COLUMNS = ("cluster_id", "n_calcifications", "x_mm", "y_mm", "extent_mm", "area_cm2", "density_per_cm2",
                   "axis_deg", "linearity", "alignment", "fraction_elongated", "fraction_branching",
                   "fraction_coarse", "coarse_area_fraction", "median_width_mm", "median_diameter_mm", "median_cnr",
                   "area_cv", "upper_cnr", "max_cnr", "max_length_mm", "max_diameter_mm", "median_elongation", "width_cv",
                   "orientation_coherence", "median_spacing_mm")


def link_groups(xy_mm: np.ndarray, distance_mm: float) -> np.ndarray:
    """Single-linkage group label (0..k-1) of each point, linking points closer than ``distance_mm``."""
    n = len(xy_mm)
    if n == 0:
        return np.zeros(0, int)
    pairs = cKDTree(xy_mm).query_pairs(distance_mm, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) else coo_matrix((n, n))
    return connected_components(graph, directed=False)[1]


def max_extent_mm(xy_mm: np.ndarray) -> float:
    """Largest distance between two points (0 for fewer than two)."""
    if len(xy_mm) < 2:
        return 0.0
    if len(xy_mm) > 3:
        try:
            xy_mm = xy_mm[ConvexHull(xy_mm).vertices]
        except Exception:  # noqa: BLE001 - collinear or duplicate points: use them all
            pass
    return float(pdist(xy_mm).max())


def is_coarse(calcifications: pd.DataFrame, params: ExtractionParameters) -> pd.Series:
    """Coarse particles: at least ``coarse_min_diameter_mm`` across, ``coarse_min_width_mm`` thick
    and dense (peak CNR at least ``coarse_min_cnr``; a blob that large but as faint as the noise
    is tissue, not a calcification millimetres thick)."""
    return (calcifications["diameter_mm"] >= params.coarse_min_diameter_mm) \
        & (calcifications["width_mm"] >= params.coarse_min_width_mm) \
        & (calcifications["cnr"] >= params.coarse_min_cnr)


def _cluster_features(members: pd.DataFrame, params: ExtractionParameters) -> dict:
    xy = members[["x_mm", "y_mm"]].to_numpy()
    centred = xy - xy.mean(axis=0)
    cov = centred.T @ centred / max(len(xy) - 1, 1)
    evals, evecs = np.linalg.eigh(cov)
    major = evecs[:, 1]
    axis = float(np.degrees(np.arctan2(major[1], major[0])) % 180)
    linearity = float(1 - evals[0] / evals[1]) if evals[1] > 0 else 0.0
    fine_elongated = (members["elongation"] >= params.elongated_min_ratio) & (members["width_mm"] < params.fine_max_width_mm)
    if fine_elongated.any():
        theta = np.radians(members.loc[fine_elongated, "orientation_deg"].to_numpy())
        alignment = float(np.mean(np.cos(2 * (theta - np.radians(axis)))))
        coherence = float(np.abs(np.mean(np.exp(2j * theta))))
    else:
        alignment = coherence = 0.0
    try:
        area_cm2 = ConvexHull(xy).volume / 100 if len(xy) >= 3 else 0.0
    except Exception:  # noqa: BLE001 - collinear points have no hull area
        area_cm2 = 0.0
    area_cm2 = max(area_cm2, 0.25)
    areas = members["area_mm2"].to_numpy()
    coarse = is_coarse(members, params).to_numpy()
    cnr = members["cnr"].to_numpy()
    widths = members["width_mm"].to_numpy()
    # k=2: the nearest point other than the member itself (clusters have at least two members)
    spacing = cKDTree(xy).query(xy, k=2)[0][:, 1] if len(xy) >= 2 else np.zeros(1)
    return {
        "n_calcifications": len(members), "x_mm": float(xy[:, 0].mean()), "y_mm": float(xy[:, 1].mean()),
        "extent_mm": max_extent_mm(xy) + float(members["length_mm"].mean()),
        "area_cm2": area_cm2, "density_per_cm2": len(members) / area_cm2, "axis_deg": axis,
        "linearity": linearity, "alignment": alignment, "fraction_elongated": float(fine_elongated.mean()),
        "fraction_branching": float((members["n_branch_points"] > 0).mean()),
        "fraction_coarse": float(coarse.mean()),
        "coarse_area_fraction": float(areas[coarse].sum() / areas.sum()) if areas.sum() > 0 else 0.0,
        "median_width_mm": float(members["width_mm"].median()),
        "median_diameter_mm": float(members["diameter_mm"].median()),
        "median_cnr": float(np.median(cnr)),
        "area_cv": float(areas.std() / areas.mean()) if areas.mean() > 0 else 0.0,
        "upper_cnr": float(np.percentile(cnr, 75)),
        "max_cnr": float(cnr.max()), "max_length_mm": float(members["length_mm"].max()),
        "max_diameter_mm": float(members["diameter_mm"].max()),
        "median_elongation": float(members["elongation"].median()),
        "width_cv": float(widths.std() / widths.mean()) if widths.mean() > 0 else 0.0,
        "orientation_coherence": coherence, "median_spacing_mm": float(np.median(spacing)),
    }


def find_clusters(calcifications: pd.DataFrame, params: ExtractionParameters = ExtractionParameters()
                  ) -> tuple[pd.Series, pd.DataFrame]:
    """Group calcifications into clusters.

    Parameters
    ----------
    calcifications : DataFrame
        From :func:`prognosis.imaging.features.measure_calcifications`.
    params : ExtractionParameters
        ``cluster_link_distance_mm``, ``cluster_min_count`` and the particle-shape thresholds.

    Returns
    -------
    cluster_id : Series of int
        Per calcification, its cluster (0 = not in a cluster), aligned with ``calcifications``.
    clusters : DataFrame
        One row per cluster, columns :data:`CLUSTER_COLUMNS`.
    """
    cluster_id = pd.Series(0, index=calcifications.index, dtype="int64")
    if calcifications.empty:
        return cluster_id, pd.DataFrame(columns=list(CLUSTER_COLUMNS))
    groups = link_groups(calcifications[["x_mm", "y_mm"]].to_numpy(), params.cluster_link_distance_mm)
    counts = np.bincount(groups)
    # number clusters by size, largest first, so ids are stable whatever the label order
    big = [g for g in np.argsort(-counts, kind="stable") if counts[g] >= params.cluster_min_count]
    rows = []
    for k, g in enumerate(big, start=1):
        members = calcifications[groups == g]
        cluster_id[members.index] = k
        rows.append({"cluster_id": k, **_cluster_features(members, params)})
    return cluster_id, pd.DataFrame(rows, columns=list(CLUSTER_COLUMNS))
