"""`kohya-prep dataset build`: a spec becomes a kohya-ready dataset (or, with --preview, pictures to review)."""

from __future__ import annotations

import dataclasses
import sys
from typing import Any, cast

import click

from kohya_prep.commands.common import SPEC_FIX, FilePath, emit, json_option

MAX_JOBS = 256  # each worker may hold a decoded source: more threads than this only exhaust memory


def _progress_bar(enabled: bool) -> Any:
    """A progress callback that shows a bar on a terminal once a run takes more than a moment."""
    if not enabled:
        return None, None
    state: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            if total < 24:
                return
            state["bar"] = click.progressbar(length=total, label="rendering", file=sys.stderr)
            state["bar"].__enter__()
            state["shown"] = 0
        state["bar"].update(done - state["shown"])
        state["shown"] = done

    def close() -> None:
        if "bar" in state:
            state["bar"].__exit__(None, None, None)

    return update, close


@click.command()
@click.argument("spec_path", metavar="SPEC", type=FilePath(dir_okay=False, fix=SPEC_FIX))
@click.option("--preview", is_flag=True, help="Render every crop, a contact sheet and box overlays into <dataset>/preview/.")
@click.option("--include-speculative", is_flag=True, help="Build speculative crops too, not only approved ones.")
@click.option("--verify", is_flag=True, help="Re-hash every source and output instead of trusting size and mtime.")
@click.option("--png", type=click.Choice(["fast", "small"]), default=None,
              help="PNG encoding: fast (default) or small files; overrides the spec's png key.")
@click.option("--jobs", type=click.IntRange(min=0, max=MAX_JOBS), default=0, show_default="one per core",
              help=f"Worker threads (at most {MAX_JOBS}).")
@json_option
@click.pass_context
def build(ctx: click.Context, spec_path: str, preview: bool, include_speculative: bool, verify: bool, png: str | None,
          jobs: int, as_json: bool) -> None:
    """Build the dataset described by SPEC (a dataset spec TOML).

    Crops, letterboxes and flips each approved crop into
    <spec folder>/<name>/train/<repeats>_<trigger> <class>/ with a .txt caption per image,
    fills <name>/reg/<repeats>_<class>/, and records everything in a manifest.
    The build is atomic, only re-renders what changed, and never deletes or
    overwrites files it did not write.

    \b
    Examples:
      kohya-prep dataset build dataset/demo.toml --preview   # review first
      kohya-prep dataset build dataset/demo.toml             # then build
      kohya-prep dataset build dataset/demo.toml --json
    """
    from kohya_prep.build import BuildOptions, build_dataset, report
    from kohya_prep.spec import PngMode, load_spec

    spec = load_spec(spec_path)
    if png:
        spec = dataclasses.replace(spec, png=cast(PngMode, png))
    update, close = _progress_bar(not as_json and sys.stderr.isatty())
    options = BuildOptions(include_speculative=include_speculative, verify=verify, jobs=jobs, progress=update)
    try:
        if preview:
            from kohya_prep.build.preview import build_preview

            shown = build_preview(spec, options)
            emit(ctx, as_json, 0, lambda: report.preview_text(shown), warnings=shown.warnings,
                 data=lambda: report.preview_data(shown))
        result = build_dataset(spec, options)
    finally:
        if close:
            close()
    emit(ctx, as_json, 0, lambda: report.build_text(result), warnings=result.warnings,
         data=lambda: report.build_data(result))
