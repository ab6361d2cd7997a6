"""Placeholder until this command lands; replaced by its real implementation."""

from __future__ import annotations

import click


@click.command(name="doctor")
def doctor() -> None:
    """Check and repair the kohya_ss training environment."""
    raise click.ClickException("this command is not built yet")
