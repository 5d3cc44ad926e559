"""results.json holds no NaN or infinity: pooled values that are undefined or infinite become null."""

import json

import numpy as np

from prognosis.stats.pooling import PooledEstimates, PooledTest


def test_pooled_estimates_and_tests_serialise_without_inf_or_nan():
    nan, inf = float("nan"), float("inf")
    arrays = {name: np.array([1.0, nan, inf]) for name in
              ("coef", "within", "between", "total", "riv", "lambda_", "fmi", "df")}
    fields = PooledEstimates.__dataclass_fields__
    estimates = PooledEstimates(**{k: v for k, v in {"m": 5, "dfcom": inf, **arrays}.items() if k in fields})
    text = json.dumps(estimates.to_dict(), allow_nan=False)
    assert json.loads(text)["df"] == [1.0, None, None]
    test = PooledTest(method="D1", statistic=inf, df1=2, df2=inf, p=nan, riv=0.1)
    assert json.loads(json.dumps(test.to_dict(), allow_nan=False)) == {"statistic": None, "df1": 2, "df2": None, "p": None}
