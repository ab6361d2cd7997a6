# kohya-prep: every target sets up its own virtualenv; a fresh clone needs only Python 3.10+ and git.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SPEC   ?= dataset/demo.toml

.DEFAULT_GOAL := help
.PHONY: help install dataset preview train-config test fuzz lint bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install kohya-prep with its dev tools

dataset: $(STAMP)  ## build the demo dataset (dataset/demo.toml) into dataset/demo/
	$(BIN)/kohya-prep dataset build $(SPEC)

preview: $(STAMP)  ## render the demo's contact sheet and box overlays into dataset/demo/preview/
	$(BIN)/kohya-prep dataset build $(SPEC) --preview

train-config: $(STAMP)  ## write sd-scripts configs for the demo (SD 1.5, 8 GB) into dataset/demo/config/
	$(BIN)/kohya-prep train-config $(SPEC) --family sd15 --vram 8

test: $(STAMP)  ## lint, type-check and run the test suite
	$(BIN)/ruff check kohya_prep tests benchmarks
	$(BIN)/mypy kohya_prep
	$(BIN)/python -m pytest -n 2 -q

fuzz: $(STAMP)  ## property-based tests with many random examples (Hypothesis "fuzz" profile; ~10 min)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -n 2 -q tests/test_properties.py

lint: $(STAMP)  ## ruff and mypy only
	$(BIN)/ruff check kohya_prep tests benchmarks
	$(BIN)/mypy kohya_prep

bench: $(STAMP)  ## build speed side by side with OpenCV and pyvips pipelines: prints tables, writes bench-results.json
	$(BIN)/python -m pip install --quiet -e '.[bench]' || echo "bench: pyvips could not be installed; its rows will say so"
	$(BIN)/python benchmarks/bench.py

clean:  ## remove the virtualenv and build outputs (never dataset sources)
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
