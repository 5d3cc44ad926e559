"""Shared phantoms: one small set, generated once per session (seeded), extracted once.

The set holds 15 breasts (3 per class, two views each, 30 DICOM files) in a 64 x 51.2 mm field at
0.05, 0.07 and 0.1 mm, made by :func:`prognosis.simulate.phantom.simulate_phantoms` (seed below).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

PHANTOM_SEED = 20261125
N_BREASTS = 15


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory) -> Path:
    from prognosis.simulate.phantom import simulate_phantoms

    out = tmp_path_factory.mktemp("phantoms")
    simulate_phantoms(out, n=N_BREASTS, seed=PHANTOM_SEED)
    return out


@pytest.fixture(scope="session")
def extracted(phantom_dir, tmp_path_factory):
    from prognosis.imaging.batch import run_batch

    out = tmp_path_factory.mktemp("extracted") / "imaging.parquet"
    return run_batch(phantom_dir, out)


@pytest.fixture(scope="session")
def truth(phantom_dir) -> dict[str, pd.DataFrame]:
    return {name: pd.read_csv(phantom_dir / f"truth_{name}.csv") for name in ("breasts", "images", "calcifications")}
