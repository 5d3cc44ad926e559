"""Figures of the optional sections: cumulative incidence, calibration and the subgroup forest plot."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")  # files only; never open a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from prognosis.report.figures import PALETTE, plain_log_axis  # noqa: E402
from prognosis.stats.competing import CompetingRisksResult  # noqa: E402
from prognosis.stats.subgroups import SubgroupResult  # noqa: E402
from prognosis.stats.validation import CalibrationResult  # noqa: E402

# Solid for the cause of interest; each competing cause gets its own dash pattern.
_COMPETING_DASHES = ("--", ":", "-.")


def cause_label(cause: str) -> str:
    """``breast_cancer`` -> ``breast cancer`` (cause codes are identifiers, not prose)."""
    return cause.replace("_", " ")


def _step(time: np.ndarray, values: np.ndarray, end: float) -> tuple[np.ndarray, np.ndarray]:
    last = values[-1] if values.size else 0.0
    return np.concatenate([[0.0], time, [end]]), np.concatenate([[0.0], values, [last]])


def cif_figure(competing: CompetingRisksResult, *, unit: str, horizon: float | None = None,
               group_label: str | None = None) -> Figure:
    """Aalen–Johansen cumulative incidence per group: the cause of interest solid with its CI band,
    the competing causes dashed, in the group's colour."""
    ends = [c.followup for c in competing.cif.values()]
    end = horizon if horizon is not None else max(ends, default=1.0)
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=110)
    top = 0.0
    for colour, group in zip(PALETTE * 3, competing.groups):
        curve = competing.cif[group]
        t, y = _step(curve.time, curve.estimate, end)
        ax.step(t, y, where="post", color=colour, lw=2,
                label=f"{group}: {cause_label(curve.cause)} (n={curve.n}, events={curve.events})")
        _, low = _step(curve.time, np.nan_to_num(curve.lower, nan=0.0), end)
        _, up = _step(curve.time, np.nan_to_num(curve.upper, nan=0.0), end)
        ax.fill_between(t, low, up, step="post", color=colour, alpha=0.12, lw=0)
        top = max(top, float(np.max(up, initial=0.0)))
        for dashes, cause in zip(_COMPETING_DASHES * 3, competing.competing_causes):
            other = competing.competing_cif[cause][group]
            t, y = _step(other.time, other.estimate, end)
            ax.step(t, y, where="post", color=colour, lw=1.5, ls=dashes,
                    label=f"{group}: {cause_label(cause)} (competing, events={other.events})")
            top = max(top, float(np.max(y, initial=0.0)))
    ax.set_xlim(0, end)
    ax.set_ylim(0, min(1.0, max(0.05, 1.15 * top)))
    ax.set_xlabel(f"Time since diagnosis ({unit})")
    ax.set_ylabel("Cumulative incidence")
    ax.grid(alpha=0.3)
    ax.legend(title=group_label, loc="upper left", fontsize=8, title_fontsize=9, frameon=True)
    fig.tight_layout()
    return fig


def calibration_figure(calibration: CalibrationResult, *, unit: str) -> Figure:
    """Mean predicted against Kaplan–Meier observed survival at ``calibration.time`` per risk group,
    with the observed 95% CIs and the line of perfect calibration."""
    groups = calibration.groups
    predicted = np.array([g.predicted for g in groups], dtype=float)
    observed = np.array([g.observed for g in groups], dtype=float)
    lower = np.array([g.lower for g in groups], dtype=float)
    upper = np.array([g.upper for g in groups], dtype=float)
    fig, ax = plt.subplots(figsize=(5.2, 5.0), dpi=110)
    finite = np.concatenate([predicted, lower, observed])
    finite = finite[np.isfinite(finite)]
    low_edge = max(0.0, math.floor((float(finite.min()) if finite.size else 0.0) * 20 - 1) / 20)
    ax.plot([low_edge, 1.0], [low_edge, 1.0], color="grey", ls="--", lw=1, label="Perfect calibration")
    ax.errorbar(predicted, observed, yerr=[np.nan_to_num(observed - lower), np.nan_to_num(upper - observed)],
                fmt="o", color=PALETTE[0], ecolor=PALETTE[0], capsize=3, ms=5,
                label="Risk group: observed (Kaplan–Meier, 95% CI)")
    ax.plot(predicted, observed, color=PALETTE[0], lw=0.8, alpha=0.6)
    ax.set_xlim(low_edge, 1.0)
    ax.set_ylim(low_edge, 1.0)
    ax.set_aspect("equal")
    t = f"{calibration.time:g} {unit}"
    ax.set_xlabel(f"Predicted survival at {t} (mean in group)")
    ax.set_ylabel(f"Observed survival at {t}")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return fig


