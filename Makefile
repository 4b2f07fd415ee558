# Krake developer commands. `make test` and `make run` set themselves up on a fresh
# machine that has only Python 3.11 and pip.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev

.PHONY: run test test-parallel generate lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/krake-api

test: $(STAMP)
	$(BIN)/python -m pytest --durations=15

# Three workers on two cores (about 7 minutes instead of 25): most tests wait on
# processes and sockets. Each worker has its own etcd; a file's tests stay on one
# worker. The extra load still shakes out timing-fragile tests now and then, so CI
# runs `make test`.
test-parallel: $(STAMP)
	$(BIN)/python -m pytest -n 3 --dist loadfile --durations=15

generate: $(STAMP)
	$(BIN)/python tools/codegen.py

lint: $(STAMP)
	$(BIN)/python tools/codegen.py --buf-deps
	$(BIN)/buf lint
	$(BIN)/buf format --diff --exit-code
	# buf breaking against main: main's protos, with the same google/api deps beside them.
	rm -rf build/buf-main && mkdir -p build/buf-main/build
	git archive main buf.yaml proto | tar -x -C build/buf-main
	cp -r build/buf-deps build/buf-main/build/
	$(BIN)/buf breaking --against build/buf-main
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	@for script in bench/*.py; do [ -e "$$script" ] || continue; echo "== $$script"; $(BIN)/python "$$script" || exit 1; done

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
