"""sample_prompts.txt: a handful of prompts drawn from the dataset's own captions, in sd-scripts' prompt syntax.

Four prompts, each with a fixed seed so one epoch's images compare with the next: a full-body view and a face
close-up (the dataset's own captions where it has them), a pose that is not in the data (does the LoRA hold up
outside its training images?) and the trigger alone (does the trigger carry the character by itself?). Sizes are
buckets the model trained on, scaled up to the family's own resolution when the dataset is smaller. Pure: captions
and buckets in, text out; every line is parsed back with sd-scripts' rules (prompt_syntax.py) before it is used.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from kohya_prep.tags import split_tags
from kohya_prep.trainconfig.bases import SampleStyle
from kohya_prep.trainconfig.prompt_syntax import parse_file, safe_text

FILE_NAME = "sample_prompts.txt"
SEED = 1234  # fixed seeds: sd-scripts reseeds each prompt (train_util.py: sample_image_inference)
CLOSE_UP = ("close-up", "portrait", "face", "headshot", "upper body")
COMPOSITION = frozenset({"full body", "upper body", "lower body", "cowboy shot", "close-up", "portrait", "face",
                         "headshot", "from behind", "back view", "from side", "side view", "front view", "profile",
                         "standing", "sitting", "lying", "simple background", "white background", "multiple views",
                         "reference sheet", "turnaround"})
# Scenes a character dataset seldom holds; the first whose tags appear in no caption is used.
NOVEL_SCENES = (
    ("sitting", "crossed legs", "on chair", "cafe"),
    ("running", "outdoors", "dynamic pose"),
    ("lying on back", "on grass", "from above"),
    ("holding umbrella", "rain", "street"),
    ("jumping", "sky", "arms up"),
)


@dataclass(frozen=True)
class SamplePrompt:
    """One line of sample_prompts.txt and the comment above it."""

    label: str
    prompt: str
    width: int
    height: int
    seed: int


@dataclass(frozen=True)
class SampleInputs:
    """What the prompts are drawn from."""

    trigger: str | None
    class_tokens: str | None
    captions: Sequence[str]  # training captions, first line of each
    buckets: Sequence[tuple[tuple[int, int], int]]  # (width, height), train samples: the train buckets
    resolution: int  # the training resolution's longer side
    native: int  # the family's own resolution (512 SD 1.5, 1024 SDXL / FLUX)
    style: SampleStyle


def choose_prompts(inputs: SampleInputs) -> list[SamplePrompt]:
    """The four prompts, each at a size that fits the buckets."""
    tag_lists = [[t for t in split_tags(c)] for c in inputs.captions]
    counts = Counter(t.lower() for tags in tag_lists for t in dict.fromkeys(tags))
    identity = _identity_tags(counts, len(tag_lists), inputs)
    full, full_from = _pick(tag_lists, counts, ("full body",))
    close, close_from = _pick(tag_lists, counts, CLOSE_UP)
    prompts = [
        SamplePrompt("full body" + full_from, _prompt(inputs, full or [*identity, "full body"]),
                     *_size(inputs, "portrait"), SEED),
        SamplePrompt("face close-up" + close_from,
                     _prompt(inputs, close or [*identity, "portrait", "close-up", "looking at viewer"]),
                     *_size(inputs, "square"), SEED + 1),
        SamplePrompt("a pose not in the data: does the character hold up outside its training images?",
                     _prompt(inputs, [*identity, *_novel_scene(counts)]), *_size(inputs, "common"), SEED + 2),
    ]
    alone = inputs.class_tokens or inputs.trigger
    if alone:
        prompts.append(SamplePrompt("the trigger alone: does it carry the character without other tags?",
                                    _prompt(inputs, [alone], trigger_first=False), *_size(inputs, "square"), SEED + 3))
    return prompts


def _identity_tags(counts: Counter[str], total: int, inputs: SampleInputs) -> list[str]:
    """Tags in more than half the captions that describe the character, not the shot."""
    skip = {t.lower() for t in (inputs.trigger, inputs.class_tokens) if t}
    return [tag for tag, n in counts.most_common() if n * 2 > total and tag not in COMPOSITION and tag not in skip][:8]


def _pick(tag_lists: list[list[str]], counts: Counter[str], wanted: Sequence[str]) -> tuple[list[str] | None, str]:
    """The most typical caption holding one of `wanted` (its tags shared most with the others), and a note."""
    holding = [tags for tags in tag_lists if any(t.lower() in wanted for t in tags)]
    if not holding:
        return None, ": no caption shows one, so it is built from the tags most captions share"
    best = max(holding, key=lambda tags: sum(counts[t.lower()] for t in tags) / len(tags))
    return best, ": the dataset's most typical caption with that view"


def _novel_scene(counts: Counter[str]) -> tuple[str, ...]:
    for scene in NOVEL_SCENES:
        if not any(tag in counts for tag in scene):
            return scene
    return NOVEL_SCENES[0]


def _prompt(inputs: SampleInputs, tags: Sequence[str], trigger_first: bool = True) -> str:
    """The prefix, the trigger, then the tags (the trigger once); never empty, never a comment."""
    trigger = inputs.trigger if trigger_first else None
    body = [t for t in tags if not trigger or t.lower() != trigger.lower()]
    parts = [inputs.style.prefix] if inputs.style.prefix else []
    if trigger:
        parts.append(trigger)
    parts.extend(dict.fromkeys(body))
    text = safe_text(", ".join(parts)).lstrip("#").strip()
    return text or "1girl"


def _size(inputs: SampleInputs, shape: str) -> tuple[int, int]:
    """A bucket the model trained on, scaled to the family's own resolution, in multiples of 64."""
    buckets = sorted(inputs.buckets, key=lambda b: -b[1]) or [((inputs.resolution, inputs.resolution), 1)]
    chosen = buckets[0][0]
    if shape == "portrait":
        tall = [b for b, _ in buckets if b[1] > b[0]]
        chosen = tall[0] if tall else chosen
    elif shape == "square":
        chosen = min((b for b, _ in buckets), key=lambda b: (abs(math.log(b[0] / b[1])), -b[0]))
    scale = max(1.0, inputs.native / max(inputs.resolution, 1))
    return _round64(chosen[0] * scale), _round64(chosen[1] * scale)


