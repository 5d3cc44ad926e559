"""Detection FROC and per-breast classification on the session phantoms, with floors.

Floors sit below the values measured when the tests were written (seed 20261125, 15 breasts,
30 images): sensitivity 0.46 at <= 1 false positive per image, per-breast accuracy 0.87,
casting 3/3 found with 11/12 non-casting breasts negative. The full FROC, the confusion matrix
over >= 200 images and throughput are in benchmarks/imaging_accuracy.py and imaging_throughput.py.
"""

from __future__ import annotations

from prognosis.imaging.evaluate import casting_operating_point, confusion, froc

MIN_SENSITIVITY_AT_1_FP = 0.35
MIN_BREAST_ACCURACY = 0.70
MIN_CASTING_SENSITIVITY = 0.66
MIN_CASTING_SPECIFICITY = 0.80


def test_detection_froc(extracted, truth):
    files = list(truth["images"]["file"])
    curve = froc(extracted.calcifications, truth["calcifications"], files)
    assert curve.n_images == 30
    assert curve.sensitivity_at(1.0) >= MIN_SENSITIVITY_AT_1_FP, curve.to_frame()


def test_breast_classification(extracted, truth):
    merged = extracted.breasts.merge(truth["breasts"][["patient_id", "calcification_class"]], on="patient_id",
                                     suffixes=("", "_true"))
    assert len(merged) == len(truth["breasts"])
    accuracy = (merged["calcification_class"] == merged["calcification_class_true"]).mean()
    table = confusion(merged["calcification_class_true"], merged["calcification_class"])
    assert accuracy >= MIN_BREAST_ACCURACY, table
    is_casting = merged["calcification_class_true"] == "casting"
    called = merged["casting"] == "yes"
    assert called[is_casting].mean() >= MIN_CASTING_SENSITIVITY, table
    assert (~called[~is_casting]).mean() >= MIN_CASTING_SPECIFICITY, table


def test_casting_operating_point_helper():
    threshold, sensitivity, specificity = casting_operating_point([True, True, False, False], [0.9, 0.8, 0.1, 0.85])
    assert (threshold, sensitivity, specificity) == (0.9, 0.5, 1.0)
