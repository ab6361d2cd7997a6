"""sample_prompts.txt: sd-scripts' prompt syntax (library/train_util.py: load_prompts, line_to_prompt_dict) and the
prompts train-config draws from the dataset's captions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kohya_prep.trainconfig.bases import BASES, FAMILY_STYLES
from kohya_prep.trainconfig.prompt_syntax import parse_file, parse_line, prompt_lines, safe_text
from kohya_prep.trainconfig.samples import SampleInputs, choose_prompts, render
from tests.test_train_config_cli import FLUX_FILES, flat, invoke, load_both, make_spec


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # The first piece is the prompt; each ' --' piece is one option.
        ("a girl --w 512 --h 768 --d 1 --s 28 --l 7.5",
         {"prompt": "a girl", "width": 512, "height": 768, "seed": 1, "sample_steps": 28, "scale": 7.5}),
        # Options are matched case-insensitively.
        ("a girl --W 640 --N ugly", {"prompt": "a girl", "width": 640, "negative_prompt": "ugly"}),
        # n takes the rest of its piece, commas and all, up to the next ' --'.
        ("x --n bad hands, lowres --d 3", {"prompt": "x", "negative_prompt": "bad hands, lowres", "seed": 3}),
        # '--' without the space before it does not split.
        ("t-shirt--n no split", {"prompt": "t-shirt--n no split"}),
        # s is clamped to 1..1000.
        ("x --s 5000", {"prompt": "x", "sample_steps": 1000}),
        ("x --s 0", {"prompt": "x", "sample_steps": 1}),
        # ss is checked after s: 'ss euler' is not steps, it is the sampler.
        ("x --ss euler_a", {"prompt": "x", "sample_sampler": "euler_a"}),
        # l takes digits and dots; a float() that fails is skipped (sd-scripts logs it).
        ("x --l 1.2.3 --d 4", {"prompt": "x", "seed": 4}),
        # g is FLUX's embedded guidance.
        ("x --g 3.5 --l 1.0", {"prompt": "x", "guidance_scale": 3.5, "scale": 1.0}),
        # The prompt piece is matched too: a prompt starting 'n ' sets a negative prompt.
        ("n 1girl, smile --w 512", {"prompt": "n 1girl, smile", "negative_prompt": "1girl, smile", "width": 512}),
        # An option sd-scripts does not know is ignored.
        ("x --zz 5", {"prompt": "x"}),
        # w needs digits right after the space.
        ("x --w abc", {"prompt": "x"}),
    ],
    ids=["all-options", "case-insensitive", "negative-to-next", "no-space-no-split", "steps-clamped-high",
         "steps-clamped-low", "ss-after-s", "bad-float-skipped", "flux-guidance", "prompt-piece-matched", "unknown-option",
         "width-needs-digits"],
)
def test_line_rules(line: str, expected: dict[str, Any]) -> None:
    assert parse_line(line) == expected


def test_file_rules() -> None:
    text = "# a comment\n\n  \nfirst --d 1\n  # indented: a prompt, not a comment\r\nlast\rreally last"
    # '#' counts only in the first column; lines are stripped; \r\n and \r end lines (text-mode reading).
    assert prompt_lines(text) == ["first --d 1", "# indented: a prompt, not a comment", "last", "really last"]
    assert parse_file(text)[0] == {"prompt": "first", "seed": 1}


@pytest.mark.parametrize(
    ("text", "clean"),
    [("a --n b", "a -n b"), ("a --- b", "a - b"), ("n 1girl", "n, 1girl"), ("w 512 px", "w, 512 px"),
     ("  spaced   out ", "spaced out")],
    ids=["split-marker", "triple-dash", "reads-as-negative", "reads-as-width", "whitespace"],
)
def test_safe_text_survives_the_parser(text: str, clean: str) -> None:
    assert safe_text(text) == clean
    assert parse_line(safe_text(text)) == {"prompt": clean}


def _inputs(captions: list[str], buckets: list[tuple[tuple[int, int], int]], style: Any = FAMILY_STYLES["sdxl"],
            resolution: int = 1024, native: int = 1024) -> SampleInputs:
    return SampleInputs("aria", "aria girl", captions, buckets, resolution, native, style)


def test_prompts_come_from_the_captions() -> None:
    captions = ["aria, girl, full body, standing, red dress", "aria, girl, portrait, smile, red dress",
                "girl, aria, upper body, red dress, from side", "aria, girl, red dress, sitting"]
    buckets = [((832, 1216), 30), ((1024, 1024), 10)]
    prompts = choose_prompts(_inputs(captions, buckets))
    assert [p.prompt for p in prompts] == [
        "aria, girl, full body, standing, red dress",
        "aria, girl, portrait, smile, red dress",
        "aria, girl, red dress, running, outdoors, dynamic pose",  # 'sitting' is in the data: the next scene
        "aria girl",
    ]
    # Full body in the tallest bucket, the close-up and the trigger alone square, fixed distinct seeds.
    assert [(p.width, p.height) for p in prompts] == [(832, 1216), (1024, 1024), (832, 1216), (1024, 1024)]
    assert len({p.seed for p in prompts}) == 4


def test_without_a_view_in_the_captions_the_shared_tags_are_used() -> None:
    captions = ["aria, girl, red dress, smile", "aria, girl, red dress, night"]
    prompts = choose_prompts(_inputs(captions, [((512, 512), 20)], FAMILY_STYLES["sd15"], 512, 512))
    assert prompts[0].prompt == "aria, girl, red dress, full body"
    assert prompts[1].prompt == "aria, girl, red dress, portrait, close-up, looking at viewer"
    assert "no caption shows one" in prompts[0].label


def test_small_datasets_sample_at_the_family_resolution() -> None:
    prompts = choose_prompts(_inputs(["aria, girl"], [((512, 512), 10)], resolution=512, native=1024))
    assert (prompts[0].width, prompts[0].height) == (1024, 1024)


@pytest.mark.parametrize("style_name", [*FAMILY_STYLES, *BASES])
def test_every_style_renders_lines_that_parse_back(style_name: str) -> None:
    style = FAMILY_STYLES.get(style_name) or BASES[style_name].sample
    captions = ["aria, girl --n sneaky, full body", "n aria, portrait"]  # a caption that would break the syntax
    prompts = choose_prompts(_inputs(captions, [((1024, 1024), 4)], style))
    text = render(prompts, style, ["head"])
    parsed = parse_file(text)
    assert len(parsed) == 4
    assert all(p["seed"] and p["width"] % 64 == 0 and p["height"] % 64 == 0 for p in parsed)
    assert all(("negative_prompt" in p) == bool(style.negative) for p in parsed)
    assert all(" --" not in p["prompt"] for p in parsed)


@pytest.mark.parametrize("vram", [8, 12, 24], ids=lambda v: f"{v}GB")
@pytest.mark.parametrize("family", ["sd15", "sdxl", "flux"])
def test_written_sets_sample_with_an_absolute_prompt_file(tmp_path: Path, family: str, vram: int) -> None:
    spec = make_spec(tmp_path)
    result = invoke(str(spec), "--family", family, "--vram", str(vram), *(FLUX_FILES if family == "flux" else []))
    assert result.exit_code == 0, result.output
    args = flat(load_both(tmp_path / "aria" / "config" / "training.toml"))
    prompts = Path(args["sample_prompts"])
    assert prompts.is_absolute() and prompts.is_file() and prompts.suffix == ".txt"
    assert args["sample_every_n_epochs"] >= 1 and args["sample_sampler"] in ("euler_a", "euler")
    parsed = parse_file(prompts.read_text(encoding="utf-8"))
    assert len(parsed) == 4
    assert all(p["prompt"].startswith("ariachar") for p in parsed[:3])  # the trigger first
    if family == "flux":
        assert all(p["scale"] == 1.0 and p["guidance_scale"] == 3.5 and "negative_prompt" not in p for p in parsed)
    else:
        assert all(p["negative_prompt"] for p in parsed)


def test_a_relative_sample_prompts_file_is_resolved_and_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_spec(tmp_path)
    monkeypatch.chdir(tmp_path)
    missing = invoke(str(spec), "--family", "sd15", "--vram", "8", "--set", "sample_prompts=mine.txt")
    assert missing.exit_code == 1
    assert "sample_prompts mine.txt: no such file; sd-scripts would log 'No prompt file'" in missing.output.replace(
        str(tmp_path) + "/", "")
    (tmp_path / "mine.txt").write_text("aria --d 1\n", encoding="utf-8")
    given = invoke(str(spec), "--family", "sd15", "--vram", "8", "--set", "sample_prompts=mine.txt")
    assert given.exit_code == 0, given.output
    config = tmp_path / "aria" / "config"
    assert flat(load_both(config / "training.toml"))["sample_prompts"] == str(tmp_path / "mine.txt")
    assert not (config / "sample_prompts.txt").exists()
    wrong = invoke(str(spec), "--family", "sd15", "--vram", "8", "--set", "sample_prompts=mine.yaml")
    assert wrong.exit_code == 1 and "reads only .txt, .toml and .json prompt files" in wrong.output
