"""The one exception tree for everything a user can cause.

The CLI prints a KohyaPrepError as `Error: <message>` on stderr and exits 1; any other exception
is a bug and keeps its traceback.
"""

from __future__ import annotations


class KohyaPrepError(Exception):
    """Base class: the message is a whole sentence naming the bad value and the fix."""


class SpecError(KohyaPrepError):
    """Raised when a dataset spec fails validation; carries every problem found, not just the first."""

    def __init__(self, spec_path: str, problems: list[str]):
        self.spec_path = spec_path
        self.problems = problems
        if len(problems) == 1:
            message = f"{spec_path}: {problems[0]}"
        else:
            lines = "\n".join(f"  - {p}" for p in problems)
            message = f"{spec_path}: {len(problems)} problems:\n{lines}"
        super().__init__(message)


class BuildError(KohyaPrepError):
    """Raised when a build cannot complete (corrupt source, foreign file in the way, locked folder)."""


class ConfigError(KohyaPrepError):
    """Raised when train-config cannot write a set sd-scripts would accept."""


class CheckError(KohyaPrepError):
    """Raised when `dataset check` cannot read what it was pointed at."""


class DoctorError(KohyaPrepError):
    """Raised when doctor is given something it cannot use (a --kohya-dir that does not exist)."""
