"""`make bench`: build speed side by side with the pipelines a user would write instead, measured in the same rounds.

Workloads, built in a temporary folder:
  demo      the demo spec as shipped (dataset/demo.toml)
  crops2k   2,000 generated crops (about 40 % flipped) over the demo's sources
  photo     six photo-like JPEGs (6000x4000), 24 crops, one build with resolution = [512, 1024]
Side by side (the first table): kohya-prep and the two anchors of benchmarks/anchors.py (decode once, two
threads: OpenCV; pyvips), each a fresh process, in interleaved rounds (the order rotates), medians of the wall
time from start to exit; kohya-prep's time as a ratio to each anchor's (above 1: kohya-prep is faster), the cores
each kept busy (CPU time / wall time), peak RSS, output size, and the machine's load average over the rounds.
The second table: the build's own time inside its process, images per second, a no-op rebuild, a one-crop
rebuild, and a plain Pillow baseline (open the source for every crop, crop, LANCZOS into a padded square, save PNG
at Pillow's defaults, one process; on crops2k a fixed 1-in-10 sample of the crops, compared per image).
Then `dataset init` on a large drawn sheet, and the detector's accuracy on the drawn test sheets and other seeds
(`python benchmarks/bench.py init`: that section alone).
Prints the tables; writes bench-results.json. Timings are reported, never asserted.
"""

from __future__ import annotations

import compileall
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from kohya_prep.build.geometry import letterbox
from kohya_prep.spec import DatasetSpec, load_spec

REPO = Path(__file__).resolve().parent.parent  # benchmarks/ sits at the top of the checkout
sys.path.insert(0, str(REPO))  # the init section draws its sheets with tests/drawn_sheets.py
DEMO_SPEC = REPO / "dataset" / "demo.toml"
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
BASELINE_SAMPLE = 10  # crops2k: the baseline renders every 10th crop


@dataclass
class Row:
    workload: str
    images: int
    build_s: float
    images_per_s: float
    peak_rss_mb: float
    output_mb: float
    noop_s: float
    noop_pct: float
    one_crop_s: float
    one_crop_pct: float
    baseline_s_per_image: float
    speedup: float
    runs: list[float] = field(default_factory=list)


# ---------------------------------------------------------------- the baseline


def baseline_render(spec: DatasetSpec, out: Path, every: int = 1) -> int:
    """The straightforward pipeline: open the source for every crop, crop, LANCZOS, pad, PNG defaults."""
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for crop in spec.crops[::every]:
        with Image.open(spec.sources[crop.source].path) as opened:
            img = ImageOps.exif_transpose(opened).convert("RGBA")
        background = Image.new("RGBA", img.size, (*spec.background, 255))
        img = Image.alpha_composite(background, img).convert("RGB")
        box = crop.box
        region = img.crop((box.left, box.top, box.right, box.bottom))
        for resolution in spec.every_resolution:
            fit = letterbox(box.width, box.height, resolution)
            canvas = Image.new("RGB", (resolution, resolution), spec.background)
            scaled = region.resize((fit.scaled_width, fit.scaled_height), Image.Resampling.LANCZOS)
            canvas.paste(scaled, (fit.offset_x, fit.offset_y))
            canvas.save(out / f"{crop.name}-{resolution}.png")
            count += 1
            if crop.flip:
                ImageOps.mirror(canvas).save(out / f"{crop.name}-{resolution}-flip.png")
                count += 1
    return count


# ---------------------------------------------------------------- workloads


