# Two commands set everything up: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The wheel a user installs compiles the planner with mypyc (setup.py); the editable .venv stays pure Python, so that an
# edited source is what runs. The compiled install is rebuilt whenever a source changes: it never runs older code.
COMPILED ?= .venv-compiled
CBIN := $(COMPILED)/bin
CSTAMP := $(COMPILED)/.installed
SOURCES := setup.py $(shell find engine rules knowledge -type f -not -path '*/__pycache__/*')

.PHONY: demo test test-compiled test-pure golden lint typecheck bench calibration fit-speed clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)  ## a real consultation: DeepSeek-R1 70B for 20 users at 8k context on 40,000 USD
	$(BIN)/llmhw recommend --model deepseek-r1:70b --concurrency 20 --context 8192 --budget 40000

$(CSTAMP): pyproject.toml $(SOURCES)  # pip reinstalls a project directory every time, compiling today's sources
	test -x $(CBIN)/python || $(PYTHON) -m venv $(COMPILED)
	$(CBIN)/python -m pip install --quiet --upgrade pip
	$(CBIN)/python -m pip install --quiet '.[test]'
	$(CBIN)/python -c 'import llmhw.planner.frontier as f; print("compiled install:", f.__file__.rsplit("/", 1)[-1])'
	touch $@

# Lint first (mypy --strict, ruff), so that CI enforces it; then the suite on both builds at once, one per core (each
# build's output once it ends): the compiled one (what a wheel installs) and the pure one (an editable install, or a
# machine without a C compiler).
test: lint $(CSTAMP)
	$(MAKE) --no-print-directory -j2 --output-sync=target test-compiled test-pure

test-compiled: $(CSTAMP)
	@echo "== the compiled build ($(COMPILED)) =="
	$(CBIN)/python -m pytest -q -p no:cacheprovider

test-pure: $(STAMP)
	@echo "== the pure Python build ($(VENV)) =="
	$(BIN)/python -m pytest -q -p no:cacheprovider

golden: $(STAMP)  ## rewrite tests/golden/ from today's answers; review the diff before committing
	$(BIN)/python -m pytest -q tests/test_golden.py --update-golden

lint: typecheck
	$(BIN)/ruff check .

# mypy reads the installed layout (llmhw = engine/, llmhw.rules = rules/, llmhw.knowledge = knowledge/) from a symlink tree.
typecheck: $(STAMP)
	rm -rf build/typecheck && mkdir -p build/typecheck/llmhw
	ln -s $(CURDIR)/engine/* build/typecheck/llmhw/
	ln -s $(CURDIR)/rules build/typecheck/llmhw/rules
	ln -s $(CURDIR)/knowledge build/typecheck/llmhw/knowledge
	cd build/typecheck && $(CURDIR)/$(BIN)/mypy --config-file $(CURDIR)/pyproject.toml -p llmhw

calibration: $(STAMP)  ## estimate vs published decode speed for every run of knowledge/calibration.yaml
	LLMHW_CALIBRATION_REPORT=benchmarks/CALIBRATION.md $(BIN)/python -m pytest -q -s tests/test_calibration.py -k published_runs

fit-speed: $(STAMP)  ## refit the speed constants on the calibration runs not held out (prints them; policy.yaml is edited by hand)
	$(BIN)/python benchmarks/fit_speed.py

# llmfit (the closest peer) goes into its own venv, so that the project's stays as installed; the bench says so when
# the registry does not have it.
LLMFIT_VENV := build/llmfit
bench: $(STAMP) $(CSTAMP)  ## measures the compiled install (what users get), and the pure one beside it
	@test -x $(LLMFIT_VENV)/bin/llmfit || ($(PYTHON) -m venv $(LLMFIT_VENV) && $(LLMFIT_VENV)/bin/python -m pip install --quiet llmfit) \
		|| echo "llmfit could not be installed: the cold start is compared with a bare import experta only"
	LLMFIT=$(CURDIR)/$(LLMFIT_VENV)/bin/llmfit LLMHW_PURE_PYTHON=$(CURDIR)/$(BIN)/python $(CBIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(COMPILED) build *.egg-info
