"""The optional analysis keys of the statistical core: ties, strata, robust variance,
interactions, subgroups, PH test, validation, missing data, associations and competing risks.

They sit at the top level of the spec, beside ``marker`` and ``covariates``; only the log-rank
strata go inside ``km:``. Every key is optional and defaults to the behaviour of a plain
complete-case Cox analysis with Efron ties and a PH test.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from prognosis.spec.reader import SpecReader, is_finite

OPTION_KEYS: tuple[str, ...] = (
    "ties", "robust", "cluster", "strata", "ph_test", "interactions", "subgroups",
    "validation", "missing", "associations", "competing", "table1",
)
_VALIDATION_KEYS = ("bootstrap", "seed", "times", "groups")
_MISSING_KEYS = ("method", "m", "seed", "iterations")
_COMPETING_KEYS = ("column", "codes", "of_interest")
_ASSOCIATIONS_KEYS = ("factors", "adjust_for")

# Upper bounds on the work a spec can ask for; each is a SpecError naming the key when exceeded
# (`validation.bootstrap: 1000000000` used to run until killed). They sit well above what the
# methods need: rms::validate users take B = 200-1000, mice users m = 5-100.
MAX_BOOTSTRAP = 10_000
MAX_IMPUTATIONS = 200
MAX_IMPUTATION_ITERATIONS = 100
MAX_CALIBRATION_GROUPS = 50
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
    return AnalysisOptions(**options)
