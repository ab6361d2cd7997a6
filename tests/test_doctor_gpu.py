"""GPU probing: the pure nvidia-smi parser, then the probe against executable nvidia-smi shims on PATH."""

from __future__ import annotations

from pathlib import Path

import pytest
from doctor_fakes import FIXTURES, Rule, gpu_rules, isolated_bin, nvidia_smi_shim

from kohya_prep.doctor.gpu import (
    GpuInfo,
    GpuProbe,
    NvidiaSmiOutputError,
    gpu_checks,
    parse_cuda_version,
    parse_query_csv,
    probe_gpus,
)

H200 = GpuInfo(0, "NVIDIA H200", 143771, 143156, "580.159.04", "13.0", (9, 0))
RTX3090 = GpuInfo(0, "NVIDIA GeForce RTX 3090", 24576, 23869, "535.129.03", "12.2", (8, 6))
RTX2080TI = GpuInfo(1, "NVIDIA GeForce RTX 2080 Ti", 11264, 11008, "535.129.03", "12.2", (7, 5))


def _fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("h200", [H200]),
        ("rtx3060", [GpuInfo(0, "NVIDIA GeForce RTX 3060", 12288, 12004, "580.95.05", "13.0", (8, 6))]),
        ("rtx3090-2080ti", [RTX3090, RTX2080TI]),
        (
            "rtx5090x2",
            [
                GpuInfo(0, "NVIDIA GeForce RTX 5090", 32607, 3638, "610.57.04", "13.3", (12, 0)),
                GpuInfo(1, "NVIDIA GeForce RTX 5090", 32607, 3591, "610.57.04", "13.3", (12, 0)),
            ],
        ),
    ],
    ids=["h200", "rtx3060", "rtx3090+2080ti", "rtx5090x2-driver610"],
)
def test_parse_real_outputs(name: str, expected: list[GpuInfo]) -> None:
    cuda = parse_cuda_version(_fixture(f"{name}-plain.txt"))
    assert parse_query_csv(_fixture(f"{name}-query.txt"), cuda) == expected


def test_derived_facts_for_train_config() -> None:
    assert (H200.vram_gb, H200.bf16) == (143771 / 1024, True)
    assert (RTX2080TI.vram_gb, RTX2080TI.bf16) == (11.0, False)
    assert (H200.to_dict()["compute_capability"], H200.to_dict()["vram_gb"]) == ([9, 0], 140.4)


def test_parse_without_units_or_compute_cap() -> None:
    text = "index, name, memory.total, memory.free, driver_version\n0, NVIDIA GeForce GTX 1080 Ti, 11264, 11000, 470.57.02\n"
    assert parse_query_csv(text) == [GpuInfo(0, "NVIDIA GeForce GTX 1080 Ti", 11264, 11000, "470.57.02", None, None)]


def test_parse_name_with_a_comma() -> None:
    text = "index, name, memory.total [MiB]\n0, Some Vendor, Model X, 8192 MiB\n"
    assert parse_query_csv(text)[0].name == "Some Vendor, Model X"


@pytest.mark.parametrize(
    "text",
    ["", _fixture("h200-plain.txt"), "index, name, memory.total [MiB]\n0, GPU, lots\n"],
    ids=["empty", "plain-table", "bad-number"],
)
def test_parse_rejects_what_is_no_query_csv(text: str) -> None:
    with pytest.raises(NvidiaSmiOutputError):
        parse_query_csv(text)


def test_cuda_version_absent() -> None:
    assert parse_cuda_version("No devices were found") is None


# --- the probe, against shims ----------------------------------------------------------------------


def test_probe_one_gpu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nvidia_smi_shim(tmp_path, monkeypatch, gpu_rules("h200"))
    probe = probe_gpus()
    assert (probe.gpus, probe.error) == ([H200], None)


