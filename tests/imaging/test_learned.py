"""The learned calcification classifier: shipped training data, the casting call, the breast table."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from prognosis.errors import SpecError
from prognosis.imaging.classify import CLASSES, PROBABILITY_COLUMNS, combine_breasts
from prognosis.imaging.learned import (CLUSTER_FEATURES, TRAINING_CLUSTERS, TRAINING_VIEWS, VIEW_EVIDENCE, call_class,
                                       fit_model, shipped_model, single_view_call)
from prognosis.imaging.params import ExtractionParameters, parameters_from
from prognosis.simulate.families import HELD_OUT, TUNING


@pytest.fixture(scope="module")
def tables():
    return pd.read_csv(TRAINING_CLUSTERS), pd.read_csv(TRAINING_VIEWS)


def test_shipped_training_tables_hold_tuning_families_only(tables):
    clusters, views = tables
    # the held-out family must never reach the model: its benchmark figures are the ones that count
    assert set(views["family"]) == set(TUNING) and HELD_OUT not in set(clusters["family"])
    assert set(clusters["family"]) <= set(views["family"])
    assert set(clusters["label"]) <= set(CLASSES) and set(views["breast_class"]) == set(CLASSES)
    assert not clusters[list(CLUSTER_FEATURES)].isna().any().any()
    # every cluster belongs to a listed view, and each breast has its CC and MLO
    assert set(clusters["file"]) <= set(views["file"])
    assert (views.groupby(["family", "patient_id", "laterality"]).size() == 2).all()


def test_shipped_model_records_what_it_was_fitted_on():
    model = shipped_model()
    assert model.families == tuple(sorted(TUNING))
    digest = hashlib.sha256(TRAINING_CLUSTERS.read_bytes() + TRAINING_VIEWS.read_bytes()).hexdigest()
    assert model.training_sha256 == digest
    assert model.n_clusters == len(pd.read_csv(TRAINING_CLUSTERS))


def test_fitting_is_deterministic(tables):
    clusters, views = tables
    some = views[views["family"].isin(TUNING[:2])]
    first, second = fit_model(clusters[clusters["file"].isin(some["file"])], some), \
        fit_model(clusters[clusters["file"].isin(some["file"])], some)
    probe = clusters.head(50)
    np.testing.assert_array_equal(first.cluster_probabilities(probe).to_numpy(),
                                  second.cluster_probabilities(probe).to_numpy())


def test_probabilities_are_distributions(tables):
    clusters, views = tables
    model = shipped_model()
    proba = model.cluster_probabilities(clusters.head(200))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    evidence = pd.DataFrame({"patient_id": ["a", "a", "b"], "laterality": ["L", "L", "R"],
                             **{c: [0.9, 0.1, 0.0] for c in VIEW_EVIDENCE}})
    breasts = model.breast_probabilities(evidence, ["patient_id", "laterality"])
    assert list(breasts["patient_id"]) == ["a", "b"]
    np.testing.assert_allclose(breasts[list(PROBABILITY_COLUMNS)].sum(axis=1), 1.0, atol=1e-9)
    assert ((breasts[list(PROBABILITY_COLUMNS)] >= 0) & (breasts[list(PROBABILITY_COLUMNS)] <= 1)).all().all()


def test_casting_is_called_at_the_threshold_else_the_most_probable_other_class():
    p = pd.DataFrame([[0.1, 0.1, 0.4, 0.1, 0.3],      # casting 0.3, powdery most probable
                      [0.0, 0.0, 0.2, 0.0, 0.8],
                      [0.5, 0.0, 0.0, 0.1, 0.4]], columns=list(PROBABILITY_COLUMNS))
    assert list(call_class(p, 0.5)) == ["powdery", "casting", "none"]
    assert list(call_class(p, 0.3)) == ["casting", "casting", "casting"]      # at the threshold counts
    assert list(call_class(p, 0.31)) == ["powdery", "casting", "casting"]


def test_a_view_without_evidence_is_none_and_strong_casting_evidence_is_casting():
    empty = {c: 0.0 for c in VIEW_EVIDENCE}
    assert single_view_call(empty, 0.5) == "none"
    cast = dict(empty, max_casting_probability=0.99)
    assert single_view_call(cast, 0.5) == "casting"
    # a threshold above the calibrated probability the model gives withholds the call
    assert single_view_call(cast, 0.999999) != "casting"


@pytest.mark.parametrize("overrides, words", [({"classifier": "forest"}, "classifier: 'forest' is not one of"),
                                               ({"casting_threshold": 0}, "strictly between 0 and 1"),
                                               ({"casting_threshold": 1.5}, "strictly between 0 and 1")])
def test_classifier_parameters_are_checked(overrides, words):
    with pytest.raises(SpecError, match=words):
        ExtractionParameters(**overrides)


def test_classifier_parameters_from_a_spec():
    params = parameters_from({"classifier": "rules", "casting_threshold": 0.3})
    assert params.classifier == "rules" and params.casting_threshold == 0.3
    with pytest.raises(SpecError, match="classifier"):
        parameters_from({"classifier": 3})


def _images(**evidence):
    rows = []
    for view in ("CC", "MLO"):
        rows.append({"file": f"P1_L_{view}.dcm", "status": "ok", "patient_id": "P1", "laterality": "L", "view": view,
                     "calcification_class": "crushed_stone" if view == "CC" else "none", "n_calcifications": 5,
                     "n_clusters": 1, "n_suspicious_clusters": 1, "extent_mm": 12.0, "focality": "unifocal",
                     "casting_score": 0.2, "n_coarse": 0, **{c: evidence.get(c, 0.0) for c in VIEW_EVIDENCE}})
    return pd.DataFrame(rows)


def test_combine_breasts_with_rules_keeps_the_worst_view_and_no_probabilities():
    breasts = combine_breasts(_images(), ExtractionParameters(classifier="rules"))
    assert breasts.loc[0, "calcification_class"] == "crushed_stone"
    assert breasts[list(PROBABILITY_COLUMNS)].isna().all().all()


def test_combine_breasts_with_the_model_calls_from_both_views():
    breasts = combine_breasts(_images(max_casting_probability=0.95))
    assert breasts.loc[0, "calcification_class"] == "casting" and breasts.loc[0, "casting"] == "yes"
    assert breasts.loc[0, list(PROBABILITY_COLUMNS)].sum() == pytest.approx(1.0)
    strict = combine_breasts(_images(max_casting_probability=0.95),
                             ExtractionParameters(casting_threshold=0.999999))
    assert strict.loc[0, "calcification_class"] != "casting"


def test_combine_breasts_refuses_a_rules_table_for_the_model():
    images = _images().drop(columns=list(VIEW_EVIDENCE[:-1]))
    with pytest.raises(ValueError, match="extracted with classifier 'rules'"):
        combine_breasts(images)


def test_extraction_provenance_names_the_model(extracted):
    provenance = json.loads(extracted.outputs["provenance"].read_text())
    assert provenance["classifier"]["kind"] == "learned"
    assert provenance["classifier"]["training_sha256"] == shipped_model().training_sha256
    assert HELD_OUT not in provenance["classifier"]["families"]
    breasts = extracted.breast_details
    np.testing.assert_allclose(breasts[list(PROBABILITY_COLUMNS)].sum(axis=1), 1.0, atol=1e-9)
    # the casting call follows the probability and the threshold
    threshold = ExtractionParameters().casting_threshold
    assert ((breasts["casting_probability"] >= threshold) == (breasts["calcification_class"] == "casting")).all()