def _write_spec(folder: Path, name: str, sources: dict[str, Path], crops: list[dict], resolution: int | list[int]) -> Path:
    lines = ["[dataset]", f"name = '{name}'", "trigger = 'benchchar'", "class = 'girl'", "repeats = 10",
             f"resolution = {resolution}", "[sources]"]
    lines += [f"{sid} = '{path.as_posix()}'" for sid, path in sources.items()]
    for crop in crops:
        lines += ["[[crops]]", f"name = '{crop['name']}'", f"source = '{crop['source']}'", f"box = {crop['box']}",
                  f"caption = '{crop['caption']}'", f"flip = {'true' if crop['flip'] else 'false'}"]
    path = folder / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _random_crops(sizes: dict[str, tuple[int, int]], count: int, seed: int, min_side: int, max_side: int) -> list[dict]:
    rng = random.Random(seed)
    crops = []
    ids = sorted(sizes)
    for i in range(count):
        sid = ids[i % len(ids)]
        width, height = sizes[sid]
        w = rng.randint(min_side, min(max_side, width))
        h = rng.randint(min_side, min(max_side, height))
        box = [rng.randint(0, width - w), rng.randint(0, height - h), w, h]
        crops.append({"name": f"c{i:04d}", "source": sid, "box": box, "caption": "standing, left hand up",
                      "flip": rng.random() < 0.4})
    return crops


def crops2k_spec(folder: Path) -> Path:
    demo = load_spec(DEMO_SPEC)
    sources = {sid: s.path for sid, s in demo.sources.items()}
    sizes = {sid: s.size for sid, s in demo.sources.items()}
    return _write_spec(folder, "crops2k", sources, _random_crops(sizes, 2000, 7, 200, 900), 512)


