"""Learned calcification classes with calibrated per-breast probabilities.

Two stages, both fitted on clusters and breasts of the *tuning* phantom families only
(:data:`prognosis.simulate.families.TUNING`; the held-out family never enters):

1. **Clusters**: gradient boosting (scikit-learn's ``HistGradientBoostingClassifier``) on the
   physical features of each cluster (:data:`CLUSTER_FEATURES`: sizes in mm, contrasts as
   contrast-to-noise ratios, shape fractions; nothing in pixels) and the density of candidates in
   its view, predicting one of :data:`~prognosis.imaging.classify.CLASSES`, where ``none`` is a
   cluster of noise, texture or vessel wall that holds no lesion.
2. **Breasts**: a multinomial logistic regression on the evidence of both views (per class, the
   largest cluster probability in either view and its mean over views; scattered coarse
   particles), fitted on *out-of-family* stage-1 probabilities (each training family scored by
   a cluster model fitted without it), so that they are calibrated for images unlike those the
   cluster model saw, which is the situation of every user's cohort. How far that holds is
   measured, not assumed: ``benchmarks/imaging_families.py`` prints the calibration of the
   casting probability on each held-out family (out of family it comes out too low, hence the
   default threshold below 0.5; ``benchmarks/casting_threshold.py`` shows how it was chosen).

The casting call is ``casting_probability >= casting_threshold`` (an
:class:`~prognosis.imaging.params.ExtractionParameters` field, 0.15 by default, chosen
on the tuning families' leave-one-family-out folds); otherwise the most
probable of the other classes. The model is fitted, deterministically, from the training tables
shipped in ``prognosis/imaging/data/`` the first time a process needs it (a few seconds): no
pickled model, so it does not depend on one scikit-learn version's file format. The tables are
written by :mod:`prognosis.imaging.training`, whose command line says how to rebuild them.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from prognosis.imaging.classify import CLASSES, PROBABILITY_COLUMNS

logger = logging.getLogger(__name__)

DATA_DIR = Path(__file__).with_name("data")
TRAINING_CLUSTERS = DATA_DIR / "training_clusters.csv.gz"
TRAINING_VIEWS = DATA_DIR / "training_views.csv.gz"

CLUSTER_FEATURES = ("n_calcifications", "extent_mm", "area_cm2", "density_per_cm2", "linearity", "alignment",
                    "fraction_elongated", "fraction_branching", "fraction_coarse", "coarse_area_fraction",
                    "median_width_mm", "median_diameter_mm", "median_cnr", "area_cv", "upper_cnr", "max_cnr",
                    "max_length_mm", "max_diameter_mm", "median_elongation", "width_cv", "orientation_coherence",
                    "median_spacing_mm", "view_candidates_per_cm2")
LESION_CLASSES = CLASSES[1:]
#: per-view evidence written to the images table, one column per lesion class, plus scattered coarse particles
VIEW_EVIDENCE = tuple(f"max_{c}_probability" for c in LESION_CLASSES) + ("n_coarse",)


@dataclass(frozen=True)
class CalcificationModel:
    """The fitted two-stage model.

    Attributes
    ----------
    cluster_model : HistGradientBoostingClassifier
        Stage 1, on :data:`CLUSTER_FEATURES`.
    breast_model : Pipeline
        Stage 2 (standardisation, multinomial logistic regression) on the breast evidence.
    families : tuple of str
        Phantom families it was fitted on.
    n_clusters, n_breasts : int
        Training rows of each stage.
    training_sha256 : str
        SHA-256 of the two training tables (recorded in an extraction's provenance).
    """

    cluster_model: HistGradientBoostingClassifier
    breast_model: object
    families: tuple[str, ...]
    n_clusters: int
    n_breasts: int
    training_sha256: str

    def cluster_probabilities(self, clusters: pd.DataFrame) -> pd.DataFrame:
        """Probability of each class per cluster: columns :data:`PROBABILITY_COLUMNS`, index of ``clusters``."""
        if clusters.empty:
            return pd.DataFrame(columns=list(PROBABILITY_COLUMNS), index=clusters.index, dtype=float)
        proba = _class_probabilities(self.cluster_model, clusters[list(CLUSTER_FEATURES)].to_numpy(float))
        return pd.DataFrame(proba, columns=list(PROBABILITY_COLUMNS), index=clusters.index)

    def breast_probabilities(self, views: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        """Per breast (``keys``, e.g. patient and side), the calibrated probability of each class.

        ``views`` holds one row per view with the :data:`VIEW_EVIDENCE` columns.
        """
        evidence = breast_evidence(views, keys)
        proba = _class_probabilities(self.breast_model, evidence[_BREAST_FEATURES].to_numpy(float))
        return pd.concat([evidence[keys], pd.DataFrame(proba, columns=list(PROBABILITY_COLUMNS))], axis=1)


_BREAST_FEATURES = [f"{how}_{c}" for c in LESION_CLASSES for how in ("max", "mean")] + ["coarse_scattered"]


def _class_probabilities(model, X: np.ndarray) -> np.ndarray:
    """``predict_proba`` laid out in :data:`CLASSES` order (a class absent from training gets 0)."""
    out = np.zeros((len(X), len(CLASSES)))
    proba = model.predict_proba(X)
    for j, label in enumerate(model.classes_):
        out[:, CLASSES.index(label)] = proba[:, j]
    return out


def breast_evidence(views: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Stage-2 features per breast from per-view evidence: per class the max and mean over views."""
    grouped = views.groupby(keys, sort=True, dropna=False)
    parts = {}
    for c in LESION_CLASSES:
        column = views[f"max_{c}_probability"].fillna(0.0)
        parts[f"max_{c}"] = column.groupby([views[k] for k in keys], dropna=False).max()
        parts[f"mean_{c}"] = column.groupby([views[k] for k in keys], dropna=False).mean()
    # log: one scattered coarse particle is little evidence, ten are much more, a hundred not ten times more
    parts["coarse_scattered"] = np.log1p(grouped["n_coarse"].max().clip(lower=0))
    return pd.DataFrame(parts).reset_index()


def _cluster_classifier() -> HistGradientBoostingClassifier:
    # shallow trees, strong shrinkage and L2: the training families are few, and the model must
    # not learn the quirks of any one of them; early stopping off so fits are deterministic
    return HistGradientBoostingClassifier(max_iter=150, learning_rate=0.05, max_leaf_nodes=8, min_samples_leaf=20,
                                          l2_regularization=1.0, early_stopping=False, random_state=0)


def _breast_classifier():
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))


