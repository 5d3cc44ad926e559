"""The optional analysis keys of the statistical core: ties, strata, robust variance,
interactions, subgroups, PH test, validation, missing data, associations and competing risks.

They sit at the top level of the spec, beside ``marker`` and ``covariates``; only the log-rank
strata go inside ``km:``. Every key is optional and defaults to the behaviour of a plain
complete-case Cox analysis with Efron ties and a PH test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from prognosis._numbers import is_finite
from prognosis.spec.reader import SpecReader

OPTION_KEYS: tuple[str, ...] = (
    "ties", "robust", "cluster", "strata", "ph_test", "interactions", "subgroups",
    "validation", "missing", "associations", "competing", "table1", "misclassification",
)
_VALIDATION_KEYS = ("bootstrap", "seed", "times", "groups")
_MISSING_KEYS = ("method", "m", "seed", "iterations")
_COMPETING_KEYS = ("column", "codes", "of_interest")
_ASSOCIATIONS_KEYS = ("factors", "adjust_for")
_MISCLASSIFICATION_KEYS = ("sensitivity", "specificity", "draws", "seed", "time_groups")
_COUNT_KEYS = {"sensitivity": ("true_positive", "false_negative"), "specificity": ("true_negative", "false_positive")}

# Upper bounds on the work a spec can ask for; each is a SpecError naming the key when exceeded
# (`validation.bootstrap: 1000000000` used to run until killed). They sit well above what the
# methods need: rms::validate users take B = 200-1000, mice users m = 5-100.
MAX_BOOTSTRAP = 10_000
MAX_IMPUTATIONS = 200
MAX_IMPUTATION_ITERATIONS = 100
MAX_CALIBRATION_GROUPS = 50
MAX_MISCLASSIFICATION_DRAWS = 10_000
MAX_TIME_GROUPS = 20
MAX_BETA_PARAMETER = 1e6
"""Beta(alpha, beta) parameters above this are a fixed value in all but name; give the value instead."""
MAX_VALIDATION_COUNT = 10_000_000
MAX_SEED = 2**32 - 1
"""Seeds are whole numbers 0 to 2^32 - 1, the range every seeding convention (numpy, R) accepts."""


@dataclass(frozen=True)
class ValidationSpec:
    """Discrimination and calibration at ``times``; bootstrap optimism with ``bootstrap`` resamples (0: none)."""

    bootstrap: int = 0
    seed: int = 1
    times: tuple[float, ...] = ()
    groups: int = 5


@dataclass(frozen=True)
class MissingSpec:
    method: Literal["complete_case", "multiple_imputation"] = "complete_case"
    m: int = 20
    seed: int = 1
    iterations: int = 10


@dataclass(frozen=True)
class CompetingSpec:
    """``codes`` maps values of ``column`` to cause names; other values mean censored (alive)."""

    column: str
    codes: dict[str, str]
    of_interest: str

    @property
    def causes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.codes.values()))


@dataclass(frozen=True)
class DistributionSpec:
    """A sensitivity's or specificity's distribution as written: ``kind`` fixed, beta or trapezoid.

    Validation counts become Beta(positive + 1, negative + 1) and are kept in ``counts``;
    :class:`prognosis.stats.misclassification.Distribution` draws from it.
    """

    kind: Literal["fixed", "beta", "trapezoid"]
    parameters: tuple[float, ...]
    counts: dict[str, int] | None = None


@dataclass(frozen=True)
class MisclassificationSpec:
    """What is known of the marker's sensitivity and specificity, and how many (Se, Sp) pairs to draw."""

    sensitivity: DistributionSpec
    specificity: DistributionSpec
    draws: int = 1000
    seed: int = 1
    time_groups: int = 4


@dataclass(frozen=True)
class AnalysisOptions:
    ties: Literal["efron", "breslow"] = "efron"
    robust: bool = False
    cluster: str | None = None
    strata: tuple[str, ...] = ()
    ph_test: bool = True
    interactions: tuple[tuple[str, str], ...] = ()
    subgroups: tuple[str, ...] = ()
    validation: ValidationSpec | None = None
    missing: MissingSpec = field(default_factory=MissingSpec)
    associations: tuple[str, ...] = ()
    associations_adjust_for: tuple[str, ...] | None = None
    """Columns the adjusted odds ratios adjust for (``associations: {factors, adjust_for}``); None: the
    bare-list rule, a numeric column named ``age`` if there is one."""
    competing: CompetingSpec | None = None
    table1: tuple[str, ...] | None = None
    misclassification: MisclassificationSpec | None = None

    @property
    def model_columns(self) -> tuple[str, ...]:
        """Columns the Cox models need besides marker and covariates (complete-case)."""
        return self.strata + ((self.cluster,) if self.cluster else ())


