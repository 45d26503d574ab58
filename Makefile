# Two commands set everything up: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test golden lint typecheck bench calibration fit-speed clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)  ## a real consultation: DeepSeek-R1 70B for 20 users at 8k context on 40,000 USD
	$(BIN)/llmhw recommend --model deepseek-r1:70b --concurrency 20 --context 8192 --budget 40000

test: lint  ## lint first (mypy --strict, ruff), so CI enforces it
	$(BIN)/python -m pytest -q

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
bench: $(STAMP)
	@test -x $(LLMFIT_VENV)/bin/llmfit || ($(PYTHON) -m venv $(LLMFIT_VENV) && $(LLMFIT_VENV)/bin/python -m pip install --quiet llmfit) \
		|| echo "llmfit could not be installed: the cold start is compared with a bare import experta only"
	LLMFIT=$(CURDIR)/$(LLMFIT_VENV)/bin/llmfit $(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info
