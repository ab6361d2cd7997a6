"""`kohya-prep dataset ...`: build a dataset from a spec, or check any dataset as sd-scripts sees it."""

from __future__ import annotations

import click

from kohya_prep.cli import LazyGroup


@click.group(
    cls=LazyGroup,
    lazy_commands={
        "build": "kohya_prep.commands.build:build",
        "check": "kohya_prep.commands.check:check",
    },
)
def dataset() -> None:
    """Build a kohya-ready dataset from a spec, or check any dataset folder."""
