"""Caption rules: files sd-scripts reads (or not), what each image trains on, the trigger word, tags.

sd-scripts reads captions in library/train_util.py: read_caption (in DreamBoothDataset.__init__) and splits them in
BaseDataset.process_caption."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kohya_prep.check.files import describe_entry
from kohya_prep.check.findings import Finding, error, info, warning
from kohya_prep.check.layout import few
from kohya_prep.check.scan import ImageFile, ScannedSubset
from kohya_prep.tags import has_trigger, infer_trigger, split_tags

KEEP_TOKENS_SEPARATOR = "|||"


@dataclass(frozen=True)
class Caption:
    """An image's caption as sd-scripts reads it: first line, stripped; None when the file cannot be used."""

    text: str | None
    problem: str | None  # 'empty' (zero lines), 'not-utf8', or None
    lines: int
    bom: bool


def read_caption(data: bytes) -> Caption:
    """Decode like sd-scripts: UTF-8 (a BOM stays in the text), readlines, first line stripped."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Caption(None, "not-utf8", 0, False)
    lines = text.splitlines()
    if not lines:
        return Caption(None, "empty", 0, False)
    return Caption(lines[0].strip(), None, sum(1 for line in lines if line.strip()), text.startswith("\ufeff"))


def caption_file_findings(subset: ScannedSubset) -> list[Finding]:
    """Missing, mislabelled, empty, non-UTF-8, multi-line and BOM captions in one subset."""
    config = subset.config
    found: list[Finding] = []
    missing = [image for image in subset.images if image.caption is None and image.entry == "file"]
    elsewhere = [image for image in missing if image.other_captions]
    if elsewhere:
        ext = elsewhere[0].other_captions[0].suffix
        found.append(error("caption-extension-mismatch", config.image_dir,
                           f"{len(elsewhere)} image(s) have a {ext} caption but sd-scripts looks for "
                           f"{config.caption_extension} ({few([i.other_captions[0] for i in elsewhere])}): it will "
                           "ignore them and log 'No caption file found'",
                           f'set caption_extension = "{ext}" in the dataset config (or --caption_extension {ext})'))
    found.extend(_missing(config.image_dir, [i for i in missing if not i.other_captions], config.class_tokens, config.is_reg))
    found.extend(_fallback_hits(subset))
    found.extend(_caption_entries(subset))
    for image in subset.images:
        if image.caption is not None:
            found.extend(_one_caption(image, config.enable_wildcard))
    return found


def _missing(folder: object, images: Sequence[ImageFile], class_tokens: str | None, is_reg: bool) -> list[Finding]:
    if not images:
        return []
    trains_on = f"the class tokens '{class_tokens}'" if class_tokens else "an empty caption (no class tokens either)"
    # Reg images captioned by their folder's class word is the usual, intended set-up.
    make = info if is_reg and class_tokens else warning
    return [make("caption-missing", folder,
                    f"{len(images)} image(s) have no caption file ({few([i.path for i in images])}): they train on {trains_on}",
                    "write a one-line caption next to each image (<image stem> + caption extension)")]


def _fallback_hits(subset: ScannedSubset) -> list[Finding]:
    """Images captioned by read_caption's fallback: the path without its last four '_' pieces, plus the extension."""
    hits = [image for image in subset.images if image.caption is not None and image.caption.fallback]
    by_file: dict[Path, list[ImageFile]] = {}
    for image in hits:
        assert image.caption is not None
        by_file.setdefault(image.caption.path, []).append(image)
    ext = subset.config.caption_extension
    return [warning("caption-fallback", images[0].path.parent,
                    f"{len(images)} image(s) without their own {ext} caption ({few([i.path for i in images])}) are "
                    f"captioned from {caption}: sd-scripts' face-crop fallback drops the last four '_'-separated pieces "
                    "of the image path (folders included) and reads that file instead",
                    f"write <image stem>{ext} next to each image, or rename so the path has fewer underscores")
            for caption, images in by_file.items()]


def _caption_entries(subset: ScannedSubset) -> list[Finding]:
    """Caption files that are not readable files: passed over by os.path.isfile, or opened and failing."""
    found = []
    for image in subset.images:
        if image.caption_problem is None or image.caption_problem[1] == "vanished":
            continue
        path, kind, opened = image.caption_problem
        if opened:
            found.append(error("caption-unreadable", path, f"{path.name} is {describe_entry(kind)}: sd-scripts opens it "
                               "and crashes", "make the caption readable (chmod a+r), or delete it"))
        else:
            trains_on = f"the class tokens '{subset.config.class_tokens}'" if subset.config.class_tokens else "an empty caption"
            found.append(warning("caption-not-a-file", path, f"{path.name} is {describe_entry(kind)}: sd-scripts' "
                                 f"os.path.isfile passes over it, so {image.path.name} trains on {trains_on}",
                                 "replace it with a real caption file, or delete it"))
    return found


