"""The build plan: every file a spec yields, where it goes, and the key that says when it must change.

Pure: takes the validated spec and the sources' content hashes, knows nothing of the disk.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from kohya_prep.build.caption_text import normalize_caption, one_sided_features, swap_left_right
from kohya_prep.build.geometry import jpeg_decode_scale, jpeg_decode_scale_for, output_scale
from kohya_prep.output import Notice
from kohya_prep.sdscripts.buckets import BucketTable, Size
from kohya_prep.spec import FLIP_SUFFIX, Box, CropSpec, DatasetSpec, FitMode, MaskMode, Status

# Bump when a change in pixels.py alters output pixels: every image is then rendered again.
RENDERER_VERSION = 2
# Bump when a change alters bucket-fit or masked outputs only (letterboxes without a mask keep RENDERER_VERSION).
SHAPER_VERSION = 1
MANIFEST_NAME = "kohya-prep-manifest.json"
PREVIEW_DIR = "preview"
UPSCALE_WARNING = 2.0  # a crop stretched more than this looks soft in training
OutputKind = Literal["image", "caption"]


@dataclass(frozen=True)
class RegSource:
    """One image from the user's reg folder."""

    id: str  # "reg/<file name>"
    path: str
    size: tuple[int, int]
    stem: str  # the output stem: a safe, unique file name
    jpeg: bool = False


@dataclass(frozen=True)
class RenderJob:
    """What to cut from which source, the scale to decode that source at (a JPEG's DCT scaling), and how the
    box becomes the output: letterboxed into the square, or shaped to its bucket; with a loss mask or not."""

    source: str
    box: Box
    flip: bool
    scale: float = 1.0
    fit: FitMode = "letterbox"
    mask: MaskMode = "none"
    bucket: Size | None = None  # fit = "bucket": the output size, sd-scripts' bucket for the box
    resolution: int = 512  # the square's side (letterbox), or the resolution the bucket was chosen for

    @property
    def cut(self) -> tuple[object, ...]:
        """What a crop and its flip share: one resize serves both (each resolution has its own)."""
        return (*self.box.as_list(), self.fit, self.mask, self.bucket, self.resolution)

    def output_size(self) -> Size:
        return self.bucket or (self.resolution, self.resolution)


@dataclass(frozen=True)
class OutputFile:
    """One file the build writes, relative to the dataset root (posix separators)."""

    relpath: str
    kind: OutputKind
    owner: str  # crop name, or reg source id
    key: str  # changes exactly when the file's bytes must change
    job: RenderJob | None = None
    text: str | None = None

    @property
    def stem(self) -> str:
        name = self.relpath.rpartition("/")[2]
        stem, dot, _ = name.rpartition(".")
        return stem if dot and stem else name  # PurePosixPath's stem, without building a path per call

    @property
    def folder(self) -> str:
        return self.relpath.rpartition("/")[0] or "."  # string work: a report asks this of every file


@dataclass(frozen=True)
class CropRow:
    """A line of the summary table."""

    name: str
    source: str
    box: Box
    status: Status
    files: tuple[str, ...]
    flags: tuple[str, ...]
    output: Size = (512, 512)  # the image's size: the square, or the bucket
    fit: FitMode = "letterbox"
    mask: MaskMode = "none"


@dataclass(frozen=True)
class BuildPlan:
    """Everything the build will write, and what it leaves out: a value, made once from the spec."""

    outputs: tuple[OutputFile, ...]
    dirs: tuple[str, ...]
    rows: tuple[CropRow, ...]
    skipped: tuple[tuple[str, str], ...]  # (crop name, status)
    warnings: tuple[Notice, ...]

    @property
    def images(self) -> list[OutputFile]:
        return [o for o in self.outputs if o.kind == "image"]


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def render_key(source_hash: str, job: RenderJob, resolution: int, background: tuple[int, int, int], png: str) -> str:
    """The inputs that decide an image's bytes; the caption is not among them.

    fit and mask enter only when they differ from a plain letterbox, so those keys (and files) stay as they were.
    A changed mask changes the key: the image is rendered again and sd-scripts' latent caches of it, which hold
    the mask, are dropped (tree.py)."""
    material: dict[str, object] = {
        "renderer": RENDERER_VERSION,
        "source": source_hash,
        "box": job.box.as_list(),
        "flip": job.flip,
        "decode_scale": job.scale,
        "resolution": resolution,
        "background": list(background),
        "png": png,
    }
    if job.fit != "letterbox" or job.mask != "none":
        material.update(shaper=SHAPER_VERSION, fit=job.fit, mask=job.mask, bucket=list(job.bucket or ()))
    if enlarges(job):  # enlarged by Lanczos in float32 (pixels.resize): up to 1 level from before, so rendered again
        material["enlarge"] = "lanczos-f32"
    return digest(json.dumps(material, sort_keys=True).encode())


def enlarges(job: RenderJob) -> bool:
    """Whether the output has more pixels across than the decoded box (a bucket's growth keeps the scale)."""
    return output_scale(job.box, job.output_size()) > job.scale


