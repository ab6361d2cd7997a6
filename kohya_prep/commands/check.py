"""Placeholder until this command lands; replaced by its real implementation."""

from __future__ import annotations

import click


@click.command(name="check")
def check() -> None:
    """Check a dataset folder as sd-scripts will read it."""
    raise click.ClickException("this command is not built yet")