def _one_caption(image: ImageFile, enable_wildcard: bool) -> list[Finding]:
    assert image.caption is not None
    path = image.caption.path
    caption = read_caption(image.caption.data)
    if caption.problem == "empty":
        return [error("caption-empty", path, f"{path.name} is empty: sd-scripts stops with 'caption file is empty'",
                      "write the caption on its first line, or delete the file (the image then trains on the class tokens)")]
    if caption.problem == "not-utf8":
        return [error("caption-not-utf8", path, f"{path.name} is not UTF-8: sd-scripts stops with 'illegal char in file "
                      "(not UTF-8)'", "re-save the caption as UTF-8")]
    found = []
    if caption.text == "":
        found.append(warning("caption-blank", path, f"the first line of {path.name} is blank: the image trains on an "
                             "empty caption", "put the caption on the first line"))
    if caption.lines > 1 and not enable_wildcard:
        found.append(warning("caption-multiline", path, f"{path.name} has {caption.lines} lines: sd-scripts uses only "
                             "the first",
                             "join the caption into one line (or set enable_wildcard = true to pick a line at random)"))
    if caption.bom:
        found.append(warning("caption-bom", path, f"{path.name} starts with a UTF-8 byte-order mark: sd-scripts keeps it "
                             "in the text, glued to the first tag", "re-save the caption as UTF-8 without BOM"))
    return found


def effective_captions(subset: ScannedSubset) -> list[tuple[ImageFile, str]]:
    """What each loadable image trains on: its caption's first line, or the class tokens, or ''."""
    out = []
    for image in subset.images:
        if image.entry != "file":  # not an image at all: reported by images.py, sd-scripts crashes before training
            continue
        if image.caption is None:
            out.append((image, subset.config.class_tokens or ""))
            continue
        caption = read_caption(image.caption.data)
        if caption.text is not None:
            out.append((image, caption.text))
    return out


def tags(caption: str) -> list[str]:
    """Comma-separated tags, lower-cased, for counting how often each is used."""
    return [tag.lower() for tag in split_tags(caption)]


def trigger_findings(train: Sequence[tuple[ImageFile, str]], reg: Sequence[tuple[ImageFile, str]],
                     trigger: str | None, given: bool) -> list[Finding]:
    """Training captions without the trigger word; reg captions with it."""
    captions = [text for _, text in train]
    word = trigger or infer_trigger(captions)
    if not word:
        return [info("trigger-unknown", "", "no trigger word given, and no first tag is shared by most captions",
                     "pass --trigger WORD to check every caption carries it")] if captions else []
    found = [info("trigger", "", f"trigger word '{word}' ({'given' if given else 'most common first tag'})")]
    lacking = [image.path for image, text in train if not has_trigger(text, word)]
    if lacking:
        found.append(warning("trigger-missing", lacking[0].parent, f"{len(lacking)} of {len(train)} training image(s) "
                             f"train on a caption without '{word}' ({few(lacking)}); the folder's class tokens do not "
                             "add it where a caption file exists", f"add '{word}, ' at the start of those captions"))
    in_reg = [image.path for image, text in reg if has_trigger(text, word)]
    if in_reg:
        found.append(warning("trigger-in-reg", in_reg[0].parent, f"{len(in_reg)} reg image(s) carry the trigger '{word}' "
                             f"({few(in_reg)}): regularization then teaches the trigger on other subjects",
                             f"remove '{word}' from the reg captions (reg images show only the class)"))
    return found


def tag_findings(captions: Sequence[str], top: int = 10) -> list[Finding]:
    """Top tags and tags on a single image (typos, or a concept too rare to learn)."""
    counts: Counter[str] = Counter()
    for caption in captions:
        counts.update(set(tags(caption)))
    if not counts:
        return []
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{tag} ({n})" for tag, n in ranked[:top])
    found = [info("tag-frequency", "", f"top tags over {len(captions)} captions: {shown}")]
    once = sorted(tag for tag, n in counts.items() if n == 1)
    if once and len(captions) > 1:
        found.append(info("tag-once", "", f"{len(once)} tag(s) appear on only one image: {', '.join(once[:15])}"
                          + (" ..." if len(once) > 15 else ""), "check them for typos; a tag seen once is hardly learned"))
    return found


def keep_tokens_findings(subset: ScannedSubset, texts: Sequence[str]) -> list[Finding]:
    """keep_tokens and `|||` act only when sd-scripts splits captions (shuffle, warm-up or tag dropout)."""
    config = subset.config
    found = []
    with_sep = sum(1 for t in texts if KEEP_TOKENS_SEPARATOR in t)
    if config.keep_tokens > 0 and not config.splits_caption:
        found.append(warning("keep-tokens-no-effect", config.image_dir, f"keep_tokens = {config.keep_tokens} has no "
                             "effect: captions are used verbatim without shuffle_caption, caption_tag_dropout_rate or "
                             "token_warmup_step", "set shuffle_caption = true, or drop keep_tokens"))
    if with_sep and (config.keep_tokens_separator != KEEP_TOKENS_SEPARATOR or not config.splits_caption):
        found.append(warning("keep-tokens-separator-literal", config.image_dir,
                             f"{with_sep} caption(s) contain '|||', but sd-scripts will send it to the text encoder "
                             "literally (it needs keep_tokens_separator = \"|||\" and shuffle_caption = true)",
                             'set keep_tokens_separator = "|||" with shuffle_caption = true, or remove the |||'))
    return found
