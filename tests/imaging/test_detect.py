"""Spacing invariance: the same lesion at 0.05, 0.07 and 0.1 mm gives alike detections."""

from __future__ import annotations

import numpy as np
import pytest

from prognosis.imaging.detect import resample_to_spacing
from prognosis.imaging.extract import analyse
from prognosis.imaging.params import ExtractionParameters
from prognosis.simulate.phantom import PhantomParameters, make_lesion, render_view


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
