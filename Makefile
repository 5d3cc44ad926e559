# Two entry points, both self-installing into ./.venv:
#   make demo   install prognosis and run the bundled demo analysis -> reports/demo/report.html
#   make test   install prognosis with its test dependencies, check for undefined or unused
#               names (ruff, pyflakes rules only) and run the test-suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test install clean

demo: $(VENV)/.installed
	$(BIN)/prognosis run analyses/demo.yaml

test: $(VENV)/.installed-test
	$(BIN)/ruff check --select F,E9 --output-format concise prognosis tests benchmarks
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(VENV)/.installed

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/bin/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) reports/*/
