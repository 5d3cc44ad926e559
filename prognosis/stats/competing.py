"""Competing risks: breast-cancer death with death from other causes competing.

One call, :func:`competing_risks`, gives what science.md §4.5 asks for: the Aalen–Johansen
cumulative incidence of the cause of interest (and of the competing causes) per group with
Gray's test (:mod:`prognosis.stats.competing_cif`, as R ``cmprsk::cuminc``), the cause-specific
Cox model (:func:`prognosis.stats.cox.fit_cox` on ``cause == cause_of_interest``, as
``coxph(Surv(time, status == cause) ~ ...)``) and the Fine–Gray subdistribution-hazards model
(:mod:`prognosis.stats.fine_gray`, as ``cmprsk::crr``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from prognosis.errors import ModelError
from prognosis.stats.checks import check_competing, check_times_at
from prognosis.stats.competing_cif import CIFCurve, GrayTest, aalen_johansen, gray_test
from prognosis.stats.cox import CoxResult, fit_cox
from prognosis.stats.design import Design
from prognosis.stats.fine_gray import FineGrayResult, fit_fine_gray

logger = logging.getLogger(__name__)

__all__ = ["CompetingRisksResult", "cause_specific_cox", "competing_risks"]


@dataclass(frozen=True)
class CompetingRisksResult:
    """Cumulative incidence per group, Gray's test and the two regressions.

    ``cif`` maps each group to the CIF of the cause of interest; ``competing_cif`` maps each
    competing cause to its CIFs per group. ``gray_test`` is None with a single group;
    ``cause_specific`` and ``fine_gray`` are None without a design.
    """

    cause_of_interest: str
    competing_causes: tuple[str, ...]
    groups: tuple[str, ...]
    cif: dict[str, CIFCurve]
    competing_cif: dict[str, dict[str, CIFCurve]]
    gray_test: GrayTest | None
    cause_specific: CoxResult | None
    fine_gray: FineGrayResult | None
    times: tuple[float, ...] = ()

    def to_dict(self) -> dict:
        return {
            "cause_of_interest": self.cause_of_interest,
            "competing_causes": list(self.competing_causes),
            "cif": {g: curve.to_dict() for g, curve in self.cif.items()},
            "competing_cif": {c: {g: curve.to_dict() for g, curve in by_group.items()}
                              for c, by_group in self.competing_cif.items()},
            "gray_test": None if self.gray_test is None else self.gray_test.to_dict(),
            "cause_specific": None if self.cause_specific is None else self.cause_specific.to_dict(),
            "fine_gray": None if self.fine_gray is None else self.fine_gray.to_dict(),
        }


def cause_specific_cox(time: np.ndarray, cause_codes: np.ndarray, design: Design, *, cause_of_interest: object,
                       ties: str = "efron", conf_level: float = 0.95) -> CoxResult:
    """Cause-specific Cox model: other causes are treated as censoring at their time.

    References
    ----------
    R ``survival::coxph(Surv(time, status == cause) ~ ...)``.
    """
    time, codes = check_competing(time, cause_codes, causes=None, design=design.matrix)
    event = (codes == cause_of_interest).astype(float)
    return fit_cox(time, event, design, ties=ties, conf_level=conf_level)


def _label(value: object) -> str:
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def competing_risks(time: np.ndarray, cause_codes: np.ndarray, *, cause_of_interest: object,
                    censor_code: object = 0, group: np.ndarray | None = None,
                    group_levels: Sequence[str] | None = None, design: Design | None = None,
                    times: Sequence[float] = (), conf_level: float = 0.95) -> CompetingRisksResult:
    """Cumulative incidence, Gray's test, cause-specific Cox and Fine–Gray in one call.

    Parameters
    ----------
    time : ndarray
        Follow-up to the first event or censoring (> 0).
    cause_codes : ndarray
        What ended follow-up: ``censor_code`` for censoring, otherwise the cause (any codes,
        e.g. 0 censored, 1 breast-cancer death, 2 other death).
    cause_of_interest : object
        The code of the cause studied; every other non-censoring code competes.
    censor_code : object
        The code of censoring.
    group : ndarray, optional
        Group of each patient for the CIFs and Gray's test (compared as text).
    group_levels : sequence of str, optional
        Order of the groups (default: sorted); levels absent from the data are left out, as
        cuminc does.
    design : Design, optional
        Covariates of the cause-specific Cox and Fine–Gray models (one row per patient).
    times : sequence of float
        Times at which the CIFs are reported (R ``cmprsk::timepoints``).

    Returns
    -------
    CompetingRisksResult

    Raises
    ------
    ModelError
        Bad inputs (lengths, missing or non-positive times), no event of the cause of interest,
        or a model that cannot be fitted (the message names the terms).

    References
    ----------
    R ``cmprsk::cuminc``, ``cmprsk::timepoints``, ``cmprsk::crr``; ``survival::coxph``.
    """
    time, codes = check_competing(time, cause_codes, causes=None, censor_code=censor_code, group=group,
                                  design=None if design is None else design.matrix)
    cause_event = codes == cause_of_interest
    if not cause_event.any():
        raise ModelError(f"no patient has the cause of interest ({cause_of_interest!r}), so competing risks "
                         "cannot be estimated")
    censored = codes == censor_code
    competing = sorted({c for c in codes[~censored & ~cause_event]}, key=_label)
    status = np.where(cause_event, 1, np.where(censored, 0, 2))

    labels = (np.array(["all"] * time.size, dtype=object) if group is None
              else np.asarray(group).astype(str).astype(object))
    if labels.shape != time.shape:
        raise ModelError("group must have one value per patient")
    present = set(labels)
    levels = [str(g) for g in (group_levels if group_levels is not None else sorted(present)) if str(g) in present]
    unknown = present - set(levels)
    if unknown:
        # Counted, not quoted: a stray value is a patient's (this text can reach results.json).
        raise ModelError(f"group has {len(unknown)} value(s) not in group_levels ({', '.join(map(str, group_levels))}); "
                         "recode them or add them to group_levels")
    at = check_times_at(times)
    cause_label = _label(cause_of_interest)

    def curves(event: np.ndarray, cause: str) -> dict[str, CIFCurve]:
        out = {}
        for level in levels:
            rows = labels == level
            other = ~censored[rows] & ~event[rows]
            out[level] = aalen_johansen(time[rows], event[rows], other, group=level, cause=cause,
                                        times=at, conf_level=conf_level)
        return out

    cif = curves(cause_event, cause_label)
    competing_cif = {_label(c): curves(codes == c, _label(c)) for c in competing}
    gray = None
    if len(levels) > 1:
        index = np.array([levels.index(g) for g in labels])
        gray = gray_test(time, status, index, cause=cause_label)
    cause_specific = fine_gray = None
    if design is not None:
        if len(design.matrix) != time.size:
            raise ModelError("the design must have one row per patient")
        cause_specific = fit_cox(time, cause_event.astype(float), design, conf_level=conf_level)
        fine_gray = fit_fine_gray(time, status, design, conf_level=conf_level)
    logger.debug("competing risks: %d patients, %d groups", time.size, len(levels))
    return CompetingRisksResult(
        cause_of_interest=cause_label, competing_causes=tuple(_label(c) for c in competing), groups=tuple(levels),
        cif=cif, competing_cif=competing_cif, gray_test=gray, cause_specific=cause_specific,
        fine_gray=fine_gray, times=at)
