"""What a build loads: Pillow only for files the header reader leaves to it, OpenCV only when something renders.

Each test runs the command in a fresh process and reads its sys.modules at exit (import costs are start-up time,
which `make bench` measures; the tests pin which imports happen, never how long they take).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.helpers import figure_image, write_spec


def _modules_at_exit(spec: Path, module: str) -> subprocess.CompletedProcess[str]:
    script = ("import atexit, sys\n"
              f"atexit.register(lambda: print('loaded' if {module!r} in sys.modules else 'not loaded', file=sys.stderr))\n"
              "from kohya_prep.cli import main\nsys.argv = ['kohya-prep', 'dataset', 'build', sys.argv[1]]\nmain()\n")
    return subprocess.run([sys.executable, "-c", script, str(spec)], capture_output=True, text=True, check=False,
                          timeout=120)


def test_a_build_of_png_and_jpeg_sources_never_imports_pillow(tmp_path: Path) -> None:
    """The header reader and libpng / libjpeg-turbo do all of it: Pillow's import stays out of the command."""
    (tmp_path / "src").mkdir()
    figure_image((400, 300)).convert("RGB").save(tmp_path / "src" / "sheet.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned: 300 wide, 400 high
    figure_image((400, 300)).convert("RGB").save(tmp_path / "src" / "photo.jpg", progressive=True, exif=exif.tobytes())
    spec = write_spec(tmp_path, [{"name": "a", "box": [0, 0, 200, 200]}, {"name": "b", "source": "photo",
                                                                          "box": [0, 0, 300, 300]}],
                      sources={"sheet": "src/sheet.png", "photo": "src/photo.jpg"})
    done = _modules_at_exit(spec, "PIL.Image")
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "not loaded"
    assert len(list((tmp_path / "chara" / "train").glob("*/*.png"))) == 2


def test_a_rebuild_that_renders_nothing_never_imports_opencv(tmp_path: Path) -> None:
    """The renderer is imported ahead (while sources hash) only when a source changed: a no-op stays light."""
    spec = write_spec(tmp_path, [{"name": "a", "box": [0, 0, 200, 200]}])
    runs = [_modules_at_exit(spec, "cv2") for _ in range(2)]
    assert [run.returncode for run in runs] == [0, 0], runs[-1].stderr
    assert [run.stderr.strip().splitlines()[-1] for run in runs] == ["loaded", "not loaded"]
