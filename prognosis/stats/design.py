"""Model variables to a numeric design matrix with stable term names.

Term names are a contract: a numeric variable is its column name (``age``); a categorical or
binary variable gives ``name[level]`` for each non-reference level (``grade[3]``,
``casting[yes]``; a 0/1 column gives ``name[1]``).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from prognosis.cohort.assemble import Variable
from prognosis.errors import ModelError, PrognosisWarning

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Design:
    """A design matrix (columns are term names) and the terms each variable contributes."""

    matrix: pd.DataFrame
    terms_of: dict[str, tuple[str, ...]]
    references: dict[str, str | None]

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(self.matrix.columns)

    def without(self, variable: str) -> Design:
        """The same design less one variable (for nested-model comparisons)."""
        drop = list(self.terms_of[variable])
        return Design(
            self.matrix.drop(columns=drop),
            {v: t for v, t in self.terms_of.items() if v != variable},
            {v: r for v, r in self.references.items() if v != variable},
        )

    def only(self, variable: str) -> Design:
        """The design of one variable alone (for the unadjusted model)."""
        return Design(self.matrix[list(self.terms_of[variable])],
                      {variable: self.terms_of[variable]}, {variable: self.references[variable]})


def term_name(variable: str, level: str | None = None) -> str:
    return variable if level is None else f"{variable}[{level}]"


def _level_values(data: pd.Series, var: Variable) -> pd.Series:
    if var.spec.type == "binary":
        return data.map(lambda v: None if pd.isna(v) else str(int(v)))
    return data.astype(object)


def design_matrix(data: pd.DataFrame, variables: list[Variable]) -> Design:
    """Build the design matrix for ``variables`` from a complete-case cohort frame.

    Non-reference levels with no patient are left out with a warning (their coefficient
    cannot be estimated). A variable left with no usable term is an error.

    Raises
    ------
    ModelError
        The reference level has no patient, or a variable does not vary.
    """
    columns: dict[str, np.ndarray] = {}
    terms_of: dict[str, tuple[str, ...]] = {}
    references: dict[str, str | None] = {}
    for var in variables:
        values = data[var.name]
        if not var.is_categorical:
            x = values.to_numpy(dtype=float)
            if np.nanstd(x) == 0:
                raise ModelError(f"{var.name} ({var.label}) takes a single value in the analysed patients, so its effect cannot be estimated")
            columns[var.name] = x
            terms_of[var.name], references[var.name] = (var.name,), None
            continue
        levels = _level_values(values, var)
        observed = set(levels.dropna())
        if var.reference not in observed:
            raise ModelError(f"{var.name}: no analysed patient has the reference level {var.reference!r}; choose another reference")
        names = []
        for level in var.spec.category_levels:
            if level == var.reference:
                continue
            if level not in observed:
                warnings.warn(f"{var.name}: no analysed patient has level {level!r}; it is left out of the model",
                              PrognosisWarning, stacklevel=2)
                continue
            name = term_name(var.name, level)
            columns[name] = (levels == level).to_numpy(dtype=float)
            names.append(name)
        if not names:
            raise ModelError(f"{var.name} ({var.label}) has only one level ({var.reference!r}) among the analysed patients, so it cannot be compared")
        terms_of[var.name], references[var.name] = tuple(names), var.reference
    return Design(pd.DataFrame(columns, index=data.index), terms_of, references)


def level_labels(data: pd.Series, var: Variable) -> pd.Series:
    """Each patient's level as text (``"yes"``, ``"3"``; a binary column gives ``"0"``/``"1"``)."""
    return _level_values(data, var).astype(object)
