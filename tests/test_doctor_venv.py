"""The kohya venv probe: a real venv whose site-packages holds a tiny fake torch, run by its own interpreter."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from doctor_fakes import FakeTorch, make_venv, python_version

from kohya_prep.doctor.gpu import GpuInfo
from kohya_prep.doctor.pyenv import TORCH_CU128, python_check, run_probe, supports, venv_checks

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
