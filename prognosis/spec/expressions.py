"""The safe expression grammar of ``derive:`` and ``population:``, and its evaluator on a DataFrame.

User text is never given to ``eval``: it is parsed with :func:`ast.parse` in ``eval`` mode and the
tree is walked against a whitelist. Allowed are numbers, quoted text, ``true``/``false``-free names
of columns and earlier derived variables, ``+ - * / **``, unary ``-`` and ``not``, ``and``/``or``,
the comparisons ``== != < <= > >=`` (chains too), ``in``/``not in`` a literal list, and calls by plain
name to :data:`FUNCTIONS`. Anything else (attribute access, subscripts, lambdas, comprehensions,
keyword arguments, dunder names, other calls) is a :class:`SpecError` naming the spec key and the
offending part.

Work is bounded: an expression is at most :data:`MAX_LENGTH` characters and :data:`MAX_DEPTH` deep,
and a constant exponent above :data:`MAX_EXPONENT` in magnitude is refused (``10 ** 10 ** 10``).
Evaluation is vectorised over float arrays, so no expression can build a huge Python integer.

Missing values propagate: NaN in, NaN out; a comparison with a missing value is missing, not
False. ``and``/``or`` follow three-valued (Kleene) logic, as SQL does: ``False and missing`` is
False, ``True and missing`` is missing. A value that becomes undefined (division by zero, the log of
zero or a negative number, an overflow) is missing too, and counted in :attr:`Evaluated.undefined`.
"""

from __future__ import annotations

import ast
import operator
from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np
import pandas as pd

from prognosis._cells import cell_text
from prognosis._suggest import did_you_mean
from prognosis.errors import SpecError

Kind = Literal["number", "binary", "bool", "text", "date"]
MAX_LENGTH = 1000
MAX_DEPTH = 30
MAX_EXPONENT = 1000.0
"""Largest constant exponent; 10 ** 1000 already overflows a float, so nothing useful is refused."""

_UNARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "log": np.log, "log2": np.log2, "log10": np.log10, "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs,
}
FUNCTIONS: tuple[str, ...] = (*_UNARY, "min", "max", "days_between")
_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
               ast.Pow: operator.pow}
_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Gt: operator.gt, ast.GtE: operator.ge}
_NUMERIC = ("number", "binary", "bool")
_LOGICAL = ("bool", "binary")


@dataclass(frozen=True)
class Expression:
    """A parsed, whitelisted expression; ``names`` are the columns it reads, in order of appearance."""

    text: str
    where: str
    tree: ast.Expression = field(compare=False, repr=False)   # equal specs are equal texts, not equal objects
    names: tuple[str, ...] = ()

    def fail(self, message: str, node: ast.AST | None = None) -> SpecError:
        part = f" in {ast.unparse(node)!r}" if node is not None else ""
        return SpecError(f"{self.where}: {self.text!r}{part}: {message}")


@dataclass(frozen=True)
class Evaluated:
    """One value per row (float with NaN, object text with None, or datetime) and the count made undefined."""

    values: np.ndarray | pd.Series
    kind: Kind
    undefined: int


def _refuse(where: str, text: str, node: ast.AST, what: str) -> SpecError:
    return SpecError(f"{where}: {text!r}: {what} ({ast.unparse(node)!r}) is not allowed; an expression may use "
                     f"numbers, 'text', column names, + - * / **, comparisons, and/or/not, `in [...]` and the "
                     f"functions {', '.join(FUNCTIONS)}")


def _depth(node: ast.AST) -> int:
    children = list(ast.iter_child_nodes(node))
    return 1 + max((_depth(c) for c in children), default=0)


