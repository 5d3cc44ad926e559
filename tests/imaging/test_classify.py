"""Classification rules on constructed cluster and image tables: thresholds exactly met, views combined.

Small hand-made inputs, so that each rule's edge is tested where a phantom would never land:
a casting score exactly on ``casting_min_score``, a fine-elongated fraction exactly on
``casting_min_elongated_fraction``, and a breast whose CC and MLO views count different numbers
of calcifications.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from prognosis.imaging.classify import casting_score, classify_clusters, combine_breasts
from prognosis.imaging.params import ExtractionParameters

PARAMS = ExtractionParameters(classifier="rules")   # these tests are of the rules


def _cluster(**features) -> pd.DataFrame:
    """One fine, conspicuous cluster (neither coarse nor powdery), casting features as given."""
    row = {"cluster_id": 1, "n_calcifications": 8, "fraction_coarse": 0.0, "coarse_area_fraction": 0.0,
           "median_width_mm": 0.2, "median_diameter_mm": 0.8, "upper_cnr": 12.0,
           "fraction_elongated": 0.625, "fraction_branching": 0.0, "alignment": 0.0, "linearity": 1.0}
    row.update(features)
    return pd.DataFrame([row])


def test_casting_score_exactly_on_the_threshold_is_casting():
    # 0.4 x 0.625 + 0.15 x 0 + 0.25 x 0 + 0.2 x 1.0 = 0.25 + 0.2 = 0.45 = casting_min_score ("reaches")
    at = _cluster()
    assert casting_score(at, PARAMS).item() == PARAMS.casting_min_score      # exactly, in floating point
    assert classify_clusters(at, PARAMS)["calcification_class"].item() == "casting"
    # the next float below the threshold (linearity a hair lower) is not
    below = _cluster(linearity=np.nextafter(1.0, 0.0))
    assert casting_score(below, PARAMS).item() < PARAMS.casting_min_score
    assert classify_clusters(below, PARAMS)["calcification_class"].item() == "crushed_stone"


def test_elongated_fraction_exactly_on_the_threshold_is_casting():
    # half the particles fine and elongated = casting_min_elongated_fraction ("at least"); the score is
    # well above its own threshold: 0.4 x 0.5 + 0.15 x 1 + 0.25 x 1 + 0.2 x 1 = 0.8
    at = _cluster(fraction_elongated=PARAMS.casting_min_elongated_fraction, fraction_branching=1.0, alignment=1.0)
    assert casting_score(at, PARAMS).item() > PARAMS.casting_min_score
    assert classify_clusters(at, PARAMS)["calcification_class"].item() == "casting"
    below = _cluster(fraction_elongated=np.nextafter(PARAMS.casting_min_elongated_fraction, 0.0),
                     fraction_branching=1.0, alignment=1.0)
    assert classify_clusters(below, PARAMS)["calcification_class"].item() == "crushed_stone"


def _views(**columns) -> pd.DataFrame:
    base = {"file": ["P1_L_CC.dcm", "P1_L_MLO.dcm"], "status": ["ok", "ok"], "patient_id": ["P1", "P1"],
            "laterality": ["L", "L"], "view": ["CC", "MLO"], "calcification_class": ["crushed_stone", "powdery"],
            "n_calcifications": [12, 30], "n_clusters": [3, 1], "extent_mm": [18.0, 25.0],
            "focality": ["multifocal", "unifocal"], "casting_score": [0.2, 0.1]}
    base.update(columns)
    return pd.DataFrame(base)


def test_a_breast_counts_the_larger_view_not_the_sum():
    # the same calcifications are seen in CC and MLO: 12 and 30 make 30 (not 42), 3 and 1 clusters make 3
    breast = combine_breasts(_views(), PARAMS).iloc[0]
    assert breast["n_calcifications"] == 30 and breast["n_clusters"] == 3
    assert breast["extent_mm"] == 25.0 and breast["calcification_class"] == "crushed_stone"
    assert breast["focality"] == "multifocal" and breast["views"] == "CC+MLO" and breast["n_images"] == 2
    # the larger count in the other view gives the same answer (max, not the first or the last view)
    swapped = combine_breasts(_views(n_calcifications=[30, 12], n_clusters=[1, 3]), PARAMS).iloc[0]
    assert swapped["n_calcifications"] == 30 and swapped["n_clusters"] == 3


def test_a_failed_view_does_not_count():
    views = _views(status=["ok", "failed"], n_calcifications=[12, np.nan], n_clusters=[3, np.nan])
    breast = combine_breasts(views, PARAMS).iloc[0]
    assert breast["n_calcifications"] == 12 and breast["n_images"] == 1
