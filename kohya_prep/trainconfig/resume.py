"""`--resume`: the newest complete training state sd-scripts saved in output_dir.

With save_state on, sd-scripts saves the whole training state (LoRA weights, optimizer, scheduler, random states)
beside each saved LoRA, in folders named after output_name (library/train_util.py: EPOCH_STATE_NAME
'{name}-{epoch:06d}-state', STEP_STATE_NAME '{name}-step{step:08d}-state', LAST_STATE_NAME '{name}-state' at the
end). train_network.py's save hook writes train_state.json (current_epoch, current_step) first; accelerate's
save_state writes random_states_0.pkl last. A folder without both was cut off while saving and is skipped.
The newest is the one saved last (train_state.json's time), then the one furthest into training.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from kohya_prep.errors import ConfigError

TRAIN_STATE = "train_state.json"
LAST_WRITTEN = "random_states_0.pkl"


@dataclass(frozen=True)
class SavedState:
    """One complete state folder and where in training it was saved."""

    path: Path
    epoch: int
    step: int
    saved_at: float


def _state_name(output_name: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(output_name)}(?:-\d{{6,}}|-step\d{{8,}})?-state")


def _read(folder: Path) -> SavedState | None:
    marker = folder / TRAIN_STATE
    if not (marker.is_file() and (folder / LAST_WRITTEN).is_file()):
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        epoch, step = int(data["current_epoch"]), int(data["current_step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return SavedState(folder, epoch, step, marker.stat().st_mtime)


def saved_states(output_dir: Path, output_name: str) -> tuple[list[SavedState], list[Path]]:
    """Complete states (newest first) and the state folders that are not complete."""
    if not output_dir.is_dir():
        return [], []
    pattern = _state_name(output_name)
    folders = sorted(p for p in output_dir.iterdir() if p.is_dir() and pattern.fullmatch(p.name))
    states = [s for s in (_read(f) for f in folders) if s is not None]
    broken = [f for f in folders if f not in {s.path for s in states}]
    return sorted(states, key=lambda s: (s.saved_at, s.step), reverse=True), broken


def newest_state(output_dir: Path, output_name: str) -> SavedState:
    """The state to resume from; ConfigError in one sentence when there is none."""
    states, broken = saved_states(output_dir, output_name)
    if states:
        return states[0]
    cut = f"; {', '.join(p.name for p in broken)} lack {TRAIN_STATE} or {LAST_WRITTEN} (cut off while saving)" \
        if broken else ""
    raise ConfigError(f"--resume: no saved training state of '{output_name}' in {output_dir} (sd-scripts writes "
                      f"{output_name}-000002-state and the like when save_state is on){cut}; start without --resume.")


def check_not_finished(state: SavedState, max_train_steps: int) -> None:
    """sd-scripts asserts max_train_steps > the state's step (train_network.py): say so before the run does."""
    if state.step >= max_train_steps:
        raise ConfigError(f"--resume: {state.path.name} is at step {state.step}, and this run ends at step "
                          f"{max_train_steps}: it has finished; raise --epochs or --steps to train further.")
