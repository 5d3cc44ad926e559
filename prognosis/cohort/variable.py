"""A model variable: a spec's name bound to the dictionary column it was found in."""

from __future__ import annotations

from dataclasses import dataclass

from prognosis.dictionary import ColumnSpec


@dataclass(frozen=True)
class Variable:
    """A model variable as the statistics need it: declared type, levels and reference."""

    name: str
    spec: ColumnSpec
    table: str
    reference: str | None = None

    @property
    def label(self) -> str:
        return self.spec.display_name

    @property
    def is_categorical(self) -> bool:
        return self.spec.is_categorical

