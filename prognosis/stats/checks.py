"""Input checks shared by the statistical functions: validate once, at the boundary.

Every public function in :mod:`prognosis.stats` that takes raw follow-up calls one checker on
entry: :func:`check_survival` (time and a 0/1 event), :func:`check_competing` (time and a
multi-state status: censored or one of the declared causes) or :func:`check_time` (time alone).
The code below that line trusts its arrays. Each checker raises :class:`~prognosis.errors.ModelError`
with a message that says what is wrong and what to do, so a library caller gets the same named
error as the command line, never a numpy traceback or a silently wrong estimate.

The checkers also merge near-tied times, as R's survival package does (:func:`merge_near_ties`), so
that every estimate downstream (Kaplan–Meier, log-rank, Cox, concordance, and the statsmodels,
lifelines and scikit-survival calls made with the checked arrays) sees the same ties as R.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
import pandas as pd

from prognosis.errors import ModelError

logger = logging.getLogger(__name__)

#: R's ``sqrt(.Machine$double.eps)``, survival's default tolerance for tied times (about 1.49e-8).
NEAR_TIE_TOLERANCE = float(np.sqrt(np.finfo(float).eps))

__all__ = ["NEAR_TIE_TOLERANCE", "check_competing", "check_indicator", "check_survival", "check_time",
           "check_times_at", "merge_near_ties"]


def merge_near_ties(time: np.ndarray, *, tolerance: float = NEAR_TIE_TOLERANCE) -> np.ndarray:
    """Replace times that are equal within floating-point tolerance by one common value, as R does.

    Two neighbouring distinct times ``a < b`` are tied when ``b - a <= tolerance`` or
    ``(b - a) / mean(|y|) <= tolerance``, ``y`` the distinct finite times. A run of tied neighbours
    forms one group (the rule is applied between neighbours, so a group may span more than the
    tolerance), and every time in a group becomes the group's smallest value. So ``2`` and
    ``sqrt(2)**2 = 2.0000000000000004`` are one time, ``2``.

    Parameters
    ----------
    time : ndarray
        Follow-up times. NaN stays NaN, as in R; an infinite time is left as it is (R maps it to the
        last cut), which the checkers never meet because they refuse infinite times first.
    tolerance : float
        The tolerance; ``0`` (or less) turns the merging off, as R's ``timefix = FALSE``.

    Returns
    -------
    ndarray
        A float array of the same shape: the input itself when nothing is tied, otherwise a copy.

    References
    ----------
    R ``survival:::aeqSurv`` (survival 3.x), called by ``survfit``, ``survdiff``, ``coxph``
    (``coxph.control(timefix = TRUE)``) and ``concordance`` unless ``timefix = FALSE``; see the
    survival vignette "Roundoff error and tied times" (Therneau, 2016).
    """
    time = np.asarray(time, dtype=float)
    if tolerance <= 0 or time.size < 2:
        return time
    distinct = np.unique(time[np.isfinite(time)])
    if distinct.size < 2:
        return time
    gaps = np.diff(distinct)
    # R's mean() sums in long double: so does this, and a sum near the float maximum cannot overflow.
    scale = float(np.mean(np.abs(distinct), dtype=np.longdouble))
    tied = (gaps <= tolerance) | (gaps / scale <= tolerance)
    if not tied.any():
        return time
    cuts = distinct[np.concatenate(([True], ~tied))]
    # R: cuts[findInterval(x, cuts)], the last cut at or below each time.
    index = np.searchsorted(cuts, time, side="right") - 1
    merged = np.where(np.isfinite(time), cuts[np.clip(index, 0, None)], time)
    logger.debug("merged %d near-tied times into %d", distinct.size, cuts.size)
    return merged


def _patients(flags: np.ndarray) -> str:
    n = int(np.count_nonzero(flags))
    return f"{n} patient" if n == 1 else f"{n} patients"


def _as_float(values: object, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ModelError(f"{name} must be numeric; convert it (and code missing values as NaN) "
                         "before the analysis") from None
    if array.ndim != 1:
        raise ModelError(f"{name} must be a one-dimensional array with one value per patient, "
                         f"not an array of shape {array.shape}")
    return array


def check_time(time: object, *, what: str = "the cohort", merge: bool = True) -> np.ndarray:
    """Return follow-up times as a float array after checking them, near ties merged.

    Parameters
    ----------
    time : array-like
        Follow-up of each patient.
    what : str
        Name of the data in messages (e.g. "subgroup er = negative").
    merge : bool
        Merge near-tied times (:func:`merge_near_ties`); False keeps them as given.

    Raises
    ------
    ModelError
        Not numeric or not one-dimensional, empty, missing (NaN), infinite, or not positive.

    Notes
    -----
    R's survival accepts zero and negative times for right-censored data; prognosis refuses them,
    as the cohort assembler does, because in a cohort study they are data errors.
    """
    time = _as_float(time, "time")
    if time.size == 0:
        raise ModelError(f"{what} has no patients to analyse")
    if np.isnan(time).any():
        raise ModelError(f"time is missing for {_patients(np.isnan(time))} in {what}; "
                         "drop or impute those patients first")
    if np.isinf(time).any():
        raise ModelError(f"time is infinite for {_patients(np.isinf(time))} in {what}; follow-up must be a "
                         "finite number (censor a patient at the last contact, not at infinity)")
    if (time <= 0).any():
        raise ModelError(f"follow-up times must be positive: zero or negative for {_patients(time <= 0)} in {what}")
    return merge_near_ties(time) if merge else time


def check_times_at(times: object, *, name: str = "times") -> tuple[float, ...]:
    """Return the times at which estimates are reported (S(t), AUC, CIF at t) as a tuple of floats.

    A single number counts as one time. Unlike follow-up, these are not merged or required to be
    positive: S(0) = 1 is a fair question.

    Raises
    ------
    ModelError
        Not numeric, missing (NaN) or infinite: S(NaN) has no meaning and would otherwise be
        reported as a number.
    """
    try:
        values = np.asarray(times, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise ModelError(f"{name} must be numbers (times at which to report estimates)") from None
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise ModelError(f"{name} must be finite numbers: {bad} of {values.size} are missing or infinite; "
                         "give times within the follow-up")
    return tuple(float(t) for t in values)


def check_indicator(values: object, n: int, *, name: str = "event", what: str = "the cohort") -> np.ndarray:
    """Return a 0/1 indicator (bool accepted) of length ``n`` as a float array.

    Raises
    ------
    ModelError
        Not numeric, wrong length, missing, or a value other than 0 and 1.
    """
    values = _as_float(values, name)
    if values.size != n:
        raise ModelError(f"time and {name} must have the same length ({n} and {values.size}) in {what}")
    if np.isnan(values).any():
        raise ModelError(f"{name} is missing for {_patients(np.isnan(values))} in {what}; "
                         "drop or impute those patients first")
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        raise ModelError(f"{name} must be coded 0 (censored) or 1 (event), but is another value for {_patients(bad)} "
                         f"in {what}; recode it (for several causes of failure use the competing-risks functions)")
    return values


def _check_matching(n: int, what: str, matching: dict[str, object]) -> None:
    """Every extra array (group, strata, covariates, risk score) has one value per patient, none missing."""
    for name, values in matching.items():
        if values is None:
            continue
        frame = values.to_frame() if isinstance(values, pd.Series) else values
        if not isinstance(frame, pd.DataFrame):
            array = np.asarray(values, dtype=object)
            if array.ndim == 0:
                raise ModelError(f"{name} must have one value per patient in {what}, not a single value")
            frame = pd.DataFrame(array.reshape(array.shape[0], -1))
        if len(frame) != n:
            raise ModelError(f"{name} must have one value per patient: {len(frame)} values for {n} patients in {what}")
        missing = frame.isna().to_numpy().reshape(n, -1).any(axis=1)
        if missing.any():
            raise ModelError(f"{name} has missing values for {_patients(missing)} in {what}; "
                             "drop or impute them first")
        numeric = frame.select_dtypes(include="number").to_numpy(dtype=float)
        if numeric.size and np.isinf(numeric).any():
            raise ModelError(f"{name} has infinite values in {what}; every value must be a finite number")


def check_survival(time: object, event: object, *, what: str = "the cohort", require_events: bool = True,
                   **matching: object) -> tuple[np.ndarray, np.ndarray]:
    """Return ``time`` and ``event`` as float arrays after checking them, near-tied times merged.

    Parameters
    ----------
    time, event : array-like
        Follow-up (> 0, finite) and event indicator (0 censored, 1 event; bool accepted).
    what : str
        Name of the data in messages.
    require_events : bool
        Refuse data with no event (True, for models and tests); a Kaplan–Meier curve of a group
        without events is still defined, so :func:`~prognosis.stats.km.kaplan_meier` passes False.
    **matching : array-like
        Further per-patient arrays by name (``group=``, ``strata=``, ``design=``, ``risk=``): each
        must have one value (row) per patient and no missing or infinite value. ``None`` is skipped.

    Returns
    -------
    time, event : ndarray
        ``time`` with near ties merged as R does (:func:`merge_near_ties`).

    Raises
    ------
    ModelError
        Lengths differ, values are missing or infinite, follow-up is not positive, events are
        not 0/1, a matching array has the wrong length or missing values, or (with
        ``require_events``) there is no event.

    References
    ----------
    R ``survival::Surv`` (status 0/1 or FALSE/TRUE) and ``survival:::aeqSurv``.
    """
    time = check_time(time, what=what)
    event = check_indicator(event, time.size, name="event", what=what)
    _check_matching(time.size, what, matching)
    if require_events and event.sum() == 0:
        raise ModelError(f"{what} has no events, so no survival model can be estimated")
    return time, event


def check_competing(time: object, status: object, *, causes: Iterable[object] | None = (1, 2),
                    censor_code: object = 0, what: str = "the cohort",
                    **matching: object) -> tuple[np.ndarray, np.ndarray]:
    """Return ``time`` and a multi-state ``status`` after checking them, near-tied times merged.

    Parameters
    ----------
    time : array-like
        Follow-up to the first event or censoring (> 0, finite).
    status : array-like
        What ended follow-up: ``censor_code`` or one of ``causes``.
    causes : iterable, optional
        The declared cause codes (default 1 = cause of interest, 2 = competing cause, as
        :func:`~prognosis.stats.fine_gray.fit_fine_gray` codes them). ``None`` accepts any
        non-missing code as a cause (the codes are then compared as given, e.g. text).
    censor_code : object
        The code of censoring.
    **matching : array-like
        Further per-patient arrays, as for :func:`check_survival`.

    Returns
    -------
    time : ndarray
        Near ties merged as R's ``survfit`` does for multi-state data.
    status : ndarray
        Integer codes when every declared code is an integer, otherwise the values as given
        (object array).

    Raises
    ------
    ModelError
        Lengths differ, missing or infinite values, non-positive follow-up, or a status that is
        neither the censoring code nor a declared cause.

    Notes
    -----
    R ``cmprsk`` compares times exactly; ``survival::survfit`` (Aalen–Johansen) and
    ``survival::finegray`` merge near ties. prognosis merges them everywhere, so the cumulative
    incidence, Gray's test and Fine–Gray model agree with the cause-specific Cox model on which
    times are tied.
    """
    time = check_time(time, what=what)
    codes = np.asarray(status, dtype=object)
    if codes.ndim != 1 or codes.size != time.size:
        raise ModelError(f"time and status must be one-dimensional arrays of the same length "
                         f"({time.size} and {codes.size}) in {what}")
    missing = pd.isna(pd.Series(codes)).to_numpy()
    if missing.any():
        raise ModelError(f"status is missing for {_patients(missing)} in {what}; drop those patients or code "
                         f"them as censored ({censor_code!r})")
    _check_matching(time.size, what, matching)
    if causes is None:
        return time, codes
    declared = [censor_code, *causes]
    if all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in declared):
        numeric = _as_float(codes, "status") if codes.size else np.zeros(0)
        bad = ~np.isin(numeric, np.asarray(declared, dtype=float))
        if bad.any():
            raise ModelError(f"status must be {censor_code!r} (censored) or one of the causes "
                             f"{', '.join(map(repr, causes))}, but is another code for {_patients(bad)} in {what}; "
                             "recode them")
        return time, numeric.astype(int)
    bad = np.array([not any(_same_code(c, d) for d in declared) for c in codes], dtype=bool)
    if bad.any():
        raise ModelError(f"status must be {censor_code!r} (censored) or one of the causes "
                         f"{', '.join(map(repr, causes))}, but is another code for {_patients(bad)} in {what}; "
                         "recode them")
    return time, codes


def _same_code(value: object, code: object) -> bool:
    try:
        return bool(value == code)
    except (TypeError, ValueError):
        return False
