"""Quality-review PNGs: the working image with calcification outlines and cluster boxes.

Calcifications in a cluster are outlined in the colour of the cluster's class, isolated ones in
grey-blue; each cluster gets its bounding box; the analysed region's edge is drawn faintly.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from skimage.draw import rectangle_perimeter
from skimage.segmentation import find_boundaries

logger = logging.getLogger(__name__)

CLASS_COLOURS = {"casting": (1.0, 0.1, 0.1), "crushed_stone": (1.0, 0.6, 0.0), "powdery": (1.0, 1.0, 0.2),
                 "coarse_benign": (0.2, 0.9, 0.2), "none": (0.4, 0.6, 1.0)}


def render_overlay(analysis, calcifications: pd.DataFrame, clusters: pd.DataFrame) -> np.ndarray:
    """RGB float image in [0, 1] at the working pixel size."""
    grey = analysis.pixels
    rgb = np.repeat(grey[..., None], 3, axis=2).astype(np.float32)
    region_edge = find_boundaries(analysis.region.analysis, mode="inner")
    rgb[region_edge] = 0.5 * rgb[region_edge] + 0.5 * np.array([0.3, 0.3, 0.8])
    labels = analysis.detection.labels
    if len(calcifications):
        # measured calcifications keep their id order; candidates dropped by size are not drawn
        colour_of = {}
        cls_of = dict(zip(clusters.get("cluster_id", []), clusters.get("calcification_class", [])))
        for cid, cluster in zip(calcifications["calcification_id"], calcifications["cluster_id"]):
            colour_of[cid] = CLASS_COLOURS.get(cls_of.get(cluster, "none"), CLASS_COLOURS["none"])
        edges = find_boundaries(labels, mode="outer")
        # an outer boundary pixel takes the colour of the label next to it
        from scipy import ndimage
        nearest = ndimage.grey_dilation(labels, size=(3, 3))
        for value in np.unique(nearest[edges]):
            colour = colour_of.get(int(value))
            if colour is not None:
                rgb[edges & (nearest == value)] = colour
    s = analysis.spacing_mm
    for _, cluster in clusters.iterrows():
        members = calcifications[calcifications["cluster_id"] == cluster["cluster_id"]]
        pad = 1.0
        r0 = int(max((members["y_mm"].min() - pad) / s, 0))
        c0 = int(max((members["x_mm"].min() - pad) / s, 0))
        r1 = int(min((members["y_mm"].max() + pad) / s, rgb.shape[0] - 1))
        c1 = int(min((members["x_mm"].max() + pad) / s, rgb.shape[1] - 1))
        rr, cc = rectangle_perimeter((r0, c0), end=(r1, c1), shape=rgb.shape[:2], clip=True)
        rgb[rr, cc] = CLASS_COLOURS.get(cluster["calcification_class"], (1, 1, 1))
    return np.clip(rgb, 0, 1)


def write_overlay(path: str | Path, analysis, calcifications: pd.DataFrame, clusters: pd.DataFrame) -> Path:
    """Write the overlay PNG (atomically) and return its path."""
    import os
    import matplotlib.image as mpimg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".tmp-" + path.name)
    mpimg.imsave(tmp, render_overlay(analysis, calcifications, clusters), format="png")
    os.replace(tmp, path)
    return path
