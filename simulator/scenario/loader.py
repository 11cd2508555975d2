"""Reading scenarios: YAML, ``extends``, ``--set`` overrides, validation.

A scenario file is a YAML mapping of the fields of
:class:`~simulator.scenario.model.Scenario`. It may name another file in
``extends:`` (relative to its own directory); the other file is read
first, recursively, and this one is merged over it: mappings merge key by
key, anything else (numbers, strings, lists, ``null``) replaces what was
there, and so does a distribution, latency model or start rule given a
new ``kind``. Overrides ``FIELD.PATH=VALUE`` from the command line are
applied last, each value read as YAML, and the result is validated as a
whole. A field set to ``null`` takes its default, so a child can drop
what its parent set.

Every problem raises :class:`~simulator.errors.ScenarioError` naming the
file (or ``--set``) that gave the value, the dotted field path, the value
and what is allowed. When validation finds several problems, the first
is raised and the others are attached to it as exception notes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import BaseModel, ValidationError

from simulator.errors import ScenarioError
from simulator.scenario.fields import MISSING, RuleError
from simulator.scenario.model import PATH_FIELDS, Scenario

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pydantic_core import ErrorDetails

logger = logging.getLogger(__name__)

Key = str | int
"""A step into a scenario tree: a field name or a list index."""

Origins = dict[tuple[Key, ...], str]
"""Which file (or ``--set``) last set each node of a scenario tree."""

OVERRIDE_SOURCE = "--set"
"""How errors name a value that came from a command-line override."""


def load_scenario(path: Path, overrides: Sequence[str] = ()) -> Scenario:
    """Read, merge, override and validate the scenario in ``path``.

    Parameters
    ----------
    path
        The YAML file.
    overrides
        ``FIELD.PATH=VALUE`` strings applied after the file is read, in
        order; list items are addressed as ``faults[0].start_s`` or
        ``faults.0.start_s``. ``VALUE`` is read as YAML, so ``3``,
        ``true``, ``[1, 2]``, ``{kind: constant, value: 1}`` and ``null``
        all work. A relative path set here resolves against the current
        directory.

    Raises
    ------
    ScenarioError
        If a file cannot be read or parsed, ``extends`` forms a cycle, an
        override is malformed, or the result is not a valid scenario.
    """
    path = Path(path)
    origins: Origins = {}
    data = _read_tree(path, (), origins)
    for text in overrides:
        _apply_override(data, text, origins)
    if "source" in data:
        raise ScenarioError(
            origins.get(("source",), str(path)),
            "source",
            data["source"],
            "is set by the loader to the file read; leave it out",
        )

    try:
        scenario = Scenario.model_validate(_without_nulls(data))
    except ValidationError as error:
        raise _scenario_error(error, origins) from None
    logger.debug("loaded scenario %r from %s", scenario.name, path)
    return scenario.model_copy(update={"source": path})


def scenario_hash(scenario: Scenario) -> str:
    """A stable hex digest of the scenario's validated content.

    Defaults are included, so a file that spells out a default hashes
    like one that leaves it out. Files the scenario refers to (networks,
    replay instances) count by their content, not their path, so the
    same scenario hashes the same in any checkout. ``source`` does not
    count.
    """
    content = scenario.model_dump(mode="json")
    for field in PATH_FIELDS:
        parent = _node(content, field[:-1])
        if isinstance(parent, dict) and parent.get(field[-1]) is not None:
            parent[field[-1]] = _content_digest(Path(parent[field[-1]]))
    encoded = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(encoded.encode(), digest_size=16).hexdigest()


def _read_tree(
    path: Path, chain: tuple[Path, ...], origins: Origins
) -> dict[str, Any]:
    """The merged raw tree of ``path`` and the files it extends."""
    data = _read_yaml(path)
    source = str(path)
    _resolve_paths(data, (), path.absolute().parent)

    extends = data.pop("extends", None)
    if extends is None:
        _mark(data, (), source, origins)
        origins[()] = source
        return data
    if not isinstance(extends, str) or not extends:
        raise ScenarioError(
            source, "extends", extends, "must be the path of a scenario file"
        )

    base_path = Path(os.path.normpath(path.parent / extends))
    seen = [p.absolute() for p in (*chain, path)]
    if base_path.absolute() in seen:
        cycle = " -> ".join(str(p) for p in (*chain, path, base_path))
        raise ScenarioError(
            source, "extends", extends, f"must not form a cycle ({cycle})"
        )
    if not base_path.is_file():
        raise ScenarioError(
            source,
            "extends",
            extends,
            f"must name an existing file relative to {path.parent}",
        )

    base = _read_tree(base_path, (*chain, path), origins)
    _merge(base, data, (), source, origins)
    origins[()] = source
    return base


def _without_nulls(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without its null entries, in nested mappings too: a
    field set to null takes its default."""
    return {
        key: _without_nulls(value) if isinstance(value, dict) else value
        for key, value in data.items()
        if value is not None
    }


