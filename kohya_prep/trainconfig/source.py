"""Any dataset train-config is given, read with `dataset check`'s own code, refused where check finds an error.

DATASET is a kohya-prep spec (its built train/ and reg/), a built dataset folder (train/ and reg/, found through its
kohya-prep-manifest.json), a kohya train_data_dir of N_name folders (--reg-dir for its reg_data_dir), or an
sd-scripts dataset config (.toml with [[datasets]]), which is then passed to sd-scripts as it is. Every kind is
resolved by kohya_prep.check.target.resolve and its subsets read by check.scan.scan_subset, so train-config sees what
`dataset check` sees; check_dataset's errors stop train-config with check's own messages.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kohya_prep.check import CheckOptions, Finding, check_dataset
from kohya_prep.check.inputs import DatasetConfig
from kohya_prep.check.scan import ScannedSubset as CheckedSubset
from kohya_prep.check.scan import scan_subset
from kohya_prep.check.target import resolve
from kohya_prep.errors import ConfigError
from kohya_prep.output import Notice
from kohya_prep.spec import DatasetSpec, load_spec
from kohya_prep.tags import infer_trigger
from kohya_prep.trainconfig.dataset_toml import dataset_config_problems
from kohya_prep.trainconfig.plan import ForeignDataset, ScannedSubset

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BUILD_MANIFEST = "kohya-prep-manifest.json"
# check's warnings train-config reports itself (preflight.py), or turns into errors here.
_OWN_WARNINGS = ("trigger-missing", "reg-unused")
_REFUSED_WARNINGS = ("relative-image-dir",)  # train.sh runs from the sd-scripts folder: a relative image_dir misses
GROUP_ABOVE = 3  # more findings of one code than this become one notice
SHOWN_ERRORS = 10  # errors printed in text mode (--json carries them all)


@dataclass(frozen=True)
class SourceRequest:
    """What the command line says about the dataset."""

    path: Path
    family_resolution: int
    bucket_reso_steps: int
    reg_dir: Path | None = None
    caption_extension: str | None = None
    resolution: int | None = None
    trigger: str | None = None


@dataclass(frozen=True)
class TrainImage:
    """A training image and its caption's first line (None: no caption file)."""

    path: Path
    caption: str | None


@dataclass(frozen=True)
class DatasetSource:
    """The dataset as sd-scripts will load it, and where its configs and outputs go by default."""

    kind: str  # 'spec', 'folder' or 'dataset-config'
    label: str  # what was read, for the report
    root: Path
    name: str
    resolution: int
    caption_extension: str
    trigger: str | None
    subsets: list[ScannedSubset] = field(default_factory=list)  # spec / folder: the one [[datasets]] written
    foreign: tuple[ForeignDataset, ...] = ()  # dataset-config: passed to sd-scripts as it is
    dataset_config: Path | None = None
    spec: DatasetSpec | None = None
    train_images: list[TrainImage] = field(default_factory=list)
    warnings: list[Notice] = field(default_factory=list)


class DatasetRefused(ConfigError):
    """Raised when `dataset check` finds errors in the dataset: its findings, with check's own codes and messages."""

    def __init__(self, target: str, findings: list[Finding]):
        self.findings = findings
        lines = [f"dataset check finds {len(findings)} error(s) in {target}; sd-scripts would fail or train the "
                 "wrong thing (see `kohya-prep dataset check`):"]
        for finding in findings[:SHOWN_ERRORS]:
            lines.append(f"  x [{finding.code}] {finding.path}".rstrip())
            lines.append(f"    {finding.message}")
            if finding.fix:
                lines.append(f"    fix: {finding.fix}")
        if len(findings) > SHOWN_ERRORS:
            lines.append(f"  ... and {len(findings) - SHOWN_ERRORS} more (`kohya-prep dataset check` lists them all)")
        super().__init__("\n".join(lines))

    def notices(self) -> list[Notice]:
        return [Notice(f.code, f.message, f.path, f.fix) for f in self.findings]


def read_source(request: SourceRequest) -> DatasetSource:
    """Resolve, check and scan whatever DATASET is."""
    path = request.path
    if not path.exists():
        raise ConfigError(f"{path} does not exist; give a dataset spec (.toml), a built dataset folder, a kohya "
                          "train_data_dir or an sd-scripts dataset config.")
    if path.is_dir():
        spec_path = _built_from(path)
        if spec_path is None:
            return _from_folder(path, request)
        _folder_options_only(request, "a kohya-prep build (through its spec)")
        return _from_spec(spec_path, request)
    if path.suffix.lower() == ".toml" and _is_dataset_config(path):
        _folder_options_only(request, "an sd-scripts dataset config")
        return _from_dataset_config(path, request)
    _folder_options_only(request, "a kohya-prep spec")
    return _from_spec(path, request)


