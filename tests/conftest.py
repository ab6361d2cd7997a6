"""Shared fixtures: real images and specs made in tmp_path, never in the repository."""

from __future__ import annotations

import os

import pytest
from doctor_fakes import upstream  # noqa: F401 - the doctor tests' local git repositories, a fixture for all
from hypothesis import settings

# Property tests (tests/test_properties.py): `make test` runs the same bounded set every time ("ci": a minute or
# less on two cores); `make fuzz` runs many random examples ("fuzz"). No example database: nothing is written into
# the repository; a failure prints the blob that replays it (@reproduce_failure).
settings.register_profile("ci", max_examples=120, deadline=None, derandomize=True, database=None, print_blob=True)
settings.register_profile("fuzz", max_examples=4000, deadline=None, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Tests never reach the network or the user's real kohya install or caches.
os.environ.pop("KOHYA_SS_DIR", None)
os.environ.pop("KOHYA_VENV", None)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("HF_HOME", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