def _interactions(r: SpecReader, value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        raise r.fail("interactions", "expected a list of pairs, e.g. [[casting, her2]]")
    pairs = []
    for i, pair in enumerate(value):
        names = r.names(pair, f"interactions[{i}]")
        if len(names) != 2 or names[0] == names[1]:
            raise r.fail(f"interactions[{i}]", "an interaction is a pair of two different variables")
        pairs.append((names[0], names[1]))
    return tuple(pairs)


def _competing(r: SpecReader, value: Any) -> CompetingSpec:
    raw = r.mapping(value, "competing", _COMPETING_KEYS)
    for key in _COMPETING_KEYS:
        if key not in raw:
            raise r.fail("competing", f"`{key}` is required")
    codes_raw = raw["codes"]
    if not isinstance(codes_raw, dict) or len(codes_raw) < 2:
        raise r.fail("competing.codes", "map at least two codes to causes, e.g. {1: breast_cancer, 2: other}")
    codes = {}
    for code, cause in codes_raw.items():
        if isinstance(code, bool) or isinstance(cause, bool):
            raise r.fail("competing.codes", "a code or cause was read as a boolean; quote it")
        if isinstance(code, (int, float)) and not is_finite(code):
            raise r.fail("competing.codes", f"code {code!r} is not a finite number")
        if not isinstance(code, (str, int, float)):
            raise r.fail("competing.codes", f"code {code!r} must be a number or text")
        text = str(int(code) if isinstance(code, float) and code.is_integer() else code)
        if text in codes:  # 1 and "1" are the same cell once read as text
            raise r.fail("competing.codes", f"code {text!r} is given twice")
        codes[text] = r.text(cause, f"competing.codes.{code}")
    of_interest = r.text(raw["of_interest"], "competing.of_interest")
    if of_interest not in codes.values():
        r.choice(of_interest, "competing.of_interest", tuple(dict.fromkeys(codes.values())))
    return CompetingSpec(r.text(raw["column"], "competing.column"), codes, of_interest)


def _proportion(r: SpecReader, value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not is_finite(value) or not 0 <= value <= 1:
        raise r.fail(where, f"expected a proportion from 0 to 1, got {value!r}")
    return float(value)


def _distribution(r: SpecReader, value: Any, which: str) -> DistributionSpec:
    """``0.9`` (fixed), ``{beta: [a, b]}``, ``{trapezoid: [min, mode_low, mode_high, max]}`` or validation counts."""
    where = f"misclassification.{which}"
    counts = _COUNT_KEYS[which]
    example = (f"0.9, {{beta: [25, 4]}}, {{trapezoid: [0.8, 0.85, 0.95, 1.0]}} or "
               f"{{{counts[0]}: 25, {counts[1]}: 3}}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        proportion = _proportion(r, value, where)
        if proportion == 0:
            raise r.fail(where, "a value of 0 means the images never give the right call; expected a proportion above 0")
        return DistributionSpec("fixed", (proportion,))
    if not isinstance(value, dict) or not value:
        raise r.fail(where, f"expected a proportion or one distribution, e.g. {example}")
    raw = r.mapping(value, where, ("beta", "trapezoid") + counts)
    if set(raw) == set(counts):
        numbers = [r.integer(raw[k], f"{where}.{k}", maximum=MAX_VALIDATION_COUNT) for k in counts]
        return DistributionSpec("beta", (numbers[0] + 1.0, numbers[1] + 1.0), dict(zip(counts, numbers)))
    if len(raw) != 1 or set(raw) & set(counts):
        raise r.fail(where, f"give one distribution (beta, trapezoid) or both counts {counts[0]} and {counts[1]}, "
                     f"e.g. {example}")
    (kind, parameters), = raw.items()
    size = 2 if kind == "beta" else 4
    if not isinstance(parameters, list) or len(parameters) != size:
        raise r.fail(f"{where}.{kind}", f"expected a list of {size} numbers, e.g. {example}")
    if kind == "beta":
        shape = tuple(r.number(v, f"{where}.beta[{i}]", maximum=MAX_BETA_PARAMETER) for i, v in enumerate(parameters))
        return DistributionSpec("beta", shape)
    corners = tuple(_proportion(r, v, f"{where}.trapezoid[{i}]") for i, v in enumerate(parameters))
    if any(a > b for a, b in zip(corners, corners[1:])) or corners[0] == corners[3]:
        raise r.fail(f"{where}.trapezoid", "expected [minimum, lower mode, upper mode, maximum] in increasing order "
                     "with minimum below maximum (for one value give the number itself)")
    return DistributionSpec("trapezoid", corners)


def _misclassification(r: SpecReader, value: Any) -> MisclassificationSpec:
    raw = r.mapping(value, "misclassification", _MISCLASSIFICATION_KEYS)
    for key in ("sensitivity", "specificity"):
        if key not in raw:
            raise r.fail("misclassification", f"`{key}` is required, e.g. {{sensitivity: {{beta: [25, 4]}}, "
                         "specificity: {beta: [88, 5]}}")
    return MisclassificationSpec(
        sensitivity=_distribution(r, raw["sensitivity"], "sensitivity"),
        specificity=_distribution(r, raw["specificity"], "specificity"),
        draws=r.integer(raw.get("draws", 1000), "misclassification.draws", minimum=1,
                        maximum=MAX_MISCLASSIFICATION_DRAWS),
        seed=r.integer(raw.get("seed", 1), "misclassification.seed", maximum=MAX_SEED),
        time_groups=r.integer(raw.get("time_groups", 4), "misclassification.time_groups", minimum=1,
                              maximum=MAX_TIME_GROUPS),
    )


def parse_options(r: SpecReader, top: dict[str, Any]) -> AnalysisOptions:
    """Read the optional keys from the spec's top-level mapping."""
    options: dict[str, Any] = {}
    if "ties" in top:
        options["ties"] = r.choice(top["ties"], "ties", ("efron", "breslow"))
    if "robust" in top:
        options["robust"] = r.boolean(top["robust"], "robust")
    if top.get("cluster") is not None:
        options["cluster"] = r.text(top["cluster"], "cluster")
        options["robust"] = True  # a cluster only means something for the sandwich variance
    if "strata" in top:
        options["strata"] = r.names(top["strata"], "strata")
    if "ph_test" in top:
        options["ph_test"] = r.boolean(top["ph_test"], "ph_test")
    if "interactions" in top:
        options["interactions"] = _interactions(r, top["interactions"])
    if "subgroups" in top:
        options["subgroups"] = r.names(top["subgroups"], "subgroups")
    if "associations" in top:
        if isinstance(top["associations"], dict):
            raw = r.mapping(top["associations"], "associations", _ASSOCIATIONS_KEYS)
            if "factors" not in raw:
                raise r.fail("associations", "`factors` is required, e.g. {factors: [grade, er], adjust_for: [age_dx]}")
            options["associations"] = r.names(raw["factors"], "associations.factors")
            options["associations_adjust_for"] = r.names(raw.get("adjust_for") or [], "associations.adjust_for")
        else:
            options["associations"] = r.names(top["associations"], "associations")
    if "table1" in top:
        options["table1"] = r.names(top["table1"], "table1")
    if top.get("validation") is not None:
        raw = r.mapping(top["validation"], "validation", _VALIDATION_KEYS)
        options["validation"] = ValidationSpec(
            bootstrap=r.integer(raw.get("bootstrap", 0), "validation.bootstrap", maximum=MAX_BOOTSTRAP),
            seed=r.integer(raw.get("seed", 1), "validation.seed", maximum=MAX_SEED),
            times=r.numbers(raw.get("times", []), "validation.times"),
            groups=r.integer(raw.get("groups", 5), "validation.groups", minimum=2, maximum=MAX_CALIBRATION_GROUPS),
        )
    if top.get("missing") is not None:
        raw = r.mapping(top["missing"], "missing", _MISSING_KEYS)
        options["missing"] = MissingSpec(
            method=r.choice(raw.get("method", "complete_case"), "missing.method", ("complete_case", "multiple_imputation")),
            m=r.integer(raw.get("m", 20), "missing.m", minimum=2, maximum=MAX_IMPUTATIONS),
            seed=r.integer(raw.get("seed", 1), "missing.seed", maximum=MAX_SEED),
            iterations=r.integer(raw.get("iterations", 10), "missing.iterations", minimum=1,
                                 maximum=MAX_IMPUTATION_ITERATIONS),
        )
    if top.get("competing") is not None:
        options["competing"] = _competing(r, top["competing"])
    if top.get("misclassification") is not None:
        options["misclassification"] = _misclassification(r, top["misclassification"])
    return AnalysisOptions(**options)
