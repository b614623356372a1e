# Set-up and the two commands of README.md. Every target builds what it needs on a fresh machine.
#
# Two environments: .venv is the engine as users install it (no pyradiomics); .venv-reference adds
# pyradiomics 3.0.1, the reference the tests and benchmarks compare our radiomics values with.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
REFERENCE := .venv-reference
REFERENCE_PY := $(REFERENCE)/bin/python
REFERENCE_STAMP := $(REFERENCE)/.installed
REFERENCE_TESTS := out/reference-tests.txt
DEMO_OUT ?= out/demo

.PHONY: setup reference demo test bench bench-featuremaps bench-explain bench-cohort slicer-py312 clean

setup: $(STAMP)

# torch is pinned to the CPU build that this machine keeps on disk; an unpinned torch would pull
# several GB of CUDA.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet slicer-core==5.12.4.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

reference: $(REFERENCE_STAMP)

# pyradiomics 3.x has no wheel for Python 3.11 and builds against the numpy already in the
# environment (--no-build-isolation), so its build tools come first. neuroCombat (the reference for
# ComBat harmonisation) is a source distribution too. (pyradiomics 3.1.0's sdist
# lacks its C headers and reports the wrong version, so 3.0.1 is used.)
$(REFERENCE_STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(REFERENCE)
	$(REFERENCE_PY) -m pip install --quiet --upgrade pip
	$(REFERENCE_PY) -m pip install --quiet numpy versioneer wheel setuptools
	$(REFERENCE_PY) -m pip install --quiet torch==2.13.0
	$(REFERENCE_PY) -m pip install --quiet slicer-core==5.12.4.0
	$(REFERENCE_PY) -m pip install --quiet --no-build-isolation pyradiomics==3.0.1
	$(REFERENCE_PY) -m pip install --quiet --no-build-isolation neuroCombat==0.2.12
	$(REFERENCE_PY) -m pip install --quiet --no-build-isolation -e '.[test,bench]'
	touch $(REFERENCE_STAMP)

demo: $(STAMP)
	$(VENV)/bin/responsepredictor demo -o $(DEMO_OUT)

# The whole suite in the engine's environment, where the comparisons with pyradiomics skip; then
# exactly those comparisons in the reference environment.
test: $(STAMP) $(REFERENCE_STAMP)
	RP_REFERENCE_TESTS=$(REFERENCE_TESTS) $(PY) -m pytest -q Testing
	if [ -s $(REFERENCE_TESTS) ]; then $(REFERENCE_PY) -m pytest -q @$(REFERENCE_TESTS); fi

bench: $(REFERENCE_STAMP)
	$(REFERENCE_PY) benchmarks/bench_features.py

bench-featuremaps: $(REFERENCE_STAMP)
	$(REFERENCE_PY) benchmarks/bench_featuremaps.py --full-reference

bench-explain: $(STAMP)
	$(PY) benchmarks/bench_explain.py

bench-cohort: $(REFERENCE_STAMP)
	$(REFERENCE_PY) benchmarks/bench_cohort.py
	$(REFERENCE_PY) benchmarks/bench_cohort_resume.py

# The engine under Python 3.12 (this machine's 3.12.1; Slicer 5.12.3 ships 3.12.10) with Slicer 5.12.3's
# packages, in a fresh venv (not in CI: it downloads torch for CUDA, about 3 GB, since PyPI has no
# CPU-only torch for Python 3.12 on Linux x86_64):
# 1. every package Slicer 5.12.3 bundles, at its version (its constraints file, SimpleITK included);
# 2. torch and torchvision, as the PyTorch extension installs them;
# 3. Resources/requirements.txt from wheels only, the bundled packages and torch held, as first use does;
# 4. the engine from the source tree (PYTHONPATH, as Slicer finds it), the sample case end to end;
# 5. a check that no bundled package changed version.
SLICER_CONSTRAINTS ?= ../shared/slicer/slicer-5.12.3-python-constraints.txt
SLICER_TORCH ?= torch==2.13.0
# Everything the target makes, deleted first: a fixed folder under out/, which not even the command
# line can change (make's "override"), so that no user folder is ever deleted.
override SLICER_OUT := out/slicer-py312
SLICER_VENV := $(SLICER_OUT)/venv
SLICER_PY := $(SLICER_VENV)/bin/python
SLICER_DEMO_OUT := $(SLICER_OUT)/demo

slicer-py312:
	rm -rf $(SLICER_OUT)
	PYENV_VERSION=3.12.1 python3.12 -m venv $(SLICER_VENV)
	$(SLICER_PY) -m pip install --quiet --upgrade pip
	$(SLICER_PY) -m pip install --quiet --only-binary=:all: -r $(SLICER_CONSTRAINTS)
	$(SLICER_PY) -m pip install --quiet $(SLICER_TORCH) torchvision -c $(SLICER_CONSTRAINTS)
	$(SLICER_PY) -m pip install --quiet --only-binary=:all: -r ResponsePredictor/Resources/requirements.txt \
		$(SLICER_TORCH) -c $(SLICER_CONSTRAINTS)
	PYTHONPATH=ResponsePredictor $(SLICER_PY) -m ResponsePredictorLib.cli demo -o $(SLICER_DEMO_OUT)
	$(SLICER_PY) -m pip freeze | tr 'A-Z_' 'a-z-' | sort > $(SLICER_DEMO_OUT)/pip-freeze.txt
	grep '==' $(SLICER_CONSTRAINTS) | tr 'A-Z_' 'a-z-' | sort | comm -23 - $(SLICER_DEMO_OUT)/pip-freeze.txt \
		> $(SLICER_DEMO_OUT)/bundled-changed.txt
	grep -E '^(numpy|scipy|simpleitk|pydicom|highdicom|pillow|torch|monai|scikit-learn|pandas|lightgbm|matplotlib)==' \
		$(SLICER_DEMO_OUT)/pip-freeze.txt | tr '\n' ' '; echo
	@if [ -s $(SLICER_DEMO_OUT)/bundled-changed.txt ]; then echo "Bundled packages not at Slicer's version:"; \
		cat $(SLICER_DEMO_OUT)/bundled-changed.txt; exit 1; fi
	@echo "Every package Slicer bundles ($(SLICER_CONSTRAINTS)) is still at its version."

clean:
	rm -rf $(VENV) $(REFERENCE) out build *.egg-info
