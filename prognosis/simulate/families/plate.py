"""Family ``plate`` (HELD OUT of all tuning): a mixed, noisier acquisition mix with every display curve.

Any pitch of 0.05-0.1 mm, mixed power-law + clustered lumpy background, Gaussian or sinc MTF
with a wide spread (0.05-0.1 mm, noise blurred with it, as in a storage-phosphor plate), four
dose levels down to a quarter of the native dose with high electronic noise, always For
Presentation through a sigmoid, log or gamma curve with or without unsharp masking, thick and thin
breasts, many ligaments and vessels, weak-to-dense calcium, long casts and more calcified vessels.
"""

from __future__ import annotations

from prognosis.simulate.families.base import Family, FamilyRanges
from prognosis.simulate.families.shapes import ShapeRanges

RANGES = FamilyRanges(
    spacings_mm=(0.05, 0.06, 0.075, 0.1),
    background=("mixed",),
    beta=(2.5, 3.5),
    lumpy_clusters_per_cm2=(1.0, 8.0),
    lumpy_blob_sigma_mm=(0.6, 3.0),
    lumpy_anisotropy=(1.0, 4.0),
    gland_mean=(0.15, 0.6),
    gland_sd=(0.06, 0.2),
    thickness_mm=(30.0, 75.0),
    n_ligaments=(6, 16),
    ligament_width_mm=(0.3, 1.2),
    n_vessels=(2, 5),
    mtf=("gaussian", "sinc"),
    mtf_sigma_mm=(0.05, 0.1),
    aperture_px=(0.8, 1.6),
    noise_before_blur=True,
    photons_per_mm2=(2.5e6, 5e6, 1e7, 2e7),
    electronic_noise=(3.0, 8.0),
    mu_calcium_per_mm=(0.6, 1.4),
    presentation_probability=1.0,
    luts=("sigmoid", "log", "gamma"),
    unsharp_amount=(0.0, 1.2),
    unsharp_sigma_mm=(0.8, 6.0),
    shapes=ShapeRanges(cast_extent_mm=(10.0, 50.0), crushed_count=(6, 30), crushed_size_mm=(0.12, 0.8),
                       powdery_count=(10, 50), powdery_size_mm=(0.1, 0.3), powdery_density=(0.3, 0.9),
                       vascular_distractor_probability=0.35),
)

FAMILY = Family("plate", "PL", RANGES, __doc__.splitlines()[0])
