# Quick start: `make demo` and `make test`. Everything else is a building block.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BABEL_KEYWORDS := -k _ -k __ -k N_
STAFF_KEYWORDS := -k _ -k N_ -k pgettext:1c,2

.PHONY: demo test install i18n i18n-extract i18n-update i18n-compile i18n-check lint typecheck \
        flows-check facts-report unit bench bench-signals fuzz clean db-upgrade seed-partners i18n-report \
        i18n-import-reviews

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install i18n-compile
	$(PY) -m simulator

test: install i18n-compile lint flows-check i18n-check unit

lint: install
	$(PY) -m ruff check bot governor ops simulator referral_api webchat tests bench
	$(PY) -m mypy

flows-check: install
	$(PY) -m bot.engine check

# Facts and country rules to re-check on their live page before launch
facts-report: install
	$(PY) -m bot.engine facts-report

unit: install i18n-compile
	$(PY) -m pytest

# Translations: extract from Python and YAML flows, merge into every catalogue, compile.
# Two gettext domains: `messages` (the bot) and `staff` (the staff web app: Jinja2 templates
# and referral_api/web/*.py, babel-staff.cfg; nl and fr, English source).
i18n: i18n-extract i18n-update i18n-compile

i18n-extract: install
	$(VENV)/bin/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --no-location --sort-output \
	  --add-comments=Translators: --project=conex-bot --version=1 \
	  --msgid-bugs-address=conex-bot -o locales/messages.pot . >/dev/null
	$(VENV)/bin/pybabel extract -F babel-staff.cfg $(STAFF_KEYWORDS) --no-location \
	  --sort-output --add-comments=Translators: --project=conex-staff --version=1 \
	  --msgid-bugs-address=conex-bot -o locales/staff.pot . >/dev/null 2>&1

i18n-update: install
	$(PY) -m bot.i18n_check --update
	$(PY) -m bot.i18n_check --domain staff --update

i18n-compile: install
	$(VENV)/bin/pybabel compile -d locales -D messages
	$(VENV)/bin/pybabel compile -d locales -D staff

i18n-check: install
	$(PY) -m bot.i18n_check
	$(PY) -m bot.i18n_check --domain staff

# The translations reviewed in the staff app, written into the catalogues (commit them after)
i18n-import-reviews: install
	$(PY) -m referral_api translations import
	$(VENV)/bin/pybabel compile -d locales -D messages

# The README's table of languages, coverage and review state
i18n-report: install
	$(PY) -m bot.i18n_check --report

# The referral API's database (DATABASE_URL; default: SQLite in var/)
db-upgrade: install
	mkdir -p var
	$(VENV)/bin/alembic upgrade head

seed-partners: db-upgrade
	$(PY) -m referral_api seed-partners ../shared/data/partners.yaml

bench: install i18n-compile
	$(PY) bench/dispatch.py

# Signals reports over 1,000,000 events on PostgreSQL (TEST_DATABASE_URL's server); not in `make test`
bench-signals: install
	$(PY) bench/signals.py

# Schemathesis against the API process with and without tokens, bounded in time; not in `make test`
fuzz: install
	$(PY) -m pip install --quiet -e ".[fuzz]"
	cd bench && ../$(PY) fuzz_api.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
	find locales -name '*.mo' -delete
