# The two commands: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# pytest-xdist processes for `make test` (one per core on the 2-core CI machine); 0 = serial
TEST_WORKERS ?= 2

.PHONY: run test bench lint venv demo clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo
	$(PY) manage.py runall

test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS)
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	@# one process per benchmark file: a peak-memory goal measures that benchmark alone
	@fail=0; for f in tests/benchmarks/test_*.py; do \
	  echo "== $$f"; $(PY) -m pytest $$f -s -q -o addopts="-p no:cacheprovider" || fail=1; \
	done; exit $$fail

lint: $(STAMP)
	$(VENV)/bin/ruff check .

demo: $(STAMP)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm var