def _round64(value: float) -> int:
    return max(64, int(value / 64) * 64)


def prompt_line(prompt: SamplePrompt, style: SampleStyle) -> str:
    """The line in sd-scripts' syntax: prompt --n negative --w --h --d seed --s steps --l CFG [--g guidance]."""
    parts = [prompt.prompt]
    if style.negative:
        parts.append(f"n {safe_text(style.negative)}")
    parts += [f"w {prompt.width}", f"h {prompt.height}", f"d {prompt.seed}", f"s {style.steps}", f"l {style.scale!r}"]
    if style.guidance is not None:
        parts.append(f"g {style.guidance!r}")
    return " --".join(parts)


def expected(prompt: SamplePrompt, style: SampleStyle) -> dict[str, object]:
    """What sd-scripts must read back from the line."""
    data: dict[str, object] = {"prompt": prompt.prompt, "width": prompt.width, "height": prompt.height,
                               "seed": prompt.seed, "sample_steps": style.steps, "scale": style.scale}
    if style.negative:
        data["negative_prompt"] = safe_text(style.negative)
    if style.guidance is not None:
        data["guidance_scale"] = style.guidance
    return data


def render(prompts: Sequence[SamplePrompt], style: SampleStyle, header: Sequence[str]) -> str:
    """sample_prompts.txt, checked line by line against sd-scripts' parsing rules (a mismatch is a kohya-prep bug)."""
    lines = [f"# {h}".rstrip() for h in header]
    lines += ["# One prompt per line; '#' in the first column starts a comment. --n negative prompt, --w/--h size,",
              "# --d seed (fixed, so epochs compare), --s steps, --l CFG scale" + (", --g guidance" if style.guidance
                                                                                   is not None else "") + ".",
              f"# Sampling: {style.source}.", ""]
    for prompt in prompts:
        lines += [f"# {prompt.label}", prompt_line(prompt, style), ""]
    text = "\n".join(lines)
    parsed = parse_file(text)
    wanted = [expected(p, style) for p in prompts]
    if parsed != wanted:
        raise AssertionError(f"sample prompts do not parse as intended under sd-scripts' rules:\n{parsed}\n!=\n{wanted}")
    return text