def _folder_options_only(request: SourceRequest, what: str) -> None:
    given = [flag for flag, value in (("--reg-dir", request.reg_dir), ("--caption-extension", request.caption_extension),
                                      ("--resolution", request.resolution)) if value is not None]
    if given:
        flags = " and ".join(given)
        verb = "applies" if len(given) == 1 else "apply"
        raise ConfigError(f"{flags} {verb} only when DATASET is a train_data_dir folder; {what} sets its own reg images, "
                          f"caption extension and resolution: drop {flags}.")


def _refuse_spec_folder(folder: Path) -> None:
    """A folder without N_name subsets that holds specs: the user meant one of them, so say that, not 'No data found'."""
    specs = sorted(p.name for p in folder.glob("*.toml") if p.is_file())
    if specs:
        shown = ", ".join(specs[:3]) + (" ..." if len(specs) > 3 else "")
        raise ConfigError(f"{folder} holds no dataset (no N_name image folders), but it holds {shown}; "
                          f"pass the spec file (.toml) itself, e.g. {folder / specs[0]}.")


def _built_from(folder: Path) -> Path | None:
    """The spec a kohya-prep build of `folder` came from, when its manifest names one that still exists."""
    try:
        data = json.loads((folder / BUILD_MANIFEST).read_text(encoding="utf-8"))
        spec = Path(str(data["spec"]["path"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    spec = spec if spec.is_absolute() else folder.parent / spec
    return spec if spec.is_file() else None


def _is_dataset_config(path: Path) -> bool:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False  # check reports it (not valid TOML) once it reads the file
    return "dataset" not in data and ("datasets" in data or "general" in data)


def _checked(options: CheckOptions, target: str) -> list[Notice]:
    """check_dataset's verdict: errors refuse, warnings come back as notices."""
    report = check_dataset(options)
    refused = [*report.errors, *(f for f in report.warnings if f.code in _REFUSED_WARNINGS)]
    if refused:
        raise DatasetRefused(target, list(refused))
    return _grouped([f for f in report.warnings if f.code not in _OWN_WARNINGS])


def _grouped(findings: list[Finding]) -> list[Notice]:
    """One notice per finding, or one per code when a code repeats for many images (check lists them all)."""
    by_code: dict[str, list[Finding]] = {}
    for finding in findings:
        by_code.setdefault(finding.code, []).append(finding)
    notices = []
    for code, group in by_code.items():
        if len(group) <= GROUP_ABOVE:
            notices += [Notice(f.code, f.message, f.path, f.fix) for f in group]
        else:
            first = group[0]
            notices.append(Notice(code, f"{first.message} (and {len(group) - 1} more like it: `kohya-prep dataset check` "
                                        "lists them)", first.path, first.fix))
    return notices


def _scan(config: DatasetConfig) -> tuple[list[ScannedSubset], list[TrainImage]]:
    scanned = [scan_subset(subset, duplicates=False) for subset in config.subsets]
    subsets = [_subset(s) for s in scanned if s.images]  # an empty folder adds nothing (sd-scripts skips it)
    images = [TrainImage(i.path.absolute(), _first_line(i.caption.data) if i.caption else None)
              for s in scanned if not s.config.is_reg for i in s.images]
    return subsets, images


def _subset(scanned: CheckedSubset) -> ScannedSubset:
    folder = scanned.config.image_dir.absolute()
    readable = [i for i in scanned.images if i.size is not None]
    return ScannedSubset(str(folder), scanned.config.num_repeats, scanned.config.class_tokens or "", scanned.config.is_reg,
                         tuple(str(folder / i.path.name) for i in readable),
                         tuple(i.size for i in readable if i.size is not None))


def _first_line(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    return text.splitlines()[0].strip() if text.strip() else ""


def _from_spec(path: Path, request: SourceRequest) -> DatasetSource:
    loaded = load_spec(path)
    spec = loaded.at(loaded.nearest_resolution(request.family_resolution))  # resolution = [512, 1024]: the family's
    if not _has_images(spec.train_subset_dir):
        raise ConfigError(_no_images(spec, path))
    trigger = request.trigger or spec.trigger
    options = CheckOptions(path, caption_extension=".txt", resolution=spec.resolution, trigger=trigger, duplicates=False)
    warnings = _checked(options, str(path))
    subsets, images = _scan(resolve(options).datasets[0])
    return DatasetSource("spec", f"{path.name}", spec.root, spec.name, spec.resolution, ".txt", trigger, subsets,
                         spec=spec, train_images=images, warnings=warnings)


def _no_images(spec: DatasetSpec, spec_path: Path) -> str:
    """Why the train subset holds no images, as it is: not built, every crop left out, or built before."""
    folder, build = spec.train_subset_dir, f"`kohya-prep dataset build {spec_path}`"
    if not folder.is_dir():
        return f"no training images in {folder}: the dataset is not built yet; run {build} first."
    statuses = [crop.status for crop in spec.crops]
    if "approved" not in statuses:
        left_out = ", ".join(f"{statuses.count(s)} {s}" for s in ("speculative", "excluded") if s in statuses)
        return (f"no training images in {folder}: the build left every crop out ({left_out}); set status = 'approved' "
                f"on the crops to train on (or build with --include-speculative), then run {build} again.")
    return f"no training images in {folder} although the spec approves crops; run {build} to write them."


def _has_images(folder: Path) -> bool:
    from kohya_prep.sdscripts.folders import is_loaded_image

    return folder.is_dir() and any(is_loaded_image(name) for name in os.listdir(folder))


def _from_folder(path: Path, request: SourceRequest) -> DatasetSource:
    probe = resolve(CheckOptions(path, reg_dir=request.reg_dir, resolution=request.resolution or 512))
    if not any(dataset.subsets for dataset in probe.datasets):
        _refuse_spec_folder(path)
    extension = request.caption_extension or _caption_extension(probe.datasets[0])
    resolution = request.resolution or request.family_resolution
    options = CheckOptions(path, caption_extension=extension, resolution=resolution, trigger=request.trigger,
                           duplicates=False, reg_dir=request.reg_dir)
    warnings = _checked(options, str(path))
    inputs = resolve(options)
    subsets, images = _scan(inputs.datasets[0])
    train_root = next((r.path for r in inputs.roots if not r.is_reg), path)
    root = path.absolute().parent if train_root.absolute() == path.absolute() else path.absolute()
    trigger = request.trigger or infer_trigger([i.caption for i in images if i.caption]) or _first_token(subsets)
    return DatasetSource("folder", str(path), root, _name(root.name), resolution, extension, trigger, subsets,
                         train_images=images, warnings=warnings)


def _caption_extension(config: DatasetConfig) -> str:
    """The caption extension most images in the train subsets have (.txt or .caption); .txt when none has one."""
    counts: Counter[str] = Counter()
    for subset in config.subsets:
        if subset.image_dir.is_dir():
            names = set(os.listdir(subset.image_dir))
            counts.update(ext for name in names for ext in (".txt", ".caption") if name.endswith(ext))
    return ".caption" if counts[".caption"] > counts[".txt"] else ".txt"


def _first_token(subsets: list[ScannedSubset]) -> str | None:
    tokens = next((s.class_tokens for s in subsets if not s.is_reg and s.class_tokens), "")
    return tokens.split()[0] if tokens else None


def _name(text: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip("._")
    return cleaned or "lora"


def _from_dataset_config(path: Path, request: SourceRequest) -> DatasetSource:
    options = CheckOptions(None, dataset_config=path, trigger=request.trigger, duplicates=False)
    warnings = _checked(options, str(path))
    import toml  # sd-scripts' reader (library/config_util.py: load_user_config)

    raw = toml.load(str(path))
    problems = dataset_config_problems(raw, request.bucket_reso_steps)
    if problems:
        raise ConfigError(f"{path}: sd-scripts would reject this dataset config: " + "; ".join(problems) + ".")
    inputs = resolve(options)
    general = raw.get("general", {}) or {}
    foreign, images = [], []
    for index, (config, table) in enumerate(zip(inputs.datasets, raw.get("datasets", []), strict=True)):
        subsets, found = _scan(config)
        images += found
        foreign.append(ForeignDataset(f"datasets[{index}]", config.bucket, _pick(table, general, "batch_size"),
                                      _pick(table, general, "validation_split"), _pick(table, general, "validation_seed"),
                                      tuple(subsets)))
    if not foreign:
        raise ConfigError(f"{path} has no [[datasets]] table; sd-scripts would find no images.")
    resolution = max(foreign[0].bucket.resolution)
    trigger = request.trigger or infer_trigger([i.caption for i in images if i.caption])
    root = path.absolute().parent
    return DatasetSource("dataset-config", str(path), root, _name(root.name), resolution, ".caption", trigger,
                         foreign=tuple(foreign), dataset_config=path.absolute(), train_images=images, warnings=warnings)


def _pick(table: dict[str, Any], general: dict[str, Any], key: str) -> Any:
    for level in (table, general):
        if level.get(key) is not None:
            return level[key]
    return None
