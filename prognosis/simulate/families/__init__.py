"""Randomised phantom families: renderers that differ in what real mammograms differ in.

Each family draws, per breast and from its own ranges, the anatomy (power-law texture with beta in
2.5-3.5, clustered lumpy texture, Cooper's ligaments, vessels), the detector (pixel pitch 0.05-0.1
mm, Gaussian or sinc-like MTF, dose levels, quantum and electronic noise, white or correlated), the
For Presentation processing (sigmoid, log or gamma curves, unsharp masking), the calcium contrast
and the shape models of each class (:mod:`~prognosis.simulate.families.shapes`).

=========  ======================================================================================
family     what it is
=========  ======================================================================================
native     the project's :mod:`prognosis.simulate.phantom` renderer, unchanged (its thresholds
           were set on it)
selenium   direct a-Se detector: 0.05/0.07 mm, sinc MTF, white noise, power law, sigmoid curve
csi        indirect CsI detector: 0.07-0.1 mm, Gaussian MTF, correlated noise, lumpy, log/gamma
plate      **HELD OUT**: any pitch, mixed background, wide blur, low doses, every curve
=========  ======================================================================================

**The held-out family is** :data:`HELD_OUT` (``plate``). No threshold or model of the extractor
may be tuned on it, looked at while tuning, or chosen by its results; tune on the others. Its
figures in ``benchmarks/imaging_families.py`` are the ones that count.

Usage::

    from prognosis.simulate.families import get_family
    get_family("csi").simulate("out/", n=10, seed=1)

or ``prognosis phantom --family csi --out out/ --n 10``.
"""

from __future__ import annotations

from prognosis.simulate.families import csi, native, plate, selenium

FAMILIES = {f.name: f for f in (native.FAMILY, selenium.FAMILY, csi.FAMILY, plate.FAMILY)}
HELD_OUT = "plate"
TUNING = tuple(name for name in FAMILIES if name != HELD_OUT)


def get_family(name: str):
    """The family called ``name`` (one of :data:`FAMILIES`); ``ValueError`` names the choices otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown phantom family {name!r}: choose one of {', '.join(FAMILIES)}") from None


__all__ = ["FAMILIES", "HELD_OUT", "TUNING", "get_family"]