def _photo(path: Path, seed: int) -> None:
    """A photo-like 6000x4000 JPEG: smooth colour fields with fine grain, which JPEG does not flatten."""
    rng = np.random.default_rng(seed)
    import cv2

    coarse = rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)
    smooth = cv2.resize(coarse, (6000, 4000), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    grain = rng.integers(-12, 12, (4000, 6000, 1), dtype=np.int16)
    Image.fromarray(np.clip(smooth + grain, 0, 255).astype(np.uint8)).save(path, quality=90)


def photo_spec(folder: Path, count: int = 6) -> Path:
    sources = {}
    for i in range(count):
        path = folder / "photos" / f"photo{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        _photo(path, i)
        sources[f"p{i}"] = path
    sizes = dict.fromkeys(sources, (6000, 4000))
    crops = _random_crops(sizes, count * 4, 11, 1500, 3800)
    return _write_spec(folder, "photo", sources, crops, [512, 1024])


# ---------------------------------------------------------------- measuring


# Peak RSS comes from VmHWM, the high-water mark of this process's own address space: Linux carries
# ru_maxrss across exec, so it would report the bench parent's peak instead of the build's.
_CHILD = """
import json, resource, sys, time
from kohya_prep.cli import tune_process
tune_process()  # as the console script runs
from kohya_prep.build import BuildOptions, build_dataset
from kohya_prep.spec import load_spec
t = time.perf_counter()
result = build_dataset(load_spec(sys.argv[1]), BuildOptions())
seconds = time.perf_counter() - t
try:
    with open("/proc/self/status") as status:
        rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except OSError:
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "rendered": len(result.rendered), "rss_kb": rss_kb}))
"""


def _build_in_child(spec: Path) -> dict:
    """One build in a fresh process: its own time, and its own peak RSS."""
    out = subprocess.run([sys.executable, "-c", _CHILD, str(spec)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cli_seconds(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kohya_prep", *args], capture_output=True, check=False)
    return time.perf_counter() - started


def _tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _nudge_one_crop(spec_path: Path) -> None:
    text = spec_path.read_text(encoding="utf-8")
    start = text.index("box = [") + len("box = [")
    end = text.index(",", start)
    left = int(text[start:end])
    text = text[:start] + str(left + 1 if left == 0 else left - 1) + text[end:]
    spec_path.write_text(text, encoding="utf-8")


def _train_bytes(spec: DatasetSpec) -> int:
    return sum(_tree_bytes(spec.at(resolution).train_data_dir) for resolution in spec.every_resolution)


def measure(name: str, spec_path: Path, work: Path, baseline_every: int = 1) -> tuple[Row, SideBySide]:
    """Interleaved rounds of the Pillow baseline, kohya-prep and the anchors; then the incremental rebuilds."""
    spec = load_spec(spec_path)
    job = write_anchor_job(spec, work / f"{name}-job.json")
    # One round first, not counted: the sources in the page cache, and every pipeline's first touch of memory
    # (on a virtual machine the host backs a guest's pages on first use: a first 50 MB array took 170 ms here, the
    # next 5 ms) paid before any round is timed.
    side_by_side_round(SideBySide(name), spec, job, work, 0)
    side = SideBySide(name, loads=[os.getloadavg()[0]])
    build_times, baseline_rates, rss, images = [], [], [], 0
    for run in range(RUNS):
        base_out = work / f"baseline-{name}-{run}"
        started = time.perf_counter()
        count = baseline_render(spec, base_out, baseline_every)
        baseline_rates.append((time.perf_counter() - started) / count)
        _set_aside(base_out, work / "set-aside")  # not deleted now: see _set_aside
        child = side_by_side_round(side, spec, job, work, run)
        build_times.append(child["seconds"])
        rss.append(child["rss_kb"] / 1024)
        images = child["rendered"]
    noop = statistics.median(_build_in_child(spec_path)["seconds"] for _ in range(RUNS))
    one_crop = []
    for _ in range(RUNS):
        _nudge_one_crop(spec_path)
        one_crop.append(_build_in_child(spec_path)["seconds"])
    build = statistics.median(build_times)
    per_image_base = statistics.median(baseline_rates)
    row = Row(
        workload=name, images=images, build_s=round(build, 2), images_per_s=round(images / build, 1),
        peak_rss_mb=round(max(rss), 1), output_mb=round(_train_bytes(spec) / 1e6, 1),
        noop_s=round(noop, 3), noop_pct=round(100 * noop / build, 1),
        one_crop_s=round(statistics.median(one_crop), 3), one_crop_pct=round(100 * statistics.median(one_crop) / build, 1),
        baseline_s_per_image=round(per_image_base, 4), speedup=round(per_image_base / (build / images), 1),
        runs=[round(t, 2) for t in build_times],
    )
    return row, side


# ---------------------------------------------------------------- side by side: kohya-prep and the anchors


ANCHORS = ("opencv", "pyvips")
PIPELINES = ("kohya-prep", *ANCHORS)


@dataclass
class Run:
    """One pipeline's run in its own process: wall time from start to exit, its CPU time, peak RSS, output."""

    wall_s: float
    cpu_s: float
    rss_mb: float
    output_mb: float
    images: int


@dataclass
class SideBySide:
    """The runs of every pipeline on one workload, and the load average seen before each round and after the last."""

    workload: str
    runs: dict[str, list[Run]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # pipeline -> why it could not run here
    loads: list[float] = field(default_factory=list)

    def median(self, pipeline: str) -> Run | None:
        runs = self.runs.get(pipeline)
        if not runs:
            return None
        pick = statistics.median_low([r.wall_s for r in runs])
        return next(r for r in runs if r.wall_s == pick)


def write_anchor_job(spec: DatasetSpec, path: Path) -> Path:
    """The crops a build writes (approved ones), as the anchors read them: the same boxes, flips and sizes."""
    crops = [{"name": c.name, "source": c.source, "box": c.box.as_list(), "flip": c.flip}
             for c in spec.crops if c.status == "approved"]
    job = {"sources": {sid: str(s.path) for sid, s in spec.sources.items()}, "crops": crops,
           "sizes": list(spec.every_resolution), "background": list(spec.background)}
    path.write_text(json.dumps(job), encoding="utf-8")
    return path


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(args: list[str]) -> tuple[float, float, dict]:
    """Run a child process: its wall time, its CPU time (user + system, all its threads) and its last JSON line."""
    cpu_before, started = _children_cpu(), time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} failed: {done.stderr.strip()[-2000:]}")
    return wall, _children_cpu() - cpu_before, json.loads(done.stdout.strip().splitlines()[-1])


def _set_aside(folder: Path, trash: Path) -> None:
    """Move a previous run's output out of the way, to be deleted when the bench ends: ext4 will not reuse an inode
    freed in the last 30 seconds and searches past every one of them, so a run right after deleting thousands of
    files creates each of its own 5-8x slower (0.6 ms against 0.08, measured here). Every pipeline is treated alike."""
    if folder.exists():
        trash.mkdir(parents=True, exist_ok=True)
        folder.rename(trash / f"{folder.name}-{time.monotonic_ns()}")
    os.sync()  # and no pipeline pays for writing back another's files


# The side-by-side run is the command a user types, report included: `kohya-prep dataset build SPEC`. Its peak RSS
# goes to stderr at exit, after the report.
_CLI_CHILD = """
import atexit, sys
def _rss():
    with open("/proc/self/status") as status:
        print(next(line.split()[1] for line in status if line.startswith("VmHWM:")), file=sys.stderr)
atexit.register(_rss)
sys.argv = ["kohya-prep", "dataset", "build", sys.argv[1], "--json"]
from kohya_prep.cli import main
main()
"""


def _kohya_run(spec: DatasetSpec, trash: Path) -> tuple[Run, dict]:
    _set_aside(spec.root, trash)
    cpu_before, started = _children_cpu(), time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CLI_CHILD, str(spec.path)], capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - started, _children_cpu() - cpu_before
    if done.returncode != 0:
        raise RuntimeError(f"kohya-prep dataset build {spec.path} failed: {(done.stdout + done.stderr).strip()[-2000:]}")
    report = json.loads(done.stdout)
    rss_kb = int(done.stderr.strip().splitlines()[-1])
    report.update(rss_kb=rss_kb, rendered=len(report["rendered"]))  # the second table's fields
    return Run(wall, cpu, rss_kb / 1024, _train_bytes(spec) / 1e6, report["rendered"]), report


def _anchor_run(pipeline: str, job: Path, out: Path, trash: Path) -> Run:
    _set_aside(out, trash)
    wall, cpu, child = _timed([sys.executable, str(Path(__file__).with_name("anchors.py")), pipeline, str(job), str(out)])
    return Run(wall, cpu, child["rss_kb"] / 1024, _tree_bytes(out) / 1e6, child["images"])


def side_by_side_round(side: SideBySide, spec: DatasetSpec, job: Path, work: Path, round_no: int) -> dict:
    """One round: every pipeline once, in an order that rotates with the round; kohya-prep's child report."""
    from anchors import available  # benchmarks/ is on sys.path when bench.py runs as a script

    order = PIPELINES[round_no % len(PIPELINES):] + PIPELINES[:round_no % len(PIPELINES)]
    report: dict = {}
    trash = work / "set-aside"
    for pipeline in order:
        if pipeline == "kohya-prep":
            run, report = _kohya_run(spec, trash)
        else:
            why = side.skipped.get(pipeline) or available(pipeline)
            if why:  # the bench says so and goes on with the others
                side.skipped[pipeline] = why
                continue
            run = _anchor_run(pipeline, job, work / f"anchor-{pipeline}", trash)
        side.runs.setdefault(pipeline, []).append(run)
    side.loads.append(os.getloadavg()[0])
    return report


def _cell(run: Run | None, text: str) -> str:
    return text if run is not None else "n/a"


def side_by_side_table(sides: list[SideBySide]) -> list[tuple[str, ...]]:
    """Per workload and pipeline: median wall time, kohya-prep's ratio to it, cores busy, peak RSS, output size."""
    table = [("workload", "pipeline", "images", "wall s", "kohya-prep is", "cores busy", "peak RSS MB", "output MB")]
    for side in sides:
        ours = side.median("kohya-prep")
        for pipeline in PIPELINES:
            run = side.median(pipeline)
            ratio = f"{run.wall_s / ours.wall_s:.2f}x faster" if run and ours and pipeline != "kohya-prep" else ""
            table.append((side.workload, pipeline, _cell(run, str(run.images if run else "")),
                          _cell(run, f"{run.wall_s:.2f}" if run else ""), ratio if run else "n/a",
                          _cell(run, f"{run.cpu_s / run.wall_s:.2f}" if run else ""),
                          _cell(run, f"{run.rss_mb:.0f}" if run else ""), _cell(run, f"{run.output_mb:.1f}" if run else "")))
    return table


def _print_rows(table: list[tuple]) -> None:
    widths = [max(len(str(row[i])) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(str(cell).rjust(width) for cell, width in zip(row, widths, strict=True)))


def print_side_by_side(sides: list[SideBySide]) -> None:
    _print_rows(side_by_side_table(sides))
    loads = [load for side in sides for load in side.loads]
    print(f"load average (1 min) over the rounds: {min(loads):.2f} to {max(loads):.2f}, mean {statistics.mean(loads):.2f} "
          "(the bench's own two busy threads included)")
    for why in sorted({why for side in sides for why in side.skipped.values()}):
        print(f"not run: {why}")


def check_seconds(train_dir: Path) -> float | None:
    """`dataset check --no-duplicates` on a built dataset, or None where the command cannot run it."""
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "kohya_prep", "dataset", "check", str(train_dir), "--no-duplicates",
                               "--json"], capture_output=True, check=False)
        if done.returncode not in (0, 1):
            return None
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _print_table(rows: list[Row], help_ms: float, check_s: float | None) -> None:
    header = ("workload", "images", "build s", "img/s", "peak RSS MB", "output MB", "no-op s", "no-op %",
              "1-crop s", "1-crop %", "baseline s/img", "speed-up")
    table = [header] + [(r.workload, r.images, r.build_s, r.images_per_s, r.peak_rss_mb, r.output_mb, r.noop_s,
                         r.noop_pct, r.one_crop_s, r.one_crop_pct, r.baseline_s_per_image, f"{r.speedup}x") for r in rows]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(str(cell).rjust(width) for cell, width in zip(row, widths, strict=True)))
    print(f"\nkohya-prep --help: {help_ms:.0f} ms (median of 10)")
    print(f"dataset check --no-duplicates on the crops2k output: {f'{check_s:.2f} s' if check_s is not None else 'n/a'}")
    print(f"cores: {os.cpu_count()}, runs per workload: {RUNS} (medians)")


# ---------------------------------------------------------------- dataset init (its own section)

_INIT_CHILD = """
import json, sys, time
from pathlib import Path
t = time.perf_counter()
from kohya_prep.init.propose import InitOptions
from kohya_prep.init.run import run_init
result = run_init(Path(sys.argv[1]), [Path(sys.argv[2])], InitOptions(trigger="mira", class_tokens="girl"))
print(json.dumps({"seconds": time.perf_counter() - t, "crops": len(result.spec.crops)}))
"""


def init_seconds(work: Path) -> dict:
    """`dataset init` on a drawn 4096x2304 sheet, spec and preview included: in a fresh process, and as the CLI."""
    from tests.drawn_sheets import big_sheet

    folder = work / "init"
    folder.mkdir()
    sheet = big_sheet((4096, 2304))
    sheet.image.save(folder / "big.png")
    inside, cli = [], []
    for run in range(RUNS):
        for child in (True, False):
            spec = folder / f"big-{run}-{int(child)}.toml"
            started = time.perf_counter()
            if child:
                done = subprocess.run([sys.executable, "-c", _INIT_CHILD, str(spec), str(folder / "big.png")],
                                      capture_output=True, text=True, check=True)
                inside.append(json.loads(done.stdout.strip().splitlines()[-1])["seconds"])
            else:
                subprocess.run([sys.executable, "-m", "kohya_prep", "dataset", "init", str(spec), str(folder / "big.png"),
                                "--trigger", "mira", "--class", "girl", "--name", f"cli-{run}"], capture_output=True,
                               check=True)
                cli.append(time.perf_counter() - started)
    return {"sheet": "4096x2304", "figures": len(sheet.figures), "init_s": round(statistics.median(inside), 2),
            "cli_s": round(statistics.median(cli), 2)}


def _other_seeds() -> list:
    """The test set's layouts drawn from other seeds (new colours, poses, sizes): sheets the detector was not tuned on."""
    from tests.drawn_sheets import SHEETS

    sheets = []
    for seed in (101, 202):
        for make in SHEETS:
            try:
                sheets.append(make(seed=seed))
            except AssertionError:  # those figures do not fit that layout
                continue
    return sheets


def _score(sheets: list) -> dict:
    import numpy as np

    from kohya_prep.init.detect import detect_figures
    from tests.drawn_sheets import Score

    score, seconds = Score(), []
    for sheet in sheets:
        started = time.perf_counter()
        reading = detect_figures(np.asarray(sheet.image))
        seconds.append(time.perf_counter() - started)
        score.add(sheet.figures, [d.box.as_list() for d in reading.detections], sheet.image.size,
                  kinds=[d.kind for d in reading.detections])
    return {"sheets": len(sheets), "figures": score.figures, "boxes": score.boxes, "recall": round(score.recall, 3),
            "precision": round(score.precision, 3), "contained_share": round(score.contained_share, 3),
            "out_of_bounds": score.out_of_bounds, "kinds_right": score.kinds_right,
            "detect_s_median": round(statistics.median(seconds), 2)}


def detector_accuracy() -> dict:
    """Recall, precision (IoU >= 0.7) and the share of matched boxes holding their whole figure: the drawn test set,
    and the same layouts from other seeds."""
    from tests.drawn_sheets import drawn_sheets

    return {"test_set": _score(drawn_sheets()), "other_seeds": _score(_other_seeds())}


def _print_init(init: dict, accuracy: dict) -> None:
    print(f"\ndataset init on a {init['sheet']} sheet ({init['figures']} figures), spec and preview written: "
          f"{init['init_s']:.2f} s in-process, {init['cli_s']:.2f} s as a command (median of {RUNS})")
    for label, part in (("drawn test set", accuracy["test_set"]), ("other seeds", accuracy["other_seeds"])):
        print(f"detector, {label}: {part['sheets']} sheets, {part['figures']} figures: recall {part['recall']:.3f}, "
              f"precision {part['precision']:.3f} (IoU >= 0.7), contained {part['contained_share']:.3f}, "
              f"out of bounds {part['out_of_bounds']}, kind right {part['kinds_right']}, "
              f"{part['detect_s_median']:.2f} s per sheet (median)")


def main() -> None:
    if sys.argv[1:] == ["init"]:  # python benchmarks/bench.py init: this section alone
        with tempfile.TemporaryDirectory(prefix="kohya-prep-bench-") as tmp:
            _print_init(init_seconds(Path(tmp)), detector_accuracy())
        return
    if not DEMO_SPEC.exists():
        sys.exit(f"bench: {DEMO_SPEC} not found; run it from a kohya-prep checkout")
    # An editable install has no bytecode until a run writes it, and PYTHONDONTWRITEBYTECODE stops that: every
    # kohya-prep process would compile its modules (0.1 s), which an installed wheel never does.
    compileall.compile_dir(REPO / "kohya_prep", quiet=1)
    rows, sides = [], []
    with tempfile.TemporaryDirectory(prefix="kohya-prep-bench-") as tmp:
        work = Path(tmp)
        demo_dir = work / "demo"
        shutil.copytree(DEMO_SPEC.parent, demo_dir, ignore=shutil.ignore_patterns("demo", ".*"))
        print("building workloads ...", file=sys.stderr)
        specs = [("demo", demo_dir / "demo.toml", 1), ("crops2k", crops2k_spec(work), BASELINE_SAMPLE),
                 ("photo", photo_spec(work), 1)]
        for name, spec_path, every in specs:
            print(f"measuring {name} ...", file=sys.stderr)
            row, side = measure(name, spec_path, work, every)
            rows.append(row)
            sides.append(side)
        help_ms = 1000 * statistics.median(_cli_seconds(["--help"]) for _ in range(10))
        check_s = check_seconds(load_spec(work / "crops2k.toml").train_data_dir)
        print("measuring dataset init ...", file=sys.stderr)
        init, accuracy = init_seconds(work), detector_accuracy()
    print_side_by_side(sides)
    print()
    _print_table(rows, help_ms, check_s)
    _print_init(init, accuracy)
    results = {"rows": [asdict(r) for r in rows], "side_by_side": [asdict(s) for s in sides], "help_ms": round(help_ms, 1),
               "check_s": check_s, "cores": os.cpu_count(), "runs": RUNS,
               "rss_note": "peak RSS of each process (VmHWM)", "init": init, "detector": accuracy}
    Path("bench-results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print("wrote bench-results.json")


if __name__ == "__main__":
    main()
