# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test validate bench clean

install: $(STAMP)

# Reinstall only when the project metadata changed: `make install` stays quick.
$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: install
	$(BIN)/estateflow validate workflows/
	@for id in $$(ls workflows/*.yaml | xargs -n1 basename | sed 's/\.yaml$$//' | grep -v '^roles$$'); do \
		echo; echo "== $$id =="; $(BIN)/estateflow graph $$id; done

test: install
	$(BIN)/python -m pytest -q

validate: install
	$(BIN)/estateflow validate workflows/

bench: install
	$(BIN)/python bench/engine_bench.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
