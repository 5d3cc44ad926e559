"""Figures: Kaplan–Meier curves with a numbers-at-risk table, and a forest plot of hazard ratios."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # files only; never open a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter  # noqa: E402

from prognosis.stats.cox import CoxResult  # noqa: E402
from prognosis.stats.km import KMResult  # noqa: E402

# Okabe–Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")


def _plot_end(km: KMResult, horizon: float | None) -> float:
    if horizon is not None:
        return horizon
    return max(float(np.max(c.followup, initial=0.0)) for c in km.groups.values())


def risk_table_times(km: KMResult, horizon: float | None = None) -> list[float]:
    """The times of the numbers-at-risk table: the x-axis ticks of the KM figure."""
    end = _plot_end(km, horizon)
    ticks = MaxNLocator(nbins=8, integer=True).tick_values(0.0, end)
    return [float(t) for t in ticks if 0.0 <= t <= end]


def km_figure(km: KMResult, *, unit: str, title: str | None = None, group_label: str | None = None,
              horizon: float | None = None, ylabel: str = "Survival probability") -> Figure:
    """Kaplan–Meier curves per group with pointwise CI bands, censoring ticks and numbers at risk."""
    end = _plot_end(km, horizon)
    n_groups = len(km.groups)
    fig = plt.figure(figsize=(7.5, 5.2 + 0.25 * n_groups), dpi=110)
    grid = fig.add_gridspec(2, 1, height_ratios=[4.0, 0.5 + 0.28 * n_groups], hspace=0.32)
    ax = fig.add_subplot(grid[0])
    for colour, (level, curve) in zip(PALETTE * 3, km.groups.items()):
        t = np.concatenate([[0.0], curve.time, [end]])
        s = np.concatenate([[1.0], curve.survival, [curve.survival[-1] if curve.survival.size else 1.0]])
        ax.step(t, s, where="post", color=colour, lw=2, label=f"{level} (n={curve.n}, events={curve.events})")
        low = np.concatenate([[1.0], np.nan_to_num(curve.lower, nan=1.0), [np.nan_to_num(curve.lower[-1:], nan=1.0)[0] if curve.lower.size else 1.0]])
        up = np.concatenate([[1.0], np.nan_to_num(curve.upper, nan=1.0), [np.nan_to_num(curve.upper[-1:], nan=1.0)[0] if curve.upper.size else 1.0]])
        ax.fill_between(t, low, up, step="post", color=colour, alpha=0.15, lw=0)
        ticks = curve.censor_times[curve.censor_times <= end]
        ax.plot(ticks, curve.survival_at(ticks), "|", color=colour, ms=4, alpha=0.35)
    ax.set_xlim(0, end)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel(ylabel)
    ax.set_xlabel(f"Time since diagnosis ({unit})")
    tick_times = risk_table_times(km, horizon)
    ax.set_xticks(tick_times)
    ax.grid(alpha=0.3)
    ax.legend(title=group_label or km.by, loc="lower left", frameon=True)
    if title:
        ax.set_title(title)

    table = fig.add_subplot(grid[1])
    for row, (colour, (level, curve)) in enumerate(zip(PALETTE * 3, km.groups.items())):
        y = n_groups - 1 - row
        table.text(-0.04, y, level, color=colour, ha="right", va="center", fontsize=9,
                   transform=table.get_yaxis_transform(), fontweight="bold")
        for x, n_risk in zip(tick_times, curve.n_at_risk_at(np.asarray(tick_times))):
            table.text(x, y, str(int(n_risk)), ha="center", va="center", fontsize=9)
    table.set_xlim(ax.get_xlim())
    table.set_ylim(-0.6, n_groups - 0.4)
    table.set_title("Number at risk", fontsize=9, loc="left")
    table.axis("off")
    fig.subplots_adjust(left=0.16, right=0.97, top=0.93, bottom=0.06)
    return fig


def _drawable(cox: CoxResult) -> np.ndarray:
    """Terms whose hazard ratio and limits are finite and positive (exp() of a huge coefficient is inf)."""
    values = np.column_stack([cox.hazard_ratio, cox.conf_int]).astype(float)
    return np.all(np.isfinite(values) & (values > 0), axis=1)


def forest_figure(cox: CoxResult, *, labels: dict[str, str] | None = None, title: str | None = None) -> Figure:
    """Hazard ratios with 95% CIs on a log scale, one row per term.

    A term whose hazard ratio or a limit a float cannot hold (inf or 0, e.g. bilirubin in mol/L:
    exp(8493.6); null in results.json, Inf in R) keeps its row label but is not drawn, and a
    footnote names it: a log axis reaching inf would squash every other term to a point.
    """
    labels = labels or {}
    n = len(cox.terms)
    names = [labels.get(t, t) for t in cox.terms]
    drawable = _drawable(cox)
    fig, ax = plt.subplots(figsize=(7.5, 1.0 + 0.38 * max(n, 1) + (0.3 if not drawable.all() else 0.0)), dpi=110)
    y = np.arange(n)[::-1]
    hr, ci = cox.hazard_ratio[drawable], cox.conf_int[drawable]
    if drawable.any():
        ax.errorbar(hr, y[drawable], xerr=[hr - ci[:, 0], ci[:, 1] - hr],
                    fmt="s", color=PALETTE[0], ecolor=PALETTE[0], capsize=3, ms=5)
    else:
        ax.set_xlim(0.5, 2.0)  # nothing to scale the axis by: a neutral range around 1
    ax.axvline(1.0, color="grey", lw=1, ls="--")
    plain_log_axis(ax)
    ax.set_yticks(y)
    ax.set_yticklabels(names)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlabel("Hazard ratio (log scale), 95% CI")
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title)
    if not drawable.all():
        left_out = ", ".join(name for name, ok in zip(names, drawable) if not ok)
        fig.text(0.01, 0.01, f"Not drawn: {left_out} (hazard ratio or limit too large or too small to represent; "
                 "see the table)", fontsize=8, ha="left", va="bottom", wrap=True)
    fig.tight_layout(rect=(0, 0.06 if not drawable.all() else 0, 1, 1))
    return fig


def plain_log_axis(ax) -> None:
    """A log-scale x axis labelled 0.5, 1, 2, 4 rather than 5x10^-1, 10^0, 2x10^0."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=2.0))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def figure_bytes(fig: Figure, fmt: str = "png") -> bytes:
    """Render and close a figure."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()
