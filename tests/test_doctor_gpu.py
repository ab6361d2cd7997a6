"""GPU probing: the pure nvidia-smi parser, then the probe against executable nvidia-smi shims on PATH."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from doctor_fakes import FIXTURES, Rule, fake_driver, gpu_rules, isolated_bin, load_cases, nvidia_smi_shim

from kohya_prep.doctor.gpu import (
    NEW_DRIVER_FIX,
    GpuInfo,
    GpuProbe,
    NvidiaSmiOutputError,
    gpu_checks,
    parse_cuda_version,
    parse_query_csv,
    probe_gpus,
    training_processes,
)
from kohya_prep.doctor.host import driver_fix
from kohya_prep.doctor.nvsmi import MigInstance, parse_mig_list, parse_mig_table, with_mig_instances

H200 = GpuInfo(0, "NVIDIA H200", 143771, 143156, "580.159.04", "13.0", (9, 0))
MIB = 1024 * 1024


def _fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def _smi(shim: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(shim), *args], capture_output=True, text=True, check=False)


# --- the fake driver answers as the real ones did ---------------------------------------------------


def test_the_fake_driver_answers_the_pasted_queries_byte_for_byte(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    h200 = fake_driver(tmp_path / "a", monkeypatch, "h200")
    asked = _smi(h200, "--query-gpu=index,name,memory.total,memory.free,driver_version,compute_cap", "--format=csv")
    assert asked.stdout == _fixture("h200-query.txt")
    gb10 = fake_driver(tmp_path / "b", monkeypatch, "gb10")
    asked = _smi(gb10, "--query-gpu=memory.free,memory.total,memory.used", "--format=csv")
    assert asked.stdout == _fixture("gb10-query-memory.txt")
    k80 = fake_driver(tmp_path / "c", monkeypatch, "k80-410")
    refused = _smi(k80, "--query-gpu=index,name,compute_cap", "--format=csv")
    assert (refused.returncode, refused.stdout) == (2, _fixture("legacy-driver-field-error.txt"))


@pytest.mark.parametrize("case", sorted(load_cases()))
def test_each_case_says_what_its_paste_says(case: str) -> None:
    facts = load_cases()[case]
    pasted = "".join(_fixture(facts[key]) for key in ("plain", "list") if key in facts)
    used_from = _fixture(facts["used_from"]) if "used_from" in facts else ""
    for gpu in facts["gpu"]:
        assert gpu["name"].removesuffix(" ...").split(" Laptop")[0] in pasted + used_from, gpu["name"]
        assert gpu["driver"] in pasted, gpu["driver"]
        if used_from and isinstance(gpu["memory_total"], int):
            used, total = gpu["memory_total"] - gpu["memory_free"], gpu["memory_total"]
            assert re.search(rf"\b{used}(MiB| /)\s*/?\s*{total}\s?(MiB|MB)", used_from), (case, used, total)


# --- every case read right: count, names, memory, compute capability and where it came from ----------


@dataclass(frozen=True)
class Expected:
    names: list[str]
    memory_mib: int | None  # None: the system's RAM (unified memory)
    capability: tuple[int, int] | None
    source: str
    cuda: str | None
    rows: dict[str, str]
    vram_gb: float | None = None
    refused: tuple[str, ...] = ()


EXPECTED = {
    "h200": Expected(["NVIDIA H200"], 143771, (9, 0), "nvidia-smi", "13.0", {"gpu": "ok", "vram": "ok"}, 140.4),
    "rtx3060": Expected(["NVIDIA GeForce RTX 3060"], 12288, (8, 6), "nvidia-smi", "13.0", {"gpu": "ok", "vram": "ok"}),
    "rtx5090x2": Expected(["NVIDIA GeForce RTX 5090"] * 2, 32607, (12, 0), "nvidia-smi", "13.3", {"gpu": "ok", "vram": "warn"}),
    "k80-410": Expected(["Tesla K80"], 11441, (3, 7), "card name", "10.0", {"gpu": "ok", "gpu-arch": "fail", "vram": "ok"},
                        refused=("compute_cap", "mig.mode.current")),
    "gb10": Expected(["NVIDIA GB10"], None, (12, 1), "nvidia-smi", "13.0", {"gpu": "ok", "vram": "ok"}),
    "a100-mig": Expected(["NVIDIA A100-SXM4-80GB"], 81920, (8, 0), "nvidia-smi", "12.2", {"gpu": "ok", "vram": "ok"}, 10.0),
    "wsl-rtx3060-laptop": Expected(["NVIDIA GeForce RTX 3060 Laptop GPU"], 6144, (8, 6), "nvidia-smi", None,
                                   {"gpu": "ok", "vram": "warn"}, 6.0),
    "wsl-gtx1650": Expected(["NVIDIA GeForce GTX 1650 ..."], 4096, (7, 5), "nvidia-smi", "12.2", {"gpu": "ok", "vram": "warn"}),
    "p100x4": Expected(["Tesla P100-PCIE-16GB"] * 4, 16384, (6, 0), "nvidia-smi", "11.7",
                       {"gpu": "ok", "gpu-arch": "warn", "vram": "ok"}),
    "a10g": Expected(["NVIDIA A10G"], 23028, (8, 6), "nvidia-smi", "12.2", {"gpu": "ok", "vram": "warn"}),
}


def test_every_case_has_an_expectation() -> None:
    assert sorted(EXPECTED) == sorted(load_cases())


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_doctor_reads_every_case_right(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    fake_driver(tmp_path, monkeypatch, case)
    want = EXPECTED[case]
    probe = probe_gpus()
    assert probe.error is None
    assert [g.name for g in probe.gpus] == want.names
    system_mib = psutil.virtual_memory().total // MIB
    assert {g.memory_total_mib for g in probe.gpus} == {want.memory_mib or system_mib}
    assert {(g.compute_capability, g.capability_source, g.cuda_version) for g in probe.gpus} == {
        (want.capability, want.source, want.cuda)}
    assert probe.refused == want.refused
    assert {r.name: r.status for r in gpu_checks(probe)} == want.rows
    if want.vram_gb is not None:
        assert round(min(g.vram_gb for g in probe.gpus), 1) == want.vram_gb


def test_old_driver_derives_the_capability_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_driver(tmp_path, monkeypatch, "k80-410")
    rows = {r.name: r for r in gpu_checks(probe_gpus())}
    assert rows["gpu"].finding == (
        "1 GPU: #0 Tesla K80 11.2 GB, compute 3.7 (from the card name: driver 410.104 has no compute_cap field) "
        "(driver 410.104, CUDA 10.0)"
    )
    assert rows["gpu-arch"].finding == (
        "GPU #0 Tesla K80: no torch 2.x wheel has kernels for sm_37 (Kepler): current torch cannot train on this card"
    )


def test_a_bf16_card_on_a_driver_without_compute_cap_keeps_bf16() -> None:
    # What a pre-R510 driver answers once compute_cap is dropped from the query: an A10G is still Ampere.
    text = "index, name, memory.total [MiB], memory.free [MiB], driver_version, mig.mode.current\n" \
           "0, NVIDIA A10G, 23028 MiB, 22700 MiB, 470.57.02, [N/A]\n"
    (gpu,) = parse_query_csv(text)
    assert (gpu.compute_capability, gpu.capability_source, gpu.bf16, gpu.mig_mode) == ((8, 6), "card name", True, False)


def test_an_unknown_card_without_compute_cap_is_a_warning() -> None:
    (gpu,) = parse_query_csv("index, name, memory.total [MiB]\n0, NVIDIA Mystery Board, 8192 MiB\n")
    (row, *_rest) = gpu_checks(GpuProbe(gpus=[gpu], refused=("compute_cap",)))
    assert (row.status, row.fix) == ("warn", NEW_DRIVER_FIX)
    assert "compute unknown (driver  has no compute_cap field and the card is not in NVIDIA's table)" in row.finding


def test_unified_memory_is_the_systems_ram_and_said_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_driver(tmp_path, monkeypatch, "gb10")
    probe = probe_gpus()
    (gpu,) = probe.gpus
    assert gpu.unified_memory and gpu.bf16
    rows = {r.name: r for r in gpu_checks(probe)}
    assert "unified (system RAM)" in rows["gpu"].finding
    assert "(unified memory: nvidia-smi reports none of its own ([N/A]), so this is the system's RAM" in rows["vram"].finding


def test_mig_instances_are_what_training_is_fitted_to(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_driver(tmp_path, monkeypatch, "a100-mig")
    probe = probe_gpus()
    (gpu,) = probe.gpus
    assert (gpu.mig_mode, len(gpu.mig_instances), gpu.usable_mib, training_processes(probe.gpus)) == (True, 7, 10240, 1)
    assert {i.to_dict()["profile"] for i in gpu.mig_instances} == {"1g.10gb"}
    rows = {r.name: r for r in gpu_checks(probe)}
    assert rows["gpu"].finding == (
        "1 GPU: #0 NVIDIA A100-SXM4-80GB 80.0 GB, compute 8.0, bf16, MIG on (7 instances: 7x 1g.10gb) (driver 535.216.01, "
        "CUDA 12.2)"
    )
    assert rows["vram"].finding == (
        "10.0 GB on the smallest GPU (MIG instance 1g.10gb of GPU #0, nominal size from its profile name: a CUDA process "
        "runs on one instance, so training is fitted to it, not to the card's 80 GB)"
    )


def test_the_a800_with_mig_on_is_not_another_program() -> None:
    # The facts of a800-mig-plain.txt (36537 of 81920 MiB in use, MIG on); one instance assumed, its -L was not pasted.
    assert "Enabled" in _fixture("a800-mig-plain.txt")
    a800 = GpuInfo(0, "NVIDIA A800-SXM4-80GB", 81920, 81920 - 36537, "535.86.10", "12.2", (8, 0), mig_mode=True,
                   mig_instances=(MigInstance("3g.40gb", 40960, False),))
    vram = gpu_checks(GpuProbe(gpus=[a800]))[-1]
    assert vram.status == "ok" and "another program" not in vram.finding and "MIG instance 3g.40gb" in vram.finding


def test_mig_on_without_an_instance_fails_with_the_commands() -> None:
    card = GpuInfo(0, "NVIDIA A100 80GB PCIe", 81920, 81920, "530.30.02", "12.1", (8, 0), mig_mode=True)
    vram = gpu_checks(GpuProbe(gpus=[card]))[-1]
    assert (vram.status, vram.finding) == ("fail", "GPU #0 is in MIG mode but has no MIG instance, so CUDA sees no device on it")
    assert "sudo nvidia-smi mig -i 0 -lgip" in vram.fix and "sudo nvidia-smi -i 0 -mig 0" in vram.fix


def test_mig_parsers_on_real_pastes() -> None:
    assert parse_mig_table(_fixture("a100-mig-devices-plain.txt")) == {1: [19968, 19968, 19968]}
    assert parse_mig_list(_fixture("a100-mig-L.txt")) == {0: ["1g.10gb"] * 7}
    assert parse_mig_list(_fixture("a100x4-mig-L.txt")) == {0: ["1g.20gb"] * 4, 1: [], 2: [], 3: []}
    assert parse_mig_list(_fixture("a100-pcie-mig-L.txt")) == {0: ["3g.40gb"] * 2}
    card = GpuInfo(1, "NVIDIA A100-SXM4-80GB", 81920, 57715, "510.47.03", "11.6", (8, 0), mig_mode=True)
    exact = with_mig_instances(card, parse_mig_table(_fixture("a100-mig-devices-plain.txt")), {})
    assert [(i.memory_mib, i.exact) for i in exact.mig_instances] == [(19968, True)] * 3


@pytest.mark.parametrize(
    ("plain", "cuda"),
    [("h200-plain.txt", "13.0"), ("k80-410-plain.txt", "10.0"), ("gb10-plain.txt", "13.0"), ("a800-mig-plain.txt", "12.2"),
     ("wsl-rtx3060-laptop-plain.txt", None), ("wsl-gtx1650-plain.txt", "12.2"), ("p100x4-plain.txt", "11.7"),
     ("rtx5090x2-plain.txt", "13.3"), ("a10g-plain.txt", "12.2")],
    ids=lambda v: str(v),
)
def test_cuda_version_from_every_table(plain: str, cuda: str | None) -> None:
    assert parse_cuda_version(_fixture(plain)) == cuda  # WSL's "CUDA Version: ERR!" is no version


def test_derived_facts_for_train_config() -> None:
    assert (H200.vram_gb, H200.bf16) == (143771 / 1024, True)
    assert (H200.to_dict()["compute_capability"], H200.to_dict()["vram_gb"]) == ([9, 0], 140.4)


def test_parse_without_units_or_compute_cap() -> None:
    text = "index, name, memory.total, memory.free, driver_version\n0, NVIDIA GeForce GTX 1080 Ti, 11264, 11000, 470.57.02\n"
    assert parse_query_csv(text) == [
        GpuInfo(0, "NVIDIA GeForce GTX 1080 Ti", 11264, 11000, "470.57.02", None, (6, 1), capability_source="card name")
    ]


def test_a_gpu_in_trouble_is_said_in_one_line() -> None:
    with pytest.raises(NvidiaSmiOutputError) as caught:
        parse_query_csv("index, name, memory.total [MiB]\n0, NVIDIA A100, [GPU requires reset]\n")
    assert "nvidia-smi reports the memory as [GPU requires reset]" in str(caught.value)


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


@pytest.mark.parametrize(
    ("host", "says", "never"),
    [("wsl", "on Windows (WSL2 uses the Windows driver: never install a Linux NVIDIA driver inside WSL)", "ubuntu-drivers"),
     ("windows", "https://www.nvidia.com/Download/index.aspx", "ubuntu-drivers"),
     ("linux", "sudo ubuntu-drivers install", "Windows")],
    ids=["wsl", "windows", "linux"],
)
def test_the_driver_fix_is_the_one_that_works_there(host: str, says: str, never: str) -> None:
    probe = GpuProbe(error="nvidia-smi cannot communicate with the NVIDIA driver (driver not loaded or mismatched)")
    (row,) = gpu_checks(probe, host)  # type: ignore[arg-type]
    assert (row.status, row.fix) == ("fail", driver_fix(host))  # type: ignore[arg-type]
    assert says in row.fix and never not in row.fix


def test_wsl_is_recognised_from_its_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from kohya_prep.cli import cli

    nvidia_smi_shim(tmp_path, monkeypatch, [Rule("", "driver-failure.txt", code=9)])
    monkeypatch.setenv("WSL_DISTRO_NAME", "Ubuntu-22.04")  # what WSL sets in every shell
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["doctor", "--json"])
    gpu = next(c for c in json.loads(result.stdout)["checks"] if c["name"] == "gpu")
    assert gpu["fix"] == driver_fix("wsl")


@pytest.mark.parametrize(
    ("case", "note"),
    [("gb10", "unified memory: fitted to the system's"), ("a100-mig", "MIG mode on: fitted to its smallest MIG instance "
      "(1g.10gb, 10.0 GB), not the card's 80 GB"), ("k80-410", "compute capability 3.7 from the card name")],
    ids=["unified", "mig", "old-driver"],
)
def test_train_config_fits_what_doctor_found_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str,
                                                          note: str) -> None:
    from kohya_prep.trainconfig.target_gpu import probed_gpu

    fake_driver(tmp_path, monkeypatch, case)
    traits, processes = probed_gpu(None, "sdxl")
    assert note in traits.bf16_source and processes == 1
    if case == "gb10":
        assert traits.vram_gb == (psutil.virtual_memory().total // MIB) / 1024
