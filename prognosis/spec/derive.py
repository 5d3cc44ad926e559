"""``derive:`` and ``population:`` of the analysis spec, read into frozen objects.

Three forms of derived variable, each with a ``label``::

    grade3: {from: tgrade, map: {I: "I-II", II: "I-II", III: "III"}}   # categorical, levels as first mapped
    nodes4: {from: pnodes, cut: [4], labels: ["0-3", "4+"]}              # categorical: [min, 4), [4, max]
    age10:  {expr: "age / 10", label: "Age (per 10 years)"}              # numeric, or 0/1 for a comparison

A ``map`` value of ``null`` makes that code missing; a code the map does not cover is an error
when the data hold it. Derived variables are evaluated in the order written and may use earlier
ones; a forward reference or a self reference is an error here, before any data are read.
``population:`` is a list of expressions of the same grammar (see
:mod:`prognosis.spec.expressions`), each kept patients for whom it is true.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from prognosis.spec.expressions import Expression, parse_expression
from prognosis._numbers import is_finite
from prognosis.spec.reader import SpecReader

_FORMS = ("from", "map", "cut", "labels", "expr", "label")
MAX_DERIVED = 200
MAX_FILTERS = 50
MAX_CUTS = 50
_RESERVED = ("_time", "_event", "_beyond_horizon")


@dataclass(frozen=True)
class Derivation:
    """One derived variable. ``form`` says which of ``source``/``mapping``/``cuts``/``expression`` apply."""

    name: str
    form: Literal["map", "cut", "expr"]
    label: str
    source: str | None = None
    mapping: tuple[tuple[str, str | None], ...] = ()
    """(code as text, level or None for missing), in the order written."""
    cuts: tuple[float, ...] = ()
    levels: tuple[str, ...] = ()
    """The categories of a map or cut, in order: the first is the default reference."""
    expression: Expression | None = None

    @property
    def reads(self) -> tuple[str, ...]:
        """The columns and earlier derived variables this one is computed from."""
        return (self.source,) if self.source else (self.expression.names if self.expression else ())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "form": self.form, "label": self.label}
        if self.source:
            out["from"] = self.source
        if self.form == "map":
            out["map"] = {code: level for code, level in self.mapping}
        if self.form == "cut":
            out["cut"] = list(self.cuts)
        if self.levels:
            out["levels"] = list(self.levels)
        if self.expression is not None:
            out["expr"] = self.expression.text
        return out


def _code_text(r: SpecReader, value: Any, where: str) -> str:
    # Cells are compared as text, as the dictionary does: a YAML 1 matches the cell "1", 1.0 too.
    if isinstance(value, bool):
        raise r.fail(where, f"the code {value!r} was read as a boolean; quote it, e.g. \"yes\"")
    if isinstance(value, float):
        if not is_finite(value):
            raise r.fail(where, f"the code {value!r} is not a finite number")
        return str(int(value)) if value.is_integer() else repr(value)
    if not isinstance(value, (str, int)):
        raise r.fail(where, f"a code must be text or a number, got {value!r}")
    return str(value)


def _level_text(r: SpecReader, value: Any, where: str) -> str:
    if isinstance(value, bool):
        raise r.fail(where, f"the level {value!r} was read as a boolean; quote it, e.g. \"yes\"")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, (str, int, float)) or not str(value).strip():
        raise r.fail(where, f"a level must be non-empty text, got {value!r}")
    return str(value)


def _map(r: SpecReader, name: str, raw: dict[str, Any], where: str) -> Derivation:
    mapping_raw = raw["map"]
    if not isinstance(mapping_raw, dict) or not mapping_raw:
        raise r.fail(f"{where}.map", "expected a mapping of codes to levels, e.g. {I: \"I-II\", II: \"I-II\", III: \"III\"}")
    mapping: dict[str, str | None] = {}
    for code, level in mapping_raw.items():
        text = _code_text(r, code, f"{where}.map")
        if text in mapping:
            raise r.fail(f"{where}.map", f"the code {text!r} is given twice")
        mapping[text] = None if level is None else _level_text(r, level, f"{where}.map.{text}")
    levels = tuple(dict.fromkeys(v for v in mapping.values() if v is not None))
    if not levels:
        raise r.fail(f"{where}.map", "every code is mapped to null, so the variable would be missing for everyone")
    source = r.text(raw["from"], f"{where}.from")
    return Derivation(name, "map", str(raw.get("label") or f"{source} (recoded)"), source=source,
                      mapping=tuple(mapping.items()), levels=levels)


def _cut_label(cuts: tuple[float, ...], i: int) -> str:
    low, high = (cuts[i - 1] if i else None), (cuts[i] if i < len(cuts) else None)
    if low is None:
        return f"< {high:g}"
    return f">= {low:g}" if high is None else f"{low:g} to < {high:g}"


def _cut(r: SpecReader, name: str, raw: dict[str, Any], where: str) -> Derivation:
    value = raw["cut"]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list) or not value or len(value) > MAX_CUTS:
        raise r.fail(f"{where}.cut", f"expected a list of 1 to {MAX_CUTS} cut points, e.g. [4] for [min, 4) and [4, max]")
    cuts = tuple(r.number(c, f"{where}.cut[{i}]", positive=False) for i, c in enumerate(value))
    if any(b <= a for a, b in zip(cuts, cuts[1:])):
        raise r.fail(f"{where}.cut", "cut points must increase strictly, e.g. [4, 10]")
    if "labels" in raw:
        labels_raw = raw["labels"]
        if not isinstance(labels_raw, list) or len(labels_raw) != len(cuts) + 1:
            raise r.fail(f"{where}.labels", f"{len(cuts)} cut point{'s' if len(cuts) > 1 else ''} make{'' if len(cuts) > 1 else 's'} "
                         f"{len(cuts) + 1} groups, so give {len(cuts) + 1} labels")
        labels = tuple(_level_text(r, v, f"{where}.labels[{i}]") for i, v in enumerate(labels_raw))
        if len(set(labels)) != len(labels):
            raise r.fail(f"{where}.labels", "a label is given twice")
    else:
        labels = tuple(_cut_label(cuts, i) for i in range(len(cuts) + 1))
    source = r.text(raw["from"], f"{where}.from")
    return Derivation(name, "cut", str(raw.get("label") or f"{source} (grouped)"), source=source, cuts=cuts,
                      levels=labels)


def _one(r: SpecReader, name: Any, raw: Any, where: str) -> Derivation:
    if not isinstance(name, str) or not name.isidentifier() or name.startswith("__"):
        raise r.fail("derive", f"{name!r} cannot be a variable name: use letters, digits and _ (e.g. grade3), "
                     "starting with a letter")
    if name in _RESERVED or name.startswith("_row"):
        raise r.fail("derive", f"{name!r} is a name prognosis uses for the cohort's own columns; choose another")
    raw = r.mapping(raw, where, _FORMS)
    label = raw.get("label")
    if label is not None and (not isinstance(label, str) or not label.strip()):
        raise r.fail(f"{where}.label", "expected text")
    has = [form for form in ("map", "cut", "expr") if form in raw]
    if len(has) != 1:
        raise r.fail(where, "give exactly one of `map` (with `from`), `cut` (with `from`, `labels`) or `expr`")
    form = has[0]
    if form == "expr":
        if "from" in raw or "labels" in raw:
            raise r.fail(where, "`expr` names its columns itself; `from` and `labels` belong to `map` and `cut`")
        expression = parse_expression(raw["expr"], f"{r.source}: {where}.expr")
        return Derivation(name, "expr", str(label or expression.text), expression=expression)
    if "from" not in raw:
        raise r.fail(where, f"`{form}` needs `from`, the column to {'recode' if form == 'map' else 'group'}")
    if form == "map" and "labels" in raw:
        raise r.fail(where, "`labels` belongs to `cut`; a map's levels are the values it maps to")
    return _map(r, name, raw, where) if form == "map" else _cut(r, name, raw, where)


def parse_derive(r: SpecReader, value: Any) -> tuple[Derivation, ...]:
    """Read ``derive:``, refusing forward and self references.

    Raises
    ------
    SpecError
        Naming ``derive.<name>`` and what is wrong.
    """
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise r.fail("derive", "expected a mapping of new variable names to {from, map}, {from, cut, labels} or {expr}")
    if len(value) > MAX_DERIVED:
        raise r.fail("derive", f"{len(value)} derived variables is more than the maximum, {MAX_DERIVED}")
    derived = [_one(r, name, raw, f"derive.{name}") for name, raw in value.items()]
    names = [d.name for d in derived]
    for i, d in enumerate(derived):
        for used in d.reads:
            if used == d.name:
                raise r.fail(f"derive.{d.name}", f"{d.name!r} is computed from itself; derive it from other columns")
            if used in names[i + 1:]:
                raise r.fail(f"derive.{d.name}", f"uses {used!r}, which is derived later; derived variables are "
                             f"computed in the order written, so move {used!r} above {d.name!r}")
    return tuple(derived)


def parse_population(r: SpecReader, value: Any) -> tuple[Expression, ...]:
    """Read ``population:``, a list of filter expressions (a single one is accepted as a list of one)."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise r.fail("population", "expected a list of conditions, e.g. [\"tsize <= 50\", \"stage != 'IV'\"]")
    if len(value) > MAX_FILTERS:
        raise r.fail("population", f"{len(value)} filters is more than the maximum, {MAX_FILTERS}")
    filters = tuple(parse_expression(v, f"{r.source}: population[{i}]") for i, v in enumerate(value))
    texts = [f.text for f in filters]
    if len(set(texts)) != len(texts):
        raise r.fail("population", "a filter is listed twice")
    return filters


__all__ = ["Derivation", "parse_derive", "parse_population", "MAX_DERIVED", "MAX_FILTERS"]
