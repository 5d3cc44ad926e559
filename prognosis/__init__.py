"""prognosis: prognostic cohort studies in breast cancer around mammographic calcifications."""

import logging
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("prognosis")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = ["__version__", "analyse", "write_report"]

# Imported on first use: `import prognosis` (and so the CLI's start-up) stays free of pandas,
# scipy and matplotlib until an analysis is actually run.
_LAZY = {"analyse": ("prognosis.api", "analyse"), "write_report": ("prognosis.report.write", "write_report")}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        module, attribute = _LAZY[name]
        value = getattr(import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'prognosis' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
