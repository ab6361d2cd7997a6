"""`kohya-prep dataset ...`: start a spec (init), build a dataset from it, check any dataset, adopt edited captions."""

from __future__ import annotations

import click

from kohya_prep.cli import LazyGroup


@click.group(
    cls=LazyGroup,
    lazy_commands={
        "adopt": "kohya_prep.commands.adopt:adopt",
        "build": "kohya_prep.commands.build:build",
        "check": "kohya_prep.commands.check:check",
        "init": "kohya_prep.commands.init:init",
    },
)
def dataset() -> None:
    """Start a spec from your art (init), build a kohya-ready dataset from it, check any dataset folder,
    and take captions edited outside the tool back into the spec (adopt)."""