def view_evidence(clusters: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per view (``keys``), the largest cluster probability of each lesion class (0 without clusters)."""
    columns = {f"max_{c}_probability": clusters[f"{c}_probability"] for c in LESION_CLASSES}
    frame = pd.DataFrame(columns).assign(**{k: clusters[k] for k in keys})
    return frame.groupby(keys, sort=True, dropna=False).max().reset_index()


def fit_model(clusters: pd.DataFrame, views: pd.DataFrame) -> CalcificationModel:
    """Fit both stages on training tables.

    Parameters
    ----------
    clusters : DataFrame
        One row per detected cluster: :data:`CLUSTER_FEATURES`, ``family``, ``file``, ``patient_id``,
        ``laterality`` and ``label`` (its true class, ``none`` for a cluster holding no lesion).
    views : DataFrame
        One row per view of every training breast, with or without clusters: ``family``, ``file``,
        ``patient_id``, ``laterality``, ``n_coarse`` and ``breast_class`` (its true class).
    """
    families = tuple(sorted(set(views["family"])))
    X, y = clusters[list(CLUSTER_FEATURES)].to_numpy(float), clusters["label"].astype(str).to_numpy()
    cluster_model = _cluster_classifier().fit(X, y)
    # out-of-family stage-1 probabilities: each family scored by a model that never saw it
    oof = np.zeros((len(clusters), len(CLASSES)))
    groups = clusters["family"].to_numpy() if len(families) > 1 else clusters["patient_id"].map(hash).to_numpy() % 5
    for g in np.unique(groups):
        inside = groups == g
        oof[inside] = _class_probabilities(_cluster_classifier().fit(X[~inside], y[~inside]), X[inside])
    scored = clusters[["family", "file", "patient_id", "laterality"]].assign(
        **{col: oof[:, j] for j, col in enumerate(PROBABILITY_COLUMNS)})
    evidence = view_evidence(scored, ["file"])
    views = views.merge(evidence, on="file", how="left")
    keys = ["family", "patient_id", "laterality"]
    features = breast_evidence(views, keys)
    truth = views.groupby(keys, sort=True, dropna=False)["breast_class"].first().reset_index()
    features = features.merge(truth, on=keys, validate="one_to_one")
    breast_model = _breast_classifier().fit(features[_BREAST_FEATURES].to_numpy(float),
                                            features["breast_class"].astype(str).to_numpy())
    return CalcificationModel(cluster_model, breast_model, families, len(clusters), len(features), "")


def _sha256(paths) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


@lru_cache(maxsize=1)
def shipped_model() -> CalcificationModel:
    """The model fitted on the shipped training tables (fitted once per process)."""
    clusters = pd.read_csv(TRAINING_CLUSTERS)
    views = pd.read_csv(TRAINING_VIEWS)
    model = fit_model(clusters, views)
    logger.debug("calcification model fitted on %d clusters, %d breasts", model.n_clusters, model.n_breasts)
    return CalcificationModel(model.cluster_model, model.breast_model, model.families, model.n_clusters,
                              model.n_breasts, _sha256([TRAINING_CLUSTERS, TRAINING_VIEWS]))


def call_class(probabilities: pd.DataFrame, casting_threshold: float) -> pd.Series:
    """``casting`` where its probability reaches ``casting_threshold``, else the most probable other class."""
    others = probabilities[[f"{c}_probability" for c in CLASSES if c != "casting"]].to_numpy()
    best_other = np.array([c for c in CLASSES if c != "casting"])[others.argmax(axis=1)] if len(others) else []
    casting = probabilities["casting_probability"].to_numpy() >= casting_threshold
    return pd.Series(np.where(casting, "casting", best_other), index=probabilities.index, dtype=object)


def single_view_call(evidence: dict, casting_threshold: float, model: CalcificationModel | None = None) -> str:
    """The breast model's call on one view's evidence (a mapping with the :data:`VIEW_EVIDENCE` keys)."""
    model = model or shipped_model()
    view = pd.DataFrame([{"patient_id": "", "laterality": "", **{k: evidence[k] for k in VIEW_EVIDENCE}}])
    proba = model.breast_probabilities(view, ["patient_id", "laterality"])
    return str(call_class(proba, casting_threshold).iloc[0])


def classify_with_model(clusters: pd.DataFrame, model: CalcificationModel | None = None) -> pd.DataFrame:
    """Replace the rules' ``calcification_class`` of classified ``clusters`` by the model's most probable class.

    The rules' call stays as ``rule_class``; the ``<class>_probability`` columns are added. ``model``
    defaults to :func:`shipped_model`.
    """
    model = model or shipped_model()
    out = clusters.assign(rule_class=clusters["calcification_class"])
    proba = model.cluster_probabilities(out)
    for column in PROBABILITY_COLUMNS:
        out[column] = proba[column].astype(float)
    if len(out):
        out["calcification_class"] = np.array(CLASSES)[proba[list(PROBABILITY_COLUMNS)].to_numpy().argmax(axis=1)]
    return out
