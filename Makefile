# Two commands do everything: `make lab` and `make test` (see README.md).
# Both create .venv on first use and reinstall when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9]*.ipynb))
NBVAL := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-cell-timeout=900

.PHONY: lab test unit nbtest notebooks bench clean student playground

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e ".[dev,notebooks]"
	@touch $(STAMP)

lab: $(STAMP)  ## open JupyterLab on notebooks/ (it prints the URL to open)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

playground: $(STAMP)  ## the instructors' widget page, served by Voila without code (it prints the URL to open)
	$(VENV)/bin/voila notebooks/playground.ipynb

test: unit nbtest  ## unit tests, then every notebook under nbval in quick mode

unit: $(STAMP)
	$(PY) -m pytest tests

nbtest: $(STAMP)
	SSLTEACH_QUICK=1 $(PY) -m pytest $(NBVAL) $(NOTEBOOKS)

notebooks: $(STAMP)  ## run every notebook in classroom mode and save its outputs in place
	@for nb in $(NOTEBOOKS); do \
		start=$$(date +%s); \
		SSLTEACH_QUICK=0 $(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace \
			--ExecutePreprocessor.timeout=1800 "$$nb" || exit 1; \
		echo "$$nb: $$(( $$(date +%s) - start )) s in classroom mode"; \
	done

# The peers the benchmarks compare against, kept out of .venv: installed without their dependencies
# (they import with the torch, numpy and friends already in .venv), so they cannot change them.
PEERS := build/peers
$(PEERS)/.stamp: $(STAMP)
	$(PY) -m pip install --quiet --target $(PEERS) --no-deps kornia kornia-rs lightly
	@touch $@

bench: $(STAMP) $(PEERS)/.stamp  ## side-by-side speed/memory comparisons (installs kornia and lightly in build/peers)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; PYTHONPATH=$(PEERS) $(PY) $$b || exit 1; done

student: $(STAMP)  ## copies of the notebooks for students in student/: solution cells removed, outputs cleared
	$(PY) -m sslteach.student --out student/

clean:
	rm -rf $(VENV) .pytest_cache
