"""The package root of engine.storage lists exactly its public names."""

from __future__ import annotations

import types

import engine.storage


def test_root_exports_exactly_the_public_names() -> None:
    """Every public name at the root is in __all__, every name in
    __all__ exists, and the submodules are the only other names."""
    public = {
        name
        for name, value in vars(engine.storage).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }

    assert public == set(engine.storage.__all__)
    assert engine.storage.__all__ == sorted(engine.storage.__all__)
