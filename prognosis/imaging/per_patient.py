"""From one row per breast (what the extractor sees) to one row per patient (what a survival analysis needs).

A patient is the unit of a survival analysis, and a patient has two breasts. The rule that picks
one breast per patient is a choice of the study, so it is explicit and recorded in provenance:

``all``
    Keep one row per breast (key ``patient_id`` + ``laterality``); not joinable as it is.
``tumour``
    Keep the breast on the side of the tumour, read from a table with ``patient_id`` and a side
    column (``L``/``R``). The right choice for a prognostic marker of the tumour: the other breast's
    calcifications belong to another story.
``worst``
    Keep each patient's most suspicious breast: the higher class rank; between breasts of one
    class, the larger extent (a breast without extent counts as the smallest); if both tie, the
    left breast, whatever the order of the rows. For screening images without a known tumour side;
    a benign finding in the contralateral breast can then stand in for the tumour side's "none".

Breasts not kept stay in the ``breasts_detail`` table; patients of the side table without an
image of that side are counted, never invented.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from prognosis.cohort.readers import read_raw
from prognosis.dictionary.validate import rows_sharing_a_key
from prognosis.errors import DataValidationError, Violation
from prognosis.imaging.classify import CLASSES

RULES = ("all", "worst", "tumour")
SIDES = ("L", "R")
_HEADER_ROWS = 1


@dataclass(frozen=True)
class BreastSelection:
    """The breasts kept, and what the rule left out.

    Attributes
    ----------
    breasts : DataFrame
        One row per patient (``tumour``, ``worst``) or per breast (``all``).
    rule : str
    n_breasts_left_out : int
        Extracted breasts not kept (the other side, or a patient absent from the side table).
    patients_without_image : list of str
        Patients of the side table with no extracted image of the tumour's side.
    """

    breasts: pd.DataFrame
    rule: str
    n_breasts_left_out: int = 0
    patients_without_image: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"rule": self.rule, "n_rows": int(len(self.breasts)), "n_breasts_left_out": self.n_breasts_left_out,
                "n_patients_without_image": len(self.patients_without_image)}


def read_tumour_side(path: str | Path, *, column: str = "laterality", key: str = "patient_id") -> pd.Series:
    """Tumour side per patient (``L``/``R``, indexed by patient) from any table the cohort readers read.

    Raises
    ------
    DataValidationError
        Naming the file, row and column of every missing key column, unknown side, missing side
        or patient listed twice.
    """
    path = Path(path)
    table = read_raw(path)
    absent = [c for c in (key, column) if c not in table.columns]
    if absent:
        raise DataValidationError([Violation(str(path), None, c, None, "is not a column of the tumour-side table")
                                   for c in absent])
    ids = table[key].astype("string").str.strip()
    sides = table[column].astype("string").str.strip().str.upper()
    problems = []
    for index, (patient, side) in enumerate(zip(ids, sides)):
        row = index + _HEADER_ROWS + 1
        if pd.isna(patient) or patient == "":
            problems.append(Violation(str(path), row, key, None, "is missing"))
        if pd.isna(side) or side not in SIDES:
            value = None if pd.isna(table[column].iloc[index]) else str(table[column].iloc[index])
            problems.append(Violation(str(path), row, column, value, f"is not one of {{{', '.join(SIDES)}}}"))
    for index, repeats in rows_sharing_a_key(ids[ids != ""]).items():
        others = [str(i + _HEADER_ROWS + 1) for i in repeats]
        problems.append(Violation(str(path), int(index) + _HEADER_ROWS + 1, key, str(ids.loc[index]),
                                  f"is listed twice (also in row {', '.join(others)}); one tumour side per patient"))
    if problems:
        raise DataValidationError(problems)
    return pd.Series(sides.to_numpy(), index=pd.Index(ids.to_numpy(), name=key), name="tumour_side")


def select_breasts(details: pd.DataFrame, rule: str, *, tumour_side: pd.Series | None = None) -> BreastSelection:
    """Apply a per-patient rule (see the module docstring) to the per-breast table."""
    if rule not in RULES:
        raise ValueError(f"per-patient rule must be one of {', '.join(RULES)}, not {rule!r}")
    if rule == "tumour" and tumour_side is None:
        raise ValueError("the 'tumour' rule needs the tumour side of each patient (tumour_side)")
    if rule == "all" or details.empty:
        return BreastSelection(details, rule)
    if rule == "worst":
        rank = details["calcification_class"].map(CLASSES.index)
        ordered = details.assign(_rank=rank, _extent=details["extent_mm"].fillna(-1))
        # laterality last, ascending: a full tie keeps L, not whichever row came first
        ordered = ordered.sort_values(["patient_id", "_rank", "_extent", "laterality"],
                                      ascending=[True, False, False, True], kind="stable")
        kept = ordered.drop_duplicates("patient_id").drop(columns=["_rank", "_extent"])
        return BreastSelection(kept.sort_values(["patient_id", "laterality"]), rule, len(details) - len(kept))
    wanted = details["patient_id"].map(tumour_side)
    kept = details[details["laterality"] == wanted].sort_values(["patient_id"])
    missing = sorted(set(tumour_side.index) - set(kept["patient_id"]))
    return BreastSelection(kept, rule, len(details) - len(kept), missing)
