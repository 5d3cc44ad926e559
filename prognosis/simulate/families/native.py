"""Family ``native``: the project's own renderer, :func:`prognosis.simulate.phantom.simulate_phantoms`, unchanged.

Power-law texture with beta = 3, a Gaussian PSF of 0.04 mm, one dose (1e7 photons/mm²), pixel
pitch 0.05, 0.07 or 0.1 mm, the writer's linear window for For Presentation, and the shape models
of :mod:`prognosis.simulate.lesions`. The extractor's thresholds were set on this family.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from prognosis.simulate.phantom import FULL_FIELD_MM, SMALL_FIELD_MM, simulate_phantoms


@dataclass(frozen=True)
class NativeFamily:
    """The project's original phantoms, behind the families' interface."""

    name: str = "native"
    prefix: str = "PH"
    description: str = "the project's phantom.py renderer (beta 3, one dose, linear window)"

    def simulate(self, out: str | Path, *, n: int, seed: int = 0, field_mm: tuple[float, float] = SMALL_FIELD_MM,
                 workers: int = 1) -> pd.DataFrame:
        """Render with :func:`simulate_phantoms` (sequential: ``workers`` is ignored)."""
        if field_mm not in (SMALL_FIELD_MM, FULL_FIELD_MM):
            raise ValueError(f"the native family renders the small {SMALL_FIELD_MM} or full {FULL_FIELD_MM} field only")
        truth = simulate_phantoms(out, n=n, seed=seed, full_field=field_mm == FULL_FIELD_MM)
        return truth.assign(family=self.name)


FAMILY = NativeFamily()
