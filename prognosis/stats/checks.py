"""Input checks shared by the statistical functions: validate once, at the boundary."""

from __future__ import annotations

import numpy as np

from prognosis.errors import ModelError


def check_survival(time: np.ndarray, event: np.ndarray, *, what: str = "the cohort") -> tuple[np.ndarray, np.ndarray]:
    """Return ``time`` and ``event`` as float arrays after checking them.

    Raises
    ------
    ModelError
        Lengths differ, values are missing, follow-up is not positive, events are not 0/1,
        or there is no patient or no event.
    """
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    if time.shape != event.shape or time.ndim != 1:
        raise ModelError("time and event must be one-dimensional arrays of the same length")
    if time.size == 0:
        raise ModelError(f"{what} has no patients to analyse")
    if np.isnan(time).any() or np.isnan(event).any():
        raise ModelError("time and event must not contain missing values")
    if (time <= 0).any():
        raise ModelError("follow-up times must be positive")
    if not np.isin(event, (0.0, 1.0)).all():
        raise ModelError("event must be coded 0 (censored) or 1 (event)")
    if event.sum() == 0:
        raise ModelError(f"{what} has no events, so no survival model can be estimated")
    return time, event
