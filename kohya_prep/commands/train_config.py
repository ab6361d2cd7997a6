"""Placeholder until this command lands; replaced by its real implementation."""

from __future__ import annotations

import click


@click.command(name="train-config")
def train_config() -> None:
    """Write sd-scripts dataset and training TOML and a launch script."""
    raise click.ClickException("this command is not built yet")
