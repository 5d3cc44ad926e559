"""Model variables to a numeric design matrix with stable term names.

Term names are a contract: a numeric variable is its column name (``age``); a categorical or
binary variable gives ``name[level]`` for each non-reference level (``grade[3]``,
``casting[yes]``; a 0/1 column gives ``name[1]``). An interaction is the product of the two
variables' terms joined by ``:`` (``casting[yes]:her2[positive]``, ``age:her2[positive]``,
``age:size_mm``), recorded under the key ``"casting:her2"``; columns follow R's
``model.matrix`` order (main effects first, the first variable's levels varying fastest).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from prognosis.cohort.variable import Variable
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
        """The same design less one variable (for nested-model comparisons).

        Dropping a main effect also drops its interactions (``without("casting")`` removes
        ``casting:her2``); ``without("casting:her2")`` drops the interaction alone.
        """
        interactions = {k for k in self.terms_of if ":" in k and variable in k.split(":")}
        keys = {variable} | (interactions if ":" not in variable else set())
        drop = [t for k in self.terms_of if k in keys for t in self.terms_of[k]]
        return Design(
            self.matrix.drop(columns=drop),
            {v: t for v, t in self.terms_of.items() if v not in keys},
            {v: r for v, r in self.references.items() if v not in keys},
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


def design_matrix(data: pd.DataFrame, variables: list[Variable], *,
                  interactions: list[tuple[str, str]] | tuple[tuple[str, str], ...] = (),
                  model: str = "the model") -> Design:
    """Build the design matrix for ``variables`` from a complete-case cohort frame.

    Non-reference levels with no patient are left out with a warning (their coefficient
    cannot be estimated). A variable left with no usable term is an error.

    Parameters
    ----------
    data : DataFrame
        One row per patient, no missing values in the model variables.
    variables : list of Variable
        The main effects, in order.
    interactions : list of (str, str)
        Pairs of variable names (both among ``variables``) whose product terms are added after
        the main effects, as R's ``a * b`` / ``a:b``. A product column that is zero for every
        patient (no patient has both levels) is left out with a warning.
    model : str
        What the design is for, as the warning about an empty level names it.

    Raises
    ------
    ModelError
        The reference level has no patient, a variable does not vary, or an interaction names
        a variable that is not in the model or has no usable product term.

    References
    ----------
    R ``stats::model.matrix`` with treatment contrasts, as used by ``survival::coxph``.
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
                warnings.warn(f"{var.name}: no analysed patient has level {level!r}; it is left out of {model}",
                              PrognosisWarning, stacklevel=2)
                continue
            name = term_name(var.name, level)
            columns[name] = (levels == level).to_numpy(dtype=float)
            names.append(name)
        if not names:
            raise ModelError(f"{var.name} ({var.label}) has only one level ({var.reference!r}) among the analysed patients, so it cannot be compared")
        terms_of[var.name], references[var.name] = tuple(names), var.reference
    for first, second in interactions:
        _add_interaction(columns, terms_of, references, first, second)
    return Design(pd.DataFrame(columns, index=data.index), terms_of, references)


def _add_interaction(columns: dict[str, np.ndarray], terms_of: dict[str, tuple[str, ...]],
                     references: dict[str, str | None], first: str, second: str) -> None:
    for name in (first, second):
        if name not in terms_of:
            raise ModelError(f"interaction {first}:{second}: {name} is not a variable of the model; "
                             "add it as a main effect first")
    if first == second:
        raise ModelError(f"interaction {first}:{second}: a variable cannot interact with itself")
    key = f"{first}:{second}"
    names = []
    # R's model.matrix lets the first variable's terms vary fastest.
    for right in terms_of[second]:
        for left in terms_of[first]:
            product = columns[left] * columns[right]
            name = f"{left}:{right}"
            if not np.any(product != 0):
                warnings.warn(f"{key}: no analysed patient has both {left} and {right}; the term {name} is left "
                              "out of the model", PrognosisWarning, stacklevel=3)
                continue
            columns[name] = product
            names.append(name)
    if not names:
        raise ModelError(f"interaction {key} has no term that can be estimated among the analysed patients")
    terms_of[key], references[key] = tuple(names), None


def check_rank(design: Design, *, tol: float = 1e-9) -> None:
    """Raise if the design's terms are linearly dependent, naming the terms involved.

    The columns are centred first: a Cox model has no intercept, but its baseline hazard
    absorbs any constant, so a constant column or one equal to a sum of others plus a constant
    cannot be estimated.

    Raises
    ------
    ModelError
        The design is rank deficient; the message names each set of collinear terms.
    """
    if not design.terms:
        return
    x = design.matrix.to_numpy(dtype=float)
    x = x - x.mean(axis=0)
    norms = np.linalg.norm(x, axis=0)
    constant = [t for t, norm in zip(design.terms, norms) if norm == 0]
    if constant:
        raise ModelError(f"{', '.join(constant)} takes a single value in the analysed patients, so its effect "
                         "cannot be estimated")
    _, singular, vt = np.linalg.svd(x / norms, full_matrices=False)
    null = vt[singular < tol * singular[0]]
    if null.size == 0:
        return
    groups = []
    for vector in null:
        involved = [t for t, v in zip(design.terms, vector) if abs(v) > 1e-6]
        groups.append("{" + ", ".join(involved) + "}")
    raise ModelError(f"the terms {'; '.join(groups)} are collinear (one is a linear combination of the others "
                     "among the analysed patients), so their effects cannot be separated; drop one of them")


def level_labels(data: pd.Series, var: Variable) -> pd.Series:
    """Each patient's level as text (``"yes"``, ``"3"``; a binary column gives ``"0"``/``"1"``)."""
    return _level_values(data, var).astype(object)
