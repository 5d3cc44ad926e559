"""Rows that repeat a key, found and described in time and memory linear in the number of rows.

A key is one column or several (a composite key such as ``[patient_id, laterality]``). Each
repeated key is one :class:`KeyRepeat`; every message about it lists at most ``SHOWN`` rows and
the count, so that 8,000 rows sharing one id give 8,000 short messages, not 8,000 lists of 7,999.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Rows a duplicate-key message names before it says "… and N more".
SHOWN = 5


@dataclass(frozen=True)
class KeyRepeat:
    """One key held by several rows: their positions (0-based, in file order)."""

    positions: np.ndarray

    @property
    def n_rows(self) -> int:
        return int(self.positions.size)


def _codes(keys: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """One integer per row, equal exactly where the whole key is equal, and where no part is missing."""
    codes = np.zeros(len(keys), dtype=np.int64)
    complete = np.ones(len(keys), dtype=bool)
    # Columns by position, never by label: a key may be called `row`, `index` or anything else.
    for j in range(keys.shape[1]):
        part, uniques = pd.factorize(keys.iloc[:, j], use_na_sentinel=True)
        complete &= part >= 0
        # Re-factorised after each part, so the combined code stays below n * (n + 1): no overflow.
        codes, _ = pd.factorize(codes * (len(uniques) + 1) + part)
    return codes, complete


def repeated_keys(keys: pd.Series | pd.DataFrame) -> tuple[KeyRepeat, ...]:
    """Every key that more than one row holds, in order of its first row.

    Parameters
    ----------
    keys : Series or DataFrame
        The key column, or the columns of a composite key, rows in file order. Rows with a
        missing key part are left out (a missing key is reported as missing, not as repeated).

    Returns
    -------
    tuple of KeyRepeat
        Each with the positions of the rows sharing that key, ascending.
    """
    frame = keys.to_frame() if isinstance(keys, pd.Series) else keys
    codes, complete = _codes(frame)
    positions = np.flatnonzero(complete)
    codes = codes[positions]
    counts = np.bincount(codes) if codes.size else np.zeros(0, dtype=np.int64)
    repeated = counts[codes] > 1
    positions, codes = positions[repeated], codes[repeated]
    # factorize numbers keys by first appearance, so a stable sort by code groups them in that order.
    order = np.argsort(codes, kind="stable")
    positions, codes = positions[order], codes[order]
    bounds = np.flatnonzero(np.diff(codes)) + 1
    return tuple(KeyRepeat(group) for group in np.split(positions, bounds) if group.size)


def _numbers(rows: np.ndarray) -> str:
    return ", ".join(str(int(r)) for r in rows)


def describe_repeats(groups: tuple[KeyRepeat, ...], row_numbers: np.ndarray) -> Iterator[tuple[int, str]]:
    """For each row of each repeated key: its position and where else the key is, in words.

    ``row_numbers[position]`` is the row as the user counts it (a spreadsheet's row). A key held
    by at most ``SHOWN + 1`` rows names the others (``also in row 5, 7``); a larger group gives
    every one of its rows the same bounded text (``8000 rows share it: rows 2, 3, 4, 5, 6, … 8001``).
    """
    for group in groups:
        rows = np.asarray(row_numbers)[group.positions]
        if group.n_rows <= SHOWN + 1:
            for i, position in enumerate(group.positions):
                yield int(position), f"also in row {_numbers(np.delete(rows, i))}"
            continue
        shared = (f"{group.n_rows} rows share it: rows {_numbers(rows[:SHOWN])}, … {int(rows[-1])}; "
                  f"each is listed as a violation")
        for position in group.positions:
            yield int(position), shared


def rows_sharing_a_key(keys: pd.Series | pd.DataFrame) -> dict[Hashable, list[Hashable]]:
    """For each row whose key another row repeats, the index labels of those other rows.

    Kept for callers that list every other row; its output grows with the square of a group's
    size, so messages about tables of unknown size should use :func:`describe_repeats`.
    """
    labels = keys.index
    found: dict[int, list[Hashable]] = {}
    for group in repeated_keys(keys):
        members = [labels[p] for p in group.positions]
        for i, position in enumerate(group.positions):
            found[int(position)] = members[:i] + members[i + 1:]
    return {labels[p]: found[p] for p in sorted(found)}