def bucket_table(spec: DatasetSpec) -> BucketTable:
    """sd-scripts' buckets for the spec's resolution and bucket settings (library/model_util.py:
    make_bucket_resolutions), made once per plan."""
    return BucketTable.from_settings(spec.bucket_settings)


def crop_job(crop: CropSpec, flip: bool, scale: float, table: BucketTable) -> RenderJob:
    """A crop's render job; a bucket fit gets the bucket sd-scripts' select_bucket picks for the box's aspect ratio
    (the output is written at exactly that size, so sd-scripts puts it there unscaled)."""
    bucket = table.assign((crop.box.width, crop.box.height)).bucket if crop.fit == "bucket" else None
    return RenderJob(crop.source, crop.box, flip, scale, crop.fit, crop.mask, bucket, table.settings.resolution[0])


def reg_stem(filename: str, taken: set[str]) -> str:
    """A safe, unique output stem for a reg image's file name."""
    stem = re.sub(r"[^A-Za-z0-9.-]+", "-", PurePosixPath(filename).stem).strip("-.") or "reg"
    candidate, number = stem, 2
    while candidate.lower() in taken:
        candidate, number = f"{stem}-{number}", number + 1
    taken.add(candidate.lower())
    return candidate


def crop_variants(crop: CropSpec) -> list[tuple[str, bool]]:
    """(output stem, mirrored) for each image a crop yields: itself, and its flip when asked."""
    return [(crop.name, False)] + ([(crop.name + FLIP_SUFFIX, True)] if crop.flip else [])


def review_crop(crop: CropSpec, resolution: int, table: BucketTable | None = None) -> tuple[CropRow, list[Notice]]:
    """A crop's row in the summary table and what a person should know before training on it."""
    flags, warnings = [], []
    job = (crop_job(crop, False, 1.0, table) if table is not None
           else RenderJob(crop.source, crop.box, False, resolution=resolution))
    output = job.output_size()
    if crop.flip:
        flags.append("flip")
        sided = one_sided_features(crop.caption)
        if sided:
            flags.append("one-sided")
            warnings.append(Notice(
                "flip-one-sided",
                f"crop '{crop.name}' is flipped but its caption names a one-sided feature ({', '.join(sided)}); "
                "the mirror puts it on the other side: set flip = false or accept it", fix="set flip = false"))
    scale = resolution / max(crop.box.width, crop.box.height) if job.fit == "letterbox" else output_scale(crop.box, output)
    if scale > UPSCALE_WARNING:
        flags.append(f"upscaled {scale:.1f}x")
        target = resolution if job.fit == "letterbox" else f"{output[0]}x{output[1]}"
        warnings.append(Notice(
            "upscaled",
            f"crop '{crop.name}' ({crop.box.width}x{crop.box.height}) is enlarged {scale:.1f}x to {target}; "
            "it will look soft: use a larger box or a higher-resolution source", fix="use a larger box"))
    if crop.mask != "none":
        flags.append(f"mask {crop.mask}")
    if crop.status != "approved":
        flags.append(crop.status)
    files = tuple(f"{stem}.png" for stem, _ in crop_variants(crop))
    row = CropRow(crop.name, crop.source, crop.box, crop.status, files, tuple(flags), output, crop.fit, crop.mask)
    return row, warnings


def alpha_warnings(spec: DatasetSpec, crops: list[CropSpec]) -> list[Notice]:
    """mask = "alpha" on a source without transparency: the build goes on and masks only the padding (as
    mask = "padding"), and says so once per source."""
    opaque: dict[str, list[str]] = {}
    for crop in crops:
        if crop.mask == "alpha" and not spec.sources[crop.source].alpha:
            opaque.setdefault(crop.source, []).append(crop.name)
    return [Notice(
        "mask-no-alpha",
        f"mask = 'alpha' on {', '.join(names)}, but source '{sid}' ({spec.sources[sid].path.name}) has no alpha channel: "
        "only the padding is masked there, as with mask = 'padding'",
        str(spec.sources[sid].path), fix="set mask = 'padding' on those crops, or export the source with transparency")
        for sid, names in opaque.items()]


def _crop_outputs(spec: DatasetSpec, crop: CropSpec, source_hash: str, scale: float, table: BucketTable) -> list[OutputFile]:
    folder = f"{spec.tree_prefix}train/{spec.subset_dir}"
    caption = normalize_caption(crop.caption, spec.trigger)
    outputs = []
    for stem, flip in crop_variants(crop):
        text = swap_left_right(caption) if flip else caption
        job = crop_job(crop, flip, scale, table)
        key = render_key(source_hash, job, spec.resolution, spec.background, spec.png)
        outputs.append(OutputFile(f"{folder}/{stem}.png", "image", crop.name, key, job=job))
        outputs.append(OutputFile(f"{folder}/{stem}.txt", "caption", crop.name, digest(text.encode()), text=text))
    return outputs


