"""Shared fixtures: real images and specs made in tmp_path, never in the repository."""

from __future__ import annotations

import os

import pytest

# Tests never reach the network or the user's real kohya install or caches.
os.environ.pop("KOHYA_SS_DIR", None)
os.environ.pop("KOHYA_VENV", None)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("HF_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
