"""prognosis.stats.table1 against R (quantile type 7, sd, the Yang & Dalton SMD) on GBSG2.

Reference: tests/fixtures/associations/make_reference.R (R 4.2.2, MASS 7.3-58.2). The R
tableone package is not installed; the script computes its SMD formula directly with MASS::ginv.
"""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from prognosis.cohort.variable import Variable
from prognosis.dictionary import ColumnSpec
from prognosis.errors import ModelError
from prognosis.stats.table1 import smd_categorical, smd_numeric, table_one

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DATA = {"complete": FIXTURES / "gbsg2" / "gbsg2.csv", "with_missing": FIXTURES / "associations" / "gbsg2_missing.csv"}


def variable(name, kind, levels=()):
    return Variable(name, ColumnSpec(name, kind, levels=tuple(levels)), "gbsg2", levels[0] if levels else None)


BY = variable("horTh", "categorical", ("no", "yes"))
VARIABLES = [variable("age", "numeric"), variable("tsize", "numeric"), variable("pnodes", "numeric"),
             variable("menostat", "categorical", ("Post", "Pre")), variable("tgrade", "categorical", ("I", "II", "III"))]


@pytest.fixture(scope="module", params=sorted(DATA))
def case(request):
    reference = json.loads((FIXTURES / "associations" / "reference.json").read_text())
    return table_one(pd.read_csv(DATA[request.param]), BY, VARIABLES), reference[request.param]["table_one"]


def test_counts_and_missing(case):
    table, expected = case
    assert table.groups == ("no", "yes")
    assert table.n == expected["n"] and table.by_missing == expected["by_missing"]
    for row in table.rows:
        assert row.missing == expected[row.variable]["missing"], row.variable
        if row.level is not None:
            for group in ("overall", "no", "yes"):
                count = expected[row.variable][group][row.level]
                total = sum(expected[row.variable][group].values())
                assert row.numbers[group]["count"] == count
                assert_allclose(row.numbers[group]["percent"], 100 * count / total, rtol=1e-12)


def test_numeric_summaries(case):
    # quantile(x, c(.25, .5, .75), type = 7), mean, sd (n - 1)
    table, expected = case
    for row in table.rows:
        if row.level is not None:
            continue
        for group in ("overall", "no", "yes"):
            ref = expected[row.variable][group]
            for key, value in row.numbers[group].items():
                assert_allclose(value, ref[key], rtol=1e-12, err_msg=f"{row.variable} {group} {key}")


def test_smd(case):
    # |m1 - m2| / sqrt((s1^2 + s2^2) / 2); categorical: sqrt(T' ginv(S) T) as tableone
    table, expected = case
    for row in table.rows:
        assert_allclose(row.smd, expected[row.variable]["smd"], rtol=1e-10, err_msg=row.variable)


def test_smd_categorical_hand_computed():
    # Levels 2-3: p1 = (.3, .2), p2 = (.3, .4); T = (0, -.2); S = [[.21, -.09], [-.09, .20]],
    # det S = .0339, so T' S^-1 T = .04 * .21 / .0339.
    assert_allclose(smd_categorical([0.5, 0.3, 0.2], [0.3, 0.3, 0.4]), math.sqrt(0.0084 / 0.0339), rtol=1e-12)
    # Two levels reduce to |p1 - p2| / sqrt((p1 q1 + p2 q2) / 2)
    assert_allclose(smd_categorical([0.6, 0.4], [0.25, 0.75]), 0.35 / math.sqrt((0.24 + 0.1875) / 2), rtol=1e-12)


def test_smd_categorical_does_not_depend_on_the_dropped_level():
    rng = np.random.default_rng(7)
    p1, p2 = rng.dirichlet(np.ones(4)), rng.dirichlet(np.ones(4))
    order = [2, 0, 3, 1]
    assert_allclose(smd_categorical(p1, p2), smd_categorical(p1[order], p2[order]), rtol=1e-9)


def test_smd_degenerate_cases():
    assert smd_categorical([1.0, 0.0], [1.0, 0.0]) == 0.0
    assert smd_categorical([1.0, 0.0], [0.0, 1.0]) is None
    assert smd_numeric(np.array([2.0, 2.0]), np.array([2.0, 2.0])) == 0.0


def test_three_groups_average_the_pairwise_smds():
    data = pd.read_csv(DATA["complete"])
    by = variable("tgrade", "categorical", ("I", "II", "III"))
    row = table_one(data, by, [variable("age", "numeric")]).rows[0]
    pairs = [("I", "II"), ("I", "III"), ("II", "III")]
    expected = np.mean([smd_numeric(data.age[data.tgrade == a].to_numpy(), data.age[data.tgrade == b].to_numpy())
                        for a, b in pairs])
    assert_allclose(row.smd, expected, rtol=1e-12)


def test_outputs():
    table = table_one(pd.read_csv(DATA["with_missing"]), BY, VARIABLES)
    frame = table.to_frame()
    assert list(frame.columns) == ["variable", "level", "label", "statistic", "overall", "no", "yes", "missing", "smd"]
    assert len(frame) == 3 * 2 + 2 + 3
    assert frame.loc[frame.variable == "menostat", "overall"].tolist() == ["396 (57.7)", "290 (42.3)"]
    as_dict = json.loads(json.dumps(table.to_dict(), allow_nan=False))
    assert as_dict["by"] == "horTh" and as_dict["groups"] == ["no", "yes"]
    assert as_dict["rows"][0]["numbers"]["overall"]["median"] == 53.0


def test_numeric_by_is_refused():
    with pytest.raises(ModelError, match="age"):
        table_one(pd.read_csv(DATA["complete"]), variable("age", "numeric"), VARIABLES[1:])


# --- nothing identifying reaches Table 1 (issue 9, defect 12) ---------------------------------


def test_a_date_is_refused_not_summarised_as_nanoseconds():
    # Before: pd.to_numeric turned the dates into nanosecond counts, and their median and quartiles
    # decoded to real patients' birth dates.
    data = pd.DataFrame({"horTh": ["no", "yes", "no", "yes"],
                         "birth_date": pd.to_datetime(["1950-01-02", "1961-03-04", "1948-05-06", "1970-07-08"])})
    with pytest.raises(ModelError, match=r"not birth_date \(date\); from a date, derive an age"):
        table_one(data, BY, [variable("birth_date", "date")])
    # ... also when a caller declares it numeric by mistake
    with pytest.raises(ModelError, match="birth_date: declared numeric but holds dates"):
        table_one(data, BY, [variable("birth_date", "numeric")])
    with pytest.raises(ModelError, match="birth_date: declared numeric but holds dates"):
        table_one(data.astype({"birth_date": object}), BY, [variable("birth_date", "numeric")])


def test_a_string_column_is_refused():
    data = pd.DataFrame({"horTh": ["no", "yes"], "patient_id": ["P1", "P2"]})
    with pytest.raises(ModelError, match=r"not patient_id \(string\)"):
        table_one(data, BY, [variable("patient_id", "string")])


def test_a_group_level_named_like_a_field_keeps_both():
    by = variable("status", "categorical", ("missing", "present"))
    data = pd.DataFrame({"status": ["missing", "present", "present"], "age": [50.0, 60.0, np.nan]})
    row = table_one(data, by, [variable("age", "numeric")]).rows[0].to_dict()
    assert row["missing"] == 1                    # the row's count of missing ages, not the group's cell
    assert row["cells"]["missing"] == "50.0 (50.0, 50.0)" and row["cells"]["present"] == "60.0 (60.0, 60.0)"
