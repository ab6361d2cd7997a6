"""Render a doctor report: the table a person reads, and the notices of the --json envelope."""

from __future__ import annotations

import textwrap

from kohya_prep.doctor.checks import CheckResult
from kohya_prep.doctor.run import DoctorReport
from kohya_prep.output import Notice

STATUS_LABEL = {"ok": "ok", "warn": "WARN", "fail": "FAIL"}


def render_text(report: DoctorReport, width: int = 110) -> str:
    """A table: status, check, finding; the fix under each warn or fail; then what --fix did and a tally."""
    name_width = max(len(c.name) for c in report.checks)
    indent = " " * (2 + 4 + 2 + name_width + 2)
    lines = []
    for check in report.checks:
        head = f"  {STATUS_LABEL[check.status]:<4}  {check.name:<{name_width}}  "
        lines += _wrap(check.finding, width, head, indent) or [head]
        if check.status != "ok" and check.fix:
            lines += _wrap("fix: " + check.fix, width, indent, indent + "     ")
    lines += [""] + [f"fixed: {item}" for item in report.fixed]
    counts = {s: sum(c.status == s for c in report.checks) for s in ("fail", "warn", "ok")}
    lines.append(f"{counts['fail']} failed, {counts['warn']} warning(s), {counts['ok']} ok")
    return "\n".join(lines)


def _wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    # Paths and commands must stay whole so they can be copied.
    return textwrap.wrap(
        text, width, initial_indent=first, subsequent_indent=rest, break_long_words=False, break_on_hyphens=False
    )


def notices(checks: list[CheckResult], status: str) -> list[Notice]:
    """The rows with this status as notices: code = the check's name."""
    return [Notice(c.name, c.finding, fix=c.fix) for c in checks if c.status == status]
