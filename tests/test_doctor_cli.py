"""`kohya-prep doctor` from the outside: locating the install, accelerate --fix, exit codes, table and JSON."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from doctor_fakes import FakeTorch, Rule, clone, doctor, gpu_rules, isolated_bin, make_upstream, make_venv, nvidia_smi_shim

from kohya_prep.cli import cli
from kohya_prep.doctor.accelerate import config_path, default_config, read_settings
from kohya_prep.doctor.checks import CheckResult
from kohya_prep.doctor.gpu import GpuInfo
from kohya_prep.doctor.locate import find_install
from kohya_prep.doctor.report import render_text
from kohya_prep.doctor.run import DoctorReport
from kohya_prep.doctor.system import disk_check, path_check

H200 = GpuInfo(0, "NVIDIA H200", 143771, 143156, "580.159.04", "13.0", (9, 0))
RTX2080TI = GpuInfo(1, "NVIDIA GeForce RTX 2080 Ti", 11264, 11008, "535.129.03", "12.2", (7, 5))


def statuses(report: dict) -> dict[str, str]:
    return {c["name"]: c["status"] for c in report["checks"]}


@pytest.fixture
def healthy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A recursive kohya_ss clone with a working fake venv, on an H200 (as nvidia-smi tells it)."""
    nvidia_smi_shim(tmp_path, monkeypatch, gpu_rules("h200"))
    checkout = clone(make_upstream(tmp_path, monkeypatch), tmp_path / "kohya_ss", recursive=True)
    make_venv(checkout, FakeTorch(), {"accelerate": "1.7.0", "bitsandbytes": "0.45.0"})
    return checkout


def test_healthy_install_after_fix_exits_zero(healthy: Path) -> None:
    code, report = doctor("--kohya-dir", str(healthy), "--fix")
    assert code == 0, report
    expected = ["install", "sd-scripts", "gpu", "vram", "python", "torch", "torch-arch", "packages", "accelerate"]
    assert list(statuses(report))[: len(expected)] == expected
    assert {statuses(report)[name] for name in expected} == {"ok"}
    assert report["gpus"] == [
        {
            "index": 0,
            "name": "NVIDIA H200",
            "memory_total_mib": 143771,
            "memory_free_mib": 143156,
            "driver_version": "580.159.04",
            "cuda_version": "13.0",
            "compute_capability": [9, 0],
            "vram_gb": 140.4,
            "bf16": True,
            "capability_source": "nvidia-smi",
            "unified_memory": False,
            "mig_mode": False,
            "mig_instances": [],
        }
    ]
    assert report["install"] == {
        "root": str(healthy),
        "kind": "kohya_ss",
        "sd_scripts_dir": str(healthy / "sd-scripts"),
        "python": str(healthy / "venv" / "bin" / "python"),
        "python_from": "install",
    }


def test_accelerate_fix_writes_a_default_once_and_never_overwrites(healthy: Path) -> None:
    path = config_path()
    code, report = doctor("--kohya-dir", str(healthy))
    assert (code, statuses(report)["accelerate"]) == (0, "warn")
    _, report = doctor("--kohya-dir", str(healthy), "--fix")
    assert f"wrote a single-machine accelerate config to {path}" in report["fixed"]
    settings = read_settings(path.read_text(encoding="utf-8"))
    assert (settings["mixed_precision"], settings["num_processes"], settings["distributed_type"]) == ("bf16", "1", "NO")
    path.write_text("mixed_precision: fp16\nnum_processes: 1\n", encoding="utf-8")
    _, report = doctor("--kohya-dir", str(healthy), "--fix")
    assert path.read_text(encoding="utf-8") == "mixed_precision: fp16\nnum_processes: 1\n"
    assert report["fixed"] == []


def test_default_config_for_two_gpus_without_bf16() -> None:
    settings = read_settings(default_config([H200, RTX2080TI]))
    assert (settings["mixed_precision"], settings["num_processes"], settings["distributed_type"]) == ("fp16", "2", "MULTI_GPU")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"HF_HOME": "/hf", "XDG_CACHE_HOME": "/xdg"}, "/hf/accelerate/default_config.yaml"),
        ({"XDG_CACHE_HOME": "/xdg"}, "/xdg/huggingface/accelerate/default_config.yaml"),
        ({}, "~/.cache/huggingface/accelerate/default_config.yaml"),
    ],
    ids=["hf-home", "xdg", "default"],
)
def test_accelerate_config_location(env: dict[str, str], expected: str) -> None:
    assert config_path(env) == Path(expected).expanduser()


