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


def test_progress_counts_every_image_and_workers_do_not_change_the_files(tmp_path):
    calls = []
    simulate_phantoms(tmp_path / "seq", n=2, seed=9, contralateral=True, on_progress=lambda d, t: calls.append((d, t)))
    # 2 patients x 2 breasts x 2 views; reported before the first patient and after each one
    assert calls[0] == (0, 8) and calls[-1] == (8, 8) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    one = simulate_phantoms(tmp_path / "w1", n=2, seed=9, contralateral=True, workers=1)
    two = simulate_phantoms(tmp_path / "w2", n=2, seed=9, contralateral=True, workers=2)
    pd.testing.assert_frame_equal(one, two)
    for f in (tmp_path / "w1").glob("*.dcm"):
        assert np.array_equal(pydicom.dcmread(f).pixel_array, pydicom.dcmread(tmp_path / "w2" / f.name).pixel_array)


def test_phantom_command_writes_a_progress_line_every_n_images_off_a_terminal(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from prognosis.imaging import cli

    monkeypatch.setattr(cli, "_PROGRESS_LINE_EVERY", 2)
    result = CliRunner().invoke(cli.app, ["phantom", "--out", str(tmp_path / "ph"), "--n", "2"])
    assert result.exit_code == 0, result.output
    assert "rendering phantoms: 2/4 images" in result.output and "rendering phantoms: 4/4 images" in result.output
    quiet = CliRunner().invoke(cli.app, ["phantom", "--out", str(tmp_path / "ph"), "--n", "1", "--no-progress"])
    assert quiet.exit_code == 0 and "rendering phantoms" not in quiet.output
