"""The kohya venv probe: a real venv whose site-packages holds a tiny fake torch, run by its own interpreter."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from doctor_fakes import FakeTorch, isolated_bin, make_venv, python_version

from kohya_prep.cli import cli
from kohya_prep.doctor.gpu import GpuInfo
from kohya_prep.doctor.locate import find_install
from kohya_prep.doctor.pyenv import TORCH_CU126, TORCH_CU128, arch_check, python_check, run_probe, supports, venv_checks
from kohya_prep.doctor.requirements import install_floors

RTX5090 = GpuInfo(0, "NVIDIA GeForce RTX 5090", 32607, 32000, "610.57.04", "13.3", (12, 0))
H200 = GpuInfo(0, "NVIDIA H200", 143771, 143156, "580.159.04", "13.0", (9, 0))
PACKAGES = {"accelerate": "1.7.0", "bitsandbytes": "0.45.0"}


def rows(python: Path, gpus: list[GpuInfo]) -> dict[str, tuple[str, str, str]]:
    return {r.name: (r.status, r.finding, r.fix) for r in venv_checks(run_probe(python), gpus)}


def test_healthy_venv(tmp_path: Path) -> None:
    python = make_venv(tmp_path, FakeTorch(), PACKAGES)
    probe = run_probe(python)
    assert probe.error is None
    assert probe.data == {
        "python": [int(p) for p in python_version().split(".")],
        "packages": {"accelerate": "1.7.0", "bitsandbytes": "0.45.0", "xformers": None},
        "torch": "2.7.0+cu128",
        "torch_cuda": "12.8",
        "cuda_available": True,
        "arch_list": ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"],
    }
    assert [(r.name, r.status) for r in venv_checks(probe, [RTX5090])] == [
        ("python", "ok"),
        ("torch", "ok"),
        ("torch-arch", "ok"),
        ("packages", "ok"),
    ]


def test_cpu_only_torch(tmp_path: Path) -> None:
    python = make_venv(tmp_path, FakeTorch(version="2.0.1+cpu", cuda=None, available=False, arch_list=()), PACKAGES)
    assert rows(python, [H200])["torch"] == (
        "fail",
        "torch 2.0.1+cpu is a CPU-only build",
        f"{python} -m pip install --force-reinstall {TORCH_CU128}",
    )


def test_rtx_50_series_needs_a_cuda_128_build(tmp_path: Path) -> None:
    old = FakeTorch(version="2.6.0+cu124", cuda="12.4", arch_list=("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"))
    python = make_venv(tmp_path, old, PACKAGES)
    status, finding, _ = rows(python, [RTX5090])["torch-arch"]
    assert (status, finding) == (
        "fail",
        "NVIDIA GeForce RTX 5090 (sm_120) is not among the architectures torch 2.6.0+cu124 was built for "
        "(sm_50, sm_60, sm_70, sm_75, sm_80, sm_86, sm_90); sm_120 (Blackwell) needs a torch built for CUDA 12.8 or newer; "
        "this one is CUDA 12.4",
    )


def test_torch_that_cannot_see_the_gpu(tmp_path: Path) -> None:
    python = make_venv(tmp_path, FakeTorch(version="2.7.0+cu128", cuda="12.8", available=False), PACKAGES)
    assert rows(python, [H200])["torch"][:2] == (
        "fail",
        "torch 2.7.0+cu128 (CUDA 12.8) cannot use the GPU (driver supports CUDA 13.0)",
    )


def test_no_torch_and_no_accelerate(tmp_path: Path) -> None:
    python = make_venv(tmp_path, None, {})
    found = rows(python, [H200])
    assert found["torch"][:2] == ("fail", "torch does not import in the venv (ModuleNotFoundError: No module named 'torch')")
    assert found["packages"][:2] == ("fail", "accelerate missing, bitsandbytes missing, xformers missing")


def test_h200_as_probed_on_the_real_machine() -> None:
    # torch 2.11.0+cu130 on the project's H200 machine reported this arch list (2026-11-26).
    data = {
        "python": [3, 12, 3],
        "packages": {"accelerate": "1.15.0", "bitsandbytes": None, "xformers": None},
        "torch": "2.11.0+cu130",
        "torch_cuda": "13.0",
        "cuda_available": True,
        "arch_list": ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"],
    }
    from kohya_prep.doctor.pyenv import VenvProbe

    found = {r.name: r for r in venv_checks(VenvProbe(Path("python"), data), [H200])}
    assert {name: r.status for name, r in found.items()} == {
        "python": "ok", "torch": "ok", "torch-arch": "ok", "packages": "warn"}
    assert found["packages"].finding.endswith("8-bit optimizers (AdamW8bit) need bitsandbytes")
    assert found["packages"].fix == "python -m pip install bitsandbytes"


def test_a_hanging_interpreter_times_out(tmp_path: Path) -> None:
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\nsleep 30\n", encoding="utf-8")
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    probe = run_probe(python, timeout=0.5)
    assert (probe.data, probe.error) == (None, f"{python} did not finish the probe within 0.5 s")


def test_a_broken_interpreter(tmp_path: Path) -> None:
    python = tmp_path / "python"
    python.write_text(
        "#!/bin/sh\necho 'error while loading shared libraries: libpython3.10.so' >&2\nexit 127\n", encoding="utf-8"
    )
    python.chmod(python.stat().st_mode | stat.S_IXUSR)
    assert (
        run_probe(python).error == f"{python} failed the probe (exit 127): error while loading shared libraries: libpython3.10.so"
    )


@pytest.mark.parametrize(
    ("version", "status"),
    [([3, 10, 6], "fail"), ([3, 10, 9], "ok"), ([3, 11, 9], "ok"), ([3, 12, 11], "ok"), ([3, 13, 0], "fail")],
    ids=["3.10.6", "3.10.9", "3.11", "3.12", "3.13"],
)
def test_python_range(version: list[int], status: str) -> None:
    assert python_check({"python": version}).status == status


@pytest.mark.parametrize(
    ("arch_list", "capability", "expected"),
    [
        (["sm_80"], (8, 6), True),
        (["sm_86"], (8, 0), False),
        (["sm_80", "sm_90"], (12, 0), False),
        (["sm_90", "compute_90"], (12, 0), True),
        (["sm_90a"], (9, 0), True),
    ],
    ids=["same-major-newer-minor", "older-minor", "blackwell-on-hopper-build", "ptx-jit", "arch-specific"],
)
def test_supports(arch_list: list[str], capability: tuple[int, int], expected: bool) -> None:
    assert supports(arch_list, capability) is expected


def test_a_torch_folder_in_the_current_folder_does_not_shadow_the_venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    python = make_venv(tmp_path / "kohya_ss", FakeTorch(), PACKAGES)
    (tmp_path / "work" / "torch").mkdir(parents=True)
    (tmp_path / "work" / "torch" / "__init__.py").write_text("raise ImportError('shadowed')\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "work")
    assert run_probe(python).data["torch"] == "2.7.0+cu128"  # type: ignore[index]


# --- version floors from the install's own files, venvs elsewhere, broken venvs ----------------------

# Lines as kohya_ss writes them (bmaltais/kohya_ss requirements.txt, requirements_linux.txt, pyproject.toml).
KOHYA_FILES = {
    "requirements.txt": "accelerate>=1.7.0\ntransformers==4.54.1\nsafetensors==0.4.5\n# for kohya_ss sd-scripts library\n"
                        "-e ./sd-scripts\n",
    "requirements_linux.txt": "--extra-index-url https://download.pytorch.org/whl/cu128\n\ntorch==2.7.0+cu128\n"
                              "bitsandbytes>=0.45.0\n\n-r requirements.txt\n",
    "pyproject.toml": '[project]\nname = "kohya-ss"\ndependencies = [\n    "accelerate>=1.7.0",\n    "torch>=2.5.0",\n'
                      '    "triton>=3.1.0; sys_platform == \'linux\'",\n]\n',
}


def _kohya_ss(root: Path, files: dict[str, str] = KOHYA_FILES) -> Path:
    root.mkdir(parents=True)
    (root / "kohya_gui.py").write_text("# GUI\n", encoding="utf-8")
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


def _doctor(*args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["doctor", "--json", *args])
    assert result.stdout, result.output
    return result.exit_code, json.loads(result.stdout)


def _rows(report: dict) -> dict[str, dict]:
    return {c["name"]: c for c in report["checks"]}


def test_floors_come_from_the_installs_requirements(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolated_bin(tmp_path, monkeypatch)
    root = _kohya_ss(tmp_path / "kohya_ss")
    make_venv(root, FakeTorch(version="2.4.1+cu124", cuda="12.4"), {"accelerate": "1.6.0", "transformers": "4.54.1",
                                                                      "safetensors": "0.4.5", "bitsandbytes": "0.45.0"})
    _, report = _doctor("--kohya-dir", str(root))
    rows = _rows(report)
    assert rows["packages"]["status"] == "warn"
    assert rows["packages"]["finding"].endswith("; accelerate 1.6.0 is older than the 1.7.0 requirements.txt asks for")
    assert rows["packages"]["fix"] == f"{root / 'venv' / 'bin' / 'python'} -m pip install 'accelerate>=1.7.0'"
    # torch: the pip way pins 2.7.0, the uv way asks >=2.5.0; either install is kohya_ss's, so 2.5.0 counts.
    assert rows["torch"]["finding"] == "torch 2.4.1+cu124 is older than the 2.5.0 pyproject.toml asks for"


def test_floors_read_as_the_files_say(tmp_path: Path) -> None:
    root = _kohya_ss(tmp_path / "kohya_ss")
    floors = install_floors(root, True, "linux")
    assert {k: (f.version, f.source) for k, f in floors.items()} == {
        "accelerate": ("1.7.0", "requirements.txt"), "transformers": ("4.54.1", "requirements.txt"),
        "safetensors": ("0.4.5", "requirements.txt"), "torch": ("2.5.0", "pyproject.toml"),
        "bitsandbytes": ("0.45.0", "requirements_linux.txt"), "triton": ("3.1.0", "pyproject.toml")}
    assert "triton" not in install_floors(root, True, "windows")  # its marker says Linux only
    bare = tmp_path / "sd-scripts"
    bare.mkdir()
    (bare / "requirements.txt").write_text("accelerate==1.6.0\nbitsandbytes\n-e .\n", encoding="utf-8")
    assert {k: f.spec for k, f in install_floors(bare, False, "linux").items()} == {"accelerate": "accelerate==1.6.0"}
    assert install_floors(tmp_path / "nothing", True, "linux") == {}


def test_a_venv_elsewhere_by_option_and_by_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolated_bin(tmp_path, monkeypatch)
    root = _kohya_ss(tmp_path / "kohya_ss", {})
    python = make_venv(tmp_path / "envs" / "kohya", FakeTorch(), PACKAGES)
    venv = python.parent.parent
    _, report = _doctor("--kohya-dir", str(root), "--venv", str(venv))
    assert (report["install"]["python"], report["install"]["python_from"]) == (str(python), "--venv")
    assert _rows(report)["torch"]["status"] == "ok"
    monkeypatch.setenv("KOHYA_VENV", str(venv))
    _, report = _doctor("--kohya-dir", str(root))
    assert (report["install"]["python"], report["install"]["python_from"]) == (str(python), "$KOHYA_VENV")
    assert find_install(explicit=root).python == python  # type: ignore[union-attr]  # train-config gets it too


def test_a_venv_without_an_install_is_still_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolated_bin(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    python = make_venv(tmp_path / "envs", FakeTorch(), PACKAGES)
    _, report = _doctor("--venv", str(python))
    assert report["install"] is None
    assert _rows(report)["torch"]["status"] == "ok"


def test_a_venv_option_without_python_is_an_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["doctor", "--venv", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: --venv {tmp_path} holds no Python interpreter (looked for bin/python, bin/python3, Scripts/python.exe, "
        "python.exe); pass the venv's or conda env's folder, or its python.\n"
    )


def test_a_broken_venv_interpreter_is_its_own_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolated_bin(tmp_path, monkeypatch)
    root = _kohya_ss(tmp_path / "kohya_ss", {})
    (root / "venv" / "bin").mkdir(parents=True)
    (root / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.10.12\n", encoding="utf-8")
    (root / "venv" / "bin" / "python").symlink_to("/usr/bin/python3.10-removed-by-an-upgrade")
    _, report = _doctor("--kohya-dir", str(root))
    python = root / "venv" / "bin" / "python"
    assert _rows(report)["python"] == {
        "name": "python",
        "status": "fail",
        "finding": f"{python} is a broken link to /usr/bin/python3.10-removed-by-an-upgrade: that Python is gone "
                   "(removed or upgraded); the venv was made with Python 3.10.12",
        "fix": f"rebuild the venv: `mv {root / 'venv'} {root / 'venv'}.broken`, then re-run kohya_ss's setup "
               "(./setup.sh or setup.bat)",
    }


PASCAL = GpuInfo(0, "NVIDIA GeForce GTX 1080 Ti", 11264, 11000, "580.95.05", "13.0", (6, 1))


def test_a_card_older_than_the_wheels_gets_the_cu126_ones() -> None:
    data = {"torch": "2.8.0+cu128", "torch_cuda": "12.8", "cuda_available": True,
            "arch_list": ["sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]}
    row = arch_check(data, [PASCAL], Path("python"))
    assert row.status == "fail" and row.fix == f"python -m pip install --force-reinstall {TORCH_CU126}"


def test_without_an_arch_list_the_cuda_build_still_rules_out_newer_cards() -> None:
    data = {"torch": "2.5.1+cu124", "torch_cuda": "12.4", "cuda_available": False, "arch_list": []}
    row = arch_check(data, [RTX5090], Path("python"))
    assert (row.status, row.finding) == (
        "fail", "NVIDIA GeForce RTX 5090: sm_120 (Blackwell) needs a torch built for CUDA 12.8 or newer; this one is CUDA 12.4")


# --- the venv doctor finds is the one train.sh runs; without one, train.sh refuses to start -----------


def _built_spec(tmp_path: Path) -> Path:
    from helpers import write_spec

    spec = write_spec(tmp_path, [{"name": "face", "box": [0, 0, 200, 200], "caption": "face"}])
    assert CliRunner().invoke(cli, ["dataset", "build", str(spec)]).exit_code == 0
    return spec


def _kohya_without_venv(root: Path) -> Path:
    (root / "sd-scripts" / "library").mkdir(parents=True)
    (root / "kohya_gui.py").write_text("# GUI\n", encoding="utf-8")
    (root / "sd-scripts" / "train_network.py").write_text("# trainer\n", encoding="utf-8")
    return root


@pytest.mark.skipif(sys.platform == "win32", reason="runs train.sh with bash")
def test_without_a_known_venv_train_config_warns_and_train_sh_stops(tmp_path: Path) -> None:
    spec = _built_spec(tmp_path)
    kohya = _kohya_without_venv(tmp_path / "kohya_ss")
    result = CliRunner().invoke(cli, ["train-config", str(spec), "--family", "sd15", "--vram", "8", "--kohya-dir",
                                      str(kohya), "--json"])
    assert result.exit_code == 0, result.output
    warnings = {w["code"]: w["message"] for w in json.loads(result.stdout)["warnings"]}
    assert warnings["venv-missing"].startswith("the kohya venv's python was not found, so train.sh and train.bat stop")
    config = Path(json.loads(result.stdout)["out_dir"])
    assert "PYTHON=''\n" in (config / "train.sh").read_text(encoding="utf-8")
    run = subprocess.run(["bash", str(config / "train.sh")], capture_output=True, text=True, check=False)
    assert (run.returncode, run.stdout) == (1, "")
    assert run.stderr.startswith("train.sh: the kohya venv's python is unknown: set PYTHON in this file to it")


@pytest.mark.skipif(sys.platform == "win32", reason="runs train.sh with bash")
def test_kohya_venv_reaches_train_sh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = _built_spec(tmp_path)
    kohya = _kohya_without_venv(tmp_path / "kohya_ss")
    python = tmp_path / "conda" / "kohya" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text('#!/bin/sh\necho "launched $1 $2"\n', encoding="utf-8")
    python.chmod(0o755)
    monkeypatch.setenv("KOHYA_VENV", str(python.parent.parent))
    result = CliRunner().invoke(cli, ["train-config", str(spec), "--family", "sd15", "--vram", "8", "--kohya-dir",
                                      str(kohya), "--json"])
    assert "venv-missing" not in result.stdout
    config = Path(json.loads(result.stdout)["out_dir"])
    run = subprocess.run(["bash", str(config / "train.sh")], capture_output=True, text=True, check=True)
    assert run.stdout == "launched -m accelerate.commands.launch\n"


def test_train_bat_without_a_known_venv_stops_too() -> None:
    from kohya_prep.trainconfig.files import Launch, _bat_python_guard

    guard = _bat_python_guard(Launch("C:\\data\\config", "C:\\kohya_ss\\sd-scripts", None, 1, "fp16"))
    assert guard[0] == 'if "%PYTHON%"=="" (' and guard[-2:] == ["  exit /b 1", ")"]
    assert "(" not in guard[1] and ")" not in guard[1]  # a parenthesis would end cmd's block early
    assert _bat_python_guard(Launch("C:\\c", "C:\\sd", "C:\\venv\\Scripts\\python.exe", 1, "fp16")) == []