def _reg_job(spec: DatasetSpec, reg: RegSource, table: BucketTable) -> RenderJob:
    """A reg image whole, shaped by the dataset's fit and mask."""
    box = Box(0, 0, reg.size[0], reg.size[1])
    bucket = table.assign(reg.size).bucket if spec.fit == "bucket" else None
    scale = _reg_scale(spec, box) if reg.jpeg else 1.0
    return RenderJob(reg.id, box, False, scale, spec.fit, spec.mask, bucket, spec.resolution)


def _reg_scale(spec: DatasetSpec, box: Box) -> float:
    """A JPEG reg image's decode scale: one decode serves every resolution, so the largest output decides."""
    if spec.fit != "bucket":
        return max(jpeg_decode_scale([box], view.resolution) for view in _views(spec))
    buckets = [bucket_table(view).assign((box.width, box.height)).bucket for view in _views(spec)]
    return max(jpeg_decode_scale_for([output_scale(box, bucket)]) for bucket in buckets)


def _views(spec: DatasetSpec) -> list[DatasetSpec]:
    """The spec at each of its resolutions (one for a single size)."""
    return [spec.at(resolution) for resolution in spec.every_resolution]


def _reg_outputs(spec: DatasetSpec, reg_sources: list[RegSource], source_hashes: dict[str, str],
                 table: BucketTable) -> list[OutputFile]:
    folder = f"{spec.tree_prefix}reg/{spec.reg.subset_dir}"
    text = " ".join(spec.reg.class_tokens.split())
    outputs = []
    for reg in reg_sources:
        job = _reg_job(spec, reg, table)
        key = render_key(source_hashes[reg.id], job, spec.resolution, spec.background, spec.png)
        outputs.append(OutputFile(f"{folder}/{reg.stem}.png", "image", reg.id, key, job=job))
        outputs.append(OutputFile(f"{folder}/{reg.stem}.txt", "caption", reg.id, digest(text.encode()), text=text))
    return outputs


def decode_scales(spec: DatasetSpec, crops: list[CropSpec], table: BucketTable | None = None) -> dict[str, float]:
    """One decode scale per source, from all the crops built from it, at every resolution (one decode serves all:
    the largest output decides).

    It depends on the spec alone, never on which outputs a rebuild happens to render, so a full build
    and an incremental one decode alike; it is part of each image's key, so a change re-renders its crops.
    A bucket output can be larger than the square, so its bucket decides how much of the source it needs.
    """
    views = _views(spec)
    tables = [table or bucket_table(views[0])] + [bucket_table(view) for view in views[1:]]
    by_source: dict[str, list[CropSpec]] = {}
    for crop in crops:
        by_source.setdefault(crop.source, []).append(crop)
    scales = {}
    for sid, source in spec.sources.items():
        own = by_source.get(sid, [])
        scales[sid] = max(_source_scale(own, view.resolution, t) for view, t in zip(views, tables, strict=True)) \
            if source.jpeg else 1.0
    return scales


def _source_scale(crops: list[CropSpec], resolution: int, table: BucketTable) -> float:
    if all(crop.fit == "letterbox" for crop in crops):
        return jpeg_decode_scale([crop.box for crop in crops], resolution)
    sizes = [crop_job(crop, False, 1.0, table).output_size() for crop in crops]
    return jpeg_decode_scale_for([output_scale(c.box, size) for c, size in zip(crops, sizes, strict=True)])


def included_crops(spec: DatasetSpec, include_speculative: bool = False) -> list[CropSpec]:
    """The crops a final build writes: approved ones, and speculative ones if asked."""
    return [c for c in spec.crops if c.status == "approved" or (c.status == "speculative" and include_speculative)]


def make_plan(spec: DatasetSpec, source_hashes: dict[str, str], reg_sources: list[RegSource],
              include_speculative: bool = False) -> BuildPlan:
    """The files a final build writes: approved crops (and speculative ones if asked), their flips, reg images; at
    every resolution of the spec. The rows are the first resolution's; warnings are said once."""
    included = included_crops(spec, include_speculative)
    chosen = {crop.name for crop in included}
    scales = decode_scales(spec, included)
    outputs: list[OutputFile] = []
    rows: list[CropRow] = []
    warnings: list[Notice] = []
    for view in _views(spec):
        table = bucket_table(view)
        for crop in included:
            outputs += _crop_outputs(view, crop, source_hashes[crop.source], scales[crop.source], table)
            row, crop_warnings = review_crop(crop, view.resolution, table)
            rows += [row] if view.resolution == spec.resolution else []
            warnings += [w for w in crop_warnings if w not in warnings]
        outputs += _reg_outputs(view, reg_sources, source_hashes, table)
    warnings += alpha_warnings(spec, included)
    return BuildPlan(
        outputs=tuple(outputs),
        dirs=tuple(d for view in _views(spec) for d in (f"{view.tree_prefix}train/{spec.subset_dir}",
                                                         f"{view.tree_prefix}reg/{spec.reg.subset_dir}")),
        rows=tuple(rows),
        skipped=tuple((c.name, c.status) for c in spec.crops if c.name not in chosen),
        warnings=tuple(warnings),
    )
