# Two entry points, both self-installing into ./.venv:
#   make demo   install prognosis and run the bundled demo analysis -> reports/demo/report.html
#   make test   install prognosis with its test dependencies, check for undefined or unused
#               names (ruff, pyflakes rules only) and run the test-suite
#   make demo-images  images to survival: render mammograms of 300 demo patients, extract their
#               calcifications, analyse -> reports/demo_images/report.html, and QA overlays of a
#               few breasts -> build/demo_images/overlays/ (about 7 CPU-minutes: a few minutes on 2 idle cores)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo demo-images test install clean

DEMO_IMAGES := build/demo_images
DEMO_IMAGES_N ?= 300   # far fewer patients leave too few deaths for the models (a clear error, not a report)

demo: $(VENV)/.installed
	$(BIN)/prognosis run analyses/demo.yaml

DEMO_WORKERS ?= 2
# QA overlays of a few breasts: the tumour's breast of the first patient of each suspicious class
DEMO_OVERLAY_CLASSES := casting crushed_stone powdery

demo-images: $(VENV)/.installed
	$(BIN)/prognosis phantom --out $(DEMO_IMAGES)/dicom --like data/demo/imaging.csv --n $(DEMO_IMAGES_N) --both-breasts \
	    --seed 1 --workers $(DEMO_WORKERS)
	$(BIN)/prognosis extract $(DEMO_IMAGES)/dicom --out $(DEMO_IMAGES)/imaging.csv \
	    --tumour-side $(DEMO_IMAGES)/dicom/tumour_side.csv --workers $(DEMO_WORKERS)
	rm -rf $(DEMO_IMAGES)/overlay_sample && mkdir -p $(DEMO_IMAGES)/overlay_sample
	for stem in $$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$$i] = i; next } \
	        $$col["tumour"] == "yes" && index(" $(DEMO_OVERLAY_CLASSES) ", " " $$col["calcification_class"] " ") \
	        && !seen[$$col["calcification_class"]]++ { print $$col["patient_id"] "_" $$col["laterality"] }' \
	        $(DEMO_IMAGES)/dicom/truth_breasts.csv); do \
	    ln -s ../dicom/$${stem}_CC.dcm ../dicom/$${stem}_MLO.dcm $(DEMO_IMAGES)/overlay_sample/; done
	$(BIN)/prognosis extract $(DEMO_IMAGES)/overlay_sample --out $(DEMO_IMAGES)/overlay_sample.csv \
	    --overlays $(DEMO_IMAGES)/overlays --no-progress
	@echo "QA overlays of $$(ls $(DEMO_IMAGES)/overlays/*.png | wc -l) images in $(DEMO_IMAGES)/overlays"
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
