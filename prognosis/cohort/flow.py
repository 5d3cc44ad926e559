"""The flow of patients: each step with n before, n excluded, n after and the reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class FlowStep:
    """One step of cohort assembly. ``excluded`` is 0 for steps that only change values."""

    step: str
    n_before: int
    excluded: int
    n_after: int
    reason: str

    def __post_init__(self) -> None:
        if self.n_before - self.excluded != self.n_after or self.excluded < 0:
            raise ValueError(f"inconsistent flow step {self.step!r}: {self.n_before} - {self.excluded} != {self.n_after}")

    def to_dict(self) -> dict:
        return asdict(self)


def check_flow_balances(flow: tuple[FlowStep, ...], n_start: int, n_final: int) -> None:
    """Assert the accounting: the final n plus every exclusion equals the patients read."""
    excluded = sum(step.excluded for step in flow)
    if n_final + excluded != n_start:
        raise AssertionError(f"flow does not balance: {n_final} + {excluded} != {n_start}")
