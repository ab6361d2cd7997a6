"""An existing kohya dataset becomes a spec that rebuilds it: each subset folder a folder source (its images and
their caption files), repeats and class from the folder names, the trigger from the captions' first tags."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from kohya_prep.build.caption_text import normalize_caption
from kohya_prep.init.inputs import KohyaDataset, KohyaSubset
from kohya_prep.init.model import Proposal, ProposedCrop, ProposedSource, RegProposal
from kohya_prep.init.names import Names
from kohya_prep.sdscripts.folders import is_loaded_image
from kohya_prep.spec.captions import read_sidecar
from kohya_prep.spec.headers import read_image_size
from kohya_prep.tags import split_tags


@dataclass(frozen=True)
class KohyaSettings:
    """What the dataset's folder names and captions say: the [dataset] values that rebuild it."""

    trigger: str
    class_tokens: str
    num_repeats: int
    resolution: int | None
    subset_dir: str


def captions_of(subset: KohyaSubset) -> dict[Path, str]:
    """Each image's caption as sd-scripts reads it (first line of <stem>.txt, else .caption); unreadable ones left out."""
    found = {}
    for image in subset.images:
        caption, problem = read_sidecar(image)
        if caption is not None and problem is None:
            found[image] = caption
    return found


def common_first_tag(captions: list[str]) -> str | None:
    """The first tag most captions start with (more than half), as written."""
    firsts = Counter(tags[0] for tags in (split_tags(c) for c in captions) if tags)
    if not firsts:
        return None
    tag, count = firsts.most_common(1)[0]
    return tag if count * 2 > len(captions) else None


def square_resolution(images: tuple[Path, ...]) -> int | None:
    """The side most images share when they are squares of a multiple of 64: the resolution they were made for."""
    sides: Counter[int] = Counter()
    for image in images[:200]:
        try:
            width, height = read_image_size(image)
        except (OSError, SyntaxError, ValueError):
            continue
        sides[max(width, height) if width == height else 0] += 1
    side, _count = sides.most_common(1)[0] if sides else (0, 0)
    return side if side and side % 64 == 0 and 256 <= side <= 4096 else None


def _class_after_trigger(tokens: str, trigger: str) -> str:
    words = tokens.split()
    return " ".join(words[1:]) if words and words[0].lower() == trigger.lower() else tokens


def settle(dataset: KohyaDataset, trigger: str | None, class_tokens: str | None) -> KohyaSettings | None:
    """The trigger, class, repeats and subset folder of the dataset's main subset (the one with most images)."""
    main = max(dataset.train, key=lambda s: len(s.images))
    captions = [c for subset in dataset.train for c in captions_of(subset).values()]
    words = main.class_tokens.split()
    trigger = trigger or common_first_tag(captions) or (words[0] if len(words) >= 2 else None)
    if not trigger:
        return None
    found_class = class_tokens or _class_after_trigger(main.class_tokens, trigger) or (
        dataset.reg[0].class_tokens if dataset.reg else "")
    return KohyaSettings(trigger, found_class, main.num_repeats, square_resolution(main.images), main.folder.name)


def _caption_notes(subset: KohyaSubset, trigger: str, class_tokens: str) -> list[str]:
    """What a rebuild captions differently: tags moved for the trigger, images sd-scripts captioned with the class."""
    captions, notes = captions_of(subset), []
    changed = [(p, c) for p, c in captions.items() if normalize_caption(c, trigger) != c.strip()]
    if changed:
        path, caption = changed[0]
        notes.append(f"{subset.folder.name}: {len(changed)} caption(s) change when rebuilt, the trigger first exactly once "
                     f"(e.g. {path.name}: {caption!r} -> {normalize_caption(caption, trigger)!r})")
    bare = [p for p in subset.images if p not in captions and is_loaded_image(p.name)]
    if bare:
        notes.append(f"{subset.folder.name}: {len(bare)} image(s) have no caption file; sd-scripts trained them on "
                     f"{subset.class_tokens!r}, the rebuild captions them {normalize_caption('', trigger)!r} "
                     f"(e.g. {bare[0].name}); add tags in the spec")
    return notes


def add_dataset(dataset: KohyaDataset, settings: KohyaSettings, proposal: Proposal, names: Names) -> None:
    """Each train subset as a folder source; images sd-scripts never loaded listed as excluded; the reg subset."""
    for subset in dataset.train:
        source = names.source_id(subset.class_tokens or f"subset-{subset.num_repeats}")
        proposal.sources.append(ProposedSource(source, subset.folder, folder=True,
                                               comment=f"kohya subset {subset.folder.name!r}: every image and its caption"))
        for image in subset.images:
            proposal.implicit += is_loaded_image(image.name)
            if not is_loaded_image(image.name):
                proposal.crops.append(ProposedCrop(names.crop_name(image.stem), f"{source}/{image.name}", status="excluded",
                                                   comment="sd-scripts never loaded this file (its extension)"))
        if subset.num_repeats != settings.num_repeats or subset.class_tokens != dataset.train[0].class_tokens:
            proposal.warnings.append(f"{subset.folder.name}: a spec builds one train subset; its images are built into "
                                     f"'{settings.subset_dir}' with {settings.num_repeats} repeats")
        proposal.warnings += _caption_notes(subset, settings.trigger, settings.class_tokens)
    if dataset.reg:
        reg = dataset.reg[0]
        proposal.reg = RegProposal(reg.folder, reg.class_tokens, reg.num_repeats)
        if len(dataset.reg) > 1:
            proposal.warnings.append(f"{dataset.root}: only the reg subset {reg.folder.name!r} is used; a spec has one")
