"""The simulator's errors.

Every error the harness raises for bad input derives from
:class:`SimulatorError`; the command line turns them into a message and
exit code 2.

``SimulatorError``
    ``InputError``: a file or field holds a value that is not allowed.
        ``ScenarioError``: the value is in a scenario.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class SimulatorError(Exception):
    """Base of the simulator's errors."""


class InputError(SimulatorError):
    """A value read from a file or the command line is not allowed.

    The message names where the value came from (a file, or the command
    line), the dotted path of the field, the value, and what is allowed.
    """

    def __init__(
        self, source: Path | str, path: str, value: object, allowed: str
    ) -> None:
        self.source = str(source)
        self.path = path
        self.value = value
        self.allowed = allowed
        # The parts are the arguments, so that the error survives being
        # re-raised from them (SimPy does so) and pickled.
        super().__init__(source, path, value, allowed)

    def __str__(self) -> str:
        where = f"{self.source}: {self.path}" if self.path else self.source
        return f"{where}: {self.value!r}: {self.allowed}"


class ScenarioError(InputError):
    """A scenario file or override holds a value that is not allowed."""
