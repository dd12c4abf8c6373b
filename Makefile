# Two commands on a fresh machine with only Python 3 and make:  make demo  /  make test
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: demo test bench lint clean venv

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# the test extra: torch==2.13.0 is pinned, on these machines that is the CPU build (never pull a CUDA build)
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP) $(DEMO_STAMP)

# the demo needs only the nn extra (safetensors, tqdm, matplotlib): no PyTorch
$(DEMO_STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[nn]'
	touch $(DEMO_STAMP)

venv: $(STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/wengert demo

test: $(STAMP)
	$(BIN)/ruff check wengert tests benchmarks examples
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[bench]' || echo "some peers could not be installed: they are reported as missing"
	$(BIN)/python benchmarks/run.py

lint: $(STAMP)
	$(BIN)/ruff check wengert tests benchmarks examples

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
