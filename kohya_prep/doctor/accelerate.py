"""accelerate's config: where `accelerate launch` reads it, and a single-machine default when none exists."""

from __future__ import annotations

import os
from pathlib import Path

from kohya_prep.doctor.checks import CheckResult, ok, warn
from kohya_prep.doctor.gpu import GpuInfo, training_processes


def config_path(env: dict[str, str] | None = None) -> Path:
    """accelerate's own rule: $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface; + accelerate/."""
    env = dict(os.environ) if env is None else env
    if env.get("HF_HOME"):
        base = Path(env["HF_HOME"]).expanduser()
    elif env.get("XDG_CACHE_HOME"):
        base = Path(env["XDG_CACHE_HOME"]).expanduser() / "huggingface"
    else:
        base = Path.home() / ".cache" / "huggingface"
    return base / "accelerate" / "default_config.yaml"


def default_config(gpus: list[GpuInfo]) -> str:
    """The YAML `accelerate config default` would write for this machine: bf16 where every GPU has it, one
    process per GPU (one in all under MIG)."""
    precision = "no" if not gpus else "bf16" if all(g.bf16 for g in gpus) else "fp16"
    processes = training_processes(gpus)
    distributed = "MULTI_GPU" if processes > 1 else "'NO'"
    return (
        "# written by kohya-prep doctor --fix; edit freely, doctor never overwrites it\n"
        "compute_environment: LOCAL_MACHINE\n"
        "debug: false\n"
        f"distributed_type: {distributed}\n"
        "downcast_bf16: 'no'\n"
        "gpu_ids: all\n"
        "machine_rank: 0\n"
        "main_training_function: main\n"
        f"mixed_precision: {precision}\n"
        "num_machines: 1\n"
        f"num_processes: {processes}\n"
        "rdzv_backend: static\n"
        "same_network: true\n"
        "tpu_env: []\n"
        "tpu_use_cluster: false\n"
        "tpu_use_sudo: false\n"
        f"use_cpu: {'true' if not gpus else 'false'}\n"
    )


def read_settings(text: str) -> dict[str, str]:
    """The top-level `key: value` pairs of accelerate's flat YAML (enough to report; no YAML library needed)."""
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line and not line.startswith((" ", "#", "-")))
    return {key.strip(): value.strip().strip("'\"") for key, value in pairs}


def accelerate_check(path: Path, gpus: list[GpuInfo]) -> CheckResult:
    """The `accelerate` row."""
    if not path.is_file():
        return warn(
            "accelerate",
            f"no accelerate config at {path}; `accelerate launch` falls back to its defaults",
            "kohya-prep doctor --fix (writes a single-machine default), or run `accelerate config` in the kohya venv",
        )
    settings = read_settings(path.read_text(encoding="utf-8", errors="replace"))
    precision = settings.get("mixed_precision", "?")
    processes = settings.get("num_processes", "?")
    if precision == "bf16" and gpus and not all(g.bf16 for g in gpus):
        return warn(
            "accelerate",
            f"{path} asks for bf16, which a GPU here lacks (compute capability < 8.0)",
            f"set mixed_precision: fp16 in {path}",
        )
    if settings.get("use_cpu") == "true" and gpus:
        return warn("accelerate", f"{path} says use_cpu: true although a GPU is here", f"set use_cpu: false in {path}")
    return ok("accelerate", f"{path} (mixed_precision {precision}, {processes} process(es))")


def write_default(path: Path, gpus: list[GpuInfo]) -> bool:
    """Write the default config only when none exists; True when written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as handle:  # "x": never overwrite
            handle.write(default_config(gpus))
    except FileExistsError:
        return False
    return True
