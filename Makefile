# Two entry points, both self-installing into ./.venv:
#   make demo   install prognosis and run the bundled demo analysis -> reports/demo/report.html
#   make test   install prognosis with its test dependencies, check for undefined or unused
#               names (ruff, pyflakes rules only) and run the test-suite
#   make demo-images  images to survival: render mammograms of 300 demo patients, extract their
#               calcifications, analyse -> reports/demo_images/report.html (a few minutes)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo demo-images test install clean

DEMO_IMAGES := build/demo_images
DEMO_IMAGES_N ?= 300   # far fewer patients leave too few deaths for the models (a clear error, not a report)

demo: $(VENV)/.installed
	$(BIN)/prognosis run analyses/demo.yaml

demo-images: $(VENV)/.installed
	$(BIN)/prognosis phantom --out $(DEMO_IMAGES)/dicom --like data/demo/imaging.csv --n $(DEMO_IMAGES_N) --both-breasts --seed 1
	$(BIN)/prognosis extract $(DEMO_IMAGES)/dicom --out $(DEMO_IMAGES)/imaging.csv \
	    --tumour-side $(DEMO_IMAGES)/dicom/tumour_side.csv --workers 2
	$(BIN)/prognosis run analyses/demo_images.yaml

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
	rm -rf $(VENV) reports/*/ build/