def test_hung_nvidia_smi_is_a_failed_row_not_a_hang(healthy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nvidia_smi_shim(tmp_path, monkeypatch, [Rule("", None, sleep=30)])
    code, report = doctor("--kohya-dir", str(healthy), "--gpu-timeout", "0.5")
    assert code == 1
    assert report["checks"][2] == {
        "name": "gpu",
        "status": "fail",
        "finding": "nvidia-smi did not answer within 0.5 s (the driver may be hung)",
        "fix": "install or repair the NVIDIA driver (e.g. `sudo ubuntu-drivers install` and reboot), then run `nvidia-smi`",
    }
    assert report["gpus"] == []


def test_nothing_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolated_bin(tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    code, report = doctor()
    assert code == 1
    assert report["install"] is None
    assert report["checks"][0] == {
        "name": "install",
        "status": "fail",
        "finding": "no kohya_ss or sd-scripts install found in the usual places",
        "fix": "git clone --recursive https://github.com/bmaltais/kohya_ss.git ~/kohya_ss, or pass --kohya-dir PATH",
    }
    assert statuses(report)["gpu"] == "warn"


def test_kohya_dir_that_does_not_exist(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["doctor", "--kohya-dir", str(tmp_path / "nope")])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: --kohya-dir {tmp_path / 'nope'} does not exist; pass the folder of your kohya_ss or sd-scripts checkout.\n"
    )


def test_kohya_dir_that_is_no_install(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["doctor", "--kohya-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: --kohya-dir {tmp_path} is neither a kohya_ss checkout (no kohya_gui.py)")


def _gui(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "kohya_gui.py").write_text("# GUI\n", encoding="utf-8")
    return path


def test_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = Path.home()
    in_tools = _gui(home / "tools" / "kohya_ss")
    assert find_install(cwd=tmp_path).root == in_tools  # type: ignore[union-attr]
    in_home = _gui(home / "kohya_ss")
    assert find_install(cwd=tmp_path).root == in_home  # type: ignore[union-attr]
    from_env = _gui(tmp_path / "elsewhere")
    monkeypatch.setenv("KOHYA_SS_DIR", str(from_env))
    assert find_install(cwd=tmp_path).root == from_env  # type: ignore[union-attr]
    assert find_install(explicit=in_tools).root == in_tools  # type: ignore[union-attr]


def test_found_from_a_folder_inside_the_install(tmp_path: Path) -> None:
    root = _gui(tmp_path / "kohya_ss")
    (root / "outputs" / "run1").mkdir(parents=True)
    (root / ".venv" / "bin").mkdir(parents=True)
    (root / ".venv" / "bin" / "python").write_text("", encoding="utf-8")
    install = find_install(cwd=root / "outputs" / "run1")
    assert install is not None
    assert (install.root, install.kind, install.python) == (root, "kohya_ss", root / ".venv" / "bin" / "python")


def test_space_in_the_install_path_fails() -> None:
    result = path_check(Path("/home/me/AI tools/kohya_ss"))
    assert (result.status, result.finding) == (
        "fail",
        "the install path /home/me/AI tools/kohya_ss contains a space, which kohya_ss refuses",
    )


@pytest.mark.parametrize(("free_gb", "status"), [(1, "fail"), (5, "warn"), (50, "ok")], ids=["1GB", "5GB", "50GB"])
def test_disk_thresholds(free_gb: int, status: str) -> None:
    assert disk_check(Path("/data"), free_gb * 1024**3).status == status


def test_table_rendering() -> None:
    report = DoctorReport(
        checks=[
            CheckResult("install", "ok", "kohya_ss GUI checkout at /home/me/kohya_ss"),
            CheckResult("sd-scripts", "fail", "submodule not initialized", "kohya-prep doctor --fix"),
            CheckResult("accelerate", "warn", "no accelerate config", "accelerate config"),
        ],
        gpus=[],
        install=None,
        fixed=["wrote a single-machine accelerate config to /x.yaml"],
    )
    assert render_text(report) == (
        "  ok    install     kohya_ss GUI checkout at /home/me/kohya_ss\n"
        "  FAIL  sd-scripts  submodule not initialized\n"
        "                    fix: kohya-prep doctor --fix\n"
        "  WARN  accelerate  no accelerate config\n"
        "                    fix: accelerate config\n"
        "\n"
        "fixed: wrote a single-machine accelerate config to /x.yaml\n"
        "1 failed, 1 warning(s), 1 ok"
    )
    assert report.exit_code == 1


def test_accelerate_fix_writes_nothing_without_a_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolated_bin(tmp_path, monkeypatch)
    _, report = doctor("--kohya-dir", str(_gui(tmp_path / "kohya_ss")), "--fix")
    assert not config_path().exists()
    assert statuses(report)["accelerate"] == "warn"
    assert report["fixed"] == []


def test_the_install_containing_the_current_folder_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = Path.home()
    _gui(home / "kohya_ss")
    in_tools = _gui(home / "tools" / "kohya_ss")
    (in_tools / "outputs").mkdir()
    monkeypatch.setenv("KOHYA_SS_DIR", str(home / "kohya_ss"))
    assert find_install(cwd=in_tools / "outputs").root == in_tools  # type: ignore[union-attr]
    assert find_install(cwd=tmp_path).root == home / "kohya_ss"  # type: ignore[union-attr]


def test_inside_the_submodule_the_install_is_kohya_ss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checkout = clone(make_upstream(tmp_path, monkeypatch), tmp_path / "kohya_ss", recursive=True)
    install = find_install(cwd=checkout / "sd-scripts" / "library")
    assert install is not None
    assert (install.root, install.kind) == (checkout, "kohya_ss")
