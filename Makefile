# labelwise: `make demo` runs the main job on a bundled example, `make test` runs every test.
# Both set everything up themselves on a fresh machine (Python >= 3.10, make, git).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
CORE   := $(VENV)/.installed-core
STAMP  := $(VENV)/.installed-dev

.PHONY: setup browser postgres demo test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# the demo needs the library alone: no compiler, no torch, no LLM (under 2 minutes on a fresh machine)
$(CORE): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $(CORE)

# Flower, for FedLabel's server and client processes (labelwise[federated]). Its 1.x releases pin typer < 0.21,
# rich < 15 and one minor of fastapi, starlette, uvicorn and packaging; typer 0.20 drops the arguments' help from
# every `labelwise ... --help`. So the tests install Flower without its pins, with its other requirements as it states
# them; its server and client run with the newer versions (tests/scale/test_federated_flower.py).
FLOWER      := flwr==1.42.0
FLOWER_DEPS := 'certifi>=2026.10.19' 'grpcio>=1.70,<2' 'grpcio-health-checking>=1.70,<2' 'protobuf>=5.28,<7' \
               'cryptography>=50,<51' 'pycryptodome>=3.18,<4' 'iterators>=0.0.2,<0.0.3' 'uv>=0.13.5,<0.14' \
               'tomli>=2.0.1,<3' 'tomli-w>=1,<2' 'pathspec>=1.0.4,<2' 'prompt-toolkit>=3.0.52,<4' 'pyyaml>=6.0.2,<7' \
               'requests>=2.33,<3' 'httpx>=0.28.1,<1' 'sqlalchemy[asyncio]>=2.0.45,<3' 'alembic>=1.18.1,<2'

# every extra the tests exercise: llama-cpp-python compiles from source the first time (minutes; pip caches the
# wheel), torch is the CPU build, ray for the two-node cluster tests of labelwise.scale, vision for pixel labels,
# Flower (above) for the federated tests
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,review,postgres,llm,learn,torch,ray,vision]' $(FLOWER_DEPS)
	$(BIN)/python -m pip install --quiet --no-deps '$(FLOWER)'
	touch $(STAMP) $(CORE)

setup: $(STAMP)

# Debian's chromium for the report's browser test (never a downloaded browser); needs root, as in CI
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "browser tests will be skipped: install Debian's chromium (sudo apt-get install chromium)"; \
	  fi; }

# Debian's PostgreSQL for the review store's tests against a real server (started by the tests on loopback, in a
# temporary folder, and stopped after); needs root, as in CI. Without it those tests skip and say why.
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else \
	    echo "PostgreSQL tests will be skipped: install Debian's postgresql (sudo apt-get install postgresql)"; \
	  fi; }

demo: $(CORE)
	$(BIN)/python -m labelwise.demo --out demo-out

test: $(STAMP) browser postgres
	$(BIN)/python -m pytest -q -ra --durations=30

bench: $(STAMP)
	$(BIN)/python bench/label_errors.py

clean:
	rm -rf $(VENV) demo-out .pytest_cache
