"""Spacing invariance: the same lesion at 0.05, 0.07 and 0.1 mm gives alike detections."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from scipy import ndimage

from prognosis.imaging.filters import resample_to_spacing
from prognosis.imaging.extract import analyse
from prognosis.imaging.params import ExtractionParameters
from prognosis.simulate.lesions import PhantomParameters, make_lesion
from prognosis.simulate.phantom_view import render_view


def _view(spacing_mm: float, cls: str, seed: int):
    lesion = make_lesion(cls, 44.0, 25.0, np.random.default_rng(seed), PhantomParameters())
    rendered = render_view(lesion, view="CC", laterality="L", spacing_mm=spacing_mm, field_mm=(64.0, 51.2),
                           breast_depth_mm=44.0, breast_half_height_mm=25.0, rng=np.random.default_rng(seed + 1))
    density = -np.log(np.maximum(rendered.exposure, 0.5))
    return (density - density.min()) / np.ptp(density), rendered


@pytest.mark.parametrize("cls,seed", [("casting", 3), ("crushed_stone", 5)])
def test_spacings_behave_alike(cls, seed):
    found = {}
    for spacing in (0.05, 0.07, 0.1):
        pixels, rendered = _view(spacing, cls, seed)
        _, calcs, clusters, summary = analyse(pixels, spacing, "CC", ExtractionParameters())
        found[spacing] = (len(calcs), summary["calcification_class"])
    counts = np.array([n for n, _ in found.values()])
    assert counts.min() >= 0.6 * counts.max(), found
    assert len({c for _, c in found.values()}) == 1, found


def test_resample_preserves_mean_and_spacing():
    image = np.random.default_rng(0).random((700, 512)).astype(np.float32)
    out, spacing = resample_to_spacing(image, 0.07, 0.1)
    assert out.shape == (490, 358)
    assert spacing == pytest.approx(0.1, rel=0.01)
    assert out.mean() == pytest.approx(image.mean(), abs=1e-3)
    same, s = resample_to_spacing(image, 0.1, 0.1)
    assert same is image or np.array_equal(same, image)


def test_window_around_the_breast_changes_nothing_inside_it(monkeypatch):
    # filtering only the analysis mask's bounding box (grown by the filters' reach) must give,
    # inside the mask, exactly what filtering the whole image gives
    from prognosis.imaging import detect

    pixels, _ = _view(0.1, "casting", 3)
    mask = np.zeros(pixels.shape, bool)
    mask[150:480, 60:300] = True
    params = ExtractionParameters()
    cropped = detect.detect_candidates(pixels, 0.1, mask, params)
    monkeypatch.setattr(detect, "_bounding_window", lambda m, margin: (slice(0, m.shape[0]), slice(0, m.shape[1])))
    whole = detect.detect_candidates(pixels, 0.1, mask, params)
    assert cropped.n_candidates == whole.n_candidates > 0
    np.testing.assert_array_equal(cropped.labels, whole.labels)
    np.testing.assert_array_equal(cropped.cnr[mask], whole.cnr[mask])


def test_block_median_matches_numpy():
    from prognosis.imaging.filters import block_median as _median

    rng = np.random.default_rng(4)
    for n in (30, 31, 64, 257, 700):
        values = rng.normal(size=n).astype(np.float32)
        assert _median(values) == np.median(values)


def test_coarse_surround_blur_matches_the_full_resolution_one():
    # the wide blurs run on a half-resolution grid; against full resolution the centre-surround
    # responses differ by well under 2% of their noise (MAD) — the CNR moves by < 0.02
    from scipy import ndimage

    from prognosis.imaging import filters

    rng = np.random.default_rng(0)
    image = (ndimage.gaussian_filter(rng.normal(size=(401, 303)), 8) * 20
             + rng.normal(size=(401, 303)) * 0.05).astype(np.float32)
    centres = [0.07, 0.12, 0.2, 0.35]
    sigmas = sorted(set(centres + [3 * c for c in centres]))
    fast = filters.gaussian_cascade(image, sigmas, 0.1)
    detect_min = filters.COARSE_MIN_SIGMA_PX
    try:
        filters.COARSE_MIN_SIGMA_PX = np.inf
        exact = filters.gaussian_cascade(image, sigmas, 0.1)
    finally:
        filters.COARSE_MIN_SIGMA_PX = detect_min
    for c in centres:
        reference = exact[c] - exact[3 * c]
        error = (fast[c] - fast[3 * c] - reference)[40:-40, 40:-40]
        mad = np.median(np.abs(reference - np.median(reference)))
        assert np.abs(error).max() < 0.05 * mad and np.sqrt(np.mean(error ** 2)) < 0.01 * mad


def test_outlines_need_their_own_seed_and_faint_ones_a_group():
    # 1 is bright; 2 and 3 are faint, within 2.5 mm of 1 (a group of three); 4 is as faint but
    # alone; 5 (a piece of a region cut at half its peak) holds no seed pixel at all
    from prognosis.imaging.detect import _accepted_outlines

    labels = np.zeros((80, 80), np.int32)
    cnr = np.zeros((80, 80), np.float32)
    for label, (row, col), value in [(1, (10, 10), 6.0), (2, (10, 25), 4.2), (3, (24, 12), 4.2),
                                     (4, (65, 65), 4.2), (5, (14, 16), 3.0)]:
        labels[row:row + 2, col:col + 2] = label
        cnr[row:row + 2, col:col + 2] = value
    params = ExtractionParameters()
    seeds = cnr >= params.faint_seed_cnr
    accepted = _accepted_outlines(labels, 5, seeds, cnr, 0.1, params)
    assert accepted.tolist() == [False, True, True, True, False, False]
    # with the faint threshold at the seed threshold only the bright one is left
    strict = replace(params, faint_seed_cnr=params.seed_cnr)
    accepted = _accepted_outlines(labels, 5, cnr >= strict.seed_cnr, cnr, 0.1, strict)
    assert accepted.tolist() == [False, True, False, False, False, False]
    # the group radius is in mm: at 0.2 mm per pixel 2 and 3 are 3 mm away, too far
    accepted = _accepted_outlines(labels, 5, seeds, cnr, 0.2, params)
    assert accepted.tolist() == [False, True, False, False, False, False]


def test_candidates_are_numbered_without_gaps_and_each_holds_a_seed():
    from prognosis.imaging import detect

    pixels, _ = _view(0.1, "crushed_stone", 5)
    mask = np.zeros(pixels.shape, bool)
    mask[100:540, 60:400] = True
    params = ExtractionParameters()
    found = detect.detect_candidates(pixels, 0.1, mask, params)
    assert found.n_candidates > 0
    assert np.array_equal(np.unique(found.labels), np.arange(found.n_candidates + 1))
    peak = ndimage.maximum(found.cnr, found.labels, index=np.arange(1, found.n_candidates + 1))
    assert np.all(peak >= params.faint_seed_cnr)


def test_surround_shares_a_centre_blur_only_when_within_six_percent():
    from prognosis.imaging.detect import _shared_blur

    centres = [0.07, 0.12, 0.2, 0.35]
    assert _shared_blur(0.21, centres) == 0.2          # 5% above 0.2
    assert _shared_blur(0.36, centres) == 0.35
    assert _shared_blur(0.6, centres) == 0.6           # no centre near: its own blur
    assert _shared_blur(0.19, [0.2]) == 0.2            # within 6% below a centre, too
    assert _shared_blur(0.18, [0.2]) == 0.18
