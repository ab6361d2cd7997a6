"""The one value every doctor check returns: a row of the report."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class CheckResult:
    """One row: `finding` says what was seen in one line; `fix` is the exact command or flag (warn/fail only)."""

    name: str
    status: Status
    finding: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def ok(name: str, finding: str) -> CheckResult:
    return CheckResult(name, "ok", finding)


def warn(name: str, finding: str, fix: str) -> CheckResult:
    return CheckResult(name, "warn", finding, fix)


def fail(name: str, finding: str, fix: str) -> CheckResult:
    return CheckResult(name, "fail", finding, fix)


def exit_code(results: list[CheckResult]) -> int:
    """0 when nothing failed, 1 otherwise (warnings never fail the run)."""
    return 1 if any(r.status == "fail" for r in results) else 0
