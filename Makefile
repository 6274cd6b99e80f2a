# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo demo-reset serve test lint validate bench clean

install: $(STAMP)

# Reinstall only when the project metadata changed: `make install` stays quick.
$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The demo: a SQLite database under instance/, the shipped workflows published, demo users
# and items, then `make serve`: the web UI on http://127.0.0.1:$${PORT:-5000}, its worker beside it.
# A second run keeps the data.
demo: install
	$(BIN)/estateflow db upgrade
	$(BIN)/estateflow publish
	$(BIN)/estateflow demo
	$(MAKE) --no-print-directory serve

# Start afresh: the demo database is emptied and seeded again.
demo-reset: install
	$(BIN)/estateflow db upgrade
	$(BIN)/estateflow publish
	$(BIN)/estateflow demo --reset
	$(MAKE) --no-print-directory serve

# As in production: `estateflow serve` (gunicorn) and `estateflow worker` beside it, so deadlines
# escalate and notifications go out; Ctrl-C stops both (the trap stops the worker whenever the server
# ends). A random secret per run unless one is set: sessions do not outlive the demo server.
serve:
	@export ESTATEFLOW_SECRET_KEY=$${ESTATEFLOW_SECRET_KEY:-$$($(BIN)/python -c 'import secrets; print(secrets.token_hex(32))')}; \
	$(BIN)/estateflow worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; \
	trap 'exit 130' INT TERM; \
	echo "serving http://127.0.0.1:$${PORT:-5000} with a worker; Ctrl-C stops both"; \
	$(BIN)/estateflow serve --bind 127.0.0.1:$${PORT:-5000}

test: install lint
	$(BIN)/python -m pytest -q

# ruff (style, import order, engine never imports flask) and mypy --strict on the engine.
lint: install
	$(BIN)/ruff check engine web tests bench
	$(BIN)/mypy engine

validate: install
	$(BIN)/estateflow validate workflows/

bench: install
	$(BIN)/python bench/engine_bench.py
	$(BIN)/python bench/tick_bench.py
	$(BIN)/python bench/web_bench.py
	$(BIN)/python bench/validate_bench.py
	$(BIN)/python bench/report_bench.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
