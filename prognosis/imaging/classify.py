"""Transparent classification rules: per cluster, per image, per breast (CC and MLO combined).

Classes, from least to most suspicious (science.md §1): ``none``, ``coarse_benign``, ``powdery``,
``crushed_stone``, ``casting``. A breast takes the worst class of its clusters in any view.

Cluster rules, in order (every threshold is a field of :class:`ExtractionParameters`):

1. ``coarse_benign`` (large, dense, smooth: popcorn, dystrophic, rod-like) if at least
   ``coarse_min_fraction`` of the particles are coarse (:func:`~prognosis.imaging.clusters.is_coarse`),
   or at least that fraction of the calcified area is, with at most ``coarse_max_fine_count``
   fine particles beside it (a large calcification seen as one big particle and a few fragments
   of its lobes or rim), or if the median calibre is not fine (``fine_max_width_mm``: casting
   and crushed stone are thinner than 0.5 mm, powdery specks smaller still);
2. ``powdery`` (amorphous: "too small or hazy to assign a shape") if the median particle diameter
   is below ``powdery_max_diameter_mm`` and the upper quartile of the particles' peak CNR is
   below ``powdery_max_cnr``. This comes before casting: the shape of a particle as faint as
   that is mostly noise, so a few faint specks that happen to look elongated and in line are
   not a cast;
3. ``casting`` if the casting score (:func:`casting_score`) reaches ``casting_min_score`` and at
   least ``casting_min_elongated_fraction`` of the particles are fine and elongated (fine-linear
   is a particle morphology: round particles in a line are a linear *distribution*, and in a
   group of three any points look nearly linear);
4. otherwise ``crushed_stone`` (discrete, irregular, varying, not linear).

Extent and focality (science.md §2): the extent of a view is the largest distance between two
calcifications of its suspicious (powdery, crushed-stone, casting) clusters; clusters closer
than ``focus_merge_distance_mm`` form one focus; a focus at least ``diffuse_min_extent_mm`` long
is diffuse, several foci are multifocal, one is unifocal. A breast takes the largest extent and
the worst focality of its views; ``extent`` is ``extensive`` from ``extensive_min_extent_mm``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from prognosis.imaging.clusters import is_coarse, link_groups, max_extent_mm
from prognosis.imaging.params import ExtractionParameters

logger = logging.getLogger(__name__)

CLASSES = ("none", "coarse_benign", "powdery", "crushed_stone", "casting")
SUSPICIOUS = ("powdery", "crushed_stone", "casting")
FOCALITY = ("unifocal", "multifocal", "diffuse")
#: the learned classifier's calibrated probability of each class (empty with the rules)
PROBABILITY_COLUMNS = tuple(f"{c}_probability" for c in CLASSES)
BREAST_COLUMNS = ("patient_id", "laterality", "calcification_class", "casting", "n_calcifications", "n_clusters",
                  "extent_mm", "extent", "focality", *PROBABILITY_COLUMNS)


def casting_score(clusters: pd.DataFrame, params: ExtractionParameters = ExtractionParameters()) -> pd.Series:
    """Weighted evidence of casting in [0, 1].

    ``w_e * fraction_elongated + w_b * min(3 * fraction_branching, 1) + w_a * max(alignment, 0)
    + w_l * linearity``: elongated fine particles, branching (Y/V shapes), particles lined up
    along the cluster's axis, and a linear/segmental arrangement.
    """
    return (params.casting_weight_elongated * clusters["fraction_elongated"]
            + params.casting_weight_branching * np.minimum(3 * clusters["fraction_branching"], 1)
            + params.casting_weight_alignment * clusters["alignment"].clip(lower=0)
            + params.casting_weight_linearity * clusters["linearity"]).astype(float)


def classify_clusters(clusters: pd.DataFrame, params: ExtractionParameters = ExtractionParameters()) -> pd.DataFrame:
    """Add ``calcification_class``, ``casting_score`` and ``score`` (the rule's margin, in [0, 1]) to ``clusters``."""
    out = clusters.copy()
    if out.empty:
        for column in ("calcification_class", "casting_score", "score"):
            out[column] = pd.Series(dtype=object if column == "calcification_class" else float)
        return out
    cast = casting_score(out, params)
    n_fine = np.rint(out["n_calcifications"] * (1 - out["fraction_coarse"]))
    by_area = (out["coarse_area_fraction"] >= params.coarse_min_fraction) & (n_fine <= params.coarse_max_fine_count)
    thick = out["median_width_mm"] >= params.fine_max_width_mm
    coarse = (out["fraction_coarse"] >= params.coarse_min_fraction) | by_area | thick
    powdery = ~coarse & (out["median_diameter_mm"] < params.powdery_max_diameter_mm) \
        & (out["upper_cnr"] < params.powdery_max_cnr)
    is_casting = ~coarse & ~powdery & (cast >= params.casting_min_score) \
        & (out["fraction_elongated"] >= params.casting_min_elongated_fraction)
    cls = np.select([coarse, powdery, is_casting], ["coarse_benign", "powdery", "casting"], "crushed_stone")
    # np.where, not a product: 0 x (1 - w / 0) would be NaN for a zero-width outline
    thickness_margin = np.where(thick, 1 - params.fine_max_width_mm / out["median_width_mm"].where(thick, 1.0), 0.0)
    coarse_margin = np.maximum.reduce([out["fraction_coarse"], out["coarse_area_fraction"] * by_area,
                                       thickness_margin])
    score = np.select([coarse, powdery, is_casting],
                      [coarse_margin, 1 - out["upper_cnr"] / params.powdery_max_cnr, cast],
                      1 - cast / params.casting_min_score)
    out["calcification_class"] = cls
    out["casting_score"] = cast
    out["score"] = np.clip(score, 0, 1)
    return out


def worst_class(classes) -> str:
    """The most suspicious of ``classes`` (``none`` when empty)."""
    ranks = [CLASSES.index(c) for c in classes if c in CLASSES]
    return CLASSES[max(ranks)] if ranks else "none"


def summarize_view(calcifications: pd.DataFrame, clusters: pd.DataFrame,
                   params: ExtractionParameters = ExtractionParameters()) -> dict:
    """Class, counts, extent and focality of one view.

    ``calcifications`` must carry ``cluster_id`` and ``clusters`` must be classified.
    ``n_calcifications`` counts clustered calcifications and coarse ones (isolated small
    candidates are mostly noise).
    """
    coarse = is_coarse(calcifications, params) if len(calcifications) else pd.Series(dtype=bool)
    clustered = calcifications["cluster_id"] > 0 if len(calcifications) else pd.Series(dtype=bool)
    n_calcifications = int((coarse | clustered).sum()) if len(calcifications) else 0
    view_class = worst_class(clusters["calcification_class"]) if len(clusters) else "none"
    if view_class == "none" and len(calcifications) and coarse.sum() >= 2:
        view_class = "coarse_benign"   # scattered coarse calcifications need not form a cluster
    suspicious = clusters[clusters["calcification_class"].isin(SUSPICIOUS)] if len(clusters) else clusters
    extent_mm, focality, n_foci = float("nan"), "", 0
    if len(suspicious):
        members = calcifications[calcifications["cluster_id"].isin(suspicious["cluster_id"])]
        xy = members[["x_mm", "y_mm"]].to_numpy()
        extent_mm = max_extent_mm(xy) + float(members["length_mm"].mean())
        foci = link_groups(xy, params.focus_merge_distance_mm)
        n_foci = int(foci.max()) + 1
        focus_extents = [max_extent_mm(xy[foci == f]) for f in range(n_foci)]
        focality = ("diffuse" if max(focus_extents) >= params.diffuse_min_extent_mm
                    else "multifocal" if n_foci > 1 else "unifocal")
    summary = {"calcification_class": view_class, "n_calcifications": n_calcifications,
               "n_clusters": int(len(clusters)), "n_suspicious_clusters": int(len(suspicious)), "n_foci": n_foci,
               "extent_mm": extent_mm, "focality": focality,
               "casting_score": float(clusters["casting_score"].max()) if len(clusters) else 0.0,
               "n_coarse": int(coarse.sum()) if len(calcifications) else 0}
    # the learned classifier's evidence for the breast model: per lesion class, its most probable cluster
    for c in CLASSES[1:]:
        column = f"{c}_probability"
        if column in clusters:
            summary[f"max_{column}"] = float(clusters[column].max()) if len(clusters) else 0.0
    if params.classifier == "learned" and "max_casting_probability" in summary:
        # the view's own class is the breast model's call on this view alone, so that a single film
        # is called as a breast is (at casting_threshold), not by its most suspicious cluster
        from prognosis.imaging.learned import single_view_call
        summary["calcification_class"] = single_view_call(summary, params.casting_threshold)
    return summary


def _breast_probabilities(views: pd.DataFrame, params: ExtractionParameters) -> pd.DataFrame | None:
    """The learned breast model's probabilities and call, indexed by (patient_id, laterality); None with the rules."""
    if params.classifier != "learned" or views.empty:
        return None
    from prognosis.imaging.learned import call_class, shipped_model, VIEW_EVIDENCE
    missing = [c for c in VIEW_EVIDENCE if c not in views]
    if missing:
        raise ValueError(f"the images table has no {missing}: it was extracted with classifier 'rules' "
                         "(extract again, or combine with classifier='rules')")
    proba = shipped_model().breast_probabilities(views, ["patient_id", "laterality"])
    proba["calcification_class"] = call_class(proba, params.casting_threshold)
    return proba.set_index(["patient_id", "laterality"])


def combine_breasts(images: pd.DataFrame, params: ExtractionParameters = ExtractionParameters()) -> pd.DataFrame:
    """One row per breast (patient_id, laterality) from the per-image table.

    Uses the images whose ``status`` is ``ok``. Counts are the maximum over views (the same
    calcifications are seen in CC and MLO, so views are not added). With the learned classifier
    the breast's class is the breast model's call from the evidence of all its views and the
    ``<class>_probability`` columns carry its calibrated probabilities; with the rules, the
    worst class of its views and no probabilities.

    Returns
    -------
    DataFrame
        :data:`BREAST_COLUMNS` then ``casting_score``, ``n_images`` and ``views``.
    """
    ok = images[images["status"] == "ok"] if "status" in images else images
    probabilities = _breast_probabilities(ok, params)
    rows = []
    for (patient_id, laterality), views in ok.groupby(["patient_id", "laterality"], sort=True, dropna=False):
        if probabilities is not None:
            p = probabilities.loc[(patient_id, laterality)]
            cls = p["calcification_class"]
        else:
            p, cls = None, worst_class(views["calcification_class"])
        extent_mm = views["extent_mm"].max(skipna=True)
        focalities = [f for f in views["focality"] if f in FOCALITY]
        rows.append({
            "patient_id": patient_id, "laterality": laterality, "calcification_class": cls,
            "casting": "yes" if cls == "casting" else "no",
            "n_calcifications": int(views["n_calcifications"].max()), "n_clusters": int(views["n_clusters"].max()),
            "extent_mm": float(extent_mm) if pd.notna(extent_mm) else np.nan,
            "extent": ("" if pd.isna(extent_mm) else
                       "extensive" if extent_mm >= params.extensive_min_extent_mm else "limited"),
            "focality": max(focalities, key=FOCALITY.index) if focalities else "",
            **{column: float(p[column]) if p is not None else np.nan for column in PROBABILITY_COLUMNS},
            "casting_score": float(views["casting_score"].max()), "n_images": int(len(views)),
            "views": "+".join(sorted(views["view"].astype(str))),
        })
    columns = [*BREAST_COLUMNS, "casting_score", "n_images", "views"]
    return pd.DataFrame(rows, columns=columns)
