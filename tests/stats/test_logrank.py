"""prognosis.stats.logrank against R survival::survdiff on GBSG2."""

import numpy as np
import pytest
from numpy.testing import assert_allclose

from prognosis.stats.logrank import logrank_test


@pytest.mark.parametrize("variable", ["horTh", "tgrade"])
def test_matches_survdiff(gbsg2, r_reference, variable):
    # survdiff(Surv(time, cens) ~ variable), rho = 0
    expected = r_reference["logrank"][variable]
    result = logrank_test(gbsg2.time.to_numpy(), gbsg2.cens.to_numpy(), gbsg2[variable].to_numpy())
    assert_allclose(result.statistic, expected["chisq"], rtol=1e-8)
    assert_allclose(result.p, expected["p"], rtol=1e-6)
    assert result.df == expected["df"]
    assert list(result.observed) == expected["observed"]


def test_p_value_keeps_its_digits_for_strong_effects():
    rng = np.random.default_rng(1)
    group = np.repeat(["a", "b"], 300)
    time = np.where(group == "a", rng.exponential(1.0, 600), rng.exponential(20.0, 600))
    result = logrank_test(time, np.ones(600), group)
    assert 0 < result.p < 1e-20
