"""Placeholder until this command lands; replaced by its real implementation."""

from __future__ import annotations

import click


@click.command(name="build")
def build() -> None:
    """Build a dataset from a spec."""
    raise click.ClickException("this command is not built yet")
