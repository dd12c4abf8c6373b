# Two commands on a fresh machine with only Python 3 and make:  make demo  /  make test
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: demo test bench lint docs clean venv

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# the test extra: torch==2.13.0 is pinned, on these machines that is the CPU build (never pull a CUDA build);
# the distributed extra (mpi4py, mpich) lets the MPI tests run under mpiexec -n 2
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test,distributed]'
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

# the generated table of docs/numpy.md (the supported NumPy surface; a test fails when it is out of date)
docs: $(STAMP)
	$(BIN)/python -c "from wengert.ops.surface import write_page; write_page('docs/numpy.md')"

lint: $(STAMP)
	$(BIN)/ruff check wengert tests benchmarks examples

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