def _p_text(p: float | None) -> str:
    if p is None or not math.isfinite(p):
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}" if p < 0.1 else f"p = {p:.2f}"


def subgroup_forest_figure(subgroups: SubgroupResult, *, labels: dict[str, str] | None = None) -> Figure:
    """The marker's hazard ratio within each level of each factor, unadjusted (open) and adjusted
    (filled), with n/events per level and each factor's interaction p-value."""
    labels = labels or {}
    rows: list[tuple[str, object]] = []  # ("factor", SubgroupFactor) or ("level", SubgroupLevel)
    for factor in subgroups.factors:
        rows.append(("factor", factor))
        rows.extend(("level", level) for level in factor.levels)
    n = len(rows)
    fig, ax = plt.subplots(figsize=(8.5, 0.9 + 0.34 * n), dpi=110)
    y_of = np.arange(n)[::-1].astype(float)
    adjusted_any = False
    for (kind, item), y in zip(rows, y_of):
        if kind == "factor":
            p = item.interaction_p_adjusted if item.interaction_p_adjusted is not None else item.interaction_p
            ax.text(-0.02, y, f"{labels.get(item.factor, item.factor)} (interaction {_p_text(p)})",
                    transform=ax.get_yaxis_transform(), ha="right", va="center", fontsize=9, fontweight="bold")
            continue
        ax.text(-0.02, y, f"{item.level}   {item.n} / {item.events}", transform=ax.get_yaxis_transform(),
                ha="right", va="center", fontsize=9)
        estimates = [(item.unadjusted, "o", "white", 0.0)]
        if item.adjusted is not None:
            adjusted_any = True
            estimates = [(item.unadjusted, "o", "white", 0.14), (item.adjusted, "s", PALETTE[0], -0.14)]
        for est, marker, face, offset in estimates:
            if not all(math.isfinite(v) and v > 0 for v in (est.hazard_ratio, est.lower, est.upper)):
                continue
            ax.errorbar([est.hazard_ratio], [y + offset],
                        xerr=[[est.hazard_ratio - est.lower], [est.upper - est.hazard_ratio]],
                        fmt=marker, color=PALETTE[0], mfc=face, ecolor=PALETTE[0], capsize=2, ms=5)
    ax.axvline(1.0, color="grey", lw=1, ls="--")
    plain_log_axis(ax)
    ax.set_yticks([])
    ax.set_ylim(-0.8, n - 0.2)
    ax.set_xlabel(f"Hazard ratio of {subgroups.term} (log scale), 95% CI")
    ax.grid(axis="x", alpha=0.3)
    ax.text(-0.02, n - 0.25, "Subgroup   n / events", transform=ax.get_yaxis_transform(), ha="right",
            va="bottom", fontsize=8, color="#444")
    if adjusted_any:
        handles = [plt.Line2D([], [], marker="o", mfc="white", color=PALETTE[0], ls="", label="unadjusted"),
                   plt.Line2D([], [], marker="s", color=PALETTE[0], ls="", label="adjusted")]
        ax.legend(handles=handles, loc="upper right", fontsize=8, frameon=True)
    fig.subplots_adjust(left=0.42, right=0.97, top=0.97, bottom=0.6 / (0.9 + 0.34 * n) + 0.04)
    return fig
