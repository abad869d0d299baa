PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

KINDS := unit engine dialects reference privacy cli report real_data validity parity postgres docs

.PHONY: demo test bench lint format clean $(addprefix test-,$(KINDS))

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/miglink demo --out demo-output

test: $(STAMP)
	-command -v chromium >/dev/null 2>&1 || (command -v apt-get >/dev/null 2>&1 && (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1)) || echo "chromium not installable here: browser test will skip")
	-ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || command -v pg_ctl >/dev/null 2>&1 || (command -v apt-get >/dev/null 2>&1 && (apt-get install -y -q postgresql >/dev/null 2>&1 || (apt-get update -q >/dev/null 2>&1 && apt-get install -y -q postgresql >/dev/null 2>&1)) || echo "postgresql not installable here: tests/postgres will skip")
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=25 tests

# one kind of test (docs/architecture.md, 'Tests by kind'): make test-unit, make test-engine, ...
$(addprefix test-,$(KINDS)): test-%: $(STAMP)
	$(BIN)/python -m pytest -q tests/$*

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) demo-output .pytest_cache

# operating characteristics on null and planted synthetic worlds (issue 15); writes
# benchmarks/VALIDITY.md. Outside the test suite: make validate VALIDATE_ARGS=--quick for 3 x 30k
.PHONY: validate
validate: $(STAMP)
	$(BIN)/python benchmarks/validate.py $(VALIDATE_ARGS)
