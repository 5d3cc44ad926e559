"""Family ``selenium``: a direct-conversion (a-Se) detector with a sigmoid For Presentation curve.

Fine pitch (0.05 or 0.07 mm), sinc-like MTF of a box aperture about one pixel wide and a small
focal-spot blur, white quantum noise at three dose levels, power-law texture with beta in
2.5-3.5, a sigmoid display curve with mild unsharp masking, dense calcium.
"""

from __future__ import annotations

from prognosis.simulate.families.base import Family, FamilyRanges
from prognosis.simulate.families.shapes import ShapeRanges

RANGES = FamilyRanges(
    spacings_mm=(0.05, 0.07),
    background=("power_law",),
    beta=(2.5, 3.5),
    mtf=("sinc",),
    mtf_sigma_mm=(0.01, 0.03),
    aperture_px=(0.9, 1.1),
    noise_before_blur=False,
    photons_per_mm2=(4e6, 8e6, 1.6e7),
    electronic_noise=(1.0, 3.0),
    mu_calcium_per_mm=(0.9, 1.5),
    presentation_probability=0.6,
    luts=("sigmoid",),
    sigmoid_slope=(3.0, 7.0),
    unsharp_amount=(0.2, 0.8),
    unsharp_sigma_mm=(1.5, 4.0),
    shapes=ShapeRanges(),
)

FAMILY = Family("selenium", "SE", RANGES, __doc__.splitlines()[0])
