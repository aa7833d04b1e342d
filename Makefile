# The two commands a newcomer needs:
#   make run    builds Confab and starts it on the embedded SQLite store (prints the URL)
#   make test   runs every test: unit, store conformance (SQLite and MongoDB wire), API, browser
# Each installs what it needs on a fresh machine and skips what is already there.

SHELL := /bin/bash
export PATH := $(CURDIR)/end2end/node_modules/.bin:$(HOME)/.cargo/bin:$(HOME)/go/bin:/usr/local/go/bin:$(PATH)
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
# cargo-leptos sets this for its builds; setting it for every build keeps plain `cargo` builds
# of the server (tests, benchmark) identical, so they neither rebuild leptos nor produce a
# binary that asks for the wrong WASM file name.
export LEPTOS_OUTPUT_NAME := confab

.PHONY: run test build tools test-tools npm lint bench

tools:
	@.ci/install-tools build

test-tools:
	@.ci/install-tools test

npm:
	@if [ ! -x end2end/node_modules/.bin/wasm-opt ] || [ end2end/package.json -nt end2end/node_modules/.package-lock.json ]; then \
		cd end2end && npm ci --no-audit --no-fund; fi

build: tools npm
	cargo leptos build --release --precompress

run: build
	LEPTOS_SITE_ROOT=target/site ./target/release/confab serve

test: test-tools npm
	@.ci/test

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

bench: build
	@bench/run
