"""The exception and warning hierarchy.

Only :mod:`prognosis.cli` turns these into messages and exit codes; library code raises them.
Messages name the place (file, row, column) and, where it helps, the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class PrognosisError(Exception):
    """Base class of every error prognosis raises on purpose."""


class SpecError(PrognosisError):
    """The analysis spec is malformed or refers to something that does not exist."""


class DictionaryError(PrognosisError):
    """A data dictionary is malformed."""


@dataclass(frozen=True)
class Violation:
    """One cell (or column, or table) that breaks a dictionary rule.

    ``row`` is 1-based as a spreadsheet shows it (the header is row 1), or ``None`` when the
    violation concerns a whole column or table.
    """

    path: str
    row: int | None
    column: str | None
    value: str | None
    rule: str

    def location(self) -> str:
        parts = [Path(self.path).name]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        return ", ".join(parts)

    def message(self, *, show_value: bool = True) -> str:
        if show_value and self.value is not None:
            return f"{self.location()}: {self.value!r} {self.rule}"
        return f"{self.location()}: {self.rule}"

    def to_dict(self) -> dict:
        """Location and rule only: patient values never leave the process through this."""
        return {"path": self.path, "row": self.row, "column": self.column, "rule": self.rule}


class DataValidationError(PrognosisError):
    """A table breaks its data dictionary (or the analysis' needs).

    Carries every violation found, not only the first, in ``violations``; the message lists the
    first ``limit`` of them. ``path``, ``row``, ``column`` and ``rule`` describe the first one,
    for callers that want a single location.
    """

    def __init__(self, violations: list[Violation], *, limit: int = 50) -> None:
        if not violations:
            raise ValueError("DataValidationError needs at least one violation")
        self.violations = list(violations)
        first = self.violations[0]
        self.path, self.row, self.column, self.rule = first.path, first.row, first.column, first.rule
        lines = [v.message() for v in self.violations[:limit]]
        more = len(self.violations) - limit
        if more > 0:
            lines.append(f"... and {more} more")   # bounded; .violations holds every one
        n = len(self.violations)
        files = ", ".join(dict.fromkeys(Path(p).name for p in dict.fromkeys(v.path for v in self.violations)))
        header = f"{n} problem{'s' if n != 1 else ''} found in {files}:"
        super().__init__("\n".join([header, *("  " + line for line in lines)]))


class DicomError(PrognosisError):
    """A DICOM file cannot be used; names the file and the tag at fault."""

    def __init__(self, message: str, *, path: str | None = None, tag: str | None = None) -> None:
        self.path, self.tag = path, tag
        super().__init__(message)


class ModelError(PrognosisError):
    """A model cannot be fitted as asked: no events, one level, separation, non-convergence."""


class OutputError(PrognosisError):
    """An output path cannot be written as asked; ``path`` is the file or folder at fault.

    Raised when ``--out`` holds files prognosis did not write, would contain the inputs, or the
    system refuses the write (read-only folder, full disk, a symlink loop).
    """

    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(message)


class PrognosisWarning(UserWarning):
    """Base class of the numerical caveats a user must see."""


class ConvergenceWarning(PrognosisWarning):
    """A fit converged poorly or a statistic rests on very few events."""
