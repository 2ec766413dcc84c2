# Two commands on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck migrate seed worker beat clean messages

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

run: seed
	$(BIN)/python manage.py demo_banner --host $(HOST) --port $(PORT)
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python manage.py makemigrations --check --dry-run

typecheck: $(STAMP)
	$(BIN)/mypy .

worker: $(STAMP)
	$(BIN)/celery -A ecommerce worker --loglevel=info

beat: $(STAMP)
	$(BIN)/celery -A ecommerce beat --loglevel=info

clean:
	rm -rf $(VENV) var/*.sqlite3 build *.egg-info

# Translations: gather the messages (no source locations, sorted by msgid, so
# that branches adding messages seldom touch the same lines), then compile.
messages: $(STAMP)
	$(BIN)/python manage.py labels_catalogue
	$(BIN)/python manage.py makemessages -l ru -l zh_Hans --no-location --no-obsolete --ignore=.venv --ignore=bench --ignore=tests
	for po in locale/*/LC_MESSAGES/django.po; do msgcat --sort-output --no-location -o $$po $$po; done
	$(BIN)/python manage.py compilemessages --ignore=.venv
