"""`kohya-prep dataset init`: a new spec from sheets, folders of pictures or a kohya dataset, without typing a box."""

from __future__ import annotations

from pathlib import Path

import click

from kohya_prep.commands.common import emit, json_option


def _resolution(_ctx: click.Context, _param: click.Parameter, value: int | None) -> int | None:
    if value is not None and (value % 64 or not 64 <= value <= 4096):
        raise click.BadParameter(f"{value} is not a multiple of 64 up to 4096; use 512, 768 or 1024")
    return value


@click.command(name="init")
@click.argument("spec_path", metavar="SPEC", type=click.Path(path_type=Path))
@click.argument("paths", metavar="IMAGE_OR_FOLDER...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--trigger", help="The word you will prompt with (default: the captions' most common first tag).")
@click.option("--class", "class_tokens", help="What the character is, e.g. 'girl' (default: from a kohya folder name).")
@click.option("--name", help="The dataset's folder name beside the spec (default: the trigger).")
@click.option("--repeats", type=click.IntRange(min=1), help="num_repeats (default 10, or a kohya folder's).")
@click.option("--resolution", type=int, callback=_resolution,
              help="Output size, a multiple of 64 (default 512, or a kohya dataset's square size).")
@click.option("--reg", type=click.Path(path_type=Path, file_okay=False),
              help="A kohya reg_data_dir to rebuild with the dataset (found by itself beside img/ or train/).")
@click.option("--add", is_flag=True, help="Add the images to an existing SPEC, keeping its edits, comments and order.")
@click.option("--no-preview", is_flag=True, help="Do not render the preview after writing the spec.")
@json_option
@click.pass_context
def init(ctx: click.Context, spec_path: Path, paths: tuple[Path, ...], trigger: str | None, class_tokens: str | None,
         name: str | None, repeats: int | None, resolution: int | None, reg: Path | None, add: bool, no_preview: bool,
         as_json: bool) -> None:
    """Write a new dataset spec SPEC for the images, folders or kohya dataset given.

    A reference sheet gets one box per figure or framed panel, each speculative until you approve it; a
    picture becomes one whole-image crop; a folder becomes a folder source (each image a crop, captions from
    its .txt / .caption files); a kohya dataset (N_trigger class/ folders) becomes a spec that rebuilds it.
    Then the preview is rendered and the next command printed. SPEC is never overwritten; --add appends.

    \b
    Examples:
      kohya-prep dataset init mira.toml art/ref-sheet.png --trigger mira --class girl
      kohya-prep dataset init photos.toml ~/pictures/mira/ --trigger mira --class girl
      kohya-prep dataset init old.toml ~/lora/mira/img          # a kohya dataset: trigger and class from it
      kohya-prep dataset init mira.toml more/turnaround.png --add
    """
    from kohya_prep.init.propose import InitOptions, MissingOption
    from kohya_prep.init.report import init_data, init_text
    from kohya_prep.init.run import run_init

    options = InitOptions(trigger, class_tokens, name, repeats, resolution, reg)
    try:
        result = run_init(spec_path, list(paths), options, add=add, preview=not no_preview)
    except MissingOption as err:
        raise click.UsageError(str(err)) from err
    emit(ctx, as_json, 0, lambda: init_text(result), warnings=result.warnings, data=lambda: init_data(result))
