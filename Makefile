# Set-up and the two commands of README.md. Every target builds what it needs on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_OUT ?= out/demo

.PHONY: setup demo test bench bench-featuremaps bench-explain bench-cohort clean

setup: $(STAMP)

# Order matters: pyradiomics 3.x has no wheel for Python 3.11 and builds against the numpy already
# in the environment (--no-build-isolation), so its build tools come first. torch is pinned to the
# CPU build that this machine keeps on disk; an unpinned torch would pull several GB of CUDA.
# (pyradiomics 3.1.0's sdist lacks its C headers and reports the wrong version, so 3.0.1 is used.)
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet numpy versioneer wheel setuptools
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet slicer-core==5.12.4.0
	$(PY) -m pip install --quiet --no-build-isolation pyradiomics==3.0.1
	$(PY) -m pip install --quiet --no-build-isolation -e '.[test,bench]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/responsepredictor demo -o $(DEMO_OUT)

test: $(STAMP)
	$(PY) -m pytest -q Testing

bench: $(STAMP)
	$(PY) benchmarks/bench_features.py

bench-featuremaps: $(STAMP)
	$(PY) benchmarks/bench_featuremaps.py --full-reference

bench-explain: $(STAMP)
	$(PY) benchmarks/bench_explain.py

bench-cohort: $(STAMP)
	$(PY) benchmarks/bench_cohort.py
	$(PY) benchmarks/bench_cohort_resume.py

clean:
	rm -rf $(VENV) out build *.egg-info
