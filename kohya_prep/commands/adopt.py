"""`kohya-prep dataset adopt`: captions edited in the built dataset by a tag editor, taken back into the spec."""

from __future__ import annotations

from pathlib import Path

import click

from kohya_prep.commands.common import emit, json_option


@click.command(name="adopt")
@click.argument("spec_path", metavar="SPEC", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Say what would change; write nothing.")
@json_option
@click.pass_context
def adopt(ctx: click.Context, spec_path: Path, dry_run: bool, as_json: bool) -> None:
    """Take the captions you edited in the built dataset back into SPEC.

    Tag editors (taggui, BooruDatasetTagManager) edit the built .txt files in place, and a build stops on a
    file changed after it wrote it. adopt writes each edited caption into its crop in SPEC (keeping the
    spec's formatting and comments) and reports what changed; the next build then rewrites exactly those
    captions. The trigger and shared tags stay where they are: the build puts them first.

    \b
    Examples:
      kohya-prep dataset adopt mira.toml --dry-run
      kohya-prep dataset adopt mira.toml && kohya-prep dataset build mira.toml
    """
    from kohya_prep.init.adopt import run_adopt
    from kohya_prep.init.report import adopt_data, adopt_text

    result = run_adopt(spec_path, dry_run=dry_run)
    emit(ctx, as_json, 0, lambda: adopt_text(result), warnings=result.warnings, data=lambda: adopt_data(result))
