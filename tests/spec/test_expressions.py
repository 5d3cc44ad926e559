"""Tests of prognosis/spec/expressions.py: the whitelisted grammar, its bounds and its missing-value rules.

Expected values are hand computations written out beside each case.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from prognosis.errors import SpecError
from prognosis.spec.expressions import MAX_LENGTH, evaluate, infer_kind, parse_expression

NAN = np.nan
FRAME = pd.DataFrame({
    "age": [40.0, 65.0, NAN, 80.0],
    "nodes": [0.0, 4.0, 2.0, NAN],
    "er": [1.0, 0.0, 1.0, NAN],                      # binary 0/1
    "grade": pd.Categorical(["I", "III", None, "II"], categories=["I", "II", "III"]),
    "start": pd.to_datetime(["2000-01-01", "2000-03-01", None, "2001-01-01"]),
    "end": pd.to_datetime(["2001-01-01", "2000-03-31", "2002-01-01", "2001-01-11"]),
})
KINDS = {"age": "number", "nodes": "number", "er": "binary", "grade": "text", "start": "date", "end": "date"}


def values(text: str) -> np.ndarray:
    return evaluate(parse_expression(text, "derive.x.expr"), FRAME, KINDS).values


@pytest.mark.parametrize("text, expected", [
    ("age / 10", [4.0, 6.5, NAN, 8.0]),
    ("age + nodes * 2 - 1", [39.0, 72.0, NAN, NAN]),
    ("-age ** 2 / 100", [-16.0, -42.25, NAN, -64.0]),     # -(age ** 2): ** binds tighter than unary minus
    ("log2(nodes + 1)", [0.0, math.log2(5), math.log2(3), NAN]),
    ("log(1) + log10(100) + exp(0) + sqrt(16) + abs(-3)", [10.0] * 4),   # 0 + 2 + 1 + 4 + 3
    ("min(age, 50)", [40.0, 50.0, NAN, 50.0]),
    ("max(nodes, 1, 3)", [3.0, 4.0, 3.0, NAN]),
    ("days_between(start, end) / 365.25", [366 / 365.25, 30 / 365.25, NAN, 10 / 365.25]),  # 2000 is a leap year
    ("age >= 65", [0.0, 1.0, NAN, 1.0]),                 # a comparison with a missing value is missing
    ("grade == 'III'", [0.0, 1.0, NAN, 0.0]),
    ("grade != 'III'", [1.0, 0.0, NAN, 1.0]),
    ("grade in ['II', 'III']", [0.0, 1.0, NAN, 1.0]),
    ("grade not in ['I']", [0.0, 1.0, NAN, 1.0]),
    ("40 < age <= 65", [0.0, 1.0, NAN, 0.0]),
    ("not er", [0.0, 1.0, 0.0, NAN]),
    # Kleene logic: False and missing = False; True and missing = missing; True or missing = True.
    ("age > 50 and nodes >= 4", [0.0, 1.0, 0.0, NAN]),   # row 3: missing and False = False
    ("age < 50 and er == 1", [1.0, 0.0, NAN, 0.0]),
    ("age > 50 or nodes >= 4", [0.0, 1.0, NAN, 1.0]),
    ("not (age > 50)", [1.0, 0.0, NAN, 0.0]),
    ("er * 2", [2.0, 0.0, 2.0, NAN]),
    ("2 ** 10", [1024.0] * 4),
])
def test_allowed_forms(text, expected):
    assert_allclose(values(text), expected, rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("text, kind", [
    ("age / 10", "number"), ("age > 1", "bool"), ("er", "binary"), ("grade == 'I' or er", "bool"),
    ("grade", "text"), ("start", "date"),
])
def test_kind(text, kind):
    assert infer_kind(parse_expression(text, "k"), KINDS) == kind


def test_division_by_zero_and_log_of_zero_are_missing_and_counted():
    result = evaluate(parse_expression("age / nodes", "derive.r.expr"), FRAME, KINDS)
    assert_allclose(result.values, [NAN, 16.25, NAN, NAN], equal_nan=True)
    assert result.undefined == 1          # row 1 (40 / 0); rows 3 and 4 were missing already
    result = evaluate(parse_expression("log(nodes) + sqrt(age - 70)", "derive.r.expr"), FRAME, KINDS)
    assert result.undefined == 2          # log(0) in row 1; sqrt(-5) in row 2
    assert np.isnan(result.values).all()


@pytest.mark.parametrize("text, fragment", [
    ("__import__('os')", "'__import__' is not an allowed function"),
    ("().__class__", "Attribute"),
    ("age.real", "Attribute ('age.real') is not allowed"),
    ("open('x')", "'open' is not an allowed function"),
    ("[x for x in y]", "ListComp"),
    ("lambda: 1", "Lambda"),
    ("age[0]", "Subscript"),
    ("__name__ == 1", "the name '__name__'"),
    ("log(x=1)", "keyword or starred argument"),
    ("log(*age)", "keyword or starred argument"),
    ("age if er else 0", "IfExp"),
    ("f'{age}'", "JoinedStr"),
    ("age // 2", "the operator"),
    ("age % 2", "the operator"),
    ("~age", "the operator"),
    ("age is None", "the comparison"),
    ("True", "the constant True"),
    ("age in nodes", "literal list"),
    ("{1: 2}", "Dict"),
    ("(age := 1)", "NamedExpr"),
    ("10**10**10", "the exponent in '10 ** 10 ** 10' is larger than 1000"),
    ("age ** 1001", "larger than 1000"),
    ("age ** -(10 ** 9)", "larger than 1000"),
    ("log()", "takes 1 argument, got 0"),
    ("max(age)", "at least 2 arguments"),
    ("1 +", "not a valid expression"),
    ("age; import os", "not a valid expression"),
    ("9" * 400, "a number this large"),
])
def test_hostile_or_invalid_expressions_are_named_errors(text, fragment):
    with pytest.raises(SpecError) as caught:
        parse_expression(text, "study.yaml: derive.bad.expr")
    assert str(caught.value).startswith("study.yaml: derive.bad.expr: ")
    assert fragment in str(caught.value)


def test_long_and_deep_expressions_are_refused():
    with pytest.raises(SpecError, match="10,000 characters long; at most 1,000"):
        parse_expression("age + " * 1666 + "age1", "population[0]")
    assert len("age + " * 1666 + "age1") == 10_000 > MAX_LENGTH
    with pytest.raises(SpecError, match="nested more than 30 levels"):
        parse_expression("-" * 40 + "age", "population[0]")


@pytest.mark.parametrize("text", [None, "", "   ", 5, ["age"]])
def test_not_text(text):
    with pytest.raises(SpecError, match="expected an expression as text"):
        parse_expression(text, "derive.x.expr")


@pytest.mark.parametrize("text, fragment", [
    ("agee / 10", "'agee' is not a declared column or an earlier derived variable (did you mean 'age'?)"),
    ("grade + 1", "is text (a categorical or string column), but arithmetic needs numbers"),
    ("grade == 3", "compares text with a number; quote the level"),
    ("age == 'III'", "compares text with a number"),
    ("grade < 'III'", "levels have no order here"),
    ("age and er", "`and`/`or` need comparisons or 0/1 variables"),
    ("start + 1", "is a date"),
    ("days_between(age, end)", "days_between() needs two date columns"),
    ("grade in [1, 2]", "same kind as the left side"),
])
def test_wrong_kinds_are_named(text, fragment):
    with pytest.raises(SpecError) as caught:
        infer_kind(parse_expression(text, "spec.yaml: population[0]"), KINDS)
    assert fragment in str(caught.value)


def test_names_in_order_without_function_names():
    expr = parse_expression("log2(progrec + 1) + age / min(age, nodes)", "k")
    assert set(expr.names) == {"progrec", "age", "nodes"}
    assert_array_equal(values("age * 0"), [0.0, 0.0, NAN, 0.0])


def test_a_missing_text_cell_held_as_pd_na_is_missing_not_false():
    # A string column after validation holds pd.NA for a missing cell; compared with a literal it is
    # missing (three-valued logic), so a population filter counts it as unknown, not as "not equal".
    frame = pd.DataFrame({"stage": pd.Series(["IV", pd.NA, "II"], dtype=object)})
    result = evaluate(parse_expression("stage == 'IV'", "population[0]"), frame, {"stage": "text"})
    assert_array_equal(result.values, [1.0, NAN, 0.0])
