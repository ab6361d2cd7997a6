"""Version floors from the install's own requirements files, so doctor asks what kohya_ss asks, not a table of ours.

kohya_ss installs two ways, each with its files (bmaltais/kohya_ss at its root):
- pip (setup.sh / setup.bat): requirements_linux.txt on Linux and WSL, requirements_pytorch_windows.txt on Windows,
  requirements_macos_*.txt on macOS; each pulls in requirements.txt with `-r`;
- uv (gui-uv.sh / gui-uv.bat): pyproject.toml's [project] dependencies.
A bare sd-scripts clone has its own requirements.txt. Within one way a package's floor is the highest it states;
across the two ways the lower one counts, since either install is one kohya_ss supports.
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from pathlib import Path

from kohya_prep.doctor.host import Host

_REQUIREMENT_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(==|>=|~=|===)\s*([0-9][^,;\s]*)")
_MARKER_RE = re.compile(r"sys_platform\s*==\s*['\"](\w+)['\"]")
_PLATFORM_FILE = {"linux": "requirements_linux.txt", "wsl": "requirements_linux.txt",
                  "windows": "requirements_pytorch_windows.txt"}
_SYS_PLATFORM = {"linux": "linux", "wsl": "linux", "windows": "win32", "macos": "darwin"}


@dataclass(frozen=True)
class Floor:
    """The oldest version of `package` the install accepts, and the file that says so."""

    package: str
    version: str  # the release part: '2.7.0' for 'torch==2.7.0+cu128'
    source: str  # the file's name, e.g. 'requirements.txt'
    spec: str  # the requirement as written, for the pip command: 'accelerate>=1.7.0'


def normalize(name: str) -> str:
    """PyPI's rule: case and the runs of '-', '_' and '.' do not matter."""
    return re.sub(r"[-_.]+", "-", name).lower()


def version_tuple(version: str) -> tuple[int, ...]:
    """(2, 7, 0) for '2.7.0+cu128' or '2.7.0rc1': the release numbers only."""
    release = version.split("+")[0]
    return tuple(int(part) for part in re.findall(r"\d+", release.split("rc")[0].split("a")[0])[:4])


def install_floors(root: Path, kohya_ss: bool, host: Host) -> dict[str, Floor]:
    """Package -> floor, from the files this install has (empty when it has none)."""
    if not kohya_ss:
        return _read_chain(root / "requirements.txt", host)
    ways = [_read_chain(root / _platform_file(host), host), _read_pyproject(root / "pyproject.toml", host)]
    if not any(ways) and (root / "requirements.txt").is_file():
        ways = [_read_chain(root / "requirements.txt", host)]
    floors: dict[str, Floor] = {}
    for way in ways:
        for name, floor in way.items():
            if name not in floors or version_tuple(floor.version) < version_tuple(floors[name].version):
                floors[name] = floor
    return floors


def _platform_file(host: Host) -> str:
    if host == "macos":
        return "requirements_macos_arm64.txt" if platform.machine() == "arm64" else "requirements_macos_amd64.txt"
    return _PLATFORM_FILE[host]


def _read_chain(path: Path, host: Host, seen: frozenset[Path] = frozenset()) -> dict[str, Floor]:
    """One requirements file and those it includes with `-r`, highest floor per package."""
    if not path.is_file() or path in seen:
        return {}
    floors: dict[str, Floor] = {}
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.split(" #")[0].strip()
        if line.startswith(("-r ", "--requirement ")):
            included = _read_chain(path.parent / line.split(maxsplit=1)[1], host, seen | {path})
            floors = _higher(floors, included)
        elif line and not line.startswith(("#", "-")):
            floors = _higher(floors, _parse(line, path.name, host))
    return floors


def _read_pyproject(path: Path, host: Host) -> dict[str, Floor]:
    if not path.is_file():
        return {}
    import toml

    try:
        dependencies = toml.loads(path.read_text(encoding="utf-8")).get("project", {}).get("dependencies", [])
    except (toml.TomlDecodeError, AttributeError):
        return {}
    floors: dict[str, Floor] = {}
    for line in dependencies if isinstance(dependencies, list) else []:
        floors = _higher(floors, _parse(str(line), path.name, host))
    return floors


def _parse(line: str, source: str, host: Host) -> dict[str, Floor]:
    requirement, _, marker = line.partition(";")
    platform_match = _MARKER_RE.search(marker)
    if platform_match and platform_match[1] != _SYS_PLATFORM[host]:
        return {}
    match = _REQUIREMENT_RE.match(requirement)
    if not match:
        return {}  # no version floor (a bare name, an URL, an editable install)
    name = normalize(match[1])
    version = match[4].split("+")[0]
    return {name: Floor(name, version, source, f"{match[1]}{match[3]}{match[4].split('+')[0]}")}


def _higher(floors: dict[str, Floor], more: dict[str, Floor]) -> dict[str, Floor]:
    merged = dict(floors)
    for name, floor in more.items():
        if name not in merged or version_tuple(floor.version) > version_tuple(merged[name].version):
            merged[name] = floor
    return merged
