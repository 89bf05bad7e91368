# Omnigate developer commands. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

.PHONY: help install lock run test proto proto-check lint bench tenant clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# Everything comes from the dev lock, hashes checked, pip and setuptools included: the venv's
# own pip installs the locked pip with the rest, and the project builds with the locked
# setuptools. The project itself adds nothing: --no-deps.
$(STAMP): pyproject.toml requirements/dev.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements/dev.lock
	$(VENV)/bin/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install Omnigate with its dev tools

# Both locks are for CPython 3.11 on Linux, the image's and CI's; each pinned version carries
# the hashes of all its files, so that x86_64 and aarch64 alike verify. uv keeps the versions
# already locked unless pyproject.toml asks otherwise: LOCK_ARGS=--upgrade takes the newest
# of everything, LOCK_ARGS='--upgrade-package NAME' of one. The runtime lock is resolved
# within the dev lock, so that the image runs the versions the tests ran.
UV_COMPILE := $(VENV)/bin/uv pip compile --quiet --generate-hashes \
	--no-strip-markers --no-strip-extras --python-version 3.11 --python-platform linux \
	--custom-compile-command 'make lock'

lock: $(STAMP) ## Re-resolve requirements/*.lock from pyproject.toml (LOCK_ARGS=--upgrade)
	$(UV_COMPILE) $(LOCK_ARGS) pyproject.toml requirements/build.in --extra dev \
		-o requirements/dev.lock
	$(UV_COMPILE) pyproject.toml requirements/build.in -c requirements/dev.lock \
		-o requirements/runtime.lock

run: $(STAMP) ## Start the whole platform (edge :8080, sms, worker, webhooks, dev SMSC)
	$(PY) -m deploy.local.platform

test: $(STAMP) ## Run every test (unit, integration, end-to-end) against local PostgreSQL/RabbitMQ/Redis
	$(PY) -m pytest

proto: $(STAMP) ## Regenerate the gRPC/protobuf stubs into libs/api
	$(PY) proto/generate.py

proto-check: $(STAMP) ## Fail if the committed stubs differ from a fresh generation
	$(PY) proto/generate.py --check

lint: $(STAMP) proto-check ## ruff and mypy (strict on source)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy libs services deploy loadtests

bench: $(STAMP) ## Drive N messages through a fresh platform and print one line of figures
	$(PY) -m loadtests.bench $(BENCH_ARGS)

tenant: $(STAMP) ## Create a tenant on the running platform: make tenant NAME=acme
	$(VENV)/bin/omnigate-admin create-tenant "$(or $(NAME),acme)"

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
