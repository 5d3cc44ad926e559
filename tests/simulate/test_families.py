"""The phantom families (prognosis/simulate/families): deterministic, truthful, distinct, readable.

Each family renders its five classes once, in a 40 x 32 mm field (a few seconds), into a
module-scoped folder; the expected values below come from the drawn ground truth or from hand
computations written out in the tests, not from the renderer's own output.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from prognosis.imaging.dicom import read_mammogram
from prognosis.simulate.families import FAMILIES, HELD_OUT, TUNING, get_family
from prognosis.simulate.families.acquisition import detect
from prognosis.simulate.families.anatomy import spectral_slope
from prognosis.simulate.families.base import FamilyRanges, background_texture, render_view, simulate_family
from prognosis.simulate.families.raster import Calc
from prognosis.simulate.phantom import CLASSES

FIELD_MM = (40.0, 32.0)
NEW = ("selenium", "csi", "plate")
SEED = 5


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = {}
    for name in NEW:
        folder = tmp_path_factory.mktemp(name)
        get_family(name).simulate(folder, n=len(CLASSES), seed=SEED, field_mm=FIELD_MM)
        out[name] = folder
    return out


def _tables(folder):
    return {t: pd.read_csv(folder / f"truth_{t}.csv") for t in ("breasts", "images", "calcifications")}


def test_registry_names_one_held_out_family():
    assert set(FAMILIES) == {"native", *NEW}
    assert HELD_OUT == "plate" and HELD_OUT not in TUNING and len(TUNING) == 3
    with pytest.raises(ValueError, match="choose one of native"):
        get_family("nope")


@pytest.mark.parametrize("name", NEW)
def test_a_family_renders_the_same_from_the_same_seed(name, rendered, tmp_path):
    get_family(name).simulate(tmp_path, n=len(CLASSES), seed=SEED, field_mm=FIELD_MM)
    first, again = _tables(rendered[name]), _tables(tmp_path)
    for table in first:
        pd.testing.assert_frame_equal(first[table], again[table])
    for file in first["images"]["file"]:
        np.testing.assert_array_equal(read_mammogram(rendered[name] / file).pixels, read_mammogram(tmp_path / file).pixels)
    # and another seed draws another breast
    other = simulate_family(get_family(name), tmp_path / "other", n=1, seed=SEED + 1, field_mm=FIELD_MM)
    assert other["pixel_spacing_mm"].iloc[0] in FAMILIES[name].ranges.spacings_mm


@pytest.mark.parametrize("name", NEW)
def test_ground_truth_holds_what_was_drawn(name, rendered):
    t = _tables(rendered[name])
    breasts, images, calcs = t["breasts"], t["images"], t["calcifications"]
    assert sorted(breasts["calcification_class"]) == sorted(CLASSES)       # n = 5: each class once
    assert (breasts["casting"] == np.where(breasts["calcification_class"] == "casting", "yes", "no")).all()
    assert len(images) == 2 * len(breasts) and set(images["view"]) == {"CC", "MLO"}
    lesion = calcs[calcs["role"] == "lesion"]
    per_breast = lesion.groupby("patient_id").size()
    for _, b in breasts.iterrows():
        if b["calcification_class"] == "none":
            assert b["n_particles"] == 0 and b["patient_id"] not in set(calcs["patient_id"])
        else:
            assert b["n_particles"] > 0 and per_breast.get(b["patient_id"], 0) > 0
    shapes = dict(zip(breasts["patient_id"], breasts["calcification_class"]))
    allowed = {"casting": {"cast_fragmented", "cast_continuous"}, "crushed_stone": {"crushed"}, "powdery": {"powdery"},
               "coarse_benign": {"popcorn", "rod", "round", "punctate", "vascular", "skin"}}
    for _, c in lesion.iterrows():
        assert c["shape"] in allowed[shapes[c["patient_id"]]]
    # distractors (calcified vessels) only beside suspicious lesions, always vascular
    distractors = calcs[calcs["role"] == "distractor"]
    assert set(distractors["shape"]) <= {"vascular"}
    assert {shapes[p] for p in distractors["patient_id"]} <= {"casting", "crushed_stone", "powdery"}
    # particles lie in the field
    assert calcs["x_mm"].between(0, FIELD_MM[1]).all() and calcs["y_mm"].between(0, FIELD_MM[0]).all()


@pytest.mark.parametrize("name", NEW)
def test_every_file_reads_back_with_its_geometry(name, rendered):
    images = _tables(rendered[name])["images"]
    for _, row in images.iterrows():
        image = read_mammogram(rendered[name] / row["file"])
        assert image.pixels.shape == (row["rows"], row["columns"])
        assert math.isclose(image.pixel_spacing_mm, row["pixel_spacing_mm"], rel_tol=1e-4)
        assert (image.tags["laterality"], image.tags["view"]) == (row["laterality"], row["view"])
        assert image.tags["presentation_intent"] == row["presentation_intent"]


def _quiet(ranges: FamilyRanges) -> FamilyRanges:
    return replace(ranges, n_ligaments=(0, 0), n_vessels=(0, 0), lead_marker=False)


@pytest.mark.parametrize("laterality", ["L", "R"])
def test_a_sphere_lands_where_its_truth_says_with_its_beer_lambert_contrast(laterality):
    family = get_family("selenium")
    acq = replace(family.draw(np.random.default_rng(0)), spacing_mm=0.1, gland_sd=0.0, photons_per_mm2=1e12,
                  electronic_noise=0.0, mtf="gaussian", mtf_sigma_mm=0.001, intent="FOR PROCESSING",
                  mu_calcium_per_mm=1.0)
    sphere = Calc("sphere", "round", np.array([[15.0, 3.0, 0.0]]), width_mm=1.0)
    view = render_view([sphere], acq, _quiet(family.ranges), view="CC", laterality=laterality, field_mm=FIELD_MM,
                       depth_mm=28.0, half_height_mm=16.0, rng=np.random.default_rng(1))
    truth = view.particles.iloc[0]
    r, c = int(truth["y_mm"] / 0.1), int(truth["x_mm"] / 0.1)
    # the darkest pixel (most calcium) is the one holding the centre
    patch = view.exposure[r - 15:r + 16, c - 15:c + 16]
    dr, dc = np.unravel_index(np.argmin(patch), patch.shape)
    assert abs(dr - 15) <= 1 and abs(dc - 15) <= 1
    # chest wall at x = 0 for L, at the right edge for R: the sphere sits 15 mm from it
    assert math.isclose(truth["x_mm"], 15.0 if laterality == "L" else FIELD_MM[1] - 15.0, abs_tol=1e-9)
    # a 1 mm chord of mu 1/mm through the centre: exposure falls by exp(-1) against the tissue 3 mm away
    # (pixel averaging over a 0.1 mm pixel shortens the mean chord by < 1%)
    background = np.median(np.r_[view.exposure[r - 30, c - 5:c + 5], view.exposure[r + 30, c - 5:c + 5]])
    assert view.exposure[r, c] / background == pytest.approx(math.exp(-1), abs=0.02)


def test_noise_white_and_correlated_as_computed_by_hand():
    flat = np.full((400, 400), 1000.0, np.float32)
    rng = np.random.default_rng(2)
    # direct detector: blur before noise -> variance N + e^2 = 1000 + 9
    white = detect(flat, 0.1, rng, mtf="sinc", mtf_sigma_mm=0.02, aperture_px=1.0, electronic_noise=3.0,
                   noise_before_blur=False)
    assert white.std() == pytest.approx(math.sqrt(1009), rel=0.03)
    # indirect: a Gaussian of sigma 2 px blurs the quantum noise, variance N / (4 pi sigma^2) + e^2
    blurred = detect(flat, 0.1, rng, mtf="gaussian", mtf_sigma_mm=0.2, aperture_px=1.0, electronic_noise=3.0,
                     noise_before_blur=True)
    assert blurred.std() == pytest.approx(math.sqrt(1000 / (4 * math.pi * 4) + 9), rel=0.05)


def test_families_differ_in_pitch_dose_and_texture():
    draws = {name: [FAMILIES[name].draw(np.random.default_rng([9, i])) for i in range(60)] for name in NEW}
    spacing = {name: {a.spacing_mm for a in d} for name, d in draws.items()}
    assert spacing["selenium"] == {0.05, 0.07} and spacing["csi"] == {0.07, 0.085, 0.1}
    assert spacing["plate"] == {0.05, 0.06, 0.075, 0.1}
    for d in draws.values():
        assert all(0.05 <= a.spacing_mm <= 0.1 for a in d) and all(2.5 <= a.beta <= 3.5 for a in d)
    assert {a.photons_per_mm2 for a in draws["plate"]} == {2.5e6, 5e6, 1e7, 2e7}   # four dose levels
    assert {a.intent for a in draws["plate"]} == {"FOR PRESENTATION"}
    assert {a.lut for a in draws["plate"]} == {"sigmoid", "log", "gamma"}
    # power-law texture has the drawn spectral slope; the lumpy one falls far faster (Gaussian blobs)
    slopes = {}
    for name in ("selenium", "csi"):
        acq = replace(draws[name][0], spacing_mm=0.1)
        texture = background_texture(acq, FAMILIES[name].ranges, (400, 320), np.random.default_rng(3))
        slopes[name] = (acq.beta, spectral_slope(texture, 0.1))
    assert slopes["selenium"][1] == pytest.approx(slopes["selenium"][0], abs=0.25)
    assert slopes["csi"][1] > 5


def test_phantom_cli_family_option(tmp_path):
    from prognosis.imaging.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["phantom", "--out", str(tmp_path / "ph"), "--n", "2", "--seed", "4", "--family", "csi"])
    assert result.exit_code == 0, result.output
    truth = pd.read_csv(tmp_path / "ph" / "truth_breasts.csv")
    assert set(truth["family"]) == {"csi"} and len(list((tmp_path / "ph").glob("CS*.dcm"))) == 4
    result = runner.invoke(app, ["phantom", "--out", str(tmp_path / "x"), "--family", "nope"])
    assert result.exit_code == 2 and "choose one of" in result.output
