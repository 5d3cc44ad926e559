"""Family ``csi``: an indirect (CsI scintillator) detector with log/gamma curves and strong enhancement.

Coarser pitch (0.07-0.1 mm), Gaussian light-spread MTF 0.04-0.08 mm that blurs the quantum noise
too (correlated noise), lower doses and more electronic noise, clustered lumpy background,
log or gamma display curves with strong unsharp masking, weaker calcium contrast; thinner casts,
larger crushed-stone spread and broad, numerous powdery specks.
"""

from __future__ import annotations

from prognosis.simulate.families.base import Family, FamilyRanges
from prognosis.simulate.families.shapes import ShapeRanges

RANGES = FamilyRanges(
    spacings_mm=(0.07, 0.085, 0.1),
    background=("lumpy",),
    lumpy_clusters_per_cm2=(2.0, 6.0),
    lumpy_blob_sigma_mm=(0.8, 2.5),
    lumpy_anisotropy=(1.0, 3.0),
    mtf=("gaussian",),
    mtf_sigma_mm=(0.04, 0.08),
    noise_before_blur=True,
    photons_per_mm2=(3e6, 6e6, 1.2e7),
    electronic_noise=(2.0, 6.0),
    mu_calcium_per_mm=(0.7, 1.3),
    presentation_probability=0.8,
    luts=("log", "gamma"),
    log_strength=(2.0, 10.0),
    gamma=(0.6, 1.5),
    unsharp_amount=(0.5, 1.5),
    unsharp_sigma_mm=(2.0, 6.0),
    n_ligaments=(6, 12),
    shapes=ShapeRanges(cast_calibre_mm=(0.15, 0.5), crushed_size_mm=(0.1, 0.7), crushed_spread_mm=(3.0, 7.0),
                       powdery_count=(15, 60), powdery_size_mm=(0.1, 0.25), powdery_density=(0.3, 0.7),
                       powdery_spread_mm=(3.0, 10.0)),
)

FAMILY = Family("csi", "CS", RANGES, __doc__.splitlines()[0])