def _constant_value(node: ast.AST) -> float | None:
    """The float value of a subexpression made of numbers only, else None (never a Python big integer)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _constant_value(node.operand)
        return None if value is None else (-value if isinstance(node.op, ast.USub) else value)
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        left, right = _constant_value(node.left), _constant_value(node.right)
        if left is None or right is None:
            return None
        with np.errstate(all="ignore"):
            return float(_ARITHMETIC[type(node.op)](np.float64(left), np.float64(right)))
    return None


def _check_node(node: ast.AST, where: str, text: str) -> None:
    """Refuse any node outside the whitelist, naming it."""
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float, str)):
            raise _refuse(where, text, node, f"the constant {node.value!r}")
        if isinstance(node.value, int) and abs(node.value) > 10**300:  # bounded: the literal itself is <= 1000 chars
            raise _refuse(where, text, node, "a number this large")
    elif isinstance(node, ast.Name):
        if node.id.startswith("__") or node.id in ("True", "False", "None"):
            raise _refuse(where, text, node, f"the name {node.id!r}")
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITHMETIC:
            raise _refuse(where, text, node, "the operator")
        if isinstance(node.op, ast.Pow):
            exponent = _constant_value(node.right)
            if exponent is not None and not abs(exponent) <= MAX_EXPONENT:  # also catches inf and nan
                raise SpecError(f"{where}: {text!r}: the exponent in {ast.unparse(node)!r} is larger than "
                                f"{MAX_EXPONENT:g}; such a power overflows every number")
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd, ast.Not)):
            raise _refuse(where, text, node, "the operator")
    elif isinstance(node, ast.BoolOp):
        pass
    elif isinstance(node, ast.Compare):
        for op, right in zip(node.ops, node.comparators):
            if isinstance(op, (ast.In, ast.NotIn)):
                if not (isinstance(right, (ast.List, ast.Tuple)) and right.elts and all(
                        isinstance(e, ast.Constant) and isinstance(e.value, (int, float, str))
                        and not isinstance(e.value, bool) for e in right.elts)):
                    raise _refuse(where, text, node, "`in` with anything but a literal list such as ['I', 'II']")
            elif type(op) not in _COMPARE:
                raise _refuse(where, text, node, "the comparison")
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise SpecError(f"{where}: {text!r}: {name!r} is not an allowed function; allowed: "
                            f"{', '.join(FUNCTIONS)}{did_you_mean(name, FUNCTIONS)}")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise _refuse(where, text, node, "a keyword or starred argument")
        arity = {"min": None, "max": None, "days_between": 2}.get(node.func.id, 1)
        if (arity is None and len(node.args) < 2) or (arity is not None and len(node.args) != arity):
            wanted = "at least 2 arguments" if arity is None else f"{arity} argument{'s' if arity > 1 else ''}"
            raise SpecError(f"{where}: {text!r}: {node.func.id}() takes {wanted}, got {len(node.args)}")
    elif isinstance(node, (ast.List, ast.Tuple, ast.Load, ast.operator, ast.unaryop, ast.boolop, ast.cmpop)):
        pass  # operators and the literal lists of `in`, already checked by their parent
    else:
        raise _refuse(where, text, node, type(node).__name__)


def parse_expression(text: object, where: str) -> Expression:
    """Parse and whitelist one expression of a spec.

    Parameters
    ----------
    text : object
        The expression as written in the YAML.
    where : str
        The spec key it came from (e.g. ``"spec.yaml: derive.age10.expr"``), named in every error.

    Raises
    ------
    SpecError
        Not text, too long or deep, a syntax error, or any construct outside the grammar.
    """
    if not isinstance(text, str) or not text.strip():
        raise SpecError(f"{where}: expected an expression as text, e.g. \"age / 10\", got {text!r}")
    if len(text) > MAX_LENGTH:
        raise SpecError(f"{where}: the expression is {len(text):,} characters long; at most {MAX_LENGTH:,} are allowed")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        detail = getattr(exc, "msg", None) or type(exc).__name__
        raise SpecError(f"{where}: {text!r} is not a valid expression ({detail})") from None
    if _depth(tree) > MAX_DEPTH:
        raise SpecError(f"{where}: {text!r} is nested more than {MAX_DEPTH} levels deep; split it into derived variables")
    for node in ast.walk(tree.body):
        _check_node(node, where, text)
    called = {id(n.func) for n in ast.walk(tree.body) if isinstance(n, ast.Call)}
    names = [n.id for n in ast.walk(tree.body) if isinstance(n, ast.Name) and id(n) not in called]
    return Expression(text, where, tree, tuple(dict.fromkeys(names)))


def infer_kind(expr: Expression, kinds: dict[str, Kind]) -> Kind:
    """The kind of value ``expr`` gives, checking operand kinds; ``kinds`` maps every known name.

    Raises
    ------
    SpecError
        An unknown name (with a did-you-mean), or an operation on the wrong kind of value
        (arithmetic on text, ``and`` on a number, comparing text with a number, ...).
    """
    for name in expr.names:
        if name not in kinds:
            raise expr.fail(f"{name!r} is not a declared column or an earlier derived variable"
                            f"{did_you_mean(name, kinds)}")
    return _kind(expr.tree.body, expr, kinds)


def _kind(node: ast.AST, expr: Expression, kinds: dict[str, Kind]) -> Kind:
    def need(child: ast.AST, allowed: tuple[str, ...], what: str) -> Kind:
        kind = _kind(child, expr, kinds)
        if kind not in allowed:
            raise expr.fail(f"{ast.unparse(child)!r} is {_KIND_WORDS[kind]}, but {what}", node)
        return kind

    if isinstance(node, ast.Constant):
        return "text" if isinstance(node.value, str) else "number"
    if isinstance(node, ast.Name):
        return kinds[node.id]
    if isinstance(node, ast.BinOp):
        need(node.left, _NUMERIC, "arithmetic needs numbers")
        need(node.right, _NUMERIC, "arithmetic needs numbers")
        return "number"
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            need(node.operand, _LOGICAL, "`not` needs a comparison or a 0/1 variable")
            return "bool"
        need(node.operand, _NUMERIC, "a sign needs a number")
        return "number"
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            need(value, _LOGICAL, "`and`/`or` need comparisons or 0/1 variables")
        return "bool"
    if isinstance(node, ast.Compare):
        left = node.left
        for op, right in zip(node.ops, node.comparators):
            a = need(left, (*_NUMERIC, "text"), "only numbers and text can be compared")
            if isinstance(op, (ast.In, ast.NotIn)):
                texts = {isinstance(e.value, str) for e in right.elts}  # type: ignore[attr-defined]
                if texts != {a == "text"}:
                    raise expr.fail("the list of `in` must hold values of the same kind as the left side "
                                    "(text for a categorical column, numbers for a numeric one)", node)
            else:
                b = need(right, (*_NUMERIC, "text"), "only numbers and text can be compared")
                if (a == "text") != (b == "text"):
                    raise expr.fail("compares text with a number; quote the level (tgrade == 'III') or compare "
                                    "a numeric column with a number", node)
                if a == "text" and not isinstance(op, (ast.Eq, ast.NotEq)):
                    raise expr.fail("levels have no order here; use == or != (or `in [...]`) on text", node)
            left = right
        return "bool"
    if isinstance(node, ast.Call):
        name = node.func.id  # type: ignore[attr-defined]
        if name == "days_between":
            for arg in node.args:
                need(arg, ("date",), "days_between() needs two date columns")
            return "number"
        for arg in node.args:
            need(arg, _NUMERIC, f"{name}() needs numbers")
        return "number"
    raise expr.fail("cannot be evaluated", node)  # unreachable after the whitelist


_KIND_WORDS = {"number": "a number", "binary": "a 0/1 variable", "bool": "a comparison (true/false)",
               "text": "text (a categorical or string column)", "date": "a date"}


class _Evaluator:
    def __init__(self, frame: pd.DataFrame, kinds: dict[str, Kind]) -> None:
        self.frame, self.kinds, self.n = frame, kinds, len(frame)
        self.undefined = np.zeros(len(frame), dtype=bool)

    def column(self, name: str) -> np.ndarray | pd.Series:
        series = self.frame[name]
        kind = self.kinds[name]
        if kind == "date":
            return pd.to_datetime(series).reset_index(drop=True)
        if kind == "text":
            texts = map(cell_text, series.astype(object).to_numpy())
            return np.array([None if text is pd.NA else text for text in texts], dtype=object)
        return series.to_numpy(dtype=float)

    def finite(self, result: np.ndarray, *inputs: np.ndarray) -> np.ndarray:
        """Undefined results from defined inputs (x / 0, log(0), overflow) become missing and are counted."""
        defined = np.logical_and.reduce([np.isfinite(x) for x in inputs]) if inputs else np.ones(self.n, bool)
        bad = defined & ~np.isfinite(result)
        self.undefined |= bad
        return np.where(bad, np.nan, result)

    def eval(self, node: ast.AST) -> np.ndarray | pd.Series:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                return np.full(self.n, node.value, dtype=object)
            return np.full(self.n, float(node.value))
        if isinstance(node, ast.Name):
            return self.column(node.id)
        if isinstance(node, ast.BinOp):
            a, b = self.eval(node.left), self.eval(node.right)
            with np.errstate(all="ignore"):
                return self.finite(_ARITHMETIC[type(node.op)](a, b), a, b)
        if isinstance(node, ast.UnaryOp):
            a = self.eval(node.operand)
            return 1.0 - a if isinstance(node.op, ast.Not) else (-a if isinstance(node.op, ast.USub) else a)
        if isinstance(node, ast.BoolOp):
            return self.kleene(node)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        return self.call(node)  # type: ignore[arg-type]

    def kleene(self, node: ast.BoolOp) -> np.ndarray:
        # and: any False -> False, else any missing -> missing, else True; `or` is its mirror.
        values = [self.eval(v) for v in node.values]
        decisive = 0.0 if isinstance(node.op, ast.And) else 1.0
        stacked = np.vstack(values)
        result = np.where(np.any(stacked == decisive, axis=0), decisive,
                          np.where(np.any(np.isnan(stacked), axis=0), np.nan, 1.0 - decisive))
        return result

    def compare(self, node: ast.Compare) -> np.ndarray:
        result = np.ones(self.n)
        left = self.eval(node.left)
        for op, right_node in zip(node.ops, node.comparators):
            missing = pd.isna(left)
            if isinstance(op, (ast.In, ast.NotIn)):
                listed = [e.value for e in right_node.elts]  # type: ignore[attr-defined]
                hit = pd.Series(left).isin(listed).to_numpy()
                value = hit if isinstance(op, ast.In) else ~hit
                right = left
            else:
                right = self.eval(right_node)
                missing = missing | pd.isna(right)
                with np.errstate(all="ignore"):
                    value = np.array([False] * self.n) if self.n == 0 else _COMPARE[type(op)](left, right)
            step = np.where(missing, np.nan, np.asarray(value, dtype=float))
            result = np.where((result == 0) | (step == 0), 0.0, np.where(np.isnan(result) | np.isnan(step), np.nan, 1.0))
            left = right
        return result

    def call(self, node: ast.Call) -> np.ndarray:
        name = node.func.id  # type: ignore[attr-defined]
        args = [self.eval(a) for a in node.args]
        if name == "days_between":
            start, end = args
            return (end - start).dt.days.to_numpy(dtype=float)
        with np.errstate(all="ignore"):
            if name in _UNARY:
                return self.finite(_UNARY[name](args[0]), args[0])
            fold = np.minimum if name == "min" else np.maximum   # NaN-propagating, unlike fmin/fmax
            out = args[0]
            for arg in args[1:]:
                out = fold(out, arg)
            return out


def evaluate(expr: Expression, frame: pd.DataFrame, kinds: dict[str, Kind]) -> Evaluated:
    """Evaluate a checked expression on every row of ``frame``.

    Parameters
    ----------
    expr : Expression
        From :func:`parse_expression`.
    frame : DataFrame
        Holds every column ``expr.names`` lists.
    kinds : dict
        The kind of each column (see :func:`infer_kind`, which must have accepted ``expr``).

    Returns
    -------
    Evaluated
        Floats (0/1 for a comparison) with NaN for missing, and the number of rows whose value
        became undefined from defined inputs.
    """
    kind = infer_kind(expr, kinds)
    evaluator = _Evaluator(frame, kinds)
    values = np.asarray(evaluator.eval(expr.tree.body), dtype=float)
    if values.shape != (len(frame),):  # a bare constant is broadcast already; this guards the contract
        values = np.broadcast_to(values, (len(frame),)).copy()
    return Evaluated(values, kind, int(evaluator.undefined.sum()))
