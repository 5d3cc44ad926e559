"""Read a YAML file, turning every way it can fail into one of our errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from prognosis.errors import PrognosisError


def read_yaml(path: Path, *, error: type[PrognosisError], what: str) -> Any:
    """Parse ``path``; a missing or malformed file raises ``error`` naming it as ``what``."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise error(f"{path.name}: cannot be read as YAML ({exc})") from None
