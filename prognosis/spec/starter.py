"""A starter analysis spec for drafted tables: ``prognosis init TABLE...``.

The join key, the endpoint's time and event are guessed from the drafted dictionaries and the
columns' names; every guess is marked ``?`` in a comment, and the marker is left for the user
with the candidates listed. Written as text so that the comments survive.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from prognosis.dictionary.draft import TableDraft, looks_like_event

__all__ = ["MARKER_PLACEHOLDER", "starter_spec"]

#: What ``marker:`` holds until the user chooses; ``prognosis run`` refuses it by name.
MARKER_PLACEHOLDER = "CHOOSE_A_MARKER"
_TIME_NAME = re.compile(r"time|days|months|years|follow|futime|surv|duration", re.IGNORECASE)
_UNIT_IN_NAME = (("days", "days"), ("month", "months"), ("year", "years"))


def _relative(path: Path, start: Path) -> str:
    """``path`` relative to the spec's folder, as load_spec resolves it; absolute when they share only the root."""
    path, start = path.resolve(), start.resolve()
    if os.path.commonpath([path, start]) == path.anchor:
        return path.as_posix()
    return Path(os.path.relpath(path, start)).as_posix()


def _join_key(drafts: Sequence[TableDraft]) -> tuple[str | None, list[str]]:
    """Columns unique in every table; the drafted key first when every table shares it."""
    common = set(drafts[0].key_candidates)
    for draft in drafts[1:]:
        common &= set(draft.key_candidates)
    keys = {d.key for d in drafts}
    ordered = sorted(common, key=lambda c: (c not in keys, c))
    return (ordered[0] if ordered else None), ordered


def _time_unit(name: str) -> str:
    return next((unit for part, unit in _UNIT_IN_NAME if part in name.lower()), "days")


def starter_spec(drafts: Sequence[TableDraft], tables: Sequence[Path], dictionaries: Sequence[Path], *,
                 spec_path: Path) -> str:
    """The starter spec as YAML text with comments.

    Parameters
    ----------
    drafts : sequence of TableDraft
        One per table, as :func:`prognosis.dictionary.draft.draft_table` returns.
    tables, dictionaries : sequence of Path
        Where each table is and where its drafted dictionary is written.
    spec_path : Path
        Where the spec is written: its paths are relative to its folder, as ``load_spec`` reads them.
    """
    folder = spec_path.parent
    join, joins = _join_key(drafts)
    columns = [(d.table, c) for d in drafts for c in d.columns if c.name not in joins]
    times = [c for _, c in columns if c.type == "numeric" and _TIME_NAME.search(c.name)]
    events = [c for _, c in columns if looks_like_event(c)] or [c for _, c in columns if c.type == "binary"]
    dates = [c for _, c in columns if c.type == "date"]
    time, event = (times[0] if times else None), (events[0] if events else None)
    used = {c.name for c in (time, event) if c is not None}
    markers = [c.name for _, c in columns if c.type in ("categorical", "binary", "numeric") and c.name not in used]
    lines = [
        f"# Starter spec written by `prognosis init` for {', '.join(d.table for d in drafts)}.",
        "# Lines marked ? are guesses or choices left to you; the spec's keys are described in the README",
        "# (The analysis spec). Check the drafted dictionaries first: `prognosis validate TABLE -d DICT`.",
        f"title: {spec_path.stem}    # ? the study's title, shown on the report",
        "tables:",
    ]
    for draft, table, dictionary in zip(drafts, tables, dictionaries):
        lines.append(f"  - {{name: {json.dumps(draft.table)}, path: {json.dumps(_relative(table, folder))}, "
                     f"dictionary: {json.dumps(_relative(dictionary, folder))}}}")
    if join is not None:
        others = [c for c in joins if c != join]
        also = f"; also unique in every table: {', '.join(others)}" if others else ""
        lines.append(f"join: {join}    # ? unique and complete in every table{also}")
    else:
        lines.append("join: CHOOSE_A_KEY    # ? no column is unique and complete in every table: "
                     "one row per patient is needed")
    lines.append("endpoint:")
    if time is not None:
        lines.append(f"  time: {{column: {time.name}, unit: {_time_unit(time.name)}}}    # ? guessed from the name; "
                     "check its unit")
    elif len(dates) >= 2:
        lines.append(f"  time: {{start: {dates[0].name}, end: {dates[1].name}}}    # ? from the first two date "
                     f"columns; dates: {', '.join(c.name for c in dates)}")
    else:
        lines.append("  time: {column: CHOOSE_A_TIME, unit: days}    # ? follow-up time, or {start: DATE, end: DATE}")
    if event is not None:
        others = [c.name for c in events if c is not event]
        also = f"; or {', '.join(others)}" if others else ""
        lines.append(f"  event: {event.name}    # ? 1 = the event happened, 0 = censored{also}")
    else:
        lines.append("  event: CHOOSE_AN_EVENT    # ? a binary column: 1 = the event happened, 0 = censored")
    lines.append("  unit: years    # the unit of results: days, months or years")
    lines.append(f"marker: {MARKER_PLACEHOLDER}    # ? the variable under study; candidates: "
                 f"{', '.join(markers) or '(none drafted)'}")
    lines.append("covariates: []    # ? adjustment variables, e.g. [age, grade]; categorical ones take "
                 "{name: grade, reference: \"1\"}")
    return "\n".join(lines) + "\n"
