"""Phantoms: deterministic by seed, varied headers, truth consistent with the files."""

from __future__ import annotations


import numpy as np
import pandas as pd
import pydicom

from prognosis.simulate.phantom import simulate_phantoms


def test_same_seed_same_pixels(tmp_path):
    a = simulate_phantoms(tmp_path / "a", n=2, seed=9)
    b = simulate_phantoms(tmp_path / "b", n=2, seed=9)
    pd.testing.assert_frame_equal(a, b)
    for name in ("PH0001", "PH0002"):
        for f in (tmp_path / "a").glob(f"{name}_*.dcm"):
            assert np.array_equal(pydicom.dcmread(f).pixel_array, pydicom.dcmread(tmp_path / "b" / f.name).pixel_array)


def test_headers_vary_and_truth_matches(phantom_dir, truth):
    images = truth["images"]
    assert set(images["pixel_spacing_mm"]) == {0.05, 0.07, 0.1}
    assert set(images["photometric"]) == {"MONOCHROME1", "MONOCHROME2"}
    assert set(images["presentation_intent"]) == {"FOR PROCESSING", "FOR PRESENTATION"}
    assert (images.groupby("patient_id")["view"].apply(sorted).map(tuple) == ("CC", "MLO")).all()
    row = images.iloc[0]
    ds = pydicom.dcmread(phantom_dir / row["file"], stop_before_pixels=True)
    assert ds.Modality == "MG" and ds.PatientID == row["patient_id"] and (ds.Rows, ds.Columns) == (row["rows"], row["columns"])
    assert set(truth["breasts"]["calcification_class"]) == {"none", "coarse_benign", "powdery", "crushed_stone", "casting"}
