"""Versioned schema migrations: SQL files applied in order on open.

``engine/storage/migrations/<dialect>/NNNN_name.sql`` holds the
migrations of each dialect (``sqlite``, ``postgresql``). A backend
applies each one it has not applied yet in a transaction of its own,
and records it in ``schema_migrations(version, applied_at)`` in the same
transaction, so that opening twice applies nothing the second time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files

from engine.errors import InvalidRequestError

FILE_NAME = re.compile(r"^(\d{4})_(\w+)\.sql$")
"""A migration's file name: four digits of version, an underscore, a
name."""


@dataclass(frozen=True, slots=True)
class Migration:
    """One versioned change of the schema."""

    version: int
    name: str
    sql: str


def migrations(dialect: str) -> tuple[Migration, ...]:
    """The migrations of ``dialect``, by version.

    Raises
    ------
    InvalidRequestError
        For a dialect without migrations, a file not named
        ``NNNN_name.sql``, or two files of one version.
    """
    folder = files("engine.storage").joinpath("migrations", dialect)
    if not folder.is_dir():
        raise InvalidRequestError(
            "dialect", dialect, "must be sqlite or postgresql"
        )
    found: dict[int, Migration] = {}
    for entry in folder.iterdir():
        match = FILE_NAME.match(entry.name)
        if match is None:
            raise InvalidRequestError(
                f"migrations/{dialect}", entry.name, "must be NNNN_name.sql"
            )
        version = int(match.group(1))
        if version in found:
            raise InvalidRequestError(
                f"migrations/{dialect}",
                entry.name,
                f"repeats version {version}",
            )
        found[version] = Migration(
            version, match.group(2), entry.read_text(encoding="utf-8")
        )
    return tuple(found[version] for version in sorted(found))