def _read_yaml(path: Path) -> dict[str, Any]:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError(
            source,
            "",
            source,
            f"must be a readable scenario file ({error.strerror})",
        ) from None
    except UnicodeDecodeError as error:
        raise ScenarioError(
            source, "", error.reason, "must be UTF-8 text"
        ) from None

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        where = ""
        mark = getattr(error, "problem_mark", None)
        if mark is not None:
            where = f" (line {mark.line + 1}, column {mark.column + 1})"
        problem = getattr(error, "problem", None) or str(error)
        raise ScenarioError(
            source, "", problem, f"must be valid YAML{where}"
        ) from None

    if not isinstance(data, dict):
        raise ScenarioError(
            source,
            "",
            type(data).__name__,
            "must be a YAML mapping of scenario fields",
        )
    return data


def _merge(
    base: dict[str, Any],
    update: dict[str, Any],
    at: tuple[Key, ...],
    source: str,
    origins: Origins,
) -> None:
    """Merge ``update`` into ``base`` in place, mappings key by key."""
    for key, value in update.items():
        here = (*at, key)
        if (
            isinstance(value, dict)
            and isinstance(base.get(key), dict)
            and not _new_kind(here, base[key], value)
        ):
            origins[here] = source
            _merge(base[key], value, here, source, origins)
        else:
            _forget(here, origins)
            base[key] = value
            _mark(value, here, source, origins)


def _new_kind(
    at: tuple[Key, ...], base: dict[str, Any], update: dict[str, Any]
) -> bool:
    """Whether ``update`` switches a section that is replaced whole on a
    new kind (a distribution, say) to another kind."""
    section = _section_at(at)
    return (
        section is not None
        and getattr(section, "replaced_on_new_kind", False)
        and "kind" in update
        and update["kind"] != base.get("kind")
    )


def _mark(
    value: object, at: tuple[Key, ...], source: str, origins: Origins
) -> None:
    """Record ``source`` as the origin of ``value`` and all inside it."""
    origins[at] = source
    if isinstance(value, dict):
        for key, item in value.items():
            _mark(item, (*at, key), source, origins)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _mark(item, (*at, index), source, origins)


def _forget(at: tuple[Key, ...], origins: Origins) -> None:
    """Drop the origins of a subtree about to be replaced."""
    for key in [k for k in origins if k[: len(at)] == at]:
        del origins[key]


def _resolve_paths(
    data: dict[str, Any], at: tuple[Key, ...], directory: Path
) -> None:
    """Make the path fields set at or below ``at`` absolute."""
    for field in PATH_FIELDS:
        if field[: len(at)] != at:
            continue
        parent = _node(data, field[:-1])
        if not isinstance(parent, dict):
            continue
        value = parent.get(field[-1])
        if isinstance(value, str):
            parent[field[-1]] = os.path.normpath(directory / value)


def _node(data: object, at: Sequence[Key]) -> object:
    """The node of ``data`` at ``at``, or None if there is none."""
    node = data
    for key in at:
        if isinstance(node, dict) and isinstance(key, str):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int):
            node = node[key] if 0 <= key < len(node) else None
        else:
            return None
    return node


_SEGMENT = re.compile(r"([^.\[\]]+)((?:\[\d+\])*)")


