"""QA overlays: the legend lists what is drawn, the scale bar is as long as it says, the title has the calls."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from prognosis.imaging.overlay import (CLASS_COLOURS, NOT_CLUSTERED, legend_entries, overlay_name, scale_bar,
                                       stamp_breast_calls)


def _tables():
    # 3 clusters: two crushed stone (ids 1, 2) and one casting (id 3); 4 calcifications in no cluster
    clusters = pd.DataFrame({"cluster_id": [1, 2, 3],
                             "calcification_class": ["crushed_stone", "crushed_stone", "casting"]})
    cluster_id = [1] * 5 + [2] * 3 + [3] * 7 + [0] * 4
    calcifications = pd.DataFrame({"calcification_id": np.arange(1, len(cluster_id) + 1), "cluster_id": cluster_id})
    return calcifications, clusters


def test_legend_lists_exactly_the_classes_present_with_their_counts():
    entries = legend_entries(*_tables())
    # by hand from _tables: casting 1 cluster of 7; crushed stone 2 clusters of 5 + 3; 4 loose
    assert [(e.label, e.n_clusters, e.n_calcifications) for e in entries] == [
        ("casting", 1, 7), ("crushed stone", 2, 8), (NOT_CLUSTERED, 0, 4)]
    assert entries[0].colour == CLASS_COLOURS["casting"] and entries[1].colour == CLASS_COLOURS["crushed_stone"]
    assert entries[2].calcification_class is None


def test_legend_of_an_image_without_calcifications_is_empty_and_without_loose_entry_when_all_clustered():
    assert legend_entries(pd.DataFrame(columns=["calcification_id", "cluster_id"]),
                          pd.DataFrame(columns=["cluster_id", "calcification_class"])) == ()
    calcifications, clusters = _tables()
    clustered = calcifications[calcifications["cluster_id"] > 0]
    assert [e.label for e in legend_entries(clustered, clusters)] == ["casting", "crushed stone"]
    # a calcification whose cluster is not in the clusters table is drawn in no cluster's colour
    assert [(e.label, e.n_calcifications) for e in legend_entries(clustered, clusters.iloc[:1])] == [
        ("crushed stone", 5), (NOT_CLUSTERED, 10)]


@pytest.mark.parametrize("spacing_mm, width_px, length_mm", [(0.1, 512, 10.0), (0.07, 3328, 50.0), (0.05, 1024, 10.0)])
def test_scale_bar_is_length_over_spacing_pixels(spacing_mm, width_px, length_mm):
    bar = scale_bar(width_px, spacing_mm)
    # 512 x 0.1 = 51.2 mm wide, 1/5 = 10.2 -> 10 mm; 3328 x 0.07 = 233 mm, 1/5 = 46.6 -> 50 mm
    assert bar.length_mm == length_mm
    assert abs(bar.length_px - length_mm / spacing_mm) <= 1


def test_overlay_png_has_title_legend_and_breast_call(tmp_path):
    from types import SimpleNamespace

    from prognosis.imaging.overlay import overlay_figure, write_overlay

    rows, cols = 200, 160
    labels = np.zeros((rows, cols), np.int32)
    labels[50:53, 40:43] = 1
    region = np.zeros((rows, cols), bool)
    region[20:180, 20:140] = True
    analysis = SimpleNamespace(pixels=np.full((rows, cols), 0.5, np.float32), spacing_mm=0.1,
                               region=SimpleNamespace(analysis=region), detection=SimpleNamespace(labels=labels))
    calcifications = pd.DataFrame({"calcification_id": [1], "cluster_id": [0], "x_mm": [4.1], "y_mm": [5.1]})
    clusters = pd.DataFrame(columns=["cluster_id", "calcification_class"])
    image = {"file": "a/P1_L_CC.dcm", "patient_id": "P1", "laterality": "L", "view": "CC", "status": "ok",
             "pixel_spacing_mm": 0.05, "working_spacing_mm": 0.1, "calcification_class": "none"}
    picture, title_px = overlay_figure(analysis, calcifications, clusters, file=image["file"], image=image)
    assert picture.shape[0] == rows + title_px and picture.shape[1] > cols
    path = write_overlay(tmp_path / overlay_name(image["file"]), analysis, calcifications, clusters, image=image)
    assert path.name == "a__P1_L_CC.png"
    before = np.asarray(Image.open(path).convert("RGB"))
    n = stamp_breast_calls(tmp_path, pd.DataFrame([image]),
                           pd.DataFrame({"patient_id": ["P1"], "laterality": ["L"], "calcification_class": ["casting"]}))
    after = np.asarray(Image.open(path).convert("RGB"))
    assert n == 1
    # only the title strip is redrawn (its text changes); the image and the legend stay as they were
    assert not np.array_equal(before[:title_px], after[:title_px])
    assert np.array_equal(before[title_px:], after[title_px:])


def test_title_lines_name_file_side_view_and_calls_without_patient_identifiers():
    from prognosis.imaging.overlay import _title_lines

    first, second = _title_lines("P1_L_CC.dcm", {"laterality": "L", "view": "CC", "pixel_spacing_mm": 0.07,
                                                 "working_spacing_mm": 0.0999, "calcification_class": "crushed_stone",
                                                 "patient_id": "SECRET-ID"}, "casting")
    assert first == "P1_L_CC.dcm · L CC · pixel 0.07 mm, shown at 0.1 mm"
    assert second == "this view: crushed stone  ·  breast (CC + MLO): casting"
    assert "SECRET-ID" not in first + second
