"""Figure: scaled Schoenfeld residuals against time, one panel per variable, as R ``plot(cox.zph(fit))``."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")  # files only; never open a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np
from matplotlib.ticker import MaxNLocator  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from statsmodels.nonparametric.smoothers_lowess import lowess  # noqa: E402

from prognosis.stats.ph import PHTestResult  # noqa: E402

_POINTS = "#56B4E9"
_SMOOTH = "#D55E00"
_TRANSFORM_LABEL = {"km": "Time (Kaplan-Meier scale)", "rank": "Time (rank scale)", "identity": "Time"}


def _time_ticks(result: PHTestResult) -> tuple[np.ndarray, list[str]] | None:
    """Tick positions on the transformed axis labelled with the untransformed event times."""
    if result.transform == "identity" or result.time.size < 2:
        return None
    order = np.argsort(result.event_time, kind="stable")
    # Round numbers of the original time scale (0, 2, 4, ... years), placed where they fall on the
    # transformed axis.
    nice = MaxNLocator(nbins=6).tick_values(result.event_time.min(), result.event_time.max())
    nice = nice[(nice >= result.event_time.min()) & (nice <= result.event_time.max())]
    if nice.size < 2:
        return None
    positions = np.interp(nice, result.event_time[order], result.time[order])
    return positions, [f"{q:g}" for q in nice]


def ph_residual_figure(result: PHTestResult, *, unit: str | None = None, labels: dict[str, str] | None = None,
                       smooth_fraction: float = 2.0 / 3.0) -> Figure:
    """Scaled Schoenfeld residuals against (transformed) time with a lowess smooth, one panel per variable.

    A flat smooth supports proportional hazards; each panel's title gives the variable's
    test p-value. For a factor the residual is that of its combined effect, where 1 means
    the fitted effect (as R). The smooth is a lowess (R draws a natural spline with bands).

    References
    ----------
    R ``survival:::plot.cox.zph``.
    """
    labels = labels or {}
    n = len(result.term_names)
    columns = min(3, max(n, 1))
    rows = max(1, math.ceil(n / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4.0 * columns, 3.3 * rows), dpi=110, squeeze=False)
    ticks = _time_ticks(result)
    xlabel = _TRANSFORM_LABEL.get(result.transform, "Time") + (f", ticks in {unit}" if unit and ticks else "")
    if unit and result.transform == "identity":
        xlabel = f"Time ({unit})"
    for index, ax in enumerate(axes.flat):
        if index >= n:
            ax.set_visible(False)
            continue
        name = result.term_names[index]
        y = result.residuals[:, index]
        keep = np.isfinite(y)
        ax.scatter(result.time[keep], y[keep], s=6, color=_POINTS, alpha=0.6, linewidths=0)
        if keep.sum() >= 5:
            fitted = lowess(y[keep], result.time[keep], frac=smooth_fraction, return_sorted=True)
            ax.plot(fitted[:, 0], fitted[:, 1], color=_SMOOTH, linewidth=1.8)
        test = result.terms[name]
        p_text = "p < 0.001" if test.p < 0.001 else f"p = {test.p:.3f}"
        ax.set_title(f"{labels.get(name, name)} ({p_text})", fontsize=10)
        ax.set_ylabel(f"Beta(t) for {name}", fontsize=9)
        ax.set_xlabel(xlabel, fontsize=9)
        if ticks is not None:
            ax.set_xticks(ticks[0], ticks[1], fontsize=8)
        ax.grid(alpha=0.3)
    global_p = result.global_test.p
    fig.suptitle("Proportional hazards: scaled Schoenfeld residuals "
                 f"(global {'p < 0.001' if global_p < 0.001 else f'p = {global_p:.3f}'})", fontsize=11)
    fig.tight_layout()
    return fig
