"""Fine–Gray subdistribution-hazards regression, as R ``cmprsk::crr``.

No Python library fits it (lifelines and scikit-survival have none; statsmodels neither), and
expanding the data as ``survival::finegray`` does costs memory quadratic in the worst case, so
the weighted partial likelihood is computed here directly. Patients who failed from a competing
cause stay in the risk set after their failure with weight ``G(t-) / G(t_i-)``, where G is the
Kaplan–Meier estimate of the censoring distribution taken just before each time, as crr takes it
(``approx(..., xout = ftime * (1 - 100 * eps))``). Every risk-set sum is a cumulative sum over
the sorted times: S0(t) = sum_{t_i >= t} e^(x b) + G(t-) * sum_{t_i < t, competing} e^(x b) / G(t_i-).

The fit follows crr's Newton–Raphson with its step-halving line search and convergence rule
(so both stop at the same iterate), and the variance is crr's sandwich
``I^-1 (sum_i (eta_i + psi_i)(eta_i + psi_i)') I^-1`` of Fine & Gray (1999), where psi_i
accounts for the estimated censoring weights. Checked against cmprsk 2.2.11 in
tests/stats/test_competing.py; benchmarks/fine_gray.py times it against crr.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from prognosis.errors import ModelError
from prognosis.stats.checks import check_competing
from prognosis.stats.cox_engine import CoxFitError, covariate_scale, diverging, maximise_newton
from prognosis.stats.design import Design
from prognosis.stats.wald import terms_dict, terms_frame, wald_summary

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FineGrayResult:
    """A fitted Fine–Gray model; arrays are aligned with ``terms``, ``conf_int`` is (n_terms, 2)."""

    terms: tuple[str, ...]
    coef: np.ndarray
    se: np.ndarray
    hazard_ratio: np.ndarray
    conf_int: np.ndarray
    p_value: np.ndarray
    vcov: np.ndarray
    n: int
    n_events: int
    n_competing: int
    log_likelihood: float
    iterations: int
    conf_level: float = 0.95

    def to_frame(self) -> pd.DataFrame:
        return terms_frame(self)

    def to_dict(self) -> dict:
        return {"terms": terms_dict(self), "n": self.n, "events": self.n_events, "competing_events": self.n_competing,
                "log_likelihood": self.log_likelihood}


def censoring_survival_before(time: np.ndarray, censored: np.ndarray) -> np.ndarray:
    """Kaplan–Meier of the censoring distribution just before each time, G(t_i-).

    ``time`` must be sorted. A failure and a censoring at the same time are both at risk
    there, and G(t-) excludes the censorings at t itself (as crr's left limit does).
    """
    unique, inverse = np.unique(time, return_inverse=True)
    size = np.bincount(inverse, minlength=unique.size)
    at_risk = time.size - np.concatenate([[0], np.cumsum(size)[:-1]])
    n_censored = np.bincount(inverse, weights=censored, minlength=unique.size)
    after = np.cumprod(1.0 - n_censored / at_risk)
    before = np.concatenate([[1.0], after[:-1]])
    return before[inverse]


class _Problem:
    """Sorted data and the index arithmetic shared by the objective and the variance."""

    def __init__(self, time: np.ndarray, status: np.ndarray, x: np.ndarray) -> None:
        order = np.argsort(time, kind="stable")
        self.time, self.status = time[order], status[order]
        self.x = x[order] - x.mean(axis=0)     # centring leaves every ratio below unchanged
        self.g_before = censoring_survival_before(self.time, (self.status == 0).astype(float))
        fail = self.status == 1
        self.fail_time, first, self.d = np.unique(self.time[fail], return_index=True, return_counts=True)
        self.g_fail = self.g_before[fail][first]                          # G(t_k-)
        self.start = np.searchsorted(self.time, self.fail_time, side="left")  # first index with t >= t_k
        self.competing = (self.status == 2).astype(float)
        self.x_events = self.x[fail].sum(axis=0)

    def risk_sums(self, beta: np.ndarray, *, second: bool = True):
        """S0, S1 (and S2) of the weighted risk set at each distinct failure time."""
        x, start = self.x, self.start
        eta = x @ beta
        risk = np.exp(eta - eta.max())
        ghost = self.competing / self.g_before                            # competing failures: 1 / G(t_i-)

        def at_failures(values: np.ndarray) -> np.ndarray:
            shape = (-1,) + (1,) * (values.ndim - 1)
            pad = np.zeros((1,) + values.shape[1:])
            tail = np.concatenate([np.cumsum(values[::-1], axis=0)[::-1], pad])      # t_i >= t_k
            head = np.concatenate([pad, np.cumsum(values * ghost.reshape(shape), axis=0)])  # t_i < t_k
            return tail[start] + self.g_fail.reshape(shape) * head[start]

        s0 = at_failures(risk)
        s1 = at_failures(risk[:, None] * x)
        s2 = at_failures(risk[:, None, None] * x[:, :, None] * x[:, None, :]) if second else None
        return eta, risk, s0, s1, s2, eta.max()

    def objective(self, beta: np.ndarray, *, derivatives: bool = True):
        """crr's objective (minus the log partial likelihood), its gradient and Hessian."""
        eta, _, s0, s1, s2, shift = self.risk_sums(beta, second=derivatives)
        value = -float(self.x_events @ beta) + float(self.d @ (np.log(s0) + shift))
        if not derivatives:
            return value, None, None
        xbar = s1 / s0[:, None]
        gradient = -self.x_events + self.d @ xbar
        hessian = np.einsum("k,kij->ij", self.d / s0, s2) - np.einsum("k,ki,kj->ij", self.d, xbar, xbar)
        return value, gradient, hessian

    def sandwich_middle(self, beta: np.ndarray) -> np.ndarray:
        """sum_i (eta_i + psi_i)(eta_i + psi_i)' of Fine & Gray (1999), as crr's ``crrvv``."""
        _, risk, s0, s1, _, _ = self.risk_sums(beta, second=False)
        x, time, status, g = self.x, self.time, self.status, self.g_before
        xbar = s1 / s0[:, None]
        zeros_row = np.zeros((1, x.shape[1]))
        # Martingale part eta_i: dN_i(t_i) (x_i - xbar) minus the compensator over the weighted risk set.
        a = self.d / s0
        cum_a = np.concatenate([[0.0], np.cumsum(a)])
        cum_b = np.concatenate([zeros_row, np.cumsum(a[:, None] * xbar, axis=0)])
        upto = np.searchsorted(self.fail_time, time, side="right")       # failures with t_k <= t_i
        eta = -risk[:, None] * (x * cum_a[upto][:, None] - cum_b[upto])
        ga = a * self.g_fail
        tail_a = np.concatenate([np.cumsum(ga[::-1])[::-1], [0.0]])
        tail_b = np.concatenate([np.cumsum((ga[:, None] * xbar)[::-1], axis=0)[::-1], zeros_row])
        comp = status == 2
        eta[comp] -= (risk[comp] / g[comp])[:, None] * (x[comp] * tail_a[upto[comp]][:, None] - tail_b[upto[comp]])
        fail = status == 1
        eta[fail] += x[fail] - xbar[np.searchsorted(self.fail_time, time[fail])]
        # Censoring part psi_i: q(u) at each censoring time u, weighted by dN^c and the number at risk.
        unique, first, inverse = np.unique(time, return_index=True, return_inverse=True)
        at_risk = time.size - first
        n_censored = np.bincount(inverse, weights=(status == 0).astype(float), minlength=unique.size)
        ghost = (risk * comp / g)
        c0 = np.concatenate([[0.0], np.cumsum(ghost)])[first]             # competing with t_j < u
        c1 = np.concatenate([zeros_row, np.cumsum(ghost[:, None] * x, axis=0)])[first]
        from_u = np.searchsorted(self.fail_time, unique, side="left")     # failures with t_k >= u
        q = c1 * tail_a[from_u][:, None] - c0[:, None] * tail_b[from_u]
        step = np.cumsum((n_censored / at_risk ** 2)[:, None] * q, axis=0)
        psi = -step[inverse]
        cens = status == 0
        psi[cens] += q[inverse[cens]] / at_risk[inverse[cens]][:, None]
        total = eta + psi
        return total.T @ total


# crr's own stopping point is kept unless a Newton step would still move a coefficient by more
# than this fraction of itself: crr's rule often stops ~1e-4 short of the optimum (relative), and
# crr parity is this module's contract; a monotone likelihood or a stop at b = 0 (a covariate in
# tiny units) is far beyond it.
_CRR_STOP_SLACK = 1e-2


def _monotone_error(terms: tuple[str, ...], flags: np.ndarray | None) -> ModelError:
    names = ", ".join(t for t, d in zip(terms, flags if flags is not None else ()) if d) or ", ".join(terms)
    return ModelError(f"the subdistribution hazard ratio of {names} cannot be estimated: the likelihood keeps "
                      "rising as it goes to 0 or infinity (monotone likelihood), usually because a level has no "
                      "failure from the cause of interest or only such failures; merge sparse levels or drop the term")


def _newton_derivatives(problem: _Problem):
    """crr's objective (minus the log-likelihood) as maximise_newton's log-likelihood, score, information."""
    def derivatives(b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        value, gradient, hessian = problem.objective(b)
        return -value, -gradient, hessian
    return derivatives


def _raise_if_monotone(problem: _Problem, beta: np.ndarray, scale: np.ndarray, terms: tuple[str, ...]) -> None:
    """Before reporting non-convergence, tell a monotone likelihood (named terms) from the rest."""
    try:
        maximise_newton(_newton_derivatives(problem), beta, scale)
    except CoxFitError as exc:
        if exc.kind == "monotone":
            raise _monotone_error(terms, exc.diverging) from None


def _beyond_crr_stop(problem: _Problem, beta: np.ndarray, scale: np.ndarray, terms: tuple[str, ...],
                     max_iter: int) -> tuple[np.ndarray, int]:
    """Newton steps past crr's stopping point, where that point is no optimum in the covariates' units.

    crr stops once ``|gradient| * max(|b|, 1)`` is small, a rule tied to the units of x: a
    covariate in tiny units has a tiny gradient, so crr can stop at b = 0, and a monotone
    likelihood's gradient vanishes as b goes to infinity, so crr reports convergence at a finite
    value (13.3 for a level with no failure of the cause, tests/fixtures/cox_scale). Where the
    Newton step still to go moves a coefficient by more than ``_CRR_STOP_SLACK`` of itself (R
    ``coxph``'s test, :func:`~prognosis.stats.cox_engine.diverging`, with a wider margin), the fit
    goes on with :func:`~prognosis.stats.cox_engine.maximise_newton` to the optimum, or to a
    named monotone likelihood. Elsewhere crr's iterate is kept, so the results are crr's.
    """
    value, gradient, hessian = problem.objective(beta)
    if not diverging(beta, gradient, hessian, scale, relative=_CRR_STOP_SLACK).any():
        return beta, 0

    try:
        beta, _loglik, _information, steps = maximise_newton(_newton_derivatives(problem), beta, scale,
                                                             max_iter=max(max_iter, 50))
    except CoxFitError as exc:
        if exc.kind == "monotone":
            raise _monotone_error(terms, exc.diverging) from None
        raise ModelError(f"the Fine–Gray model with terms {', '.join(terms)} did not converge ({exc}); look for "
                         "collinear terms or a level with few events") from None
    return beta, steps


def fit_fine_gray(time: np.ndarray, status: np.ndarray, design: Design, *, conf_level: float = 0.95,
                  max_iter: int = 10, gtol: float = 1e-6) -> FineGrayResult:
    """Fit the Fine–Gray proportional subdistribution-hazards model.

    Parameters
    ----------
    time : ndarray
        Follow-up times (> 0).
    status : ndarray
        0 censored, 1 failure from the cause of interest, 2 failure from a competing cause.
    design : Design
        The covariates (at least one term); term names carry over to the result.
    conf_level : float
        Level of the Wald intervals.
    max_iter, gtol : int, float
        crr's ``maxiter`` and ``gtol``: Newton–Raphson stops when
        ``max|gradient * max(|b|, 1)| < max(|objective|, 1) * gtol``.

    Returns
    -------
    FineGrayResult

    Raises
    ------
    ModelError
        No event of the cause of interest, no term, a singular information matrix, no
        convergence within ``max_iter`` iterations, or a term whose subdistribution hazard ratio
        runs off to 0 or infinity (monotone likelihood; named).

    See Also
    --------
    prognosis.stats.competing.competing_risks : CIFs, Gray's test and both regressions at once.

    References
    ----------
    R ``cmprsk::crr`` (cmprsk 2.2); Fine JP, Gray RJ (1999) JASA 94:496-509.
    """
    time, status = check_competing(time, status, causes=(1, 2), design=design.matrix)
    terms = design.terms
    if not terms:
        raise ModelError("the Fine–Gray model needs at least one covariate")
    if not (status == 1).any():
        raise ModelError("no patient failed from the cause of interest, so no Fine–Gray model can be estimated")
    x = design.matrix.to_numpy(dtype=float)
    problem = _Problem(time, status, x)
    beta = np.zeros(x.shape[1])
    for iteration in range(max_iter + 1):
        value, gradient, hessian = problem.objective(beta)
        if np.max(np.abs(gradient) * np.maximum(np.abs(beta), 1.0)) < max(abs(value), 1.0) * gtol:
            break
        if iteration == max_iter:
            _raise_if_monotone(problem, beta, covariate_scale(x), tuple(terms))
            raise ModelError(f"the Fine–Gray model with terms {', '.join(terms)} did not converge in "
                             f"{max_iter} iterations; look for collinear terms or a level with few events")
        try:
            step = -np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            raise ModelError(f"the Fine–Gray model with terms {', '.join(terms)} has a singular information "
                             "matrix; look for collinear terms") from None
        for _ in range(21):                                           # crr's step halving, at most 20 times
            trial = problem.objective(beta + step, derivatives=False)[0]
            if np.isfinite(trial) and trial <= value + 1e-4 * float(step @ gradient):
                break
            step = step * 0.5
        else:
            raise ModelError(f"the Fine–Gray model with terms {', '.join(terms)} did not converge: the line "
                             "search failed; look for a term whose hazard ratio runs off to 0 or infinity")
        beta = beta + step
    beta, extra_steps = _beyond_crr_stop(problem, beta, covariate_scale(x), tuple(terms), max_iter)
    if extra_steps:
        iteration += extra_steps
        value = problem.objective(beta, derivatives=False)[0]
    information = problem.objective(beta)[2]
    inverse = np.linalg.inv(information)
    vcov = inverse @ problem.sandwich_middle(beta) @ inverse
    se = np.sqrt(np.diag(vcov))
    hazard_ratio, conf_int, p_value = wald_summary(beta, se, conf_level)
    logger.debug("Fine–Gray converged in %d iterations", iteration)
    return FineGrayResult(
        terms=tuple(terms), coef=beta, se=se, hazard_ratio=hazard_ratio, conf_int=conf_int,
        p_value=p_value, vcov=vcov, n=int(time.size),
        n_events=int((status == 1).sum()), n_competing=int((status == 2).sum()),
        log_likelihood=-value, iterations=iteration, conf_level=conf_level)
