"""Read YAML strictly, turning every way it can fail into one of our errors.

PyYAML's ``safe_load`` keeps the last of two equal keys (a spec with ``covariates:`` twice ran
with the second list only) and expands aliases without limit (nine nested anchors, the "billion
laughs", build a title of 10^9 strings the moment anything walks it). Specs, dictionaries and
``extract --params`` all come through here, so both are refused in one place, before anything
is built: the document's node graph is walked once, checking every mapping for repeated keys
and counting the values the aliases would expand to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from prognosis.errors import PrognosisError

MAX_EXPANDED_NODES = 100_000
"""Values (scalars, lists, mappings) a document may hold once its aliases are expanded; the demo
spec has about 150, a large dictionary a few thousand."""

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Refused(Exception):
    """A document PyYAML would accept but we do not; ``line`` is 1-based, or None."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def _key_text(key: Any) -> str:
    return key if isinstance(key, str) else repr(key)


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that checks the composed node graph before constructing anything."""

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        self._check(node)
        return self.construct_document(node)

    def _mapping_keys(self, node: MappingNode, where: str) -> None:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            # `<<: *base` followed by a key of base is YAML's way of overriding, not a repeat
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode):
                continue
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key; construct_mapping names it
                continue
            if first is not None:
                place = f"`{where}`" if where else "the top level"
                raise _Refused(f"key {_key_text(key)!r} appears twice in {place} (first at line {first}); "
                               "keep only one of them", line)
            seen[key] = line

    def _check(self, root: Node) -> None:
        """Refuse repeated keys, recursive aliases and documents that expand beyond the limit.

        An iterative depth-first walk (so deep nesting cannot overflow Python's stack here) that
        visits each node once; an aliased node is one node reached twice, so its expanded size is
        memoised and counted once per reference.
        """
        sizes: dict[int, int] = {}
        open_nodes: set[int] = set()
        aliased = False
        stack: list[tuple[Node, str, bool]] = [(root, "", False)]
        while stack:
            node, where, leaving = stack.pop()
            children = _children(node, where)
            if leaving:
                open_nodes.discard(id(node))
                size = 1 + sum(sizes[id(child)] for child, _ in children)
                if size > MAX_EXPANDED_NODES and aliased:
                    raise _Refused(f"its aliases (*name) would expand to more than {MAX_EXPANDED_NODES:,} values; "
                                   "write the values out instead of repeating anchors")
                if size > MAX_EXPANDED_NODES:
                    raise _Refused(f"it holds more than {MAX_EXPANDED_NODES:,} values, far more than a spec or "
                                   "dictionary needs; is it the right file?")
                sizes[id(node)] = size
                continue
            if id(node) in sizes:
                aliased = True  # a node reached twice: an alias to it
                continue
            if id(node) in open_nodes:
                raise _Refused("an alias refers to itself (a recursive structure); write the value out",
                               node.start_mark.line + 1)
            if isinstance(node, MappingNode):
                self._mapping_keys(node, where)
            open_nodes.add(id(node))
            stack.append((node, where, True))
            stack.extend((child, path, False) for child, path in reversed(children))


def _children(node: Node, where: str) -> list[tuple[Node, str]]:
    if isinstance(node, SequenceNode):
        return [(child, f"{where}[{i}]") for i, child in enumerate(node.value)]
    if isinstance(node, MappingNode):
        out: list[tuple[Node, str]] = []
        for key_node, value_node in node.value:
            name = key_node.value if isinstance(key_node, ScalarNode) else "?"
            out.append((key_node, where))
            out.append((value_node, f"{where}.{name}" if where else str(name)))
        return out
    return []


def parse_yaml(text: str, *, error: type[PrognosisError], source: str) -> Any:
    """Parse YAML ``text``, refusing repeated keys and alias bombs; failures raise ``error`` naming ``source``.

    Parameters
    ----------
    text : str
        The document.
    error : type of PrognosisError
        Raised for every failure, e.g. SpecError for a spec.
    source : str
        How to name the text in messages: a file name, or ``--set NAME``.

    Raises
    ------
    error
        Malformed YAML; a key repeated within one mapping (with its line and the line of the
        first); aliases expanding to more than ``MAX_EXPANDED_NODES`` values or to themselves;
        nesting too deep to read.
    """
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    except _Refused as exc:
        raise error(f"{source} line {exc.line}: {exc}" if exc.line else f"{source}: {exc}") from None
    except yaml.YAMLError as exc:
        raise error(f"{source}: cannot be read as YAML ({exc})") from None
    except RecursionError:
        raise error(f"{source}: nested too deeply to read; flatten the lists or mappings") from None
    finally:
        loader.dispose()


def read_yaml(path: Path, *, error: type[PrognosisError], what: str) -> Any:
    """Parse ``path`` with :func:`parse_yaml`; a missing or unreadable file raises ``error`` naming it as ``what``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path.name}: cannot be read as YAML ({exc})") from None
    return parse_yaml(text, error=error, source=path.name)