def test_probe_two_different_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nvidia_smi_shim(tmp_path, monkeypatch, gpu_rules("rtx3090-2080ti"))
    probe = probe_gpus()
    assert probe.gpus == [RTX3090, RTX2080TI]
    rows = gpu_checks(probe)
    assert [(r.name, r.status) for r in rows] == [("gpu", "ok"), ("vram", "ok")]
    assert rows[0].finding.startswith(
        "2 GPUs: #0 NVIDIA GeForce RTX 3090 24.0 GB, compute 8.6, bf16; #1 NVIDIA GeForce RTX 2080 Ti 11.0 GB, compute 7.5 "
    )


def test_probe_legacy_driver_without_compute_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = [Rule("compute_cap", "legacy-driver-field-error.txt", code=2), Rule("--query-gpu", "rtx3060-query.txt")]
    nvidia_smi_shim(tmp_path, monkeypatch, [*rules, Rule("", "rtx3060-plain.txt")])
    assert probe_gpus().gpus[0].name == "NVIDIA GeForce RTX 3060"


@pytest.mark.parametrize(
    ("rules", "error"),
    [
        (
            [Rule("", "driver-failure.txt", code=9)],
            "nvidia-smi cannot communicate with the NVIDIA driver (driver not loaded or mismatched)",
        ),
        (
            [Rule("", "h200-plain.txt")],
            "nvidia-smi printed something unexpected (nvidia-smi's CSV has no index, name, memory.total column)",
        ),
        ([Rule("", None, code=139)], "nvidia-smi failed with exit code 139: no output"),
        ([Rule("", None, sleep=30)], "nvidia-smi did not answer within 0.5 s (the driver may be hung)"),
    ],
    ids=["driver-failure", "garbage", "crash", "hang"],
)
def test_probe_failures_become_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rules: list[Rule], error: str) -> None:
    nvidia_smi_shim(tmp_path, monkeypatch, rules)
    probe = probe_gpus(timeout=0.5)
    assert (probe.gpus, probe.error) == ([], error)
    assert [(r.name, r.status, r.finding) for r in gpu_checks(probe)] == [("gpu", "fail", error)]


def test_probe_without_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    isolated_bin(tmp_path, monkeypatch)
    probe = probe_gpus()
    assert probe.gpus == []
    assert probe.error == "nvidia-smi is not on PATH (no NVIDIA driver installed)"
    assert [r.status for r in gpu_checks(probe)] == ["warn"]


def test_small_and_busy_vram_warn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nvidia_smi_shim(tmp_path, monkeypatch, gpu_rules("rtx5090x2"))
    vram = gpu_checks(probe_gpus())[1]
    assert (vram.status, vram.finding) == ("warn", "another program holds 28.3 GB on GPU #0")


@pytest.mark.parametrize(
    ("total_mib", "status"),
    [(6144, "warn"), (7979, "ok"), (12288, "ok")],
    ids=["6GB", "8GB-as-reported", "12GB"],
)
def test_vram_threshold(total_mib: int, status: str) -> None:
    card = GpuInfo(0, "card", total_mib, total_mib - 200, "580.95.05", "13.0", (8, 6))
    assert gpu_checks(GpuProbe(gpus=[card]))[1].status == status


def test_rocm_is_named_when_there_is_no_nvidia_driver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = isolated_bin(tmp_path, monkeypatch)
    (bin_dir / "rocminfo").write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
    (bin_dir / "rocminfo").chmod(0o755)
    probe = probe_gpus()
    assert probe.vendor_hint == "ROCm"
    assert gpu_checks(probe)[0].finding == (
        "nvidia-smi is not on PATH (no NVIDIA driver installed); found ROCm instead, which sd-scripts supports only partly"
    )


def test_parse_skips_a_driver_warning_before_the_header() -> None:
    text = "WARNING: infoROM is corrupted at gpu 0000:01:00.0\n" + _fixture("h200-query.txt")
    assert parse_query_csv(text, "13.0") == [H200]
