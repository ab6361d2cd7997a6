"""The one exception tree for everything a user can cause.

The CLI prints a KohyaPrepError as `Error: <message>` on stderr (or, with --json, as the errors of the JSON
envelope, one notice per problem) and exits 1; any other exception
is a bug and keeps its traceback.
"""

from __future__ import annotations

from kohya_prep.output import Notice


class KohyaPrepError(Exception):
    """Base class: the message is a whole sentence naming the bad value and the fix."""

    code = "error"

    def notices(self) -> list[Notice]:
        """The error as the notices of a --json envelope."""
        return [Notice(self.code, str(self))]


class SpecError(KohyaPrepError):
    """Raised when a dataset spec fails validation; carries every problem found, not just the first."""

    code = "spec"

    def __init__(self, spec_path: str, problems: list[str]):
        self.spec_path = spec_path
        self.problems = problems
        if len(problems) == 1:
            message = f"{spec_path}: {problems[0]}"
        else:
            lines = "\n".join(f"  - {p}" for p in problems)
            message = f"{spec_path}: {len(problems)} problems:\n{lines}"
        super().__init__(message)

    def notices(self) -> list[Notice]:
        return [Notice(self.code, problem, self.spec_path) for problem in self.problems]


class BuildError(KohyaPrepError):
    """Raised when a build cannot complete (corrupt source, foreign file in the way, locked folder)."""

    code = "build"


class ConfigError(KohyaPrepError):
    """Raised when train-config cannot write a set sd-scripts would accept."""

    code = "train-config"


class CheckError(KohyaPrepError):
    """Raised when `dataset check` cannot read what it was pointed at."""

    code = "check"


class DoctorError(KohyaPrepError):
    """Raised when doctor is given something it cannot use (a --kohya-dir that does not exist)."""

    code = "doctor"


class InitError(KohyaPrepError):
    """Raised when `dataset init` or `dataset adopt` cannot make or change a spec from what it was given."""

    code = "init"