def _parse_field_path(text: str, override: str) -> list[Key]:
    """``a.b[2].c`` or ``a.b.2.c`` as keys and indices."""
    keys: list[Key] = []
    for part in text.split("."):
        match = _SEGMENT.fullmatch(part)
        if match is None:
            raise ScenarioError(
                OVERRIDE_SOURCE,
                "",
                override,
                "must be FIELD.PATH=VALUE with fields separated by dots, "
                "for example fleet.drivers=40 or faults[0].start_s=600",
            )
        name, indices = match.groups()
        keys.append(int(name) if name.isdigit() else name)
        keys.extend(int(i) for i in re.findall(r"\d+", indices))
    return keys


def _apply_override(data: dict[str, Any], text: str, origins: Origins) -> None:
    """Set one ``FIELD.PATH=VALUE`` in ``data``."""
    field_text, equals, value_text = text.partition("=")
    if not equals or not field_text.strip():
        raise ScenarioError(
            OVERRIDE_SOURCE,
            "",
            text,
            "must be FIELD.PATH=VALUE, for example fleet.drivers=40",
        )
    keys = _parse_field_path(field_text.strip(), text)
    try:
        value = yaml.safe_load(value_text)
    except yaml.YAMLError:
        raise ScenarioError(
            OVERRIDE_SOURCE,
            _dotted(keys),
            value_text,
            "must be a YAML value (a number, true/false, a string, "
            "[a, list] or {a: mapping})",
        ) from None

    node: Any = data
    for depth, key in enumerate(keys[:-1]):
        node = _step_into(node, key, keys[: depth + 1], keys[depth + 1])
    _set(node, keys, value)

    _forget(tuple(keys), origins)
    _mark(value, tuple(keys), OVERRIDE_SOURCE, origins)
    _resolve_paths(data, tuple(keys), Path.cwd())
    logger.debug("override %s = %r", _dotted(keys), value)


def _step_into(node: Any, key: Key, at: list[Key], following: Key) -> Any:
    """The child ``key`` of ``node``, creating a mapping if absent."""
    if isinstance(key, str) and isinstance(node, dict):
        child = node.get(key)
        if child is None:
            child = [] if isinstance(following, int) else {}
            node[key] = child
        return child
    if isinstance(key, int) and isinstance(node, list):
        if not 0 <= key < len(node):
            raise _no_item(at, node)
        return node[key]
    raise ScenarioError(
        OVERRIDE_SOURCE,
        _dotted(at[:-1]),
        node,
        f"has no field {key!r} to set",
    )


def _set(node: Any, keys: list[Key], value: object) -> None:
    key = keys[-1]
    if isinstance(key, str) and isinstance(node, dict):
        node[key] = value
    elif isinstance(key, int) and isinstance(node, list):
        if not 0 <= key < len(node):
            raise _no_item(keys, node)
        node[key] = value
    else:
        raise ScenarioError(
            OVERRIDE_SOURCE,
            _dotted(keys[:-1]),
            node,
            f"has no field {key!r} to set",
        )


def _no_item(keys: Sequence[Key], items: list[Any]) -> ScenarioError:
    if not items:
        where = "the list is empty (or only has its default)"
    else:
        where = f"the list has items 0 to {len(items) - 1}"
    return ScenarioError(
        OVERRIDE_SOURCE,
        _dotted(keys),
        keys[-1],
        f"must be an item of the list, but {where}; set the whole list "
        f"instead, for example {_dotted(keys[:-1])}=[...]",
    )


def _dotted(keys: Sequence[Key]) -> str:
    """``("faults", 0, "start_s")`` as ``faults[0].start_s``."""
    text = ""
    for key in keys:
        if isinstance(key, int):
            text += f"[{key}]"
        else:
            text += f".{key}" if text else key
    return text


