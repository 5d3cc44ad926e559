"""Every tunable threshold of the calcification extractor, in one frozen dataclass.

All sizes are in millimetres (or mm², or mm⁻² for densities) and all contrasts are ratios
(contrast-to-noise) or fractions, never pixels, so that detectors fed 0.05, 0.07 and 0.1 mm
images behave alike. The values used are written to the output's provenance
(:meth:`ExtractionParameters.to_dict`); :func:`parameters_from` applies overrides.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from prognosis.errors import SpecError

logger = logging.getLogger(__name__)

CLASSIFIERS = ("learned", "rules")


@dataclass(frozen=True)
class ExtractionParameters:
    """Thresholds of the reader, detector, cluster finder and classification rules.

    Parameters
    ----------
    working_spacing_mm : float
        Every image is resampled (area-averaged) to this pixel size before any analysis, which
        is what makes 0.05, 0.07 and 0.1 mm images behave alike. Images coarser than this are
        analysed at their own spacing.
    default_pixel_spacing_mm : float or None
        Pixel size to assume when the header has none; ``None`` rejects such files.
    breast_smoothing_mm, skin_margin_mm, min_breast_area_mm2
        Breast mask: Gaussian smoothing before Otsu's threshold, the rim excluded from
        detection, and the smallest breast accepted.
    full_thickness_fraction : float
        The analysed region leaves out the thinning rim: pixels below this fraction of the way
        from air to the median breast intensity (2 mm smoothing).
    pectoral_max_fraction : float
        The pectoral triangle on MLO may cover at most this fraction of the breast mask.
    tophat_size_mm : float
        Side of the square structuring element of the white top-hat that removes the background;
        structures wider than this are background.
    detection_sigmas_mm : tuple of float
        Gaussian scales of the matched filters (a blob of diameter d responds best near d / 2.8).
    surround_ratio : float
        Each matched filter is a difference of Gaussians, centre sigma minus ``surround_ratio``
        times sigma, so tissue texture broader than the surround cancels.
    outline_fraction : float
        A candidate's outline is where its top-hat exceeds this fraction of its peak (0.5: FWHM).
    noise_block_mm : float
        Side of the blocks in which the local median and MAD of each filter response are
        measured (the local noise of the contrast-to-noise ratio).
    seed_cnr, grow_cnr : float
        Hysteresis thresholds on the local contrast-to-noise ratio: a candidate needs one pixel
        above ``seed_cnr`` inside its own outline; its region is traced down to ``grow_cnr``.
        (Phantoms of a 6.4 x 5.1 cm field: ~0.8 false positives per image at 4.5, ~4 at 4.0.)
    faint_seed_cnr, faint_group_radius_mm : float
        A candidate that reaches only ``faint_seed_cnr`` is kept when at least
        ``cluster_min_count - 1`` other candidates lie within ``faint_group_radius_mm`` of it:
        faint calcifications count only as part of a group (powdery calcifications are faint
        and numerous). With ~4 noise peaks above 4.0 in such a field, two falling within 2.5 mm
        of a third is rare (phantoms: false positives per image unchanged, powdery particles
        found 0.19 -> 0.25). Set ``faint_seed_cnr`` to ``seed_cnr`` to turn it off.
    min_diameter_mm, max_length_mm : float
        Candidates with an equivalent diameter below, or a length above, these are dropped
        (vessels, ligaments, skin folds are longer than calcifications).
    cluster_link_distance_mm, cluster_min_count : float, int
        Single-linkage clusters: calcifications closer than the link distance join; a cluster
        needs at least ``cluster_min_count`` members (BI-RADS "grouped": >= 5 within 1 cm; 3 is
        the usual lower bound in CAD).
    elongated_min_ratio, fine_max_width_mm : float
        A particle is *elongated* if length / width >= this and *fine* if its calibre is below
        ``fine_max_width_mm`` (science.md: casting calibre < 0.5 mm; crushed stone usually
        < 0.5 mm). A cluster whose median calibre is not fine is ``coarse_benign``.
    coarse_min_diameter_mm, coarse_min_width_mm, coarse_min_cnr : float
        Particles at least this large (equivalent diameter) and this thick (calibre) are coarse
        (popcorn > 2-3 mm, dystrophic > 1 mm, rod-like >= 0.5 mm); fine casts are long but thin.
        They must also be dense: a calcification a millimetre across holds about a millimetre
        of calcium and stands far above the noise (phantoms: 95% of them above CNR 14), while
        millimetre blobs barely above the seed threshold (CNR 4.5-5.5) are tissue.
    coarse_min_fraction, coarse_max_fine_count : float, int
        A cluster is ``coarse_benign`` if at least this fraction of its particles, or of its
        calcified area with at most ``coarse_max_fine_count`` fine particles beside it, is
        coarse: one popcorn or dystrophic calcification often shows as one large particle and
        two or three fragments of its lobes or rim; five or more fine particles (BI-RADS
        "grouped") are a group in their own right and are not hidden by a large neighbour.
    casting_min_score : float
        A cluster is ``casting`` if its casting score (see :func:`prognosis.imaging.classify.casting_score`)
        reaches this.
    casting_min_elongated_fraction : float
        ... and if at least this fraction of its particles is fine and elongated: fine-linear is
        a particle morphology (BI-RADS), so round particles in a line are not casting however
        well they line up (phantoms: casting clusters >= 0.55; false casting calls from three or
        four specks, one of them elongated, 0.25-0.33).
    casting_weight_elongated, casting_weight_branching, casting_weight_alignment, casting_weight_linearity : float
        Weights of the casting score (they sum to 1).
    powdery_max_diameter_mm, powdery_max_cnr : float
        A cluster whose median particle diameter is below ``powdery_max_diameter_mm`` and whose
        upper quartile of peak CNR is below ``powdery_max_cnr`` is ``powdery`` (amorphous: "too
        small or hazy to assign a shape"), before the casting rule. Hazy specks' outlines spread
        to 0.3-0.45 mm at the working pixel size, so the size cap only rules out particles that
        are clearly not tiny (0.5 mm, the fine calibre). The upper quartile, not the median,
        tells crushed stone (varying sizes: its larger fragments stand out, phantoms >= 7.9)
        from uniformly faint powdery clusters (phantoms <= 7.3).
    focus_merge_distance_mm : float
        Suspicious clusters closer than this belong to one focus (no published value: science.md §2).
    diffuse_min_extent_mm : float
        A focus at least this long is *diffuse* growth along the ducts of a lobe.
    extensive_min_extent_mm : float
        Extent at or above this is *extensive* (Tot: limited < 40 mm).
    classifier : {"learned", "rules"}
        ``learned`` (default): classes and calibrated per-breast probabilities from the model of
        :mod:`prognosis.imaging.learned`, fitted on the tuning phantom families; the rules above
        still run and their call is kept as ``rule_class`` per cluster. ``rules``: the
        transparent rules alone (no probabilities).
    casting_threshold : float
        With the learned classifier, a breast (or a single view) is called ``casting`` when its
        casting probability reaches this. The default, 0.15, was chosen on the tuning families
        alone: in leave-one-family-out folds of the training tables (each family scored by a model
        fitted without it), the threshold on a 0.05 grid with the largest mean Youden index
        (sensitivity + specificity - 1) over the folds. It is below 0.5 because on images unlike
        the training ones the casting probability comes out too low (the held-out calibration
        table of ``benchmarks/imaging_families.py`` shows it); a breast with no evidence at all
        gets about 0.03. Raise it for fewer false casting calls, lower it for fewer missed ones;
        the misclassification analysis of a survival spec should take the sensitivity and
        specificity measured at the threshold used.
    """

    working_spacing_mm: float = 0.1
    default_pixel_spacing_mm: float | None = None
    breast_smoothing_mm: float = 2.0
    skin_margin_mm: float = 3.0
    min_breast_area_mm2: float = 400.0
    pectoral_max_fraction: float = 0.35
    full_thickness_fraction: float = 0.8
    tophat_size_mm: float = 2.5
    detection_sigmas_mm: tuple[float, ...] = (0.07, 0.12, 0.2, 0.35)
    surround_ratio: float = 3.0
    outline_fraction: float = 0.5
    noise_block_mm: float = 8.0
    seed_cnr: float = 4.5
    grow_cnr: float = 2.5
    faint_seed_cnr: float = 4.0
    faint_group_radius_mm: float = 2.5
    min_diameter_mm: float = 0.1
    max_length_mm: float = 8.0
    cluster_link_distance_mm: float = 5.0
    cluster_min_count: int = 3
    elongated_min_ratio: float = 2.5
    fine_max_width_mm: float = 0.5
    coarse_min_diameter_mm: float = 1.0
    coarse_min_width_mm: float = 0.6
    coarse_min_cnr: float = 8.0
    coarse_min_fraction: float = 0.5
    coarse_max_fine_count: int = 4
    casting_min_score: float = 0.45
    casting_min_elongated_fraction: float = 0.5
    casting_weight_elongated: float = 0.4
    casting_weight_branching: float = 0.15
    casting_weight_alignment: float = 0.25
    casting_weight_linearity: float = 0.2
    powdery_max_diameter_mm: float = 0.5
    powdery_max_cnr: float = 8.0
    focus_merge_distance_mm: float = 15.0
    diffuse_min_extent_mm: float = 60.0
    extensive_min_extent_mm: float = 40.0
    classifier: str = "learned"
    casting_threshold: float = 0.15

    def __post_init__(self):
        if self.classifier not in CLASSIFIERS:
            raise SpecError(f"extraction parameter classifier: {self.classifier!r} is not one of {list(CLASSIFIERS)}")
        if not 0 < self.casting_threshold < 1:
            raise SpecError(f"extraction parameter casting_threshold: {self.casting_threshold!r} must lie "
                            "strictly between 0 and 1")

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for provenance (tuples become lists)."""
        out = asdict(self)
        out["detection_sigmas_mm"] = list(self.detection_sigmas_mm)
        return out


def parameters_from(overrides: Mapping[str, Any] | None = None,
                    base: ExtractionParameters | None = None) -> ExtractionParameters:
    """Return the defaults (or ``base``) with ``overrides`` applied.

    Raises
    ------
    SpecError
        An override names no parameter, or has a value of the wrong kind.
    """
    base = base or ExtractionParameters()
    if not overrides:
        return base
    known = {f.name: f for f in fields(ExtractionParameters)}
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise SpecError(f"unknown extraction parameter(s) {unknown}; known: {sorted(known)}")
    clean: dict[str, Any] = {}
    for name, value in overrides.items():
        current = getattr(base, name)
        try:
            if isinstance(current, tuple):
                clean[name] = tuple(float(v) for v in value)
            elif isinstance(current, bool):
                clean[name] = bool(value)
            elif isinstance(current, int):
                clean[name] = int(value)
            elif value is None:
                clean[name] = None
            elif isinstance(current, str):
                if not isinstance(value, str):
                    raise TypeError("expected text")
                clean[name] = value
            else:
                clean[name] = float(value)
        except (TypeError, ValueError) as exc:
            raise SpecError(f"extraction parameter {name}: {value!r} is not a valid value ({exc})") from exc
    return replace(base, **clean)
