"""Which kind of machine doctor runs on, for fix lines that work there: WSL2, Windows, macOS or Linux.

WSL2 matters most: its GPU driver is the Windows one (the Linux side only gets /usr/lib/wsl/lib), so the
Linux advice to install a driver is wrong there (NVIDIA's "CUDA on WSL User Guide").
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal

Host = Literal["wsl", "windows", "macos", "linux"]


def detect_host(env: dict[str, str] | None = None, osrelease: Path = Path("/proc/sys/kernel/osrelease")) -> Host:
    """WSL sets WSL_DISTRO_NAME and names its kernel '...-microsoft-standard-WSL2'."""
    env = dict(os.environ) if env is None else env
    if sys.platform == "win32":
        return "windows"
    if sys.platform == "darwin":
        return "macos"
    if env.get("WSL_DISTRO_NAME") or env.get("WSL_INTEROP"):
        return "wsl"
    try:
        release = osrelease.read_text(encoding="utf-8", errors="replace").lower()
    except OSError:
        release = ""
    return "wsl" if "microsoft" in release else "linux"


def nvidia_smi_fallbacks(host: Host) -> list[Path]:
    """Where the driver puts nvidia-smi when it is not on PATH."""
    if host == "wsl":
        return [Path("/usr/lib/wsl/lib/nvidia-smi")]
    if host == "windows":
        return [Path(r"C:\Windows\System32\nvidia-smi.exe"), Path(r"C:\Program Files\NVIDIA Corporation\NVSMI\nvidia-smi.exe")]
    return []


def driver_fix(host: Host) -> str:
    """How to install or repair the NVIDIA driver on this kind of machine."""
    if host == "wsl":
        return ("install or update the NVIDIA driver on Windows (WSL2 uses the Windows driver: never install a Linux "
                "NVIDIA driver inside WSL), run `wsl --update` and `wsl --shutdown` in PowerShell, then `nvidia-smi` here")
    if host == "windows":
        return ("install or update the NVIDIA driver (https://www.nvidia.com/Download/index.aspx or the NVIDIA App), "
                "reboot, then run `nvidia-smi`")
    return "install or repair the NVIDIA driver (e.g. `sudo ubuntu-drivers install` and reboot), then run `nvidia-smi`"