def _scenario_error(error: ValidationError, origins: Origins) -> ScenarioError:
    """The first problem of ``error`` as a ScenarioError, others as
    notes."""
    details = error.errors()

    # A list whose items failed is also reported too short, as if the
    # failed items were not there; the items' own errors say more.
    details = [
        detail
        for detail in details
        if detail["type"] not in ("too_short", "too_long")
        or not any(
            len(other["loc"]) > len(detail["loc"])
            and other["loc"][: len(detail["loc"])] == detail["loc"]
            for other in details
        )
    ]
    problems = [_problem(detail, origins) for detail in details]
    first = problems[0]
    for other in problems[1:]:
        first.add_note(str(other))
    return first


def _problem(detail: ErrorDetails, origins: Origins) -> ScenarioError:
    """One pydantic error as a ScenarioError."""
    loc: tuple[Key, ...] = tuple(detail["loc"])
    source = _origin(loc, origins)
    value: object = detail.get("input")
    allowed = _allowed(detail, loc)
    path = _dotted(loc)

    rule = detail.get("ctx", {}).get("error")
    if isinstance(rule, RuleError):
        path = _join(path, rule.field)
        value = rule.value
        allowed = rule.allowed
        source = _origin((*loc, *_parse_keys(rule.field)), origins)
    elif detail["type"] == "missing":
        value = MISSING
    if isinstance(value, Path):
        value = str(value)
    return ScenarioError(source, path, value, allowed)


def _origin(loc: tuple[Key, ...], origins: Origins) -> str:
    """The origin of the deepest recorded node on the way to ``loc``."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in origins:
            return origins[loc[:end]]
    return "scenario"


def _join(path: str, field: str) -> str:
    if not field:
        return path
    if not path or field.startswith("["):
        return path + field
    return f"{path}.{field}"


def _parse_keys(field: str) -> list[Key]:
    return [
        int(token) if token.isdigit() else token
        for token in re.findall(r"[^.\[\]]+", field)
    ]


_MESSAGES = {
    "missing": "is required",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "model_type": "must be a mapping of fields",
    "model_attributes_type": "must be a mapping of fields",
    "dict_type": "must be a mapping",
    "tuple_type": "must be a list",
    "list_type": "must be a list",
    "path_type": "must be a path (a string)",
}


def _allowed(detail: ErrorDetails, loc: tuple[Key, ...]) -> str:
    """What is allowed, in words, for one pydantic error."""
    kind = detail["type"]
    ctx = detail.get("ctx", {})
    bounds = {
        "greater_than": ">",
        "greater_than_equal": ">=",
        "less_than": "<",
        "less_than_equal": "<=",
    }
    if kind in bounds:
        limit = next(iter(ctx.values()))
        return f"must be {bounds[kind]} {limit:g}"
    if kind in ("literal_error", "enum"):
        return f"must be {ctx['expected']}"
    if kind == "too_short":
        return f"must hold at least {_items(ctx['min_length'])}"
    if kind == "too_long":
        return f"must hold at most {_items(ctx['max_length'])}"
    if kind == "extra_forbidden":
        section = _section_at(loc[:-1])
        if section is None:
            return "is not a field here"
        names = sorted(n for n in section.model_fields if n != "source")
        return f"is not a field here; allowed: {', '.join(names)}"
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    message = detail["msg"].removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def _items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


def _section_at(loc: tuple[Key, ...]) -> type[BaseModel] | None:
    """The section class found by following ``loc`` from the top."""
    section: type[BaseModel] = Scenario
    for key in loc:
        if isinstance(key, int):
            continue
        field = section.model_fields.get(key)
        if field is None:
            return None
        found = _model_in(field.annotation)
        if found is None:
            return None
        section = found
    return section


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The section class inside an annotation such as ``X | None`` or
    ``tuple[X, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _content_digest(path: Path) -> str:
    """A digest of a file, or of every file in a folder, by content."""
    digest = hashlib.blake2b(digest_size=16)
    if path.is_file():
        digest.update(path.read_bytes())
    elif path.is_dir():
        for item in sorted(p for p in path.rglob("*") if p.is_file()):
            digest.update(item.relative_to(path).as_posix().encode())
            digest.update(b"\0")
            digest.update(item.read_bytes())
    else:
        return f"missing:{path.name}"
    return f"content:{digest.hexdigest()}"
