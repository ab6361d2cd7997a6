"""`dataset init`: inputs -> proposal -> TOML document -> validated -> written -> preview.

Everything is decided and validated before the spec is written, so bad input writes nothing. The spec is
created (never over an existing file), or with --add the existing one is extended and replaced atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace as replace_options
from pathlib import Path

from kohya_prep.errors import InitError, KohyaPrepError
from kohya_prep.init.inputs import Inputs, classify
from kohya_prep.init.model import Proposal
from kohya_prep.init.names import Names, slug
from kohya_prep.init.propose import InitOptions, MissingOption, propose
from kohya_prep.init.specfile import add_to_document, new_document, read_document, replace, validated, write_new
from kohya_prep.output import Notice
from kohya_prep.spec import DatasetSpec, load_spec
from kohya_prep.spec.names import unsafe_name_reason


@dataclass(frozen=True)
class InitResult:
    spec_path: Path
    added: bool
    proposal: Proposal
    spec: DatasetSpec
    contact_sheet: Path | None
    overlays: tuple[Path, ...]
    warnings: tuple[Notice, ...]

    @property
    def speculative(self) -> int:
        return sum(1 for c in self.spec.crops if c.status == "speculative")

    @property
    def next_command(self) -> str:
        """What to run next (after approving the speculative crops, when there are some)."""
        return f"kohya-prep dataset build {self.spec_path}"


def _dataset_name(wanted: str, spec_dir: Path, sources: list[Path]) -> str:
    """A name whose folder beside the spec does not exist yet and holds none of the sources."""
    base = slug(wanted, "dataset")
    if unsafe_name_reason(base):
        base = "dataset"
    name, number = base, 2
    while (spec_dir / name).exists() or any(p.resolve().is_relative_to((spec_dir / name).resolve()) for p in sources):
        name, number = f"{base}-{number}", number + 1
    return name


def _new_spec(spec_path: Path, inputs: Inputs, options: InitOptions) -> tuple[str, DatasetSpec, Proposal]:
    if spec_path.exists():
        raise InitError(f"{spec_path} already exists; pass --add to add to it, or give another spec path")
    if not spec_path.parent.is_dir():
        raise InitError(f"{spec_path.parent} is not a folder; create it first or give another spec path")
    proposal = propose(inputs, options, Names())
    if not proposal.trigger:
        raise MissingOption("give --trigger WORD: the word you will prompt with (no trigger was found in captions)")
    if not proposal.class_tokens:
        raise MissingOption("give --class WORDS: what the character is, e.g. --class girl")
    proposal.name = _dataset_name(options.name or proposal.name, spec_path.parent, [s.path for s in proposal.sources])
    text, spec = validated(new_document(proposal, spec_path), spec_path)
    return text, spec, proposal


def _known_paths(spec: DatasetSpec) -> dict[Path, str]:
    """Every image and folder the spec already uses, resolved, with its id."""
    known = {s.path.resolve(): s.id for s in spec.sources.values()}
    known.update({s.path.resolve().parent: s.folder for s in spec.sources.values() if s.folder})
    return known


def _added_spec(spec_path: Path, paths: list[Path], options: InitOptions) -> tuple[str, DatasetSpec, Proposal]:
    if not spec_path.is_file():
        raise InitError(f"{spec_path} not found; --add adds to an existing spec (leave --add out to make a new one)")
    existing = load_spec(spec_path)
    doc = read_document(spec_path)
    known = _known_paths(existing)
    fresh = [p for p in paths if p.resolve() not in known]
    skipped = [f"{p} is already in the spec as '{known[p.resolve()]}'; skipped" for p in paths if p not in fresh]
    if not fresh:
        raise InitError(f"nothing to add: {'; '.join(skipped)}")
    raw_ids = set(doc.get("sources", {}))
    names = Names(raw_ids | set(existing.sources), {c.name for c in existing.crops})
    options = replace_options(options, trigger=options.trigger or existing.trigger,
                              class_tokens=options.class_tokens or existing.class_tokens)
    proposal = propose(classify(fresh, options.reg), options, names)
    proposal.warnings = skipped + proposal.warnings
    add_to_document(doc, proposal, spec_path)
    text, spec = validated(doc, spec_path)
    return text, spec, proposal


def _preview(spec: DatasetSpec) -> tuple[Path | None, tuple[Path, ...], list[Notice]]:
    from kohya_prep.build.preview import build_preview

    try:
        shown = build_preview(spec)
    except KohyaPrepError as err:
        return None, (), [Notice("preview", f"the spec was written but its preview failed: {err}",
                                 fix=f"kohya-prep dataset build {spec.path} --preview")]
    return shown.contact_sheet, shown.overlays, list(shown.warnings)


def run_init(spec_path: Path, paths: list[Path], options: InitOptions, add: bool = False,
             preview: bool = True) -> InitResult:
    """Write a new spec for `paths` (or add them to the spec with `add`), then its preview."""
    spec_path = spec_path.absolute()
    if spec_path.suffix.lower() != ".toml":
        raise InitError(f"{spec_path} is not a .toml path; name the spec to write, e.g. mychar.toml, before the images")
    if add:
        text, spec, proposal = _added_spec(spec_path, paths, options)
        replace(spec_path, text)
    else:
        text, spec, proposal = _new_spec(spec_path, classify(paths, options.reg), options)
        write_new(spec_path, text)
    contact, overlays, notices = _preview(spec) if preview else (None, (), [])
    warnings = tuple(Notice("init", w) for w in proposal.warnings) + tuple(notices)
    return InitResult(spec_path, add, proposal, spec, contact, overlays, warnings)
